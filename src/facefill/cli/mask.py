"""`facefill mask`: generate hole masks (free-form strokes, boxes, irregular) or summarise a folder.

Heavy imports (numpy, PIL, OpenCV) happen inside functions: importing this module costs only click.

Adding a mask kind (e.g. faces' `region`): write a handler `handler(request: MaskRequest)` that
yields `(file_stem, bool H×W mask)` pairs, add `"region": "package.module:handler"` to KINDS
below, and add any option it needs to the `mask` command (stash its value in `request.extra`).
Photos given on the command line arrive in `request.inputs`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from facefill.cli.region_mask import region_options
from facefill.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

MaskHandler = Callable[["MaskRequest"], Iterator[tuple[str, "np.ndarray"]]]

# kind -> "module:handler". Handlers are imported only when their kind is used.
KINDS: dict[str, str] = {
    "freeform": "facefill.cli.mask:freeform_masks",
    "deepfill": "facefill.cli.mask:deepfill_masks",
    "box": "facefill.cli.mask:box_masks",
    "irregular": "facefill.cli.mask:irregular_masks",
    "region": "facefill.cli.region_mask:region_masks",
}
KINDS_WITH_INPUTS: set[str] = {"region"}  # kinds that take PHOTOS arguments
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".npy")
STATS_BINS = 10


@dataclass(frozen=True)
class MaskRequest:
    """Everything a kind handler may need, parsed and validated."""

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


# ---------------------------------------------------------------------------------------- parsing


def parse_size(text: str) -> tuple[int, int]:
    """ "WxH" (or "N" for a square) -> (height, width)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(1 <= v <= 16384 for v in values):
        raise UsageError(f"--size {text!r} is not WIDTHxHEIGHT (e.g. 256x256, each 1..16384)")
    width, height = values
    return height, width


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


def _parse_ratio_bin(text: str | None) -> Any:
    if text is None:
        return None
    from facefill.masks.stats import parse_ratio_bin

    try:
        return parse_ratio_bin(text)
    except ValueError as exc:
        raise UsageError(f"--ratio-bin: {exc}") from exc


# --------------------------------------------------------------------------------------- handlers


def _random_masks(
    request: MaskRequest, sampler: Callable[[Any], Any], what: str
) -> Iterator[tuple[str, Any]]:
    """`count` masks from one seeded Generator, kept only inside --ratio-bin (bounded retries)."""
    import numpy as np

    from facefill.masks.generate import sample_in_ratio_bin

    rng = np.random.default_rng(request.seed)
    for index in range(request.count):
        mask = sample_in_ratio_bin(
            sampler, rng, request.ratio_bin, max_tries=request.max_tries, description=what
        )
        yield f"mask_{index:05d}", mask


def freeform_masks(request: MaskRequest) -> Iterator[tuple[str, Any]]:
    from facefill.masks.generate import brush_strokes

    return _random_masks(
        request, lambda rng: brush_strokes(rng, request.height, request.width), "freeform masks"
    )


def deepfill_masks(request: MaskRequest) -> Iterator[tuple[str, Any]]:
    from facefill.masks.generate import deepfill_mask

    return _random_masks(
        request, lambda rng: deepfill_mask(rng, request.height, request.width), "deepfill masks"
    )


def box_masks(request: MaskRequest) -> Iterator[tuple[str, Any]]:
    from facefill.masks.generate import box_mask

    ranges = parse_box_size(request.box_size, request.height, request.width)
    return _random_masks(
        request,
        lambda rng: box_mask(
            rng, request.height, request.width, size_range=ranges, position=request.box_position
        ),
        "box masks",
    )


def irregular_masks(request: MaskRequest) -> Iterator[tuple[str, Any]]:
    from facefill.io.masks import read_mask
    from facefill.masks.generate import irregular_mask

    if request.source_dir is None:
        raise UsageError("--kind irregular needs --from DIR (a folder of masks to sample, white = hole)")
    sources = list_mask_files(request.source_dir)
    if not sources:
        raise UsageError(f"--from {request.source_dir} holds no mask files ({', '.join(MASK_SUFFIXES)})")

    def sample(rng: Any) -> Any:
        source = read_mask(sources[int(rng.integers(len(sources)))]) > 0
        return irregular_mask(rng, source, request.height, request.width)

    return _random_masks(request, sample, f"irregular masks from {request.source_dir}")


