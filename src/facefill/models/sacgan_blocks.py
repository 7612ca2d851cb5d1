"""StarGAN-v2 style blocks as SAC-GAN uses them (specs/inpaint.md §2.2).

`ResBlk` (pre-activation residual, optional InstanceNorm(affine) and 2× average-pool, sum / √2) builds
the encoder and the discriminator; `AdainResBlk` with `AdaIN2D` (spatially varying AdaIN: γ and β are
3×3 convs of a style *map*) builds the decoder. Attribute names and registration order follow the
original, so `state_dict()` keys line up with `manifests/sacgan_*.json`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ResBlk(nn.Module):
    """norm→LReLU→conv3×3→(pool)→norm→LReLU→conv3×3, plus a (1×1 conv, pool) shortcut, divided by √2."""

    def __init__(
        self, dim_in: int, dim_out: int, *, normalize: bool = False, downsample: bool = False
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.downsample = downsample
        self.learned_shortcut = dim_in != dim_out
        self.act = nn.LeakyReLU(0.2)
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        if self.learned_shortcut:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.learned_shortcut:
            x = self.conv1x1(x)
        return F.avg_pool2d(x, 2) if self.downsample else x

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            x = self.norm1(x)
        x = self.conv1(self.act(x))
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        if self.normalize:
            x = self.norm2(x)
        return self.conv2(self.act(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self._shortcut(x) + self._residual(x)) / math.sqrt(2)


class AdaIN2D(nn.Module):
    """Instance norm without affine, then (1 + γ(s))·x̂ + β(s) with γ, β 3×3 convs of the style map s."""

    def __init__(self, style_dim: int, num_features: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(num_features, affine=False)
        self.beta = nn.Conv2d(style_dim, num_features, 3, 1, 1)
        self.gamma = nn.Conv2d(style_dim, num_features, 3, 1, 1)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return (1 + self.gamma(style)) * self.norm(x) + self.beta(style)


class AdainResBlk(nn.Module):
    """AdaIN2D→LReLU→(nearest ×2)→conv3×3→AdaIN2D→LReLU→conv3×3; the style map is nearest-resized.

    With w_hpf = 1 (SAC-GAN's setting) the shortcut is *not* added (StarGAN-v2 behaviour), but its
    1×1 conv still exists when the widths differ, so checkpoints carry it.
    """

    def __init__(
        self, dim_in: int, dim_out: int, style_dim: int, *, upsample: bool = False, w_hpf: int = 1
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.w_hpf = w_hpf
        self.act = nn.LeakyReLU(0.2)
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN2D(style_dim, dim_in)
        self.norm2 = AdaIN2D(style_dim, dim_out)
        self.learned_shortcut = dim_in != dim_out
        if self.learned_shortcut:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1x1(x) if self.learned_shortcut else x

    def _residual(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        styled = F.interpolate(style, size=x.shape[-2:], mode="nearest")
        x = self.act(self.norm1(x, styled))
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            styled = F.interpolate(styled, size=x.shape[-2:], mode="nearest")  # as the original
        x = self.conv1(x)
        return self.conv2(self.act(self.norm2(x, styled)))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        out = self._residual(x, style)
        if self.w_hpf == 0:
            out = (out + self._shortcut(x)) / math.sqrt(2)
        return out
