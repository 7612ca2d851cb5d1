"""`load_pretrained`: one weights name -> the registered architecture, safe-loaded and strict.

Checkpoints are tiny stand-ins written here (a 64 px StyleGAN2 generator, a narrow facefill-lite
export), handed over like `--weights NAME=PATH` or served by the loopback Hub server.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
import torch

from facefill.errors import WeightsError
from facefill.models.registry import build
from facefill.pipelines.pretrained import build_random, first_loadable, load_pretrained
from facefill.runtime.context import RunContext
from hub_server import COMMIT_A, entry_dict

pytest_plugins = ["_hubserver"]  # fixtures: hub, wenv

SRC = Path(__file__).resolve().parent.parent / "src" / "facefill"
OFFLINE = RunContext(device="cpu", offline=True, progress=False)


def _tiny_generator_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return build("stylegan2-generator", size=64, n_mlp=2).state_dict()


def _rosinality_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save({"g_ema": state, "latent_avg": torch.zeros(512)}, buffer)
    return buffer.getvalue()


def test_override_file_is_built_as_the_entrys_architecture(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    state = _tiny_generator_state(seed=0)
    assert build_random("stylegan2-ffhq-1024-ema", size=64, n_mlp=2).state_dict().keys() == state.keys()
    path = tmp_path / "g.pt"
    path.write_bytes(_rosinality_bytes(state))
    context = OFFLINE.with_(weights={"stylegan2-ffhq-1024-ema": str(path)})
    generator = load_pretrained("stylegan2-ffhq-1024-ema", context, size=64, n_mlp=2)
    assert type(generator).__name__ == "Generator" and not generator.training
    loaded = generator.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)  # g_ema taken by the entry's key map


def test_wrong_architecture_config_lists_the_key_problems(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    path = tmp_path / "g.pt"
    path.write_bytes(_rosinality_bytes(_tiny_generator_state(seed=0)))
    context = OFFLINE.with_(weights={"stylegan2-ffhq-1024-ema": str(path)})
    with pytest.raises(WeightsError, match=r"does not fit Generator: .*(missing|unexpected|shape)"):
        load_pretrained("stylegan2-ffhq-1024-ema", context, size=128, n_mlp=2)  # 128 px has more layers


def test_download_through_the_hub_then_offline_from_the_cache(wenv):
    state = _tiny_generator_state(seed=1)
    data = _rosinality_bytes(state)
    wenv.server.add_hub_file("org/tiny", "g.pt", data)
    source = {"hf": "org/tiny", "filename": "g.pt", "revision": COMMIT_A}
    wenv.registry([entry_dict(
        "tiny-g", data, sources=[source], architecture="stylegan2-generator",
        config={"size": 64, "n_mlp": 2}, keymap={"take": "g_ema"},
    )])
    first = load_pretrained("tiny-g", wenv.ctx.with_(device="cpu"))  # size from the entry's config
    assert wenv.server.count("/org/tiny/resolve/" + COMMIT_A + "/g.pt", "GET") == 1
    before = wenv.server.count()
    again = load_pretrained("tiny-g", wenv.ctx.with_(device="cpu", offline=True))
    assert wenv.server.count() == before  # the verified cached copy, no request
    for key, value in state.items():
        assert torch.equal(first.state_dict()[key], value) and torch.equal(again.state_dict()[key], value)


def test_missing_weights_offline_is_one_line_naming_file_and_fix(wenv):
    wenv.registry([
        entry_dict("hubbed", b"x" * 10, sources=[{"url": wenv.server.base + "/h.pt"}],
                   architecture="stylegan2-generator"),
        entry_dict("byhand", None, sources=[], tofu=True, manual="from Google Drive id 7",
                   architecture="stylegan2-generator"),
    ])
    with pytest.raises(WeightsError) as offline:
        load_pretrained("hubbed", wenv.ctx.with_(offline=True))
    with pytest.raises(WeightsError) as manual:
        load_pretrained("byhand", wenv.ctx)
    for err, name in ((offline, "hubbed"), (manual, "byhand")):
        message = str(err.value)
        assert "\n" not in message and f"facefill weights import {name} PATH" in message
    assert "facefill weights download hubbed" in str(offline.value) and "hubbed.bin" in str(offline.value)
    assert "Google Drive id 7" in str(manual.value)
    assert wenv.server.count() == 0


def test_exported_facefill_lite_config_comes_from_the_file(tmp_path, monkeypatch):
    from facefill.models.facefill_lite import FacefillLite
    from facefill.training.export import export_generator

    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    torch.manual_seed(2)
    net = FacefillLite(widths=(8, 16, 16), dilations=(1, 2))
    path = export_generator(net, tmp_path / "lite.safetensors")
    model = load_pretrained("facefill-lite", OFFLINE.with_(weights={"facefill-lite": str(path)}))
    assert model.widths == (8, 16, 16) and model.dilations == (1, 2)  # not the registry defaults
    x, m = torch.rand(1, 3, 32, 32), (torch.rand(1, 1, 32, 32) > 0.5).float()
    assert torch.equal(model(x, m), net.eval()(x, m))
    with pytest.raises(WeightsError, match="holds a 'facefill-lite' network"):
        load_pretrained("resnet18-imagenet", OFFLINE.with_(weights={"resnet18-imagenet": str(path)}))


def test_non_module_entries_point_to_the_raw_loaders():
    with pytest.raises(WeightsError, match="load_checkpoint"):
        load_pretrained("e4e-direction-age", OFFLINE)
    with pytest.raises(WeightsError, match="load_state_dict"):
        build_random("lpips-vgg-lin")


def test_first_loadable_prefers_the_override_and_never_hides_its_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    context = OFFLINE.with_(weights={"deepfillv2-places2-tf": str(bad)})
    with pytest.raises(WeightsError, match="bad.pth"):
        first_loadable(("deepfillv2-places2", "deepfillv2-places2-tf"), context, "hint")
    with pytest.raises(WeightsError, match="states_pt_places2.pth"):  # neither available: the first's error
        first_loadable(("deepfillv2-places2", "deepfillv2-places2-tf"), OFFLINE, "hint")


# ---- layering rules -------------------------------------------------------------------------------


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_models_import_nothing_above_them():
    allowed = ("facefill.models", "facefill.errors")
    offenders = [
        (path.name, name)
        for path in sorted((SRC / "models").glob("*.py"))
        for name in _imports(path)
        if name.startswith("facefill") and not name.startswith(allowed)
    ]
    assert len(list((SRC / "models").glob("*.py"))) > 10  # the scan looked at the real package
    assert offenders == []


def _torch_load_calls(path: Path) -> list[int]:
    """Lines calling torch.load / torch.jit.load / torch.serialization.load (docstrings do not count)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load":
            owner = ast.unparse(node.func.value)
            if owner in ("torch", "torch.jit", "torch.serialization", "jit"):
                lines.append(node.lineno)
    return lines


def test_only_the_safe_loader_calls_torch_load():
    found = {
        str(path.relative_to(SRC)): lines
        for path in sorted(SRC.rglob("*.py"))
        if (lines := _torch_load_calls(path))
    }
    assert set(found) == {"weights/safe_load.py"}, found  # and the scan does see the one real caller
