"""Read and write images the way users expect them back.

Reading gives upright pixels (EXIF orientation applied), keeps alpha aside, keeps 16-bit sources as
uint16, and keeps EXIF (orientation reset to 1) and ICC for writing. Every decode failure becomes
one ImageReadError naming the file and the fix; PIL's own warnings never reach the user.
Writing is atomic and, given `like=`, restores the source's look: grayscale stays grayscale, alpha
is re-attached, 16-bit stays 16-bit for PNG/TIFF, EXIF/ICC are carried over.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from facefill.errors import FacefillError, ImageReadError, OutputError
from facefill.io.files import atomic_write_bytes

# PIL refuses images above 2 x Image.MAX_IMAGE_PIXELS (89_478_485); we use the same default.
DEFAULT_MAX_PIXELS = 178_956_970

GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
EXTENSION_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})
_EXIF_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "TIFF"})
_ICC_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "TIFF"})
_ORIENTATION_TAG = 0x0112
_PIL_LIMIT_LOCK = threading.Lock()


@dataclass(eq=False)
class LoadedImage:
    """An upright decoded image plus what is needed to write a faithful output."""

    path: Path
    rgb: np.ndarray  # H×W×3 uint8, or uint16 for 16-bit sources
    alpha: np.ndarray | None  # H×W, same dtype as rgb
    format: str | None  # PIL format name ("PNG", "JPEG", ...)
    mode: str  # source PIL mode ("RGB", "L", "I;16", "P", "CMYK", ...)
    exif: bytes | None  # orientation already reset to 1
    icc: bytes | None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the upright image."""
        return self.rgb.shape[0], self.rgb.shape[1]

    @property
    def is_gray(self) -> bool:
        """True when the source had no colour channels (1, L, LA, I;16, ...)."""
        return self.mode in GRAY_MODES

    @property
    def max_value(self) -> int:
        return 65535 if self.rgb.dtype == np.uint16 else 255

    def float_rgb(self) -> np.ndarray:
        """H×W×3 float32 in [0, 1], whatever the source bit depth."""
        return self.rgb.astype(np.float32) / np.float32(self.max_value)

    def float_alpha(self) -> np.ndarray | None:
        """H×W float32 in [0, 1], or None without alpha."""
        if self.alpha is None:
            return None
        return self.alpha.astype(np.float32) / np.float32(self.max_value)


# ----------------------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> LoadedImage:
    """Decode an image file upright. `max_pixels`: None = DEFAULT_MAX_PIXELS, 0 = no limit."""
    return decode_image(Path(path), max_pixels=max_pixels, what="image", error=ImageReadError)


