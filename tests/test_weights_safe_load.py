"""Safe checkpoint loading: safetensors, allow-listed torch pickles, TorchScript, key maps."""

from __future__ import annotations

import argparse
import os
import pickle
from pathlib import Path

import pytest
import torch

from facefill.errors import WeightsError
from facefill.runtime.context import RunContext
from facefill.weights import KeyMap, load_checkpoint, load_state_dict
from facefill.weights.safe_load import detect_format
from hub_server import entry_dict

CTX = RunContext()  # files given by path: no registry lookup, no network

pytest_plugins = ["_hubserver"]  # fixtures: hub, wenv

torch.set_num_threads(1)


class _RunsShell:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _rosinality_like(path: Path) -> dict:
    ckpt = {
        "g_ema": {"style.1.weight": torch.randn(4, 4), "noises.noise_0": torch.randn(1, 1, 4, 4)},
        "d": {"convs.0.0.weight": torch.randn(2, 3, 1, 1)},
        "latent_avg": torch.randn(8),
        "args": argparse.Namespace(size=8, channel_multiplier=2),
    }
    torch.save(ckpt, path)
    return ckpt


def test_safetensors_roundtrip_on_cpu(tmp_path):
    from safetensors.torch import save_file

    tensors = {"a.weight": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([1, 2], dtype=torch.int64)}
    path = tmp_path / "tiny.safetensors"
    save_file(tensors, str(path))
    assert detect_format(path) == "safetensors"
    got = load_state_dict(path, CTX)
    assert set(got) == set(tensors)
    for k, v in tensors.items():
        assert torch.equal(got[k], v) and got[k].device.type == "cpu"


