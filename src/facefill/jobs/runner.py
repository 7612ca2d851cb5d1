"""Run a `Processor` over work items with overlap, resume, atomic outputs and per-item errors.

Pipeline: a small thread pool decodes up to `prefetch` items ahead and encodes finished ones while
the main thread computes. Both queues are bounded, so memory stays flat for any number of items.
An item is done when its output, its sidecar and every other output the sidecar lists exist (the
outputs are renamed into place together, the sidecar is written last); such items are skipped
unless `overwrite`, which makes an interrupted run resumable by rerunning it.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facefill.errors import DeviceError, FacefillError
from facefill.io.files import sha256_file, sweep_stale_temps
from facefill.jobs.outputs import SIDECAR_OUTPUTS_KEY, Describe, item_outputs, listed_outputs
from facefill.jobs.plan import WorkItem
from facefill.jobs.processor import MultiOutputProcessor, Processor
from facefill.jobs.progress import make_progress
from facefill.jobs.sidecar import HashCache, sidecar_record, write_sidecar
from facefill.jobs.summary import DONE, FAILED, OUTPUT_EXISTS, SKIPPED, ItemResult, Summary
from facefill.runtime.batching import BatchSizer, is_out_of_memory

AnyProcessor = Processor | MultiOutputProcessor  # `save` or `save_outputs` (see jobs.processor)

# Tests only: seconds to sleep per item in the compute step, to make a run slow enough to kill.
TEST_DELAY_ENV = "FACEFILL_TEST_ITEM_DELAY"


@dataclass
class RunOptions:
    overwrite: bool = False
    workers: int = 2
    batch_size: int = 1
    progress: bool = False
    debug: bool = False
    command: str = ""
    console: Any = None


@dataclass
class _Loaded:
    item: WorkItem
    payload: Any
    input_sha256: str
    companions: dict[str, tuple[Path, str]]
    decode_ms: float


def default_workers() -> int:
    """Threads for decode/encode: enough to hide I/O behind compute, few enough for small machines."""
    return max(1, min(4, os.cpu_count() or 1))


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, FacefillError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc} (a bug: rerun with --debug and report it)"


def is_finished(item: WorkItem) -> bool:
    """Output, sidecar and every output the sidecar lists present: an earlier run completed it."""
    if not (item.output.exists() and item.sidecar.exists()):
        return False
    listed = listed_outputs(item.sidecar)
    return listed is not None and all(Path(path).exists() for path in listed.values())


class _Run:
    """State of one run; split from `run_job` to keep each step short."""

    def __init__(self, processor: AnyProcessor, options: RunOptions, summary: Summary, advance: Callable):
        self.processor = processor
        self.options = options
        self.summary = summary
        self.advance = advance
        self.hashes = HashCache()
        self.sizer = BatchSizer(options.batch_size)
        self.run_info = processor.run_info()
        self.delay = float(os.environ.get(TEST_DELAY_ENV, "0") or 0)

    def record(self, item: WorkItem, status: str, reason: str = "", timings: dict | None = None) -> None:
        self.summary.add(
            ItemResult(item.name, str(item.source), str(item.output), status, reason, dict(timings or {}))
        )
        self.advance(1)

    def fail(self, item: WorkItem, exc: BaseException) -> None:
        if self.options.debug or not isinstance(exc, Exception):
            raise exc
        self.record(item, FAILED, _error_text(exc))

    # -- worker-thread steps ------------------------------------------------------------------
    def load(self, item: WorkItem) -> _Loaded:
        start = time.perf_counter()
        payload = self.processor.load(item)
        companions = {
            role: (path, self.hashes.sha256(path))
            for role, path in (("mask", item.mask), ("exemplar", item.exemplar))
            if path is not None
        }
        input_sha = sha256_file(item.source)
        return _Loaded(item, payload, input_sha, companions, _ms_since(start))

    def save(self, loaded: _Loaded, result: Any, compute_ms: float) -> dict[str, float]:
        item = loaded.item
        start = time.perf_counter()
        # A stale sidecar next to a new image would read as "done" with the old metadata if killed here.
        item.sidecar.unlink(missing_ok=True)
        several = hasattr(self.processor, "save_outputs")
        with item_outputs(item.output, self._describer(loaded), self._protected(item)) as outputs:
            if several:
                extra = self.processor.save_outputs(item, loaded.payload, result, outputs)
                extra = {**extra, SIDECAR_OUTPUTS_KEY: outputs.listing()}
            else:
                extra = self.processor.save(item, loaded.payload, result, outputs.target)
        timings = {"decode": loaded.decode_ms, "compute": compute_ms, "encode": _ms_since(start)}
        record = sidecar_record(
            output=item.output,
            input_path=item.source,
            input_sha256=loaded.input_sha256,
            companions=loaded.companions,
            timings_ms=timings,
            extra={**self.run_info, **extra},
            command=self.options.command,
        )
        write_sidecar(item.sidecar, record)
        return timings

    def _describer(self, loaded: _Loaded) -> Describe:
        """Builds the JSON record of one extra output (a face's transform...) of this item."""

        def describe(output: Path, fields: dict[str, Any]) -> dict[str, Any]:
            return sidecar_record(
                output=output,
                input_path=loaded.item.source,
                input_sha256=loaded.input_sha256,
                companions=loaded.companions,
                timings_ms={},
                extra={**self.run_info, **fields},
                command=self.options.command,
            )

        return describe

    @staticmethod
    def _protected(item: WorkItem) -> list[Path]:
        return [p for p in (item.source, item.mask, item.exemplar, item.sidecar) if p is not None]

    # -- main-thread steps --------------------------------------------------------------------
    def compute(self, batch: list[_Loaded]) -> list[tuple[_Loaded, Any, float]]:
        """Run the processor on a batch; halve on OOM; isolate a failing item by retrying singly."""
        start = time.perf_counter()
        try:
            if self.delay:
                time.sleep(self.delay * len(batch))
            results = self.processor.process([(b.item, b.payload) for b in batch])
        except Exception as exc:
            if is_out_of_memory(exc) and self.sizer.shrink(len(batch)):
                done: list[tuple[_Loaded, Any, float]] = []
                rest = batch
                while rest:  # re-slice at the current size: it may shrink again on the way
                    chunk, rest = rest[: self.sizer.size], rest[self.sizer.size :]
                    done += self.compute(chunk)
                return done
            if len(batch) > 1:
                return [r for b in batch for r in self.compute([b])]
            if is_out_of_memory(exc):
                exc = DeviceError(f"{batch[0].item.source}: out of memory even alone; use --device cpu")
            self.fail(batch[0].item, exc)
            return []
        per_item = _ms_since(start) / len(batch)
        return [(b, r, per_item) for b, r in zip(batch, results, strict=True)]


def known_outcome(item: WorkItem, overwrite: bool) -> tuple[str, str] | None:
    """(status, reason) decided before running: preset by the plan, or finished by an earlier run.

    Shared with the Ray runner so skip/resume means the same thing on one machine and on a cluster.
    """
    if item.preset_status is not None:
        return item.preset_status, item.preset_reason or ""
    if not overwrite and is_finished(item):
        return SKIPPED, OUTPUT_EXISTS
    return None


def _partition(items: list[WorkItem], overwrite: bool, run: _Run) -> list[WorkItem]:
    pending = []
    for item in items:
        outcome = known_outcome(item, overwrite)
        if outcome is None:
            pending.append(item)
        else:
            run.record(item, *outcome)
    return pending


def process_pending(
    pending: list[WorkItem],
    processor: AnyProcessor,
    options: RunOptions,
    summary: Summary,
    advance: Callable[[int], Any] = lambda n: None,
) -> None:
    """Load, compute and save items already known to need work (no skip check, no temp sweep).

    The per-item path of `run_job`, for a Ray actor running its share of a cluster batch.
    """
    run = _Run(processor, options, summary, advance)
    _pipeline(pending, run, max(1, options.workers))


def run_job(items: list[WorkItem], processor: AnyProcessor, options: RunOptions) -> Summary:
    """Process every item; never raises for an item-level FacefillError (see the summary)."""
    summary = Summary(command=options.command)
    sweep_stale_temps({item.output.parent for item in items})
    with make_progress(
        len(items), enabled=options.progress, description=processor.description, console=options.console
    ) as bar:
        run = _Run(processor, options, summary, bar.advance)
        pending = _partition(items, options.overwrite, run)
        if pending:
            _pipeline(pending, run, max(1, options.workers))
    return summary


def _pipeline(pending: list[WorkItem], run: _Run, workers: int) -> None:
    queue = iter(pending)
    loads: deque[tuple[WorkItem, Future]] = deque()
    writes: deque[tuple[WorkItem, Future]] = deque()
    prefetch = workers + run.sizer.size
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="facefill-io")

    def fill() -> None:
        while len(loads) < prefetch:
            item = next(queue, None)
            if item is None:
                return
            loads.append((item, pool.submit(run.load, item)))

    def finish_write(item: WorkItem, future: Future) -> None:
        try:
            timings = future.result()
        except BaseException as exc:
            run.fail(item, exc)
            return
        run.record(item, DONE, timings=timings)

    def flush(batch: list[_Loaded]) -> None:
        for loaded, result, compute_ms in run.compute(batch):
            writes.append((loaded.item, pool.submit(run.save, loaded, result, compute_ms)))
        while len(writes) > workers * 2:
            finish_write(*writes.popleft())

    try:
        batch: list[_Loaded] = []
        fill()
        while loads:
            item, future = loads.popleft()
            try:
                batch.append(future.result())
            except BaseException as exc:
                run.fail(item, exc)
            fill()
            if batch and (len(batch) >= run.sizer.size or not loads):
                flush(batch)
                batch = []
        while writes:
            finish_write(*writes.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
