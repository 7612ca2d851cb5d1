"""The end-to-end flow every batch command shares: plan -> run -> report -> exit code.

A command only builds a `PlanRequest` and a processor factory; this module adds the console,
one-line warnings, batch sizing, the summary table and `--summary-json`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facefill.jobs.plan import PlanRequest, build_plan
from facefill.jobs.processor import Processor
from facefill.jobs.progress import progress_wanted
from facefill.jobs.runner import RunOptions, default_workers, run_job
from facefill.jobs.summary import FAILED
from facefill.runtime.batching import reserve_cpu_for_io
from facefill.runtime.context import RunContext


@dataclass
class BatchSettings:
    overwrite: bool = False
    workers: int | None = None
    batch_size: int | None = None  # None = the processor's auto size
    summary_json: str | None = None
    quiet: bool = False
    debug: bool = False
    ray: str | None = None  # --ray: None = run here; "local", "auto" or a cluster address


@contextmanager
def one_line_warnings(emit: Callable[[str], None]) -> Iterator[None]:
    """Show Python warnings (device fallback...) as `warning: ...` lines instead of source dumps."""
    saved = warnings.showwarning

    def show(
        message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        emit(str(message))

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = saved


def run_batch_command(
    request: PlanRequest,
    make_processor: Callable[[Callable[[str], None]], Processor],
    settings: BatchSettings,
    plan: Callable[[PlanRequest], list[Any]] = build_plan,
    *,
    context: RunContext,
) -> int:
    """Plan, run and report a batch; returns the exit code (0 all good, 1 any item failed).

    `plan` lets a command adjust the planned items (e.g. `align` names outputs NAME_face0.EXT).
    `context` is the run's settings; sidecars record its `command`.
    """
    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=True)

    def warn(message: str) -> None:
        if not settings.quiet:
            console.print(f"warning: {message}", markup=False)

    with one_line_warnings(warn):
        items = plan(request)
        if settings.ray is not None:  # the model loads in each Ray actor, not in this process
            from facefill.jobs.ray_runner import run_batch_ray

            summary = run_batch_ray(items, make_processor, settings, context.command, console, warn)
        else:
            processor = make_processor(warn)
            workers = settings.workers or default_workers()
            reserve_cpu_for_io(workers)
            auto = getattr(processor, "auto_batch_size", None)
            batch_size = settings.batch_size or (auto() if auto else 1)
            options = RunOptions(
                overwrite=settings.overwrite,
                workers=workers,
                batch_size=batch_size,
                progress=progress_wanted(settings.quiet),
                debug=settings.debug,
                command=context.command,
                console=console,
            )
            summary = run_job(items, processor, options)
    if settings.summary_json:
        summary.write_json(Path(settings.summary_json))
    if not settings.quiet:
        summary.render(console)
    else:  # quiet still reports errors: one line per failed item
        for result in summary.results:
            if result.status == FAILED:
                console.print(f"error: {result.reason}", markup=False)
        if summary.all_unmasked:
            console.print("error: no image had a matching mask (see --mask)", markup=False)
    return summary.exit_code
