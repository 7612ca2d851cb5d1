"""The `Face` record shared by detection, landmarks, selection, alignment and region masks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Face:
    """One face found in a photo, in the photo's (upright) pixel coordinates.

    `box` is (x0, y0, x1, y1) with x1/y1 exclusive; `landmarks` is (68, 2) float (x, y) in the
    iBUG 300-W order, or None before landmarking. `rotation` is the multiple of 90 degrees
    (counter-clockwise) the photo had to be turned for the detector to see the face upright.
    """

    box: tuple[float, float, float, float]
    score: float
    detector: str = "hog"
    landmarks: np.ndarray | None = field(default=None, repr=False, compare=False)
    rotation: int = 0

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)

    def with_landmarks(self, landmarks: np.ndarray) -> Face:
        return replace(self, landmarks=np.asarray(landmarks, dtype=np.float64))

    def to_dict(self) -> dict:
        """JSON-ready description (used in align sidecars)."""
        out: dict = {
            "box": [round(float(v), 3) for v in self.box],
            "score": round(float(self.score), 5),
            "detector": self.detector,
            "rotation": self.rotation,
        }
        if self.landmarks is not None:
            out["landmarks"] = np.round(self.landmarks, 3).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Face:
        lms = data.get("landmarks")
        return cls(
            box=tuple(float(v) for v in data["box"]),  # type: ignore[arg-type]
            score=float(data.get("score", 0.0)),
            detector=str(data.get("detector", "hog")),
            landmarks=None if lms is None else np.asarray(lms, dtype=np.float64),
            rotation=int(data.get("rotation", 0)),
        )
