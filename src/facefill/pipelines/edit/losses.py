"""MaskFaceGAN's loss terms (spec edit.md §1.8), each returning one value per image.

Why per image: the reference sums `weight · loss.sum()` over the batch, so every image's gradient
is its own and a batch of N optimises exactly like N single runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def masked_mse(target: torch.Tensor, generated: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Squared error × mask (broadcast over colour), mean over C,H,W — not normalised by mask area."""
    return ((target - generated) ** 2 * mask).mean(dim=(1, 2, 3))


def masked_lpips(lpips: torch.nn.Module, target: torch.Tensor, generated: torch.Tensor,
                 mask: torch.Tensor) -> torch.Tensor:
    """LPIPS(target, generated) with the mask area-downsampled per level, mean over all pixels."""
    return lpips(target, generated, normalize=True, mask=mask)


def bernoulli_kl(target: torch.Tensor | float, prob: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """KL((t,1−t) ‖ (p,1−p)) elementwise; t·log t is 0 at t = 0."""
    t = torch.as_tensor(target, dtype=prob.dtype, device=prob.device).expand_as(prob)
    p = prob.clamp(eps, 1 - eps)
    return torch.xlogy(t, t) - t * torch.log(p) + torch.xlogy(1 - t, 1 - t) - (1 - t) * torch.log1p(-p)


def classifier_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Bernoulli KL of each selected attribute (N,A) to its target probability, mean over A."""
    return bernoulli_kl(targets, torch.sigmoid(logits)).mean(dim=1)


def region_fraction(mask: torch.Tensor) -> torch.Tensor:
    """Fraction of the image a soft mask covers (mean over H,W), per image."""
    return mask.mean(dim=(1, 2, 3))


def size_loss(original_fraction: torch.Tensor, generated_fraction: torch.Tensor, size: float) -> torch.Tensor:
    """KL(size·p_orig ‖ p_gen); the target is clamped below 1 (a larger request has no meaning)."""
    return bernoulli_kl((size * original_fraction).clamp(max=1 - 1e-6), generated_fraction)


def shape_loss(generated_shape: torch.Tensor, shape_mask: torch.Tensor) -> torch.Tensor:
    """MSE between the generated image's shape-region probability and the shape mask (512²)."""
    return ((generated_shape - shape_mask) ** 2).mean(dim=(1, 2, 3))


def noise_regularize(noises: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-image StyleGAN2-projector noise regulariser: squared mean autocorrelation at 1-px shifts,
    at every scale down to 8×8 (2×2 average pooling between scales)."""
    total = noises[0].new_zeros(noises[0].shape[0])
    for noise in noises:
        size = noise.shape[-1]
        while True:
            total = total + (noise * torch.roll(noise, shifts=1, dims=3)).mean(dim=(1, 2, 3)) ** 2
            total = total + (noise * torch.roll(noise, shifts=1, dims=2)).mean(dim=(1, 2, 3)) ** 2
            if size <= 8:
                break
            noise = F.avg_pool2d(noise, 2)
            size //= 2
    return total


@torch.no_grad()
def noise_normalize_(noises: Sequence[torch.Tensor]) -> None:
    """In place (through `.data`, as the reference): each map -> (n − mean)/std per image."""
    for noise in noises:
        mean = noise.data.mean(dim=(1, 2, 3), keepdim=True)
        std = noise.data.std(dim=(1, 2, 3), keepdim=True)
        noise.data.sub_(mean).div_(std)
