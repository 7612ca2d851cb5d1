"""The training loop behind `facefill train`, shared by every model recipe (training/recipe.py).

The loop knows no model: the recipe gives the generator, discriminator, data, loss terms and export.
Properties that matter:
- Deterministic: batch `step` depends only on (seed, step, rank) and models are seeded, so a run resumed
  from `checkpoints/last.pt` takes exactly the steps an uninterrupted run would.
- Always resumable: `last.pt` (generator, EMA, discriminator, optimisers, step) is written atomically every
  `ckpt_every` steps and every `ckpt_minutes`, plus on exit; the EMA generator is also exported (the
  recipe's `export_name`, `ema_generator.safetensors` by default) so a usable model exists at any time.
- Stoppable: SIGTERM / SIGINT (a `timeout`, a pre-emption, Ctrl-C) ends the run after the current step
  with a checkpoint, so nothing is lost (training/stop.py); `stopped` names the signal.
- Validated: with held-out `val_batches` (`--val-data`), the EMA generator's loss on the same fixed
  batches is logged to `val_log.csv` at step 0 and at every checkpoint (training/validation.py).
- Distributed: under `torchrun` the models are wrapped in DistributedDataParallel (gloo on CPU, nccl on
  CUDA); each rank draws its own batches (rank is part of the batch seed); only rank 0 writes files.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from facefill.errors import UsageError
from facefill.training.recipe import Recipe, build_recipe, unwrap
from facefill.training.stop import StopSignal, ignore_stop_signals
from facefill.training.validation import append_row, validation_loss

CKPT_NAME = "last.pt"


@dataclass
class TrainConfig:
    """The loop's settings (saved into the checkpoint for the record); model settings live in the recipe."""

    steps: int = 10_000
    lr: float | None = None  # None: the recipe's
    lr_d: float | None = None
    ema: float = 0.999
    adv_start: int = 500  # steps before the adversarial term (and D updates) switch on
    seed: int = 0
    ckpt_every: int = 500
    ckpt_minutes: float = 3.0
    sample_every: int = 500
    log_every: int = 25
    val_batches: int = 8  # held-out batches per validation (with --val-data)
    extra: dict[str, Any] = field(default_factory=dict)


