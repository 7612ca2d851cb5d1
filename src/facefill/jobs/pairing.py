"""Pair each image with its mask (or exemplar): one file for all images, or a folder matched by name.

Folder matching, first hit wins (extensions compared case-insensitively, the image's own extension
preferred when several files share a name):

1. the same relative path without extension (`imgs/a/b.jpg` <-> `masks/a/b.png`);
2. the same stem at the top of the folder (`masks/b.png`);
3. the stem plus a suffix, e.g. `_mask`, beside the relative path, then at the top (`masks/a/b_mask.png`,
   `masks/b_mask.png`).

The folder is listed once (an index), so pairing thousands of images costs one directory walk.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from facefill.errors import UsageError
from facefill.jobs.discover import list_images

SUFFIX_MASK = "_mask"
SUFFIX_EXEMPLAR = "_exemplar"


class Companions:
    """Finds the companion file (mask or exemplar) of an image by its relative name."""

    def __init__(
        self, source: str | Path | None, *, suffix: str, option: str, extra_extensions: tuple[str, ...] = ()
    ) -> None:
        self.suffix = suffix
        self.single: Path | None = None
        self.folder: Path | None = None
        self._index: dict[str, list[Path]] = {}
        if source is None:
            return
        path = Path(source)
        if path.is_dir():
            self.folder = path
            files = list_images(path, recursive=True)
            if extra_extensions:
                extra = (p for p in path.rglob("*") if p.suffix.lower() in extra_extensions and p.is_file())
                files += sorted(extra)
            for file in files:
                key = file.relative_to(path).with_suffix("").as_posix()
                self._index.setdefault(key, []).append(file)
        elif path.is_file():
            self.single = path
        else:
            raise UsageError(f"{option} {source}: no such file or folder; check the path")

    @property
    def given(self) -> bool:
        return self.single is not None or self.folder is not None

    def _lookup(self, key: str, prefer_ext: str) -> Path | None:
        candidates = self._index.get(key)
        if not candidates:
            return None
        for c in candidates:
            if c.suffix.lower() == prefer_ext.lower():
                return c
        return candidates[0]

    def find(self, rel: PurePosixPath, image_path: Path | None = None) -> Path | None:
        """The companion of the image named `rel`, or None; never the image itself."""
        if self.single is not None:
            return self.single
        if self.folder is None:
            return None
        stem = rel.stem
        parent = rel.parent.as_posix()
        prefix = "" if parent == "." else parent + "/"
        keys = [prefix + stem, stem, prefix + stem + self.suffix, stem + self.suffix]
        own = image_path.resolve() if image_path is not None else None
        for key in dict.fromkeys(keys):
            hit = self._lookup(key, rel.suffix)
            if hit is not None and hit.resolve() != own:
                return hit
        return None
