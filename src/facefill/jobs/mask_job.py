"""`facefill mask` generation as runner jobs: N random masks, and the `masks.json` manifest.

Mask i is drawn from its own generator, seeded from (seed, "mask_{i:05d}") like every batch item in
facefill, so it does not depend on the other masks: a resumed or sharded run makes the same files.
Each generated item's "input" is `mask_settings.json`, the settings that define the whole set (written
first); its sha256 in every sidecar ties a mask to them, and `--resume` refuses a folder whose
settings differ (only `count` may grow). Photos-to-region-masks is the sibling job in region_mask_job.

Adding a generated kind: a sampler factory `(request) -> (rng -> bool H×W)` in `SAMPLERS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from facefill.errors import UsageError
from facefill.jobs.plan import WorkItem
from facefill.runtime.seed import item_seed

MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".npy")
SETTINGS_FILE = "mask_settings.json"
MANIFEST_FILE = "masks.json"


@dataclass(frozen=True)
class MaskRequest:
    """Everything a mask job needs, parsed and validated by the CLI."""

    kind: str
    count: int
    height: int
    width: int
    seed: int
    ratio_bin: Any = None  # facefill.masks.stats.RatioBin | None
    max_tries: int = 1000
    box_size: str = "0.25-0.5"
    box_position: str = "random"
    source_dir: Path | None = None
    inputs: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """What defines a generated set (the content of mask_settings.json, minus the version)."""
        return {
            "kind": self.kind,
            "seed": self.seed,
            "size": f"{self.width}x{self.height}",
            "ratio_bin": None if self.ratio_bin is None else str(self.ratio_bin),
            "max_tries": self.max_tries,
            "box_size": self.box_size if self.kind == "box" else None,
            "box_position": self.box_position if self.kind == "box" else None,
            "source_dir": None if self.source_dir is None else str(self.source_dir),
        }


def parse_box_size(text: str, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """ "MIN-MAX" (or one value) in pixels, or as fractions of the side when written with a dot."""
    parts = text.split("-")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise UsageError(f"--box-size {text!r} is not MIN-MAX (e.g. 64-128 pixels or 0.25-0.5 of the side)")

    def side(part: str, length: int) -> int:
        try:
            value = float(part) * length if "." in part else int(part)
        except ValueError as exc:
            raise UsageError(f"--box-size {text!r}: {part!r} is not a number") from exc
        return max(1, int(round(value)))

    ranges = []
    for length in (height, width):
        low, high = side(parts[0], length), side(parts[1], length)
        if low > high or high > length:
            raise UsageError(
                f"--box-size {text!r} gives {low}..{high} px on a {length} px side: use MIN <= MAX <= side"
            )
        ranges.append((low, high))
    return ranges[0], ranges[1]


def list_mask_files(folder: Path) -> list[Path]:
    """Mask files directly inside `folder`, sorted by name (the order fixes what a seed picks)."""
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: pass a folder of masks")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MASK_SUFFIXES)


# ------------------------------------------------------------------------------------- samplers
Sampler = Callable[[np.random.Generator], np.ndarray]


def _freeform(request: MaskRequest) -> Sampler:
    from facefill.masks.generate import brush_strokes

    return lambda rng: brush_strokes(rng, request.height, request.width)


def _deepfill(request: MaskRequest) -> Sampler:
    from facefill.masks.generate import deepfill_mask

    return lambda rng: deepfill_mask(rng, request.height, request.width)


def _box(request: MaskRequest) -> Sampler:
    from facefill.masks.generate import box_mask

    ranges = parse_box_size(request.box_size, request.height, request.width)
    return lambda rng: box_mask(
        rng, request.height, request.width, size_range=ranges, position=request.box_position
    )


def _irregular(request: MaskRequest) -> Sampler:
    from facefill.io.masks import read_mask
    from facefill.masks.generate import irregular_mask

    if request.source_dir is None:
        raise UsageError("--kind irregular needs --from DIR (a folder of masks to sample, white = hole)")
    sources = list_mask_files(request.source_dir)
    if not sources:
        raise UsageError(f"--from {request.source_dir} holds no mask files ({', '.join(MASK_SUFFIXES)})")

    def sample(rng: np.random.Generator) -> np.ndarray:
        source = read_mask(sources[int(rng.integers(len(sources)))]) > 0
        return irregular_mask(rng, source, request.height, request.width)

    return sample


SAMPLERS: dict[str, Callable[[MaskRequest], Sampler]] = {
    "freeform": _freeform,
    "deepfill": _deepfill,
    "box": _box,
    "irregular": _irregular,
}
DESCRIPTIONS = {"freeform": "freeform masks", "deepfill": "deepfill masks", "box": "box masks"}


# ------------------------------------------------------------------------------------ processor
def mask_name(index: int) -> str:
    return f"mask_{index:05d}"


def plan_generated(request: MaskRequest, output: Path) -> list[WorkItem]:
    """One work item per mask: `mask_NNNNN.png` + its sidecar, all with the settings file as input."""
    settings = output / SETTINGS_FILE
    return [
        WorkItem(settings, PurePosixPath(name), output / f"{name}.png", output / f"{name}.json")
        for name in map(mask_name, range(request.count))
    ]


class GeneratedMaskProcessor:
    """Processor (see jobs.processor): draws mask i from its own seeded generator, writes an 8-bit PNG."""

    description = "masks"

    def __init__(self, request: MaskRequest) -> None:
        self.request = request
        self.sampler = SAMPLERS[request.kind](request)
        default = f"irregular masks from {request.source_dir}"
        self.what = DESCRIPTIONS.get(request.kind, default)

    def draw(self, name: str) -> np.ndarray:
        """The mask called `name` (a MaskError when --ratio-bin cannot be met within --max-tries)."""
        from facefill.masks.generate import sample_in_ratio_bin

        rng = np.random.default_rng(item_seed(self.request.seed, name))
        request = self.request
        return sample_in_ratio_bin(
            self.sampler, rng, request.ratio_bin, max_tries=request.max_tries, description=self.what
        )

    def run_info(self) -> dict[str, Any]:
        return self.request.settings()

    def load(self, item: WorkItem) -> None:
        return None

    def process(self, batch: list[tuple[WorkItem, Any]]) -> list[np.ndarray]:
        return [self.draw(item.name) for item, _ in batch]

    def save(self, item: WorkItem, loaded: Any, result: np.ndarray, target: Path) -> dict[str, Any]:
        return {"seed": item_seed(self.request.seed, item.name), **write_mask_png(result, target)}


def write_mask_png(mask: np.ndarray, target: Path) -> dict[str, Any]:
    """Write bool H×W as an 8-bit single-channel PNG (0 keep, 255 hole); return its sidecar fields."""
    from PIL import Image

    from facefill.masks.stats import hole_count

    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(target, format="PNG")
    holes, total = hole_count(mask)
    return {"hole_ratio": holes / total, "mask_size": {"width": mask.shape[1], "height": mask.shape[0]}}


# -------------------------------------------------------------------------- settings and manifest
def prepare_folder(items: list[WorkItem], output: Path, *, overwrite: bool, resume: bool) -> None:
    """Refuse to mix with masks already in `output` unless --overwrite or --resume says how."""
    existing = next((item.output for item in items if item.output.exists()), None)
    if existing is not None and not (overwrite or resume):
        raise UsageError(
            f"{existing} already exists: pass --resume to keep finished masks and make the rest, "
            "--overwrite to replace them, or choose another -o folder"
        )


def write_settings(request: MaskRequest, output: Path, *, resume: bool) -> None:
    """Write mask_settings.json; with --resume, first check the folder was made with these settings."""
    from facefill import __version__
    from facefill.io.files import atomic_write_bytes

    path = output / SETTINGS_FILE
    wanted = {"facefill_version": __version__, **request.settings()}
    if resume and path.is_file():
        found = json.loads(path.read_text())
        changed = sorted(k for k in wanted if found.get(k) != wanted[k])
        if changed:
            raise UsageError(
                f"--resume: {path} was made with other settings ({', '.join(changed)}); "
                "use the same options, --overwrite, or another -o folder"
            )
    atomic_write_bytes(path, (json.dumps(wanted, indent=1) + "\n").encode())


def write_manifest(output: Path, request: MaskRequest, items: list[WorkItem]) -> dict[str, float]:
    """`masks.json`: the settings and the hole ratio of every finished mask (from its sidecar)."""
    from facefill import __version__
    from facefill.io.files import atomic_write_bytes
    from facefill.jobs.runner import is_finished

    ratios = {}
    for item in items:
        if is_finished(item):
            key = item.output.relative_to(output).as_posix()
            ratios[key] = json.loads(item.sidecar.read_text())["hole_ratio"]
    settings = request.settings()
    if request.kind == "region":
        extra = request.extra
        settings = {"kind": "region", "regions": extra.get("region_names"), "face": extra.get("region_face"),
                    "dilate": extra.get("region_dilate")}  # fmt: skip
    manifest = {"facefill_version": __version__, **settings, "count": len(ratios), "hole_ratios": ratios}
    atomic_write_bytes(output / MANIFEST_FILE, (json.dumps(manifest, indent=1) + "\n").encode())
    return ratios
