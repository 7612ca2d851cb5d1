"""`facefill edit` (alias `edit-attribute`): MaskFaceGAN attribute editing of the faces in photos.

Heavy imports happen inside the command (`--help` stays fast).
"""

from __future__ import annotations

from typing import Any

import click

from facefill.cli.options import (
    batch_options,
    face_options,
    input_options,
    output_options,
    ray_option,
    runtime_options,
)
from facefill.cli.weights_options import weights_options

EPILOG = """\b
Examples:
  facefill edit photo.jpg --attribute mouth_slightly_open -o out/
  facefill edit photos/ --attribute smiling --target 0 --preset fast -o out/
  facefill edit photo.jpg --attribute big_nose --size 1.3 --intensity 0.8 --save-intermediates -o out/

\b
MaskFaceGAN: each face is FFHQ-aligned at the generator's size (1024), a StyleGAN2 W+ code is
optimised so the attribute classifier sees --attribute while the parser's skin (local attributes)
or whole face (global: male, young, pale_skin and every attribute outside the local list) stays
as in the photo, the noise maps are refined, and the result is blended into the attribute region
and pasted back into the photo. --preset paper = the reference's 1000 + 500 steps (hours on a
CPU); fast = 40 steps at a 256 px rendering (minutes). Weights: stylegan2-ffhq-1024,
maskfacegan-classifier, maskfacegan-parser (or bisenet-faceparse with --parser bisenet),
maskfacegan-e4e (--e4e-init / global), lpips-vgg-lin + vgg16-imagenet (global).
Outputs: NAME.EXT (same size/mode/EXIF), NAME_aligned.png; with --save-intermediates
NAME_latent.safetensors, NAME_masks.png (recon | blend | dynamic), NAME_strip.png (input | G | result).
"""

_SCHEDULE_FIELDS = {
    "steps_latent": "steps_latent", "steps_noise": "steps_noise", "start_classf": "start_steps_classf",
    "start_seg": "start_steps_seg", "dynamic_masking_iters": "dynamic_masking_iters",
    "lr_latent": "lr_latent", "lr_noise": "lr_noise", "smoothing": "smoothing",
    "loss_resolution": "loss_resolution",
}
NONNEG = click.IntRange(min=0)


def _schedule_options(fn: Any) -> Any:
    for decorator in reversed((
        click.option("--preset", type=click.Choice(["paper", "default", "fast"]), default="default",
                     show_default=True, help="Schedule; paper = MaskFaceGAN's config.yml (1000 + 500)."),
        click.option("--steps-latent", type=NONNEG, help="steps.latent (iterations of the latent loop)."),
        click.option("--steps-noise", type=NONNEG, help="steps.noise (0 = no noise phase)."),
        click.option("--start-classf", type=NONNEG, help="loss.start_steps.classf (local mode)."),
        click.option("--start-seg", type=NONNEG, help="loss.start_steps.seg (= dynamic masking start)."),
        click.option("--dynamic-masking-iters", type=NONNEG, help="dynamic_masking_iters."),
        click.option("--lr-latent", type=float, help="optimizer.lr_latent."),
        click.option("--lr-noise", type=float, help="optimizer.lr_noise."),
        click.option("--smoothing", type=click.FloatRange(0, 0.5), help="Label smoothing (target |t - s|)."),
        click.option("--loss-resolution", type=NONNEG, help="Loop renders/scores at this size (0 = full)."),
    )):
        fn = decorator(fn)
    return fn


@click.command(epilog=EPILOG)
@input_options
@click.option("--attribute", "attributes", multiple=True, required=True,
              help="Classifier attribute (e.g. smiling, big_nose, male); repeat to edit several at once.")
@click.option("--target", type=click.IntRange(0, 1), default=1, show_default=True,
              help="1 = add, 0 = remove.")
@click.option("--intensity", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Probability the classifier should give the requested outcome (default 0.95).")
@click.option("--size", "region_size", type=click.FloatRange(min=0), default=0.0,
              help="Relative size of the attribute region (1.5 = 50 % larger; 0 = off).")
@click.option("--blend-option", type=click.Choice(["include_skin", "no_skin"]), default="include_skin",
              show_default=True)
@_schedule_options
@click.option("--e4e-init", is_flag=True, help="Start from the e4e inversion (always for global attributes).")
@click.option("--force-global", is_flag=True, help="Run a local attribute in global mode.")
@click.option("--noise-normalize", type=click.Choice(["reference", "after_step"]), default="reference",
              show_default=True, help="reference: MaskFaceGAN's order; after_step: StyleGAN2 projector's.")
@click.option("--parser", type=click.Choice(["maskfacegan", "bisenet"]), default="maskfacegan",
              show_default=True, help="Face parser for the masks (bisenet: 19 classes mapped to 9).")
@click.option("--save-intermediates", is_flag=True, help="Also write the latent, the masks and a strip.")
@face_options
@output_options
@runtime_options
@batch_options
@ray_option
@weights_options
@click.pass_context
def edit(ctx: click.Context, **kw: Any) -> None:
    """Edit INPUTS (files, folders or globs): change --attribute of each photo's faces."""
    from facefill.cli.context import run_context
    from facefill.cli.options import batch_settings
    from facefill.jobs.batch_command import run_batch_command
    from facefill.jobs.edit_job import EditProcessor, EditSettings
    from facefill.jobs.plan import PlanRequest
    from facefill.pipelines.edit import attribute_spec, preset

    attributes = tuple(kw["attributes"])
    attribute_spec(attributes, force_global=kw["force_global"])  # unknown names fail before loading
    schedule = preset(kw["preset"], **{field: kw[opt] for opt, field in _SCHEDULE_FIELDS.items()})
    settings = EditSettings(
        attributes=attributes, schedule=schedule, quality_preset=kw["preset"], target=kw["target"],
        intensity=kw["intensity"], size=kw["region_size"], blend_option=kw["blend_option"],
        e4e_init=kw["e4e_init"], force_global=kw["force_global"], noise_normalize=kw["noise_normalize"],
        parser=kw["parser"], save_intermediates=kw["save_intermediates"], face=kw["face"],
        detector=kw["detector"], quality=kw["quality"], max_pixels=kw["max_pixels"],
    )
    request = PlanRequest(
        inputs=tuple(kw["inputs"]), output=kw["output"], fmt=kw["fmt"].lower(), recursive=kw["recursive"],
        require_mask=False, shard=kw["shard"], default_suffix="_" + "+".join(attributes),
    )
    context = run_context(ctx, kw)
    batch = batch_settings(ctx.obj, kw, batch_size=kw["batch_size"])
    code = run_batch_command(
        request, lambda warn: EditProcessor(settings, context, warn), batch, context=context
    )
    ctx.exit(code)
