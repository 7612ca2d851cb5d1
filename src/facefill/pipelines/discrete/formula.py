"""SD-GAN's inference formula (`test.py`): image = G(mean + ψ·(w + α·n_b + n_o − mean)).

The direction is added BEFORE truncation, exactly as SD-GAN's `infer_face.generate_from_synthesis`
does (the sum goes through rosinality's truncation, applied only when ψ < 1). α = 1 with the
per-sample n_b and the fusion net's n_o reproduces test.py's `predict_images`; n_o = 0 gives its
`interfacegan_origins`, and no edit at all its `origins`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def edited_codes(
    codes: torch.Tensor,
    direction: torch.Tensor,
    strength: float | torch.Tensor,
    offset: torch.Tensor | None = None,
) -> torch.Tensor:
    """w + α·n_b + n_o: codes (N, L, D), direction (L, D) or (N, L, D), α scalar or (N,), offset (N, L, D)."""
    alpha = torch.as_tensor(strength, dtype=codes.dtype, device=codes.device)
    alpha = alpha.reshape(-1, 1, 1) if alpha.ndim == 1 else alpha
    out = codes + alpha * direction.to(codes)
    return out if offset is None else out + offset.to(codes)


def truncate(codes: torch.Tensor, truncation: float, mean_latent: torch.Tensor | None) -> torch.Tensor:
    """mean + ψ·(codes − mean) when ψ < 1 (rosinality's rule), else the codes unchanged."""
    if truncation >= 1:
        return codes
    if mean_latent is None:
        raise ValueError("truncation < 1 needs the generator's mean latent")
    return mean_latent.to(codes) + truncation * (codes - mean_latent.to(codes))


def synthesize(
    generator: torch.nn.Module,
    codes: torch.Tensor,
    noise: Sequence[torch.Tensor],
    truncation: float = 1.0,
    mean_latent: torch.Tensor | None = None,
) -> torch.Tensor:
    """Render W+ codes (N, L, D) with fixed noise; returns images in about [-1, 1]."""
    image, _ = generator([truncate(codes, truncation, mean_latent)], input_is_latent=True, noise=list(noise))
    return image


def item_noise(generator: torch.nn.Module, generators: Sequence[torch.Generator]) -> list[torch.Tensor]:
    """One noise map set per item from its own torch.Generator, stacked: an item's noise does not
    depend on the batch it runs in."""
    per_item = [generator.make_noise(1, generator=g) for g in generators]
    return [torch.cat(maps, 0) for maps in zip(*per_item, strict=True)]