def decode_image(
    path: Path,
    *,
    max_pixels: int | None,
    what: str,
    error: type[FacefillError],
) -> LoadedImage:
    """Shared decoder for images and masks; failures raise `error` with `what` in the message."""
    data = _read_bytes(path, what, error)
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else int(max_pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with _pil_limit_lifted(limit):  # only the header parse checks PIL's limit
                pil = Image.open(io.BytesIO(data))
            _check_size(pil, path, limit, what, error)
            pil.load()
        except FacefillError:
            raise
        except Image.DecompressionBombError as exc:
            raise error(
                f"{what} {path} is larger than the limit of {limit:,} pixels (decompression-bomb guard): "
                "raise --max-pixels if you trust this file"
            ) from exc
        except Image.UnidentifiedImageError as exc:
            raise error(
                f"{what} {path} is not a readable image (PNG, JPEG, WebP, BMP or TIFF expected): "
                "check the file or convert it"
            ) from exc
        except Exception as exc:  # PIL raises many types (OSError, SyntaxError, ValueError...) on bad data
            raise error(
                f"{what} {path} is corrupt or truncated ({_short(exc)}): re-export or re-download it"
            ) from exc
        try:
            rgb, alpha, icc = _pixels(pil, data)
            orientation = _orientation(pil)
            exif = _exif_bytes(pil)
        except FacefillError:
            raise
        except Exception as exc:
            raise error(
                f"{what} {path} could not be decoded ({_short(exc)}): re-save it as an 8-bit PNG or JPEG"
            ) from exc
    rgb = apply_orientation(rgb, orientation)
    alpha = None if alpha is None else apply_orientation(alpha, orientation)
    return LoadedImage(path=path, rgb=rgb, alpha=alpha, format=pil.format, mode=pil.mode, exif=exif, icc=icc)


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an H×W(×C) array stored with EXIF `orientation` (1..8) into its displayed, upright form."""
    transforms = {
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # rotated 180
        4: lambda a: a[::-1],  # mirrored top-bottom
        5: lambda a: a.swapaxes(0, 1),  # transpose
        6: lambda a: np.rot90(a, -1),  # stored rotated 90 ccw: turn clockwise
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),  # transverse
        8: lambda a: np.rot90(a, 1),  # stored rotated 90 cw: turn counter-clockwise
    }
    transform = transforms.get(orientation)
    return array if transform is None else np.ascontiguousarray(transform(array))


def _read_bytes(path: Path, what: str, error: type[FacefillError]) -> bytes:
    if not path.exists():
        raise error(f"{what} {path} does not exist: check the path")
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file: pass an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}: check its permissions") from exc
    if not data:
        raise error(f"{what} {path} is empty (0 bytes): re-export or re-download it")
    return data


class _pil_limit_lifted:
    """Let PIL open anything up to our own limit (PIL alone refuses > 2 x MAX_IMAGE_PIXELS)."""

    def __init__(self, limit: int) -> None:
        pil_limit = Image.MAX_IMAGE_PIXELS
        self.needed = pil_limit is not None and (limit <= 0 or limit >= 2 * pil_limit)

    def __enter__(self) -> None:
        if self.needed:
            _PIL_LIMIT_LOCK.acquire()
            self.saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None

    def __exit__(self, *exc: object) -> None:
        if self.needed:
            Image.MAX_IMAGE_PIXELS = self.saved
            _PIL_LIMIT_LOCK.release()


def _check_size(pil: Image.Image, path: Path, limit: int, what: str, error: type[FacefillError]) -> None:
    width, height = pil.size
    if width <= 0 or height <= 0:
        raise error(f"{what} {path} has no pixels ({width}x{height}): re-export it")
    if limit > 0 and width * height > limit:
        raise error(
            f"{what} {path} is {width}x{height} = {width * height:,} pixels, above the limit of "
            f"{limit:,} (decompression-bomb guard): raise --max-pixels if you trust this file"
        )


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _orientation(pil: Image.Image) -> int:
    try:
        value = pil.getexif().get(_ORIENTATION_TAG, 1)
        return int(value) if int(value) in range(1, 9) else 1
    except Exception:  # unreadable EXIF must not make the image unreadable
        return 1


def _exif_bytes(pil: Image.Image) -> bytes | None:
    """The file's EXIF block with Orientation = 1, because we write pixels upright."""
    if not pil.info.get("exif"):
        return None  # TIFF tags are not EXIF to carry over; only real EXIF blocks are kept
    try:
        exif = pil.getexif()
        if _ORIENTATION_TAG in exif:
            exif[_ORIENTATION_TAG] = 1
        return exif.tobytes() or None
    except Exception:
        return None


def _pixels(pil: Image.Image, data: bytes) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """(rgb, alpha, icc) arrays for any PIL mode; 16-bit colour comes from OpenCV (PIL truncates it)."""
    icc = pil.info.get("icc_profile") or None
    mode = pil.mode
    if _is_16bit_color(pil, data):
        decoded = _decode_16bit_color(data)
        if decoded is not None:
            return decoded[0], decoded[1], icc
    if mode == "CMYK":
        return _cmyk_to_rgb(pil), None, None  # converted to sRGB: the CMYK profile no longer applies
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _gray_to_rgb(np.asarray(pil).astype(np.uint16)), None, icc
    if mode == "I":
        return _gray_to_rgb(np.clip(np.asarray(pil), 0, 65535).astype(np.uint16)), None, icc
    if mode == "F":
        values = np.nan_to_num(np.asarray(pil, dtype=np.float64))
        if values.size and values.max() <= 1.0:
            values = values * 65535.0
        return _gray_to_rgb(np.clip(np.rint(values), 0, 65535).astype(np.uint16)), None, icc
    has_alpha = mode in ("LA", "La", "PA", "RGBA", "RGBa") or pil.has_transparency_data
    if mode in ("1", "L", "LA", "La"):
        gray = np.asarray(pil.convert("LA" if has_alpha else "L"))
        if has_alpha:
            return _gray_to_rgb(gray[..., 0]), np.ascontiguousarray(gray[..., 1]), icc
        return _gray_to_rgb(gray), None, icc
    if has_alpha:
        rgba = np.asarray(pil.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3]), icc
    return np.asarray(pil.convert("RGB")).copy(), None, icc


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)


