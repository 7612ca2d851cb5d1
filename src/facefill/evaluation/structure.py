"""Structure metric: is there an eye where the eye was? dlib 68-point landmarks on output vs truth.

PSNR rewards a skin-coloured blur in an eye hole; this metric does not. Per pair:

- `lmk_nme`: mean distance between the output's and the ground truth's landmarks, over the
  ground-truth landmarks that fall inside the hole, divided by the inter-ocular distance (outer eye
  corners 36-45, the 300-W normalisation). None when no landmark is inside the hole.
- `face_found`: 1 when dlib still detects a face in the output where the truth's face is
  (IoU >= 0.5 with the truth's box), else 0.

Both are None when the ground truth itself has no detectable face (the pair says nothing).
The output's landmarks are predicted in the *ground truth's* face box: the hole does not move the
face, and a fixed box keeps detector jitter out of the landmark error (detection is scored apart).
Aggregates (per hole-ratio bin, per region) are plain means of the per-pair values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LANDMARK_COLUMNS = ("lmk_nme", "face_found")
OUTER_EYE_CORNERS = (36, 45)
MIN_IOU = 0.5


@dataclass(frozen=True)
class FaceLandmarks:
    box: tuple[float, float, float, float]
    points: np.ndarray  # (68, 2) x, y


def inter_ocular(points: np.ndarray) -> float:
    """Distance between the outer eye corners (landmarks 36 and 45) of a 68-point face."""
    a, b = OUTER_EYE_CORNERS
    return float(np.linalg.norm(np.asarray(points[a]) - np.asarray(points[b])))


def landmarks_in_hole(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Boolean (68,) flags: which landmarks sit on a hole pixel (1 = hole; outside the image = no)."""
    h, w = mask.shape[:2]
    xy = np.rint(np.asarray(points, np.float64)).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    flags = np.zeros(len(xy), bool)
    flags[inside] = mask[xy[inside, 1], xy[inside, 0]] > 0.5
    return flags


def landmark_nme(truth: np.ndarray, output: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean landmark error over the truth's in-hole landmarks / inter-ocular distance (None if none)."""
    flags = landmarks_in_hole(truth, mask)
    if not flags.any():
        return None
    errors = np.linalg.norm(np.asarray(output, np.float64) - np.asarray(truth, np.float64), axis=1)
    return float(errors[flags].mean() / max(inter_ocular(truth), 1e-6))


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detect_boxes(rgb: np.ndarray, upsample: int) -> list[tuple[float, float, float, float]]:
    """dlib HOG face boxes of an uint8 RGB image (no rotation search: eval faces are upright)."""
    from facefill.faces.detect import detect_faces

    return [f.box for f in detect_faces(rgb, upsample=upsample)]


def auto_upsample(rgb: np.ndarray) -> int:
    """dlib's HOG finds faces of >= 80 px: search images under 200 px upsampled once."""
    return 0 if min(rgb.shape[:2]) >= 200 else 1


def face_landmarks(rgb: np.ndarray, upsample: int | None = None) -> FaceLandmarks | None:
    """The largest detected face and its 68 landmarks, or None when dlib finds no face."""
    from facefill.faces.landmarks import predict_landmarks

    boxes = detect_boxes(rgb, auto_upsample(rgb) if upsample is None else upsample)
    if not boxes:
        return None
    box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    return FaceLandmarks(box, predict_landmarks(rgb, box, 68))


@dataclass
class LandmarkScorer:
    """Per-pair `lmk_nme` and `face_found` (module docstring); the truth's landmarks are cached by key.

    `upsample` None: 0 for images of >= 200 px (256² face crops), else 1 (`auto_upsample`).
    """

    upsample: int | None = None
    columns: tuple[str, ...] = LANDMARK_COLUMNS
    _truths: dict[str, FaceLandmarks | None] = field(default_factory=dict)

    def truth(self, target: np.ndarray, key: str) -> FaceLandmarks | None:
        if key not in self._truths:
            self._truths[key] = face_landmarks(target, self.upsample)
        return self._truths[key]

    def __call__(
        self, output: np.ndarray, target: np.ndarray, mask: np.ndarray, key: str
    ) -> dict[str, float | None]:
        from facefill.faces.landmarks import predict_landmarks

        truth = self.truth(target, key)
        if truth is None:
            return {"lmk_nme": None, "face_found": None}
        upsample = auto_upsample(output) if self.upsample is None else self.upsample
        found = any(box_iou(b, truth.box) >= MIN_IOU for b in detect_boxes(output, upsample))
        points = predict_landmarks(output, truth.box, 68)
        return {"lmk_nme": landmark_nme(truth.points, points, mask), "face_found": float(found)}


def build_landmark_scorer(notes: list[str], upsample: int | None = None) -> LandmarkScorer | None:
    """The scorer when dlib and its 68-point model are installed; otherwise a note and None."""
    from facefill.errors import FacefillError

    try:
        from facefill.faces import dlib_models

        dlib_models.shape_predictor(68)
        dlib_models.hog_detector()
    except (FacefillError, ImportError, RuntimeError) as exc:
        notes.append(f"landmark structure metric skipped: {exc}")
        return None
    return LandmarkScorer(upsample=upsample)
