"""Detection + selection + landmarks in one call, robust to photos saved sideways.

When nothing is found upright, the photo is searched turned by 90, 270 and 180 degrees (phone
photos without an EXIF orientation tag); boxes and landmarks are mapped back to the photo as given.
"""

from __future__ import annotations

import numpy as np

from facefill.errors import FaceNotFoundError
from facefill.faces.detect import DEFAULT_MAX_SIDE, detect_faces
from facefill.faces.face import Face
from facefill.faces.image8 import to_rgb8
from facefill.faces.landmarks import predict_landmarks
from facefill.faces.select import select_faces

ROTATION_ORDER = (0, 1, 3, 2)
# Detector score above which a detection is "confident" (HOG: 3 of 200 LFW faces score lower;
# the astronaut's mission patch scores 0.12).
CONFIDENT_SCORE = {"hog": 0.3, "cnn": 0.3}  # quarter turns (counter-clockwise, as np.rot90) tried in turn


def rotated_to_original(points: np.ndarray, k: int, shape: tuple[int, int]) -> np.ndarray:
    """Map (x, y) pixel positions in np.rot90(image, k) back to `image` of shape (H, W)."""
    h, w = shape
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = pts[:, 0], pts[:, 1]
    k %= 4
    if k == 0:
        out = np.stack([x, y], 1)
    elif k == 1:  # rot[i, j] = img[j, W-1-i]
        out = np.stack([w - 1 - y, x], 1)
    elif k == 2:  # rot[i, j] = img[H-1-i, W-1-j]
        out = np.stack([w - 1 - x, h - 1 - y], 1)
    else:  # rot[i, j] = img[H-1-j, i]
        out = np.stack([y, h - 1 - x], 1)
    return out


def _box_to_original(box: tuple[float, float, float, float], k: int, shape: tuple[int, int]) -> tuple:
    x0, y0, x1, y1 = box
    # Exclusive right/bottom edges: map inclusive corner pixels, then re-add 1.
    corners = rotated_to_original(np.array([[x0, y0], [x1 - 1, y1 - 1]]), k, shape)
    lo, hi = corners.min(0), corners.max(0)
    return (float(lo[0]), float(lo[1]), float(hi[0] + 1), float(hi[1] + 1))


def find_faces(
    image: np.ndarray,
    *,
    choice: str | int = "largest",
    detector: str = "hog",
    upsample: int = 1,
    threshold: float | None = None,
    try_rotations: bool = True,
    max_side: int | None = DEFAULT_MAX_SIDE,
    source: str = "image",
) -> list[Face]:
    """Selected faces with 68 landmarks, in `image` coordinates; FaceNotFoundError if none.

    `threshold` None: dlib's own cut-off, then only confident faces if there is any.
    """
    rgb = to_rgb8(image)
    shape = rgb.shape[:2]
    for k in ROTATION_ORDER if try_rotations else (0,):
        view = np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb
        faces = detect_faces(
            view, detector=detector, upsample=upsample, threshold=threshold, max_side=max_side
        )
        if not faces:
            continue
        if threshold is None:
            # Weak detections (patches, patterns on clothes) are dropped when a confident face
            # exists; a photo whose only face is weak still gets it.
            confident = [f for f in faces if f.score >= CONFIDENT_SCORE[detector]]
            faces = confident or faces
        view_boxes: dict[int, tuple] = {}
        mapped = []
        for f in faces:
            m = Face(_box_to_original(f.box, k, shape), f.score, f.detector, None, k)
            view_boxes[id(m)] = f.box
            mapped.append(m)
        out = []
        for face in select_faces(mapped, choice, shape, source=source):
            # Landmarks are predicted on the upright view, where the predictor was trained.
            pts = predict_landmarks(view, view_boxes[id(face)], 68)
            out.append(face.with_landmarks(rotated_to_original(pts, k, shape)))
        return out
    raise FaceNotFoundError(
        f"{source}: no face found (try --detector cnn, --upsample 2 or a lower --face-threshold)"
    )
