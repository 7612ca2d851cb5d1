"""Held-out validation for `facefill train --val-data`: the recipe's own loss on fixed unseen batches.

The training loss is measured on batches the generator is fitting; whether a run generalises needs
faces it never sees. The validation loss is the recipe's weighted reconstruction terms (what
`generator_step` returns, without the adversarial term, which depends on a moving critic) of the
EMA generator (what gets exported) on the same `count` batches every time, so rows are comparable
across checkpoints and sessions of one run.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facefill.training.recipe import Recipe


@torch.no_grad()
def validation_loss(
    recipe: Recipe, generator: nn.Module, batches: Any, count: int, device: torch.device
) -> dict[str, float]:
    """{"val_loss": weighted sum, "val_<term>": each term} averaged over batches 0..count-1."""
    sums: dict[str, float] = {}
    for index in range(count):
        _, terms = recipe.generator_step(generator, recipe.to_device(batches[index], device))
        total = sum(recipe.loss_weights[name] * term.item() for name, term in terms.items())
        for key, value in {"val_loss": total, **{f"val_{k}": t.item() for k, t in terms.items()}}.items():
            sums[key] = sums.get(key, 0.0) + value
    return {key: value / count for key, value in sums.items()}


def append_row(path: Path, row: dict[str, float]) -> None:
    """Append one row to a CSV log, writing the header when the file is new."""
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
