"""Face boxes with dlib: HOG (default, fast on CPU) or the CNN MMOD detector.

Large photos are searched on a downscaled copy (`max_side`) because detector cost grows with the
pixel count while faces in such photos are big anyway; boxes are scaled back to the photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from facefill.errors import UsageError
from facefill.faces import dlib_models
from facefill.faces.face import Face
from facefill.faces.image8 import to_rgb8

DETECTORS = ("hog", "cnn")
# HOG scores are SVM margins (0 = dlib's own cut-off); MMOD confidences likewise. 0.0 keeps dlib's
# defaults; raise it to drop weak detections (e.g. patterns on clothes).
DEFAULT_THRESHOLD = {"hog": 0.0, "cnn": 0.0}
DEFAULT_MAX_SIDE = 1600


def detect_faces(
    image: np.ndarray,
    *,
    detector: str = "hog",
    upsample: int = 1,
    threshold: float | None = None,
    max_side: int | None = DEFAULT_MAX_SIDE,
) -> list[Face]:
    """All faces whose detector score is >= threshold, strongest first (no landmarks yet)."""
    if detector not in DETECTORS:
        raise UsageError(f"unknown face detector {detector!r}; use one of: {', '.join(DETECTORS)}")
    thr = DEFAULT_THRESHOLD[detector] if threshold is None else float(threshold)
    rgb = to_rgb8(image)
    scale = 1.0
    if max_side and max(rgb.shape[:2]) > max_side:
        scale = max_side / max(rgb.shape[:2])
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    if detector == "hog":
        rects, scores, _ = dlib_models.hog_detector().run(rgb, int(upsample), thr)
        found = [(r, float(s)) for r, s in zip(rects, scores, strict=True)]
    else:
        found = [(d.rect, float(d.confidence)) for d in dlib_models.cnn_detector()(rgb, int(upsample))]
    faces = [
        Face(
            box=(r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale),
            score=s,
            detector=detector,
        )
        for r, s in found
        if s >= thr
    ]
    return sorted(faces, key=lambda f: -f.score)
