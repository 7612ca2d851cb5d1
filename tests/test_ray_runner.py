"""The Ray runner against the local one, on a private 2-CPU Ray cluster bound to 127.0.0.1.

Same items -> byte-identical outputs and sidecars and the same summary (telea through the CLI);
a worker killed mid-run (facefill-lite) leaves no partial file and a rerun completes exactly what is
missing; an item that kills every worker is given up after bounded retries, reported once.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facefill.errors import UsageError
from facefill.io.files import is_temp_name
from facefill.jobs.plan import PlanRequest, build_plan
from facefill.jobs.runner import TEST_DELAY_ENV, RunOptions, run_job
from facefill.jobs.summary import DONE, FAILED, SKIPPED

N_IMAGES = 40
LITE = "facefill-lite"
ACTOR_TITLE = "MapBatches(ItemActor)"  # Ray titles actor processes ray::MapWorker(MapBatches(<class>))


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'facefill[ray]'")
    pytest.importorskip("ray.data", reason="Ray Data is optional: pip install 'facefill[ray]'")
    from facefill.jobs.ray_runner import start_local_ray

    start_local_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def make_folder(root: Path, n: int = N_IMAGES, broken: bool = False, unmasked: int = 0) -> None:
    """n random 24x24 PNGs with one mask each (minus `unmasked`), optionally one undecodable image."""
    rng = np.random.default_rng(0)
    (root / "in").mkdir()
    (root / "masks").mkdir()
    mask = np.zeros((24, 24), np.uint8)
    mask[6:14, 6:18] = 255
    names = [f"img{k:02d}" for k in range(n)]
    for k, name in enumerate(names):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(root / "in" / f"{name}.png")
        if k < n - unmasked:
            Image.fromarray(np.roll(mask, k % 5, axis=1)).save(root / "masks" / f"{name}.png")
    if broken:
        (root / "in" / "broken.png").write_bytes(b"not a png")
        Image.fromarray(mask).save(root / "masks" / "broken.png")


def plan(root: Path, out: str) -> list:
    req = PlanRequest(inputs=(str(root / "in"),), output=str(root / out), mask=str(root / "masks"))
    return build_plan(req)


def factory(model: str = "telea"):
    from facefill.jobs.inpaint_job import InpaintProcessor, InpaintSettings
    from facefill.runtime.context import RunContext

    # What the CLI ships to each actor: settings + the picklable run context.
    return functools.partial(InpaintProcessor, InpaintSettings(model=model), context=RunContext(device="cpu"))


def options(**kw) -> RunOptions:
    return RunOptions(workers=2, batch_size=1, command="facefill inpaint (test)", **kw)


def run_local(root: Path, out: str, model: str = "telea"):
    return run_job(plan(root, out), factory(model)(lambda m: None), options())


def run_ray(root: Path, out: str, model: str = "telea"):
    from facefill.jobs.ray_runner import run_job_ray

    return run_job_ray(plan(root, out), factory(model), options())


def outcomes(summary) -> dict[str, tuple[str, str]]:
    return {
        r.name: (r.status, r.reason.replace("out_ray", "OUT").replace("out_local", "OUT"))
        for r in summary.results
    }


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def normalised(text: str) -> str:
    return text.replace(" --ray", "").replace("out_ray", "OUT").replace("out_local", "OUT")


def sidecar_fields(path: Path) -> dict:
    record = json.loads(path.read_text())
    record["command"] = normalised(record["command"])
    return {k: v for k, v in record.items() if k not in ("timings_ms", "output")}


def assert_same_files(ours: Path, theirs: Path, images: int) -> None:
    """Byte-identical images; sidecars equal except timings and the output path."""
    png = {n: b for n, b in files(ours).items() if n.endswith(".png")}
    assert len(png) == images
    assert png == {n: b for n, b in files(theirs).items() if n.endswith(".png")}
    assert sorted(p.name for p in ours.glob("*.json")) == sorted(p.name for p in theirs.glob("*.json"))
    for sidecar in ours.glob("*.json"):
        assert sidecar_fields(sidecar) == sidecar_fields(theirs / sidecar.name)


def cli_outcomes(root: Path, out: str, *extra: str) -> tuple[int, dict, dict]:
    report = root / f"{out}.json"
    args = [
        "inpaint",
        str(root / "in"),
        "--mask",
        str(root / "masks"),
        "--model",
        "telea",
        "-o",
        str(root / out),
    ]
    result = _cli(*args, "--summary-json", str(report), *extra)
    summary = json.loads(report.read_text())
    items = {i["name"]: (i["status"], normalised(i["reason"])) for i in summary["items"]}
    return result.exit_code, summary["counts"], items


@pytest.mark.slow
def test_cli_ray_gives_the_local_outputs_summary_and_resume(ray_cluster, tmp_path: Path) -> None:
    make_folder(tmp_path, broken=True, unmasked=2)
    local = cli_outcomes(tmp_path, "out_local")
    remote = cli_outcomes(tmp_path, "out_ray", "--ray")  # the fixture's cluster: already initialised
    assert remote == local
    assert local[:2] == (1, {DONE: N_IMAGES - 2, SKIPPED: 2, FAILED: 1, "total": N_IMAGES + 1})
    assert_same_files(tmp_path / "out_ray", tmp_path / "out_local", N_IMAGES - 2)
    # Resume: a rerun skips every finished item and retries only the failed one, as locally.
    rerun = cli_outcomes(tmp_path, "out_ray", "--ray")
    assert rerun == cli_outcomes(tmp_path, "out_local")
    assert rerun[1] == {DONE: 0, SKIPPED: N_IMAGES, FAILED: 1, "total": N_IMAGES + 1}


def actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if ACTOR_TITLE in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return sorted(pids)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray workers through /proc")
def test_killed_worker_leaves_no_partial_files_and_rerun_completes_the_rest(
    ray_cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder(tmp_path)
    reference = run_local(tmp_path, "out_local", LITE)  # the shipped learned model, not only classical
    out = tmp_path / "out_ray"
    monkeypatch.setenv(TEST_DELAY_ENV, "0.15")  # forwarded to the actors: slow enough to kill mid-item
    result: dict = {}
    runner = threading.Thread(target=lambda: result.setdefault("summary", run_ray(tmp_path, "out_ray", LITE)))
    runner.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.json"))) < 5:
        time.sleep(0.01)
    victims = actor_pids()
    assert victims, "no Ray actor process found"
    os.kill(victims[0], signal.SIGKILL)
    runner.join(timeout=120)
    assert not runner.is_alive()
    monkeypatch.delenv(TEST_DELAY_ENV)

    first = result["summary"]
    assert sorted(r.name for r in first.results) == sorted(f"img{k:02d}.png" for k in range(N_IMAGES))
    assert {r.status for r in first.results} <= {DONE, FAILED}  # every item reported exactly once
    names = [f.name for f in out.iterdir()]
    assert not [n for n in names if is_temp_name(n) or ".tmp" in n]
    images = {Path(n).stem for n in names if n.endswith(".png")}
    finished = {Path(n).stem for n in names if n.endswith(".json")}
    assert finished <= images
    assert len(images - finished) <= 1  # at most the item caught between its image and its sidecar
    for stem in finished:
        assert (out / f"{stem}.png").read_bytes() == (tmp_path / "out_local" / f"{stem}.png").read_bytes()

    rerun = run_ray(tmp_path, "out_ray", LITE)
    assert rerun.counts[DONE] == N_IMAGES - len(finished)
    assert rerun.counts[SKIPPED] == len(finished)
    assert reference.counts[DONE] == N_IMAGES
    assert_same_files(out, tmp_path / "out_local", N_IMAGES)  # byte-identical to one local run


def crashing_factory(poison: str | None):
    """A torch-free processor that copies bytes and kills its own process on the item `poison`."""

    class CopyOrCrash:  # local: cloudpickle ships it by value to the workers
        description = "copy"

        def run_info(self) -> dict:
            return {"model": "copy"}

        def load(self, item):
            return item.source.read_bytes()

        def process(self, batch):
            if any(item.name == poison for item, _ in batch):
                os._exit(1)  # a segfault-like death no exception handler sees
            return [data for _, data in batch]

        def save(self, item, loaded, result, target: Path) -> dict:
            target.write_bytes(result)
            return {}

    return lambda warn: CopyOrCrash()


@pytest.mark.slow
def test_an_item_that_kills_every_worker_is_retried_a_bounded_number_of_times(
    ray_cluster, tmp_path: Path
) -> None:
    from facefill.jobs.ray_runner import run_job_ray

    make_folder(tmp_path, n=8)
    first = run_job_ray(plan(tmp_path, "out"), crashing_factory("img01.png"), options())  # 2 calls of 4
    failed = {r.name for r in first.results if r.status == FAILED}
    # Only the poisoned call is lost; items of it saved before the crash count as done.
    assert first.counts[DONE] >= 4 and first.counts[DONE] + first.counts[FAILED] == 8
    assert "img01.png" in failed and len(failed) <= 4
    assert all("rerun" in r.reason for r in first.results if r.status == FAILED)
    done_first = {r.name for r in first.results if r.status == DONE}
    assert all((tmp_path / "out" / name).exists() for name in done_first)  # "done" is never a lie
    rerun = run_job_ray(plan(tmp_path, "out"), crashing_factory(None), options())
    assert {r.name for r in rerun.results if r.status == DONE} == failed
    assert rerun.counts[SKIPPED] == 8 - len(failed)


def test_without_ray_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from facefill.jobs import ray_runner

    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(UsageError, match=r"pip install 'facefill\[ray\]'"):
        ray_runner.import_ray()


def test_actor_pool_follows_the_cluster() -> None:
    from facefill.jobs.ray_runner import actor_pool, rows_per_call

    assert actor_pool({"CPU": 16.0, "GPU": 4.0}, 1000) == (4, 1.0)  # one model per GPU
    assert actor_pool({"CPU": 2.0}, 1000) == (2, 0.0)  # CPU actors without GPUs
    assert actor_pool({"CPU": 8.0}, 3) == (3, 0.0)  # never idle actors
    assert rows_per_call(40, 2, 1) == 4
    assert rows_per_call(6, 4, 8) == 2  # small batch: every actor still gets work


class _StoppingDataset:
    """Stands in for a Ray dataset whose execution dies after some rows (retries exhausted)."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def iter_rows(self):
        yield from self.rows
        raise RuntimeError("ActorDiedError: the actor died unexpectedly\nmore detail")


