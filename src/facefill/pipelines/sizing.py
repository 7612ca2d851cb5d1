"""Geometry helpers for pipelines: pad to a multiple and back, square crop boxes, resizing.

All functions take and return N×C×H×W tensors (no torchvision).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad bottom/right so H and W are multiples of `multiple` (reflect; replicate when too small).

    Returns the padded tensor and the original (H, W) for `crop_to`.
    """
    h, w = x.shape[-2:]
    if multiple <= 1:
        return x, (h, w)
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (h, w)
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo `pad_to_multiple`: keep the top-left (H, W)."""
    return x[..., : size[0], : size[1]]


def mask_bbox(mask: torch.Tensor) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) (exclusive ends) of the hole pixels of a H×W mask, or None if empty."""
    rows = torch.nonzero(mask.amax(dim=1) > 0.5).flatten()
    cols = torch.nonzero(mask.amax(dim=0) > 0.5).flatten()
    if rows.numel() == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def square_box(
    bbox: tuple[int, int, int, int], margin: int, height: int, width: int
) -> tuple[int, int, int, int]:
    """A square around `bbox` grown by `margin` per side, shifted inside the image, then clipped.

    When the square is larger than the image on one axis, the result is clipped there (the caller
    pads the crop back to a square), so context is never invented when real pixels exist.
    """
    top, bottom, left, right = bbox
    side = max(bottom - top, right - left) + 2 * margin
    cy, cx = (top + bottom) / 2.0, (left + right) / 2.0

    def place(center: float, limit: int) -> tuple[int, int]:
        start = int(round(center - side / 2.0))
        start = max(0, min(start, limit - side))
        return start, min(limit, start + side)

    y0, y1 = place(cy, height)
    x0, x1 = place(cx, width)
    return y0, y1, x0, x1


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize (antialiased when shrinking), clamped to [0, 1]."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrinking = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    out = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=shrinking)
    return out.clamp(0.0, 1.0)


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a {0,1} mask so any pixel touching a hole stays a hole (area average > 0)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    if size[0] <= mask.shape[-2] and size[1] <= mask.shape[-1]:
        return (F.interpolate(mask, size=size, mode="area") > 0).to(mask.dtype)
    return (F.interpolate(mask, size=size, mode="nearest") > 0.5).to(mask.dtype)
