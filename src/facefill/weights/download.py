"""Fetch one registry entry into the cache: mirrors in order, bounded retries, a per-entry lock.

Hub sources go through `huggingface_hub.hf_hub_download` (HF_ENDPOINT, tokens and its own retry
and resume logic apply); URL sources through `pooch.retrieve` (hash-checked, written atomically).
Either way the file lands in a staging folder, is checked (size, sha256) and only then renamed into
the cache, so the cache never holds a partial or unverified file, even when two processes ask for
the same checkpoint at once.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from facefill.errors import WeightsError
from facefill.runtime.context import RunContext
from facefill.weights.cache import cached_path, lock_path, staging_dir
from facefill.weights.registry import Source, WeightsEntry
from facefill.weights.verify import (
    check_file,
    expected_sha256,
    how_to_place_by_hand,
    memo_forget,
    memo_store,
    mismatch,
    record_trusted,
)

log = logging.getLogger("facefill.weights")

URL_ATTEMPTS = 3  # per URL source; the Hub client retries on its own
RETRY_BACKOFF_S = 1.0  # wait before retry k is k * this
HTTP_TIMEOUT_S = 30


class _Permanent(Exception):
    """This source will not work however often we ask (404, wrong bytes from the Hub): next mirror."""


def offline_error(entry: WeightsEntry) -> WeightsError:
    return WeightsError(
        f"weights {entry.name} is not in the cache ({cached_path(entry)}) and facefill is offline "
        f"(--offline / HF_HUB_OFFLINE=1): run `facefill weights download {entry.name}` while online, "
        f"or place the file with `facefill weights import {entry.name} PATH`"
    )


def no_source_error(entry: WeightsEntry) -> WeightsError:
    return WeightsError(
        f"weights {entry.name} cannot be downloaded automatically (no licence to re-host it): "
        f"{entry.manual}; then run `facefill weights import {entry.name} PATH` "
        f"or pass --weights {entry.name}=PATH"
    )


def download(entry: WeightsEntry, context: RunContext, *, force: bool = False) -> Path:
    """Make sure `entry` is in the cache, downloading it if needed; return the cached path.

    `context` decides offline mode, the hash policy and whether progress bars show.
    """
    if context.require_hash and not entry.sha256:
        raise WeightsError(
            f"weights {entry.name} has no published sha256 and --require-hash is set; "
            f"{how_to_place_by_hand(entry)} without --require-hash, or choose another checkpoint"
        )
    if not entry.downloadable:
        raise no_source_error(entry)
    if context.is_offline():
        raise offline_error(entry)
    from filelock import FileLock

    final = cached_path(entry)
    lock_file = lock_path(entry)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0.5)
    except TimeoutError:
        log.warning("waiting for another facefill process that is downloading %s ...", entry.name)
        lock.acquire()
    try:
        if final.is_file() and not force:
            try:  # another process finished it while we waited
                check_file(entry, final)
                return final
            except WeightsError:
                final.unlink(missing_ok=True)
        return _download_locked(entry, final, context.show_progress())
    finally:
        lock.release()


def _download_locked(entry: WeightsEntry, final: Path, show_progress: bool) -> Path:
    failures: list[str] = []
    for source in (s for s in entry.sources if s.kind != "asset"):
        attempts = URL_ATTEMPTS if source.kind == "url" else 1
        for attempt in range(1, attempts + 1):
            try:
                fetched = _fetch(entry, source, show_progress)
                sha = _accept(entry, fetched, source)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(fetched, final)
                memo_store(final, sha)
                if not expected_sha256(entry):
                    record_trusted(entry.name, sha, final.stat().st_size, source.describe())
                shutil.rmtree(staging_dir(entry), ignore_errors=True)
                return final
            except _Permanent as exc:
                failures.append(f"{source.describe()}: {exc}")
                log.warning("download of %s from %s failed (%s)", entry.name, source.describe(), exc)
                break
            except Exception as exc:  # noqa: BLE001 - every failure of one source means: try again / next
                reason = _reason(exc)
                failures.append(f"{source.describe()}: {reason}")
                log.warning("download of %s from %s failed (%s)", entry.name, source.describe(), reason)
                if attempt < attempts:
                    time.sleep(RETRY_BACKOFF_S * attempt)
    shown = "; ".join(failures[-6:])
    raise WeightsError(f"could not download weights {entry.name} ({shown}); {how_to_place_by_hand(entry)}")


class _BadBytes(Exception):
    """A complete transfer whose size or sha256 is wrong (maybe corrupted in transit: retry)."""


def _accept(entry: WeightsEntry, path: Path, source: Source) -> str:
    """Check a freshly downloaded file; delete it if wrong so that nothing bad stays on disk."""
    sha, problem = mismatch(entry, path, fresh=True)
    if problem or sha is None:
        path.unlink(missing_ok=True)
        memo_forget(path)
        if source.kind == "hub":  # the Hub served complete bytes that are not the ones we pinned
            raise _Permanent(problem)
        raise _BadBytes(problem)
    return sha


def _fetch(entry: WeightsEntry, source: Source, show_progress: bool) -> Path:
    staging = staging_dir(entry)
    staging.mkdir(parents=True, exist_ok=True)
    if source.kind == "hub":
        return _fetch_hub(entry, source, staging, show_progress)
    return _fetch_url(entry, source, staging, show_progress)


def _progress_class(show: bool):
    """A tqdm bar in bytes with rate, hidden unless `show` (the context's progress setting)."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            kwargs["disable"] = not show
            kwargs.setdefault("unit", "B")
            kwargs.setdefault("unit_scale", True)
            kwargs.setdefault("unit_divisor", 1024)
            super().__init__(*args, **kwargs)

    return _Bar


def _fetch_hub(entry: WeightsEntry, source: Source, staging: Path, show_progress: bool) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/") or None
    try:
        path = hf_hub_download(
            source.hf,
            source.filename,
            revision=source.revision,
            local_dir=staging,
            endpoint=endpoint,
            tqdm_class=_progress_class(show_progress),
        )
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError, GatedRepoError) as exc:
        raise _Permanent(_reason(exc)) from None
    except Exception as exc:
        if _status_code(exc) in (401, 403, 404, 410):
            raise _Permanent(_reason(exc)) from None
        raise
    return Path(path)


