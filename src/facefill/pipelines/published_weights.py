"""Helpers shared by the adapters of published networks (DeepFillv2, LaMa).

* where a checkpoint comes from: a per-load override (`LoadContext.weights_overrides`, i.e.
  `--weights NAME=PATH`) first, then the weights registry (`facefill.weights`);
* a safe padding to a multiple of 8 for callers that do not pad themselves (the inpaint pipeline
  already pads; padding an already padded tensor is a no-op).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from facefill.errors import WeightsError
from facefill.pipelines.registry import LoadContext


def _safe_torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable or pickles code: refuse with one line
        raise WeightsError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc


def load_checkpoint_dict(name: str, ctx: LoadContext) -> dict[str, Any]:
    """The whole safe-loaded checkpoint for weights `name` (the adapter picks what it needs from it)."""
    source: str = ctx.weights_overrides.get(name, name)
    try:
        from facefill.weights import load_checkpoint
    except ImportError:  # weights layer without a loader: only explicit files can work
        if source == name:
            raise WeightsError(f"weights {name!r} are not available (no weights registry)") from None
        return _safe_torch_load(Path(source))
    return load_checkpoint(source)


def resolve_file(name: str, ctx: LoadContext) -> Path:
    """Local path of weights `name` (override first), downloading through the registry if allowed."""
    override = ctx.weights_overrides.get(name)
    if override is not None:
        path = Path(override).expanduser()
        if not path.is_file():
            raise WeightsError(f"--weights {name}={override}: no such file")
        return path
    try:
        from facefill.weights import resolve
    except ImportError:
        raise WeightsError(f"weights {name!r} are not available (no weights registry)") from None
    return Path(resolve(name))


def first_loadable(names: Sequence[str], ctx: LoadContext, hint: str) -> tuple[str, dict[str, Any]]:
    """Load the first of `names` that is available; fail with the first error plus `hint`.

    Overrides win: a name the user pointed at a file is tried before any registry lookup.
    """
    ordered = [n for n in names if n in ctx.weights_overrides] + [
        n for n in names if n not in ctx.weights_overrides
    ]
    errors: list[str] = []
    for name in ordered:
        try:
            return name, load_checkpoint_dict(name, ctx)
        except WeightsError as exc:
            if name in ctx.weights_overrides:  # the user asked for this file: do not hide its problem
                raise
            errors.append(str(exc))
    if not errors:
        raise WeightsError(hint)
    # The registry's own message may already say how to import the file; do not say it twice.
    raise WeightsError(errors[0] if "weights import" in errors[0] else f"{errors[0]} — {hint}")
