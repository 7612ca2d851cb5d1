"""`facefill edit` end to end on this CPU with stand-in checkpoints given by --weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from facefill.cli import group
from faces_data import astronaut


def _invoke(*args: str, env: dict[str, str] | None = None):
    from facefill.cli.edit import edit

    group.add_command(edit, "edit")  # before and after COMMANDS has it
    return CliRunner().invoke(group, ["--quiet", "edit", *args], obj={}, env=env)


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    """A 16 px rosinality generator ({'g_ema', 'latent_avg'}); manifest-shaped classifier and BiSeNet."""
    from facefill.models.attribute_classifier import BranchedTiny
    from facefill.models.bisenet import BiSeNet
    from facefill.models.stylegan2 import Generator

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    paths = {"stylegan2-ffhq-1024": root / "g.pt", "maskfacegan-classifier": root / "c.pt",
             "bisenet-faceparse": root / "p.pt"}
    g = Generator(size=16, style_dim=64, n_mlp=2)
    torch.save({"g_ema": g.state_dict(), "latent_avg": torch.zeros(64)}, paths["stylegan2-ffhq-1024"])
    torch.save(BranchedTiny().state_dict(), paths["maskfacegan-classifier"])
    torch.save(BiSeNet().state_dict(), paths["bisenet-faceparse"])
    return [arg for name, path in paths.items() for arg in ("--weights", f"{name}={path}")]


@pytest.fixture()
def photos(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    face = astronaut()
    Image.fromarray(face[20:421, 33:490]).save(src / "odd.png")  # 457 x 401: any size comes back
    Image.fromarray(face).convert("L").save(src / "gray.jpg", quality=95)
    Image.fromarray(np.full((90, 70, 3), 128, np.uint8)).save(src / "blank.png")
    return src


FAST = ("--preset", "fast", "--steps-latent", "4", "--steps-noise", "1", "--start-classf", "2",
        "--start-seg", "2", "--dynamic-masking-iters", "1", "--loss-resolution", "0", "--lr-latent", "0.5")


@pytest.mark.slow
def test_photos_come_back_edited_with_their_size_and_outputs(standins, photos, tmp_path):
    out = tmp_path / "out"
    result = _invoke(str(photos), "--attribute", "mouth_slightly_open", "--parser", "bisenet", *FAST,
                     "--save-intermediates", "--device", "cpu", "--batch-size", "2", *standins,
                     "-o", str(out), env={"FACEFILL_HOME": str(tmp_path / "home")})
    assert result.exit_code == 1, result.output  # the blank photo has no face: reported, others done
    assert "blank.png" in result.output
    for name, size, mode in (("odd.png", (457, 401), "RGB"), ("gray.jpg", (512, 512), "L")):
        with Image.open(out / name) as img:
            assert img.size == size and img.mode == mode
        stem = name.rsplit(".", 1)[0]
        with Image.open(out / f"{stem}_aligned.png") as img:
            assert img.size == (16, 16)
        with Image.open(out / f"{stem}_strip.png") as img:
            assert img.size == (3 * 16, 16)
        with Image.open(out / f"{stem}_masks.png") as img:
            assert img.size == (3 * 16, 16)
        from safetensors.torch import load_file

        tensors = load_file(str(out / f"{stem}_latent.safetensors"))
        assert tensors["latent"].shape == (1, 6, 64) and not torch.equal(tensors["latent"],
                                                                        tensors["initial_latent"])
        sidecar = json.loads((out / f"{stem}.json").read_text())
        assert sidecar["attribute"] == ["mouth_slightly_open"] and sidecar["schedule"]["steps_latent"] == 4
        assert len(sidecar["score_before"][0]) == 1 and len(sidecar["score_after"][0]) == 1
        assert set(sidecar["weights_sha256"]) >= {"stylegan2-ffhq-1024", "bisenet-faceparse"}
        assert set(sidecar["outputs"]) >= {"output", "aligned", "latent", "masks", "strip"}
        assert sidecar["timings"]["optimise_s"] > 0
    # only the face region changed: far corners are the input's own pixels
    before = np.asarray(Image.open(photos / "odd.png"))
    after = np.asarray(Image.open(out / "odd.png"))
    assert np.array_equal(before[:40, :40], after[:40, :40])
    assert np.array_equal(before[-40:, -40:], after[-40:, -40:])
    assert (np.abs(before.astype(int) - after.astype(int)).max(axis=2) > 8).mean() > 0.002
    assert not (out / "blank.png").exists()
    assert len(list((tmp_path / "home" / "edit").glob("mean_latent-*.safetensors"))) == 1  # cached once


def test_offline_without_weights_names_the_files_and_how_to_get_them(photos, tmp_path):
    env = {"FACEFILL_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1",
           "FACEFILL_WEIGHTS_DIR": str(tmp_path / "none")}
    result = _invoke(str(photos / "odd.png"), "--attribute", "male", "-o", str(tmp_path / "o"), "--offline",
                     env=env)
    assert result.exit_code != 0
    line = next(x for x in result.output.splitlines() if "stylegan2-ffhq-1024" in x)
    for needed in ("stylegan2-ffhq-config-f.pt", "maskfacegan-e4e", "lpips-vgg-lin", "weights import",
                   "weights download"):
        assert needed in line, needed


def test_unknown_attribute_is_a_usage_error(photos, tmp_path):
    result = _invoke(str(photos / "odd.png"), "--attribute", "wings", "-o", str(tmp_path / "o"))
    assert result.exit_code == 2 and "wings" in result.output
