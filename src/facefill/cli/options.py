"""Option groups shared by batch commands (inpaint, align, edit...), as stackable decorators.

Each group only declares click options (no heavy imports), so `--help` stays fast. Commands receive
the values as keyword arguments with the names shown in each decorator.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def _check_device(ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = value.strip().lower()
    if not _DEVICE_RE.match(value):
        raise click.BadParameter(f"{value!r}: use auto, cpu, cuda, cuda:N or mps")
    return value


def _check_batch_size(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    if value == "auto":
        return None
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise click.BadParameter(f"{value!r}: use auto or a whole number >= 1")


def _check_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from facefill.errors import UsageError
    from facefill.jobs.shard import parse_shard

    try:
        return parse_shard(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None


PX = click.IntRange(min=0)

input_options = _stack(
    click.argument("inputs", nargs=-1, required=True, metavar="INPUTS..."),
    click.option(
        "--recursive", "-r", is_flag=True, help="Also take images from sub-folders of folder inputs."
    ),
)

output_options = _stack(
    click.option(
        "--output",
        "-o",
        type=click.Path(),
        help="Output folder (mirrors input sub-folders) or, for one input, an output file name.",
    ),
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["same", "png", "jpg", "webp"], case_sensitive=False),
        default="same",
        show_default=True,
        help="Output format; `same` keeps each input's format.",
    ),
    click.option(
        "--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG/WebP quality."
    ),
    click.option(
        "--overwrite", is_flag=True, help="Redo items whose output already exists (default: skip them)."
    ),
)

mask_options = _stack(
    click.option(
        "--mask-threshold",
        type=click.IntRange(0, 254),
        default=127,
        show_default=True,
        help="Mask pixels brighter than this (0-255) are holes.",
    ),
    click.option("--invert-mask", is_flag=True, help="Black is the hole instead of white."),
    click.option(
        "--alpha-keep", is_flag=True, help="For alpha masks: opaque = hole (default: transparent = hole)."
    ),
    click.option(
        "--resize-mask", is_flag=True, help="Resize (nearest) masks whose size differs from the image."
    ),
    click.option("--dilate", type=PX, default=0, metavar="PX", help="Grow holes by PX pixels."),
    click.option("--erode", type=PX, default=0, metavar="PX", help="Shrink holes by PX pixels."),
    click.option("--feather", type=PX, default=0, metavar="PX", help="Blend PX pixels around each hole."),
)

runtime_options = _stack(
    click.option(
        "--device",
        default="auto",
        show_default=True,
        callback=_check_device,
        help="auto, cpu, cuda, cuda:N or mps (falls back to CPU with a warning).",
    ),
    click.option(
        "--batch-size",
        default="auto",
        show_default=True,
        callback=_check_batch_size,
        help="Images per model call; auto picks by device and halves on out-of-memory.",
    ),
    click.option(
        "--seed", type=int, default=0, show_default=True, help="Run seed; each item's seed derives from it."
    ),
    click.option(
        "--max-pixels",
        type=click.IntRange(min=0),
        default=None,
        help="Refuse images above this many pixels (default about 179 M; 0 = no limit).",
    ),
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Threads decoding/encoding while the model runs (default: up to 4).",
    ),
)

batch_options = _stack(
    click.option(
        "--shard",
        metavar="I/N",
        callback=_check_shard,
        help="Process only shard I of N (0-based), to split a batch across machines.",
    ),
    click.option(
        "--summary-json", type=click.Path(dir_okay=False), help="Also write the run summary as JSON here."
    ),
    click.option(
        "--quiet", "-q", "quiet_local", is_flag=True, help="No progress bar, warnings or summary table."
    ),
)


def _check_ray(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value in ("local", "auto") or ":" in value:
        return value
    from pathlib import Path

    hint = "; write --ray=ADDRESS, or put --ray after the inputs" if Path(value).exists() else ""
    raise click.BadParameter(f"{value!r}: use auto, HOST:PORT or ray://HOST:PORT, or no value{hint}")


ray_option = click.option(
    "--ray",
    "ray",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    callback=_check_ray,
    help=(
        "Run on Ray (pip install 'facefill[ray]'): no value = a local Ray for this run, auto = the running "
        "cluster, or HOST:PORT. Inputs and outputs must be on storage every node sees."
    ),
)


def mask_settings(kwargs: dict[str, Any]) -> Any:
    """Build a facefill.io.masks.MaskOptions from the `mask_options` values."""
    from facefill.io.masks import MaskOptions

    return MaskOptions(
        threshold=kwargs["mask_threshold"],
        invert=kwargs["invert_mask"],
        alpha_keep=kwargs["alpha_keep"],
        resize=kwargs["resize_mask"],
        dilate=kwargs["dilate"],
        erode=kwargs["erode"],
    )


def batch_settings(
    ctx_obj: dict[str, Any] | None, kwargs: dict[str, Any], batch_size: int | None = None
) -> Any:
    """Build a facefill.jobs.batch_command.BatchSettings from the shared option values."""
    from facefill.jobs.batch_command import BatchSettings

    obj = ctx_obj or {}
    return BatchSettings(
        overwrite=kwargs["overwrite"],
        workers=kwargs["workers"],
        batch_size=batch_size,
        summary_json=kwargs["summary_json"],
        quiet=bool(obj.get("quiet")) or kwargs["quiet_local"],
        debug=bool(obj.get("debug")),
        ray=kwargs.get("ray"),  # only commands with `ray_option` have it
    )


def _check_face(ctx: click.Context, param: click.Parameter, value: str) -> str | int:
    from facefill.errors import UsageError
    from facefill.faces.select import parse_face_choice

    try:
        return parse_face_choice(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None


face_options = _stack(
    click.option(
        "--face",
        default="largest",
        show_default=True,
        callback=_check_face,
        help="Which faces: largest, center, all, or an index (0 = leftmost).",
    ),
    click.option(
        "--detector",
        type=click.Choice(["hog", "cnn"]),
        default="hog",
        show_default=True,
        help="dlib HOG (fast) or CNN (MMOD: slower on CPU, finds harder faces).",
    ),
)
