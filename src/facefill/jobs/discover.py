"""Expand command-line inputs (files, folders, globs) into image files with stable relative names.

The relative name (a POSIX path) is what outputs mirror, what masks are paired by, what shards
hash and what per-item seeds derive from, so it must not depend on the current directory or on
the order of the listing.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from facefill.errors import UsageError

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})


def is_image_file(path: Path) -> bool:
    """True for a supported image extension (case-insensitive); hidden files are never images."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


@dataclass(frozen=True)
class InputFile:
    """One discovered image: where it is and the name outputs, masks and seeds key on."""

    path: Path
    rel: PurePosixPath


def _has_magic(text: str) -> bool:
    return glob.has_magic(text)


def _glob_base(pattern: str) -> Path:
    """The leading part of a glob with no wildcard in it: relative names start below it."""
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts:
        if _has_magic(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def list_images(folder: Path, recursive: bool) -> list[Path]:
    """Supported images in `folder` (sub-folders too when `recursive`; hidden folders never), sorted."""
    if not recursive:
        return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in files if is_image_file(Path(root) / f))
    return sorted(found)


def _rel(path: Path, base: Path) -> PurePosixPath:
    return PurePosixPath(path.relative_to(base).as_posix())


def discover_inputs(inputs: list[str], *, recursive: bool = False) -> list[InputFile]:
    """Files, folders (`recursive` descends) and globs -> sorted, de-duplicated image files.

    A file named explicitly must be a supported image (a typo is a usage error); folders and globs
    pick up supported images only. Raises UsageError when nothing is found.
    """
    found: dict[Path, InputFile] = {}
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            items = [InputFile(p, _rel(p, path)) for p in list_images(path, recursive)]
        elif path.is_file():
            if not is_image_file(path):
                raise UsageError(f"{text}: not a supported image (use {', '.join(sorted(IMAGE_EXTENSIONS))})")
            items = [InputFile(path, PurePosixPath(path.name))]
        elif _has_magic(text):
            base = _glob_base(text)
            matches = sorted(Path(m) for m in glob.glob(text, recursive=recursive or "**" in text))
            items = [InputFile(m, _rel(m, base)) for m in matches if m.is_file() and is_image_file(m)]
        else:
            raise UsageError(f"{text}: no such file or folder; check the path")
        for item in items:
            found.setdefault(item.path.resolve(), item)
    if not found:
        hint = "" if recursive else " (add --recursive to search sub-folders)"
        raise UsageError(f"no images found in {' '.join(inputs)}{hint}")
    return sorted(found.values(), key=lambda f: (f.rel.as_posix(), str(f.path)))
