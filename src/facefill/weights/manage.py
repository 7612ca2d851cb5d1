"""Cache maintenance behind `facefill weights import/remove/verify`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from facefill.errors import WeightsError
from facefill.runtime.context import RunContext
from facefill.weights.cache import cached_path, lock_path, staging_dir
from facefill.weights.registry import entry
from facefill.weights.verify import (
    check_file,
    expected_sha256,
    forget_trusted,
    memo_forget,
    memo_store,
    record_trusted,
)


def import_file(name: str, source: str | Path) -> Path:
    """Copy a hand-downloaded file into the cache after checking its hash (atomic, locked)."""
    from filelock import FileLock

    e = entry(name)
    if e.asset:
        raise WeightsError(
            f"weights {name} ships with facefill (package asset {e.asset}); "
            f"pass --weights {name}={source} to use that file instead"
        )
    src = Path(source).expanduser()
    if not src.is_file():
        raise WeightsError(f"cannot import {source}: no such file")
    sha = check_file(e, src, fresh=True)
    final = cached_path(e)
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path(e).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path(e))):
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".importing")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    memo_store(final, sha)
    if not expected_sha256(e):
        record_trusted(e.name, sha, final.stat().st_size, f"import of {src}")
    return final


def remove(name: str) -> bool:
    """Delete the cached copy (and partial downloads) of `name`; True if something was removed.

    Files named by --weights or FACEFILL_WEIGHTS_DIR belong to the user and are never touched. The
    trust-on-first-use record goes too, so a fresh download is trusted anew.
    """
    e = entry(name)
    final = cached_path(e)
    existed = final.is_file() or staging_dir(e).exists()
    if final.is_file():
        memo_forget(final)
        final.unlink()
    shutil.rmtree(staging_dir(e), ignore_errors=True)
    if not e.sha256:
        forget_trusted(e.name)
    return existed


def verify(name: str, context: RunContext) -> tuple[Path, str]:
    """Re-hash the local copy of `name` (never from the memo); WeightsError if missing or wrong."""
    from facefill.weights.resolve import locate

    found = locate(name, context)
    if found is None:
        raise WeightsError(f"weights {name} is not available locally; run `facefill weights download {name}`")
    e = entry(name)
    try:
        sha = check_file(e, found.path, fresh=True)
    except WeightsError as exc:
        if found.origin != "cache":
            raise
        memo_forget(found.path)
        found.path.unlink(missing_ok=True)
        raise WeightsError(f"{exc} (the damaged cached copy was deleted)") from None
    return found.path, sha
