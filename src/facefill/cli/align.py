"""`facefill align`: detect faces, write FFHQ-aligned crops with their exact transforms, paste back.

Heavy imports (cv2, dlib, numpy) happen inside the command, so `--help` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from facefill.cli.options import batch_options, face_options, input_options, output_options

EPILOG = """\b
Examples:
  facefill align photos/ -o aligned/ --size 1024
  facefill align group.jpg -o aligned/ --face all
  facefill align photos/ -o restored/ --paste-back edited_crops/ --transforms aligned/

\b
Each face gives NAME_face0.png (+ NAME_face1.png ... with --face all) and NAME_face0.json with the
crop->photo transform, the FFHQ quad and the 68 landmarks. --paste-back CROPS_DIR puts processed
crops (same names, any size) back into the original photos at full resolution, reading the
transforms from --transforms (default: CROPS_DIR): each face is blended in with a feathered face
mask, and pixels the crop left unchanged keep the photo's own values. A photo without a face is
reported and the batch goes on; the exit code is 1 if any photo failed.
"""


@click.command(epilog=EPILOG)
@input_options
@output_options
@click.option(
    "--size", type=click.IntRange(16, 4096), default=1024, show_default=True, help="Crop side in pixels."
)
@face_options
@click.option(
    "--upsample",
    type=click.IntRange(0, 4),
    default=1,
    show_default=True,
    help="Detector upsampling passes: each doubles the image to find smaller faces (slower).",
)
@click.option(
    "--face-threshold",
    type=float,
    default=None,
    help="Minimum detector score. Default: dlib's cut-off (0.0), and weak detections (< 0.3) are "
    "dropped when a stronger face is present.",
)
@click.option(
    "--no-rotations",
    is_flag=True,
    help="Do not retry photos without an upright face turned by 90/180/270 degrees.",
)
@click.option(
    "--paste-back",
    "paste_back",
    type=click.Path(exists=True, file_okay=False),
    help="Folder of processed crops to put back into INPUTS (the original photos).",
)
@click.option(
    "--transforms",
    type=click.Path(exists=True, file_okay=False),
    help="Folder with the align JSONs for --paste-back (default: the --paste-back folder).",
)
@click.option(
    "--feather",
    type=click.FloatRange(min=0),
    default=None,
    metavar="PX",
    help="Paste-back: fade of the face mask in crop pixels (default: 6% of the crop size).",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=0),
    default=None,
    help="Refuse images above this many pixels (default about 179 M; 0 = no limit).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Threads decoding/encoding while faces are aligned (default: up to 4).",
)
@batch_options
@click.pass_context
def align(ctx: click.Context, **kw: Any) -> None:
    """Detect and FFHQ-align the faces in INPUTS (files, folders or globs), or paste crops back."""
    from pathlib import Path

    from facefill.cli.context import run_context
    from facefill.cli.options import batch_settings
    from facefill.errors import UsageError
    from facefill.jobs.align_job import (
        AlignProcessor,
        AlignSettings,
        PasteBackProcessor,
        PasteSettings,
        retarget_items,
    )
    from facefill.jobs.batch_command import run_batch_command
    from facefill.jobs.outputs import looks_like_image_file
    from facefill.jobs.plan import PlanRequest, build_plan

    if not kw["output"] or looks_like_image_file(Path(kw["output"])):
        raise UsageError("facefill align needs an output folder: add -o DIR")
    if kw["transforms"] and not kw["paste_back"]:
        raise UsageError("--transforms only applies with --paste-back CROPS_DIR")
    request = PlanRequest(
        inputs=tuple(kw["inputs"]),
        output=kw["output"],
        fmt=kw["fmt"].lower(),
        recursive=kw["recursive"],
        require_mask=False,
        shard=kw["shard"],
    )
    batch = batch_settings(ctx.obj, kw, batch_size=1)
    context = run_context(ctx, kw)
    if kw["paste_back"]:
        crops = Path(kw["paste_back"])
        paste = PasteSettings(
            crops=crops,
            transforms=Path(kw["transforms"]) if kw["transforms"] else crops,
            feather=kw["feather"],
            quality=kw["quality"],
            max_pixels=kw["max_pixels"],
        )
        code = run_batch_command(
            request, lambda warn: PasteBackProcessor(paste, warn), batch, context=context
        )
    else:
        settings = AlignSettings(
            size=kw["size"],
            face=kw["face"],
            detector=kw["detector"],
            upsample=kw["upsample"],
            threshold=kw["face_threshold"],
            try_rotations=not kw["no_rotations"],
            quality=kw["quality"],
            max_pixels=kw["max_pixels"],
        )
        code = run_batch_command(
            request,
            lambda warn: AlignProcessor(settings, warn),
            batch,
            plan=lambda req: retarget_items(build_plan(req)),
            context=context,
        )
    ctx.exit(code)
