"""Crop strategies: how a fixed-resolution model (`InpainterSpec.native_size`) sees a bigger image.

A strategy gets the full image and mask plus `fill`, which runs the model on native-size squares,
and returns a full-size prediction (only its hole pixels are used; the pipeline composites).
`MaskBoxCrop` is the default (IOPaint's recipe for fixed-size nets, specs/inpaint.md §8.2): a square
around the mask's bounding box plus a margin, resized to the native size and back. A face-aligned
strategy is one more class with the same `__call__`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from facefill.pipelines.sizing import mask_bbox, resize, resize_mask, square_box

NativeFill = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class CropStrategy(Protocol):
    def __call__(
        self, image: torch.Tensor, mask: torch.Tensor, fill: NativeFill, native_size: int
    ) -> torch.Tensor:
        """image N×3×H×W, mask N×1×H×W -> N×3×H×W prediction (hole pixels meaningful)."""
        ...


def _pad_square(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    side = max(h, w)
    if h == w:
        return x
    return F.pad(x, (0, side - w, 0, side - h), mode="replicate")


@dataclass(frozen=True)
class MaskBoxCrop:
    """Square crop around the hole's bounding box, `margin` pixels of context on every side.

    One box per image covers all holes (faces have one region of interest); 128 px is IOPaint's
    default margin. The crop is shifted inward at image edges and padded to a square when the image
    is too small on one side.
    """

    margin: int = 128

    def __call__(
        self, image: torch.Tensor, mask: torch.Tensor, fill: NativeFill, native_size: int
    ) -> torch.Tensor:
        prediction = image.clone()
        height, width = image.shape[-2:]
        for n in range(image.shape[0]):
            bbox = mask_bbox(mask[n, 0])
            if bbox is None:
                continue
            y0, y1, x0, x1 = square_box(bbox, self.margin, height, width)
            crop_img = _pad_square(image[n : n + 1, :, y0:y1, x0:x1])
            crop_mask = _pad_square(mask[n : n + 1, :, y0:y1, x0:x1])
            side = crop_img.shape[-1]
            native = (native_size, native_size)
            small = fill(resize(crop_img, native), resize_mask(crop_mask, native))
            back = resize(small, (side, side))[..., : y1 - y0, : x1 - x0]
            prediction[n, :, y0:y1, x0:x1] = back[0]
        return prediction
