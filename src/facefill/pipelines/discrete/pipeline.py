"""`DiscretePipeline`: add a discrete accessory to aligned faces, SD-GAN style, on already-built networks.

aligned faces -> W+ codes (e4e and/or refinement) -> w + α·n_b + n_o (formula.py) -> generator ->
blend into the accessory region. Networks are built and loaded elsewhere (`loading.py`), like
diffusers pipelines take their modules; tensors in, tensors out: faces N×3×S×S in [0,1].

Two stacks:
  * SD-GAN: its 256 px generator (14 W+ rows, truncation ψ = 0.5 around the mean latent), the fusion
    net for n_o (with unsup3d canonical maps), no encoder -> refinement from the mean latent.
  * FFHQ-1024 (§2.10): rosinality FFHQ generator + e4e, ψ = 1 (e4e codes are untruncated), n_o = 0
    (SD-GAN's offset network only fits its own generator), directions supplied by the user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from facefill.pipelines.discrete.accessories import ATTRIBUTES, accessory_template, blend_weights
from facefill.pipelines.discrete.canonical import canonical_input
from facefill.pipelines.discrete.directions import layer_directions
from facefill.pipelines.discrete.formula import edited_codes, item_noise, synthesize
from facefill.pipelines.discrete.invert import initial_codes, refine_codes


@dataclass
class DiscreteNetworks:
    """The modules of one stack (eval mode, on one device). `fusion` needs `unsup3d`."""

    generator: torch.nn.Module
    encoder: torch.nn.Module | None = None
    latent_avg: torch.Tensor | None = None  # e4e's, added to its output
    fusion: torch.nn.Module | None = None
    unsup3d: torch.nn.Module | None = None
    truncation: float = 1.0
    mean_latent: torch.Tensor | None = None  # (1, 512): truncation centre / refinement start

    @property
    def size(self) -> int:
        return int(self.generator.size)


@dataclass
class DiscreteRequest:
    """One batch: aligned faces (N,3,S,S) in [0,1] at the generator's size, the attribute, α,
    refinement steps, and one torch.Generator per face (noise), so a face's result does not depend
    on the batch it is in."""

    faces: torch.Tensor
    attribute: str
    strength: float = 1.0
    refine_steps: int = 0
    generators: Sequence[torch.Generator] = field(default_factory=list)


@dataclass
class DiscreteResult:
    """edited: the blended aligned faces; generated: G(edit) unblended; reconstruction: G(w);
    codes: W+ of the faces; edited_codes: w + α·n_b + n_o; offset: n_o; weights: blend (N,1,S,S)."""

    edited: torch.Tensor
    generated: torch.Tensor
    reconstruction: torch.Tensor
    codes: torch.Tensor
    edited_codes: torch.Tensor
    offset: torch.Tensor
    weights: torch.Tensor


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """Generator output ([-1,1]) -> [0,1], clamped (not SD-GAN's min-max `normalize=True`)."""
    return ((images + 1) / 2).clamp(0, 1)


class DiscretePipeline:
    """Adds `attribute` with the stack's networks and per-attribute directions (any accepted shape)."""

    def __init__(self, networks: DiscreteNetworks, directions: Mapping[str, torch.Tensor]):
        self.networks = networks
        for module in (networks.generator, networks.encoder, networks.fusion, networks.unsup3d):
            if module is not None:
                module.requires_grad_(False)
        n_latent = networks.generator.n_latent
        self.directions = {
            name: layer_directions(d, n_latent, f"{name} direction") for name, d in directions.items()
        }

    @property
    def device(self) -> torch.device:
        return next(self.networks.generator.parameters()).device

    def offset(self, faces: torch.Tensor, attribute: str) -> torch.Tensor:
        """SD-GAN's n_o from the fusion net (0 without one)."""
        nets = self.networks
        n, n_latent = faces.shape[0], nets.generator.n_latent
        if nets.fusion is None:
            return faces.new_zeros(n, n_latent, 512)
        size = nets.fusion.image_size
        face = F.interpolate(faces, (size, size), mode="area") if faces.shape[-1] != size else faces
        template = accessory_template(attribute, size).to(faces).expand(n, -1, -1, -1)
        canonical = canonical_input(nets.unsup3d, faces)
        return nets.fusion(face * 2 - 1, template * 2 - 1, canonical)

    @torch.no_grad()
    def _render(self, codes: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        nets = self.networks
        return to_unit(synthesize(nets.generator, codes, noise, nets.truncation, nets.mean_latent))

    def __call__(self, request: DiscreteRequest) -> DiscreteResult:
        nets, faces = self.networks, request.faces.to(self.device)
        if request.attribute not in self.directions:
            known = ", ".join(sorted(self.directions)) or "none"
            raise ValueError(f"no direction for {request.attribute!r} (have: {known}); see --direction")
        if request.attribute not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {request.attribute!r}; use one of {', '.join(ATTRIBUTES)}")
        if faces.shape[-1] != nets.size or faces.shape[-2] != nets.size:
            faces = F.interpolate(
                faces, (nets.size, nets.size), mode="bilinear", align_corners=False, antialias=True
            )
        generators = list(request.generators) or [torch.Generator().manual_seed(0) for _ in range(len(faces))]
        noise = [m.to(self.device) for m in item_noise(nets.generator, generators)]
        with torch.no_grad():
            codes = initial_codes(nets, faces)
        codes = refine_codes(nets, codes, faces, noise, request.refine_steps)
        with torch.no_grad():
            offset = self.offset(faces, request.attribute)
            target = edited_codes(
                codes, self.directions[request.attribute].to(codes), request.strength, offset
            )
        reconstruction = self._render(codes, noise)
        generated = self._render(target, noise)
        weights = blend_weights(request.attribute, nets.size).to(faces).expand(len(faces), 1, -1, -1)
        edited = weights * generated + (1 - weights) * faces
        return DiscreteResult(edited, generated, reconstruction, codes, target, offset, weights)
