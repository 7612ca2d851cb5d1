"""Wall time of `facefill --help` (median of N runs). Target: < 0.3 s.

    python benchmarks/cli_startup.py [--runs 10]

Starts a fresh interpreter each run, as a user's shell does; prints each run and the median.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    exe = shutil.which("facefill")
    commands = {
        "facefill --help": [exe, "--help"] if exe else [sys.executable, "-m", "facefill", "--help"],
        "facefill inpaint --help": [exe, "inpaint", "--help"]
        if exe
        else [sys.executable, "-m", "facefill", "inpaint", "--help"],
    }
    for label, cmd in commands.items():
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        spread = f"min {min(times):.3f} s, max {max(times):.3f} s"
        print(f"{label}: median {median:.3f} s ({spread}, n={args.runs})")


if __name__ == "__main__":
    main()
