"""Throughput and peak memory of `facefill inpaint --model telea` on N generated 256x256 images.

    python benchmarks/batch_throughput.py [--sizes 500 2000] [--workers W] [--keep DIR]

Images are smooth random colour fields saved as JPEG, each with its own random rectangle/stroke
mask (PNG, 5-25 % holes), in a temporary folder. Each run is a separate `facefill` process; its
peak RSS comes from getrusage(RUSAGE_CHILDREN) in a small wrapper process, so runs do not mix.
Memory should stay flat as N grows (bounded prefetch/write queues).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 256

WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": code, "wall_s": wall, "peak_rss_kb": peak}))
"""


def make_images(folder: Path, count: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    (folder / "in").mkdir(parents=True)
    (folder / "masks").mkdir()
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    for n in range(count):
        freq = rng.uniform(1, 6, (3, 2))
        phase = rng.uniform(0, 6.28, 3)
        rgb = np.stack(
            [np.sin(freq[c, 0] * 6.28 * xx + freq[c, 1] * 6.28 * yy + phase[c]) for c in range(3)], -1
        )
        rgb = ((rgb * 0.5 + 0.5) * 255 + rng.normal(0, 4, rgb.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(folder / "in" / f"img{n:05d}.jpg", quality=90)
        mask = np.zeros((SIDE, SIDE), np.uint8)
        target = rng.uniform(0.05, 0.25) * SIDE * SIDE
        while (mask > 0).sum() < target:
            h, w = rng.integers(8, 64, 2)
            y, x = rng.integers(0, SIDE - h), rng.integers(0, SIDE - w)
            mask[y : y + h, x : x + w] = 255
        Image.fromarray(mask).save(folder / "masks" / f"img{n:05d}.png")


def run_once(folder: Path, workers: int | None) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "facefill",
        "--quiet",
        "inpaint",
        str(folder / "in"),
        "--mask",
        str(folder / "masks"),
    ]
    cmd += [
        "-o",
        str(folder / "out"),
        "--model",
        "telea",
        "--device",
        "cpu",
        "--summary-json",
        str(folder / "s.json"),
    ]
    if workers:
        cmd += ["--workers", str(workers)]
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout)
    result["counts"] = json.loads((folder / "s.json").read_text())["counts"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="generate into this folder and keep it")
    args = parser.parse_args()
    for count in args.sizes:
        with tempfile.TemporaryDirectory(prefix="facefill-bench-") as tmp:
            folder = (args.keep / f"n{count}") if args.keep else Path(tmp)
            start = time.perf_counter()
            make_images(folder, count)
            made = time.perf_counter() - start
            result = run_once(folder, args.workers)
            rate = result["counts"]["done"] / result["wall_s"]
            print(
                f"N={count}: {rate:.1f} items/s  wall {result['wall_s']:.1f} s (incl. startup)  "
                f"peak RSS {result['peak_rss_kb'] / 1024:.0f} MiB  rc={result['rc']}  "
                f"counts={result['counts']}  (generation {made:.1f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
