"""`facefill synthesize-discrete` end to end on this CPU with stand-in checkpoints (--weights)."""

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
    from facefill.cli.discrete import synthesize_discrete

    group.add_command(synthesize_discrete, "synthesize-discrete")  # before and after COMMANDS has it
    return CliRunner().invoke(group, ["--quiet", "synthesize-discrete", *args], obj={}, env=env)


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    """A random SD-GAN-shaped 256 px generator checkpoint ({'g_ema', 'd'}) and a direction file."""
    from facefill.models.stylegan2 import Generator

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    generator = root / "network-snapshot-020180.pt"
    torch.save({"g_ema": Generator(size=256).state_dict(), "d": {}}, generator)
    direction = root / "glasses.npy"
    np.save(direction, np.random.default_rng(0).standard_normal((1, 512)).astype(np.float32))
    return generator, direction


@pytest.fixture()
def photos(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    face = astronaut()
    Image.fromarray(face[20:421, 33:490]).save(src / "odd.png")  # 457 x 401: any size comes back
    Image.fromarray(face).convert("L").save(src / "gray.jpg", quality=95)
    Image.fromarray(np.full((90, 70, 3), 128, np.uint8)).save(src / "blank.png")
    return src


@pytest.mark.slow
def test_photos_come_back_edited_with_their_size_and_outputs(standins, photos, tmp_path):
    generator, direction = standins
    out = tmp_path / "out"
    result = _invoke(
        str(photos),
        "--attribute",
        "glasses",
        "--direction",
        str(direction),
        "--no-offset",
        "--refine-steps",
        "0",
        "--save-intermediates",
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--weights",
        f"sdgan-stylegan2-256={generator}",
        "-o",
        str(out),
    )
    assert result.exit_code == 1, result.output  # the blank photo has no face: reported, others done
    for name, size, mode in (("odd.png", (457, 401), "RGB"), ("gray.jpg", (512, 512), "L")):
        with Image.open(out / name) as img:
            assert img.size == size and img.mode == mode
        stem = name.rsplit(".", 1)[0]
        with Image.open(out / f"{stem}_aligned.png") as img:
            assert img.size == (256, 256)
        with Image.open(out / f"{stem}_strip.png") as img:
            assert img.size == (5 * 256, 256)
        from safetensors.torch import load_file

        latents = load_file(str(out / f"{stem}_latent.safetensors"))
        assert latents["codes"].shape == (1, 14, 512) and latents["offset"].abs().max() == 0
        unit = torch.from_numpy(np.load(direction))[0]
        unit = unit / unit.norm()
        torch.testing.assert_close(latents["edited_codes"] - latents["codes"], unit.expand(1, 14, 512))
        sidecar = json.loads((out / f"{stem}.json").read_text())
        assert sidecar["stack"] == "sdgan" and sidecar["attribute"] == "glasses"
        assert set(sidecar["outputs"]) >= {"output", "aligned", "latent", "strip"}
    # only the accessory region of the face changed: far corners are the input's own pixels
    before = np.asarray(Image.open(photos / "odd.png"))
    after = np.asarray(Image.open(out / "odd.png"))
    assert np.array_equal(before[:40, :40], after[:40, :40]) and np.array_equal(
        before[-40:, -40:], after[-40:, -40:]
    )
    assert (np.abs(before.astype(int) - after.astype(int)).max(axis=2) > 8).mean() > 0.002
    assert not (out / "blank.png").exists()


def test_offline_without_weights_names_the_files_and_how_to_get_them(photos, tmp_path):
    env = {
        "FACEFILL_HOME": str(tmp_path / "home"),
        "HF_HUB_OFFLINE": "1",
        "FACEFILL_WEIGHTS_DIR": str(tmp_path / "none"),
    }
    result = _invoke(
        str(photos / "odd.png"), "--attribute", "sunglasses", "-o", str(tmp_path / "o"), "--offline", env=env
    )
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    message = next(line for line in lines if "network-snapshot-020180.pt" in line)
    for needed in (
        "sdgan-fusion-sunglasses",
        "checkpoint030.pth",
        "sdgan-direction-sunglasses",
        "Google Drive",
        "weights import",
    ):
        assert needed in message, needed


def test_derive_direction_from_latent_and_score_files(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.standard_normal(512)
    truth /= np.linalg.norm(truth)
    latents = rng.standard_normal((12000, 512)).astype(np.float32)
    np.save(tmp_path / "w.npy", latents)
    np.save(tmp_path / "s.npy", latents @ truth)
    out = tmp_path / "dir.safetensors"
    result = _invoke(
        "derive-direction",
        "--attribute",
        "mask",
        "--latents",
        str(tmp_path / "w.npy"),
        "--scores",
        str(tmp_path / "s.npy"),
        "--ratio",
        "0.3",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    from facefill.pipelines.discrete.directions import read_direction

    direction = read_direction(out)
    assert direction.shape == (1, 512) and float(direction[0].double() @ torch.from_numpy(truth)) > 0.95


def test_no_offset_is_refused_where_there_is_no_offset_network(photos, tmp_path):
    result = _invoke(
        str(photos / "odd.png"), "--attribute", "glasses", "--stack", "ffhq", "--no-offset",
        "-o", str(tmp_path / "o"),
    )
    assert result.exit_code == 2
    assert "--no-offset" in result.output and "sdgan" in result.output
    assert not (tmp_path / "o").exists()
