"""`facefill weights ...` end to end through the real CLI group (loopback server, temp cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from facefill.cli import group
from facefill.weights.cache import cached_path
from facefill.weights.registry import default_registry_path, entry
from hub_server import COMMIT_A, entry_dict, sha

pytest_plugins = ["_hubserver"]  # fixtures: hub, wenv

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib

DATA = os.urandom(3000)


def run(*args: str):
    return CliRunner().invoke(group, ["weights", *args], obj={})


@pytest.fixture
def two_entries(wenv):
    wenv.server.add_hub_file("org/repo", "a.pt", DATA)
    url = wenv.server.add_url("/t.pt", DATA[::-1])
    wenv.registry([
        entry_dict("a", DATA, sources=[{"hf": "org/repo", "filename": "a.pt", "revision": COMMIT_A}],
                   license="NVIDIA Source Code License-NC", non_commercial=True),
        entry_dict("t", None, sources=[{"url": url}], tofu=True),
    ])
    return wenv


def test_list_shows_every_registry_entry_with_licence(monkeypatch, tmp_path):
    monkeypatch.delenv("FACEFILL_WEIGHTS_TOML", raising=False)
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    raw = tomllib.loads(default_registry_path().read_text(encoding="utf-8"))["weights"]
    names = [w["name"] for w in raw]
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == names
    for r, w in zip(rows, raw, strict=True):
        assert r["license"] == w["license"] and r["license"].strip()
        assert r["non_commercial"] == w.get("non_commercial", False)
        assert w.get("sources") or "facefill weights import" in run("info", w["name"]).output
        shipped = any("asset" in src for src in w.get("sources", []))
        assert r["cached"] is shipped  # an empty cache: only files that ship in the package are there
        assert (r["origin"] == "package") is shipped
    assert any(r["origin"] == "package" for r in rows)  # facefill-lite
    table = run("list")
    assert table.exit_code == 0
    for name in names:
        assert name in table.output
    assert table.output.count("NON-COMMERCIAL") == sum(bool(w.get("non_commercial")) for w in raw)


def test_download_path_verify_remove_flow(two_entries):
    result = run("download", "a")
    assert result.exit_code == 0, result.output
    final = cached_path(entry("a"))
    assert f"a: {final} (sha256 {sha(DATA)})" in result.output
    assert run("path", "a").output.strip() == str(final)
    verify = run("verify")
    assert verify.exit_code == 0 and f"ok a: {final} sha256 {sha(DATA)}" in verify.output
    listed = {r["name"]: r for r in json.loads(run("list", "--json").output)}
    assert listed["a"]["cached"] and listed["a"]["verified"] is True and listed["t"]["cached"] is False
    assert run("remove", "a").output.strip() == "a: removed"
    assert not final.exists()
    missing = run("path", "a")
    assert missing.exit_code == 1 and "facefill weights download a" in missing.output


def test_verify_catches_a_damaged_cached_file_and_deletes_it(two_entries):
    assert run("download", "a").exit_code == 0
    final = cached_path(entry("a"))
    final.write_bytes(b"\0" * len(DATA))  # same size, different bytes
    result = run("verify", "a")
    assert result.exit_code == 1
    assert "FAILED a" in result.output and "sha256 mismatch" in result.output
    assert not final.exists()


def test_require_hash_refuses_tofu_entries_and_tofu_prints_the_hash(two_entries):
    refused = run("--require-hash", "download", "t")
    assert refused.exit_code == 1 and "--require-hash" in refused.output
    assert two_entries.server.count("/t.pt") == 0
    ok = run("download", "t")
    assert ok.exit_code == 0, ok.output
    assert sha(DATA[::-1]) in ok.output
    info = run("info", "t").output
    assert f"recorded:      {sha(DATA[::-1])}" in info
    also_refused = run("download", "--require-hash", "t")  # the option also works after the subcommand
    assert also_refused.exit_code == 1


def test_download_all_reports_manual_entries_and_offline_fails_fast(two_entries):
    two_entries.registry([
        entry_dict("a", DATA, sources=[{"hf": "org/repo", "filename": "a.pt", "revision": COMMIT_A}]),
        entry_dict("gdrive", None, sources=[], tofu=True, manual="Google Drive id 42"),
    ])
    offline = run("--offline", "download", "--all")
    assert offline.exit_code == 1 and "facefill weights download a" in offline.output
    assert two_entries.server.count() == 0
    result = run("download", "--all")
    assert result.exit_code == 0, result.output
    assert "gdrive" in result.output.splitlines()[-1]
    assert run("download").exit_code == 2


def test_import_and_info_through_cli(two_entries, tmp_path):
    src = tmp_path / "a-by-hand.pt"
    src.write_bytes(DATA)
    result = run("import", "a", str(src))
    assert result.exit_code == 0, result.output
    assert str(cached_path(entry("a"))) in result.output
    info = run("info", "a").output
    assert "NON-COMMERCIAL" in info and "(cache, verified)" in info and sha(DATA) in info
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    failed = run("import", "a", str(bad))
    assert failed.exit_code == 1 and failed.output.startswith("error: ")
    assert len(failed.output.splitlines()) == 1


def test_unknown_name_is_a_one_line_error(two_entries):
    result = run("info", "aa")
    assert result.exit_code == 1
    assert result.output.splitlines() == [result.output.strip()] and "Did you mean a" in result.output


def test_weights_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from facefill.cli import main\n"
        "try:\n    main(['weights', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules and 'huggingface_hub' not in sys.modules, 'heavy import'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "download" in proc.stdout and "verify" in proc.stdout
