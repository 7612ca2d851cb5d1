"""weights.toml: the shipped registry is complete and well-formed; bad registries fail loudly."""

from __future__ import annotations

import re
import sys

import pytest

from facefill.errors import WeightsError
from facefill.weights import entries, entry
from facefill.weights.registry import FORMATS, KeyMap, clear_cache, default_registry_path
from hub_server import entry_dict

pytest_plugins = ["_hubserver"]  # fixtures: hub, wenv

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture
def shipped(monkeypatch):
    monkeypatch.delenv("FACEFILL_WEIGHTS_TOML", raising=False)
    clear_cache()
    yield entries()
    clear_cache()


def test_package_data_points_at_the_repository_registry():
    path = default_registry_path()
    assert path.is_file()
    assert "[[weights]]" in path.read_text(encoding="utf-8")


def test_every_shipped_entry_is_complete(shipped):
    raw = tomllib.loads(default_registry_path().read_text(encoding="utf-8"))["weights"]
    assert [e.name for e in shipped] == [w["name"] for w in raw]
    assert len({e.filename for e in shipped}) == len(shipped)  # cache file names never collide
    for e in shipped:
        assert e.license.strip() and e.upstream.strip() and e.architecture.strip()
        assert e.format in FORMATS
        assert e.sources or e.manual.strip(), e.name
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256) or e.trust_on_first_use or e.asset, e.name
        for src in e.sources:
            if src.kind == "hub":
                assert re.fullmatch(r"[0-9a-f]{40}", src.revision), e.name
            elif src.kind == "asset":
                assert (default_registry_path().parent / "assets" / src.asset).is_file(), e.name
            else:
                assert src.url.startswith("https://"), e.name


def test_shipped_registry_has_the_known_public_checkpoints(shipped):
    """Spot facts from the verified source list (specs/weights.md) that downloads depend on."""
    by_name = {e.name: e for e in shipped}
    assert by_name["stylegan2-ffhq-1024"].keymap == KeyMap(take="g_ema")
    assert by_name["e4e-ffhq"].keymap == KeyMap(take="state_dict", select_prefix="encoder.")
    assert by_name["maskfacegan-parser"].keymap.drop == ("loss.weight",)
    assert by_name["lama-big"].format == "torchscript"
    # "same bytes" mirrors: Hub first, then the release URL, one hash for both
    for name in ("bisenet-faceparse", "arcface-ir-se50"):
        assert [s.kind for s in by_name[name].sources] == ["hub", "url"]
    for name in ("maskfacegan-classifier", "maskfacegan-parser", "maskfacegan-e4e"):
        assert by_name[name].trust_on_first_use and not by_name[name].sha256 and by_name[name].sources
    manual = ("deepfillv2-celebahq", "deepfillv2-places2", "deepfillv2-celebahq-tf", "deepfillv2-places2-tf")
    for name in (*manual, "sacgan-arcface"):
        assert not by_name[name].sources and "Google Drive" in by_name[name].manual
        assert by_name[name].non_commercial
    directions = [e for e in shipped if e.architecture in ("interfacegan-direction", "ganspace-pca")]
    assert len(directions) == 4
    for e in directions:
        assert "/99ea50578695d2e8a1cf7259d8ee89b23eea942b/editings/" in e.sources[0].url


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "pickle"}, "format must be one of"),
        ({"sha256": "abc"}, "64 hex"),
        ({"name": "Bad Name"}, "lower-case"),
        ({"sources": [{"hf": "org/repo", "filename": "x", "revision": "main"}]}, "pinned"),
        ({"sources": [{"url": "https://x", "hf": "org/repo"}]}, "exactly one"),
        ({"sources": [], "manual": ""}, "no source"),
        ({"sha256": "", "size": 0}, "trust_on_first_use"),
        ({"keymap": {"prefix": "x"}}, "unknown key-map"),
    ],
)
def test_invalid_registry_entries_are_rejected(wenv, change, message):
    item = entry_dict("x", b"data", sources=[{"url": "https://example.invalid/x"}])
    item.update(change)
    wenv.registry([item])
    with pytest.raises(WeightsError, match=message):
        entries()


def test_duplicate_names_and_broken_toml(wenv):
    one = entry_dict("x", b"data", sources=[{"url": "https://example.invalid/x"}])
    wenv.registry([one, one])
    with pytest.raises(WeightsError, match="duplicate"):
        entries()
    path = wenv.registry([])
    path.write_text("[[weights]\nname = ", encoding="utf-8")
    with pytest.raises(WeightsError, match="not valid TOML"):
        entry("x")


def test_importing_the_weights_package_stays_light():
    import subprocess

    code = (
        "import sys, facefill.weights\n"
        "heavy = [m for m in ('torch', 'huggingface_hub', 'pooch', 'requests') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
