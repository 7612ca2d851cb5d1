"""Face region masks (photo-sized, float32 {0,1}, 1 = region) from landmarks or from a face parser.

A `RegionProvider` turns (photo, face) into named masks. `LandmarkRegionProvider` draws polygons
from the 68 landmarks and needs no network; `ParserRegionProvider` runs any face parser (e.g.
BiSeNet, 19 classes) on the aligned crop, sums class probabilities into region groups and warps
them back to the photo, so commands can switch providers without changing anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import cv2
import numpy as np

from facefill.errors import UsageError
from facefill.faces import landmarks as lm
from facefill.faces.face import Face
from facefill.masks import ops as mask_ops

LANDMARK_REGIONS = ("eyes", "brows", "nose", "mouth", "lips", "face", "lower_face")


class RegionProvider(Protocol):
    """Anything that can draw named region masks for one face of a photo."""

    def names(self) -> tuple[str, ...]:
        """Region names this provider knows."""
        ...

    def regions(
        self, image: np.ndarray, face: Face, names: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Photo-sized float32 masks (1 = region) for the requested names (all when None)."""
        ...


def dilate_mask(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow a {0,1} mask by `px` pixels (disc), or shrink it for negative px."""
    if px == 0:
        return mask
    return mask_ops.dilate(mask, px) if px > 0 else mask_ops.erode(mask, -px)


def _poly(mask: np.ndarray, pts: np.ndarray) -> None:
    cv2.fillPoly(mask, [np.rint(pts).astype(np.int32).reshape(-1, 1, 2)], 1)


def _hull(mask: np.ndarray, pts: np.ndarray) -> None:
    cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(pts).astype(np.int32)), 1)


def landmark_polygons(points: np.ndarray) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Per region, the shapes that make it: ("poly"|"hull"|"line:<thickness>"|"cut", points).

    Exposed so tests (and overlays) can check masks against the same geometry.
    """
    p = np.asarray(points, dtype=np.float64)
    eye_dist = float(np.linalg.norm(p[lm.LEFT_EYE].mean(0) - p[lm.RIGHT_EYE].mean(0)))
    up = p[27] - p[8]
    up /= max(np.linalg.norm(up), 1e-6)
    forehead = float(np.linalg.norm(p[33] - p[27]))  # rule of thirds: forehead ≈ nose length
    brows = np.concatenate([p[lm.RIGHT_BROW], p[lm.LEFT_BROW]])
    chin_drop = 0.12 * float(np.linalg.norm(p[8] - p[27]))
    jaw = p[lm.JAW]
    low_jaw = jaw[1:16].copy()
    low_jaw[3:12] -= up * chin_drop  # a surgical mask wraps under the chin
    brow_px = max(2, int(round(eye_dist * 0.08)))
    # Points 31-35 run along the nostril bottoms; the alae reach ~25 % further out.
    nostrils = p[33] + (p[lm.NOSE_BOTTOM] - p[33]) * 1.25
    return {
        "eyes": [("poly", p[lm.RIGHT_EYE]), ("poly", p[lm.LEFT_EYE])],
        "brows": [(f"line:{brow_px}", p[lm.RIGHT_BROW]), (f"line:{brow_px}", p[lm.LEFT_BROW])],
        "nose": [("hull", np.concatenate([p[lm.NOSE_BRIDGE], nostrils]))],
        "mouth": [("poly", p[lm.MOUTH_OUTER])],
        "lips": [("poly", p[lm.MOUTH_OUTER]), ("cut", p[lm.MOUTH_INNER])],
        "face": [("hull", np.concatenate([jaw, brows, brows + up * forehead]))],
        "lower_face": [("poly", np.concatenate([low_jaw, p[28:29]]))],
    }


def draw_region(shape: tuple[int, int], parts: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """Rasterise one region's shapes into an (H, W) float32 {0,1} mask."""
    mask = np.zeros(shape, np.uint8)
    for kind, pts in parts:
        if kind == "poly":
            _poly(mask, pts)
        elif kind == "hull":
            _hull(mask, pts)
        elif kind.startswith("line:"):
            cv2.polylines(mask, [np.rint(pts).astype(np.int32).reshape(-1, 1, 2)], False, 1, int(kind[5:]))
    for kind, pts in parts:
        if kind == "cut":
            cut = np.zeros(shape, np.uint8)
            _poly(cut, pts)
            mask[cut > 0] = 0
    return mask.astype(np.float32)


def _check_names(requested: Iterable[str] | None, known: Sequence[str]) -> list[str]:
    names = list(known) if requested is None else list(requested)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown face region {', '.join(unknown)}; known: {', '.join(known)}")
    return names


class LandmarkRegionProvider:
    """Region masks from the 68 dlib landmarks (no network needed)."""

    def __init__(self, dilate: int = 0) -> None:
        self.dilate = int(dilate)

    def names(self) -> tuple[str, ...]:
        return LANDMARK_REGIONS

    def regions(
        self, image: np.ndarray, face: Face, names: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        if face.landmarks is None:
            raise ValueError("LandmarkRegionProvider needs a face with landmarks")
        shape = tuple(np.asarray(image).shape[:2])
        polys = landmark_polygons(face.landmarks)
        return {
            n: dilate_mask(draw_region(shape, polys[n]), self.dilate)
            for n in _check_names(names, self.names())
        }


# A parser: aligned RGB crop (size×size×3 uint8) -> (C, h, w) class probabilities (softmax output).
Parser = Callable[[np.ndarray], np.ndarray]


class ParserRegionProvider:
    """Region masks from a face parser run on the FFHQ-aligned crop, warped back to the photo.

    `class_map` groups parser classes into regions (e.g. BiSeNet: mouth <- {11, 12, 13}); a region's
    probability is the sum of its classes' probabilities, kept where it exceeds `threshold`.
    """

    def __init__(
        self,
        parser: Parser,
        class_map: Mapping[str, Sequence[int]],
        *,
        input_size: int = 512,
        threshold: float = 0.5,
        dilate: int = 0,
    ) -> None:
        self.parser = parser
        self.class_map = {k: tuple(int(c) for c in v) for k, v in class_map.items()}
        self.input_size = int(input_size)
        self.threshold = float(threshold)
        self.dilate = int(dilate)

    def names(self) -> tuple[str, ...]:
        return tuple(self.class_map)

    def regions(
        self, image: np.ndarray, face: Face, names: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        from facefill.faces.align import align_face
        from facefill.faces.image8 import to_rgb8

        if face.landmarks is None:
            raise ValueError("ParserRegionProvider needs a face with landmarks (for alignment)")
        wanted = _check_names(names, self.names())
        rgb = to_rgb8(image)
        aligned = align_face(rgb, face.landmarks, self.input_size)
        probs = np.asarray(self.parser(aligned.image), dtype=np.float32)
        if probs.ndim != 3:
            raise ValueError(f"parser must return (classes, h, w) probabilities, got shape {probs.shape}")
        h, w = rgb.shape[:2]
        # Parser output (h', w') covers the crop; map its pixel centres to the photo.
        ph, pw = probs.shape[1:]
        out_to_crop = np.array(
            [
                [self.input_size / pw, 0, (self.input_size / pw - 1) / 2],
                [0, self.input_size / ph, (self.input_size / ph - 1) / 2],
                [0, 0, 1],
            ]
        )
        out_to_photo = aligned.matrix @ out_to_crop
        result = {}
        for name in wanted:
            group = probs[list(self.class_map[name])].sum(0)
            photo_prob = cv2.warpAffine(
                group, out_to_photo[:2], (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0
            )
            mask = (photo_prob > self.threshold).astype(np.float32)
            result[name] = dilate_mask(mask, self.dilate)
        return result
