"""Pretrained checkpoints: registry, cache, download, verification and safe loading.

Public API (nothing here touches the network or imports torch at import time). Every call that
finds a file takes the run's `RunContext` (overrides from `--weights`, offline mode, hash policy,
progress), so nothing depends on process-wide state and a worker given the context behaves alike:

    resolve(name, context) -> Path          local file for a registry name (override, package asset,
                                            FACEFILL_WEIGHTS_DIR, cache, Hugging Face cache, else
                                            download), hash-checked
    locate(name, context) -> Located | None where it is right now (never downloads)
    load_state_dict(name_or_path, context, view=None) -> dict[str, Tensor]   safe load on CPU + key map
    load_checkpoint(name_or_path, context) -> object                         the whole safe-loaded object
    sha256_of(name_or_path, context) -> str | None
    checked_overrides({name: path}) -> ((name, abs path), ...)   validated `--weights` for a RunContext
    entry(name) -> WeightsEntry, entries() -> list[WeightsEntry]

Building the architecture a checkpoint belongs to is `facefill.pipelines.pretrained.load_pretrained`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facefill.errors import WeightsError
from facefill.runtime.context import RunContext
from facefill.weights.registry import Build, KeyMap, Source, WeightsEntry, entries, entry, has_entry
from facefill.weights.resolve import Located, checked_overrides, locate, resolve

__all__ = [
    "Build",
    "KeyMap",
    "Located",
    "Source",
    "WeightsEntry",
    "WeightsError",
    "checked_overrides",
    "entries",
    "entry",
    "has_entry",
    "load_checkpoint",
    "load_state_dict",
    "locate",
    "resolve",
    "sha256_of",
]


def _path_and_entry(name_or_path: str | Path, context: RunContext) -> tuple[Path, WeightsEntry | None]:
    """A registry name resolves through the context and the cache; anything else must be an existing file."""
    if isinstance(name_or_path, str) and has_entry(name_or_path):
        return resolve(name_or_path, context), entry(name_or_path)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path, None
    if isinstance(name_or_path, str) and "/" not in name_or_path and "\\" not in name_or_path:
        entry(name_or_path)  # raises "unknown weights name ... did you mean"
    raise WeightsError(f"checkpoint {name_or_path} not found: neither a file nor a registry name")


def load_checkpoint(name_or_path: str | Path, context: RunContext) -> Any:
    """The whole checkpoint object (dict with extras such as latent_avg, or a TorchScript module), on CPU."""
    from facefill.weights.safe_load import load_file

    path, e = _path_and_entry(name_or_path, context)
    return load_file(path, e.format if e else None)


def load_state_dict(
    name_or_path: str | Path,
    context: RunContext,
    *,
    view: str | None = None,
    keymap: KeyMap | None = None,
    like: str | None = None,
) -> dict[str, Any]:
    """A flat {key: Tensor} state_dict on CPU with the entry's key map applied.

    `view` picks one of the entry's named key maps (e.g. "decoder" of e4e-ffhq); `keymap` replaces
    it outright; `like` applies a registry entry's key map to a file that is not in the registry.
    """
    from facefill.weights.keymap import apply_keymap, check_tensors
    from facefill.weights.safe_load import load_file

    path, e = _path_and_entry(name_or_path, context)
    obj = load_file(path, e.format if e else None)
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not isinstance(obj, dict):
        obj = obj.state_dict()  # TorchScript module
    source_entry = e or (entry(like) if like else None)
    if keymap is None:
        keymap = source_entry.keymap_for(view) if source_entry else KeyMap()
    what = f"checkpoint {path}" + (f" ({source_entry.name})" if source_entry else "")
    return check_tensors(apply_keymap(obj, keymap, what=what), what=what)


def sha256_of(name_or_path: str | Path, context: RunContext) -> str | None:
    """sha256 of the file `name` resolves to locally (memoised), else its published/trusted hash, else None.

    Never downloads: meant for metadata sidecars that record which weights produced an output.
    """
    from facefill.weights.verify import expected_sha256, file_sha256

    if isinstance(name_or_path, str) and has_entry(name_or_path):
        found = locate(name_or_path, context)
        if found is not None:
            return file_sha256(found.path)
        return expected_sha256(entry(name_or_path))
    path = Path(name_or_path).expanduser()
    return file_sha256(path) if path.is_file() else None
