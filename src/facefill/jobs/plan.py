"""Build the list of work items: discover, pair, name outputs, protect inputs, shard.

Everything decided before any image is opened lives here, so a plan can be inspected and tested
without decoding a single pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from facefill.errors import OutputError
from facefill.jobs.discover import discover_inputs
from facefill.jobs.outputs import output_paths, sidecar_paths
from facefill.jobs.pairing import Companions
from facefill.jobs.shard import Shard

NO_MASK = "no mask"


@dataclass(frozen=True)
class WorkItem:
    """One input image and everything the runner needs to process and record it."""

    source: Path
    rel: PurePosixPath
    output: Path
    sidecar: Path
    mask: Path | None = None
    exemplar: Path | None = None
    # Known before running: ("skipped", "no mask") or ("failed", "output collides ...").
    preset_status: str | None = None
    preset_reason: str | None = None

    @property
    def name(self) -> str:
        """The stable relative name (seeds, shards and reports use it)."""
        return self.rel.as_posix()


@dataclass(frozen=True)
class PlanRequest:
    """What a batch command asks for; see the CLI help of `facefill inpaint` for the meaning."""

    inputs: tuple[str, ...]
    output: str | None = None
    fmt: str = "same"
    recursive: bool = False
    mask: str | None = None
    exemplar: str | None = None
    require_mask: bool = True
    default_suffix: str = "_out"
    shard: Shard | None = None


def _resolved(path: Path) -> Path:
    return path.resolve()


def build_plan(req: PlanRequest) -> list[WorkItem]:
    """Expand the request into work items (already sharded), in a stable order.

    Raises OutputError when any output or sidecar would land on an input, mask or exemplar file:
    facefill never writes over its inputs.
    """
    found = discover_inputs(list(req.inputs), recursive=req.recursive)
    if req.output is not None and Path(req.output).is_dir():
        # `-o photos/out` inside `photos/ --recursive`: earlier outputs are not new inputs.
        out_root = _resolved(Path(req.output))
        found = [f for f in found if not _resolved(f.path).is_relative_to(out_root)] or found
    masks = Companions(req.mask, suffix="_mask", option="--mask", extra_extensions=(".npy",))
    exemplars = Companions(req.exemplar, suffix="_exemplar", option="--exemplar")

    paired = [(f, masks.find(f.rel, f.path), exemplars.find(f.rel, f.path)) for f in found]
    # Masks/exemplars that sit among the inputs (e.g. `a_mask.png` beside `a.png`) are not images to fill.
    companions = {_resolved(p) for _, m, e in paired for p in (m, e) if p is not None}
    paired = [t for t in paired if _resolved(t[0].path) not in companions]
    if not paired:
        raise OutputError("every input is used as a mask or exemplar; nothing to process")

    rels = [f.rel for f, _, _ in paired]
    sources = [f.path for f, _, _ in paired]
    outputs = output_paths(rels, sources, target=req.output, fmt=req.fmt, default_suffix=req.default_suffix)
    sidecars = sidecar_paths(outputs)

    protected = {_resolved(f.path) for f in found} | companions
    for out, side in zip(outputs, sidecars, strict=True):
        for path in (out, side):
            if _resolved(path) in protected:
                raise OutputError(f"{path} is an input; facefill never overwrites inputs: use another -o")

    items: list[WorkItem] = []
    owner: dict[Path, str] = {}
    for (found_file, mask, exemplar), out, side in zip(paired, outputs, sidecars, strict=True):
        status = reason = None
        key = _resolved(out)
        if key in owner:
            status = "failed"
            reason = f"output {out} is also the output of {owner[key]}; use --format same or rename one"
        elif req.require_mask and masks.given and mask is None:
            status, reason = "skipped", NO_MASK
        owner.setdefault(key, found_file.rel.as_posix())
        item = WorkItem(found_file.path, found_file.rel, out, side, mask, exemplar, status, reason)
        if req.shard is None or req.shard.owns(item.name):
            items.append(item)
    return items
