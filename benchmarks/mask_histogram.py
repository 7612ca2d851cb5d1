"""Hole-ratio histogram of facefill's DeepFillv2 mask generators (evidence they match the original).

    python benchmarks/mask_histogram.py --count 1000 --seed 0 --size 256

Prints, for the brush-stroke generator (specs/inpaint.md §5.1) and the "deepfill" union with the
box hole (§5.2): a 10-bin histogram of hole ratios, mean, std and median, plus a no-overlap upper
bound for the brush mean computed from the spec's parameter distributions alone.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from facefill.masks.generate import BrushParams, brush_strokes, deepfill_mask
from facefill.masks.stats import hole_count, ratio_histogram

DEFAULT_BRUSH = BrushParams()


def no_overlap_bound(size: int, params: BrushParams = DEFAULT_BRUSH) -> float:
    """E[area] / canvas if strokes never overlapped themselves, each other or the border.

    Per stroke: E[segments] · E[step] · E[width] (step lengths are a normal clipped symmetrically
    around its mean, so E[step] = r̄) plus one round cap, π·E[w²]/4. Widths are int(U(12, 40)).
    """
    mean_step = math.hypot(size, size) / 8
    widths = np.arange(params.min_width, params.max_width)  # int(U(a, b)) is uniform on a..b-1
    mean_w, mean_w2 = widths.mean(), (widths**2).mean()
    mean_segments = (params.min_segments + params.max_segments) / 2
    mean_strokes = (params.min_strokes + params.max_strokes) / 2
    per_stroke = mean_segments * mean_step * mean_w + math.pi * mean_w2 / 4
    return mean_strokes * per_stroke / (size * size)


def report(name: str, masks: list[np.ndarray], seconds: float) -> None:
    counts = [hole_count(m) for m in masks]
    ratios = np.array([h / t for h, t in counts]) * 100
    print(f"\n{name}: {len(masks)} masks, {seconds:.2f} s")
    for index, number in enumerate(ratio_histogram(counts, 10)):
        left = "[" if index == 0 else "("
        bar = "#" * round(50 * number / len(masks))
        print(f"  {left}{index * 10:3d}, {(index + 1) * 10:3d}]%  {number:5d}  {bar}")
    print(
        f"  mean {ratios.mean():.2f}%  std {ratios.std():.2f}%  median {np.median(ratios):.2f}%  "
        f"min {ratios.min():.2f}%  max {ratios.max():.2f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    for name, generate in (
        ("freeform (DeepFillv2 brush strokes)", brush_strokes),
        ("deepfill (strokes OR box)", deepfill_mask),
    ):
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        masks = [generate(rng, args.size, args.size) for _ in range(args.count)]
        report(name, masks, time.perf_counter() - start)
    print(f"\nno-overlap upper bound for the brush-stroke mean: {no_overlap_bound(args.size) * 100:.2f}%")


if __name__ == "__main__":
    main()
