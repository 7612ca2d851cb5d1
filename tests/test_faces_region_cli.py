"""`facefill mask --kind region` on real photos (the faces side of the mask command)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facefill.cli import group
from facefill.faces import landmarks as lm
from faces_data import ASTRONAUT, astronaut, astronaut_face


def _mask_cli(*args: str):
    return CliRunner().invoke(group, ["mask", "--kind", "region", *args], obj={}, catch_exceptions=False)


def _distance_to_polygon(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    """Distance of each pixel to the exact float polygon (0 inside), via a fine rasterisation."""
    scale = 8
    big = np.zeros((shape[0] * scale, shape[1] * scale), np.uint8)
    cv2.fillPoly(big, [np.rint((polygon + 0.5) * scale - 0.5).astype(np.int32)], 1)
    outside = cv2.distanceTransform((1 - big).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) / scale
    # Sample at pixel centres.
    return outside[scale // 2 :: scale, scale // 2 :: scale]


@pytest.mark.parametrize("dilate", [0, 5])
def test_mouth_region_mask_covers_mouth_landmarks_and_nothing_beyond_dilation(tmp_path, dilate):
    res = _mask_cli("--region", "mouth", "--dilate", str(dilate), str(ASTRONAUT), "-o", str(tmp_path / "m"))
    assert res.exit_code == 0, res.output
    mask = np.asarray(Image.open(tmp_path / "m" / "astronaut_mask.png")) > 127
    assert mask.shape == astronaut().shape[:2]
    points = astronaut_face().landmarks[lm.MOUTH_OUTER]
    pix = np.rint(np.concatenate([points, astronaut_face().landmarks[lm.MOUTH_INNER]])).astype(int)
    assert mask[pix[:, 1], pix[:, 0]].all()
    dist = _distance_to_polygon(mask.shape, points)
    assert dist[mask].max() <= dilate + 1.0
    assert mask.sum() > 0.8 * (dist == 0).sum()  # and it really is the mouth, not a sliver


def test_region_union_all_faces_and_no_face_photo(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(ASTRONAUT, photos / "a.jpg")
    top = np.asarray(astronaut())[:300]
    Image.fromarray(np.concatenate([top, top[:, ::-1]], 1)).save(photos / "two.png")
    Image.fromarray(np.full((64, 64, 3), 80, np.uint8)).save(photos / "blank.png")
    res = _mask_cli("--region", "eyes,mouth", "--face", "all", str(photos), "-o", str(tmp_path / "m"))
    assert res.exit_code == 1 and "blank.png" in res.output  # reported, the others written
    two = np.asarray(Image.open(tmp_path / "m" / "two_mask.png")) > 127
    half = two.shape[1] // 2
    assert two[:, :half].sum() > 0 and two[:, half:].sum() > 0
    assert abs(int(two[:, :half].sum()) - int(two[:, half:].sum())) < 0.1 * two[:, :half].sum()
    assert (tmp_path / "m" / "a_mask.png").exists()


def test_region_needs_a_known_region_name(tmp_path):
    res = _mask_cli("--region", "ears", str(ASTRONAUT), "-o", str(tmp_path / "m"))
    assert res.exit_code == 2 and "unknown" in res.output


def test_region_manifest_lists_the_photos_that_worked_and_resume_skips_them(tmp_path):
    import json

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(ASTRONAUT, photos / "a.jpg")
    Image.fromarray(np.full((64, 64, 3), 80, np.uint8)).save(photos / "blank.png")
    out = tmp_path / "m"
    res = _mask_cli("--region", "mouth", str(photos), "-o", str(out))
    assert res.exit_code == 1 and "blank.png" in res.output
    manifest = json.loads((out / "masks.json").read_text())
    mask = np.asarray(Image.open(out / "a_mask.png")) > 127
    assert list(manifest["hole_ratios"]) == ["a_mask.png"] and manifest["count"] == 1
    assert manifest["hole_ratios"]["a_mask.png"] == pytest.approx(mask.mean())
    sidecar = json.loads((out / "a_mask.json").read_text())
    assert sidecar["faces"] == 1 and sidecar["regions"] == ["mouth"] and sidecar["input"].endswith("a.jpg")
    assert not (out / "blank_mask.png").exists()
    again = _mask_cli("--region", "mouth", "--resume", str(photos), "-o", str(out))
    assert again.exit_code == 1 and "1 already done" in again.output  # blank.png still fails alone
