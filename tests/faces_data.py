"""Shared helpers for the faces tests: the committed public-domain test photo and derived images."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
ASTRONAUT = DATA / "astronaut.jpg"


@cache
def astronaut() -> np.ndarray:
    """The 512×512 NASA portrait (Eileen Collins) as uint8 RGB (read-only; copy before editing)."""
    from PIL import Image

    with Image.open(ASTRONAUT) as img:
        arr = np.asarray(img.convert("RGB"))
    arr.setflags(write=False)
    return arr


@cache
def astronaut_face():
    """The astronaut's face with 68 landmarks (detected once per test session)."""
    from facefill.faces.find import find_faces

    return find_faces(astronaut())[0]


def reference_points() -> dict[int, np.ndarray]:
    """Landmark positions checked by eye (tests/data/astronaut_landmarks.json)."""
    data = json.loads((DATA / "astronaut_landmarks.json").read_text())
    return {int(k): np.array(v["xy"], dtype=np.float64) for k, v in data["points"].items()}


def two_faces() -> np.ndarray:
    """The astronaut's head and shoulders next to a mirrored copy: a photo with two real faces."""
    top = astronaut()[:300]
    return np.ascontiguousarray(np.concatenate([top, top[:, ::-1]], axis=1))


def face_region_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask of the convex hull of the 68 landmarks (where paste-back must be faithful)."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(landmarks).astype(np.int32)), 1)
    return mask.astype(bool)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(diff**2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)
