"""A registry of architectures: name -> builder with per-architecture default config.

Architecture files register themselves with `@register("name", **defaults)`; the registry imports
them lazily (``_MODULES``) so that listing names does not build anything.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from facefill.errors import ModelError, WeightsError

# Modules that define registered architectures. Append when adding a model file.
_MODULES: list[str] = [
    "facefill.models.facefill_lite",
    "facefill.models.facefill_lite_v2",
    "facefill.models.resnet",
    "facefill.models.vgg",
    "facefill.models.bisenet",
    "facefill.models.attribute_classifier",
    "facefill.models.deeplab_parser",
    "facefill.models.lpips",
    "facefill.models.fid_inception",
    "facefill.models.stylegan2",
    "facefill.models.e4e",
    "facefill.models.irse50",
    "facefill.models.deepfillv2",
    "facefill.models.sn_patchgan",
    "facefill.models.lite_discriminator",
    "facefill.models.sdgan_fusion",
    "facefill.models.unsup3d",
    "facefill.models.sacgan",
    "facefill.models.sacgan_discriminator",
    "facefill.models.spl",
    "facefill.models.spl_discriminator",
]


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, Architecture] = {}


def register(name: str, **defaults: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register a builder (a class or function returning an nn.Module)."""

    def wrap(builder: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY[name] = Architecture(name, builder, dict(defaults))
        return builder

    return wrap


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def available() -> list[str]:
    """Names of all registered architectures."""
    _load_all()
    return sorted(_REGISTRY)


def build(name: str, **config: Any):
    """Build architecture `name` with its defaults overridden by `config` (random init)."""
    _load_all()
    if name not in _REGISTRY:
        raise ModelError(f"unknown architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    arch = _REGISTRY[name]
    return arch.builder(**{**arch.defaults, **config})


def load_strict(module, state_dict: Mapping[str, Any], what: str = "checkpoint") -> None:
    """Load `state_dict` into `module`, failing with a readable list of key and shape problems."""
    own = module.state_dict()
    optional = set(getattr(module, "optional_state_keys", ()))  # e.g. buffers older files predate
    missing = [k for k in own if k not in state_dict and k not in optional]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", mismatched)):
            if items:
                shown = ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
                parts.append(f"{len(items)} {label}: {shown}")
        raise WeightsError(
            f"{what} does not fit {type(module).__name__}: " + "; ".join(parts)
            + " — is it the right checkpoint for this architecture?"
        )
    module.load_state_dict(state_dict, strict=not (optional - set(state_dict)))


def from_checkpoint(name: str, state_dict: Mapping[str, Any], **config: Any):
    """Build `name` and strictly load an in-memory `state_dict` (eval mode).

    Files and weights-registry names are the pipelines layer's business
    (`facefill.pipelines.pretrained.load_pretrained`): models/ never does I/O.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"from_checkpoint({name!r}, ...) takes a state dict, not {type(state_dict).__name__}; "
            "load files with facefill.pipelines.pretrained.load_pretrained"
        )
    module = build(name, **config)
    load_strict(module, state_dict, "state dict")
    return module.eval()
