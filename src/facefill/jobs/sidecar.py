"""The per-output metadata sidecar (`NAME.json`): enough to trust and reproduce one result.

The runner fills the fields every command shares (version, command line, input/mask/exemplar
sha256, timings, output path); a processor adds its own (model, weights, seed, hole ratio, device,
dtype). The sidecar is written after the image, so "image and sidecar both exist" means done.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from facefill import __version__
from facefill.io.files import atomic_write_bytes, sha256_file


class HashCache:
    """sha256 per path, computed once: a single mask shared by 10,000 images is hashed once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hashes: dict[str, str] = {}

    def sha256(self, path: Path) -> str:
        key = str(path.resolve())
        with self._lock:
            if key in self._hashes:
                return self._hashes[key]
        value = sha256_file(path)
        with self._lock:
            self._hashes[key] = value
        return value


def sidecar_record(
    *,
    output: Path,
    input_path: Path,
    input_sha256: str,
    companions: dict[str, tuple[Path, str]],
    timings_ms: dict[str, float],
    extra: dict[str, Any],
    command: str,
) -> dict[str, Any]:
    """The sidecar dictionary; `companions` maps 'mask'/'exemplar' to (path, sha256)."""
    record: dict[str, Any] = {
        "facefill_version": __version__,
        "command": command,
        "input": str(input_path),
        "input_sha256": input_sha256,
    }
    for role, (path, sha) in companions.items():
        record[role] = str(path)
        record[f"{role}_sha256"] = sha
    record.update(extra)
    record["timings_ms"] = {k: round(v, 3) for k, v in timings_ms.items()}
    record["output"] = str(output)
    return record


def write_sidecar(path: Path, record: dict[str, Any]) -> None:
    """Write the sidecar atomically (pretty JSON, stable key order as built)."""
    atomic_write_bytes(path, (json.dumps(record, indent=2) + "\n").encode("utf-8"))
