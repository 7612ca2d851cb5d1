"""`facefill inpaint`: fill the masked region of one photo or a folder of thousands.

Heavy imports (torch, cv2, numpy) happen inside the command, so `--help` stays fast.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import click

from facefill.cli.options import (
    batch_options,
    input_options,
    mask_options,
    output_options,
    ray_option,
    runtime_options,
)
from facefill.cli.weights_options import weights_options
from facefill.pipelines.defaults import DEFAULT_CONDITIONED_MODEL, DEFAULT_INPAINT_MODEL

if TYPE_CHECKING:
    from facefill.runtime.context import RunContext

EPILOG = """\b
Examples:
  facefill inpaint photo.jpg --mask mask.png -o out.jpg
  facefill inpaint photos/ --mask masks/ -o out/ --recursive
  facefill inpaint 'shots/*.png' --mask watermark.png -o clean/ --shard 0/4
  facefill inpaint img.png --mask face_mask.png --exemplar ref.png -o out.png      # sacgan
  facefill inpaint photos/ --mask mouth_masks/ --attribute mouth_open -o out/      # sacgan

\b
Masks: white = hole. A mask folder is matched by relative path, then stem, then {stem}_mask.
Each output gets a sidecar NAME.json (model, seed, hashes, timings). Existing outputs are
skipped, so rerunning an interrupted command resumes it. Exit code 1 if any image failed.
"""


@click.command(epilog=EPILOG)
@input_options
@click.option(
    "--mask", "-m", required=True, type=click.Path(exists=True), help="Mask file for all images, or a folder."
)
@click.option(
    "--exemplar",
    type=click.Path(exists=True),
    help="Reference face (file, or a folder matched by name) whose mouth the hole takes (sacgan); "
    "its class is measured from its landmarks unless --attribute names it.",
)
@click.option(
    "--attribute",
    metavar="CLASS",
    default=None,
    help="Fill every hole as this class (sacgan: mouth_closed, mouth_open); with --exemplar, the "
    "exemplar's class.",
)
@click.option(
    "--model",
    default=None,
    help=(
        f"facefill-lite-v2 or facefill-lite (v1), sacgan (shipped face models; default "
        f"{DEFAULT_INPAINT_MODEL}, or {DEFAULT_CONDITIONED_MODEL} with --exemplar / --attribute), "
        "telea or ns (classical), spl (train it with `facefill train --recipe spl`), or "
        "deepfillv2-celebahq, deepfillv2-places2, lama (these need `facefill weights`)."
    ),
)
@click.option(
    "--no-align", is_flag=True, help="Fixed-size face models: crop around the hole, not the aligned face."
)
@output_options
@mask_options
@runtime_options
@batch_options
@ray_option
@weights_options
@click.pass_context
def inpaint(ctx: click.Context, **kw: Any) -> None:
    """Fill the masked region (white = hole) of each image in INPUTS (files, folders or globs)."""
    from facefill.cli.context import run_context
    from facefill.cli.options import batch_settings, mask_settings
    from facefill.jobs.batch_command import run_batch_command
    from facefill.jobs.inpaint_job import InpaintProcessor, InpaintSettings
    from facefill.jobs.plan import PlanRequest
    from facefill.pipelines.defaults import default_inpaint_model

    request = PlanRequest(
        inputs=tuple(kw["inputs"]),
        output=kw["output"],
        fmt=kw["fmt"].lower(),
        recursive=kw["recursive"],
        mask=kw["mask"],
        exemplar=kw["exemplar"],
        default_suffix="_inpainted",
        shard=kw["shard"],
    )
    model = kw["model"] or default_inpaint_model(
        exemplar=kw["exemplar"] is not None, attribute=kw["attribute"] is not None
    )
    settings = InpaintSettings(
        model=model,
        feather=kw["feather"],
        quality=kw["quality"],
        max_pixels=kw["max_pixels"],
        mask_options=mask_settings(kw),
        align_faces=not kw["no_align"],
        attribute=kw["attribute"],
    )
    context = run_context(ctx, kw)
    batch = batch_settings(ctx.obj, kw, batch_size=kw["batch_size"])
    has_exemplar = kw["exemplar"] is not None
    check_model(settings.model, exemplar=has_exemplar, attribute=settings.attribute, context=context)

    def make_processor(warn):  # runs here, or in each Ray actor
        return InpaintProcessor(settings, warn, context=context)

    code = run_batch_command(request, make_processor, batch, context=context)
    ctx.exit(code)


def check_model(
    name: str, *, exemplar: bool, attribute: str | None, context: RunContext
) -> None:
    """Refuse (exit 2, one line) an unknown --model, an option the model cannot honour, or a class
    its weights do not know (checked from the weights' metadata when they are at hand)."""
    from facefill.errors import ModelError, UsageError, WeightsError
    from facefill.pipelines.registry import INPAINT, get_model, require_attribute_class, require_capabilities

    try:
        spec = get_model(INPAINT, name)
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    needed = {"exemplar": "--exemplar"} if exemplar else {}
    if attribute is not None:
        needed["attribute"] = "--attribute"
    require_capabilities(spec, INPAINT, needed)
    if attribute is not None:
        # weights not at hand yet (WeightsError): the run loads or downloads them and reports there
        with contextlib.suppress(WeightsError):
            require_attribute_class(spec, attribute, context)
