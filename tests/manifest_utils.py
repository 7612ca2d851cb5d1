"""Test helpers: read a state-dict manifest and make random weights with exactly its keys and shapes.

Manifests (tests/manifests/NAME.json, copied from shared/manifests) are `{key: shape}` dumps of the
reference implementations. Real checkpoints are not available offline, so tests load random tensors
shaped like them: if our module accepts such a dict strictly, it accepts the real checkpoint.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import torch

MANIFEST_DIR = Path(__file__).parent / "manifests"


def load_manifest(name: str) -> dict[str, list[int]]:
    """Read tests/manifests/NAME.json (NAME without the extension) as {key: shape}."""
    path = MANIFEST_DIR / f"{name.removesuffix('.json')}.json"
    with path.open(encoding="utf-8") as fh:
        return {key: list(shape) for key, shape in json.load(fh).items()}


def _as_manifest(manifest: str | Path | Mapping[str, list[int]]) -> dict[str, list[int]]:
    if isinstance(manifest, Mapping):
        return {key: list(shape) for key, shape in manifest.items()}
    path = Path(manifest)
    if path.suffix == ".json" and path.exists():
        with path.open(encoding="utf-8") as fh:
            return {key: list(shape) for key, shape in json.load(fh).items()}
    return load_manifest(str(manifest))


def random_state_dict(
    manifest: str | Path | Mapping[str, list[int]],
    seed: int = 0,
    *,
    init: str = "scaled",
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Random tensors with exactly the manifest's keys and shapes, reproducible from `seed`.

    `manifest` is a manifest name (``"stylegan2_generator_256"``), a path to a JSON file, or a dict.
    init="scaled": weights with >= 2 dims get std 1/sqrt(fan_in) so that deep plain conv nets
    (IR-SE50, BiSeNet) keep activations O(1); init="normal": standard normal, like the equalised-lr
    layers of StyleGAN2 store them. In both modes BatchNorm statistics are plausible
    (running_var > 0), `num_batches_tracked` is a 0-d int64, 1-d `*.weight` tensors (BN scale,
    PReLU slope) lie in [0.5, 1.5] and other 1-d tensors (biases) are small.
    """
    if init not in ("scaled", "normal"):
        raise ValueError(f"init must be 'scaled' or 'normal', not {init!r}")
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for key, shape in _as_manifest(manifest).items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "num_batches_tracked":
            out[key] = torch.zeros(shape, dtype=torch.int64)
        elif leaf == "running_var":
            out[key] = (0.75 + 0.5 * torch.rand(shape, generator=gen)).to(dtype)
        elif leaf == "running_mean":
            out[key] = (0.1 * torch.randn(shape, generator=gen)).to(dtype)
        elif len(shape) == 1 and leaf == "weight" and init == "scaled":
            out[key] = (0.5 + torch.rand(shape, generator=gen)).to(dtype)
        elif len(shape) <= 1:
            out[key] = (0.1 * torch.randn(shape, generator=gen)).to(dtype)
        else:
            tensor = torch.randn(shape, generator=gen)
            if init == "scaled":
                tensor = tensor / math.sqrt(max(1, math.prod(shape[1:])))
            out[key] = tensor.to(dtype)
    return out


def shapes_of(state_dict: Mapping[str, torch.Tensor]) -> dict[str, list[int]]:
    """{key: shape} of a state dict, in its order, for comparing against a manifest."""
    return {key: list(value.shape) for key, value in state_dict.items()}
