"""Losses for inpainting training: hole-weighted L1, SSIM, SN-PatchGAN hinge.

No perceptual (VGG) loss: facefill ships no pretrained VGG weights and training must run offline.
SSIM stands in for the structure term and is also what the quality benchmark reports.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def hole_l1(
    output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Mean absolute error over hole pixels only (per channel), so small holes are not drowned out."""
    weight = mask.expand_as(output)
    return ((output - target).abs() * weight).sum() / (weight.sum() + eps)


def gaussian_window(size: int = 11, sigma: float = 1.5, device=None, dtype=None) -> torch.Tensor:
    """Normalised 1-D Gaussian taps (the SSIM window of Wang et al. 2004)."""
    coords = torch.arange(size, device=device, dtype=dtype or torch.float32) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, size: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """Mean SSIM of N×C×H×W images with a Gaussian window (valid region only, population statistics)."""
    channels = x.shape[1]
    g = gaussian_window(size, sigma, x.device, x.dtype)
    kernel_h = g.view(1, 1, 1, size).repeat(channels, 1, 1, 1)
    kernel_v = g.view(1, 1, size, 1).repeat(channels, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kernel_h, groups=channels), kernel_v, groups=channels)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (num / den).mean()


def d_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """SN-PatchGAN discriminator hinge loss."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """SN-PatchGAN generator loss: raise the discriminator's score of the composite."""
    return -fake_logits.mean()
