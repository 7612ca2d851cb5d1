"""Request and result of an edit: tensors in, tensors and a per-step log out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from facefill.pipelines.edit.masks import EditMasks
from facefill.pipelines.edit.schedule import PAPER, Schedule

NOISE_NORMALIZE = ("reference", "after_step")


@dataclass
class EditRequest:
    """One batch of aligned faces (N,3,S,S) in [0,1] at the generator's size.

    `intensity` is the probability the classifier should give the requested outcome (0.95 =
    the reference's smoothing 0.05); with target 0 the steered probability is 1 − intensity.
    `noise_normalize`: "reference" normalises the noise in place between forward and backward
    (§1.9, the original's arithmetic); "after_step" after the optimizer step (StyleGAN2 projector).
    """

    images: torch.Tensor
    attributes: tuple[str, ...]
    generators: Sequence[torch.Generator]
    schedule: Schedule = PAPER
    target: int = 1
    intensity: float | None = None
    size: float = 0.0
    blend_option: str = "include_skin"
    e4e_init: bool = False
    force_global: bool = False
    noise_normalize: str = "reference"

    def target_probability(self) -> float:
        p = self.intensity if self.intensity is not None else 1.0 - self.schedule.smoothing
        return p if self.target == 1 else 1.0 - p


@dataclass
class StepLog:
    """One iteration: phase, index, every active loss per image and the weighted batch total."""

    phase: str  # "latent" or "noise"
    step: int
    losses: dict[str, list[float]]
    total: float


@dataclass
class EditResult:
    initial_latent: torch.Tensor      # (N, n_latent, style_dim)
    masks: EditMasks                  # from the input, before dynamic masking
    final_masks: EditMasks            # after dynamic masking (blend unchanged)
    latent: torch.Tensor              # final W+
    noise: list[torch.Tensor]         # final noise maps
    generated: torch.Tensor           # G(W+, noise) at full size, [0,1] unclamped
    image: torch.Tensor               # blend·generated + (1 − blend)·input
    local: bool
    score_before: torch.Tensor        # (N, A) classifier probabilities of the input
    score_after: torch.Tensor         # (N, A) of the blended image
    log: list[StepLog] = field(default_factory=list)
    events: list[tuple[str, int]] = field(default_factory=list)  # phase boundaries, in order
