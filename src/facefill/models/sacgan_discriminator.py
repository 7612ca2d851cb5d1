"""SAC-GAN's multi-task discriminator (StarGAN-v2 style, specs/inpaint.md §2.2).

conv3×3 → log2(img_size)−2 down ResBlks without normalisation → LReLU → conv4×4 valid → LReLU →
conv1×1 to num_domains + 1 logits; the logit of each image's own domain is returned (the extra one
is never indexed, as released). Input images in [-1, 1].
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from facefill.models.registry import register
from facefill.models.sacgan_blocks import ResBlk


class SACGANDiscriminator(nn.Module):
    def __init__(
        self, img_size: int = 128, num_domains: int = 2, max_conv_dim: int = 512, base_dim: int | None = None
    ) -> None:
        super().__init__()
        dim_in = base_dim or 2**14 // img_size
        blocks: list[nn.Module] = [nn.Conv2d(3, dim_in, 3, 1, 1)]
        dim_out = dim_in
        for _ in range(int(math.log2(img_size)) - 2):
            dim_out = min(dim_in * 2, max_conv_dim)
            blocks.append(ResBlk(dim_in, dim_out, downsample=True))
            dim_in = dim_out
        blocks += [nn.LeakyReLU(0.2), nn.Conv2d(dim_out, dim_out, 4, 1, 0), nn.LeakyReLU(0.2)]
        blocks.append(nn.Conv2d(dim_out, num_domains + 1, 1, 1, 0))
        self.main = nn.Sequential(*blocks)

    def forward(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """One logit per image: the output for its domain `label` (int64 N)."""
        logits = self.main(image).reshape(image.shape[0], -1)
        return logits.gather(1, label.long().reshape(-1, 1)).squeeze(1)


@register("sacgan-discriminator", img_size=128, num_domains=2, max_conv_dim=512)
def build_sacgan_discriminator(**config: Any) -> SACGANDiscriminator:
    return SACGANDiscriminator(**config)
