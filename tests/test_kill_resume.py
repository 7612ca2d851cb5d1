"""Kill a batch with SIGKILL part-way: nothing half-written is left, and a rerun does exactly the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facefill.io.files import is_temp_name
from facefill.jobs.runner import TEST_DELAY_ENV

N_IMAGES = 40
KILL_AFTER = 5

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL semantics")


def make_batch(root: Path) -> None:
    rng = np.random.default_rng(0)
    (root / "in").mkdir()
    for n in range(N_IMAGES):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(
            root / "in" / f"img{n:02d}.png"
        )
    mask = np.zeros((24, 24), np.uint8)
    mask[6:14, 6:18] = 255
    Image.fromarray(mask).save(root / "m.png")


def command(root: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "facefill",
        "inpaint",
        str(root / "in"),
        "--mask",
        str(root / "m.png"),
        "-o",
        str(root / "out"),
        "--workers",
        "2",
        *extra,
    ]


def finished(out: Path) -> set[str]:
    return {p.stem for p in out.glob("*.json")}


def test_sigkill_leaves_no_partial_output_and_rerun_completes_the_rest(tmp_path: Path) -> None:
    make_batch(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, TEST_DELAY_ENV: "0.3"}
    proc = subprocess.Popen(command(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len(finished(out)) >= KILL_AFTER:
            break
        time.sleep(0.005)
    # Kill right after a write: the worker is then sleeping in the (slow) compute step.
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""

    files = list(out.iterdir())
    # A SIGKILL can land between a temporary write and its rename (the writer threads overlap the
    # compute): such a file may remain, but only under a recognisable temporary name, never a final
    # one, and at most one per writer thread; the rerun sweeps it (asserted at the end).
    leftovers = [f.name for f in files if is_temp_name(f.name) or ".tmp" in f.name]
    assert all(is_temp_name(name) for name in leftovers) and len(leftovers) <= 4, leftovers
    files = [f for f in files if f.name not in leftovers]
    images = {f.stem for f in files if f.suffix == ".png"}
    sidecars = finished(out)
    assert KILL_AFTER <= len(sidecars) < N_IMAGES  # really killed part-way
    assert sidecars <= images  # a sidecar is only written after its image
    assert len(images - sidecars) <= 1  # at most the item caught between its image and its sidecar
    for stem in images:
        with Image.open(out / f"{stem}.png") as im:
            im.load()  # decodes completely: no truncated file under a final name
        if stem in sidecars:
            side = json.loads((out / f"{stem}.json").read_text())
            assert side["output"] == str(out / f"{stem}.png")

    report = tmp_path / "summary.json"
    rerun = subprocess.run(
        command(tmp_path, "--summary-json", str(report)), capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    counts = json.loads(report.read_text())["counts"]
    assert counts["done"] == N_IMAGES - len(sidecars)
    assert counts["skipped"] == len(sidecars)
    assert finished(out) == {f"img{n:02d}" for n in range(N_IMAGES)}
    assert {f.stem for f in out.glob("*.png")} == finished(out)
    assert not [f.name for f in out.iterdir() if ".tmp" in f.name]
