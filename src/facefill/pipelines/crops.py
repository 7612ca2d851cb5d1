"""Crop strategies: how a fixed-resolution model (`ModelSpec.native_size`) sees a bigger image.

Protocol (every strategy, batched): `strategy(request, fill, native_size) -> prediction`.

* `request`: an `InpaintRequest` of N full-size images (hole pixels already zeroed);
* `fill(native_request) -> Tensor`: runs the model on a request whose images are native-size
  squares, K of them at once; build it with `request.select(indices).with_pixels(crops, holes)` so
  exemplars, attributes and per-item generators follow their items. Call it once per strategy call
  (one batch of K crops), not once per image;
* returns N×3×H×W at the input size; only its hole pixels are used (the pipeline composites).

`MaskBoxCrop` is the default (IOPaint's recipe for fixed-size nets, specs/inpaint.md §8.2): a square
around the mask's bounding box plus a margin, resized to the native size and back.
`pipelines.face_crop.AlignedFaceCrop` is the aligned-face strategy with the same signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from facefill.pipelines.requests import InpaintRequest
from facefill.pipelines.sizing import mask_bbox, resize, resize_mask, square_box

NativeFill = Callable[[InpaintRequest], torch.Tensor]


class CropStrategy(Protocol):
    def __call__(self, request: InpaintRequest, fill: NativeFill, native_size: int) -> torch.Tensor:
        """N full-size images -> N×3×H×W prediction (hole pixels meaningful); one `fill` call."""
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
    is too small on one side. All images' crops reach the model as one N-image batch.
    """

    margin: int = 128

    def __call__(self, request: InpaintRequest, fill: NativeFill, native_size: int) -> torch.Tensor:
        image, mask = request.image, request.mask
        prediction = image.clone()
        height, width = image.shape[-2:]
        boxes: dict[int, tuple[int, int, int, int]] = {}
        for n in range(len(request)):
            bbox = mask_bbox(mask[n, 0])
            if bbox is not None:
                boxes[n] = square_box(bbox, self.margin, height, width)
        if not boxes:
            return prediction
        native = (native_size, native_size)
        crops, holes = [], []
        for n, (y0, y1, x0, x1) in boxes.items():
            crops.append(resize(_pad_square(image[n : n + 1, :, y0:y1, x0:x1]), native))
            holes.append(resize_mask(_pad_square(mask[n : n + 1, :, y0:y1, x0:x1]), native))
        small = fill(request.select(list(boxes)).with_pixels(torch.cat(crops), torch.cat(holes)))
        for k, (n, (y0, y1, x0, x1)) in enumerate(boxes.items()):
            side = max(y1 - y0, x1 - x0)
            back = resize(small[k : k + 1], (side, side))[..., : y1 - y0, : x1 - x0]
            prediction[n, :, y0:y1, x0:x1] = back[0].to(prediction)
        return prediction
