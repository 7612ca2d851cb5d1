"""Mask generators and ratio statistics, checked against the spec (§5) and independent re-simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facefill.errors import MaskError
from facefill.masks.generate import (
    BrushParams,
    box_mask,
    brush_strokes,
    deepfill_bbox,
    deepfill_mask,
    irregular_mask,
    render_strokes,
    sample_in_ratio_bin,
    sample_strokes,
)
from facefill.masks.stats import histogram_bin, in_ratio_bin, parse_ratio_bin, ratio_histogram


def _capsules(points: np.ndarray, widths: list[float], height: int, width: int) -> np.ndarray:
    """Independent rasteriser: pixels whose centre is within brush/2 of any stroke segment."""
    covered = np.zeros((height, width), bool)
    for stroke, brush in zip(points, widths, strict=True):
        stroke = np.asarray(stroke, float)
        radius = brush / 2
        for start, end in zip(stroke[:-1], stroke[1:], strict=True):
            # Only pixels in the segment's bounding box (grown by the radius) can be covered.
            x0, y0 = (np.floor(np.minimum(start, end) - radius)).astype(int).clip(0)
            x1, y1 = np.ceil(np.maximum(start, end) + radius).astype(int) + 1
            ys, xs = np.mgrid[y0 : min(y1, height), x0 : min(x1, width)]
            pixels = np.stack([xs + 0.5, ys + 0.5], axis=-1)
            direction = end - start
            length2 = float(direction @ direction)
            t = np.zeros(xs.shape) if length2 == 0 else np.clip((pixels - start) @ direction / length2, 0, 1)
            nearest = start + t[..., None] * direction
            covered[y0 : min(y1, height), x0 : min(x1, width)] |= (
                np.sum((pixels - nearest) ** 2, -1) <= radius**2
            )
    return covered


def _resimulated_ratio(rng: np.random.Generator, height: int, width: int) -> float:
    """§5.1 written out again from the spec text, with its own draws and the capsule rasteriser."""
    r = math.sqrt(height**2 + width**2) / 8
    strokes, widths = [], []
    for _ in range(rng.integers(1, 4)):
        n = rng.integers(4, 12)
        spread_low, spread_high = rng.uniform(0, 2 * math.pi / 15, size=2)
        angles = rng.uniform(2 * math.pi / 5 - spread_low, 2 * math.pi / 5 + spread_high, size=n)
        angles[::2] = 2 * math.pi - angles[::2]
        point = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        path = [point]
        for angle in angles:
            step = np.clip(rng.normal(r, r / 2), 0, 2 * r)
            point = np.clip(point + step * np.array([math.cos(angle), math.sin(angle)]), 0, [width, height])
            path.append(point)
        strokes.append(np.array(path))
        widths.append(rng.uniform(12, 40))
    return float(_capsules(strokes, widths, height, width).mean())


# ------------------------------------------------------------------------------------ brush strokes


def test_generators_are_reproducible_and_seed_dependent() -> None:
    source = np.random.default_rng(5).random((40, 40)) > 0.7
    makers = [
        lambda rng: brush_strokes(rng, 64, 48),
        lambda rng: deepfill_mask(rng, 64, 64),
        lambda rng: box_mask(rng, 30, 40, size_range=((5, 20), (5, 20))),
        lambda rng: irregular_mask(rng, source, 32, 32),
    ]
    for make in makers:
        first = [make(np.random.default_rng(7)) for _ in range(1)] + [make(np.random.default_rng(8))]
        again = make(np.random.default_rng(7))
        assert first[0].dtype == np.bool_
        assert np.array_equal(first[0], again)
        assert not np.array_equal(first[0], first[1])


def test_stroke_geometry_follows_the_spec() -> None:
    rng = np.random.default_rng(0)
    height, width = 200, 300
    mean_step = math.hypot(height, width) / 8
    counts, segments, widths = set(), set(), []
    for _ in range(300):
        strokes = sample_strokes(rng, height, width)
        counts.add(len(strokes))
        for stroke in strokes:
            segments.add(len(stroke.points) - 1)
            widths.append(stroke.width)
            pts = np.array(stroke.points)
            assert (pts[:, 0] >= 0).all() and (pts[:, 0] <= width).all()
            assert (pts[:, 1] >= 0).all() and (pts[:, 1] <= height).all()
            steps = np.hypot(*np.diff(pts, axis=0).T)
            assert (steps <= 2 * mean_step + 2).all()  # clipped normal, plus integer truncation
    assert counts == {1, 2, 3}
    assert segments == set(range(4, 12))
    assert min(widths) >= 12 and max(widths) <= 39
    assert abs(np.mean(widths) - 25.5) < 1.0  # int(U(12, 40)) has mean 25.5


def test_zigzag_turns_alternate_direction() -> None:
    # Unclipped strokes in the middle of a huge canvas: headings alternate below/above the x axis.
    rng = np.random.default_rng(3)
    params = BrushParams(min_width=2, max_width=3)
    for _ in range(50):
        for stroke in sample_strokes(rng, 100000, 100000, params):
            pts = np.array(stroke.points, float)
            dy = np.diff(pts[:, 1])
            moving = np.abs(dy) > 2000
            signs = np.sign(dy[moving])
            expected = np.where(np.arange(len(dy)) % 2 == 0, -1.0, 1.0)[moving]  # sin(2π - a) < 0
            assert np.array_equal(signs, expected)


def test_rendering_matches_an_independent_capsule_rasteriser() -> None:
    rng = np.random.default_rng(11)
    for _ in range(10):
        strokes = sample_strokes(rng, 128, 128)
        drawn = render_strokes(strokes, 128, 128)
        # PIL's integer coordinate x names the pixel whose centre is at x + 0.5.
        centres = [np.array(s.points) + 0.5 for s in strokes]
        reference = _capsules(centres, [s.width for s in strokes], 128, 128)
        union = np.logical_or(drawn, reference).sum()
        assert np.logical_and(drawn, reference).sum() / union > 0.93


def test_mean_hole_ratio_agrees_with_a_resimulation_of_the_spec() -> None:
    count, size = 150, 256
    ours = np.array([brush_strokes(np.random.default_rng(1000 + i), size, size).mean() for i in range(count)])
    check_rng = np.random.default_rng(424242)
    theirs = np.array([_resimulated_ratio(check_rng, size, size) for _ in range(count)])
    standard_error = math.sqrt(ours.var() / count + theirs.var() / count)
    assert abs(ours.mean() - theirs.mean()) < 4 * standard_error + 0.01
    assert ours.min() > 0 and ours.max() < 0.7


# ---------------------------------------------------------------------------------------- boxes


def test_deepfill_bbox_sizes_and_positions_at_256() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        holes = deepfill_bbox(rng, 256, 256)
        rows, cols = np.nonzero(holes.any(axis=1))[0], np.nonzero(holes.any(axis=0))[0]
        assert 96 <= len(rows) <= 128 and 96 <= len(cols) <= 128
        assert holes.sum() == len(rows) * len(cols)  # one solid rectangle
        assert rows[0] <= 127 + 16 and cols[0] <= 127 + 16 and rows[-1] <= 255


def test_deepfill_union_contains_its_box() -> None:
    box = deepfill_bbox(np.random.default_rng(9), 256, 256)
    union = deepfill_mask(np.random.default_rng(9), 256, 256)
    assert (union | box).sum() == union.sum() and union.sum() > box.sum()


def test_box_mask_bounds_and_centre() -> None:
    rng = np.random.default_rng(4)
    tops, lefts = set(), set()
    for _ in range(400):
        holes = box_mask(rng, 12, 20, size_range=((3, 5), (4, 8)))
        rows, cols = np.nonzero(holes.any(axis=1))[0], np.nonzero(holes.any(axis=0))[0]
        assert 3 <= len(rows) <= 5 and 4 <= len(cols) <= 8 and holes.sum() == len(rows) * len(cols)
        tops.add((rows[0], len(rows)))
        lefts.add((cols[0], len(cols)))
    assert {(0, 3), (12 - 3, 3), (12 - 5, 5)} <= tops and {(0, 8), (20 - 8, 8)} <= lefts
    centred = box_mask(rng, 10, 10, size_range=((4, 4), (6, 6)), position="center")
    assert np.array_equal(np.argwhere(centred).min(axis=0), [3, 2])
    with pytest.raises(MaskError, match="does not fit"):
        box_mask(rng, 10, 10, size_range=((11, 11), (2, 2)))


# -------------------------------------------------------------------------------------- irregular


def test_irregular_without_crop_is_one_of_the_eight_symmetries() -> None:
    source = np.random.default_rng(6).random((16, 16)) > 0.6
    symmetries = []
    for turns in range(4):
        turned = np.rot90(source, turns)
        symmetries += [turned, turned[:, ::-1], turned[::-1], turned[::-1, ::-1]]
    rng = np.random.default_rng(0)
    for _ in range(30):
        out = irregular_mask(rng, source, 16, 16, min_crop=1.0)
        assert any(np.array_equal(out, s) for s in symmetries)


def test_irregular_crop_keeps_target_shape_and_half_plane_structure() -> None:
    source = np.zeros((40, 40), bool)
    source[:, :20] = True  # a half-plane survives rotation, flip, crop and resize as a half-plane
    rng = np.random.default_rng(1)
    for _ in range(30):
        out = irregular_mask(rng, source, 24, 32)
        assert out.shape == (24, 32)
        rows_constant = (out == out[:, :1]).all()
        cols_constant = (out == out[:1, :]).all()
        assert rows_constant or cols_constant


# ---------------------------------------------------------------------------------- ratio bins


def test_ratio_bins_are_exact_and_upper_inclusive() -> None:
    ten_to_twenty = parse_ratio_bin("10-20")
    assert not ten_to_twenty.contains(10, 100) and ten_to_twenty.contains(11, 100)
    assert ten_to_twenty.contains(20, 100) and not ten_to_twenty.contains(21, 100)
    assert parse_ratio_bin("0-10").contains(0, 100)
    assert [histogram_bin(h, 100) for h in (0, 1, 10, 11, 100)] == [0, 0, 0, 1, 9]
    assert ratio_histogram([(0, 4), (1, 4), (2, 4), (4, 4)]) == [1, 0, 1, 0, 1, 0, 0, 0, 0, 1]
    for bad in ("20-10", "a-b", "5", "0-101"):
        with pytest.raises(ValueError):
            parse_ratio_bin(bad)


def test_rejection_sampling_respects_the_bin_and_gives_up_clearly() -> None:
    rng = np.random.default_rng(0)
    wanted = parse_ratio_bin("20-30")
    for _ in range(20):
        mask = sample_in_ratio_bin(lambda r: brush_strokes(r, 64, 64), rng, wanted)
        assert 0.2 < mask.mean() <= 0.3 and in_ratio_bin(mask, wanted)
    calls = []

    def quarter(r: np.random.Generator) -> np.ndarray:
        calls.append(1)
        return box_mask(r, 8, 8, size_range=((4, 4), (4, 4)))

    with pytest.raises(MaskError, match=r"50-60%.*--ratio-bin"):
        sample_in_ratio_bin(quarter, rng, parse_ratio_bin("50-60"), max_tries=25)
    assert len(calls) == 25
