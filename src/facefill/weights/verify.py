"""sha256 checks, a memo of hashes already computed, and trust-on-first-use records.

Hashing a 1.2 GB checkpoint takes seconds, so a file's hash is remembered together with its size
and mtime; any change to the file invalidates the memo. `facefill weights verify` always re-hashes.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from facefill.errors import WeightsError
from facefill.io.files import sha256_file
from facefill.weights.cache import facefill_home, read_json, write_json_atomic
from facefill.weights.registry import WeightsEntry

log = logging.getLogger("facefill.weights")


def _state_lock():
    from filelock import FileLock

    home = facefill_home()
    home.mkdir(parents=True, exist_ok=True)
    return FileLock(str(home / ".state.lock"))


def _memo_path() -> Path:
    return facefill_home() / "hashes.json"


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def memo_lookup(path: Path) -> str | None:
    """The remembered sha256 of `path` if the file is unchanged since it was hashed."""
    key, size, mtime = _stamp(path)
    rec = read_json(_memo_path()).get(key)
    if isinstance(rec, dict) and rec.get("size") == size and rec.get("mtime_ns") == mtime:
        return rec.get("sha256")
    return None


def memo_store(path: Path, sha: str) -> None:
    key, size, mtime = _stamp(path)
    with _state_lock():
        memo = read_json(_memo_path())
        memo[key] = {"size": size, "mtime_ns": mtime, "sha256": sha}
        write_json_atomic(_memo_path(), memo)


def memo_forget(path: Path) -> None:
    key = str(path.resolve())
    with _state_lock():
        memo = read_json(_memo_path())
        if memo.pop(key, None) is not None:
            write_json_atomic(_memo_path(), memo)


def file_sha256(path: Path, *, fresh: bool = False) -> str:
    """sha256 of `path`, from the memo unless `fresh` (then the memo is refreshed)."""
    if not fresh:
        known = memo_lookup(path)
        if known:
            return known
    sha = sha256_file(path)
    memo_store(path, sha)
    return sha


# ---- trust on first use -------------------------------------------------------------------------


def _trusted_path() -> Path:
    return facefill_home() / "trusted.json"


def trusted_sha256(name: str) -> str | None:
    """The hash recorded the first time an entry without a published hash was fetched or imported."""
    rec = read_json(_trusted_path()).get(name)
    return rec.get("sha256") if isinstance(rec, dict) else None


def record_trusted(name: str, sha: str, size: int, origin: str) -> None:
    with _state_lock():
        data = read_json(_trusted_path())
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        data[name] = {"sha256": sha, "size": size, "origin": origin, "recorded": stamp}
        write_json_atomic(_trusted_path(), data)
    log.warning(
        "weights %s has no published sha256: trusting this first copy (from %s), sha256 %s; recorded in %s "
        "and checked from now on", name, origin, sha, _trusted_path(),
    )


def forget_trusted(name: str) -> None:
    with _state_lock():
        data = read_json(_trusted_path())
        if data.pop(name, None) is not None:
            write_json_atomic(_trusted_path(), data)


def expected_sha256(entry: WeightsEntry) -> str | None:
    """The hash a file for `entry` must have: the published one, else the one trusted on first use."""
    return entry.sha256 or trusted_sha256(entry.name)


def how_to_place_by_hand(entry: WeightsEntry) -> str:
    """The sentence every download/verify error ends with."""
    where = entry.manual or (entry.sources[0].describe() if entry.sources else "its upstream project")
    return (
        f"get the file yourself ({where}) and run `facefill weights import {entry.name} PATH`, "
        f"or pass `--weights {entry.name}=PATH`"
    )


def mismatch(entry: WeightsEntry, path: Path, *, fresh: bool = False) -> tuple[str | None, str | None]:
    """(sha256, None) if `path` fits `entry`, else (sha256 or None, a short reason)."""
    size = path.stat().st_size
    if entry.size and size != entry.size:
        return None, f"size/sha256 mismatch: {size} bytes, expected {entry.size} (truncated or wrong file)"
    sha = file_sha256(path, fresh=fresh)
    expected = expected_sha256(entry)
    if expected and sha != expected:
        origin = "published" if entry.sha256 else "recorded on first use"
        return sha, f"sha256 mismatch: got {sha[:12]}…, expected {expected[:12]}… ({origin})"
    return sha, None


def check_file(entry: WeightsEntry, path: Path, *, fresh: bool = False) -> str:
    """Raise WeightsError unless `path` has the expected size/sha256; return its sha256.

    Entries with no known hash (not yet trusted) pass with their hash returned, so that the caller
    can record it.
    """
    sha, problem = mismatch(entry, path, fresh=fresh)
    if problem or sha is None:
        raise WeightsError(f"{path} is not weights {entry.name} ({problem}); {how_to_place_by_hand(entry)}")
    return sha