def list_mask_files(folder: Path) -> list[Path]:
    """Mask files directly inside `folder`, sorted by name (the order fixes what a seed picks)."""
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: pass a folder of masks")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MASK_SUFFIXES)


def resolve_handler(kind: str) -> MaskHandler:
    module_name, attr = KINDS[kind].split(":")
    return getattr(importlib.import_module(module_name), attr)


# ---------------------------------------------------------------------------------------- writing


def write_masks(
    masks: Iterator[tuple[str, Any]], output: Path, *, overwrite: bool
) -> list[tuple[str, int, int]]:
    """Write 8-bit single-channel PNGs (0 keep, 255 hole) atomically; return (name, holes, total)."""
    import io as bytes_io

    import numpy as np
    from PIL import Image

    from facefill.io.files import atomic_write_bytes
    from facefill.masks.stats import hole_count

    written = []
    for stem, mask in masks:
        target = output / f"{stem}.png"
        if target.exists() and not overwrite:
            raise UsageError(f"{target} already exists: pass --overwrite or choose another -o folder")
        buffer = bytes_io.BytesIO()
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(buffer, format="PNG")
        atomic_write_bytes(target, buffer.getvalue())
        written.append((target.name, *hole_count(mask)))
    return written


def write_manifest(output: Path, request: MaskRequest, written: list[tuple[str, int, int]]) -> None:
    """`masks.json` beside the masks: the settings that reproduce them and each file's hole ratio."""
    import json

    from facefill import __version__
    from facefill.io.files import atomic_write_bytes

    manifest = {
        "facefill_version": __version__,
        "kind": request.kind,
        "seed": request.seed,
        "size": f"{request.width}x{request.height}",
        "count": len(written),
        "ratio_bin": None if request.ratio_bin is None else str(request.ratio_bin),
        "box_size": request.box_size if request.kind == "box" else None,
        "box_position": request.box_position if request.kind == "box" else None,
        "source_dir": None if request.source_dir is None else str(request.source_dir),
        "hole_ratios": {name: holes / total for name, holes, total in written},
    }
    atomic_write_bytes(output / "masks.json", (json.dumps(manifest, indent=1) + "\n").encode())


# ------------------------------------------------------------------------------------------ stats


def folder_stats(folder: Path) -> tuple[list[tuple[int, int]], list[str]]:
    """(hole, total) pixel counts of every mask in `folder`, plus one line per unreadable file."""
    from facefill.errors import FacefillError
    from facefill.io.masks import read_mask
    from facefill.masks.stats import hole_count

    counts, problems = [], []
    for path in list_mask_files(folder):
        try:
            counts.append(hole_count(read_mask(path)))
        except FacefillError as exc:
            problems.append(str(exc))
    return counts, problems


