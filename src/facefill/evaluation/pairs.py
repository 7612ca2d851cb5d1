"""Fixed image–mask pairs: made once (seeded) or read from pairs.json, so every model and every run
is scored on exactly the same inputs (SPL's README names the lack of this as why papers disagree).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facefill.errors import UsageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
MASK_SUFFIXES = IMAGE_SUFFIXES | {".npy"}
# NVIDIA irregular-mask hole-ratio bins (Liu et al. 2018), in percent: (lo, hi].
BINS: tuple[tuple[int, int], ...] = ((0, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60))
PAIRS_VERSION = 1


def bin_label(ratio: float) -> str:
    """The NVIDIA bin of a hole ratio (0..1), e.g. 0.153 -> '10-20%'; above 60 % -> '>60%'."""
    pct = ratio * 100.0
    for lo, hi in BINS:
        if pct <= hi:
            return f"{lo or 1}-{hi}%"
    return ">60%"


def bin_order() -> list[str]:
    """Bin labels from small to large holes."""
    return [f"{lo or 1}-{hi}%" for lo, hi in BINS] + [">60%"]


@dataclass(frozen=True)
class Pair:
    image: str  # path relative to the images folder
    mask: str  # path relative to the masks folder
    hole_ratio: float  # measured on the mask at the image's size
    bin: str


def _files(folder: Path, suffixes: set[str]) -> list[Path]:
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; pass a folder of images/masks")
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not found:
        raise UsageError(f"{folder} holds no images ({', '.join(sorted(suffixes))}); check the path")
    return found


def measured_ratio(mask_path: Path, image_size: tuple[int, int]) -> float:
    """Hole ratio of a mask after nearest-resizing it to the image size (what the model sees)."""
    from facefill.io.masks import MaskOptions, read_mask

    return float(read_mask(mask_path, image_size=image_size, options=MaskOptions(resize=True)).mean())


def make_pairs(
    images_dir: Path,
    masks_dir: Path,
    count: int,
    seed: int = 0,
    per_bin: bool = False,
) -> list[Pair]:
    """Draw `count` pairs (seeded): images without replacement where possible, masks at random.

    With ``per_bin`` the count is spread evenly over the six NVIDIA bins, rejecting masks whose
    measured ratio falls outside the bin being filled.
    """
    from facefill.io.images import read_image

    images, masks = _files(images_dir, IMAGE_SUFFIXES), _files(masks_dir, MASK_SUFFIXES)
    rng = np.random.default_rng(seed)
    image_order = rng.permutation(len(images))
    sizes: dict[Path, tuple[int, int]] = {}
    pairs: list[Pair] = []
    labels: list[str | None] = list(bin_order()[:-1]) if per_bin else [None]
    for i, label in enumerate(labels):
        need = count // len(labels) + (i < count % len(labels))
        tries = 0
        while need > 0:
            tries += 1
            if tries > 50 * count + 1000:
                raise UsageError(
                    f"could not find masks in bin {label} in {masks_dir}; use fewer pairs or more masks"
                )
            img = images[image_order[len(pairs) % len(images)]]
            if img not in sizes:
                rgb = read_image(img).rgb
                sizes[img] = rgb.shape[:2]
            mask = masks[int(rng.integers(len(masks)))]
            ratio = measured_ratio(mask, sizes[img])
            if label is not None and bin_label(ratio) != label:
                continue
            pairs.append(
                Pair(
                    str(img.relative_to(images_dir)),
                    str(mask.relative_to(masks_dir)),
                    round(ratio, 6),
                    bin_label(ratio),
                )
            )
            need -= 1
    return pairs


def save_pairs(pairs: list[Pair], path: Path, **provenance: object) -> None:
    """Write pairs.json (with how it was made) atomically."""
    data = {"version": PAIRS_VERSION, **provenance, "pairs": [asdict(p) for p in pairs]}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def load_pairs(path: Path) -> list[Pair]:
    """Read a pairs.json written by `save_pairs` (or by hand: a list of {image, mask})."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read pairs file {path}: {exc}; pass a JSON written by --make-pairs"
        ) from exc
    rows = data["pairs"] if isinstance(data, dict) else data
    pairs = []
    for row in rows:
        ratio = float(row.get("hole_ratio", -1))
        pairs.append(
            Pair(
                row["image"], row["mask"], ratio, row.get("bin") or (bin_label(ratio) if ratio >= 0 else "?")
            )
        )
    return pairs
