"""`facefill eval`: score inpainting models on fixed image–mask pairs and write a report."""

from __future__ import annotations

from pathlib import Path

import click

from facefill.cli.weights_options import weights_options

_DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps (falls back to CPU with a warning)."


@click.command("eval")
@click.option(
    "--images",
    "images_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of ground-truth images.",
)
@click.option(
    "--masks",
    "masks_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of masks (white = hole); resized to each image with nearest.",
)
@click.option(
    "--pairs",
    "pairs_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the image–mask pairs from this pairs.json (from an earlier --make-pairs).",
)
@click.option(
    "--make-pairs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Draw N seeded pairs and save them as REPORT_DIR/pairs.json.",
)
@click.option(
    "--per-bin", is_flag=True, help="With --make-pairs: spread N evenly over the six hole-ratio bins."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --make-pairs and the models.")
@click.option("--model", "models", multiple=True, required=True, help="Model to score (repeat for several).")
@click.option(
    "--output",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (created).",
)
@click.option(
    "--image-size", type=click.IntRange(min=8), help="Resize every image to this square size first."
)
@click.option("--align", is_flag=True, help="FFHQ-align faces first; masks then apply to the aligned crop.")
@click.option(
    "--html", is_flag=True, help="Also write REPORT_DIR/index.html linking tables, plots and sheets."
)
@click.option(
    "--sheet-pairs",
    type=click.IntRange(min=0),
    default=8,
    show_default=True,
    help="Pairs shown in the contact sheet.",
)
@click.option("--no-lpips", is_flag=True, help="Skip LPIPS.")
@click.option("--no-fid", is_flag=True, help="Skip FID.")
@click.option("--no-identity", is_flag=True, help="Skip the face identity distances.")
@click.option(
    "--no-landmarks",
    is_flag=True,
    help="Skip the structure metric (dlib landmark error inside the hole, face detection rate).",
)
@click.option("--device", default="auto", show_default=True, help=_DEVICE_HELP)
@weights_options
@click.pass_context
def eval_command(ctx: click.Context, **kw) -> None:
    """Score models on fixed image–mask pairs: PSNR, SSIM, L1, LPIPS, FID, identity, landmarks.

    \b
    Example:
      facefill eval --images faces/ --masks masks/ --make-pairs 300 --per-bin \\
          --model telea --model ns -o report/ --html
    """
    from facefill.cli.eval_report import run_eval

    run_eval(ctx, **kw)
