"""Process-wide settings of the weights layer (set by CLI options, read at call time).

Everything is read when a checkpoint is resolved, never at import, so that environment variables
set by a test or a wrapper script after import still apply.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from facefill.errors import WeightsError

OFFLINE_ENVS = ("FACEFILL_OFFLINE", "HF_HUB_OFFLINE")

_overrides: dict[str, Path] = {}
_offline: bool | None = None  # None: decided by the environment
_require_hash: bool = False
_progress: bool | None = None  # None: shown when stderr is a terminal


def set_overrides(mapping: dict[str, str | Path]) -> None:
    """Use these local files instead of the registry's (NAME -> PATH); replaces earlier overrides."""
    from facefill.weights.registry import has_entry

    checked: dict[str, Path] = {}
    for name, path in mapping.items():
        if not has_entry(name):
            raise WeightsError(f"--weights {name}=...: unknown weights name; run `facefill weights list`")
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsError(f"--weights {name}={path}: no such file")
        checked[name] = p.resolve()
    _overrides.clear()
    _overrides.update(checked)


def overrides() -> dict[str, Path]:
    return dict(_overrides)


def set_offline(offline: bool | None) -> None:
    """Never touch the network when True; None restores the environment's choice."""
    global _offline
    _offline = offline


def is_offline() -> bool:
    if _offline is not None:
        return _offline
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on") for k in OFFLINE_ENVS)


def set_require_hash(required: bool) -> None:
    """Refuse checkpoints that have no published sha256 (trust-on-first-use entries)."""
    global _require_hash
    _require_hash = required


def require_hash() -> bool:
    return _require_hash


def set_progress(show: bool | None) -> None:
    """Force download progress bars on or off; None = only when stderr is a terminal."""
    global _progress
    _progress = show


def show_progress() -> bool:
    if _progress is not None:
        return _progress
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def reset() -> None:
    """Back to defaults (tests)."""
    global _offline, _require_hash, _progress
    _overrides.clear()
    _offline = None
    _require_hash = False
    _progress = None
