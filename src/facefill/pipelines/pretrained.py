"""One way to get a pretrained network: `load_pretrained(weights_name, context)`.

Like timm's `create_model(pretrained=True)` or diffusers' `from_pretrained`, it joins the two
registries: the weights.toml entry says which file (resolved through the run context: `--weights`
override, package asset, FACEFILL_WEIGHTS_DIR, cache, else a verified download) and which
models-registry architecture it fits (`architecture`, `config`, per-view overrides); the file is
safe-loaded, key-mapped and loaded strictly, so a wrong file fails with a list of key problems
instead of producing noise. Callers never pair weights names with architectures by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from facefill.errors import WeightsError
from facefill.models.registry import build, load_strict
from facefill.runtime.context import RunContext
from facefill.weights import entry, load_checkpoint, load_state_dict, resolve
from facefill.weights.registry import Build, WeightsEntry

_METADATA_NOT_CONFIG = ("arch", "step", "format")


def build_random(weights_name: str, *, view: str | None = None, **config: Any) -> torch.nn.Module:
    """The architecture `weights_name` loads into, randomly initialised (tests, training from scratch)."""
    e = entry(weights_name)
    spec = _module_build(e, view)
    return build(spec.architecture, **{**spec.config, **config})


def load_pretrained(
    weights_name: str,
    context: RunContext,
    *,
    view: str | None = None,
    device: torch.device | str | None = None,
    **config: Any,
) -> torch.nn.Module:
    """The network of weights entry `weights_name` (or its `view`), loaded strictly, in eval mode.

    Architecture config: registry defaults < the entry's `config` < the architecture metadata a
    facefill export stores in its safetensors file < `config` given here. `device` defaults to the
    context's device. TorchScript entries (`kind = "torchscript"`) come back as the scripted module.
    """
    e = entry(weights_name)
    target = torch.device(device) if device is not None else context.torch_device()
    if e.build_for(view).kind == "torchscript":
        module = load_checkpoint(weights_name, context)
        return module.eval().to(target)
    spec = _module_build(e, view)
    path = resolve(weights_name, context)
    state = load_state_dict(path, context, view=view, like=weights_name)
    merged = {**spec.config, **_exported_config(path, spec.architecture, weights_name), **config}
    module = build(spec.architecture, **merged)
    load_strict(module, state, f"weights {weights_name} ({path})")
    return module.eval().to(target)


def first_loadable(
    names: Sequence[str],
    context: RunContext,
    hint: str,
    load: Callable[[str, RunContext], Any] = load_checkpoint,
) -> tuple[str, Any]:
    """`load` the first of `names` that is available; fail with the first error plus `hint`.

    For models that accept several checkpoints (DeepFillv2's fine-tuned or converted file): a name
    the user pointed at a file (`--weights`) is tried first and its problems are never hidden.
    """
    overridden = [n for n in names if context.weights_file(n) is not None]
    ordered = overridden + [n for n in names if n not in overridden]
    errors: list[str] = []
    for name in ordered:
        try:
            return name, load(name, context)
        except WeightsError as exc:
            if name in overridden:
                raise
            errors.append(str(exc))
    if not errors:
        raise WeightsError(hint)
    # The registry's own message may already say how to import the file; do not say it twice.
    raise WeightsError(errors[0] if "weights import" in errors[0] else f"{errors[0]} — {hint}")


def _module_build(e: WeightsEntry, view: str | None) -> Build:
    spec = e.build_for(view)
    if not spec.is_module:
        shown = f"{e.name}" + (f" (view {view})" if view else "")
        raise WeightsError(
            f"weights {shown} hold {spec.kind}, not a network facefill builds; "
            "read them with facefill.weights.load_state_dict / load_checkpoint"
        )
    return spec


def _exported_config(path: Path, architecture: str, weights_name: str) -> dict[str, Any]:
    """Config recorded by `facefill.training.export` (metadata `arch` + JSON values); {} for other files."""
    from facefill.weights.safe_load import detect_format, safetensors_metadata

    if detect_format(path) != "safetensors":
        return {}
    meta = safetensors_metadata(path)
    if "arch" not in meta:
        return {}
    if meta["arch"] != architecture:
        raise WeightsError(
            f"weights {weights_name}: {path} holds a {meta['arch']!r} network, "
            f"not {architecture!r}; export it for {weights_name} or pick the matching weights name"
        )
    config: dict[str, Any] = {}
    for key, raw in meta.items():
        if key in _METADATA_NOT_CONFIG:
            continue
        try:
            config[key] = json.loads(raw)
        except ValueError:
            raise WeightsError(f"{path}: metadata {key}={raw!r} is not JSON; re-export the file") from None
    return config