def test_safetensors_detected_by_content_without_suffix(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "renamed.bin"
    save_file({"x": torch.ones(3)}, str(path))
    assert detect_format(path) == "safetensors"
    assert torch.equal(load_state_dict(path, CTX)["x"], torch.ones(3))


def test_argparse_namespace_is_allowed_and_extras_survive(tmp_path):
    path = tmp_path / "stylegan.pt"
    ckpt = _rosinality_like(path)
    obj = load_checkpoint(path, CTX)
    assert obj["args"] == argparse.Namespace(size=8, channel_multiplier=2)
    assert torch.equal(obj["latent_avg"], ckpt["latent_avg"])
    sd = load_state_dict(path, CTX, keymap=KeyMap(take="g_ema"))
    assert set(sd) == set(ckpt["g_ema"])
    assert torch.equal(sd["style.1.weight"], ckpt["g_ema"]["style.1.weight"])


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_forbidden_global_is_refused_and_never_executed(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save({"state_dict": {"w": torch.ones(1)}, "x": _RunsShell(marker)}, path)
    else:  # a bare pickle (legacy format path of torch.load); no tensors so that os.system is the only global
        with open(path, "wb") as fh:
            pickle.dump({"state_dict": {"w": [1.0]}, "x": _RunsShell(marker)}, fh, protocol=2)
    with pytest.raises(WeightsError, match=r"system.*allow-list"):
        load_checkpoint(path, CTX)
    with pytest.raises(WeightsError):
        load_state_dict(path, CTX, keymap=KeyMap(take="state_dict"))
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_newer_pickle_protocols_are_refused_without_running_anything(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil4.pt"
    with open(path, "wb") as fh:
        pickle.dump({"x": _RunsShell(marker)}, fh, protocol=4)
    with pytest.raises(WeightsError, match="cannot read .* safely"):
        load_checkpoint(path, CTX)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_loads_via_jit_on_cpu(tmp_path):
    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x) * 2

    module = Tiny()
    path = tmp_path / "tiny.pt"
    torch.jit.script(module).save(str(path))
    assert detect_format(path) == "torchscript"
    loaded = load_checkpoint(path, CTX)
    x = torch.randn(4, 3)
    assert torch.allclose(loaded(x), module(x))
    sd = load_state_dict(path, CTX)
    assert torch.equal(sd["lin.weight"], module.lin.weight.detach())


def test_tensor_file_needs_load_checkpoint(tmp_path):
    path = tmp_path / "direction.pt"
    direction = torch.randn(1, 512)
    torch.save(direction, path)
    assert torch.equal(load_checkpoint(path, CTX), direction)
    with pytest.raises(WeightsError, match="load_checkpoint"):
        load_state_dict(path, CTX)


def test_garbage_and_truncated_files_give_weights_errors(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        load_checkpoint(junk, CTX)
    good = tmp_path / "good.pt"
    torch.save({"w": torch.randn(64, 64)}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WeightsError):
        load_checkpoint(cut, CTX)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(WeightsError, match="empty"):
        load_checkpoint(empty, CTX)


def test_registry_key_maps_and_views_apply(wenv, tmp_path):
    """take + select_prefix (e4e encoder/decoder), strip_prefix (DataParallel) and drop (parser)."""
    e4e = {
        "state_dict": {"encoder.a": torch.ones(1), "encoder.b": torch.zeros(2), "decoder.c": torch.ones(3)},
        "latent_avg": torch.randn(18, 512),
        "opts": {"stylegan_size": 1024},
    }
    torch.save(e4e, tmp_path / "e4e.pt")
    parser = {"model.backbone.w": torch.ones(2), "loss.weight": torch.ones(9)}
    torch.save(parser, tmp_path / "parser.pt")
    fusion = {"model": {"module.fusion.w": torch.ones(1), "module.encoder.v": torch.ones(2)}}
    torch.save(fusion, tmp_path / "fusion.pt")
    wenv.registry([
        entry_dict("e4e", None, sources=[], tofu=True, manual="by hand",
                   keymap={"take": "state_dict", "select_prefix": "encoder."},
                   views={"decoder": {"take": "state_dict", "select_prefix": "decoder."}}),
        entry_dict("parser", None, sources=[], tofu=True, manual="by hand", keymap={"drop": ["loss.weight"]}),
        entry_dict("fusion", None, sources=[], tofu=True, manual="by hand",
                   keymap={"take": "model", "strip_prefix": ["module."]}),
    ])
    ctx = RunContext(weights={name: str(tmp_path / f"{name}.pt") for name in ("e4e", "parser", "fusion")})
    enc = load_state_dict("e4e", ctx)
    assert sorted(enc) == ["a", "b"] and torch.equal(enc["b"], torch.zeros(2))
    assert sorted(load_state_dict("e4e", ctx, view="decoder")) == ["c"]
    assert torch.equal(load_checkpoint("e4e", ctx)["latent_avg"], e4e["latent_avg"])
    assert sorted(load_state_dict("parser", ctx)) == ["model.backbone.w"]
    assert sorted(load_state_dict("fusion", ctx)) == ["encoder.v", "fusion.w"]
    with pytest.raises(WeightsError, match="no view"):
        load_state_dict("e4e", ctx, view="nope")
    # a file outside the registry can borrow an entry's key map
    assert sorted(load_state_dict(tmp_path / "parser.pt", CTX, like="parser")) == ["model.backbone.w"]


def test_missing_sub_dict_names_what_is_there(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"G": {"w": torch.ones(1)}, "D": {}}, path)
    with pytest.raises(WeightsError, match=r"no 'g_ema' entry.*D, G"):
        load_state_dict(path, CTX, keymap=KeyMap(take="g_ema"))
    assert list(load_state_dict(path, CTX, keymap=KeyMap(take="G"))) == ["w"]


def test_unknown_name_or_missing_path(wenv):
    wenv.registry([entry_dict("known", None, sources=[], tofu=True, manual="by hand")])
    with pytest.raises(WeightsError, match="did you mean known|Did you mean known"):
        load_state_dict("knwon", CTX)
    with pytest.raises(WeightsError, match="not found"):
        load_state_dict("/no/such/file.pt", CTX)