def print_stats(folder: Path, counts: list[tuple[int, int]]) -> None:
    """Hole-ratio histogram (10 % bins) as a rich table, then mean / median / std / range."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from facefill.masks.stats import ratio_histogram

    histogram = ratio_histogram(counts, STATS_BINS)
    ratios = np.array([holes / total for holes, total in counts]) * 100
    width = 100 // STATS_BINS
    table = Table(title=f"hole ratios of {len(counts)} masks in {folder}")
    table.add_column("hole ratio", justify="right")
    table.add_column("masks", justify="right")
    table.add_column("share", justify="right")
    table.add_column("")
    top = max(histogram) or 1
    for index, number in enumerate(histogram):
        low = f"{index * width}" if index else "0"
        bracket = "[" if index == 0 else "("
        share = number / len(counts) * 100
        table.add_row(
            f"{bracket}{low}, {(index + 1) * width}]%",
            str(number),
            f"{share:.1f}%",
            "█" * round(20 * number / top),
        )
    console = Console()
    console.print(table)
    console.print(
        f"mean {ratios.mean():.2f}%  median {np.median(ratios):.2f}%  std {ratios.std():.2f}%  "
        f"min {ratios.min():.2f}%  max {ratios.max():.2f}%"
    )


# ---------------------------------------------------------------------------------------- command


@click.command("mask")
@click.argument("inputs", nargs=-1, metavar="[PHOTOS]...")
@click.option(
    "--kind",
    type=click.Choice(sorted(KINDS)),
    default="freeform",
    show_default=True,
    help="freeform = DeepFillv2 brush strokes; deepfill = strokes OR DeepFillv2 box; "
    "box = one rectangle; irregular = augmented samples from --from DIR.",
)
@click.option("--count", type=click.IntRange(1, 10_000_000), default=100, show_default=True)
@click.option("--size", "size_text", default="256x256", show_default=True, help="WIDTHxHEIGHT of each mask.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same masks, byte for byte.")
@click.option(
    "--ratio-bin",
    "ratio_bin_text",
    metavar="LOW-HIGH",
    help="Keep only masks whose hole ratio is in (LOW, HIGH] percent, e.g. 10-20.",
)
@click.option(
    "--max-tries",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Draws per mask before --ratio-bin gives up.",
)
@click.option(
    "--box-size",
    default="0.25-0.5",
    show_default=True,
    metavar="MIN-MAX",
    help="Box side range for --kind box: pixels (64-128) or fractions of the side (0.25-0.5).",
)
@click.option("--box-position", type=click.Choice(["random", "center"]), default="random", show_default=True)
@click.option(
    "--from", "source_dir", type=click.Path(path_type=Path), help="Mask folder for --kind irregular."
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Folder for mask_00000.png ...")
@click.option("--overwrite", is_flag=True, help="Replace masks already in the output folder.")
@click.option(
    "--stats",
    "stats_dir",
    type=click.Path(path_type=Path),
    help="Instead of generating: print the hole-ratio histogram of the masks in this folder.",
)
@region_options
@click.pass_context
def mask(
    ctx: click.Context,
    inputs: tuple[str, ...],
    kind: str,
    count: int,
    size_text: str,
    seed: int,
    ratio_bin_text: str | None,
    max_tries: int,
    box_size: str,
    box_position: str,
    source_dir: Path | None,
    output: Path | None,
    overwrite: bool,
    stats_dir: Path | None,
    **region_extra: Any,
) -> None:
    """Generate hole masks (white = hole) or summarise a folder of masks.

    \b
    Examples:
      facefill mask --kind freeform --count 1000 --seed 0 -o masks/
      facefill mask --kind box --box-size 128-128 -o boxes/
      facefill mask --kind irregular --from nvidia_masks/ --ratio-bin 10-20 -o bucket/
      facefill mask --stats masks/
    """
    quiet = bool((ctx.obj or {}).get("quiet"))
    if stats_dir is not None:
        counts, problems = folder_stats(stats_dir)
        for line in problems:
            click.echo(f"warning: skipped {line}", err=True)
        if not counts:
            raise UsageError(f"--stats {stats_dir}: no readable masks ({', '.join(MASK_SUFFIXES)})")
        print_stats(stats_dir, counts)
        return
    if output is None:
        raise UsageError("pass -o DIR for the generated masks (or --stats DIR to summarise a folder)")
    if inputs and kind not in KINDS_WITH_INPUTS:
        raise UsageError(f"--kind {kind} takes no PHOTOS arguments (got {inputs[0]!r}...)")
    height, width = parse_size(size_text)
    request = MaskRequest(
        kind=kind,
        count=count,
        height=height,
        width=width,
        seed=seed,
        ratio_bin=_parse_ratio_bin(ratio_bin_text),
        max_tries=max_tries,
        box_size=box_size,
        box_position=box_position,
        source_dir=source_dir,
        inputs=inputs,
        extra=region_extra,
    )
    if kind == "box":
        parse_box_size(box_size, height, width)  # fail on a bad --box-size before writing anything
    written = write_masks(resolve_handler(kind)(request), output, overwrite=overwrite)
    write_manifest(output, request, written)
    if not quiet:
        mean = sum(holes / total for _, holes, total in written) / max(1, len(written))
        click.echo(f"wrote {len(written)} {kind} masks to {output} (mean hole ratio {mean * 100:.1f}%)")
