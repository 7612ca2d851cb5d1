"""Training data for facefill's own inpainting models: face images, hole masks, deterministic batches.

Design choices (why):
- Faces are decoded once into a uint8 ``.npy`` cache (memory-mapped), so the data loader only slices
  arrays; JPEG decoding would dominate a 2-core CPU budget.
- Every batch is a pure function of ``(seed, step, rank)``: resuming from a checkpoint, or running the
  same step on another machine, draws exactly the same faces, flips and masks.
- LFW deep-funneled faces are framed looser than FFHQ/CelebA-HQ; `lfw_face_crop` defines the one framing
  used for training *and* for the quality benchmark.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facefill.errors import UsageError
from facefill.masks.generate import box_mask as generate_box
from facefill.masks.generate import brush_strokes
from facefill.pipelines.classical import telea_fill

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
LFW_CROP_BOX = (45, 45, 205, 205)  # (left, top, right, bottom) of the 250×250 deep-funneled frame
NVIDIA_BINS = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))


# ----------------------------------------------------------------------------------------- framing
def lfw_face_crop(img: np.ndarray, size: int = 256) -> np.ndarray:
    """Central 160×160 box of a 250×250 LFW deep-funneled face, resized to size×size (hair to chin)."""
    if img.shape[:2] != (250, 250):
        raise UsageError(f"lfw_face_crop expects a 250×250 LFW image, got {img.shape[1]}×{img.shape[0]}")
    left, top, right, bottom = LFW_CROP_BOX
    return cv2.resize(img[top:bottom, left:right], (size, size), interpolation=cv2.INTER_CUBIC)


def center_square(img: np.ndarray, size: int = 256) -> np.ndarray:
    """Largest central square, resized to size×size: the framing for images already face-centred."""
    h, w = img.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    crop = img[y : y + side, x : x + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def frame_face(img: np.ndarray, size: int = 256) -> np.ndarray:
    """LFW images (250×250) get the LFW crop; everything else a central square."""
    return lfw_face_crop(img, size) if img.shape[:2] == (250, 250) else center_square(img, size)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as H×W×3 uint8 RGB (training-side reader; user-facing I/O lives in io/)."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise UsageError(f"cannot decode training image {path}; remove it from the dataset or list")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# ----------------------------------------------------------------------------------------- sources
def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def list_images(source: str | Path, split: str = "train") -> list[Path]:
    """Image paths from a folder, a ``.flist`` (one path per line, relative to the list's folder),
    or the L2M-GAN class layout (``root/{train,test}/<class>/*`` or ``root/<class>/{train,test}/*``)."""
    source = Path(source)
    if source.is_file() and source.suffix == ".flist":
        base = source.parent
        lines = [ln.strip() for ln in source.read_text().splitlines() if ln.strip()]
        paths = [Path(os.path.normpath(ln if Path(ln).is_absolute() else base / ln)) for ln in lines]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise UsageError(f"{source}: {len(missing)} listed files do not exist (first: {missing[0]})")
    elif source.is_dir():
        if (source / split).is_dir():  # root/train/<class>/*
            paths = _images_in(source / split)
        else:
            class_splits = [d / split for d in sorted(source.iterdir()) if (d / split).is_dir()]
            paths = [p for d in class_splits for p in _images_in(d)] if class_splits else _images_in(source)
    else:
        raise UsageError(f"--data {source}: not a folder or a .flist file")
    if not paths:
        raise UsageError(f"--data {source}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
    return paths


def list_labelled_images(source: str | Path, split: str = "train") -> list[tuple[Path, str]]:
    """(path, class) pairs of the L2M-GAN layout (``root/{split}/<class>/*`` or ``root/<class>/{split}/*``),
    in `list_images` order, for class-conditioned recipes; any other source is a usage error."""
    source = Path(source)
    root = source / split if (source / split).is_dir() else source
    classes = [d for d in sorted(root.iterdir()) if d.is_dir()] if source.is_dir() else []
    folders = [(d.name, d) if root != source else (d.name, d / split) for d in classes]
    pairs = [(p, name) for name, folder in folders if folder.is_dir() for p in _images_in(folder)]
    if not pairs:
        raise UsageError(
            f"--data {source}: no class folders; a labelled dataset is ROOT/{split}/<class>/* "
            f"or ROOT/<class>/{split}/*"
        )
    return pairs


def _cache_key(paths: Sequence[Path], size: int) -> str:
    digest = hashlib.sha256(f"{size}\n".encode() + "\n".join(map(str, paths)).encode()).hexdigest()
    return digest[:16]


def build_face_cache(paths: Sequence[Path], cache_dir: str | Path, size: int = 256) -> np.ndarray:
    """Decode, frame and stack faces into ``cache_dir/faces_<key>.npy`` once; return it memory-mapped."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"faces_{_cache_key(paths, size)}_{len(paths)}x{size}.npy"
    if not target.exists():
        tmp = target.with_suffix(f".{os.getpid()}.tmp.npy")  # per process: torchrun ranks may race here
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
        for i, p in enumerate(paths):
            arr[i] = frame_face(read_rgb(p), size)
        arr.flush()
        del arr
        os.replace(tmp, target)
    return np.load(target, mmap_mode="r")


# ------------------------------------------------------------------------------------------- masks
def nvidia_mask_index(path: Path) -> int | None:
    """File index of an NVIDIA irregular mask (``01234.png`` -> 1234), None for other names."""
    m = re.fullmatch(r"(\d{5})", path.stem)
    return int(m.group(1)) if m else None


def is_benchmark_mask(index: int) -> bool:
    """NVIDIA masks reserved for benchmarks (every 10th of the kept even indices); training skips them."""
    return (index // 2) % 10 == 0


def load_mask_bank(folder: str | Path, size: int, cache_dir: str | Path | None = None) -> np.ndarray:
    """All training masks of a folder as an N×size×size uint8 {0,1} array (nearest resize, >127 = hole).

    NVIDIA-named files reserved by `is_benchmark_mask` are excluded so benchmarks stay unseen.
    """
    folder = Path(folder)
    paths = [
        p for p in _images_in(folder) if (idx := nvidia_mask_index(p)) is None or not is_benchmark_mask(idx)
    ]
    if not paths:
        raise UsageError(f"--masks {folder}: no mask images found")
    target = None
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        target = Path(cache_dir) / f"masks_{_cache_key(paths, size)}_{len(paths)}x{size}.npy"
        if target.exists():
            return np.load(target, mmap_mode="r")
    bank = np.empty((len(paths), size, size), dtype=np.uint8)
    for i, p in enumerate(paths):
        m = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if m is None:
            raise UsageError(f"cannot read mask {p}")
        bank[i] = cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST) > 127
    if target is not None:
        tmp = target.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, bank)
        os.replace(tmp, target)
    return bank


def freeform_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """DeepFillv2 brush strokes (facefill.masks.generate, spec §5.1) as uint8 {0,1}."""
    return brush_strokes(rng, size, size).astype(np.uint8)


def box_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """One box of 3/8-1/2 of the side at a random position (DeepFillv2 bbox at 256²: 96-128 px)."""
    sides = (size * 3 // 8, size // 2)
    return generate_box(rng, size, size, size_range=(sides, sides)).astype(np.uint8)


@dataclass
class MaskSampler:
    """Draws one hole mask at `size`: 'freeform', 'box', or a bank of file masks (plus freeform mix)."""

    kind: str  # "freeform" | "box" | "bank"
    bank: np.ndarray | None = None
    freeform_share: float = 0.25  # with a bank: share of pure brush-stroke masks

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.kind == "box":
            return box_mask(rng, size)
        if self.kind == "freeform" or self.bank is None or rng.random() < self.freeform_share:
            return freeform_mask(rng, size)
        m = self.bank[int(rng.integers(len(self.bank)))]
        m = np.rot90(m, int(rng.integers(4)))
        if rng.random() < 0.5:
            m = m[:, ::-1]
        if m.shape[0] != size:
            m = cv2.resize(np.ascontiguousarray(m), (size, size), interpolation=cv2.INTER_NEAREST)
        return np.ascontiguousarray(m)


def mask_source(masks: str, size: int, cache_dir: str | Path | None = None) -> MaskSampler:
    """`--masks` as a sampler: "freeform", "box", or a folder of mask images (a bank)."""
    if masks in ("freeform", "box"):
        return MaskSampler(masks)
    if not Path(masks).is_dir():
        raise UsageError(f"--masks {masks}: expected freeform, box, or an existing folder of mask images")
    return MaskSampler("bank", load_mask_bank(masks, size, cache_dir))


def default_cache_dir() -> Path:
    """Where decoded faces and masks are cached when `--cache-dir` is not given."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("facefill")) / "train"


# ----------------------------------------------------------------------------------------- batches
class InpaintBatches:
    """Indexable by step: batch ``step`` is a pure function of (seed, step, rank).

    Returns float32 arrays: ``image`` and ``filled`` N×3×S×S in [0,1], ``mask`` N×1×S×S in {0,1}.
    With ``crop < faces' size`` a random crop is taken *after* masking at full size (keeps hole scale);
    the Telea fill is computed on the crop, as the model would see a crop-sized image.
    """

    def __init__(
        self,
        faces: np.ndarray,
        masks: MaskSampler,
        batch_size: int,
        crop: int | None = None,
        seed: int = 0,
        rank: int = 0,
        flip: bool = True,
    ) -> None:
        self.faces, self.masks, self.batch_size = faces, masks, batch_size
        self.size = faces.shape[1]
        self.crop = crop or self.size
        self.seed, self.rank, self.flip = seed, rank, flip

    def __len__(self) -> int:  # effectively unbounded; DataLoader samplers give the steps
        return 2**62

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        img = np.asarray(self.faces[int(rng.integers(len(self.faces)))])
        if self.flip and rng.random() < 0.5:
            img = img[:, ::-1]
        mask = self.masks(rng, self.size)
        if self.crop < self.size:
            for _ in range(8):  # prefer crops that contain some hole
                y, x = (int(v) for v in rng.integers(0, self.size - self.crop + 1, size=2))
                if mask[y : y + self.crop, x : x + self.crop].any():
                    break
            img = img[y : y + self.crop, x : x + self.crop]
            mask = mask[y : y + self.crop, x : x + self.crop]
            if not mask.any():
                mask = freeform_mask(rng, self.crop)
        img = np.ascontiguousarray(img)
        mask = np.ascontiguousarray(mask)
        return img, mask, telea_fill(img, mask)

    def __getitem__(self, step: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, int(step), self.rank])
        imgs, masks, fills = zip(*(self.sample(rng) for _ in range(self.batch_size)), strict=True)
        to_chw = lambda a: np.stack(a).transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # noqa: E731
        return {
            "image": to_chw(imgs),
            "filled": to_chw(fills),
            "mask": np.stack(masks)[:, None].astype(np.float32),
            "step": np.int64(step),
        }
