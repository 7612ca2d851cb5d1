"""Registry of inpainting models: name -> spec -> loader -> callable on tensors.

Adding a network to `facefill inpaint` is one `register_inpainter(...)` call plus a model file.
The callable contract (every model, classical or learned):

    fill(image, mask) -> image
    image: float32 N×3×H×W in [0,1] on the model's device; mask: float32 N×1×H×W in {0,1}, 1 = hole.
    Returns N×3×H×W in [0,1]. The caller composites (only hole pixels are kept from the result),
    pads to `multiple_of`, and crops to `native_size` face crops; models need not do either.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from facefill.errors import ModelError


class Inpainter(Protocol):
    def __call__(self, image: Any, mask: Any) -> Any: ...


@dataclass(frozen=True)
class LoadContext:
    """What a loader may use: the device, dtype, and where to find checkpoints."""

    device: Any = "cpu"
    dtype: Any = None
    weights_overrides: dict[str, str] = field(default_factory=dict)
    offline: bool = False
    seed: int = 0


@dataclass(frozen=True)
class InpainterSpec:
    name: str
    description: str
    load: Callable[[LoadContext], Inpainter]
    native_size: int | None = None  # fixed-resolution face models: run on an aligned square crop
    multiple_of: int = 1  # pad H and W to a multiple of this (reflect), crop back afterwards
    weights: tuple[str, ...] = ()  # weights-registry names used (their sha256 goes into sidecars)
    assets: tuple[str, ...] = ()  # weight files shipped inside the package (facefill/assets/NAME)
    batchable: bool = True  # accepts N > 1
    licence_note: str = ""


_SPECS: dict[str, InpainterSpec] = {}

# Modules that register inpainters when imported. Append when adding a model.
_MODULES: list[str] = ["facefill.pipelines.classical"]
_MODULES += ["facefill.pipelines.deepfill", "facefill.pipelines.lama"]
_MODULES += ["facefill.pipelines.lite"]


def register_inpainter(spec: InpainterSpec) -> InpainterSpec:
    _SPECS[spec.name] = spec
    return spec


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def inpainter_names() -> list[str]:
    _load_all()
    return sorted(_SPECS)


def get_inpainter(name: str) -> InpainterSpec:
    _load_all()
    if name not in _SPECS:
        raise ModelError(f"unknown --model {name!r}; choose one of: {', '.join(sorted(_SPECS))}")
    return _SPECS[name]
