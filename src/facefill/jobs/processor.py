"""The plug-in interface between the generic runner and one command (inpaint, align, edit...).

The runner calls, for each pending item:
  `load(item)`                        in a worker thread (decode image, mask...): overlaps compute;
  `process([(item, loaded), ...])`    on the main thread, a batch at a time (the model);
  `save(item, loaded, result, tmp)`   in a worker thread: encode the output into `tmp` (a temporary
                                      path with the output's extension; the runner renames it) and
                                      return the item's own sidecar fields.
A processor whose items write several files (aligned crops of every face, a latent, a comparison
strip, per-output JSON) defines `save_outputs(item, loaded, result, outputs)` instead of `save`:
`outputs` is a `jobs.outputs.ItemOutputs` (`outputs.target` is the main output's temporary path,
`outputs.path(name, final)` another one's, `outputs.metadata(...)` a JSON record); all are renamed
into place together and the item's sidecar, written last, lists them under `outputs`.
Raise a FacefillError for an item-level problem: that item is reported, the batch goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from facefill.jobs.outputs import ItemOutputs
from facefill.jobs.plan import WorkItem


class Processor(Protocol):
    description: str

    def run_info(self) -> dict[str, Any]:
        """Sidecar fields shared by every item of the run (model name, weight sha256s, device...)."""
        ...

    def load(self, item: WorkItem) -> Any: ...

    def process(self, batch: list[tuple[WorkItem, Any]]) -> list[Any]: ...

    def save(self, item: WorkItem, loaded: Any, result: Any, target: Path) -> dict[str, Any]: ...


class MultiOutputProcessor(Protocol):
    """A processor whose items write several named outputs (see the module docstring)."""

    description: str

    def run_info(self) -> dict[str, Any]: ...

    def load(self, item: WorkItem) -> Any: ...

    def process(self, batch: list[tuple[WorkItem, Any]]) -> list[Any]: ...

    def save_outputs(
        self, item: WorkItem, loaded: Any, result: Any, outputs: ItemOutputs
    ) -> dict[str, Any]: ...
