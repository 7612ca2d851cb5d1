"""Pretrained checkpoints: registry, cache, download, verification and safe loading.

Public API (nothing here touches the network or imports torch at import time):

    resolve(name) -> Path                 local file for a registry name (override, FACEFILL_WEIGHTS_DIR,
                                          cache, Hugging Face cache, else download), hash-checked
    load_state_dict(name_or_path, view=None) -> dict[str, Tensor]   safe load on CPU + key map
    load_checkpoint(name_or_path) -> object                         the whole safe-loaded object
    sha256_of(name) -> str | None
    entry(name) -> WeightsEntry, entries() -> list[WeightsEntry]
    set_overrides({name: path}), set_offline(bool), set_require_hash(bool), set_progress(bool | None)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facefill.errors import WeightsError
from facefill.weights.config import (
    is_offline,
    set_offline,
    set_overrides,
    set_progress,
    set_require_hash,
)
from facefill.weights.registry import KeyMap, Source, WeightsEntry, entries, entry, has_entry
from facefill.weights.resolve import locate, resolve

__all__ = [
    "KeyMap",
    "Source",
    "WeightsEntry",
    "WeightsError",
    "entries",
    "entry",
    "is_offline",
    "load_checkpoint",
    "load_state_dict",
    "locate",
    "resolve",
    "set_offline",
    "set_overrides",
    "set_progress",
    "set_require_hash",
    "sha256_of",
]


def _path_and_entry(name_or_path: str | Path) -> tuple[Path, WeightsEntry | None]:
    """A registry name resolves through the cache; anything else must be an existing file."""
    if isinstance(name_or_path, str) and has_entry(name_or_path):
        e = entry(name_or_path)
        return resolve(name_or_path), e
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path, None
    if isinstance(name_or_path, str) and "/" not in name_or_path and "\\" not in name_or_path:
        entry(name_or_path)  # raises "unknown weights name ... did you mean"
    raise WeightsError(f"checkpoint {name_or_path} not found: neither a file nor a registry name")


def load_checkpoint(name_or_path: str | Path) -> Any:
    """The whole checkpoint object (dict with extras such as latent_avg, or a TorchScript module), on CPU."""
    from facefill.weights.safe_load import load_file

    path, e = _path_and_entry(name_or_path)
    return load_file(path, e.format if e else None)


def load_state_dict(
    name_or_path: str | Path,
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

    path, e = _path_and_entry(name_or_path)
    obj = load_file(path, e.format if e else None)
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not isinstance(obj, dict):
        obj = obj.state_dict()  # TorchScript module
    source_entry = e or (entry(like) if like else None)
    if keymap is None:
        keymap = source_entry.keymap_for(view) if source_entry else KeyMap()
    what = f"checkpoint {path}" + (f" ({source_entry.name})" if source_entry else "")
    return check_tensors(apply_keymap(obj, keymap, what=what), what=what)


def sha256_of(name_or_path: str | Path) -> str | None:
    """sha256 of the file `name` resolves to locally (memoised), else its published/trusted hash, else None.

    Never downloads: meant for metadata sidecars that record which weights produced an output.
    """
    from facefill.weights.verify import expected_sha256, file_sha256

    if isinstance(name_or_path, str) and has_entry(name_or_path):
        found = locate(name_or_path)
        if found is not None:
            return file_sha256(found.path)
        return expected_sha256(entry(name_or_path))
    path = Path(name_or_path).expanduser()
    return file_sha256(path) if path.is_file() else None
