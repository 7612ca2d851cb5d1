"""68-point (iBUG 300-W) and 5-point facial landmarks with dlib's shape predictors."""

from __future__ import annotations

import numpy as np

from facefill.faces import dlib_models
from facefill.faces.face import Face
from facefill.faces.image8 import to_rgb8

# Index ranges of the 68-point layout, used by alignment and region masks.
JAW = slice(0, 17)
RIGHT_BROW = slice(17, 22)  # subject's right = image left
LEFT_BROW = slice(22, 27)
NOSE_BRIDGE = slice(27, 31)
NOSE_BOTTOM = slice(31, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
MOUTH_OUTER = slice(48, 60)
MOUTH_INNER = slice(60, 68)


def predict_landmarks(
    image: np.ndarray, box: tuple[float, float, float, float], points: int = 68
) -> np.ndarray:
    """(points, 2) float64 (x, y) pixel positions for the face in `box` (x0, y0, x1, y1)."""
    import dlib

    rgb = to_rgb8(image)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    shape = dlib_models.shape_predictor(points)(rgb, dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def add_landmarks(image: np.ndarray, face: Face, points: int = 68) -> Face:
    """The same face with its landmarks filled in."""
    return face.with_landmarks(predict_landmarks(image, face.box, points))
