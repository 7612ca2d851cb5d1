"""Read mask files into float32 H×W arrays in {0, 1}, 1 = hole (white = hole in files).

Users hand us masks in every shape: painted white on black (L/RGB/JPEG with compression noise),
1-bit, palette, or a transparent PNG whose alpha is the mask (RGB constant). This module picks the
informative channel, thresholds it, applies EXIF orientation like for images (a mask drawn on the
displayed photo must land on the same pixels), checks the size against the image, and applies the
user's invert / erode / dilate options. `.npy` arrays (bool, integer or float) are accepted too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facefill.errors import MaskError, UsageError
from facefill.io.images import LoadedImage, decode_image

# Holes are pixels whose value (0..255 scale) is strictly above the threshold.
DEFAULT_THRESHOLD = 127
# A colour spread up to this (0..255 scale) still counts as "RGB is constant" (alpha carries the mask).
_CONSTANT_RGB_SPREAD = 2


@dataclass(frozen=True)
class MaskOptions:
    """How to turn a mask file into holes. Defaults: white (> 127) = hole, no morphology."""

    threshold: int = DEFAULT_THRESHOLD
    invert: bool = False
    alpha_keep: bool = False  # alpha masks: False = transparent is hole, True = opaque is hole
    resize: bool = False  # nearest-resize a mask whose size differs from the image
    dilate: int = 0
    erode: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 254:
            raise UsageError(f"mask threshold {self.threshold} is out of range: use 0..254")
        if self.dilate < 0 or self.erode < 0:
            raise UsageError("mask dilate/erode must be >= 0 pixels")


def read_mask(
    path: str | os.PathLike[str],
    *,
    image_size: tuple[int, int] | None = None,
    options: MaskOptions | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Load a mask as float32 H×W {0,1} (1 = hole), sized like `image_size` = (H, W) when given.

    Order: threshold -> invert -> (resize) -> erode -> dilate. Morphology runs at image resolution
    so `px` means image pixels.
    """
    # masks.ops is a leaf module (numpy + OpenCV only); it is the one home of mask morphology.
    from facefill.masks import ops

    options = options or MaskOptions()
    mask_path = Path(path)
    if mask_path.suffix.lower() == ".npy":
        level = _npy_level(mask_path)
    else:
        image = decode_image(mask_path, max_pixels=max_pixels, what="mask", error=MaskError)
        level = mask_level(image, alpha_keep=options.alpha_keep)
    holes = level > options.threshold
    if options.invert:
        holes = ~holes
    if image_size is not None and holes.shape != tuple(image_size):
        if not options.resize:
            height, width = image_size
            raise MaskError(
                f"mask {mask_path} is {holes.shape[1]}x{holes.shape[0]} but its image is {width}x{height}: "
                "use a mask of the same size, or allow resizing (--resize-mask)"
            )
        holes = ops.resize_nearest(holes, tuple(image_size))
    result = holes.astype(np.float32)
    if options.erode:
        result = ops.erode(result, options.erode)
    if options.dilate:
        result = ops.dilate(result, options.dilate)
    return result


def mask_level(image: LoadedImage, *, alpha_keep: bool = False) -> np.ndarray:
    """Per-pixel "holeness" on a 0..255 float scale from a decoded mask image.

    If the colour is constant and alpha varies, the alpha channel is the mask (transparent = hole,
    or opaque = hole with `alpha_keep`). Otherwise the brightest channel is used, so a stroke painted
    in any bright colour counts, and gray/1-bit/palette masks work unchanged.
    """
    scale = 255.0 / image.max_value
    rgb = image.rgb
    if image.alpha is not None and _varies(image.alpha) and _spread(rgb) * scale <= _CONSTANT_RGB_SPREAD:
        alpha = image.alpha.astype(np.float32) * scale
        return alpha if alpha_keep else 255.0 - alpha
    brightest = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])  # 10x faster than max(axis=2)
    return brightest.astype(np.float32) * scale


def _varies(array: np.ndarray) -> bool:
    return bool(array.size) and int(array.max()) != int(array.min())


def _spread(array: np.ndarray) -> int:
    return int(array.max()) - int(array.min()) if array.size else 0


def _npy_level(path: Path) -> np.ndarray:
    """A .npy mask on the 0..255 scale: bool/{0,1} arrays map to 0/255, [0,1] floats are scaled."""
    if not path.is_file():
        raise MaskError(f"mask {path} does not exist: check the path")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError/OSError/EOFError/UnpicklingError on bad files
        raise MaskError(f"mask {path} is not a readable .npy array ({exc}): save it with numpy.save") from exc
    if not isinstance(array, np.ndarray):
        raise MaskError(f"mask {path} holds several arrays (.npz?): save a single H×W array with numpy.save")
    if array.ndim == 3 and 1 in (array.shape[0], array.shape[2]):
        array = array[0] if array.shape[0] == 1 else array[..., 0]
    if array.ndim != 2 or array.size == 0:
        raise MaskError(f"mask {path} has shape {array.shape}: a mask array must be H×W (or 1×H×W, H×W×1)")
    if array.dtype == np.bool_:
        return array.astype(np.float32) * 255.0
    if np.issubdtype(array.dtype, np.integer):
        top = int(array.max())
        if top <= 1:
            return (array > 0).astype(np.float32) * 255.0
        values = array.astype(np.float64)
        return np.clip(values / 257.0 if top > 255 else values, 0, 255).astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float64)
        if not np.isfinite(values).all():
            raise MaskError(f"mask {path} contains NaN or infinite values: save a finite array")
        if values.max() <= 1.0:
            values = values * 255.0
        return np.clip(values, 0, 255).astype(np.float32)
    raise MaskError(f"mask {path} has dtype {array.dtype}: use a bool, integer or float array")
