"""Editing directions n_b: read safely from .npy / .pt / .safetensors, shaped for a generator's W+.

Accepted shapes: (D,), (1, D) (one W direction, made unit length as InterFaceGAN boundaries are),
(L, D) or (1, L, D) (per-layer W+ directions, used as they are; L must match the generator).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facefill.errors import UsageError

SUFFIXES = (".npy", ".pt", ".pth", ".safetensors")


def read_direction(path: str | Path) -> torch.Tensor:
    """The tensor stored in a direction file (no pickled code is ever run)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--direction {path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32))
        except ValueError as exc:
            raise UsageError(f"--direction {path}: not a plain numeric .npy array ({exc})") from exc
    if suffix not in SUFFIXES:
        raise UsageError(f"--direction {path}: use one of {', '.join(SUFFIXES)}")
    from facefill.weights.safe_load import load_file

    return tensor_of(
        load_file(path, "safetensors" if suffix == ".safetensors" else "torch-pickle"), str(path)
    )


def tensor_of(obj: object, what: str) -> torch.Tensor:
    """A direction tensor from a loaded object: a tensor, or a dict with one tensor / a 'direction' key."""
    if isinstance(obj, dict):
        if "direction" in obj:
            obj = obj["direction"]
        else:
            tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
            if len(tensors) != 1:
                raise UsageError(f"{what}: holds {len(tensors)} tensors; store one, or one named 'direction'")
            obj = tensors[0]
    if isinstance(obj, np.ndarray):
        obj = torch.from_numpy(obj)
    if not isinstance(obj, torch.Tensor):
        raise UsageError(f"{what}: holds a {type(obj).__name__}, not a direction tensor")
    return obj.detach().float()


def layer_directions(direction: torch.Tensor, n_latent: int, what: str = "direction") -> torch.Tensor:
    """(n_latent, D): a W direction normalised to unit length and repeated, or a W+ one checked."""
    d = direction.float()
    if d.ndim == 3 and d.shape[0] == 1:
        d = d[0]
    if d.ndim == 1 or (d.ndim == 2 and d.shape[0] == 1):
        flat = d.reshape(-1)
        norm = torch.linalg.vector_norm(flat)
        if not torch.isfinite(norm) or norm == 0:
            raise UsageError(f"{what}: the direction is zero or not finite")
        return (flat / norm).expand(n_latent, -1).clone()
    if d.ndim == 2 and d.shape[0] == n_latent:
        return d.clone()
    raise UsageError(
        f"{what}: shape {tuple(direction.shape)} does not fit a generator with {n_latent} W+ rows; "
        f"use (512,), (1, 512) or ({n_latent}, 512)"
    )
