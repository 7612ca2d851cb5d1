"""Detection, landmarks, rotation search, face selection and dlib model loading."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from facefill.errors import FaceNotFoundError, UsageError
from facefill.faces import dlib_models
from facefill.faces.detect import detect_faces
from facefill.faces.face import Face
from facefill.faces.find import find_faces, rotated_to_original
from facefill.faces.image8 import to_rgb8
from facefill.faces.landmarks import predict_landmarks
from facefill.faces.select import parse_face_choice, select_faces
from faces_data import astronaut, astronaut_face, reference_points, two_faces


def test_model_files_found_without_pkg_resources():
    code = (
        "import sys; from facefill.faces import dlib_models as d;"
        "paths=[d.model_path(k) for k in d.MODEL_FILES];"
        "print(all(p.is_file() and p.stat().st_size > 1e5 for p in paths), 'pkg_resources' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "False"]


def test_models_are_cached_per_process():
    assert dlib_models.shape_predictor(68) is dlib_models.shape_predictor(68)
    assert dlib_models.hog_detector() is dlib_models.hog_detector()


def test_astronaut_face_detected_once_with_landmarks_at_checked_positions():
    face = astronaut_face()
    assert face.score > 0.5
    assert face.landmarks is not None and face.landmarks.shape == (68, 2)
    x0, y0, x1, y1 = face.box
    inside = (face.landmarks[36:48, 0] > x0) & (face.landmarks[36:48, 0] < x1)
    assert inside.all() and y0 < face.landmarks[36:48, 1].min() and face.landmarks[48:60, 1].max() < y1 + 10
    for idx, ref in reference_points().items():
        err = np.linalg.norm(face.landmarks[idx] - ref)
        assert err <= 4.0, f"landmark {idx} is {err:.1f} px from the checked position"


def test_five_point_landmarks_agree_with_the_68_point_model():
    face = astronaut_face()
    five = predict_landmarks(astronaut(), face.box, points=5)
    assert five.shape == (5, 2)
    # The 5-point model marks the four eye corners and the nose base (68-layout 36, 39, 42, 45, 33).
    corners = face.landmarks[[36, 39, 42, 45, 33]]
    nearest = np.linalg.norm(five[:, None] - corners[None], axis=2).min(1)
    assert nearest.max() < 6.0


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotated_to_original_matches_numpy_rot90(k):
    rng = np.random.default_rng(k)
    img = rng.integers(0, 255, size=(7, 11), dtype=np.uint8)
    rot = np.rot90(img, k)
    ys, xs = np.mgrid[: rot.shape[0], : rot.shape[1]]
    pts = np.stack([xs.ravel(), ys.ravel()], 1)
    back = rotated_to_original(pts, k, img.shape).astype(int)
    assert np.array_equal(img[back[:, 1], back[:, 0]], rot.ravel())


@pytest.mark.parametrize("k", [1, 3])
def test_sideways_photo_found_and_landmarks_mapped_back(k):
    turned = np.ascontiguousarray(np.rot90(astronaut(), k))
    face = find_faces(turned)[0]
    assert face.rotation == (4 - k) % 4
    expected = rotated_to_original(astronaut_face().landmarks, (4 - k) % 4, astronaut().shape[:2])
    # The same landmarks, expressed in the turned photo's coordinates.
    assert np.abs(face.landmarks - expected).max() <= 3.0


def test_no_face_raises_facenotfound():
    flat = np.full((200, 200, 3), 128, np.uint8)
    with pytest.raises(FaceNotFoundError, match="no face found"):
        find_faces(flat, source="flat.png")


def test_threshold_and_detector_validation():
    assert detect_faces(astronaut(), threshold=10.0) == []
    with pytest.raises(UsageError):
        detect_faces(astronaut(), detector="yolo")


def test_large_photo_is_searched_downscaled_and_boxes_scaled_back():
    big = cv2.resize(np.asarray(astronaut()), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    small_box = np.array(detect_faces(astronaut(), upsample=0)[0].box)
    boxes = detect_faces(big, upsample=0, max_side=512)
    assert boxes, "downscaled search missed the face"
    assert np.abs(np.array(boxes[0].box) - 2 * small_box).max() <= 4


def test_two_faces_found_in_reading_order():
    img = two_faces()
    faces = find_faces(img, choice="all")
    assert len(faces) == 2
    assert faces[0].center[0] < img.shape[1] / 2 < faces[1].center[0]
    # The right face is a mirror image: its nose tip mirrors the left one's.
    w = img.shape[1]
    assert abs((w - 1 - faces[1].landmarks[30, 0]) - faces[0].landmarks[30, 0]) <= 3
    chosen = find_faces(img, choice=1)
    assert np.allclose(chosen[0].box, faces[1].box)


def _face(x0, y0, size, score=1.0):
    return Face(box=(x0, y0, x0 + size, y0 + size), score=score)


def test_select_faces_choices():
    faces = [_face(300, 10, 50), _face(0, 0, 100), _face(140, 140, 20)]
    assert select_faces(faces, "largest", (300, 400))[0].box[0] == 0
    assert select_faces(faces, "center", (300, 300))[0].box[0] == 140
    assert [f.box[0] for f in select_faces(faces, "all", (300, 400))] == [0, 140, 300]
    assert select_faces(faces, "2", (300, 400))[0].box[0] == 300
    with pytest.raises(FaceNotFoundError, match="only 3"):
        select_faces(faces, 3, (300, 400))
    with pytest.raises(FaceNotFoundError):
        select_faces([], "largest", (10, 10))
    with pytest.raises(UsageError):
        parse_face_choice("biggest")
    with pytest.raises(UsageError):
        parse_face_choice("-1")


def test_to_rgb8_conversions():
    gray16 = np.full((4, 5), 65535, np.uint16)
    out = to_rgb8(gray16)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8 and (out == 255).all()
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 255
    assert to_rgb8(rgba).shape == (2, 2, 3) and to_rgb8(rgba).max() == 0
    assert to_rgb8(np.full((2, 2, 3), 0.5, np.float32)).max() == 128
