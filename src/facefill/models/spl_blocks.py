"""SPL's building blocks (specs/inpaint.md §3.2): region normalisation, SPADE, residual dense blocks.

Region normalisation (RN, Yu et al. 2020) normalises the hole and the valid region separately:
each region is instance-normalised on its own pixels (the other region is filled with its mean so
it does not move the statistics) and rescaled by √(region share). RN-B uses the given hole mask
with separate zero-initialised affines per region; RN-L finds the regions itself from a learned
importance map (≥ threshold). Names and registration order match the SPL checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def region_instance_norm(x: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """IN of x·region computed on the region's pixels only, plus the same for the complement."""

    def one(part: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        area = inside.sum(dim=(2, 3))
        area = torch.where(area == 0, torch.ones_like(area), area)
        mean = part.sum(dim=(2, 3)) / area
        filled = part + (1 - inside) * mean[:, :, None, None]
        share = torch.sqrt(area / (x.shape[2] * x.shape[3]))
        return F.instance_norm(filled) * share[:, :, None, None]

    region = region.detach()
    return one(x * region, region) + one(x * (1 - region), 1 - region)


class RegionNormB(nn.Module):
    """RN-B: region norm by the hole mask (nearest-resized), (1+γ)·x̂ + β per region, γ = β = 0 at init."""

    def __init__(self, feature_channels: int) -> None:
        super().__init__()
        self.foreground_gamma = nn.Parameter(torch.zeros(feature_channels))
        self.foreground_beta = nn.Parameter(torch.zeros(feature_channels))
        self.background_gamma = nn.Parameter(torch.zeros(feature_channels))
        self.background_beta = nn.Parameter(torch.zeros(feature_channels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = F.interpolate(mask, size=x.shape[-2:], mode="nearest")
        normed = region_instance_norm(x, mask)

        def affine(gamma: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return 1 + gamma[None, :, None, None], beta[None, :, None, None]

        fg_scale, fg_shift = affine(self.foreground_gamma, self.foreground_beta)
        bg_scale, bg_shift = affine(self.background_gamma, self.background_beta)
        # as released: each region's β is added everywhere, not only inside its region
        return (normed * mask) * fg_scale + fg_shift + (normed * (1 - mask)) * bg_scale + bg_shift


class SelfAwareAffine(nn.Module):
    """Importance map sigmoid(conv7×7[mean_c, max_c]) and γ, β as 7×7 convs of it."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=pad, bias=False)
        self.gamma_conv = nn.Conv2d(1, 1, kernel_size, padding=pad)
        self.beta_conv = nn.Conv2d(1, 1, kernel_size, padding=pad)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        importance = torch.sigmoid(self.conv1(pooled))
        return importance, self.gamma_conv(importance), self.beta_conv(importance)


class RegionNormL(nn.Module):
    """RN-L: regions = importance map ≥ threshold (0.8), region norm, then (1+γ)·x̂ + β from the map."""

    def __init__(self, feature_channels: int, threshold: float = 0.8) -> None:
        super().__init__()
        self.threshold = threshold
        self.sa = SelfAwareAffine()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        importance, gamma, beta = self.sa(x)
        region = (importance.detach() >= self.threshold).to(x.dtype).expand_as(x)
        return region_instance_norm(x, region) * (1 + gamma) + beta


class SPADE(nn.Module):
    """IN without affine, then (1+γ(P))·x̂ + β(P), γ and β from a shared conv3×3(P)+ReLU (128 hidden)."""

    def __init__(self, norm_channels: int, label_channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        hidden = self.mlp_shared(F.interpolate(prior, size=x.shape[-2:], mode="nearest"))
        return F.instance_norm(x) * (1 + self.mlp_gamma(hidden)) + self.mlp_beta(hidden)


class ResnetBlock(nn.Module):
    """x + [reflect-pad, conv3×3 (dilated), ReLU, reflect-pad, conv3×3] (no norm, no final ReLU)."""

    def __init__(self, dim: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            nn.Conv2d(dim, dim, 3, dilation=dilation),  # dim = 256 in SPL (its inner width is fixed)
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class SpadeResnetBlock(nn.Module):
    """x + [SPADE(P), ReLU, pad, conv3×3 dil, SPADE(P), ReLU, pad, conv3×3]: where the prior enters."""

    def __init__(self, dim: int, prior_dim: int, dilation: int = 2, hidden: int = 128) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            SPADE(dim, prior_dim, hidden),
            nn.ReLU(True),
            nn.ReflectionPad2d(dilation),
            nn.Conv2d(dim, dim, 3, dilation=dilation),  # dim = 256 in SPL (its inner width is fixed)
            SPADE(dim, prior_dim, hidden),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
        )

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.conv_block:
            out = layer(out, prior) if isinstance(layer, SPADE) else layer(out)
        return x + out


class DenseLayer(nn.Module):
    def __init__(self, in_channels: int, growth: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, growth, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, F.relu(self.conv(x))], dim=1)


class ResidualDenseBlock(nn.Module):
    """`num_layers` densely connected conv3×3+ReLU, 1×1 local fusion back to `channels`, + x."""

    def __init__(self, channels: int, growth: int, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(*(DenseLayer(channels + growth * i, growth) for i in range(num_layers)))
        self.lff = nn.Conv2d(channels + growth * num_layers, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.lff(self.layers(x))
