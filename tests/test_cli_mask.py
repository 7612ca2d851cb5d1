"""`facefill mask` end to end through the real command group (lazy registration, error handling)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facefill.cli import group


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(group, list(args), obj={})
    return result.exit_code, result.output


def _masks(folder: Path) -> list[Path]:
    return sorted(folder.glob("mask_*.png"))


def test_same_seed_gives_identical_bytes_for_1000_masks(tmp_path: Path) -> None:
    for name in ("a", "b"):
        code, out = run("mask", "--count", "1000", "--seed", "0", "-o", str(tmp_path / name))
        assert code == 0, out
    first, second = _masks(tmp_path / "a"), _masks(tmp_path / "b")
    assert [p.name for p in first] == [f"mask_{i:05d}.png" for i in range(1000)]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(first, second, strict=True))
    code, _ = run("mask", "--count", "3", "--seed", "1", "-o", str(tmp_path / "c"))
    assert code == 0 and (tmp_path / "c" / "mask_00000.png").read_bytes() != first[0].read_bytes()


def test_output_is_8bit_single_channel_white_hole_with_manifest(tmp_path: Path) -> None:
    code, out = run("mask", "--kind", "deepfill", "--count", "4", "--size", "96x64", "-o", str(tmp_path))
    assert code == 0 and "wrote 4 deepfill masks" in out
    manifest = json.loads((tmp_path / "masks.json").read_text())
    for path in _masks(tmp_path):
        image = Image.open(path)
        assert image.mode == "L" and image.size == (96, 64) and image.format == "PNG"
        values = np.asarray(image)
        assert set(np.unique(values)) <= {0, 255}
        assert manifest["hole_ratios"][path.name] == pytest.approx((values == 255).mean())
    assert manifest["kind"] == "deepfill" and manifest["seed"] == 0 and manifest["size"] == "96x64"


def test_ratio_bin_is_respected(tmp_path: Path) -> None:
    code, out = run("mask", "--count", "15", "--size", "64x64", "--ratio-bin", "30-40", "-o", str(tmp_path))
    assert code == 0, out
    ratios = [(np.asarray(Image.open(p)) == 255).mean() for p in _masks(tmp_path)]
    assert len(ratios) == 15 and all(0.3 < r <= 0.4 for r in ratios)


def test_impossible_ratio_bin_fails_with_one_line(tmp_path: Path) -> None:
    code, out = run(
        "mask",
        "--kind",
        "box",
        "--box-size",
        "0.5-0.5",
        "--ratio-bin",
        "80-90",
        "--max-tries",
        "20",
        "-o",
        str(tmp_path),
    )
    assert code == 1
    assert out.strip().count("\n") == 0 and out.startswith("error:") and "--ratio-bin" in out


def test_box_kind_sizes_and_centre(tmp_path: Path) -> None:
    code, _ = run(
        "mask",
        "--kind",
        "box",
        "--box-size",
        "10-20",
        "--size",
        "50x40",
        "--count",
        "20",
        "-o",
        str(tmp_path / "r"),
    )
    assert code == 0
    for path in _masks(tmp_path / "r"):
        holes = np.asarray(Image.open(path)) == 255
        rows, cols = np.nonzero(holes.any(axis=1))[0], np.nonzero(holes.any(axis=0))[0]
        assert 10 <= len(rows) <= 20 and 10 <= len(cols) <= 20 and holes.sum() == len(rows) * len(cols)
    code, _ = run(
        "mask",
        "--kind",
        "box",
        "--box-size",
        "0.5",
        "--box-position",
        "center",
        "--size",
        "40x20",
        "--count",
        "1",
        "-o",
        str(tmp_path / "c"),
    )
    holes = np.asarray(Image.open(tmp_path / "c" / "mask_00000.png")) == 255
    expected = np.zeros((20, 40), bool)
    expected[5:15, 10:30] = True
    assert code == 0 and np.array_equal(holes, expected)


def test_irregular_samples_from_a_folder(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(source / "keep.png")
    Image.fromarray(np.full((30, 30), 255, np.uint8)).save(source / "hole.png")
    half = np.zeros((30, 30), np.uint8)
    half[:, :15] = 255
    Image.fromarray(half).save(source / "half.png")
    (source / "notes.txt").write_text("ignored")
    code, out = run(
        "mask",
        "--kind",
        "irregular",
        "--from",
        str(source),
        "--count",
        "40",
        "--size",
        "20x16",
        "-o",
        str(tmp_path / "out"),
    )
    assert code == 0, out
    seen = set()
    for path in _masks(tmp_path / "out"):
        holes = np.asarray(Image.open(path)) == 255
        assert holes.shape == (16, 20)
        if holes.all() or not holes.any():
            seen.add(bool(holes.all()))
        else:  # the half-plane source stays a half-plane
            assert (holes == holes[:, :1]).all() or (holes == holes[:1, :]).all()
            seen.add("half")
    assert seen == {True, False, "half"}
    code, out = run("mask", "--kind", "irregular", "--count", "1", "-o", str(tmp_path / "x"))
    assert code == 2 and "--from" in out


def test_stats_histogram_and_summary(tmp_path: Path) -> None:
    for index, holes in enumerate([5, 15, 15, 95, 0]):
        values = np.zeros(100, np.uint8)
        values[:holes] = 255
        Image.fromarray(values.reshape(10, 10)).save(tmp_path / f"m{index}.png")
    code, out = run("mask", "--stats", str(tmp_path))
    assert code == 0, out
    rows = dict(re.findall(r"([\[(]\d+, \d+\]%)\D+?(\d+)", out))
    assert rows["[0, 10]%"] == "2" and rows["(10, 20]%"] == "2" and rows["(90, 100]%"] == "1"
    assert rows["(20, 30]%"] == "0"
    assert "mean 26.00%" in out and "median 15.00%" in out


def test_usage_errors(tmp_path: Path) -> None:
    assert run("mask", "--count", "2")[0] == 2  # no -o
    assert run("mask", "--kind", "nope", "-o", str(tmp_path))[0] == 2
    assert run("mask", "--size", "12by4", "-o", str(tmp_path))[0] == 2
    assert run("mask", "--ratio-bin", "50-10", "-o", str(tmp_path))[0] == 2
    code, out = run("mask", "photo.jpg", "-o", str(tmp_path))
    assert code == 2 and "PHOTOS" in out
    assert run("mask", "--count", "2", "-o", str(tmp_path))[0] == 0
    code, out = run("mask", "--count", "2", "-o", str(tmp_path))
    assert code == 2 and "--overwrite" in out
    assert run("mask", "--count", "2", "--overwrite", "-o", str(tmp_path))[0] == 0


def test_masks_go_through_the_runner_with_sidecars_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "m"
    assert run("mask", "--count", "4", "--size", "32x32", "--seed", "3", "-o", str(out))[0] == 0
    settings = json.loads((out / "mask_settings.json").read_text())
    assert settings["seed"] == 3 and settings["size"] == "32x32"
    sidecar = json.loads((out / "mask_00002.json").read_text())
    values = np.asarray(Image.open(out / "mask_00002.png"))
    assert sidecar["hole_ratio"] == pytest.approx((values == 255).mean())
    assert sidecar["input"] == str(out / "mask_settings.json") and sidecar["kind"] == "freeform"
    # an interrupted run: one mask lost; --resume remakes exactly it, byte for byte, and keeps the rest
    lost = (out / "mask_00001.png").read_bytes()
    (out / "mask_00001.png").unlink()
    kept = (out / "mask_00003.png").stat().st_mtime_ns
    code, text = run("mask", "--count", "6", "--size", "32x32", "--seed", "3", "--resume", "-o", str(out))
    assert code == 0 and "skipped 3 (3 already done)" in text, text
    assert (out / "mask_00001.png").read_bytes() == lost
    assert (out / "mask_00003.png").stat().st_mtime_ns == kept
    assert json.loads((out / "masks.json").read_text())["count"] == 6
    # mask i does not depend on how many masks are made: the first 4 of the 6 equal a 4-mask run
    fresh = tmp_path / "fresh"
    assert run("mask", "--count", "4", "--size", "32x32", "--seed", "3", "-o", str(fresh))[0] == 0
    assert all((fresh / f"mask_{i:05d}.png").read_bytes() == (out / f"mask_{i:05d}.png").read_bytes()
               for i in range(4))  # fmt: skip
    code, text = run("mask", "--count", "6", "--size", "32x32", "--seed", "4", "--resume", "-o", str(out))
    assert code == 2 and "seed" in text and "other settings" in text


def test_every_generated_kind_has_a_sampler() -> None:
    from facefill.cli.mask import KINDS
    from facefill.jobs.mask_job import SAMPLERS

    assert set(KINDS) == set(SAMPLERS) | {"region"}
