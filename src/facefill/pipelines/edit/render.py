"""Render W+ codes with explicit noise, in [0,1], optionally stopping at a lower resolution.

Why the early stop: fast mode optimises against the same generator's 256² skip output (the image
its lower layers already draw), which costs a small fraction of a 1024² pass; the final image
is always rendered at full size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def zero_noise(generator: torch.nn.Module, batch: int) -> list[torch.Tensor]:
    """MaskFaceGAN's starting noise: zeros of every layer's shape (the stored buffers are unused)."""
    return [torch.zeros(batch, 1, *n.shape[-2:], device=n.device, dtype=n.dtype)
            for n in generator.noise_buffers()]


def random_noise(generator: torch.nn.Module, rngs: Sequence[torch.Generator]) -> list[torch.Tensor]:
    """Fresh N(0,1) maps, image k drawn from `rngs[k]` so a batch equals single runs."""
    per_image = [generator.make_noise(1, generator=rng) for rng in rngs]
    return [torch.cat(maps, dim=0) for maps in zip(*per_image, strict=True)]


def render(generator: torch.nn.Module, latent: torch.Tensor, noise: Sequence[torch.Tensor],
           size: int = 0) -> torch.Tensor:
    """G(W+, noise)·0.5 + 0.5 (no clamp, as the reference); `size` < G.size stops early."""
    if not size or size >= generator.size:
        image, _ = generator([latent], input_is_latent=True, noise=list(noise))
        return image * 0.5 + 0.5
    out = generator.input(latent)
    out = generator.conv1(out, latent[:, 0], noise=noise[0])
    skip = generator.to_rgb1(out, latent[:, 1])
    i, resolution = 1, 4
    while resolution < size:
        conv_up, conv = generator.convs[i - 1], generator.convs[i]
        out = conv_up(out, latent[:, i], noise=noise[i])
        out = conv(out, latent[:, i + 1], noise=noise[i + 1])
        skip = generator.to_rgbs[(i - 1) // 2](out, latent[:, i + 2], skip)
        i += 2
        resolution *= 2
    return skip * 0.5 + 0.5
