"""Random hole-mask generators: pure functions of a numpy Generator, returning bool H×W (True = hole).

Every generator draws only from the `rng` it is given, so a run seeded with
`np.random.default_rng(seed)` is reproducible bit for bit. Parameters follow specs/inpaint.md §5:
`brush_strokes` is the DeepFillv2 free-form stroke generator (§5.1), `deepfill_bbox` its box hole
(§5.2), `deepfill_mask` their union (the DeepFillv2 training distribution), `box_mask` a single
rectangle, and `irregular_mask` an augmented sample from a set of existing masks (NVIDIA-style).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from facefill.errors import MaskError
from facefill.masks.stats import RatioBin, in_ratio_bin

MaskSampler = Callable[[np.random.Generator], np.ndarray]


# ------------------------------------------------------------------------ DeepFillv2 brush strokes


@dataclass(frozen=True)
class BrushParams:
    """DeepFillv2 free-form parameters (defaults = the published generator)."""

    min_strokes: int = 1
    max_strokes: int = 3  # inclusive
    min_segments: int = 4
    max_segments: int = 11  # inclusive; a stroke has segments + 1 vertices
    mean_angle: float = 2 * math.pi / 5
    angle_range: float = 2 * math.pi / 15
    min_width: int = 12
    max_width: int = 40  # width = int(U(min, max)), so at most max - 1


@dataclass(frozen=True)
class Stroke:
    """One brush stroke: a polyline of integer vertices (x, y) drawn with a round brush."""

    points: tuple[tuple[int, int], ...]
    width: int


def sample_strokes(
    rng: np.random.Generator, height: int, width: int, params: BrushParams = BrushParams()
) -> list[Stroke]:
    """Draw the random stroke geometry (separate from rendering so it can be checked on its own)."""
    mean_step = math.hypot(height, width) / 8
    strokes = []
    for _ in range(int(rng.integers(params.min_strokes, params.max_strokes + 1))):
        segments = int(rng.integers(params.min_segments, params.max_segments + 1))
        low = params.mean_angle - rng.uniform(0, params.angle_range)
        high = params.mean_angle + rng.uniform(0, params.angle_range)
        # Alternate the turning direction: even steps mirror the angle, so strokes zig-zag.
        angles = [rng.uniform(low, high) for _ in range(segments)]
        angles = [2 * math.pi - a if i % 2 == 0 else a for i, a in enumerate(angles)]
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        points = [(x, y)]
        for angle in angles:
            step = float(np.clip(rng.normal(mean_step, mean_step / 2), 0, 2 * mean_step))
            x = int(np.clip(x + step * math.cos(angle), 0, width))
            y = int(np.clip(y + step * math.sin(angle), 0, height))
            points.append((x, y))
        brush = int(rng.uniform(params.min_width, params.max_width))
        strokes.append(Stroke(points=tuple(points), width=brush))
    return strokes


def render_strokes(strokes: Sequence[Stroke], height: int, width: int) -> np.ndarray:
    """Rasterise strokes: a thick polyline plus a filled disc (diameter = brush) at each vertex."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for stroke in strokes:
        draw.line(list(stroke.points), fill=255, width=stroke.width)
        half = stroke.width // 2
        for x, y in stroke.points:
            draw.ellipse((x - half, y - half, x + half, y + half), fill=255)
    return np.asarray(canvas) > 0


def brush_strokes(
    rng: np.random.Generator, height: int, width: int, params: BrushParams = BrushParams()
) -> np.ndarray:
    """DeepFillv2 free-form mask (specs/inpaint.md §5.1). No flip: the original's flip is a no-op."""
    return render_strokes(sample_strokes(rng, height, width, params), height, width)


# --------------------------------------------------------------------------- DeepFillv2 bbox hole


