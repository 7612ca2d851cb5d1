"""`facefill mask`: generate hole masks (free-form strokes, boxes, irregular, face regions) or
summarise a folder.

Generation runs through the batch runner (facefill.jobs.mask_job, jobs.region_mask_job): atomic
writes, a sidecar per mask, per-item errors, `--resume`, a summary and exit code like `inpaint`.
This module only parses. Heavy imports (numpy, PIL, OpenCV) happen inside functions.

Adding a generated kind: a sampler in facefill.jobs.mask_job.SAMPLERS and its name in KINDS below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from facefill.cli.region_mask import region_options, region_settings
from facefill.errors import UsageError

KINDS: tuple[str, ...] = ("freeform", "deepfill", "box", "irregular", "region")
KINDS_WITH_INPUTS: set[str] = {"region"}  # kinds that take PHOTOS arguments
STATS_BINS = 10


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


def _parse_ratio_bin(text: str | None) -> Any:
    if text is None:
        return None
    from facefill.masks.stats import parse_ratio_bin

    try:
        return parse_ratio_bin(text)
    except ValueError as exc:
        raise UsageError(f"--ratio-bin: {exc}") from exc


# ------------------------------------------------------------------------------------------ stats


def folder_stats(folder: Path) -> tuple[list[tuple[int, int]], list[str]]:
    """(hole, total) pixel counts of every mask in `folder`, plus one line per unreadable file."""
    from facefill.errors import FacefillError
    from facefill.io.masks import read_mask
    from facefill.jobs.mask_job import list_mask_files
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
    "--resume", is_flag=True, help="Keep masks an interrupted run (same settings) finished; make the rest."
)
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
    resume: bool,
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
            from facefill.jobs.mask_job import MASK_SUFFIXES

            raise UsageError(f"--stats {stats_dir}: no readable masks ({', '.join(MASK_SUFFIXES)})")
        print_stats(stats_dir, counts)
        return
    if output is None:
        raise UsageError("pass -o DIR for the generated masks (or --stats DIR to summarise a folder)")
    if inputs and kind not in KINDS_WITH_INPUTS:
        raise UsageError(f"--kind {kind} takes no PHOTOS arguments (got {inputs[0]!r}...)")
    if overwrite and resume:
        raise UsageError("--overwrite and --resume contradict each other: pick one")
    from facefill.cli.context import run_context
    from facefill.jobs.mask_job import MaskRequest

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
    context = run_context(ctx, {"seed": seed})
    debug = bool((ctx.obj or {}).get("debug"))
    code, ratios = _generate(request, output, context, overwrite=overwrite, resume=resume, quiet=quiet,
                             debug=debug)  # fmt: skip
    if not quiet:
        mean = sum(ratios.values()) / max(1, len(ratios))
        click.echo(f"wrote {len(ratios)} {kind} masks to {output} (mean hole ratio {mean * 100:.1f}%)")
    ctx.exit(code)


def _generate(
    request: Any, output: Path, context: Any, *, overwrite: bool, resume: bool, quiet: bool, debug: bool
) -> tuple[int, dict[str, float]]:
    """Plan, check, run (facefill.jobs) and write masks.json; returns (exit code, hole ratios)."""
    from facefill.jobs import mask_job
    from facefill.jobs.batch_command import BatchSettings, run_batch_command
    from facefill.jobs.plan import PlanRequest

    settings = None
    if request.kind == "region":
        from facefill.jobs.region_mask_job import RegionMaskProcessor, plan_regions

        settings = region_settings(request.extra, request.inputs)
        items = plan_regions(request.inputs, output)
        processor: Any = RegionMaskProcessor(settings)
    else:
        items = mask_job.plan_generated(request, output)
        processor = mask_job.GeneratedMaskProcessor(request)
        processor.draw(items[0].name)  # impossible settings (--ratio-bin) fail once, before any file
    mask_job.prepare_folder(items, output, overwrite=overwrite, resume=resume)
    output.mkdir(parents=True, exist_ok=True)
    if request.kind != "region":
        mask_job.write_settings(request, output, resume=resume)
    # face detection is the cost of a region item: batch 1 (a failing photo is never recomputed)
    batch = BatchSettings(overwrite=overwrite, quiet=quiet, debug=debug, batch_size=1 if settings else 8)
    code = run_batch_command(PlanRequest(inputs=request.inputs), lambda warn: processor, batch,
                             plan=lambda _request: items, context=context)  # fmt: skip
    return code, mask_job.write_manifest(output, request, items)
