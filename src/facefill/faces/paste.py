"""Put a processed aligned crop back into the full-resolution photo through the exact inverse.

The crop is warped with the inverse of its crop->photo matrix (pre-shrunk by an integer box
average when the crop is much larger than the face in the photo, to avoid aliasing) and blended
with crop-space weights: by default the crop square with soft edges; `faces.roundtrip` passes a
feathered face mask instead (no seam at the square's edge). A photo-space hole mask can restrict
the blend further, so that only the pixels a model was asked to change are replaced. Where the
weight is 0 the photo's own pixels are kept bit for bit. `face_mask` and `change_weights` make
those weights for the round trip.
"""

from __future__ import annotations

import cv2
import numpy as np

from facefill.faces.align import _cast_like, _scale_about_centres, _translate, apply_matrix

UNCHANGED_TOL = 1.5 / 255.0  # below this difference (after a 1 px blur) a crop pixel is "unchanged"
FACE_MASK_FEATHER = 0.06  # fade of the face mask, as a fraction of the crop side
FACE_MASK_GROW = 0.02  # the face hull is grown by this fraction before feathering


def crop_blend_mask(size: int, feather: float) -> np.ndarray:
    """size×size float32 weights: 1 inside, ramping to 0 over `feather` px at the crop's edges."""
    idx = np.arange(size, dtype=np.float32)
    edge = np.minimum(idx + 0.5, size - 0.5 - idx)  # distance of a pixel centre to the nearest edge
    ramp = np.clip(edge / max(feather, 1e-6), 0.0, 1.0) if feather > 0 else np.ones(size, np.float32)
    return np.minimum(ramp[None, :], ramp[:, None]).astype(np.float32)


