"""Hole-ratio statistics and sanity warnings for masks.

Ratio bins follow the NVIDIA irregular-mask convention: a bin "lo-hi" (percent) holds ratios r with
lo < r <= hi, except that the first bin also holds 0. Comparisons use exact integer arithmetic on
pixel counts, so a mask never falls into two bins because of float rounding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from facefill.masks.ops import binary, hole_ratio

# Above this hole ratio the mask is more likely inverted than intended.
SUSPICIOUS_HOLE_RATIO = 0.9


def mask_warnings(mask: np.ndarray, path: str | os.PathLike[str]) -> list[str]:
    """Warnings a pipeline should print for this mask (empty, or so large it is probably inverted)."""
    ratio = hole_ratio(mask)
    if ratio == 0.0:
        return [f"mask {path} is empty: output equals input"]
    if ratio > SUSPICIOUS_HOLE_RATIO:
        return [f"mask {path} covers {ratio * 100:.0f}% of the image: is it inverted? use --invert-mask"]
    return []


@dataclass(frozen=True)
class RatioBin:
    """Hole-ratio interval in percent: low < ratio <= high (0 included when low == 0)."""

    low: Fraction
    high: Fraction

    def contains(self, holes: int, total: int) -> bool:
        """Exact test for a mask with `holes` hole pixels out of `total`."""
        percent = Fraction(holes * 100, total)
        return (self.low < percent or (self.low == 0 and holes == 0)) and percent <= self.high

    def __str__(self) -> str:
        return f"{float(self.low):g}-{float(self.high):g}%"


def parse_ratio_bin(text: str) -> RatioBin:
    """Parse "10-20" (percent) into a RatioBin; raises ValueError with a readable reason."""
    parts = text.replace("%", "").split("-")
    if len(parts) != 2:
        raise ValueError(f"expected LOW-HIGH in percent (e.g. 10-20), got {text!r}")
    try:
        low, high = (Fraction(part.strip()) for part in parts)
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"expected numbers in percent (e.g. 10-20), got {text!r}") from exc
    if not 0 <= low < high <= 100:
        raise ValueError(f"need 0 <= LOW < HIGH <= 100, got {text!r}")
    return RatioBin(low, high)


def in_ratio_bin(mask: np.ndarray, ratio_bin: RatioBin) -> bool:
    holes = binary(mask)
    return ratio_bin.contains(int(np.count_nonzero(holes)), holes.size)


def histogram_bin(holes: int, total: int, bins: int = 10) -> int:
    """Index of the (lo, hi] bin of width 100/bins percent holding this hole count (0 -> bin 0)."""
    upper = -(-holes * bins // total)  # ceil(holes * bins / total), exact
    return max(upper, 1) - 1


def ratio_histogram(counts: list[tuple[int, int]], bins: int = 10) -> list[int]:
    """Histogram of (hole pixels, total pixels) pairs over `bins` equal percent bins."""
    histogram = [0] * bins
    for holes, total in counts:
        histogram[histogram_bin(holes, total, bins)] += 1
    return histogram


def hole_count(mask: np.ndarray) -> tuple[int, int]:
    """(hole pixels, total pixels) — the exact form used by bins and histograms."""
    holes = binary(mask)
    return int(np.count_nonzero(holes)), holes.size
