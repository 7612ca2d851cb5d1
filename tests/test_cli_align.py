"""`facefill align`: crops + transforms, --face all, no-face items, paste-back, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facefill.cli import group
from faces_data import ASTRONAUT, astronaut, face_region_mask, psnr, two_faces


def _invoke(*args: str):
    from facefill.cli.align import align

    group.add_command(align, "align")  # works before and after `align` is registered in COMMANDS
    return CliRunner().invoke(group, ["--quiet", "align", *args], obj={}, catch_exceptions=False)


@pytest.fixture()
def photos(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    shutil.copy(ASTRONAUT, src / "astronaut.jpg")
    Image.fromarray(two_faces()).save(src / "two.png")
    Image.fromarray(np.full((120, 160, 3), 100, np.uint8)).save(src / "blank.png")
    return src


def test_align_writes_crops_and_transforms_and_reports_no_face(photos, tmp_path):
    out = tmp_path / "aligned"
    res = _invoke(
        str(photos),
        "-o",
        str(out),
        "--size",
        "256",
        "--format",
        "png",
        "--summary-json",
        str(tmp_path / "s.json"),
    )
    assert res.exit_code == 1  # blank.png has no face: reported, the rest still written
    summary = json.loads((tmp_path / "s.json").read_text())
    status = {item["name"]: (item["status"], item["reason"]) for item in summary["items"]}
    assert status["blank.png"][0] == "failed" and "no face found" in status["blank.png"][1]
    assert status["astronaut.jpg"][0] == "done" and status["two.png"][0] == "done"
    crop = np.asarray(Image.open(out / "astronaut_face0.png"))
    assert crop.shape == (256, 256, 3)
    meta = json.loads((out / "astronaut_face0.json").read_text())
    assert np.array(meta["face"]["landmarks"]).shape == (68, 2)
    matrix = np.array(meta["transform"]["crop_to_photo"])
    # The stored transform maps the crop back onto the photo: sampling the photo through it
    # reproduces the crop.
    import cv2

    resampled = cv2.warpAffine(
        np.asarray(astronaut()), matrix[:2], (256, 256), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    )
    assert psnr(resampled[16:-16, 16:-16], crop[16:-16, 16:-16]) > 35
    # Without --face all, only one face of the two-face photo.
    assert (out / "two_face0.png").exists() and not (out / "two_face1.png").exists()


def test_face_all_gives_one_crop_per_face(photos, tmp_path):
    out = tmp_path / "aligned"
    res = _invoke(str(photos / "two.png"), "-o", str(out), "--size", "128", "--face", "all")
    assert res.exit_code == 0, res.output
    crops = sorted(p.name for p in out.glob("two_face*.png"))
    assert crops == ["two_face0.png", "two_face1.png"]
    left = np.asarray(Image.open(out / "two_face0.png")).astype(float)
    right = np.asarray(Image.open(out / "two_face1.png")).astype(float)
    # The second face is the first one mirrored, so its crop is the mirrored crop.
    assert np.abs(left - right[:, ::-1]).mean() < 8
    metas = [json.loads((out / f"two_face{i}.json").read_text()) for i in (0, 1)]
    assert [m["face_index"] for m in metas] == [0, 1] and metas[1]["input_sha256"] == metas[0]["input_sha256"]


def test_paste_back_of_unmodified_crops_reproduces_photo(photos, tmp_path):
    aligned = tmp_path / "aligned"
    assert (
        _invoke(
            str(photos / "astronaut.jpg"), "-o", str(aligned), "--size", "512", "--format", "png"
        ).exit_code
        == 0
    )
    restored = tmp_path / "restored"
    res = _invoke(
        str(photos / "astronaut.jpg"), "-o", str(restored), "--format", "png", "--paste-back", str(aligned)
    )
    assert res.exit_code == 0, res.output
    back = np.asarray(Image.open(restored / "astronaut.png"))
    original = np.asarray(astronaut())
    assert back.shape == original.shape
    landmarks = np.array(json.loads((aligned / "astronaut_face0.json").read_text())["face"]["landmarks"])
    region = face_region_mask(landmarks, original.shape[:2])
    assert psnr(back[region], original[region]) > 40
    side = json.loads((restored / "astronaut.json").read_text())
    assert side["pasted"][0]["crop"].endswith("astronaut_face0.png")


def test_paste_back_of_edited_smaller_crop_with_separate_transforms(photos, tmp_path):
    aligned = tmp_path / "aligned"
    _invoke(str(photos / "astronaut.jpg"), "-o", str(aligned), "--size", "256", "--format", "png")
    edited = tmp_path / "edited"
    edited.mkdir()
    crop = np.asarray(Image.open(aligned / "astronaut_face0.png")).copy()
    crop[96:160, 96:160] = (0, 255, 0)  # paint a green square in the middle of the face
    Image.fromarray(crop).resize((128, 128), Image.NEAREST).save(edited / "astronaut_face0.png")
    (edited / "astronaut_face0.json").write_text('{"model": "some other tool"}')
    out = tmp_path / "out"
    res = _invoke(str(photos / "astronaut.jpg"), "-o", str(out), "--paste-back", str(edited))
    assert res.exit_code == 1  # that folder's JSON holds no transform: a clear per-item error
    res = _invoke(
        str(photos / "astronaut.jpg"),
        "-o",
        str(out),
        "--format",
        "png",
        "--paste-back",
        str(edited),
        "--transforms",
        str(aligned),
    )
    assert res.exit_code == 0, res.output
    back = np.asarray(Image.open(out / "astronaut.png")).astype(int)
    meta = json.loads((aligned / "astronaut_face0.json").read_text())
    centre = np.array(meta["transform"]["crop_to_photo"]) @ [127.5, 127.5, 1.0]
    cx, cy = np.rint(centre[:2]).astype(int)
    assert (back[cy, cx] == [0, 255, 0]).all() or np.abs(back[cy, cx] - [0, 255, 0]).max() < 10
    # Far from the face nothing changed (beyond JPEG -> PNG decoding).
    assert np.array_equal(back[480:, :40], np.asarray(astronaut())[480:, :40])


def test_rerun_skips_finished_photos(photos, tmp_path):
    out = tmp_path / "aligned"
    _invoke(str(photos / "astronaut.jpg"), "-o", str(out), "--size", "64")
    stamp = (out / "astronaut_face0.jpg").stat().st_mtime_ns
    res = _invoke(
        str(photos / "astronaut.jpg"),
        "-o",
        str(out),
        "--size",
        "64",
        "--summary-json",
        str(tmp_path / "s.json"),
    )
    assert res.exit_code == 0
    assert json.loads((tmp_path / "s.json").read_text())["counts"]["skipped"] == 1
    assert (out / "astronaut_face0.jpg").stat().st_mtime_ns == stamp


def test_align_needs_an_output_folder(photos):
    res = _invoke(str(photos / "astronaut.jpg"))
    assert res.exit_code == 2 and "-o DIR" in res.output


def _align_and_paste(photos, tmp_path, size: int, edit=None, *extra: str):
    aligned = tmp_path / f"aligned{size}"
    args = [str(photos / "astronaut.jpg"), "-o", str(aligned), "--size", str(size), "--format", "png"]
    assert _invoke(*args).exit_code == 0
    if edit is not None:
        crop = np.asarray(Image.open(aligned / "astronaut_face0.png"))
        Image.fromarray(edit(crop)).save(aligned / "astronaut_face0.png")
    restored = tmp_path / f"restored{size}"
    res = _invoke(
        str(photos / "astronaut.jpg"),
        "-o",
        str(restored),
        "--format",
        "png",
        "--paste-back",
        str(aligned),
        *extra,
    )
    assert res.exit_code == 0, res.output
    meta = json.loads((aligned / "astronaut_face0.json").read_text())
    return np.asarray(Image.open(restored / "astronaut.png")), meta


@pytest.mark.parametrize("size", [256, 1024])
def test_paste_back_of_an_unmodified_crop_changes_no_pixel(photos, tmp_path, size):
    back, _ = _align_and_paste(photos, tmp_path, size)
    original = np.asarray(astronaut())
    assert psnr(back, original) >= 45.0  # acceptance floor; the unchanged crop in fact changes nothing
    assert np.array_equal(back, original)


def test_paste_back_of_an_edited_crop_touches_only_the_face_and_has_no_seam(photos, tmp_path):
    def brighten(crop):  # an "edit" of the whole crop, square edges included
        return np.clip(crop.astype(int) + 30, 0, 255).astype(np.uint8)

    back, meta = _align_and_paste(photos, tmp_path, 256, brighten)
    original = np.asarray(astronaut()).astype(int)
    landmarks = np.array(meta["face"]["landmarks"])
    face = face_region_mask(landmarks, original.shape[:2])
    delta = back.astype(int) - original
    assert delta[face].mean() > 20  # the face came back brighter
    # The crop square's outline in the photo (where the old hard-edged paste left a seam) is untouched.
    import cv2

    matrix = np.array(meta["transform"]["crop_to_photo"])
    edge = np.zeros((256, 256), np.float32)
    edge[:4], edge[-4:], edge[:, :4], edge[:, -4:] = 1, 1, 1, 1
    outline = cv2.warpAffine(edge, matrix[:2], original.shape[1::-1]) > 0
    assert outline.any() and not delta[outline].any()
    far = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 5) > 60
    assert not delta[far].any()


def test_paste_back_warns_when_the_crop_is_much_smaller_than_the_face(photos, tmp_path):
    aligned = tmp_path / "small"
    assert (
        _invoke(
            str(photos / "astronaut.jpg"), "-o", str(aligned), "--size", "64", "--format", "png"
        ).exit_code
        == 0
    )
    crop = np.asarray(Image.open(aligned / "astronaut_face0.png"))
    Image.fromarray(255 - crop).save(aligned / "astronaut_face0.png")
    from facefill.cli.align import align

    group.add_command(align, "align")
    res = CliRunner().invoke(
        group,
        ["align", str(photos / "astronaut.jpg"), "-o", str(tmp_path / "out"), "--paste-back", str(aligned)],
        obj={},
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.output.splitlines() if "coarser than the face" in line]
    assert len(warnings) == 1 and "--size" in warnings[0]


def test_face_all_is_one_item_with_several_outputs_listed_in_its_sidecar(photos, tmp_path):
    out = tmp_path / "aligned"
    args = [str(photos / "two.png"), "-o", str(out), "--size", "64", "--face", "all"]
    assert _invoke(*args).exit_code == 0
    side = json.loads((out / "two_face0.json").read_text())
    listed = {name: Path(path).name for name, path in side["outputs"].items()}
    assert listed == {"output": "two_face0.png", "face1": "two_face1.png", "face1_json": "two_face1.json"}
    # A photo is done only when all its outputs exist: losing face 1 redoes the photo.
    (out / "two_face1.png").unlink()
    summary = tmp_path / "s.json"
    assert _invoke(*args, "--summary-json", str(summary)).exit_code == 0
    assert json.loads(summary.read_text())["counts"]["done"] == 1
    assert (out / "two_face1.png").exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
