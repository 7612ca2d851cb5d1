"""Download, cache, mirrors, retries, locking and offline behaviour of facefill.weights.

Everything runs against a loopback server (tests/_hubserver.py); no test touches the network.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from facefill.errors import WeightsError
from facefill.runtime.context import RunContext
from facefill.weights import resolve
from facefill.weights.cache import cached_path, staging_dir
from facefill.weights.registry import entry
from facefill.weights.verify import sha256_file, trusted_sha256
from hub_server import COMMIT_A, entry_dict, resolve_in_child, sha

pytest_plugins = ["_hubserver"]  # fixtures: hub, wenv

DATA = os.urandom(20_000)
CTX = RunContext(progress=False)  # online (the wenv fixture clears the offline env vars)
HUB = {"hf": "org/repo", "filename": "model.pt", "revision": COMMIT_A}


def _hub_entry(wenv, data=DATA, **extra):
    path = wenv.server.add_hub_file("org/repo", "model.pt", data)
    wenv.registry([entry_dict("m", DATA, sources=[HUB], **extra)])
    return path


def test_first_download_from_hub_lands_verified_in_cache(wenv):
    hub_path = _hub_entry(wenv)
    got = resolve("m", CTX)
    assert got == cached_path(entry("m"))
    assert got.read_bytes() == DATA
    assert sha256_file(got) == sha(DATA)
    assert wenv.server.count(hub_path, "GET") == 1
    assert not staging_dir(entry("m")).exists()  # partial-download folder cleaned up


def test_cache_hit_does_not_contact_server(wenv):
    _hub_entry(wenv)
    first = resolve("m", CTX)
    before = wenv.server.count()
    assert resolve("m", CTX) == first
    assert wenv.server.count() == before


def test_offline_hit_uses_cache(wenv):
    _hub_entry(wenv)
    first = resolve("m", CTX)
    before = wenv.server.count()
    assert resolve("m", CTX.with_(offline=True)) == first
    assert wenv.server.count() == before


def test_offline_miss_fails_fast_and_names_the_download_command(wenv, monkeypatch):
    _hub_entry(wenv)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a context with offline=None follows the environment
    t0 = time.perf_counter()
    with pytest.raises(WeightsError, match=r"facefill weights download m"):
        resolve("m", CTX)
    assert time.perf_counter() - t0 < 1.0
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(WeightsError, match=r"facefill weights import m PATH"):
        resolve("m", CTX.with_(offline=True))  # and an explicit offline context without any env var
    assert wenv.server.count() == 0


def test_sha_mismatch_removes_file_and_explains_manual_placement(wenv):
    _hub_entry(wenv, data=b"not the pinned bytes" * 100)
    with pytest.raises(WeightsError) as err:
        resolve("m", CTX)
    msg = str(err.value)
    assert "facefill weights import m PATH" in msg and "sha256" in msg
    assert not cached_path(entry("m")).exists()
    assert not any(staging_dir(entry("m")).rglob("model.pt"))


def test_truncated_url_transfer_is_refused_then_retried(wenv):
    url = wenv.server.add_url("/files/m.pt", DATA)
    wenv.server.fail("/files/m.pt", "truncate")
    wenv.registry([entry_dict("m", DATA, sources=[{"url": url}])])
    got = resolve("m", CTX)
    assert got.read_bytes() == DATA
    assert wenv.server.count("/files/m.pt", "GET") == 2


def test_always_truncated_transfer_gives_up_after_bounded_retries(wenv):
    url = wenv.server.add_url("/files/m.pt", DATA)
    wenv.server.sticky["/files/m.pt"] = "truncate"
    wenv.registry([entry_dict("m", DATA, sources=[{"url": url}])])
    with pytest.raises(WeightsError, match="could not download weights m"):
        resolve("m", CTX)
    from facefill.weights import download

    assert wenv.server.count("/files/m.pt", "GET") == download.URL_ATTEMPTS
    assert not cached_path(entry("m")).exists()


def test_hub_404_falls_through_to_url_mirror(wenv):
    mirror = wenv.server.add_url("/mirror/m.pt", DATA)  # nothing on the "hub" path -> 404
    wenv.registry([entry_dict("m", DATA, sources=[HUB, {"url": mirror}])])
    assert resolve("m", CTX).read_bytes() == DATA
    assert wenv.server.count(f"/org/repo/resolve/{COMMIT_A}/model.pt") >= 1
    assert wenv.server.count("/mirror/m.pt", "GET") == 1


def test_url_500_is_retried_then_falls_through_to_mirror(wenv):
    bad = wenv.server.add_url("/a/m.pt", DATA)
    wenv.server.sticky["/a/m.pt"] = "500"
    good = wenv.server.add_url("/b/m.pt", DATA)
    wenv.registry([entry_dict("m", DATA, sources=[{"url": bad}, {"url": good}])])
    from facefill.weights import download

    assert resolve("m", CTX).read_bytes() == DATA
    assert wenv.server.count("/a/m.pt", "GET") == download.URL_ATTEMPTS
    assert wenv.server.count("/b/m.pt", "GET") == 1


def test_hub_500_falls_through_to_mirror(wenv, monkeypatch):
    import huggingface_hub.utils._http as hf_http

    monkeypatch.setattr(hf_http.time, "sleep", lambda s: None)  # the Hub client's own backoff
    hub_path = _hub_entry(wenv)
    wenv.server.sticky[hub_path] = "500"
    mirror = wenv.server.add_url("/mirror/m.pt", DATA)
    wenv.registry([entry_dict("m", DATA, sources=[HUB, {"url": mirror}])])
    assert resolve("m", CTX).read_bytes() == DATA
    assert wenv.server.count(hub_path, "GET") == 0
    assert wenv.server.count("/mirror/m.pt", "GET") == 1


def test_two_processes_downloading_at_once_yield_one_valid_file(wenv):
    hub_path = _hub_entry(wenv)
    wenv.server.slow_s = 0.15  # keep the first download in flight while the second starts
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=resolve_in_child, args=("m", CTX, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    final = cached_path(entry("m"))
    assert outcomes == [(str(final), sha(DATA))] * 2
    assert final.read_bytes() == DATA
    assert wenv.server.count(hub_path, "GET") == 1  # the second process waited and reused it


def test_trust_on_first_use_records_hash_and_require_hash_refuses(wenv, caplog):
    url = wenv.server.add_url(["/tofu/state.pt", "dl=1"][0], DATA)
    wenv.registry([entry_dict("t", DATA, sources=[{"url": url + "?dl=1"}], tofu=True)])
    assert trusted_sha256("t") is None
    with caplog.at_level("WARNING", logger="facefill.weights"):
        got = resolve("t", CTX)
    assert trusted_sha256("t") == sha(DATA)
    assert sha(DATA) in caplog.text  # the hash seen is printed
    with pytest.raises(WeightsError, match="--require-hash"):
        resolve("t", CTX.with_(require_hash=True))
    # a later different file no longer matches the recorded hash
    got.write_bytes(b"tampered")
    os.utime(got, ns=(1, 1))
    wenv.server.files["/tofu/state.pt"] = b"tampered"
    with pytest.raises(WeightsError, match="recorded on first use"):
        resolve("t", CTX)


def test_entry_without_source_says_where_to_get_it(wenv):
    manual = "download x.pth from Google Drive id 123"
    wenv.registry([entry_dict("manual-only", None, sources=[], tofu=True, manual=manual)])
    with pytest.raises(WeightsError) as err:
        resolve("manual-only", CTX)
    assert "Google Drive id 123" in str(err.value)
    assert "facefill weights import manual-only PATH" in str(err.value)
    assert wenv.server.count() == 0


def test_truncated_hub_transfer_is_resumed_and_verified(wenv, monkeypatch):
    import huggingface_hub.file_download as hf_download

    monkeypatch.setattr(hf_download.time, "sleep", lambda s: None)  # the Hub client's resume pause
    hub_path = _hub_entry(wenv)
    wenv.server.fail(hub_path, "truncate")
    assert resolve("m", CTX).read_bytes() == DATA
    assert wenv.server.count(hub_path, "GET") == 2


def test_progress_bars_hidden_when_stderr_is_not_a_terminal(monkeypatch):
    import io

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert RunContext().show_progress() is False
    assert RunContext(progress=True).show_progress() is True
    assert RunContext(progress=False).show_progress() is False
