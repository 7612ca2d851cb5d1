"""`facefill mask --kind region`: face-region masks (mouth, eyes, lower face...) for real photos.

Each photo gives one mask `NAME_mask.png` at the photo's own (upright) size, the union of the
requested regions over the chosen faces, grown by `--dilate`. The `_mask` suffix lets
`facefill inpaint photos/ --mask masks/` pair masks with their photos. Only click is imported here
at module level; the handler imports cv2/dlib when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def region_masks(request: Any) -> Iterator[tuple[str, Any]]:
    """Handler for facefill.cli.mask: yields (`REL_STEM_mask`, bool H×W) per photo with a face."""
    import numpy as np

    from facefill.errors import FacefillError, UsageError
    from facefill.faces.find import find_faces
    from facefill.faces.regions import LANDMARK_REGIONS, LandmarkRegionProvider
    from facefill.faces.select import parse_face_choice
    from facefill.io.images import read_image
    from facefill.jobs.discover import discover_inputs

    extra = request.extra
    text = extra.get("region_names")
    if not text:
        raise UsageError(f"--kind region needs --region NAME ({REGION_HELP})")
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in LANDMARK_REGIONS]
    if unknown:
        raise UsageError(f"--region {', '.join(unknown)}: unknown; use {REGION_HELP}")
    if not request.inputs:
        raise UsageError(
            "--kind region needs PHOTOS: facefill mask --kind region --region mouth PHOTOS -o DIR"
        )
    choice = parse_face_choice(extra.get("region_face", "largest"))
    provider = LandmarkRegionProvider(dilate=int(extra.get("region_dilate", 0)))
    failed: list[str] = []
    for photo in discover_inputs(list(request.inputs)):
        try:
            image = read_image(photo.path)
            faces = find_faces(image.rgb, choice=choice, source=str(photo.path))
        except FacefillError as exc:  # no face, unreadable photo: report it, go on
            click.echo(f"warning: {exc}; no mask written", err=True)
            failed.append(str(photo.path))
            continue
        mask = np.zeros(image.size, bool)
        for face in faces:
            for region in provider.regions(image.rgb, face, names).values():
                mask |= region > 0.5
        yield photo.rel.with_suffix("").as_posix() + "_mask", mask
    if failed:
        listed = ", ".join(failed[:5])
        raise FacefillError(f"{len(failed)} photo(s) got no mask (see the warnings above): {listed}")
