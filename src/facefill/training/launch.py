"""Start a training run: join the torchrun process group, build recipe + data + trainer, run, clean up.

`facefill train` only parses its options into a `TrainRun` and calls `launch`; a script (or a test,
or a future cluster launcher) can do the same without the CLI. Under `torchrun` every process calls
`launch` with the same `TrainRun`; ranks come from the environment torchrun sets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from facefill.errors import UsageError
from facefill.runtime.context import RunContext
from facefill.training.recipe import DEFAULT_RECIPE, RECIPES, DataSpec, build_recipe, recipe_names
from facefill.training.trainer import CKPT_NAME, TrainConfig, Trainer


@dataclass(frozen=True)
class TrainRun:
    """One `facefill train` invocation, parsed."""

    data: DataSpec
    config: TrainConfig
    out: Path
    recipe: str = DEFAULT_RECIPE
    recipe_options: dict[str, Any] = field(default_factory=dict)  # constructor options of the recipe
    loss_weights: dict[str, float] = field(default_factory=dict)  # {term: weight} overrides (--w-NAME)
    resume: bool = False
    workers: int = 1
    threads: int | None = None
    val_data: DataSpec | None = None  # held-out faces for val_log.csv (--val-data)

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoints" / CKPT_NAME


def init_distributed(device_spec: str) -> tuple[int, int, torch.device]:
    """(rank, world, device); joins the torchrun group when WORLD_SIZE > 1 (gloo on CPU, nccl on CUDA)."""
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


def close_distributed(clean: bool = True) -> None:
    """Leave the torchrun group; after a clean run, together: a rank that tears gloo down while rank 0
    still writes its checkpoint can make a peer abort (SIGABRT) on the closed connection. After an
    error there is no barrier (the peers may never reach it); torchrun stops them."""
    if torch.distributed.is_initialized():
        if clean:
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def build_trainer(run: TrainRun, rank: int, device: torch.device) -> Trainer:
    """The recipe (with its loss-weight overrides), its batches for this rank, and the trainer."""
    recipe = build_recipe(run.recipe, **run.recipe_options)
    for term, weight in run.loss_weights.items():
        recipe.set_weight(term, weight, option=f"--w-{term}")
    batches = recipe.build_batches(run.data, rank)
    val = recipe.build_batches(run.val_data, 0) if run.val_data is not None and rank == 0 else None
    return Trainer(run.config, batches, run.out, device=device, recipe=recipe, val_batches=val)


def check_run_folder(run: TrainRun) -> None:
    """Known recipe; a new run must not land on an old one; a resumed run needs its checkpoint."""
    if run.recipe not in RECIPES:
        raise UsageError(f"--recipe {run.recipe!r}: unknown; known recipes: {', '.join(recipe_names())}")
    if run.resume and not run.checkpoint.is_file():
        raise UsageError(f"--resume: no checkpoint at {run.checkpoint}; drop --resume to start a new run")
    if not run.resume and run.checkpoint.is_file():
        raise UsageError(f"--out {run.out} already has a checkpoint; add --resume or choose a new --out")


def launch(
    run: TrainRun, context: RunContext, log: Callable[[str], None] | None = None
) -> Trainer:
    """Train `run` on `context.device` (one process, or this rank of a torchrun group); rank 0 logs."""
    check_run_folder(run)
    if run.threads:
        torch.set_num_threads(run.threads)
    rank, world, device = init_distributed(context.device)
    say = log if (log is not None and rank == 0) else (lambda message: None)
    try:
        trainer = build_trainer(run, rank, device)
        if run.resume:
            trainer.load(run.checkpoint)
        say(
            f"training {trainer.recipe.name}: {world} process(es) on {device}, "
            f"step {trainer.step} -> {run.config.steps}"
        )
        # the bar itself appears only on a terminal; context.progress=False turns it off everywhere
        trainer.run(progress=log is not None and context.progress is not False, num_workers=run.workers)
        if trainer.stopped:
            say(f"stopped by {trainer.stopped} at step {trainer.step}; saved, add --resume to go on")
        else:
            say(f"done: {run.out / trainer.recipe.export_name} (step {trainer.step})")
    except BaseException:
        if world > 1:
            close_distributed(clean=False)
        raise
    if world > 1:
        close_distributed()
    return trainer
