"""Registry of models by (task, name): name -> spec -> loader -> callable on a request.

Adding a model is one model file plus one `register_model(task, ModelSpec(...))` call in a module
listed in `_MODULES[task]` (append yours there). Tasks: "inpaint" now; "edit" and "discrete" next.

Contract of the "inpaint" task (details in `pipelines.requests`):

    spec.load(context: RunContext) -> fill        # context: device, dtype, --weights, offline...
    fill(request: InpaintRequest) -> Tensor N×3×H×W in [0,1]

The pipeline zeroes hole pixels, pads to `multiple_of`, crops to `native_size` squares (a
`pipelines.crops.CropStrategy`) and composites; models need not do any of it. `capabilities`
says which optional request fields a model honours; the CLI and the pipeline refuse the others:

* "exemplar": reads `request.exemplar` (a reference face per item), e.g. `--exemplar REF`;
* "attribute": reads `request.attribute` (a class / attribute name per item), `--attribute NAME`;
* "stochastic": draws noise, item i from `request.generators[i]` only (`request.randn`).

Example (SAC-GAN): `register_model(INPAINT, ModelSpec("sacgan", "...", load, native_size=256,
capabilities=frozenset({"exemplar", "attribute"})))`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from facefill.errors import ModelError, UsageError

if TYPE_CHECKING:
    from facefill.runtime.context import RunContext

INPAINT = "inpaint"

# What each capability lets a model take, as the CLI says it ("... needs a model that takes an exemplar").
CAPABILITIES: dict[str, str] = {
    "exemplar": "takes an exemplar",
    "attribute": "takes an attribute target",
    "stochastic": "samples (uses per-item generators)",
}

# Models being built that will bring a capability: named in the refusal while none is installed.
PLANNED: dict[tuple[str, str], tuple[str, ...]] = {
    (INPAINT, "exemplar"): ("sacgan",),
    (INPAINT, "attribute"): ("sacgan",),
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    load: Callable[[RunContext], Any]
    native_size: int | None = None  # fixed-resolution face models: run on a square crop of this side
    multiple_of: int = 1  # pad H and W to a multiple of this (reflect), crop back afterwards
    weights: tuple[str, ...] = ()  # weights-registry names used (their sha256 goes into sidecars)
    assets: tuple[str, ...] = ()  # weight files shipped inside the package (facefill/assets/NAME)
    batchable: bool = True  # accepts N > 1
    licence_note: str = ""
    capabilities: frozenset[str] = frozenset()  # keys of CAPABILITIES
    # the names --attribute takes, read from the weights without building the network (None: any)
    attribute_classes: Callable[[RunContext], tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            known = ", ".join(CAPABILITIES)
            raise ValueError(f"{self.name}: unknown capabilities {sorted(unknown)}; known: {known}")


InpainterSpec = ModelSpec  # the name the inpaint model files use

_SPECS: dict[tuple[str, str], ModelSpec] = {}

# Modules that register models when imported, by task. Append when adding a model.
_MODULES: dict[str, list[str]] = {
    INPAINT: [
        "facefill.pipelines.classical",
        "facefill.pipelines.deepfill",
        "facefill.pipelines.lama",
        "facefill.pipelines.lite",
        "facefill.pipelines.sacgan",
        "facefill.pipelines.spl",
    ],
}


def register_model(task: str, spec: ModelSpec) -> ModelSpec:
    _SPECS[(task, spec.name)] = spec
    return spec


def _load_all(task: str) -> None:
    for module in _MODULES.get(task, ()):
        importlib.import_module(module)


def model_names(task: str) -> list[str]:
    _load_all(task)
    return sorted(name for t, name in _SPECS if t == task)


def get_model(task: str, name: str) -> ModelSpec:
    _load_all(task)
    if (task, name) not in _SPECS:
        raise ModelError(f"unknown --model {name!r}; choose one of: {', '.join(model_names(task))}")
    return _SPECS[(task, name)]


def models_with(task: str, capability: str) -> list[str]:
    """Names of the registered `task` models that have `capability`."""
    return [n for n in model_names(task) if capability in _SPECS[(task, n)].capabilities]


def require_capabilities(spec: ModelSpec, task: str, needed: dict[str, str]) -> None:
    """Refuse (UsageError, exit 2) when `spec` lacks one of `needed` (capability -> option label).

    The one-line message names the models that have it, from the registry: "--exemplar needs a
    model that takes an exemplar: sacgan".
    """
    for capability, option in needed.items():
        if capability in spec.capabilities:
            continue
        able = models_with(task, capability)
        if able:
            which = ", ".join(able)
        else:
            planned = ", ".join(PLANNED.get((task, capability), ()))
            which = "none installed yet" + (f" ({planned} will)" if planned else "")
        raise UsageError(f"{option} needs a model that {CAPABILITIES[capability]}: {which}")


def require_attribute_class(spec: ModelSpec, name: str, context: RunContext) -> None:
    """Refuse (UsageError, exit 2) an --attribute class the model's weights were not trained on."""
    if spec.attribute_classes is None:
        return
    classes = spec.attribute_classes(context)
    if name not in classes:
        raise UsageError(f"--attribute {name!r}: {spec.name} knows the classes {', '.join(classes)}")


# Shorthands for the inpaint task (the model files and most callers use these).
def register_inpainter(spec: ModelSpec) -> ModelSpec:
    return register_model(INPAINT, spec)


def get_inpainter(name: str) -> ModelSpec:
    return get_model(INPAINT, name)


def inpainter_names() -> list[str]:
    return model_names(INPAINT)
