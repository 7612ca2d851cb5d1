"""`facefill train`: train facefill-lite (Telea fill + residual U-Net) on your own faces.

Heavy imports (torch, cv2, numpy) happen inside the command so `facefill --help` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

EPILOG = """\b
Examples:
  facefill train --data faces/ --masks freeform --steps 20000 --out runs/lite
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
loadable by `facefill inpaint --model facefill-lite` via a weights override), loss_log.csv,
samples/step_*.png (input | mask | output | target).
"""


@click.command("train", epilog=EPILOG)
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Face folder, .flist file, or L2M-GAN root.",
)
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
@click.option("--lr", default=5e-4, show_default=True, type=float, help="Generator learning rate (Adam).")
@click.option(
    "--lr-d", default=2e-4, show_default=True, type=float, help="Discriminator learning rate (Adam)."
)
@click.option(
    "--w-adv",
    default=0.001,
    show_default=True,
    type=float,
    help="Weight of the SN-PatchGAN hinge term (0 = off).",
)
@click.option(
    "--adv-start",
    default=500,
    show_default=True,
    type=click.IntRange(0),
    help="Step at which the adversarial term starts.",
)
@click.option("--w-ssim", default=0.5, show_default=True, type=float, help="Weight of the (1 - SSIM) term.")
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
@click.option("--no-flip", is_flag=True, help="Disable random horizontal flips.")
@click.option(
    "--cache-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where decoded faces/masks are cached.",
)
@click.pass_context
def train(ctx: click.Context, **opts) -> None:
    """Train facefill-lite on a face dataset (seeded, resumable, EMA, DDP under torchrun)."""
    from facefill.errors import UsageError

    out: Path = opts["out"]
    ckpt = out / "checkpoints" / "last.pt"
    if opts["resume"] and not ckpt.is_file():
        raise UsageError(f"--resume: no checkpoint at {ckpt}; drop --resume to start a new run")
    if not opts["resume"] and ckpt.is_file():
        raise UsageError(f"--out {out} already has a checkpoint; add --resume or choose a new --out")

    import torch

    if opts["threads"]:
        torch.set_num_threads(opts["threads"])
    rank, world, device = _init_distributed(opts["device"])
    try:
        trainer = _build_trainer(opts, rank, device)
        if opts["resume"]:
            trainer.load(ckpt)
        if rank == 0 and not ctx.obj.get("quiet"):
            click.echo(
                f"training facefill-lite: {world} process(es) on {device}, "
                f"step {trainer.step} -> {opts['steps']}",
                err=True,
            )
        trainer.run(progress=not ctx.obj.get("quiet"), num_workers=opts["workers"])
        if rank == 0 and not ctx.obj.get("quiet"):
            click.echo(f"done: {out / 'ema_generator.safetensors'} (step {trainer.step})", err=True)
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def _init_distributed(device_spec: str):
    """Join the torchrun process group when WORLD_SIZE > 1 (gloo on CPU, nccl on CUDA)."""
    import torch

    from facefill.runtime.device import resolve_device

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = resolve_device(device_spec)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return rank, world, device


def _build_trainer(opts: dict, rank: int, device):
    from platformdirs import user_cache_dir

    from facefill.training.dataset import (
        InpaintBatches,
        MaskSampler,
        build_face_cache,
        list_images,
        load_mask_bank,
    )
    from facefill.training.trainer import TrainConfig, Trainer

    cache_dir = opts["cache_dir"] or Path(user_cache_dir("facefill")) / "train"
    size, crop = opts["size"], opts["crop"]
    if crop is not None and crop > size:
        from facefill.errors import UsageError

        raise UsageError(f"--crop {crop} is larger than --size {size}; use a crop <= size")
    faces = build_face_cache(list_images(opts["data"], opts["split"]), cache_dir, size)
    kind = opts["masks"]
    if kind in ("freeform", "box"):
        sampler = MaskSampler(kind)
    else:
        folder = Path(kind)
        if not folder.is_dir():
            from facefill.errors import UsageError

            raise UsageError(f"--masks {kind}: expected freeform, box, or an existing folder of mask images")
        sampler = MaskSampler("bank", load_mask_bank(folder, size, cache_dir))
    config = TrainConfig(
        steps=opts["steps"],
        batch_size=opts["batch_size"],
        crop=crop if crop and crop < size else None,
        lr=opts["lr"],
        lr_d=opts["lr_d"],
        ema=opts["ema"],
        w_adv=opts["w_adv"],
        w_ssim=opts["w_ssim"],
        seed=opts["seed"],
        ckpt_every=opts["ckpt_every"],
        ckpt_minutes=opts["ckpt_minutes"],
        sample_every=opts["sample_every"],
        log_every=opts["log_every"],
        adv_start=opts.get("adv_start", 500),
        **{k: tuple(opts[k]) for k in ("widths", "dilations") if opts.get(k)},
    )
    batches = InpaintBatches(
        faces,
        sampler,
        opts["batch_size"],
        crop=config.crop,
        seed=opts["seed"],
        rank=rank,
        flip=not opts["no_flip"],
    )
    return Trainer(config, batches, opts["out"], device=device)
