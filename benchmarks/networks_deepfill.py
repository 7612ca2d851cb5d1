"""DeepFillv2 generator: parameter counts of both flavours and CPU time per image (random weights).

    python benchmarks/networks_deepfill.py [--sizes 256 512] [--threads 1] [--repeats 3]

Prints one line per (flavour, size): median wall and CPU ms/image over `repeats` timed runs after one warm-up,
batch 1, float32, a centred square hole covering 25 % of the image.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from facefill.models.deepfillv2 import build_generator

SPEC_PARAMS = 4_052_478


def time_forward(model: torch.nn.Module, size: int, repeats: int) -> tuple[float, float]:
    """Median (wall ms, CPU ms) per image; CPU time is the honest number on a shared machine."""
    image = torch.rand(1, 3, size, size) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    x = torch.cat([image * (1 - mask), torch.ones_like(mask), mask], dim=1)
    wall, cpu = [], []
    with torch.inference_mode():
        model(x, mask)  # warm-up
        for _ in range(repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            model(x, mask)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
    return statistics.median(wall) * 1000.0, statistics.median(cpu) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flavours", nargs="+", default=["pt", "tf"], choices=["pt", "tf"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, spec params {SPEC_PARAMS:,}")
    for flavour in args.flavours:
        model = build_generator(flavour).eval()
        params = sum(p.numel() for p in model.parameters())
        verdict = "matches" if params == SPEC_PARAMS else "DIFFERS from"
        print(f"{flavour}: {params:,} parameters ({verdict} spec)")
        for size in args.sizes:
            wall_ms, cpu_ms = time_forward(model, size, args.repeats)
            print(f"{flavour} {size}x{size}: {wall_ms:.0f} ms/image wall, {cpu_ms:.0f} ms CPU")


if __name__ == "__main__":
    main()