def _is_16bit_color(pil: Image.Image, data: bytes) -> bool:
    """PIL decodes 16-bit RGB(A) and gray+alpha to 8 bits; detect those files to decode them ourselves."""
    if pil.format == "PNG" and len(data) > 26 and data[12:16] == b"IHDR":
        bit_depth, color_type = data[24], data[25]
        return bit_depth == 16 and color_type in (2, 4, 6)
    if pil.format == "TIFF" and pil.mode in ("RGB", "RGBA", "LA"):
        bits = getattr(pil, "tag_v2", {}).get(258)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return any(b == 16 for b in bits)
    return False


def _decode_16bit_color(data: bytes) -> tuple[np.ndarray, np.ndarray | None] | None:
    import cv2

    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        return None
    if array.ndim == 2:
        return _gray_to_rgb(array), None
    if array.shape[2] == 2:  # gray + alpha
        return _gray_to_rgb(np.ascontiguousarray(array[..., 0])), np.ascontiguousarray(array[..., 1])
    rgb = np.ascontiguousarray(array[..., 2::-1])  # OpenCV gives BGR(A)
    alpha = np.ascontiguousarray(array[..., 3]) if array.shape[2] == 4 else None
    return rgb, alpha


def _cmyk_to_rgb(pil: Image.Image) -> np.ndarray:
    """Use the embedded ICC profile when there is one (print CMYK looks wrong with the naive formula)."""
    profile = pil.info.get("icc_profile")
    if profile:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(
                pil, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                return np.asarray(converted).copy()
        except Exception:  # a broken profile: fall back to the plain conversion below
            pass
    return np.asarray(pil.convert("RGB")).copy()


# ----------------------------------------------------------------------------------------- writing


def format_for(path: str | os.PathLike[str], format: str | None = None) -> str:
    """PIL format name from an explicit `format` or the file extension."""
    if format:
        name = format.upper()
        name = {"JPG": "JPEG", "TIF": "TIFF"}.get(name, name)
        if name not in set(EXTENSION_FORMATS.values()):
            raise OutputError(f"output format {format!r} is not supported: use png, jpg, webp, bmp or tiff")
        return name
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSION_FORMATS:
        raise OutputError(
            f"cannot tell the output format of {path} from its extension: "
            "use .png, .jpg, .webp, .bmp or .tif (or pass a format)"
        )
    return EXTENSION_FORMATS[suffix]


def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    *,
    like: LoadedImage | None = None,
    format: str | None = None,
    quality: int = 95,
) -> Path:
    """Write `rgb` (H×W×3 or H×W; uint8, uint16 or float in [0,1]) atomically.

    With `like`, the output takes the source's look: grayscale, alpha, 16-bit (PNG/TIFF), EXIF, ICC.
    """
    target = Path(path)
    fmt = format_for(target, format)
    pixels = np.asarray(rgb)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3) or 0 in pixels.shape:
        raise ValueError(f"write_image expects H×W×3 or H×W pixels, got shape {pixels.shape}")
    source_dtype = like.rgb.dtype if like is not None else pixels.dtype
    dtype = np.uint16 if (source_dtype == np.uint16 and fmt in SIXTEEN_BIT_FORMATS) else np.uint8
    pixels = to_dtype(pixels, dtype)
    if like is not None and like.is_gray and pixels.ndim == 3:
        pixels = luma(pixels)
    alpha = None
    if like is not None and like.alpha is not None and fmt != "JPEG":
        if like.alpha.shape != pixels.shape[:2]:
            raise ValueError(f"alpha of {like.path} is {like.alpha.shape}, output is {pixels.shape[:2]}")
        alpha = to_dtype(like.alpha, dtype)
    exif = like.exif if like is not None and fmt in _EXIF_FORMATS else None
    icc = like.icc if like is not None and fmt in _ICC_FORMATS else None
    data = encode_image(pixels, alpha, fmt, quality=quality, exif=exif, icc=icc)
    return atomic_write_bytes(target, data)


