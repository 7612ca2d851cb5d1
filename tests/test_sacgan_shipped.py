"""The shipped SAC-GAN: the mission's `--exemplar` example works offline from the package alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import facefill
from facefill.cli import group

ASSET = Path(facefill.__file__).parent / "assets" / "sacgan.safetensors"
DATA = Path(__file__).parent / "data"


@pytest.fixture
def photo_and_mouth_mask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))  # an empty weights cache: package only
    photo = tmp_path / "img.png"
    Image.open(DATA / "astronaut.jpg").convert("RGB").save(photo)
    made = CliRunner().invoke(
        group, ["mask", "--kind", "region", "--region", "mouth", "--dilate", "6", str(photo),
                "-o", str(tmp_path / "masks")], obj={},
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    return photo, next((tmp_path / "masks").glob("img*.png"))


CONDITIONS = [["--exemplar", str(DATA / "grace_hopper.jpg")], ["--attribute", "mouth_open"]]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_conditioned_inpaint_defaults_to_the_shipped_sacgan_and_changes_only_the_hole(
    tmp_path: Path, photo_and_mouth_mask: tuple[Path, Path], condition: list[str]
) -> None:
    photo, mask_path = photo_and_mouth_mask
    out = tmp_path / "out.png"
    result = CliRunner().invoke(
        group, ["inpaint", str(photo), "--mask", str(mask_path), *condition, "-o", str(out)], obj={}
    )
    assert result.exit_code == 0, result.output
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["model"] == "sacgan"  # no --model: a conditioned fill picks the conditioned model
    assert side["weights_sha256"] == {"sacgan": hashlib.sha256(ASSET.read_bytes()).hexdigest()}
    source, filled = np.asarray(Image.open(photo)), np.asarray(Image.open(out))
    hole = np.asarray(Image.open(mask_path).convert("L")) > 127
    assert hole.sum() > 500  # a real mouth hole
    assert np.array_equal(filled[~hole], source[~hole])  # not one pixel outside the hole changed
    assert np.abs(filled[hole].astype(int) - source[hole]).mean() > 1  # and the hole was filled


def test_an_explicit_model_without_exemplar_support_still_refuses(
    tmp_path: Path, photo_and_mouth_mask: tuple[Path, Path]
) -> None:
    photo, mask_path = photo_and_mouth_mask
    args = ["inpaint", str(photo), "--mask", str(mask_path), "--exemplar", str(photo)]
    args += ["-o", str(tmp_path / "o")]
    result = CliRunner().invoke(group, [*args, "--model", "facefill-lite-v2"], obj={})
    assert result.exit_code == 2
    assert "--exemplar needs a model that takes an exemplar: sacgan" in result.output
    assert not (tmp_path / "o").exists()


def test_a_class_the_weights_do_not_know_is_a_usage_error_before_any_work(
    tmp_path: Path, photo_and_mouth_mask: tuple[Path, Path]
) -> None:
    photo, mask_path = photo_and_mouth_mask
    out = tmp_path / "o"
    args = ["inpaint", str(photo), "--mask", str(mask_path), "--attribute", "smile", "-o", str(out)]
    result = CliRunner().invoke(group, args, obj={})
    assert result.exit_code == 2
    from safetensors import safe_open

    with safe_open(str(ASSET), "pt") as f:  # the classes named are the ones stored with the weights
        classes = json.loads(f.metadata()["domains"])
    assert f"sacgan knows the classes {', '.join(classes)}" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()
