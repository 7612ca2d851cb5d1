"""Local files: --weights NAME=PATH, FACEFILL_WEIGHTS_DIR, import, remove, the Hugging Face cache."""

from __future__ import annotations

import os
import shutil

import click
import pytest
from click.testing import CliRunner

from facefill.cli.context import run_context
from facefill.cli.weights_options import parse_weight_overrides, weights_options
from facefill.errors import WeightsError
from facefill.weights import locate, resolve, sha256_of
from facefill.weights.cache import cached_path
from facefill.weights.manage import import_file, remove
from facefill.weights.registry import entry
from facefill.weights.verify import trusted_sha256
from hub_server import COMMIT_A, entry_dict, sha

pytest_plugins = ["_hubserver"]  # fixtures: hub, wenv

DATA = os.urandom(4096)


@click.command()
@weights_options
@click.argument("name")
@click.pass_context
def _show(ctx: click.Context, name: str, **kw) -> None:
    """A stand-in for any facefill command that loads a checkpoint."""
    click.echo(str(resolve(name, run_context(ctx, kw))))


def _registry(wenv, **extra):
    url = wenv.server.add_url("/m.bin", DATA)
    wenv.registry([entry_dict("m", DATA, sources=[{"url": url}], **extra)])


def test_weights_option_overrides_and_skips_network(wenv, tmp_path):
    _registry(wenv)
    mine = tmp_path / "my-copy.pt"
    mine.write_bytes(DATA)
    result = CliRunner().invoke(_show, ["--weights", f"m={mine}", "m"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(mine.resolve())
    assert wenv.server.count() == 0


def test_weights_option_rejects_bad_syntax_unknown_names_and_missing_files(wenv, tmp_path):
    _registry(wenv)
    runner = CliRunner()
    assert runner.invoke(_show, ["--weights", "m", "m"]).exit_code == 2
    unknown = runner.invoke(_show, ["--weights", f"zzz={tmp_path}", "m"])
    assert unknown.exit_code == 2 and "unknown weights name" in unknown.output
    missing = runner.invoke(_show, ["--weights", f"m={tmp_path / 'nope.pt'}", "m"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert parse_weight_overrides(["a=/x=y"]) == {"a": "/x=y"}


def test_offline_option_stops_download(wenv):
    _registry(wenv)
    result = CliRunner().invoke(_show, ["--offline", "m"])
    assert isinstance(result.exception, WeightsError)
    assert "facefill weights download m" in str(result.exception)
    assert wenv.server.count() == 0


def test_override_with_other_bytes_warns_but_require_hash_refuses(wenv, tmp_path, caplog):
    _registry(wenv)
    finetuned = tmp_path / "finetuned.pt"
    finetuned.write_bytes(b"my own fine-tuned weights")
    ctx = wenv.ctx.with_(weights={"m": str(finetuned.resolve())})
    with caplog.at_level("WARNING", logger="facefill.weights"):
        assert resolve("m", ctx) == finetuned.resolve()
    assert "not the registry's file" in caplog.text
    with pytest.raises(WeightsError, match="mismatch"):
        resolve("m", ctx.with_(require_hash=True))


def test_weights_dir_is_searched_by_filename_and_hash(wenv, tmp_path, monkeypatch):
    _registry(wenv)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "m.bin").write_bytes(b"a different file with the same name")
    monkeypatch.setenv("FACEFILL_WEIGHTS_DIR", str(folder))
    # wrong bytes under the right name: ignored, so the download happens
    assert resolve("m", wenv.ctx) == cached_path(entry("m"))
    assert wenv.server.count("/m.bin", "GET") == 1
    remove("m")
    (folder / "m.bin").write_bytes(DATA)
    assert resolve("m", wenv.ctx) == folder / "m.bin"
    assert wenv.server.count("/m.bin", "GET") == 1  # not downloaded again
    assert locate("m", wenv.ctx).origin == "weights-dir"


def test_import_verifies_and_copies_atomically(wenv, tmp_path):
    _registry(wenv)
    wrong = tmp_path / "wrong.pt"
    wrong.write_bytes(DATA[:-1] + b"!")
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        import_file("m", wrong)
    assert not cached_path(entry("m")).exists()
    good = tmp_path / "good.pt"
    good.write_bytes(DATA)
    final = import_file("m", good)
    assert final == cached_path(entry("m")) and final.read_bytes() == DATA
    assert good.exists()  # copied, not moved
    assert [p.name for p in final.parent.iterdir()] == [final.name]  # no temp files left
    offline = wenv.ctx.with_(offline=True)
    assert resolve("m", offline) == final and wenv.server.count() == 0
    assert sha256_of("m", offline) == sha(DATA)


def test_import_of_a_manual_entry_records_its_hash(wenv, tmp_path):
    wenv.registry([entry_dict("gdrive", None, sources=[], tofu=True, manual="Google Drive id XYZ")])
    src = tmp_path / "states.pth"
    src.write_bytes(DATA)
    import_file("gdrive", src)
    assert trusted_sha256("gdrive") == sha(DATA)
    assert resolve("gdrive", wenv.ctx).read_bytes() == DATA
    other = tmp_path / "other.pth"
    other.write_bytes(b"x" * 10)
    with pytest.raises(WeightsError, match="recorded on first use"):
        import_file("gdrive", other)


def test_remove_deletes_only_the_cache(wenv, tmp_path):
    _registry(wenv)
    path = resolve("m", wenv.ctx)
    assert remove("m") is True and not path.exists()
    assert remove("m") is False
    mine = tmp_path / "keep.pt"
    mine.write_bytes(DATA)
    assert resolve("m", wenv.ctx.with_(weights={"m": str(mine)})) == mine
    remove("m")
    assert mine.exists()


def test_hugging_face_cache_copy_is_reused_without_download(wenv, tmp_path):
    """A file already in HF_HUB_CACHE at the pinned commit counts as available (respecting HF_HOME)."""
    import huggingface_hub.constants as hf_constants

    source = {"hf": "org/repo", "filename": "w.pt", "revision": COMMIT_A}
    wenv.registry([entry_dict("h", DATA, sources=[source])])
    snap = tmp_path / "hf-cache" / "models--org--repo" / "snapshots" / COMMIT_A
    snap.mkdir(parents=True)
    (snap / "w.pt").write_bytes(DATA)
    assert str(tmp_path / "hf-cache") == hf_constants.HF_HUB_CACHE
    offline = wenv.ctx.with_(offline=True)
    assert resolve("h", offline) == snap / "w.pt"
    assert locate("h", offline).origin == "hf-cache"
    shutil.rmtree(snap)
