"""Locate and load dlib's face models once per process.

The model files ship inside the `face_recognition_models` package. Its own `__init__` imports
`pkg_resources`, which is slow, deprecated and missing on new setuptools, so we find the package
folder with `importlib.util.find_spec` (which does not execute the package) and open the files
directly. Loaded models are cached: a shape predictor costs ~0.5 s and ~100 MB to load.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

from facefill.errors import WeightsError

MODEL_FILES: dict[str, str] = {
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}

_PACKAGE = "face_recognition_models"


def models_dir() -> Path:
    """The `models/` folder of the installed face_recognition_models package."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            "the dlib face models are missing: install them with `pip install face-recognition-models`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(kind: str) -> Path:
    """Path of one dlib model file (`landmarks68`, `landmarks5` or `cnn_detector`)."""
    if kind not in MODEL_FILES:
        raise WeightsError(f"unknown dlib model {kind!r}; known: {', '.join(MODEL_FILES)}")
    path = models_dir() / MODEL_FILES[kind]
    if not path.is_file():
        raise WeightsError(
            f"dlib model file {path} is missing: reinstall it with "
            f"`pip install --force-reinstall face-recognition-models`"
        )
    return path


def _dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - dlib is a hard dependency
        raise WeightsError("dlib is not installed: install it with `pip install dlib-bin`") from exc
    return dlib


@cache
def hog_detector() -> Any:
    """dlib's HOG + linear SVM frontal face detector (fast on CPU)."""
    return _dlib().get_frontal_face_detector()


@cache
def cnn_detector() -> Any:
    """dlib's CNN (MMOD) face detector: slower on CPU, finds more rotated/profile faces."""
    return _dlib().cnn_face_detection_model_v1(str(model_path("cnn_detector")))


@cache
def shape_predictor(points: int = 68) -> Any:
    """dlib's 68-point (iBUG 300-W layout) or 5-point (eye corners + nose) landmark predictor."""
    if points not in (5, 68):
        raise WeightsError(f"no dlib landmark model with {points} points; use 5 or 68")
    return _dlib().shape_predictor(str(model_path(f"landmarks{points}")))
