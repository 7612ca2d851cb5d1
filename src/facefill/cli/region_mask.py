"""`facefill mask --kind region`: the options for face-region masks (mouth, eyes, lower face...).

The work itself (one `NAME_mask.png` per photo) is facefill.jobs.region_mask_job, run by the batch
runner. Only click is imported here at module level; validation imports the faces package lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

REGION_HELP = "eyes, brows, nose, mouth, lips, face, lower_face (comma list = union)"


def region_options(func: F) -> F:
    """Options used only by `--kind region`; their values reach the handler in `request.extra`."""
    func = click.option(
        "--face",
        "region_face",
        default="largest",
        show_default=True,
        help="--kind region: which faces (largest, center, all, or an index from the left).",
    )(func)
    func = click.option(
        "--dilate",
        "region_dilate",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        metavar="PX",
        help="--kind region: grow the region by PX pixels.",
    )(func)
    func = click.option(
        "--region", "region_names", default=None, metavar="NAMES", help=f"--kind region: {REGION_HELP}."
    )(func)
    return func


def region_settings(extra: dict[str, Any], inputs: tuple[str, ...]) -> Any:
    """Validate the `--kind region` options into a facefill.jobs.region_mask_job.RegionSettings."""
    from facefill.errors import UsageError
    from facefill.faces.regions import LANDMARK_REGIONS
    from facefill.faces.select import parse_face_choice
    from facefill.jobs.region_mask_job import RegionSettings

    text = extra.get("region_names")
    if not text:
        raise UsageError(f"--kind region needs --region NAME ({REGION_HELP})")
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in LANDMARK_REGIONS]
    if unknown:
        raise UsageError(f"--region {', '.join(unknown)}: unknown; use {REGION_HELP}")
    if not inputs:
        raise UsageError(
            "--kind region needs PHOTOS: facefill mask --kind region --region mouth PHOTOS -o DIR"
        )
    choice = parse_face_choice(extra.get("region_face", "largest"))
    return RegionSettings(regions=tuple(names), face=choice, dilate=int(extra.get("region_dilate", 0)))
