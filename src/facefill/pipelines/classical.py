"""Classical inpainting (no weights): OpenCV's Telea (fast marching) and Navier-Stokes methods.

Both run per image on the CPU with a 3-pixel neighbourhood radius: small enough to stay sharp at
thin strokes, the value OpenCV's own samples use. 8-bit content goes through cv2 as uint8 BGR in one
call; anything finer (16-bit sources) is filled per channel as uint16 (OpenCV's float32 Telea is unstable).
"""

from __future__ import annotations

import numpy as np
import torch

from facefill.pipelines.registry import InpainterSpec, register_inpainter
from facefill.pipelines.requests import InpaintRequest
from facefill.runtime.context import RunContext

RADIUS = 3


def telea_fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV Telea fill of a uint8 H×W×3 image (mask > 0 = hole): also the classical prior that
    facefill-lite refines, in training and at inference alike."""
    import cv2

    return cv2.inpaint(
        np.ascontiguousarray(image), (np.asarray(mask) > 0).astype(np.uint8), RADIUS, cv2.INPAINT_TELEA
    )


class OpenCVInpainter:
    """fill(request) with cv2.inpaint (see pipelines.requests); always on CPU."""

    device = torch.device("cpu")

    def __init__(self, method: str) -> None:
        import cv2

        self._cv2 = cv2
        self._flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]

    def __call__(self, request: InpaintRequest) -> torch.Tensor:
        image, mask = request.image, request.mask
        images = image.detach().to("cpu", torch.float32).permute(0, 2, 3, 1).numpy()
        masks = (mask.detach().to("cpu").numpy()[:, 0] > 0.5).astype(np.uint8) * 255
        out = np.stack([self._fill_one(img, m) for img, m in zip(images, masks, strict=True)])
        return torch.from_numpy(out).permute(0, 3, 1, 2).to(image.device)

    def _fill_one(self, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        scaled = rgb * 255.0
        as_uint8 = np.rint(scaled)
        if np.abs(scaled - as_uint8).max(initial=0.0) < 1e-3:
            pixels = np.ascontiguousarray(as_uint8.astype(np.uint8))
            filled = self._cv2.inpaint(pixels, mask, RADIUS, self._flag)
            return filled.astype(np.float32) / 255.0
        # 3-channel input must be 8-bit for cv2.inpaint; 1-channel uint16 works (float32 Telea is unstable).
        wide = np.rint(np.clip(rgb, 0.0, 1.0) * 65535.0).astype(np.uint16)
        planes = [
            self._cv2.inpaint(np.ascontiguousarray(wide[..., c]), mask, RADIUS, self._flag) for c in range(3)
        ]
        return np.stack(planes, axis=-1).astype(np.float32) / 65535.0


def _loader(method: str):
    def load(context: RunContext) -> OpenCVInpainter:
        return OpenCVInpainter(method)

    return load


register_inpainter(
    InpainterSpec(
        name="telea",
        description="OpenCV Telea fast-marching fill (classical, no weights, radius 3); fast, smooth",
        load=_loader("telea"),
    )
)
register_inpainter(
    InpainterSpec(
        name="ns",
        description="OpenCV Navier-Stokes fill (classical, no weights, radius 3); smooth, slower",
        load=_loader("ns"),
    )
)
