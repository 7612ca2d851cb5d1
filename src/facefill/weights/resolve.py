"""Find the file for a registry name: override, FACEFILL_WEIGHTS_DIR, cache, Hub cache, download.

The order puts the user's explicit choice first and the network last; every path returned has
been checked against the entry's sha256 (published or trusted on first use) when one is known.
Overrides, offline mode and the hash policy come from the caller's `RunContext`, never from globals,
so a worker process given the same context finds the same files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from facefill.errors import WeightsError
from facefill.runtime.context import RunContext
from facefill.weights.cache import cached_path, user_dir_candidates
from facefill.weights.download import download
from facefill.weights.registry import WeightsEntry, entry, has_entry
from facefill.weights.verify import check_file, expected_sha256, memo_forget, memo_lookup

log = logging.getLogger("facefill.weights")


@dataclass(frozen=True)
class Located:
    """Where a checkpoint was found and whether its hash is known to match."""

    path: Path
    origin: str  # "override" | "package" | "weights-dir" | "cache" | "hf-cache"
    verified: bool | None  # None: not hashed yet (use `verify`) or no hash to compare with


def checked_overrides(mapping: dict[str, str | Path]) -> tuple[tuple[str, str], ...]:
    """`--weights NAME=PATH` pairs checked (known name, existing file), as absolute paths for a RunContext."""
    checked: dict[str, str] = {}
    for name, path in mapping.items():
        if not has_entry(name):
            raise WeightsError(f"--weights {name}=...: unknown weights name; run `facefill weights list`")
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsError(f"--weights {name}={path}: no such file")
        checked[name] = str(p.resolve())
    return tuple(sorted(checked.items()))


def shipped_path(e: WeightsEntry) -> Path | None:
    """The package's own copy of an entry that ships with facefill (facefill/assets/...)."""
    if not e.asset:
        return None
    from importlib import resources

    return Path(str(resources.files("facefill") / "assets" / e.asset))


def _require_hash_guard(e: WeightsEntry, context: RunContext) -> None:
    if context.require_hash and not e.sha256 and not e.asset:
        raise WeightsError(
            f"weights {e.name} has no published sha256 and --require-hash is set; "
            "drop --require-hash to accept a hash recorded on first use, or choose another checkpoint"
        )


def resolve(name: str, context: RunContext) -> Path:
    """Local path of checkpoint `name`, verified; downloads it unless `context.is_offline()`."""
    e = entry(name)
    _require_hash_guard(e, context)
    over = context.weights_file(name)
    if over is not None:
        if not over.is_file():
            raise WeightsError(f"--weights {name}={over}: no such file")
        _check_override(e, over, context)
        return over
    shipped = shipped_path(e)
    if shipped is not None:
        if not shipped.is_file():
            raise WeightsError(f"weights {name}: the packaged file {shipped} is missing; reinstall facefill")
        return shipped
    for candidate in user_dir_candidates(e):
        if _accept_local(e, candidate, origin="FACEFILL_WEIGHTS_DIR"):
            return candidate
    cached = cached_path(e)
    if cached.is_file():
        try:
            check_file(e, cached)
            return cached
        except WeightsError as exc:
            log.warning("removing damaged cached file: %s", exc)
            cached.unlink(missing_ok=True)
            memo_forget(cached)
    hub_cached = _from_hf_cache(e)
    if hub_cached is not None:
        return hub_cached
    return download(e, context)


def locate(name: str, context: RunContext) -> Located | None:
    """Where `name` would be found locally right now, without downloading or hashing anything new."""
    e = entry(name)
    over = context.weights_file(name)
    if over is not None:
        return Located(over, "override", _memo_verified(e, over))
    shipped = shipped_path(e)
    if shipped is not None:
        return Located(shipped, "package", True) if shipped.is_file() else None
    for candidate in user_dir_candidates(e):
        v = _memo_verified(e, candidate)
        if v is not False:
            return Located(candidate, "weights-dir", v)
    cached = cached_path(e)
    if cached.is_file():
        return Located(cached, "cache", _memo_verified(e, cached))
    hub = _hf_cache_path(e)
    if hub is not None:
        return Located(hub, "hf-cache", _memo_verified(e, hub))
    return None


def _memo_verified(e: WeightsEntry, path: Path) -> bool | None:
    expected = expected_sha256(e)
    seen = memo_lookup(path)
    if expected is None or seen is None:
        return None
    return seen == expected


def _check_override(e: WeightsEntry, path: Path, context: RunContext) -> None:
    """An explicit --weights file is used even if it differs (a fine-tuned copy), but says so."""
    if e.asset and not e.sha256:
        return  # a re-export of a packaged model (e.g. `facefill train` output): nothing to compare with
    try:
        check_file(e, path)
    except WeightsError as exc:
        if context.require_hash:
            raise
        log.warning("using --weights %s=%s although it is not the registry's file (%s)", e.name, path, exc)


def _accept_local(e: WeightsEntry, path: Path, origin: str) -> bool:
    """A file found by name is only taken if its hash matches (names like state.pt collide)."""
    try:
        check_file(e, path)
        return True
    except WeightsError as exc:
        log.warning("ignoring %s file %s: %s", origin, path, exc)
        return False


def _hf_cache_path(e: WeightsEntry) -> Path | None:
    """A copy already in the user's Hugging Face cache (HF_HOME / HF_HUB_CACHE) at the pinned commit."""
    hub_sources = [s for s in e.sources if s.kind == "hub"]
    if not hub_sources:
        return None
    from huggingface_hub import try_to_load_from_cache

    for src in hub_sources:
        found = try_to_load_from_cache(src.hf, src.filename, revision=src.revision)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def _from_hf_cache(e: WeightsEntry) -> Path | None:
    path = _hf_cache_path(e)
    if path is not None and _accept_local(e, path, origin="Hugging Face cache"):
        return path
    return None
