"""Every training loss of facefill, in one place: hole L1, SSIM, hinge, perceptual, feature matching.

Recipes (training/recipes/) pick their terms from here; nothing else defines a loss. The SSIM is
also the one `facefill eval` reports (evaluation.metrics wraps `ssim`), so a model is trained and
scored on the same formula. Perceptual and feature-matching terms take the feature extractor as an
argument (a VGG from models/, a discriminator's inner layers...): losses hold no weights of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    """Mean SSIM of N×C×H×W images with a Gaussian window (valid region only, population statistics).

    The valid region is what scikit-image averages over (it drops half a window at the border), so
    this equals `structural_similarity(gaussian_weights=True, use_sample_covariance=False)`.
    """
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


def feature_matching(
    real_features: Sequence[torch.Tensor],
    fake_features: Sequence[torch.Tensor],
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Weighted sum of mean L1 distances between paired feature maps (real ones are not back-propagated).

    The pix2pixHD / SPADE feature-matching term when the features are a discriminator's layers, the
    perceptual term when they come from a fixed network (see `perceptual`).
    """
    if len(real_features) != len(fake_features):
        raise ValueError(f"feature_matching: {len(real_features)} real vs {len(fake_features)} fake maps")
    weights = [1.0] * len(real_features) if weights is None else list(weights)
    total = fake_features[0].new_zeros(())
    for w, real, fake in zip(weights, real_features, fake_features, strict=True):
        total = total + w * (fake - real.detach()).abs().mean()
    return total


def perceptual(
    extractor: Callable[[torch.Tensor], Sequence[torch.Tensor]],
    output: torch.Tensor,
    target: torch.Tensor,
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Perceptual loss: `feature_matching` of `extractor(output)` against `extractor(target)`.

    `extractor` maps N×3×H×W images in [0,1] to a list of feature maps and owns its input
    normalisation (e.g. models.vgg with ImageNet statistics); its weights are the caller's to load.
    """
    with torch.no_grad():
        real = extractor(target)
    return feature_matching(real, extractor(output), weights)


def bce_adversarial(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Non-saturating GAN loss (BCE with logits against 1 for real, 0 for fake): SAC-GAN's D and G."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def bce_probabilities(probabilities: torch.Tensor, real: bool) -> torch.Tensor:
    """BCE on a critic that ends in a sigmoid (SPL's EdgeConnect D)."""
    target = torch.ones_like(probabilities) if real else torch.zeros_like(probabilities)
    return F.binary_cross_entropy(probabilities.clamp(1e-6, 1 - 1e-6), target)


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """0.5 · batch-mean of ‖∇ₓ D(x)‖² on real images (StarGAN-v2's R1; `real_images` must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return 0.5 * grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()


def pyramid_l1(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over pyramid levels of mean |a − b| (SAC-GAN's style consistency; both sides keep grads)."""
    return sum((x - y).abs().mean() for x, y in zip(a, b, strict=True)) / len(a)


def weighted_l1(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """mean(|output − target| · weight), weight broadcast (SPL: 1 + 2m on pixels, 1 + 3m on priors)."""
    return ((output - target).abs() * weight).mean()
