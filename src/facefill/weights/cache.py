"""Where checkpoints live on disk: the facefill cache and the user's own weights folders.

Layout under FACEFILL_HOME (default: the platform's user cache dir / "facefill"):

    weights/<name>/<filename>   a complete, verified checkpoint (appears only by atomic rename)
    weights/<name>/.partial/    downloads in progress (resumable, removed after success)
    weights/.locks/<name>.lock  one lock per entry so concurrent processes never clash
    hashes.json                 sha256 memo keyed by path, size and mtime (avoids re-hashing GBs)
    trusted.json                hashes recorded on first use for entries without a published one
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from facefill.weights.registry import WeightsEntry

HOME_ENV = "FACEFILL_HOME"
WEIGHTS_DIR_ENV = "FACEFILL_WEIGHTS_DIR"


def facefill_home() -> Path:
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("facefill", appauthor=False))


def weights_root() -> Path:
    return facefill_home() / "weights"


def cached_path(entry: WeightsEntry) -> Path:
    return weights_root() / entry.name / entry.filename


def staging_dir(entry: WeightsEntry) -> Path:
    return weights_root() / entry.name / ".partial"


def lock_path(entry: WeightsEntry) -> Path:
    return weights_root() / ".locks" / f"{entry.name}.lock"


def user_weight_dirs() -> list[Path]:
    """Folders named by FACEFILL_WEIGHTS_DIR (several allowed, separated like PATH)."""
    raw = os.environ.get(WEIGHTS_DIR_ENV, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def user_dir_candidates(entry: WeightsEntry) -> list[Path]:
    """Existing files in FACEFILL_WEIGHTS_DIR that may hold `entry`, most specific first."""
    found: list[Path] = []
    for folder in user_weight_dirs():
        for fname in entry.candidate_filenames():
            for path in (folder / entry.name / fname, folder / fname):
                if path.is_file() and path not in found:
                    found.append(path)
    return found


def read_json(path: Path) -> dict[str, Any]:
    """A small JSON state file; a missing or damaged one counts as empty (it is only a cache)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write via a temp file + rename so a reader never sees half a file."""
    from facefill.io.files import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))