def paste_back(
    photo: np.ndarray,
    crop: np.ndarray,
    crop_to_photo: np.ndarray,
    *,
    hole_mask: np.ndarray | None = None,
    feather: float | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """A copy of `photo` with `crop` blended in where the aligned square lies.

    `weights` (crop-sized, in [0,1]) are the blend weights in crop space; default: the square
    with an edge ramp of `feather` crop pixels (default 2 % of the crop size). `hole_mask`
    (photo-sized, 1 = replace, soft values allowed) restricts the blend in photo space.
    """
    photo = np.asarray(photo)
    squeeze = photo.ndim == 2
    base = photo[:, :, None] if squeeze else photo
    src = np.asarray(crop)
    src = src[:, :, None] if src.ndim == 2 else src
    if src.shape[2] != base.shape[2]:
        raise ValueError(f"crop has {src.shape[2]} channels but the photo has {base.shape[2]}")
    size = src.shape[0]
    h, w = base.shape[:2]
    m = np.asarray(crop_to_photo, dtype=np.float64)
    if weights is None:
        alpha_crop = crop_blend_mask(size, size * 0.02 if feather is None else float(feather))
    else:
        alpha_crop = np.asarray(weights, dtype=np.float32)
        if alpha_crop.shape != (size, size):
            raise ValueError(f"weights are {alpha_crop.shape} but the crop is {size}x{size}")

    # Photo region the crop covers (bounding box of its square, clipped to the photo).
    corners = apply_matrix(
        m, np.array([[-0.5, -0.5], [size - 0.5, -0.5], [size - 0.5, size - 0.5], [-0.5, size - 0.5]])
    )
    bx0 = max(int(np.floor(corners[:, 0].min())) - 1, 0)
    by0 = max(int(np.floor(corners[:, 1].min())) - 1, 0)
    bx1 = min(int(np.ceil(corners[:, 0].max())) + 2, w)
    by1 = min(int(np.ceil(corners[:, 1].max())) + 2, h)
    out = base.copy()
    if bx1 <= bx0 or by1 <= by0:
        return out[:, :, 0] if squeeze else out

    # Shrink the crop by the largest divisor of its size that keeps it >= the face's photo size.
    crop_px_per_photo_px = 1.0 / np.sqrt(abs(np.linalg.det(m[:2, :2])))
    k = max((d for d in range(1, int(crop_px_per_photo_px) + 1) if size % d == 0), default=1)
    if k > 1:
        src = cv2.resize(src, (size // k, size // k), interpolation=cv2.INTER_AREA)
        alpha_crop = cv2.resize(alpha_crop, (size // k, size // k), interpolation=cv2.INTER_AREA)
        m = m @ _scale_about_centres(k)
    src_to_region = _translate(-bx0, -by0) @ m
    dsize = (bx1 - bx0, by1 - by0)
    warped = cv2.warpAffine(
        src, src_to_region[:2], dsize, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    if warped.ndim == 2:
        warped = warped[:, :, None]
    alpha = cv2.warpAffine(alpha_crop, src_to_region[:2], dsize, flags=cv2.INTER_LINEAR, borderValue=0.0)
    if hole_mask is not None:
        alpha = alpha * np.asarray(hole_mask, dtype=np.float32)[by0:by1, bx0:bx1]
    alpha = np.clip(alpha, 0.0, 1.0)[:, :, None]
    region = out[by0:by1, bx0:bx1].astype(np.float32)
    blended = region + (warped - region) * alpha
    out[by0:by1, bx0:bx1] = _cast_like(blended, base.dtype)
    return out[:, :, 0] if squeeze else out


def rescale_crop_matrix(crop_to_photo: np.ndarray, from_size: int, to_size: int) -> np.ndarray:
    """The crop->photo matrix for the same square rendered at `to_size` instead of `from_size`.

    Used when a processed crop comes back at another resolution (e.g. a 512 model on a 1024 crop).
    """
    r = from_size / to_size
    off = 0.5 * r - 0.5  # pixel centre u' of the new crop sits at (u' + 0.5) * r - 0.5 in the old one
    return np.asarray(crop_to_photo, dtype=np.float64) @ np.array(
        [[r, 0.0, off], [0.0, r, off], [0.0, 0.0, 1.0]]
    )


def face_mask(crop_landmarks: np.ndarray, size: int, feather_px: float | None = None) -> np.ndarray:
    """size×size float32 face-region weights: 1 on the (grown) face hull, a linear fade of
    `feather_px` (default FACE_MASK_FEATHER of the side) outside it, 0 at the crop's edges."""
    from facefill.faces.regions import draw_region, landmark_polygons
    from facefill.masks.ops import dilate, feather

    hull = draw_region((size, size), landmark_polygons(crop_landmarks)["face"])
    grown = dilate(hull, max(1, int(round(FACE_MASK_GROW * size))))
    fade = max(1.0, FACE_MASK_FEATHER * size if feather_px is None else float(feather_px))
    soft = feather(grown, int(round(fade)))
    # Fade out before the square's edge too (a chin near the bottom must not end in a hard line):
    # 0 within FACE_MASK_GROW of the edge, full weight `fade` further in.
    idx = np.arange(size, dtype=np.float32)
    edge = np.minimum(idx + 0.5, size - 0.5 - idx) - FACE_MASK_GROW * size
    ramp = np.clip(edge / fade, 0.0, 1.0)
    return (soft * np.minimum(ramp[None, :], ramp[:, None])).astype(np.float32)


def change_weights(processed: np.ndarray, original: np.ndarray, tol: float = UNCHANGED_TOL) -> np.ndarray:
    """S×S weights: 0 where processed ≈ original (float [0,1] crops), 1 from 2·tol of difference."""
    if original.shape[:2] != processed.shape[:2]:
        original = cv2.resize(original, processed.shape[1::-1], interpolation=cv2.INTER_AREA)
        original = original[:, :, None] if original.ndim == 2 else original
    diff = np.abs(processed.astype(np.float32) - original.astype(np.float32)).reshape(
        *processed.shape[:2], -1
    )
    smooth = cv2.GaussianBlur(diff.max(axis=2), (0, 0), sigmaX=1.0)
    return np.clip((smooth - tol) / tol, 0.0, 1.0).astype(np.float32)


def resolution_loss(crop_to_photo: np.ndarray) -> float:
    """Photo pixels per crop pixel along a side (> 1: the crop is coarser than the photo)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(crop_to_photo)[:2, :2]))))
