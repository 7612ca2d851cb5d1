"""The generic runner with a fake processor: resume, per-item errors, OOM back-off, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from facefill.errors import ImageReadError
from facefill.io.files import atomic_target, is_temp_name, sweep_stale_temps, temp_path_for
from facefill.jobs.plan import PlanRequest, build_plan
from facefill.jobs.runner import RunOptions, run_job
from facefill.jobs.summary import ItemResult, Summary


class UpperProcessor:
    """Reads text, upper-cases it, writes it; 'bad' content fails to load, 'boom' fails to process."""

    description = "upper"

    def __init__(self, oom_above: int | None = None) -> None:
        self.oom_above = oom_above
        self.batch_sizes: list[int] = []
        self.lock = threading.Lock()

    def run_info(self) -> dict:
        return {"model": "upper"}

    def load(self, item):
        text = item.source.read_text()
        if text == "bad":
            raise ImageReadError(f"image {item.source} is corrupt: re-export it")
        return text

    def process(self, batch):
        self.batch_sizes.append(len(batch))
        if self.oom_above is not None and len(batch) > self.oom_above:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if any(text == "boom" for _, text in batch):
            raise ImageReadError("boom item")
        return [text.upper() for _, text in batch]

    def save(self, item, loaded, result, target: Path) -> dict:
        target.write_text(result)
        return {"length": len(result)}


def make_inputs(root: Path, contents: dict[str, str]) -> list:
    (root / "in").mkdir()
    for name, text in contents.items():
        (root / "in" / name).write_text(text)
    (root / "m.png").write_text("mask")
    req = PlanRequest(inputs=(str(root / "in"),), output=str(root / "out"), mask=str(root / "m.png"))
    return build_plan(req)


def test_runs_all_items_and_writes_sidecars(tmp_path: Path) -> None:
    items = make_inputs(tmp_path, {f"i{n}.png": f"t{n}" for n in range(7)})
    summary = run_job(items, UpperProcessor(), RunOptions(workers=3, batch_size=2, command="facefill test"))
    assert summary.counts == {"done": 7, "skipped": 0, "failed": 0, "total": 7}
    for n in range(7):
        assert (tmp_path / "out" / f"i{n}.png").read_text() == f"T{n}"
        side = json.loads((tmp_path / "out" / f"i{n}.json").read_text())
        assert (
            side["input_sha256"] == hashlib.sha256((tmp_path / "in" / f"i{n}.png").read_bytes()).hexdigest()
        )
        assert side["mask_sha256"] == hashlib.sha256((tmp_path / "m.png").read_bytes()).hexdigest()
        assert side["model"] == "upper" and side["length"] == 2
        assert set(side["timings_ms"]) == {"decode", "compute", "encode"}
        assert side["output"] == str(tmp_path / "out" / f"i{n}.png")
    assert not [p for p in (tmp_path / "out").iterdir() if is_temp_name(p.name)]


def test_bad_items_fail_alone_and_exit_code_is_1(tmp_path: Path) -> None:
    items = make_inputs(tmp_path, {"a.png": "ok", "b.png": "bad", "c.png": "boom", "d.png": "fine"})
    proc = UpperProcessor()
    summary = run_job(items, proc, RunOptions(batch_size=4))
    status = {r.name: (r.status, r.reason) for r in summary.results}
    assert status["a.png"][0] == status["d.png"][0] == "done"
    assert status["b.png"][0] == "failed" and "b.png" in status["b.png"][1]
    assert status["c.png"] == ("failed", "boom item")
    assert summary.exit_code == 1
    assert not (tmp_path / "out" / "b.png").exists() and not (tmp_path / "out" / "c.png").exists()


def test_resume_skips_finished_items_unless_overwrite(tmp_path: Path) -> None:
    items = make_inputs(tmp_path, {"a.png": "x", "b.png": "y"})
    run_job(items, UpperProcessor(), RunOptions())
    (tmp_path / "out" / "b.json").unlink()  # as if killed between image and sidecar: not finished
    (tmp_path / "out" / "a.png").write_text("stale")
    second = run_job(items, UpperProcessor(), RunOptions())
    assert {r.name: r.status for r in second.results} == {"a.png": "skipped", "b.png": "done"}
    assert (tmp_path / "out" / "a.png").read_text() == "stale"
    third = run_job(items, UpperProcessor(), RunOptions(overwrite=True))
    assert third.counts["done"] == 2 and (tmp_path / "out" / "a.png").read_text() == "X"


def test_out_of_memory_halves_the_batch_and_keeps_the_smaller_size(tmp_path: Path) -> None:
    items = make_inputs(tmp_path, {f"i{n:02d}.png": "z" for n in range(16)})
    proc = UpperProcessor(oom_above=2)
    summary = run_job(items, proc, RunOptions(batch_size=8, workers=1))
    assert summary.counts["done"] == 16
    assert max(proc.batch_sizes[proc.batch_sizes.index(2) :]) == 2  # never grows back after shrinking
    assert proc.batch_sizes[0] == 8


def test_atomic_target_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "x.png"
    with pytest.raises(ValueError), atomic_target(final) as tmp:
        tmp.write_bytes(b"half")
        raise ValueError("encoder crashed")
    assert list(tmp_path.iterdir()) == []


def test_sweep_removes_temps_of_dead_processes_only(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    mine = temp_path_for(tmp_path / "a.png")
    stale = Path(str(mine).replace(f".{os.getpid()}-", f".{dead_pid}-"))
    assert is_temp_name(mine.name) and is_temp_name(stale.name)
    mine.write_bytes(b"1")
    stale.write_bytes(b"2")
    (tmp_path / "keep.png").write_bytes(b"3")
    assert sweep_stale_temps([tmp_path]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, "keep.png"])


def test_summary_exit_code_rules(tmp_path: Path) -> None:
    s = Summary("cmd", [ItemResult("a", "a", "o", "skipped", "no mask")])
    assert s.exit_code == 1  # nothing had a mask: surely a wrong --mask
    s.add(ItemResult("b", "b", "o", "done"))
    assert s.exit_code == 0  # unmatched images are reported, not failures
    s.add(ItemResult("c", "c", "o", "skipped", "output exists"))
    assert s.exit_code == 0
    s.add(ItemResult("d", "d", "o", "failed", "corrupt"))
    assert s.exit_code == 1
    s.write_json(tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["counts"] == {"done": 1, "skipped": 2, "failed": 1, "total": 4}
    assert [i["name"] for i in data["items"]] == ["a", "b", "c", "d"]


def test_progress_bar_only_for_an_interactive_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from facefill.jobs.progress import BarProgress, NullProgress, make_progress, progress_wanted

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress_wanted(quiet=False)  # piped
    monkeypatch.setattr(sys, "stderr", Tty())
    assert progress_wanted(quiet=False)
    assert not progress_wanted(quiet=True)
    assert isinstance(make_progress(10, enabled=False), NullProgress)
    assert isinstance(make_progress(10, enabled=True), BarProgress)
