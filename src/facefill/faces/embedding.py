"""Face identity embeddings with dlib's 128-D ResNet (ships in face_recognition_models).

Used by `facefill eval` to ask "is the inpainted face still the same person?". dlib's model was
trained so that two photos of one person lie within about 0.6 of each other (Euclidean).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from facefill.faces import dlib_models
from facefill.faces.image8 import to_rgb8

EMBEDDING_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SAME_PERSON_THRESHOLD = 0.6


@cache
def _encoder() -> Any:
    import dlib

    path = dlib_models.models_dir() / EMBEDDING_FILE
    return dlib.face_recognition_model_v1(str(path))


def face_embedding(
    image: np.ndarray, box: tuple[float, float, float, float] | None = None
) -> np.ndarray | None:
    """128-D embedding of the strongest face (or of `box`); None when no face is found.

    For a tight face crop where the detector fails, pass the whole image as the box.
    """
    import dlib

    rgb = np.ascontiguousarray(to_rgb8(image))
    if box is None:
        from facefill.faces.detect import detect_faces

        faces = detect_faces(rgb, upsample=1)
        if not faces:
            return None
        box = faces[0].box
    rect = dlib.rectangle(
        int(round(box[0])), int(round(box[1])), int(round(box[2])) - 1, int(round(box[3])) - 1
    )
    shape = dlib_models.shape_predictor(5)(rgb, rect)
    return np.asarray(_encoder().compute_face_descriptor(rgb, shape), dtype=np.float64)


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two embeddings (dlib: < 0.6 means the same person)."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
