"""Atomic file writes: a killed run must never leave a half-written output under its final name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from facefill.errors import OutputError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask is process-global and changing it later from threads would race.
_FILE_MODE = 0o666 & ~_current_umask()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `.NAME.tmp-XXXX` beside `path`, then rename it over `path` in one step.

    The parent folder is created when missing. Any OS failure becomes an OutputError naming the file.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}: check that the folder is writable"
        ) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; outputs get the usual permissions
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}: check free space and permissions"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