def _row(index: int, setup: str = "") -> dict:
    return {
        "index": index,
        "status": DONE,
        "reason": "",
        "timings": "{}",
        "notes": '["a note"]',
        "setup": setup,
    }


def test_items_lost_with_the_cluster_are_reported_failed_once(tmp_path: Path) -> None:
    from facefill.jobs.ray_runner import _collect
    from facefill.jobs.summary import Summary

    make_folder(tmp_path, n=5)
    pending = list(enumerate(plan(tmp_path, "out")))
    summary, notes = Summary(command="x"), []
    _collect(_StoppingDataset([_row(0), _row(3)]), pending, options(), summary, notes.append, lambda n: None)
    assert notes == ["a note", "a note"]
    status = {r.name: (r.status, r.reason) for r in summary.results}
    assert len(summary.results) == 5 and status["img00.png"] == status["img03.png"] == (DONE, "")
    for name in ("img01.png", "img02.png", "img04.png"):
        assert (
            status[name][0] == FAILED and "ActorDiedError" in status[name][1] and "rerun" in status[name][1]
        )


def test_a_setup_error_in_the_actors_is_raised_once_with_its_type(tmp_path: Path) -> None:
    from facefill.errors import WeightsError
    from facefill.jobs.ray_runner import _collect
    from facefill.jobs.summary import Summary

    make_folder(tmp_path, n=2)
    setup = json.dumps(["WeightsError", "weights lama: not in the cache; run `facefill weights download`"])
    with pytest.raises(WeightsError, match="facefill weights download"):
        _collect(
            _StoppingDataset([_row(0, setup)]),
            list(enumerate(plan(tmp_path, "out"))),
            options(),
            Summary(command="x"),
            lambda m: None,
            lambda n: None,
        )


def _cli(*args: str):
    from click.testing import CliRunner

    from facefill.cli import group

    return CliRunner().invoke(group, list(args), obj={}, catch_exceptions=False)


def test_cli_ray_without_ray_installed_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_folder(tmp_path, n=1)
    monkeypatch.setitem(sys.modules, "ray", None)
    result = _cli(
        "inpaint", str(tmp_path / "in"), "--mask", str(tmp_path / "masks"), "-o", str(tmp_path / "o"), "--ray"
    )
    assert result.exit_code == 2
    assert "pip install 'facefill[ray]'" in result.output
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("*.png"))


def test_an_unexpected_setup_error_is_not_dressed_up_as_a_user_error(tmp_path: Path) -> None:
    from facefill.jobs.ray_runner import _collect
    from facefill.jobs.summary import Summary

    make_folder(tmp_path, n=1)
    setup = json.dumps(["ImportError", "cannot import name 'X'"])
    with pytest.raises(RuntimeError, match="ImportError while building the processor in a Ray actor"):
        _collect(
            _StoppingDataset([_row(0, setup)]),
            list(enumerate(plan(tmp_path, "out"))),
            options(),
            Summary(command="x"),
            lambda m: None,
            lambda n: None,
        )
