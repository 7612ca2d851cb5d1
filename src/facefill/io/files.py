"""Atomic file writes and file hashes: the one place every layer writes files through.

A killed run never leaves a half-written file under its final name: data goes to a hidden
temporary name in the destination folder, then `os.replace` renames it (atomic on POSIX and Windows
within one filesystem). Temporary names are `.NAME.HOST.PID-RAND.tmp.EXT`; a SIGKILL can still
strand one, so batch runs sweep stale ones from their output folders first: those of dead processes
on this host, or older than an hour from other hosts (shards on shared storage). No fsync: the goal
is surviving a killed process, not a power cut.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from facefill.errors import OutputError

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:32] or "host"
_TEMP_RE = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)-[0-9a-f]+\.tmp(\.[^.]*)?$")
FOREIGN_TEMP_MAX_AGE_S = 3600.0


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask is process-global and changing it later from threads would race.
_FILE_MODE = 0o666 & ~_current_umask()


def temp_path_for(final: Path) -> Path:
    """A hidden, unique temporary name beside `final`, keeping its extension (encoders look at it)."""
    return final.with_name(f".{final.name}.{_HOST}.{os.getpid()}-{secrets.token_hex(4)}.tmp{final.suffix}")


@contextmanager
def atomic_target(final: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it to `final`, on failure remove it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(final: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `final` atomically; an OS failure is an OutputError naming the file."""
    target = Path(final)
    try:
        with atomic_target(target) as tmp:
            tmp.write_bytes(data)
            os.chmod(tmp, _FILE_MODE)
    except OSError as exc:
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}: check free space and that the folder is writable"
        ) from exc
    return target


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def is_temp_name(name: str) -> bool:
    """True for a temporary file name made by `temp_path_for`."""
    return _TEMP_RE.match(name) is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temps(folders: Iterable[Path]) -> int:
    """Remove temporaries stranded by killed runs in `folders` (not recursive); return how many."""
    removed = 0
    now = time.time()
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = _TEMP_RE.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            if match["host"] == _HOST:
                stale = int(match["pid"]) != os.getpid() and not _pid_alive(int(match["pid"]))
            else:
                stale = now - entry.stat().st_mtime > FOREIGN_TEMP_MAX_AGE_S
            if stale:
                try:
                    os.unlink(entry.path)
                    removed += 1
                except OSError:
                    pass
    return removed
