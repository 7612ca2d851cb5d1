"""The structure metric (evaluation.structure) against known values on public-domain photos."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest

from facefill.evaluation.structure import (
    LandmarkScorer,
    box_iou,
    face_landmarks,
    inter_ocular,
    landmark_nme,
    landmarks_in_hole,
)
from facefill.faces.regions import LandmarkRegionProvider

pytest.importorskip("dlib")

from faces_data import DATA  # noqa: E402


@cache
def hopper() -> np.ndarray:
    """Grace Hopper (384×450), centre-cropped to 384² and resized to 256² like an eval face."""
    rgb = cv2.cvtColor(cv2.imread(str(DATA / "grace_hopper.jpg")), cv2.COLOR_BGR2RGB)
    top = (rgb.shape[0] - 384) // 2
    out = cv2.resize(rgb[top : top + 384], (256, 256), interpolation=cv2.INTER_AREA)
    out.setflags(write=False)
    return out


def shift_right(rgb: np.ndarray, k: int) -> np.ndarray:
    """Translate by k pixels to the right (edge pixels repeated)."""
    m = np.float32([[1, 0, k], [0, 1, 0]])
    return cv2.warpAffine(rgb, m, rgb.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def test_nme_of_known_point_shift_is_k_over_interocular():
    rng = np.random.default_rng(0)
    truth = rng.uniform(20, 200, (68, 2))
    mask = np.ones((256, 256), np.float32)
    k = 5.0
    got = landmark_nme(truth, truth + [k, 0.0], mask)
    iod = float(np.hypot(*(truth[36] - truth[45])))
    assert got == pytest.approx(k / iod)
    assert landmark_nme(truth, truth + [k, 0.0], np.zeros_like(mask)) is None


def test_only_landmarks_inside_the_hole_count():
    truth = np.zeros((68, 2))
    truth[:, 0] = np.arange(68) * 3 + 1
    truth[:, 1] = 10
    truth[36], truth[45] = (0, 50), (100, 50)  # iod 100
    mask = np.zeros((64, 256), np.float32)
    mask[:, :31] = 1  # x < 31: landmarks 0..9 (x = 1..28) and 36 (x = 0)
    out = truth.copy()
    out[:10] += [0, 20]  # in-hole ones moved 20 px
    out[10:] += [0, 90]  # out-of-hole ones moved far: must not count
    out[36] = truth[36] + [0, 20]
    flags = landmarks_in_hole(truth, mask)
    assert flags.sum() == 11
    assert landmark_nme(truth, out, mask) == pytest.approx(20 / 100)


def test_box_iou_known_values():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_output_equal_to_truth_scores_zero_error_and_detected():
    face = hopper()
    truth = face_landmarks(face)
    assert truth is not None and inter_ocular(truth.points) > 40
    mask = LandmarkRegionProvider(dilate=6).regions(face, _face(truth), ["eyes"])["eyes"]
    got = LandmarkScorer()(face.copy(), face, mask, "hopper")
    assert got == {"lmk_nme": 0.0, "face_found": 1.0}


def test_shifted_face_error_is_shift_over_interocular():
    face = hopper()
    truth = face_landmarks(face)
    mask = np.ones(face.shape[:2], np.float32)
    k = 6
    got = LandmarkScorer()(shift_right(face, k), face, mask, "hopper")
    expected = k / inter_ocular(truth.points)
    assert got["face_found"] == 1.0
    assert 0.6 * expected < got["lmk_nme"] < 1.4 * expected


def test_blanked_face_is_not_detected_and_has_large_error():
    face = hopper()
    truth = face_landmarks(face)
    x0, y0, x1, y1 = (int(round(v)) for v in truth.box)
    blank = face.copy()
    blank[max(y0 - 10, 0) : y1 + 10, max(x0 - 10, 0) : x1 + 10] = face.reshape(-1, 3).mean(0)
    mask = np.zeros(face.shape[:2], np.float32)
    mask[max(y0 - 10, 0) : y1 + 10, max(x0 - 10, 0) : x1 + 10] = 1
    got = LandmarkScorer()(blank, face, mask, "hopper")
    assert got["face_found"] == 0.0
    assert got["lmk_nme"] > 0.05


def test_no_face_in_truth_gives_no_score():
    flat = np.full((128, 128, 3), 120, np.uint8)
    assert LandmarkScorer()(flat, flat, np.ones((128, 128), np.float32), "flat") == {
        "lmk_nme": None,
        "face_found": None,
    }


def _face(found):
    from facefill.faces.face import Face

    return Face(found.box, 1.0).with_landmarks(found.points)


def test_eval_runner_reports_the_structure_columns(tmp_path):
    """`facefill eval`'s runner: an eye hole filled by Telea keeps the face but moves the eye landmarks."""
    from facefill.evaluation.pairs import Pair, bin_label
    from facefill.evaluation.runner import EvalOptions, evaluate
    from facefill.runtime.context import RunContext

    face = hopper()
    truth = face_landmarks(face)
    mask = LandmarkRegionProvider(dilate=6).regions(face, _face(truth), ["eyes"])["eyes"]
    cv2.imwrite(str(tmp_path / "f.png"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "m.png"), (mask * 255).astype(np.uint8))
    opts = EvalOptions(models=["telea"], lpips=False, identity=False, fid=False, sheet_pairs=0)
    pair = Pair("f.png", "m.png", float(mask.mean()), bin_label(float(mask.mean())))
    result = evaluate([pair], tmp_path, tmp_path, opts, context=RunContext(device="cpu", offline=True))
    row = result.rows[0]
    assert row["face_found"] == 1.0
    assert 0.0 < row["lmk_nme"] < 0.5
