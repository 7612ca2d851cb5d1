"""The SPL recipe (specs/inpaint.md §3.3–3.4): prior learner + generator against a PatchGAN D.

Generator terms (the original's weights):
- `l1` ×10: mean(|pred − gt| · (1 + 2m)) over the whole image (holes weighted 3×);
- `prior` ×1: mean(|P̂ − teacher(gt₅₁₂)| · (1 + 3·m₆₄)), the distillation of the frozen TResNet-L
  (ASL, OpenImages) features. The teacher has no facefill architecture or offline weights yet, so
  without a `teacher` the term is left out and the prior learner is trained only through the image
  losses (printed once); pass `teacher=` (N×3×512×512 [0,1] -> N×152×64×64) to distil;
- `adv` ×1: BCE(D(pred), 1) on the raw prediction (SPL's D never sees the composite).
D: (BCE(D(gt), 1) + BCE(D(pred), 0)) / 2. Adam lr 1e-4, betas (0, 0.9) for both; the ×0.1 LR drop
after epoch ~30–50 is a schedule for a later, longer run (resume with `--lr 1e-5 --lr-d 1e-5`).
Data and masks: `training.dataset.InpaintBatches` (faces at --size, 256 by default; `--masks`).

The short CPU run of issue 14 (222 steps in 20 minutes on one thread; held-out loss 4.26 → 1.62; it
stayed below facefill-lite on `benchmarks/inpaint_quality.py`, so no SPL weights are shipped):

    facefill train --recipe spl --data shared/data/faces/lfw --masks shared/data/masks/nvidia_irregular \
      --size 256 --batch-size 2 --option residual_blocks=2 --option dense_blocks=4 \
      --option dense_layers=4 --option dense_growth=16 --option prior_channels=64 --option width=32 \
      --adv-start 0 --val-data shared/data/faces/lfw_val --val-batches 6 --threads 1 --out runs/spl
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.spl import SPLGenerator
from facefill.models.spl_discriminator import SPLDiscriminator
from facefill.training.dataset import (
    InpaintBatches,
    build_face_cache,
    default_cache_dir,
    list_images,
    mask_source,
)
from facefill.training.export import export_generator
from facefill.training.losses import bce_probabilities, weighted_l1
from facefill.training.recipe import DataSpec, Prediction, Recipe

Teacher = Callable[[torch.Tensor], torch.Tensor]


class SPLRecipe(Recipe):
    name = "spl"
    lr = 1e-4
    lr_d = 1e-4
    betas_g = (0.0, 0.9)
    betas_d = (0.0, 0.9)

    def __init__(
        self,
        w_l1: float = 10.0,
        w_prior: float = 1.0,
        w_adv: float = 1.0,
        teacher: Teacher | None = None,
        **generator_config: Any,
    ) -> None:
        self.generator_config = dict(generator_config)
        self.teacher = teacher
        self.loss_weights = {"l1": w_l1, "prior": w_prior, "adv": w_adv}
        if teacher is None:
            print("spl recipe: no TResNet-L teacher, the prior distillation term is off", flush=True)
            self.loss_weights.pop("prior")

    def options(self) -> dict:
        return {**super().options(), "config": self.generator_config}

    def build_generator(self) -> nn.Module:
        return SPLGenerator(**self.generator_config)

    def build_discriminator(self) -> nn.Module:
        return SPLDiscriminator()

    def build_batches(self, data: DataSpec, rank: int) -> InpaintBatches:
        cache_dir = data.cache_dir or default_cache_dir()
        faces = build_face_cache(list_images(data.data, data.split), cache_dir, data.size)
        masks = mask_source(data.masks, data.size, cache_dir)
        return InpaintBatches(faces, masks, data.batch_size, seed=data.seed, rank=rank, flip=data.flip)

    def predict(self, generator: nn.Module, batch: dict[str, torch.Tensor]) -> Prediction:
        image, mask = batch["image"], batch["mask"]
        out, _ = generator(image * (1 - mask), mask)
        return Prediction(composite=out * mask + image * (1 - mask), target=image, mask=mask, output=out)

    def generator_step(
        self, generator: nn.Module, batch: dict[str, torch.Tensor]
    ) -> tuple[Prediction, dict[str, torch.Tensor]]:
        image, mask = batch["image"], batch["mask"]
        out, prior = generator(image * (1 - mask), mask)
        terms = {"l1": weighted_l1(out, image, 1 + 2 * mask)}
        if self.teacher is not None:
            with torch.no_grad():
                target = self.teacher(
                    F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
                )
            mask_small = F.interpolate(mask, size=prior.shape[-2:], mode="nearest")
            terms["prior"] = weighted_l1(prior, target, 1 + 3 * mask_small)
        pred = Prediction(composite=out * mask + image * (1 - mask), target=image, mask=mask, output=out)
        return pred, terms

    def adversarial_loss(
        self, critic: nn.Module, pred: Prediction, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        return bce_probabilities(critic(pred.output), real=True)

    def critic_loss(
        self, critic: nn.Module, pred: Prediction, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        real = bce_probabilities(critic(pred.target), real=True)
        fake = bce_probabilities(critic(pred.output.detach()), real=False)
        return (real + fake) / 2

    def export(self, generator: nn.Module, path: Path, step: int) -> Path:
        return export_generator(
            generator, path, step=step, arch="spl-generator", config=self.generator_config
        )