def deepfill_bbox(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """DeepFillv2 box hole (§5.2): a half-size box (128 at 256) shrunk by up to 1/16 side per edge pair.

    At 256×256 this is exactly the original: box 128×128 with its top-left in [0, 128), each axis
    shrunk by an integer in [0, 16] on both ends (hole sides 96..128).
    """
    box_h, box_w = max(1, height // 2), max(1, width // 2)
    top = int(rng.integers(0, max(1, height - box_h)))
    left = int(rng.integers(0, max(1, width - box_w)))
    shrink_h = int(rng.integers(0, box_h // 8 + 1))  # max_delta = box/4, shrink in [0, max_delta / 2]
    shrink_w = int(rng.integers(0, box_w // 8 + 1))
    holes = np.zeros((height, width), bool)
    holes[top + shrink_h : top + box_h - shrink_h, left + shrink_w : left + box_w - shrink_w] = True
    return holes


def deepfill_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """The DeepFillv2 training mask: box hole OR brush strokes (box drawn first)."""
    box = deepfill_bbox(rng, height, width)
    return box | brush_strokes(rng, height, width)


# --------------------------------------------------------------------------------------- box hole


def box_mask(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    size_range: tuple[tuple[int, int], tuple[int, int]],
    position: str = "random",
) -> np.ndarray:
    """One rectangle fully inside the canvas.

    size_range = ((min_h, max_h), (min_w, max_w)) in pixels, inclusive; each side is drawn
    independently (equal bounds give the fixed square of the seed-(c) protocol). position "random"
    puts the top-left uniformly among all fitting places, "center" centres it.
    """
    (min_h, max_h), (min_w, max_w) = size_range
    box_h = int(rng.integers(min_h, max_h + 1))
    box_w = int(rng.integers(min_w, max_w + 1))
    if not (1 <= box_h <= height and 1 <= box_w <= width):
        raise MaskError(f"box {box_w}x{box_h} does not fit a {width}x{height} mask: use a smaller --box-size")
    if position == "center":
        top, left = (height - box_h) // 2, (width - box_w) // 2
    elif position == "random":
        top, left = int(rng.integers(0, height - box_h + 1)), int(rng.integers(0, width - box_w + 1))
    else:
        raise ValueError(f"unknown box position {position!r}")
    holes = np.zeros((height, width), bool)
    holes[top : top + box_h, left : left + box_w] = True
    return holes


# ------------------------------------------------------------------------------- irregular masks


def irregular_mask(
    rng: np.random.Generator,
    source: np.ndarray,
    height: int,
    width: int,
    *,
    min_crop: float = 0.6,
) -> np.ndarray:
    """Augment one existing mask: random quarter-turn rotation and flips, a random crop, resize.

    The crop keeps the target aspect ratio and covers `min_crop`..1 of the largest such window, so
    holes are rescaled by at most 1/min_crop. Rotations are quarter turns (with the flips, the 8
    symmetries of the square), which keep hard binary edges intact.
    """
    from facefill.masks.ops import resize_nearest

    holes = np.asarray(source, dtype=bool)
    holes = np.rot90(holes, int(rng.integers(0, 4)))
    if rng.random() < 0.5:
        holes = holes[:, ::-1]
    if rng.random() < 0.5:
        holes = holes[::-1]
    src_h, src_w = holes.shape
    full_h = min(src_h, src_w * height / width)  # largest window with the target aspect ratio
    scale = rng.uniform(min_crop, 1.0)
    crop_h = max(1, min(src_h, int(round(full_h * scale))))
    crop_w = max(1, min(src_w, int(round(full_h * scale * width / height))))
    top = int(rng.integers(0, src_h - crop_h + 1))
    left = int(rng.integers(0, src_w - crop_w + 1))
    return resize_nearest(
        np.ascontiguousarray(holes[top : top + crop_h, left : left + crop_w]), (height, width)
    )


# ------------------------------------------------------------------------------ ratio rejection


def sample_in_ratio_bin(
    sampler: MaskSampler,
    rng: np.random.Generator,
    ratio_bin: RatioBin | None,
    *,
    max_tries: int = 1000,
    description: str = "masks",
) -> np.ndarray:
    """Draw masks until one falls in `ratio_bin` (bounded: a clear MaskError after `max_tries`)."""
    for _ in range(max_tries if ratio_bin is not None else 1):
        mask = sampler(rng)
        if ratio_bin is None or in_ratio_bin(mask, ratio_bin):
            return mask
    raise MaskError(
        f"no {description} with a hole ratio in {ratio_bin} after {max_tries} tries: "
        "widen --ratio-bin or use another --kind"
    )
