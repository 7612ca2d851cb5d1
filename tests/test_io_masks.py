"""Mask reading: channel choice, polarity, thresholding, size checks, EXIF, .npy, options, warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from facefill.errors import MaskError, UsageError
from facefill.io.images import read_image
from facefill.io.masks import MaskOptions, read_mask
from facefill.masks import ops
from facefill.masks.stats import mask_warnings

RNG = np.random.default_rng(99)


def _holes(height: int = 20, width: int = 30) -> np.ndarray:
    holes = np.zeros((height, width), bool)
    holes[4:12, 6:19] = True
    holes[15, 2:5] = True
    return holes


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def test_l_mask_white_is_hole_and_threshold_is_strict(tmp_path: Path) -> None:
    levels = np.array([[0, 126, 127, 128, 255]], np.uint8)
    Image.fromarray(levels).save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png")
    assert mask.dtype == np.float32 and mask.tolist() == [[0, 0, 0, 1, 1]]
    custom = read_mask(tmp_path / "m.png", options=MaskOptions(threshold=0))
    assert custom.tolist() == [[0, 1, 1, 1, 1]]


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "LA"])
def test_binary_masks_in_every_mode(tmp_path: Path, mode: str) -> None:
    holes = _holes()
    Image.fromarray(holes).convert(mode).save(tmp_path / "m.png")
    assert Image.open(tmp_path / "m.png").mode == mode
    assert np.array_equal(read_mask(tmp_path / "m.png"), holes.astype(np.float32))


def test_painted_colour_counts_as_hole(tmp_path: Path) -> None:
    holes = _holes()
    rgb = np.zeros(holes.shape + (3,), np.uint8)
    rgb[holes] = (255, 0, 0)  # red brush strokes on black
    Image.fromarray(rgb).save(tmp_path / "m.png")
    assert np.array_equal(read_mask(tmp_path / "m.png"), holes.astype(np.float32))


def test_noisy_jpeg_mask_is_thresholded(tmp_path: Path) -> None:
    holes = np.zeros((64, 64), bool)
    holes[10:40, 20:50] = True
    Image.fromarray(holes).convert("L").save(tmp_path / "m.jpg", quality=40)
    raw = np.asarray(Image.open(tmp_path / "m.jpg"))
    assert len(np.unique(raw)) > 2  # really noisy
    mask = read_mask(tmp_path / "m.jpg")
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert np.mean(mask != holes) < 0.01
    interior = ndimage.binary_erosion(holes, iterations=2)
    exterior = ~ndimage.binary_dilation(holes, iterations=2)
    assert mask[interior].all() and not mask[exterior].any()


@pytest.mark.parametrize("alpha_keep", [False, True])
def test_rgba_alpha_is_the_mask_when_rgb_is_constant(tmp_path: Path, alpha_keep: bool) -> None:
    holes = _holes()
    rgba = np.full(holes.shape + (4,), 255, np.uint8)  # RGB white everywhere (JY #327 style)
    rgba[..., 3] = np.where(holes, 0, 255)  # transparent where the hole is
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png", options=MaskOptions(alpha_keep=alpha_keep))
    expected = ~holes if alpha_keep else holes
    assert np.array_equal(mask, expected.astype(np.float32))


def test_rgba_with_painted_rgb_uses_rgb(tmp_path: Path) -> None:
    holes = _holes()
    value = np.where(holes, 255, 0).astype(np.uint8)
    Image.fromarray(np.dstack([value, value, value, value]), mode="RGBA").save(tmp_path / "m.png")
    assert np.array_equal(read_mask(tmp_path / "m.png"), holes.astype(np.float32))


def test_palette_with_transparency_as_alpha_mask(tmp_path: Path) -> None:
    holes = _holes()
    image = Image.fromarray(holes.astype(np.uint8), mode="P")
    image.putpalette([0, 0, 0, 0, 0, 0])  # both entries black: only transparency carries the mask
    image.save(tmp_path / "m.png", transparency=1)
    assert np.array_equal(read_mask(tmp_path / "m.png"), holes.astype(np.float32))


def test_sixteen_bit_mask(tmp_path: Path) -> None:
    holes = _holes()
    Image.fromarray(np.where(holes, 65535, 1000).astype(np.uint16)).save(tmp_path / "m.png")
    assert np.array_equal(read_mask(tmp_path / "m.png"), holes.astype(np.float32))


def test_invert(tmp_path: Path) -> None:
    holes = _holes()
    Image.fromarray(holes).save(tmp_path / "m.png")
    inverted = read_mask(tmp_path / "m.png", options=MaskOptions(invert=True))
    assert np.array_equal(inverted, (~holes).astype(np.float32))


def test_size_mismatch_is_an_error_unless_resizing(tmp_path: Path) -> None:
    holes = _holes(20, 30)
    Image.fromarray(holes).save(tmp_path / "m.png")
    with pytest.raises(MaskError, match=r"30x20 but its image is 60x40"):
        read_mask(tmp_path / "m.png", image_size=(40, 60))
    resized = read_mask(tmp_path / "m.png", image_size=(47, 61), options=MaskOptions(resize=True))
    reference = np.asarray(Image.fromarray(holes).convert("L").resize((61, 47), Image.Resampling.NEAREST)) > 0
    assert resized.shape == (47, 61) and np.array_equal(resized, reference.astype(np.float32))
    assert read_mask(tmp_path / "m.png", image_size=(20, 30)).shape == (20, 30)


def test_mask_drawn_on_displayed_photo_lands_on_the_right_pixels(tmp_path: Path) -> None:
    upright = np.zeros((40, 30, 3), np.uint8)
    upright[5:12, 18:26] = (255, 0, 0)
    camera_stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    camera_stored.save(tmp_path / "photo.png", exif=_exif(6))
    displayed_holes = upright[..., 0] == 255
    Image.fromarray(displayed_holes).save(tmp_path / "drawn.png")  # drawn on what the viewer shows
    # The same mask exported by a phone editor: stored rotated, with an orientation tag.
    Image.fromarray(displayed_holes).transpose(Image.Transpose.ROTATE_270).save(
        tmp_path / "tagged.png", exif=_exif(8)
    )
    photo = read_image(tmp_path / "photo.png")
    for name in ("drawn.png", "tagged.png"):
        mask = read_mask(tmp_path / name, image_size=photo.size)
        assert mask.sum() == 7 * 8
        assert (photo.rgb[mask > 0] == (255, 0, 0)).all()


@pytest.mark.parametrize(
    "array",
    [
        _holes(),
        _holes().astype(np.uint8),
        _holes().astype(np.uint8) * 255,
        _holes().astype(np.float32),
        _holes().astype(np.float64)[None],
        _holes().astype(np.int64)[..., None] * 200,
    ],
    ids=["bool", "uint8-01", "uint8-255", "float32", "float64-1hw", "int64-hw1"],
)
def test_npy_masks(tmp_path: Path, array: np.ndarray) -> None:
    np.save(tmp_path / "m.npy", array)
    assert np.array_equal(read_mask(tmp_path / "m.npy"), _holes().astype(np.float32))


def test_bad_npy_masks(tmp_path: Path) -> None:
    np.save(tmp_path / "rgb.npy", np.zeros((4, 4, 3)))
    np.save(tmp_path / "nan.npy", np.full((4, 4), np.nan))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    np.save(tmp_path / "obj.npy", np.array(["a", "b"]))
    for name in ("rgb.npy", "nan.npy", "junk.npy", "obj.npy", "missing.npy"):
        with pytest.raises(MaskError, match=name):
            read_mask(tmp_path / name)


def test_unreadable_mask_image_is_a_mask_error(tmp_path: Path) -> None:
    (tmp_path / "m.png").write_bytes(b"")
    with pytest.raises(MaskError, match="mask .*m.png is empty"):
        read_mask(tmp_path / "m.png")


def test_options_are_validated() -> None:
    with pytest.raises(UsageError):
        MaskOptions(threshold=255)
    with pytest.raises(UsageError):
        MaskOptions(dilate=-1)


def test_dilate_and_erode_options_match_distance_definition(tmp_path: Path) -> None:
    holes = RNG.random((40, 50)) > 0.97
    holes[10:25, 10:30] = True
    Image.fromarray(holes).save(tmp_path / "m.png")
    grown = read_mask(tmp_path / "m.png", options=MaskOptions(dilate=3))
    # Independent definition: every pixel within Euclidean distance 3 of a hole.
    assert np.array_equal(grown > 0, ndimage.distance_transform_edt(~holes) <= 3)
    shrunk = read_mask(tmp_path / "m.png", options=MaskOptions(erode=2))
    padded = np.pad(holes, 1, constant_values=True)  # outside the image never shrinks a hole
    assert np.array_equal(shrunk > 0, ndimage.distance_transform_edt(padded)[1:-1, 1:-1] > 2)


def test_feather_ramp_outside_hole() -> None:
    holes = np.zeros((30, 30), bool)
    holes[10:20, 10:20] = True
    weights = ops.feather(holes, 4)
    distance = ndimage.distance_transform_edt(~holes)
    assert (weights[holes] == 1).all() and (weights[distance > 4.5] == 0).all()
    ring = (distance > 0) & (distance <= 4)
    expected = 1 - distance[ring] / 5
    assert np.allclose(weights[ring], expected, atol=1e-4)
    assert np.array_equal(ops.feather(holes, 0), holes.astype(np.float32))


def test_hole_ratio_and_resize_nearest() -> None:
    holes = _holes()
    assert ops.hole_ratio(holes) == pytest.approx(holes.sum() / holes.size)
    assert ops.hole_ratio(holes.astype(np.float32) * 0.4) == 0.0
    reference = np.asarray(Image.fromarray(holes).resize((13, 7), Image.Resampling.NEAREST))
    assert np.array_equal(ops.resize_nearest(holes, (7, 13)), reference)


def test_mask_warnings_for_empty_and_full_masks() -> None:
    empty = np.zeros((10, 10), np.float32)
    assert mask_warnings(empty, "a.png") == ["mask a.png is empty: output equals input"]
    mostly = np.ones((10, 10), np.float32)
    mostly.flat[:7] = 0
    assert mask_warnings(mostly, "b.png") == [
        "mask b.png covers 93% of the image: is it inverted? use --invert-mask"
    ]
    assert "covers 100%" in mask_warnings(np.ones((4, 4)), "c.png")[0]
    assert mask_warnings(_holes(), "d.png") == []