def to_dtype(pixels: np.ndarray, dtype: type[np.generic]) -> np.ndarray:
    """Convert uint8/uint16/bool/float-[0,1] pixels to uint8 or uint16 with rounding and clipping."""
    target_max = 65535 if dtype == np.uint16 else 255
    if pixels.dtype == dtype:
        return pixels
    if pixels.dtype == np.bool_:
        return (pixels.astype(np.uint32) * target_max).astype(dtype)
    if np.issubdtype(pixels.dtype, np.floating):
        values = np.nan_to_num(pixels.astype(np.float64), nan=0.0) * target_max
        return np.clip(np.rint(values), 0, target_max).astype(dtype)
    source_max = 65535 if pixels.dtype == np.uint16 else 255
    values = np.clip(pixels.astype(np.float64), 0, source_max) * (target_max / source_max)
    return np.clip(np.rint(values), 0, target_max).astype(dtype)


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (PIL's "L" conversion), same dtype as the input."""
    weights = np.array([0.299, 0.587, 0.114])
    top = 65535 if rgb.dtype == np.uint16 else 255
    return np.clip(np.rint(rgb.astype(np.float64) @ weights), 0, top).astype(rgb.dtype)


def encode_image(
    pixels: np.ndarray,
    alpha: np.ndarray | None,
    fmt: str,
    *,
    quality: int = 95,
    exif: bytes | None = None,
    icc: bytes | None = None,
) -> bytes:
    """Encode H×W or H×W×3 uint8/uint16 pixels (+ optional alpha) in PIL format `fmt`."""
    gray = pixels.ndim == 2
    if pixels.dtype == np.uint16 and (not gray or alpha is not None):
        return _encode_16bit_color(pixels, alpha, fmt, exif=exif, icc=icc)
    if pixels.dtype == np.uint16:
        pil = Image.fromarray(pixels)  # mode I;16
    else:
        channels = [pixels] if gray else [pixels[..., i] for i in range(3)]
        if alpha is not None:
            channels.append(alpha)
        stacked = channels[0] if len(channels) == 1 else np.stack(channels, axis=2)
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[len(channels)]
        pil = Image.fromarray(np.ascontiguousarray(stacked), mode=mode)
        if fmt in ("WEBP", "BMP") and pil.mode == "LA":
            pil = pil.convert("RGBA")
        if fmt == "WEBP" and pil.mode == "L":
            pil = pil.convert("RGB")
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = int(quality)
    if exif:
        options["exif"] = exif
    if icc:
        options["icc_profile"] = icc
    buffer = io.BytesIO()
    pil.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _encode_16bit_color(
    pixels: np.ndarray, alpha: np.ndarray | None, fmt: str, *, exif: bytes | None, icc: bytes | None
) -> bytes:
    """PIL cannot hold 16-bit colour: encode with OpenCV, then add PNG metadata chunks ourselves."""
    import cv2

    rgb = pixels if pixels.ndim == 3 else _gray_to_rgb(pixels)
    bgr = rgb[..., ::-1]
    if alpha is not None:
        bgr = np.dstack([bgr, alpha])
    ok, encoded = cv2.imencode(".png" if fmt == "PNG" else ".tiff", np.ascontiguousarray(bgr))
    if not ok:
        raise OutputError(f"OpenCV could not encode a 16-bit {fmt}: write 8-bit output instead")
    data = encoded.tobytes()
    return _png_with_metadata(data, exif, icc) if fmt == "PNG" else data


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_with_metadata(png: bytes, exif: bytes | None, icc: bytes | None) -> bytes:
    """Insert iCCP / eXIf chunks right after IHDR (both must precede the image data)."""
    ihdr_end = 8 + 4 + 4 + 13 + 4
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    if exif:
        raw = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        extra += _png_chunk(b"eXIf", raw)
    return png[:ihdr_end] + extra + png[ihdr_end:]
