"""Mask operations on H×W arrays where 1 (or True) = hole.

Dilation and erosion use a disc of radius `px`, so `dilate(m, r)` is exactly "every pixel within
Euclidean distance r of a hole pixel" (the elliptical kernel users know from IOPaint's expand).
Pixels outside the image count as neither hole nor keep: a hole touching the border does not
shrink from the border side when eroded.
"""

from __future__ import annotations

import numpy as np


def binary(mask: np.ndarray) -> np.ndarray:
    """Bool H×W: True where the mask is a hole (values > 0.5)."""
    array = np.asarray(mask)
    return array if array.dtype == np.bool_ else array > 0.5


def hole_ratio(mask: np.ndarray) -> float:
    """Fraction of hole pixels (values > 0.5) in [0, 1]."""
    holes = binary(mask)
    return float(np.count_nonzero(holes)) / holes.size if holes.size else 0.0


def disc_kernel(px: int) -> np.ndarray:
    """(2px+1)² uint8 kernel: 1 where x² + y² <= px²."""
    offsets = np.arange(-px, px + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= px * px).astype(np.uint8)


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow holes by `px` pixels (disc kernel). Returns float32 {0,1}."""
    return _morph(mask, px, grow=True)


def erode(mask: np.ndarray, px: int) -> np.ndarray:
    """Shrink holes by `px` pixels (disc kernel). Returns float32 {0,1}."""
    return _morph(mask, px, grow=False)


def _morph(mask: np.ndarray, px: int, *, grow: bool) -> np.ndarray:
    import cv2

    holes = binary(mask).astype(np.uint8)
    if px < 0:
        raise ValueError(f"morphology radius must be >= 0, got {px}")
    if px == 0 or holes.size == 0:
        return holes.astype(np.float32)
    operation = cv2.dilate if grow else cv2.erode
    # OpenCV's default border value is neutral for both operations (outside never wins).
    return operation(holes, disc_kernel(int(px))).astype(np.float32)


def feather(mask: np.ndarray, px: int) -> np.ndarray:
    """Soft blending weights: 1 inside the hole, falling linearly to 0 over `px` pixels outside it.

    The hole itself stays fully replaced; only the kept pixels next to it are blended, which hides
    the seam without letting original (masked-out) content bleed into the fill.
    """
    import cv2

    holes = binary(mask)
    weights = holes.astype(np.float32)
    if px <= 0 or not holes.any() or holes.all():
        return weights
    # Distance from every kept pixel to the nearest hole pixel (hole pixels are the zeros).
    distance = cv2.distanceTransform((~holes).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = np.clip(1.0 - distance / np.float32(px + 1), 0.0, 1.0)
    return np.where(holes, np.float32(1.0), ramp).astype(np.float32)


def invert(mask: np.ndarray) -> np.ndarray:
    """Swap hole and keep. Returns float32 {0,1}."""
    return (~binary(mask)).astype(np.float32)


def resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize to (height, width), sampling pixel centres (same as PIL NEAREST)."""
    array = np.asarray(mask)
    height, width = size
    rows = np.minimum(
        ((np.arange(height) + 0.5) * array.shape[0] / height).astype(np.int64), array.shape[0] - 1
    )
    cols = np.minimum(
        ((np.arange(width) + 0.5) * array.shape[1] / width).astype(np.int64), array.shape[1] - 1
    )
    return array[rows[:, None], cols[None, :]]
