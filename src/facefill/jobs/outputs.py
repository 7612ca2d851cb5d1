"""Where each output (and its sidecar) goes.

- `-o DIR` mirrors each input's relative path under DIR (`imgs/a/b.jpg` -> `DIR/a/b.jpg`).
- `-o FILE` (a name with an image extension) is allowed for exactly one input.
- no `-o`: one input is written beside itself as `{stem}{default_suffix}{ext}`; several need `-o`.
- `--format png|jpg|webp` changes the extension; `same` keeps the input's.

Sidecars are `NAME.json` beside the output with the image extension dropped (`out/photo.png` ->
`out/photo.json`). When two outputs in one folder differ only by extension (`photo.png` and
`photo.jpg` with `--format same`), both keep their extension instead (`photo.png.json`,
`photo.jpg.json`) so neither sidecar clobbers the other.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath

from facefill.errors import UsageError
from facefill.jobs.discover import IMAGE_EXTENSIONS

FORMATS: tuple[str, ...] = ("same", "png", "jpg", "webp")


def output_extension(rel: PurePosixPath, fmt: str) -> str:
    """The output file's extension for `--format fmt` (`same` keeps the input's)."""
    if fmt == "same":
        return rel.suffix
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return "." + fmt


def looks_like_image_file(path: Path) -> bool:
    """True when `-o` names a file (image extension) rather than a folder."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.is_dir()


def output_paths(
    rels: list[PurePosixPath],
    sources: list[Path],
    *,
    target: str | Path | None,
    fmt: str,
    default_suffix: str,
) -> list[Path]:
    """One output path per input, following the rules in the module docstring."""
    if target is not None and looks_like_image_file(Path(target)):
        if len(rels) != 1:
            raise UsageError(f"-o {target}: a file name, but {len(rels)} images were found; give a folder")
        out = Path(target)
        if fmt != "same" and out.suffix.lower().lstrip(".") not in {fmt, "jpeg" if fmt == "jpg" else fmt}:
            raise UsageError(f"-o {target} does not end in .{fmt}, yet --format {fmt} was given: fix one")
        return [out]
    if target is None:
        if len(rels) != 1:
            raise UsageError(f"{len(rels)} images found: give an output folder with -o DIR")
        src = sources[0]
        return [src.with_name(src.stem + default_suffix + output_extension(rels[0], fmt))]
    root = Path(target)
    return [root / Path(*rel.parent.parts) / (rel.stem + output_extension(rel, fmt)) for rel in rels]


def sidecar_paths(outputs: list[Path]) -> list[Path]:
    """`NAME.json` beside each output; `NAME.EXT.json` where two outputs share folder and stem."""
    stems = Counter(str(o.with_suffix("")) for o in outputs)
    return [
        o.with_suffix(".json") if stems[str(o.with_suffix(""))] == 1 else o.with_name(o.name + ".json")
        for o in outputs
    ]
