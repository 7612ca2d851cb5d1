"""The run context: every setting a command passes down, in one picklable value.

The CLI builds one `RunContext` per invocation and hands it to jobs, pipelines and the weights
layer as an argument; nothing reads process-wide globals. Because it is a frozen dataclass of plain
values it crosses process boundaries (torchrun, Ray, spawn pools) unchanged, so a worker given the
context behaves exactly as the parent. No torch at import: `--help` builds one too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

OFFLINE_ENVS = ("FACEFILL_OFFLINE", "HF_HUB_OFFLINE")
_TRUE = ("1", "true", "yes", "on")
_DTYPES = ("float32", "float16", "bfloat16", "float64")


@dataclass(frozen=True)
class RunContext:
    """Settings of one run.

    device: "auto", "cpu", "cuda", "cuda:N" or "mps" (resolved lazily, see `torch_device`).
    dtype: compute dtype name ("float32", "bfloat16", ...).
    weights: registry name -> local file, from `--weights NAME=PATH` (absolute paths).
    offline: True never touches the network; None lets FACEFILL_OFFLINE / HF_HUB_OFFLINE decide.
    require_hash: refuse checkpoints without a published sha256.
    seed: the run seed; each item's seed derives from it and the item's name.
    progress: download / step progress bars; None = only when stderr is a terminal.
    command: the command line as the user typed it (recorded in sidecars).
    """

    device: str = "auto"
    dtype: str = "float32"
    weights: tuple[tuple[str, str], ...] = ()
    offline: bool | None = None
    require_hash: bool = False
    seed: int = 0
    progress: bool | None = None
    command: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype {self.dtype!r}: use one of {', '.join(_DTYPES)}")
        if isinstance(self.weights, Mapping):  # accept a dict, store a hashable, ordered tuple
            pairs = sorted((str(k), str(v)) for k, v in self.weights.items())
            object.__setattr__(self, "weights", tuple(pairs))

    # -- weights ---------------------------------------------------------------------------------
    @property
    def weights_overrides(self) -> dict[str, Path]:
        """`--weights` files by registry name."""
        return {name: Path(path) for name, path in self.weights}

    def weights_file(self, name: str) -> Path | None:
        """The user's local file for weights `name`, if one was given."""
        return self.weights_overrides.get(name)

    def is_offline(self) -> bool:
        if self.offline is not None:
            return self.offline
        return any(os.environ.get(k, "").strip().lower() in _TRUE for k in OFFLINE_ENVS)

    def show_progress(self) -> bool:
        if self.progress is not None:
            return self.progress
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    # -- torch -----------------------------------------------------------------------------------
    def torch_device(self) -> Any:
        """The torch.device to run on (CPU with a warning when the asked one is missing)."""
        from facefill.runtime.device import resolve_device

        return resolve_device(self.device)

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    def with_(self, **changes: Any) -> RunContext:
        """A copy with some fields changed (`ctx.with_(seed=3)`)."""
        return replace(self, **changes)


DEFAULT_CONTEXT = RunContext()