def _dist() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class Trainer:
    """Owns models, optimisers, EMA and the run folder; `run()` trains until `config.steps`.

    `batches` is what `recipe.build_batches` returned (tests may pass an in-memory equivalent);
    `val_batches`, when given, the same for held-out faces.
    """

    def __init__(
        self,
        config: TrainConfig,
        batches: Any,
        run_dir: str | Path,
        device: str | torch.device = "cpu",
        recipe: Recipe | None = None,
        val_batches: Any = None,
    ) -> None:
        self.config, self.batches, self.val_batches = config, batches, val_batches
        self.recipe = recipe if recipe is not None else build_recipe()
        self.run_dir = Path(run_dir)
        self.device = torch.device(device)
        self.rank, self.world = _dist()
        self.lr = config.lr if config.lr is not None else self.recipe.lr
        self.lr_d = config.lr_d if config.lr_d is not None else self.recipe.lr_d
        torch.manual_seed(config.seed)
        # channels_last: ~1.6x faster convolutions on CPU (oneDNN), also the right layout for CUDA
        cl = torch.channels_last
        g = self.recipe.build_generator().to(self.device, memory_format=cl)
        d = self.recipe.build_discriminator()
        d = d.to(self.device, memory_format=cl) if d is not None else None
        self.ema = copy.deepcopy(g).eval().requires_grad_(False)
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            g = nn.parallel.DistributedDataParallel(g, device_ids=ids)
            d = nn.parallel.DistributedDataParallel(d, device_ids=ids) if d is not None else None
        self.g, self.d = g, d
        self.opt_g = torch.optim.Adam(g.parameters(), lr=self.lr, betas=self.recipe.betas_g)
        betas_d = self.recipe.betas_d
        self.opt_d = torch.optim.Adam(d.parameters(), lr=self.lr_d, betas=betas_d) if d is not None else None
        self.step = 0
        self.stopped: str | None = None  # the signal that ended the last run() early, if any
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self._last_ckpt_time = time.monotonic()

    # ------------------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "elapsed": self.elapsed,
            "generator": unwrap(self.g).state_dict(),
            "ema": self.ema.state_dict(),
            "discriminator": unwrap(self.d).state_dict() if self.d is not None else {},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict() if self.opt_d is not None else {},
            "config": asdict(self.config),
            "recipe": self.recipe.options(),
        }

    def save(self) -> Path:
        """Atomically write checkpoints/last.pt and the EMA export (rank 0 only)."""
        ckpt_dir = self.run_dir / "checkpoints"
        target = ckpt_dir / CKPT_NAME
        if self.rank == 0:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            torch.save(self.state(), tmp)
            os.replace(tmp, target)
            self.recipe.export(self.ema, self.run_dir / self.recipe.export_name, self.step)
            self.validate()
        self._last_ckpt_time = time.monotonic()
        return target

    def load(self, path: str | Path) -> None:
        """Restore everything saved by `save` (weights_only: no pickled code is executed)."""
        from facefill.weights.safe_load import load_torch_pickle

        state = load_torch_pickle(Path(path))
        trained = state.get("recipe", {}).get("name", self.recipe.name)
        if trained != self.recipe.name:
            raise UsageError(f"--resume: {path} was trained by recipe {trained}; add --recipe {trained}")
        unwrap(self.g).load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.d is not None and self.opt_d is not None:
            unwrap(self.d).load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])
        self.elapsed = float(state.get("elapsed", 0.0))
        # allow a resumed run to change the learning rate
        for opt, lr in ((self.opt_g, self.lr), (self.opt_d, self.lr_d)):
            for group in opt.param_groups if opt is not None else ():
                group["lr"] = lr

    # ------------------------------------------------------------------------------- step
    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One generator (and, after `adv_start`, discriminator) update; returns the loss terms."""
        recipe = self.recipe
        batch = recipe.to_device(batch, self.device)
        w_adv = recipe.loss_weights.get("adv", 0.0)
        use_adv = self.d is not None and w_adv > 0 and self.step >= self.config.adv_start
        pred, terms = recipe.generator_step(self.g, batch)
        loss: torch.Tensor | None = None
        for name, term in terms.items():
            weighted = recipe.loss_weights[name] * term
            loss = weighted if loss is None else loss + weighted
        assert loss is not None, f"recipe {recipe.name} returned no loss terms"
        adv = torch.zeros((), device=self.device)
        if use_adv:
            # the unwrapped critic: no DDP gradient sync for D during the generator's step
            critic = unwrap(self.d).requires_grad_(False)
            adv = recipe.adversarial_loss(critic, pred, batch)
            loss = loss + w_adv * adv
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        d_loss = torch.zeros((), device=self.device)
        if use_adv:
            unwrap(self.d).requires_grad_(True)
            d_loss = recipe.critic_loss(self.d, pred, batch)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        self._update_ema()
        self.step += 1
        return {
            "loss": loss.item(),
            **{name: term.item() for name, term in terms.items()},
            "g_adv": adv.item(),
            "d": d_loss.item(),
        }

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.ema.parameters(), unwrap(self.g).parameters(), strict=True):
            e.lerp_(p.detach(), 1 - decay)
        for e, b in zip(self.ema.buffers(), unwrap(self.g).buffers(), strict=True):
            e.copy_(b)

    # ---------------------------------------------------------------------------- outputs
    @torch.no_grad()
    def write_samples(self, batch: dict[str, Any], n: int = 4) -> Path:
        """PNG grid, one row per sample: input (hole grey) | mask | EMA output composite | target."""
        tensors = self.recipe.to_device(batch, self.device)
        pred = self.recipe.predict(self.ema, {k: t[:n] for k, t in tensors.items()})
        image, mask, comp = pred.target, pred.mask, pred.composite
        cols = [image * (1 - mask) + 0.5 * mask, mask.expand_as(image), comp, image]
        rows = torch.cat([torch.cat([c[i] for c in cols], dim=2) for i in range(image.shape[0])], dim=1)
        arr = (rows.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        path = self.run_dir / "samples" / f"step_{self.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
        return path

    def _log_row(self, row: dict[str, float]) -> None:
        append_row(self.run_dir / "loss_log.csv", row)

    def validate(self) -> dict[str, float] | None:
        """Log (and return) the EMA generator's held-out loss at this step; None without val data."""
        if self.val_batches is None or self.rank != 0:
            return None
        row = validation_loss(self.recipe, self.ema, self.val_batches, self.config.val_batches, self.device)
        row = {"step": self.step, **{k: round(v, 6) for k, v in row.items()}}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        append_row(self.run_dir / "val_log.csv", row)
        return row

    # -------------------------------------------------------------------------------- run
    def run(self, progress: bool = True, num_workers: int = 1) -> None:
        """Train from `self.step` to `config.steps`, checkpointing and logging on the way."""
        cfg = self.config
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        sample_batch = self.batches[2**40]  # fixed batch, never trained on
        if self.step == 0:
            self.validate()
        loader = torch.utils.data.DataLoader(
            self.batches,
            batch_size=None,
            sampler=range(self.step, cfg.steps),
            num_workers=num_workers,
            worker_init_fn=ignore_stop_signals if num_workers else None,
            prefetch_factor=4 if num_workers else None,
            persistent_workers=False,
        )
        sums: dict[str, float] = {}
        count = 0
        bar = _Progress(enabled=progress and self.rank == 0, total=cfg.steps, start=self.step)
        t_last = time.monotonic()
        with bar, StopSignal() as stop:
            for batch in loader:
                if int(batch["step"]) != self.step:
                    raise RuntimeError(f"data/step mismatch: batch {int(batch['step'])} at step {self.step}")
                terms = self.train_step(batch)
                now = time.monotonic()
                self.elapsed += now - t_last
                t_last = now
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                bar.update(self.step, terms)
                if self.step % cfg.log_every == 0 and self.rank == 0:
                    row = {"step": self.step, "elapsed_s": round(self.elapsed, 1)}
                    row.update({k: round(v / count, 6) for k, v in sums.items()})
                    self._log_row(row)
                    if not bar.enabled:
                        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                    sums, count = {}, 0
                if self.step % cfg.sample_every == 0 and self.rank == 0:
                    self.write_samples(sample_batch)
                due_time = (time.monotonic() - self._last_ckpt_time) > cfg.ckpt_minutes * 60
                stop_now = stop.requested is not None
                if self.world > 1:  # every rank must agree (save() may synchronise in the future)
                    flags = torch.tensor([float(due_time), float(stop_now)])
                    torch.distributed.all_reduce(flags)
                    due_time, stop_now = bool(flags[0] > 0), bool(flags[1] > 0)
                if self.step % cfg.ckpt_every == 0 or due_time or stop_now or self.step == cfg.steps:
                    self.save()
                if stop_now:
                    self.stopped = stop.requested or "a signal on another rank"
                    break
        if (
            self.step == cfg.steps
            and self.rank == 0
            and not (self.run_dir / "checkpoints" / CKPT_NAME).exists()
        ):
            self.save()


class _Progress:
    """rich progress bar on rank 0 in a terminal; a no-op elsewhere (logs go to the CSV / stdout)."""

    def __init__(self, enabled: bool, total: int, start: int) -> None:
        import sys

        self.enabled = enabled and sys.stderr.isatty()
        self.total, self.start = total, start
        self._progress = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("train"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total, completed=self.start, info="")
        return self

    def update(self, step: int, terms: dict[str, float]) -> None:
        if self._progress is not None:
            info = " ".join(f"{k} {v:.4f}" for k, v in terms.items() if k not in ("g_adv", "d"))
            self._progress.update(self._task, completed=step, info=info)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
