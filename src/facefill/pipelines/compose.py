"""Compositing: keep every known pixel, take the model's pixels only in the hole.

Without feathering the known pixels are copied bit for bit (`torch.where`), so an output differs
from its input only inside the mask. With `feather_px`, the hole is still fully replaced and the
kept pixels within `feather_px` of it are blended (weights from `facefill.masks.ops.feather`),
hiding the seam of models whose colours drift.
"""

from __future__ import annotations

import numpy as np
import torch


def blend_weights(mask: torch.Tensor, feather_px: int) -> torch.Tensor:
    """N×1×H×W weights of the model's pixels: the mask itself, or a feathered version of it."""
    if feather_px <= 0:
        return mask
    from facefill.masks.ops import feather

    planes = [feather(m[0].detach().cpu().numpy(), int(feather_px)) for m in mask]
    return torch.from_numpy(np.stack(planes)[:, None]).to(device=mask.device, dtype=mask.dtype)


def composite(
    image: torch.Tensor, filled: torch.Tensor, mask: torch.Tensor, feather_px: int = 0
) -> torch.Tensor:
    """image·(1-w) + filled·w with w = mask (exact copy outside the hole) or its feathered version."""
    filled = torch.nan_to_num(filled, nan=0.0).clamp(0.0, 1.0).to(image.dtype)
    if feather_px <= 0:
        return torch.where(mask > 0.5, filled, image)
    weights = blend_weights(mask, feather_px)
    return torch.where(weights > 0, image * (1 - weights) + filled * weights, image)
