"""`facefill synthesize-discrete`: add a face mask, glasses or sunglasses (SD-GAN), and its
`derive-direction` helper.

One command name holds both so the feature has one entry point and the helper sits beside the
command that consumes its output: `synthesize-discrete PHOTOS...` edits photos (the default
sub-command), `synthesize-discrete derive-direction ...` fits a direction for a generator.
Heavy imports happen inside the commands (`--help` stays fast).
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

ATTRIBUTES = ("mask", "glasses", "sunglasses")
DERIVE = "derive-direction"

EPILOG = """\b
Examples:
  facefill synthesize-discrete photo.jpg --attribute glasses -o out/
  facefill synthesize-discrete photos/ --attribute mask --stack ffhq --direction mask.safetensors -o out/
  facefill synthesize-discrete derive-direction --attribute sunglasses --num 20000 -o sunglasses.safetensors

\b
Stacks: sdgan = SD-GAN's 256 px generator + its fusion net (n_o) + unsup3d (import the files from
the SD-GAN README's Google Drive links: `facefill weights info sdgan-stylegan2-256`); ffhq = e4e +
the FFHQ-1024 StyleGAN2 (downloadable), n_o = 0. The edit is G(w + strength * n_b + n_o) with
SD-GAN's truncation, blended into the accessory region and pasted back into the photo. Outputs:
NAME.EXT (the photo, same size/mode/EXIF), NAME_aligned.png, and with --save-intermediates
NAME_latent.safetensors and NAME_strip.png (input | G(w) | G(edit) | result | blend weights).
"""


class _DefaultEdit(click.Group):
    """A group whose first argument, unless it names a sub-command, starts the photo edit."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["edit", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultEdit, epilog=EPILOG)
def synthesize_discrete() -> None:
    """Add a discrete accessory (face mask, glasses, sunglasses) to the faces in photos."""


def _stack_options(fn: Any) -> Any:
    for decorator in reversed(
        (
            click.option("--attribute", type=click.Choice(ATTRIBUTES), required=True, help="What to add."),
            click.option(
                "--stack",
                type=click.Choice(["sdgan", "ffhq"]),
                default="sdgan",
                show_default=True,
                help="Generator stack (see below).",
            ),
            click.option(
                "--direction",
                type=click.Path(exists=True, dir_okay=False),
                help="Direction file n_b (.npy/.pt/.safetensors; (512,), (1,512) or (rows,512)). "
                "Default: weights entry STACK-direction-ATTRIBUTE.",
            ),
        )
    ):
        fn = decorator(fn)
    return fn


@synthesize_discrete.command("edit", epilog=EPILOG)
@input_options
@_stack_options
@click.option("--strength", type=float, default=1.0, show_default=True, help="α in w + α·n_b + n_o.")
@click.option(
    "--no-offset", is_flag=True, help="sdgan stack: skip the fusion net (n_o = 0, InterFaceGAN baseline)."
)
@click.option(
    "--refine-steps",
    type=click.IntRange(min=0),
    default=None,
    help="Latent refinement steps after inversion (default: 0 with e4e, 50 without an encoder).",
)
@click.option("--save-intermediates", is_flag=True, help="Also write the latents and a before/after strip.")
@face_options
@output_options
@runtime_options
@batch_options
@ray_option
@weights_options
@click.pass_context
def edit(ctx: click.Context, **kw: Any) -> None:
    """Edit INPUTS (files, folders or globs): add --attribute to each photo's faces."""
    from facefill.cli.context import run_context
    from facefill.cli.options import batch_settings
    from facefill.jobs.batch_command import run_batch_command
    from facefill.jobs.discrete_job import DiscreteProcessor, DiscreteSettings
    from facefill.jobs.plan import PlanRequest
    from facefill.pipelines.discrete.loading import StackChoice, weights_needed

    if kw["no_offset"] and kw["stack"] != "sdgan":
        from facefill.errors import UsageError

        raise UsageError("--no-offset: only the sdgan stack has an offset network (ffhq uses n_o = 0)")
    choice = StackChoice(kw["stack"], kw["attribute"], kw["direction"], offset=not kw["no_offset"])
    settings = DiscreteSettings(
        choice=choice,
        strength=kw["strength"],
        refine_steps=kw["refine_steps"],
        save_intermediates=kw["save_intermediates"],
        face=kw["face"],
        detector=kw["detector"],
        quality=kw["quality"],
        max_pixels=kw["max_pixels"],
        weights=weights_needed(choice),
    )
    request = PlanRequest(
        inputs=tuple(kw["inputs"]),
        output=kw["output"],
        fmt=kw["fmt"].lower(),
        recursive=kw["recursive"],
        require_mask=False,
        shard=kw["shard"],
        default_suffix=f"_{kw['attribute']}",
    )
    context = run_context(ctx, kw)
    batch = batch_settings(ctx.obj, kw, batch_size=kw["batch_size"])
    code = run_batch_command(
        request, lambda warn: DiscreteProcessor(settings, context, warn), batch, context=context
    )
    ctx.exit(code)


@synthesize_discrete.command(DERIVE)
@_stack_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    required=True,
    help="Direction file to write (.safetensors).",
)
@click.option(
    "--latents", type=click.Path(exists=True, dir_okay=False), help="Your own W samples (N,512) .npy."
)
@click.option(
    "--scores", type=click.Path(exists=True, dir_okay=False), help="Their attribute scores (N,) .npy."
)
@click.option(
    "--num", type=click.IntRange(min=10), default=20000, show_default=True, help="Samples to generate."
)
@click.option(
    "--ratio",
    type=click.FloatRange(0, 0.5, min_open=True),
    default=0.02,
    show_default=True,
    help="Top/bottom fraction kept as positives/negatives (InterFaceGAN: 0.02).",
)
@click.option("--method", type=click.Choice(["svm", "logistic"]), default="svm", show_default=True)
@runtime_options
@weights_options
@click.pass_context
def derive_direction(ctx: click.Context, **kw: Any) -> None:
    """Fit an InterFaceGAN-style direction: from --latents/--scores, or by sampling the stack's
    generator and scoring each image with the attribute classifier (maskfacegan-classifier)."""
    from facefill.cli.context import run_context
    from facefill.pipelines.discrete.fit_direction import derive

    context = run_context(ctx, kw)
    message = derive(kw, context)
    click.echo(message, err=True)
