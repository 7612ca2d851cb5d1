"""Image reading/writing: every input mode, EXIF orientation, alpha, 16-bit, CMYK, bad files, atomicity."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from facefill.errors import ImageReadError, OutputError
from facefill.io import files as files_module
from facefill.io.images import apply_orientation, read_image, write_image

RNG = np.random.default_rng(1234)


def _rgb(height: int = 24, width: int = 32) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _exif(orientation: int | None = None, make: str | None = None) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if make is not None:
        exif[0x010F] = make
    return exif.tobytes()


# ------------------------------------------------------------------------------------------- modes


@pytest.mark.parametrize(
    "fmt,suffix", [("PNG", ".png"), ("BMP", ".bmp"), ("TIFF", ".tif"), ("WEBP", ".webp")]
)
def test_lossless_rgb_formats_round_trip_exact_pixels(tmp_path: Path, fmt: str, suffix: str) -> None:
    pixels = _rgb()
    path = tmp_path / f"in{suffix}"
    options = {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(pixels).save(path, format=fmt, **options)
    loaded = read_image(path)
    assert loaded.format == fmt and loaded.mode == "RGB" and loaded.alpha is None
    assert loaded.rgb.dtype == np.uint8 and np.array_equal(loaded.rgb, pixels)


def test_jpeg_rgb_decodes_close_to_source(tmp_path: Path) -> None:
    pixels = np.full((32, 32, 3), (200, 40, 90), np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.jpg", quality=98)
    loaded = read_image(tmp_path / "a.jpg")
    assert loaded.format == "JPEG" and np.abs(loaded.rgb.astype(int) - pixels).max() <= 4


def test_mode_1_gives_black_and_white_rgb(tmp_path: Path) -> None:
    bits = RNG.random((10, 12)) > 0.5
    Image.fromarray(bits).save(tmp_path / "b.png")
    loaded = read_image(tmp_path / "b.png")
    assert loaded.mode == "1" and loaded.is_gray
    expected = np.where(bits, 255, 0).astype(np.uint8)
    for channel in range(3):
        assert np.array_equal(loaded.rgb[..., channel], expected)


def test_mode_l_and_la(tmp_path: Path) -> None:
    gray = RNG.integers(0, 256, (9, 11), dtype=np.uint8)
    alpha = RNG.integers(0, 256, (9, 11), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "l.png")
    Image.fromarray(np.dstack([gray, alpha]), mode="LA").save(tmp_path / "la.png")
    plain = read_image(tmp_path / "l.png")
    with_alpha = read_image(tmp_path / "la.png")
    assert plain.mode == "L" and plain.alpha is None and np.array_equal(plain.rgb[..., 1], gray)
    assert with_alpha.mode == "LA" and np.array_equal(with_alpha.alpha, alpha)
    assert np.array_equal(with_alpha.rgb, np.dstack([gray] * 3))


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    indices = RNG.integers(0, 3, (8, 10), dtype=np.uint8)
    palette = [10, 20, 30, 200, 100, 50, 0, 255, 0]
    image = Image.fromarray(indices, mode="P")
    image.putpalette(palette)
    image.save(tmp_path / "p.png")
    image.save(tmp_path / "pt.png", transparency=1)
    colours = np.array(palette, np.uint8).reshape(3, 3)
    opaque = read_image(tmp_path / "p.png")
    assert opaque.mode == "P" and opaque.alpha is None
    assert np.array_equal(opaque.rgb, colours[indices])
    transparent = read_image(tmp_path / "pt.png")
    assert np.array_equal(transparent.rgb, colours[indices])
    assert np.array_equal(transparent.alpha, np.where(indices == 1, 0, 255).astype(np.uint8))


def test_rgba_alpha_round_trip_png_and_webp(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (16, 20, 4), dtype=np.uint8)
    rgba[..., 3] = np.linspace(0, 255, 20, dtype=np.uint8)[None, :]
    rgba[rgba[..., 3] == 0, :3] = 0  # fully transparent colours are not guaranteed by every encoder
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "in.png")
    loaded = read_image(tmp_path / "in.png")
    assert np.array_equal(loaded.alpha, rgba[..., 3]) and np.array_equal(loaded.rgb, rgba[..., :3])
    write_image(tmp_path / "out.png", loaded.float_rgb(), like=loaded)
    back = Image.open(tmp_path / "out.png")
    assert back.mode == "RGBA" and np.array_equal(np.asarray(back), rgba)
    write_image(tmp_path / "out.webp", loaded.rgb, like=loaded, quality=100)
    assert np.array_equal(read_image(tmp_path / "out.webp").alpha, rgba[..., 3])


def test_jpeg_output_drops_alpha_but_keeps_colour(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 250, 128
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "in.png")
    loaded = read_image(tmp_path / "in.png")
    write_image(tmp_path / "out.jpg", loaded.rgb, like=loaded)
    out = Image.open(tmp_path / "out.jpg")
    assert out.mode == "RGB" and abs(int(np.asarray(out)[..., 0].mean()) - 250) <= 3


def test_grayscale_source_gives_grayscale_output(tmp_path: Path) -> None:
    gray = RNG.integers(0, 256, (12, 12), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    loaded = read_image(tmp_path / "g.png")
    coloured = loaded.rgb.copy()
    coloured[..., 0] = 255  # a pipeline output with a colour cast must still come out gray
    write_image(tmp_path / "o.png", coloured, like=loaded)
    out = Image.open(tmp_path / "o.png")
    assert out.mode == "L"
    expected = np.asarray(Image.fromarray(coloured).convert("L"))  # PIL's own luma as reference
    assert np.abs(np.asarray(out).astype(int) - expected).max() <= 1


def test_sixteen_bit_gray_png_and_tiff_round_trip(tmp_path: Path) -> None:
    values = RNG.integers(0, 65536, (10, 14), dtype=np.uint16)
    for name in ("g.png", "g.tif"):
        Image.fromarray(values).save(tmp_path / name)
        loaded = read_image(tmp_path / name)
        assert loaded.rgb.dtype == np.uint16 and np.array_equal(loaded.rgb[..., 2], values)
        write_image(tmp_path / f"out_{name}", loaded.rgb, like=loaded)
        back = np.asarray(Image.open(tmp_path / f"out_{name}"))
        assert back.dtype.kind == "u" and back.dtype.itemsize == 2 and np.array_equal(back, values)


@pytest.mark.parametrize("name", ["c.png", "c.tif"])
def test_sixteen_bit_colour_round_trip_keeps_uint16(tmp_path: Path, name: str) -> None:
    rgb = RNG.integers(0, 65536, (10, 14, 3), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / name), rgb[..., ::-1])
    loaded = read_image(tmp_path / name)
    assert loaded.rgb.dtype == np.uint16 and np.array_equal(loaded.rgb, rgb)
    assert np.allclose(loaded.float_rgb(), rgb / 65535.0, atol=1e-6)
    write_image(tmp_path / f"out_{name}", loaded.float_rgb(), like=loaded)
    back = cv2.imread(str(tmp_path / f"out_{name}"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back[..., ::-1], rgb)


def test_sixteen_bit_rgba_png_keeps_alpha(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 65536, (6, 7, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), rgba[..., [2, 1, 0, 3]])
    loaded = read_image(tmp_path / "a.png")
    assert np.array_equal(loaded.alpha, rgba[..., 3]) and np.array_equal(loaded.rgb, rgba[..., :3])


def test_cmyk_jpeg_loads_as_rgb(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (16, 16), (255, 0, 0, 0))  # pure cyan
    cmyk.save(tmp_path / "c.jpg", quality=100)
    loaded = read_image(tmp_path / "c.jpg")
    assert loaded.mode == "CMYK" and loaded.rgb.shape == (16, 16, 3) and loaded.icc is None
    expected = np.asarray(Image.open(tmp_path / "c.jpg").convert("RGB")).astype(int)
    assert np.abs(loaded.rgb.astype(int) - expected).max() <= 1
    assert loaded.rgb[..., 0].mean() < 30 and loaded.rgb[..., 1:].mean() > 225


def test_icc_and_exif_are_kept_and_orientation_reset(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stored = _rgb(10, 20)
    Image.fromarray(stored).save(tmp_path / "in.jpg", exif=_exif(6, "facefill-test"), icc_profile=icc)
    loaded = read_image(tmp_path / "in.jpg")
    assert loaded.rgb.shape == (20, 10, 3)  # upright
    for name in ("out.jpg", "out.png", "out.webp"):
        write_image(tmp_path / name, loaded.rgb, like=loaded)
        out = Image.open(tmp_path / name)
        assert out.info.get("icc_profile") == icc
        exif = out.getexif()
        assert exif.get(0x0112) == 1 and exif.get(0x010F) == "facefill-test"
        assert out.size == (10, 20)


def test_sixteen_bit_png_output_carries_icc_and_exif(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = RNG.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), rgb[..., ::-1])
    loaded = read_image(tmp_path / "a.png")
    loaded.icc, loaded.exif = icc, _exif(1, "cam")
    write_image(tmp_path / "b.png", loaded.rgb, like=loaded)
    out = Image.open(tmp_path / "b.png")
    out.load()
    assert out.info.get("icc_profile") == icc and out.getexif().get(0x010F) == "cam"


# ------------------------------------------------------------------------------------ orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pil_exif_transpose(tmp_path: Path, orientation: int) -> None:
    stored = _rgb(6, 10)
    path = tmp_path / "o.png"
    Image.fromarray(stored).save(path, exif=_exif(orientation))
    reference = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    loaded = read_image(path)
    assert np.array_equal(loaded.rgb, reference)
    assert np.array_equal(apply_orientation(stored, orientation), reference)


def test_rotated_phone_photo_and_displayed_mask_line_up(tmp_path: Path) -> None:
    upright = np.zeros((40, 30, 3), np.uint8)
    upright[5:12, 18:26] = (255, 0, 0)  # a red patch where the user sees it
    stored = np.asarray(Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90))  # camera storage
    Image.fromarray(stored).save(tmp_path / "photo.png", exif=_exif(6))
    loaded = read_image(tmp_path / "photo.png")
    assert loaded.rgb.shape == upright.shape
    red = (loaded.rgb[..., 0] > 200) & (loaded.rgb[..., 1] < 60)
    assert np.array_equal(red, upright[..., 0] == 255)


# ------------------------------------------------------------------------------------- bad files


def _assert_clean_error(path: Path, **kwargs: object) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageReadError) as info:
            read_image(path, **kwargs)
    assert not caught, [str(w.message) for w in caught]
    message = str(info.value)
    assert str(path) in message and "\n" not in message and ":" in message
    return message


def test_zero_byte_missing_and_folder(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    assert "empty" in _assert_clean_error(tmp_path / "empty.png")
    assert "does not exist" in _assert_clean_error(tmp_path / "missing.png")
    assert "folder" in _assert_clean_error(tmp_path)


@pytest.mark.parametrize("name", ["t.png", "t.jpg", "t.webp", "t.tif", "t.bmp"])
def test_truncated_files(tmp_path: Path, name: str) -> None:
    full = tmp_path / f"full_{name}"
    Image.fromarray(_rgb(64, 64)).save(full)
    data = full.read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    _assert_clean_error(tmp_path / name)


def test_corrupt_and_unknown_files(tmp_path: Path) -> None:
    Image.fromarray(_rgb()).save(tmp_path / "ok.png")
    data = bytearray((tmp_path / "ok.png").read_bytes())
    data[60:200] = bytes(140)  # wipe part of the compressed stream
    (tmp_path / "corrupt.png").write_bytes(bytes(data))
    (tmp_path / "text.jpg").write_bytes(b"this is not an image at all")
    assert "corrupt" in _assert_clean_error(tmp_path / "corrupt.png")
    assert "not a readable image" in _assert_clean_error(tmp_path / "text.jpg")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_guard(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(_png_header_only(30000, 30000))
    assert "--max-pixels" in _assert_clean_error(tmp_path / "bomb.png")
    Image.fromarray(_rgb(20, 20)).save(tmp_path / "small.png")
    assert "400 pixels" in _assert_clean_error(tmp_path / "small.png", max_pixels=399)
    assert read_image(tmp_path / "small.png", max_pixels=400).rgb.shape == (20, 20, 3)
    assert read_image(tmp_path / "small.png", max_pixels=0).rgb.shape == (20, 20, 3)


def test_limit_above_pils_own_is_honoured_without_touching_the_global(tmp_path: Path) -> None:
    before = Image.MAX_IMAGE_PIXELS
    (tmp_path / "bomb.png").write_bytes(_png_header_only(30000, 30000))
    # PIL alone would refuse 9e8 pixels; with a larger limit we get to decoding (which fails: no data).
    message = _assert_clean_error(tmp_path / "bomb.png", max_pixels=10**9)
    assert "--max-pixels" not in message and before == Image.MAX_IMAGE_PIXELS


# ------------------------------------------------------------------------------------------ writing


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sub" / "out.png"
    write_image(target, np.zeros((4, 4, 3), np.uint8))
    before = target.read_bytes()

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "replace", failing_replace)
    with pytest.raises(OutputError, match="out.png"):
        write_image(target, np.full((4, 4, 3), 255, np.uint8))
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.png"]


def test_format_from_extension_or_argument(tmp_path: Path) -> None:
    pixels = _rgb(8, 8)
    write_image(tmp_path / "a.jpeg", pixels, quality=90)
    write_image(tmp_path / "b.out", pixels, format="png")
    assert Image.open(tmp_path / "a.jpeg").format == "JPEG"
    assert Image.open(tmp_path / "b.out").format == "PNG"
    with pytest.raises(OutputError, match="extension"):
        write_image(tmp_path / "c.xyz", pixels)


def test_float_input_is_rounded_and_clipped(tmp_path: Path) -> None:
    values = np.array([[[-0.5, 0.0, 0.5], [1.0, 2.0, 0.25]]], np.float32)
    write_image(tmp_path / "f.png", values)
    back = np.asarray(Image.open(tmp_path / "f.png"))
    assert back.tolist() == [[[0, 0, 128], [255, 255, 64]]]


def test_quality_changes_jpeg_size(tmp_path: Path) -> None:
    pixels = _rgb(64, 64)
    write_image(tmp_path / "lo.jpg", pixels, quality=20)
    write_image(tmp_path / "hi.jpg", pixels, quality=95)
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size