def _fetch_url(entry: WeightsEntry, source: Source, staging: Path, show_progress: bool) -> Path:
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.WARNING)
    fname = entry.filename + ".download"
    (staging / fname).unlink(missing_ok=True)
    known = f"sha256:{entry.sha256}" if entry.sha256 else None
    bar = _progress_class(True)(total=entry.size or None, desc=entry.name) if show_progress else False
    downloader = pooch.HTTPDownloader(progressbar=bar, timeout=HTTP_TIMEOUT_S)
    try:
        path = pooch.retrieve(source.url, known_hash=known, fname=fname, path=staging, downloader=downloader)
    except requests.HTTPError as exc:
        if _status_code(exc) in (401, 403, 404, 410):
            raise _Permanent(_reason(exc)) from None
        raise
    finally:
        if bar:
            bar.close()
    return Path(path)


def _status_code(exc: BaseException) -> int | None:
    """The HTTP status behind an exception, looking through its cause/context chain."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 10:
        response = getattr(cur, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int):
            return code
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


def _reason(exc: BaseException) -> str:
    """A few words for the user: HTTP status, truncated transfer, hash mismatch, connection error."""
    code = _status_code(exc)
    if code is not None:
        return f"HTTP {code}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, (WeightsError, _BadBytes, _Permanent)):
        return text
    lowered = text.lower()
    if isinstance(exc, ValueError) and "hash" in lowered and "match" in lowered:  # pooch's check
        return "sha256 mismatch (corrupted or truncated transfer)"
    if any(k in lowered for k in ("incomplete", "consistency check", "connection broken", "truncat")):
        return f"truncated transfer ({text[:120]})"
    return f"{type(exc).__name__}: {text[:160]}"
