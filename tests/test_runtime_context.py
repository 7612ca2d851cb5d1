"""The run context is the only channel for run settings, and it crosses process boundaries.

A spawned worker given the context (and nothing else: no env var says offline, no global holds
the `--weights` file) must behave exactly as the parent: byte-identical output, the same override
file, the same offline refusal. The CLI builds that one context from its options.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import pickle
import shlex
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from facefill.cli import group
from facefill.cli.context import run_context
from facefill.cli.weights_options import weights_options
from facefill.errors import WeightsError
from facefill.pipelines.lite import MODEL_NAME, shipped_weights_path
from facefill.runtime.context import RunContext
from facefill.weights import resolve, sha256_of

SIZE = 64


@pytest.fixture(autouse=True)
def _no_offline_env(tmp_path, monkeypatch):
    """Offline mode may only come from the context in these tests (children inherit this env)."""
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    for var in ("HF_HUB_OFFLINE", "FACEFILL_OFFLINE", "FACEFILL_WEIGHTS_DIR", "FACEFILL_WEIGHTS_TOML"):
        monkeypatch.delenv(var, raising=False)


def synthetic_face(size: int = SIZE) -> np.ndarray:
    """A smooth skin-toned oval with darker eyes and mouth on a grey background, float32 [0,1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    face = ((x - 0.5) / 0.32) ** 2 + ((y - 0.52) / 0.42) ** 2 < 1
    image = np.full((size, size, 3), 0.45, np.float32)
    image[face] = (0.86, 0.67, 0.55)
    for cx in (0.38, 0.62):
        image[((x - cx) ** 2 + (y - 0.42) ** 2) < 0.003] = (0.15, 0.1, 0.08)
    image[(np.abs(x - 0.5) < 0.1) & (np.abs(y - 0.7) < 0.02)] = (0.6, 0.25, 0.25)
    return np.clip(image + 0.02 * np.sin(40 * x * y)[..., None], 0, 1)


def hole(size: int = SIZE) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    mask[size // 3 : size // 2 + 6, size // 4 : 3 * size // 4] = 1
    return mask


def perturbed_lite(path: Path) -> Path:
    """A re-export of the shipped facefill-lite with visibly different weights."""
    from facefill.pipelines.pretrained import load_pretrained
    from facefill.training.export import export_generator

    model = load_pretrained(MODEL_NAME, RunContext(device="cpu"))
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.head.parameters():
            param.add_(0.2 * torch.randn_like(param))
    return export_generator(model, path)


def fill_resolve_and_try_offline(context: RunContext, image: np.ndarray, mask: np.ndarray) -> tuple:
    """What a worker does with a context: inpaint, resolve an override, load a network it lacks."""
    from facefill.pipelines.inpaint import InpaintPipeline
    from facefill.pipelines.pretrained import load_pretrained

    torch.set_num_threads(1)  # same reduction order in parent and child: bit-identical floats
    out = InpaintPipeline(MODEL_NAME, context)(image, mask)
    try:
        load_pretrained("stylegan2-ffhq-1024-ema", context)
        offline = "loaded"
    except WeightsError as exc:
        offline = str(exc)
    return out.tobytes(), str(resolve(MODEL_NAME, context)), offline


def test_context_pickles_and_a_spawned_worker_behaves_exactly_like_the_parent(tmp_path):
    weights = perturbed_lite(tmp_path / "lite-perturbed.safetensors")
    context = RunContext(
        device="cpu", weights={MODEL_NAME: str(weights)}, offline=True, seed=3, progress=False
    )
    assert pickle.loads(pickle.dumps(context)) == context
    image, mask = synthetic_face(), hole()
    threads = torch.get_num_threads()
    try:
        here = fill_resolve_and_try_offline(context, image, mask)
        shipped = fill_resolve_and_try_offline(context.with_(weights=()), image, mask)
    finally:
        torch.set_num_threads(threads)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.apply(fill_resolve_and_try_offline, (context, image, mask))
    assert there[0] == here[0]  # byte-identical image
    assert there[1] == here[1] == str(weights)  # the override reached the worker
    assert here[0] != shipped[0]  # ... and really changed the output
    for offline_error in (here[2], there[2]):  # no env var says offline: only the context does
        assert "facefill is offline" in offline_error and "facefill weights download" in offline_error


def _write_inputs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    photo, mask = folder / "face.png", folder / "mask.png"
    Image.fromarray((synthetic_face() * 255 + 0.5).astype(np.uint8)).save(photo)
    Image.fromarray((hole() * 255).astype(np.uint8)).save(mask)
    return photo, mask


def test_inpaint_weights_override_is_used_and_recorded_in_the_sidecar(tmp_path):
    photo, mask = _write_inputs(tmp_path / "in")
    weights = perturbed_lite(tmp_path / "lite-perturbed.safetensors")
    outputs = {}
    for label, extra in (("shipped", []), ("override", ["--weights", f"{MODEL_NAME}={weights}"])):
        out = tmp_path / f"{label}.png"
        args = ["inpaint", str(photo), "--mask", str(mask), "-o", str(out), "--device", "cpu", "--no-align",
                "--model", MODEL_NAME, *extra]
        result = CliRunner().invoke(group, args, obj={}, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        side = json.loads(out.with_suffix(".json").read_text())
        assert side["command"] == shlex.join(["facefill", *args])  # as typed, from the CLI's context
        outputs[label] = (np.asarray(Image.open(out)), side["weights_sha256"])
    file_sha = {"shipped": shipped_weights_path(), "override": weights}
    for label, (_, recorded) in outputs.items():
        assert recorded == {MODEL_NAME: hashlib.sha256(file_sha[label].read_bytes()).hexdigest()}
    in_hole = hole() > 0.5
    assert (outputs["shipped"][0][in_hole] != outputs["override"][0][in_hole]).any()
    assert np.array_equal(outputs["shipped"][0][~in_hole], outputs["override"][0][~in_hole])


@click.command("ctxprobe")
@weights_options
@click.option("--seed", type=int, default=0)
@click.option("--device", default="auto")
@click.pass_context
def _probe(ctx: click.Context, **kw) -> None:
    """Prints the RunContext a command would pass down."""
    click.echo(json.dumps(run_context(ctx, kw).__dict__))


def test_cli_options_become_one_context(tmp_path, monkeypatch):
    monkeypatch.setitem(group.commands, "ctxprobe", _probe)
    weights = tmp_path / "mine.safetensors"
    weights.write_bytes(b"x")
    args = ["-q", "ctxprobe", "--seed", "7", "--device", "cpu", "--offline", "--require-hash",
            "--weights", f"{MODEL_NAME}={weights.name}"]
    monkeypatch.chdir(tmp_path)  # a relative --weights path is stored absolute
    result = CliRunner().invoke(group, args, obj={})
    assert result.exit_code == 0, result.output
    fields = json.loads(result.output)
    got = RunContext(**{**fields, "weights": tuple(map(tuple, fields["weights"]))})
    assert got == RunContext(
        device="cpu", weights={MODEL_NAME: str(weights)}, offline=True, require_hash=True, seed=7,
        progress=False, command=shlex.join(["facefill", *args]),
    )
    plain = CliRunner().invoke(group, ["ctxprobe"], obj={})
    assert json.loads(plain.output)["offline"] is None and json.loads(plain.output)["require_hash"] is False
    bad_options = ((f"nope={weights}", "unknown weights name"), (f"{MODEL_NAME}=missing.pt", "no such file"))
    for bad, why in bad_options:
        refused = CliRunner().invoke(group, ["ctxprobe", "--weights", bad], obj={})
        assert refused.exit_code == 2 and why in refused.output


def test_require_hash_and_offline_come_from_the_context(tmp_path):
    lite = RunContext(device="cpu")
    assert resolve(MODEL_NAME, lite.with_(require_hash=True)) == shipped_weights_path()  # packaged: trusted
    manual = tmp_path / "states_pt_celebahq.pth"
    torch.save({"G": {}}, manual)
    mine = lite.with_(weights={"deepfillv2-celebahq": str(manual)})
    with pytest.raises(WeightsError, match="--require-hash"):  # no published sha256
        resolve("deepfillv2-celebahq", mine.with_(require_hash=True))
    assert resolve("deepfillv2-celebahq", mine) == manual
    with pytest.raises(WeightsError, match="facefill is offline"):
        resolve("lama-big", lite.with_(offline=True))
    published = "344c77bbcb158f17dd143070d1e789f38a66c04202311ae3a258ef66667a9ea9"  # weights.toml / specs
    assert sha256_of("lama-big", lite.with_(offline=True)) == published  # never downloads for a sidecar
