"""Fuzz: whatever bytes a user hands us, reading gives a valid array or a FacefillError — nothing else."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from facefill.errors import FacefillError
from facefill.io.images import read_image
from facefill.io.masks import read_mask

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MAGIC = [
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
]
SUFFIXES = [".png", ".jpg", ".webp", ".bmp", ".tif", ".npy"]
MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK"]
FORMATS = ["PNG", "JPEG", "WEBP", "BMP", "TIFF"]
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _write(folder: Path, data: bytes, suffix: str) -> Path:
    path = folder / f"f{next(_counter)}{suffix}"
    path.write_bytes(data)
    return path


def _check_image(path: Path) -> None:
    try:
        loaded = read_image(path, max_pixels=4_000_000)
    except FacefillError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    height, width, channels = loaded.rgb.shape
    assert channels == 3 and height > 0 and width > 0
    assert loaded.rgb.dtype in (np.uint8, np.uint16)
    assert loaded.alpha is None or (
        loaded.alpha.shape == (height, width) and loaded.alpha.dtype == loaded.rgb.dtype
    )
    values = loaded.float_rgb()
    assert values.dtype == np.float32 and values.min() >= 0.0 and values.max() <= 1.0


def _check_mask(path: Path) -> None:
    try:
        mask = read_mask(path, max_pixels=4_000_000)
    except FacefillError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert mask.ndim == 2 and mask.dtype == np.float32 and mask.size > 0
    assert set(np.unique(mask).tolist()) <= {0.0, 1.0}


@SETTINGS
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(folder: Path, magic: bytes, body: bytes, suffix: str) -> None:
    path = _write(folder, magic + body, suffix)
    _check_image(path)
    _check_mask(path)


def _encode(mode: str, fmt: str, height: int, width: int, seed: int, orientation: int) -> bytes | None:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA").convert(
            mode
        )
    options: dict[str, object] = {}
    if orientation != 1 and fmt in ("PNG", "JPEG", "WEBP"):
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    if mode == "P" and fmt == "PNG" and seed % 2:
        options["transparency"] = 0
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError):
        return None  # this encoder does not support this mode: nothing to test
    return buffer.getvalue()


@SETTINGS
@given(
    mode=st.sampled_from(MODES),
    fmt=st.sampled_from(FORMATS),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    orientation=st.integers(1, 8),
    damage=st.sampled_from(["none", "truncate", "flip"]),
)
def test_random_valid_and_damaged_images(
    folder: Path, mode: str, fmt: str, height: int, width: int, seed: int, orientation: int, damage: str
) -> None:
    data = _encode(mode, fmt, height, width, seed, orientation)
    assume(data is not None)
    if damage == "truncate":
        data = data[: max(1, (seed % 97) * len(data) // 100)]
    elif damage == "flip":
        spot = seed % len(data)
        data = data[:spot] + bytes([data[spot] ^ 0xFF]) + data[spot + 1 :]
    path = _write(folder, data, ".img")
    _check_image(path)
    _check_mask(path)
    if damage == "none":
        loaded = read_image(path)  # an intact image must always load
        expected = (width, height) if orientation >= 5 and fmt in ("PNG", "JPEG", "WEBP") else (height, width)
        assert loaded.size == expected
        assert loaded.rgb.dtype == (np.uint16 if mode == "I;16" and fmt in ("PNG", "TIFF") else np.uint8)
