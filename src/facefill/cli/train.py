"""`facefill train`: train an inpainting model recipe (default facefill-lite) on your own faces.

Only parsing lives here; `facefill.training.launch` builds and runs the training (torchrun included).
Heavy imports (torch, cv2, numpy) happen inside the command so `facefill --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

EPILOG = """\b
Examples:
  facefill train --data faces/ --masks freeform --steps 20000 --out runs/lite
  facefill train --recipe facefill-lite --data faces/ --out runs/lite2
  facefill train --data faces.flist --masks masks/ --crop 128 --out runs/lite --resume
  torchrun --nproc_per_node 4 -m facefill train --data faces/ --device cuda --out runs/ddp
\b
Data: a folder of images (searched recursively), a .flist file (one path per line, relative to
the list), or the L2M-GAN layout (ROOT/train/<class>/* or ROOT/<class>/train/*; --split picks test).
Images are framed once (250×250 LFW deep-funneled: central 160² box; others: central square),
resized to --size and cached as a uint8 array under --cache-dir.
A --masks folder is sampled with random rotations/flips, mixed 3:1 with brush strokes; NVIDIA
irregular masks (NNNNN.png) reserved for benchmarks/inpaint_quality.py are skipped.
\b
Outputs in --out: checkpoints/last.pt (resume), ema_generator.safetensors (the EMA generator,
loadable by `facefill inpaint --model facefill-lite` via a weights override), loss_log.csv
(the total and each loss term; `ssim` is the 1 - SSIM term), samples/step_*.png
(input | mask | output | target); with --val-data, val_log.csv (the EMA generator's loss on fixed
held-out batches at step 0 and at every checkpoint: does the run generalise?).
SIGTERM or Ctrl-C (e.g. `timeout 2h facefill train ...`) finishes the current step, checkpoints and
stops; rerun with --resume to continue exactly there.
"""


def faces_option(flag: str, help: str, required: bool = False):
    """An existing face folder / .flist / L2M-GAN root (--data, --val-data)."""
    return click.option(flag, required=required, type=click.Path(exists=True, path_type=Path), help=help)


@click.command("train", epilog=EPILOG)
@click.option(
    "--recipe",
    default="facefill-lite",
    show_default=True,
    help="Model recipe to train (generator, discriminator, losses, data).",
)
@faces_option("--data", required=True, help="Face folder, .flist file, or L2M-GAN root.")
@click.option("--split", default="train", show_default=True, help="Split folder for the L2M-GAN layout.")
@click.option(
    "--masks",
    "masks",
    default="freeform",
    show_default=True,
    help="freeform, box, or a folder of mask images (white = hole).",
)
@click.option(
    "--size",
    default=256,
    show_default=True,
    type=click.IntRange(32, 2048),
    help="Face size (pixels) in the cache.",
)
@click.option(
    "--crop",
    default=None,
    type=click.IntRange(16, 2048),
    help="Train on random crops of this size (default: full --size).",
)
@click.option(
    "--batch-size", default=8, show_default=True, type=click.IntRange(1, 4096), help="Per-process batch size."
)
@click.option(
    "--steps",
    default=20_000,
    show_default=True,
    type=click.IntRange(1),
    help="Total optimisation steps (incl. resumed ones).",
)
@click.option("--lr", default=None, type=float, help="Generator learning rate (Adam) [recipe's: lite 5e-4].")
@click.option(
    "--lr-d", default=None, type=float, help="Discriminator learning rate (Adam) [recipe's: lite 2e-4]."
)
@click.option(
    "--w-adv",
    default=None,
    type=float,
    help="Weight of the adversarial hinge term, 0 = off [recipe's: lite 0.001].",
)
@click.option(
    "--adv-start",
    default=500,
    show_default=True,
    type=click.IntRange(0),
    help="Step at which the adversarial term starts.",
)
@click.option("--w-ssim", default=None, type=float, help="Weight of the 1 - SSIM term [recipe's: lite 0.5].")
@click.option(
    "--ema",
    default=0.999,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="EMA decay of the exported generator.",
)
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder."
)
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoints/last.pt.")
@click.option(
    "--sample-every",
    default=500,
    show_default=True,
    type=click.IntRange(1),
    help="Steps between sample grids.",
)
@click.option(
    "--ckpt-every", default=1000, show_default=True, type=click.IntRange(1), help="Steps between checkpoints."
)
@click.option(
    "--ckpt-minutes",
    default=5.0,
    show_default=True,
    type=float,
    help="Also checkpoint after this many minutes.",
)
@click.option(
    "--log-every", default=25, show_default=True, type=click.IntRange(1), help="Steps between CSV log rows."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for weights, batches and masks.")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto, cpu, cuda, cuda:N, mps (torchrun: cuda = cuda:LOCAL_RANK).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(0, 64),
    help="Data-loader processes per rank.",
)
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(1, 256),
    help="CPU threads for torch (default: torch's choice).",
)
@faces_option("--val-data", help="Held-out faces (folder, .flist, L2M-GAN root): log the EMA model's loss.")
@click.option("--val-split", default="test", show_default=True, help="Split folder of --val-data (L2M-GAN).")
@click.option(
    "--val-batches",
    default=None,
    type=click.IntRange(1),
    help="Fixed held-out batches per validation, at step 0 and every checkpoint [8; needs --val-data].",
)
@click.option("--no-flip", is_flag=True, help="Disable random horizontal flips.")
@click.option(
    "--option",
    "recipe_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=lambda ctx, param, values: _recipe_options(values),
    help="Recipe constructor option, repeatable (e.g. --option img_size=64 for sacgan); JSON values parsed.",
)
@click.option(
    "--cache-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where decoded faces/masks are cached.",
)
@click.pass_context
def train(ctx: click.Context, **opts) -> None:
    """Train a model recipe on a face dataset (seeded, resumable, EMA, DDP under torchrun)."""
    from facefill.cli.context import run_context
    from facefill.training.launch import launch

    quiet = bool((ctx.obj or {}).get("quiet"))
    context = run_context(ctx, opts)
    launch(train_run(opts), context, log=None if quiet else (lambda line: click.echo(line, err=True)))


def _recipe_options(values: tuple[str, ...]) -> dict[str, object]:
    """("KEY=VALUE", ...) -> {KEY: VALUE}, VALUE decoded as JSON (numbers, lists, true) when it is JSON."""
    import json

    parsed: dict[str, object] = {}
    for text in values:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{text!r} is not KEY=VALUE (e.g. --option img_size=64)")
        try:
            parsed[key.strip()] = json.loads(raw)
        except ValueError:
            parsed[key.strip()] = raw
    return parsed


def train_run(opts: dict):
    """The parsed options as a `facefill.training.launch.TrainRun` (no torch work yet)."""
    import dataclasses

    from facefill.training.launch import TrainRun
    from facefill.training.recipe import DataSpec
    from facefill.training.trainer import TrainConfig

    data = DataSpec(
        data=opts["data"],
        split=opts["split"],
        masks=opts["masks"],
        size=opts["size"],
        crop=opts["crop"],
        batch_size=opts["batch_size"],
        seed=opts["seed"],
        flip=not opts["no_flip"],
        cache_dir=opts["cache_dir"],
    )
    config = TrainConfig(
        steps=opts["steps"],
        lr=opts["lr"],
        lr_d=opts["lr_d"],
        ema=opts["ema"],
        adv_start=opts["adv_start"],
        seed=opts["seed"],
        ckpt_every=opts["ckpt_every"],
        ckpt_minutes=opts["ckpt_minutes"],
        sample_every=opts["sample_every"],
        log_every=opts["log_every"],
        val_batches=opts["val_batches"] or 8,
    )
    val_data = None
    if opts["val_batches"] is not None and opts["val_data"] is None:
        raise click.UsageError("--val-batches needs --val-data (the held-out faces to validate on)")
    if opts["val_data"] is not None:
        val_data = dataclasses.replace(data, data=opts["val_data"], split=opts["val_split"], flip=False)
    weights = {term: opts[f"w_{term}"] for term in ("adv", "ssim") if opts[f"w_{term}"] is not None}
    return TrainRun(
        data=data,
        config=config,
        out=opts["out"],
        recipe=opts["recipe"],
        loss_weights=weights,
        recipe_options=dict(opts["recipe_options"]),
        resume=opts["resume"],
        workers=opts["workers"],
        threads=opts["threads"],
        val_data=val_data,
    )
