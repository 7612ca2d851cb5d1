"""Where each output (and its sidecar) goes.

- `-o DIR` mirrors each input's relative path under DIR (`imgs/a/b.jpg` -> `DIR/a/b.jpg`).
- `-o FILE` (a name with an image extension) is allowed for exactly one input.
- no `-o`: one input is written beside itself as `{stem}{default_suffix}{ext}`; several need `-o`.
- `--format png|jpg|webp` changes the extension; `same` keeps the input's.

Sidecars are `NAME.json` beside the output with the image extension dropped (`out/photo.png` ->
`out/photo.json`). When two outputs in one folder differ only by extension (`photo.png` and
`photo.jpg` with `--format same`), both keep their extension instead (`photo.png.json`,
`photo.jpg.json`) so neither sidecar clobbers the other.

An item may write several named outputs (`ItemOutputs`: image, aligned crop, latent, comparison
strip, per-output JSON...). Each goes to a temporary name and all are renamed together once the
processor has written every one; the runner then writes the item's sidecar last, listing them
under `outputs`. An item is finished only when its sidecar and every file it lists exist.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from facefill.errors import OutputError, UsageError
from facefill.io.files import atomic_target
from facefill.jobs.discover import IMAGE_EXTENSIONS

MAIN_OUTPUT = "output"
SIDECAR_OUTPUTS_KEY = "outputs"

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


# (file the metadata describes, its fields) -> the full JSON record (the runner adds shared fields)
Describe = Callable[[Path, dict[str, Any]], dict[str, Any]]


class ItemOutputs:
    """The files one work item writes. `path(name, final)` gives a temporary path to write
    output `name` to; `metadata(...)` queues a JSON record for one of them (e.g. a face's
    transform). Nothing reaches its final name until the processor has written everything."""

    def __init__(self, main: Path, stack: ExitStack, describe: Describe, protected: Iterable[Path]) -> None:
        self.main = main
        self._stack = stack
        self._describe = describe
        self._protected = {p.resolve() for p in protected}
        self._finals: dict[str, Path] = {}
        self._records: list[tuple[str, Path, Path, dict[str, Any]]] = []

    @property
    def target(self) -> Path:
        """The temporary path of the item's main output (`item.output`)."""
        return self.path(MAIN_OUTPUT, self.main)

    def _claim(self, name: str, final: Path) -> None:
        if name in self._finals:
            raise ValueError(f"output {name!r} written twice")
        if final.resolve() in self._protected or final.resolve() in {
            p.resolve() for p in self._finals.values()
        }:
            raise OutputError(f"{final} is an input or another output of this item: use another -o")
        self._finals[name] = final

    def path(self, name: str, final: Path) -> Path:
        self._claim(name, final)
        return self._stack.enter_context(atomic_target(final))

    def metadata(self, name: str, final: Path, *, describes: Path, fields: dict[str, Any]) -> None:
        """A JSON record for output `describes`, written (atomically) with the outputs."""
        self._claim(name, final)
        self._records.append((name, final, describes, fields))

    def listing(self) -> dict[str, str]:
        """name -> final path of every output (what the sidecar records)."""
        return {name: str(path) for name, path in self._finals.items()}

    def _write_records(self) -> None:
        from facefill.jobs.sidecar import write_sidecar

        for _, final, describes, fields in self._records:
            write_sidecar(final, self._describe(describes, fields))


@contextmanager
def item_outputs(main: Path, describe: Describe, protected: Iterable[Path] = ()) -> Iterator[ItemOutputs]:
    """Collect an item's outputs; on success rename all of them (then write their JSON records),
    on failure remove every temporary file."""
    with ExitStack() as stack:
        outputs = ItemOutputs(main, stack, describe, protected)
        yield outputs
        if MAIN_OUTPUT not in outputs.listing():
            raise OutputError(f"{main} was not written (a processor bug: report it)")
    outputs._write_records()


def listed_outputs(sidecar: Path) -> dict[str, str] | None:
    """The `outputs` a sidecar lists ({} for single-output sidecars); None if it cannot be read."""
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    listed = record.get(SIDECAR_OUTPUTS_KEY, {}) if isinstance(record, dict) else None
    return listed if isinstance(listed, dict) else None
