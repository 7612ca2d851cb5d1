"""Run a planned batch on a Ray cluster: the same items, outputs and summary as `run_job`, on many workers.

The driver only plans: it settles preset and already-finished items exactly as the local runner
(`runner.known_outcome`), then streams the rest, as rows of paths, through a Ray Data
`map_batches` over a fixed pool of model actors (`jobs.ray_worker`): one actor per GPU of the
cluster, or one per CPU without GPUs. Actors read, process and write atomically themselves and send
back one small result row per item, from which the driver builds the `Summary`.

Failure policy: item errors are `failed` rows (never retried); a lost worker process is restarted
and its batch retried at most `MAX_RESTARTS` / `MAX_TASK_RETRIES` times (Ray's default is forever);
items whose batch is dropped after that are reported failed once, and a rerun resumes them.
Paths must be visible on every node (shared storage): only paths travel, never pixels.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from facefill import errors
from facefill.errors import FacefillError, UsageError
from facefill.io.files import sweep_stale_temps
from facefill.jobs.plan import WorkItem
from facefill.jobs.progress import make_progress
from facefill.jobs.ray_worker import ItemActor, ProcessorFactory, encode_item, forwarded_env
from facefill.jobs.runner import RunOptions, is_finished, known_outcome
from facefill.jobs.summary import DONE, FAILED, ItemResult, Summary

LOCAL = "local"  # `--ray` without an address: a private single-machine cluster for this run
INSTALL_HINT = "--ray needs Ray: pip install 'facefill[ray]'"
MAX_RESTARTS = 2
MAX_TASK_RETRIES = 2
GPU_BATCH_GUESS = 8
ACTOR_IO_WORKERS = 2
CALLS_PER_MODEL_BATCH = 4  # rows per actor call = this x the model batch: hides per-call overhead


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the `data` extra, not only ray core)
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


@contextmanager
def ray_session(address: str | None, num_cpus: int | None = None) -> Iterator[Any]:
    """Connect to `address` ("auto", "HOST:PORT", "ray://...") or start a loopback-only local Ray.

    An already initialised Ray (a notebook, a test fixture) is used as is and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address in (None, "", LOCAL):
        start_local_ray(num_cpus)
    else:
        try:
            ray.init(address=address, configure_logging=False, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UsageError(
                f"--ray {address}: cannot connect ({exc}); is `ray start --head` running?"
            ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def start_local_ray(num_cpus: int | None = None) -> None:
    """Start a private single-machine Ray that listens on 127.0.0.1 only, without a dashboard.

    On Linux Ray binds to the routable address; the loopback choice is only an import-time switch
    (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0), so set the constant it reads. Should a later Ray move
    it, the local cluster binds as Ray chooses (still private to this run).
    """
    ray = import_ray()
    try:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    except (ImportError, AttributeError):
        pass
    ray.init(num_cpus=num_cpus, include_dashboard=False, configure_logging=False, log_to_driver=False)


def actor_pool(resources: dict[str, float], items: int) -> tuple[int, float]:
    """(actors, GPUs per actor): one actor per GPU, else one per CPU; never more actors than items."""
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return max(1, min(gpus, items)), 1.0
    return max(1, min(int(resources.get("CPU", 1)), items)), 0.0


def rows_per_call(pending: int, actors: int, model_batch: int) -> int:
    """Rows per actor call: a few model batches, but small enough that every actor gets work."""
    wanted = CALLS_PER_MODEL_BATCH * max(1, model_batch)
    return max(1, min(wanted, math.ceil(pending / max(1, actors))))


def _setup_error(payload: str) -> Exception:
    """The actors' processor-building error, as the local runner would have raised it."""
    name, message = json.loads(payload)
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, FacefillError):
        return cls(message)
    return RuntimeError(f"{name} while building the processor in a Ray actor: {message}")


def run_job_ray(
    items: list[WorkItem],
    processor_factory: ProcessorFactory,
    options: RunOptions,
    address: str | None = None,
    warn: Callable[[str], None] = lambda message: None,
    description: str = "batch (ray)",
) -> Summary:
    """`run_job` on Ray. `processor_factory(warn)` runs in each actor (cloudpickled: settings + context);
    `options.batch_size` 0 lets each actor pick its device's auto size. Raises the factory's setup
    error (unknown model, missing weights) once, like the local runner would before running."""
    summary = Summary(command=options.command)
    sweep_stale_temps({item.output.parent for item in items})
    with make_progress(
        len(items), enabled=options.progress, description=description, console=options.console
    ) as bar:
        pending: list[tuple[int, WorkItem]] = []
        for index, item in enumerate(items):
            outcome = known_outcome(item, options.overwrite)
            if outcome is None:
                pending.append((index, item))
            else:
                summary.add(ItemResult(item.name, str(item.source), str(item.output), *outcome))
                bar.advance(1)
        if pending:
            with ray_session(address) as ray:
                _run_on_ray(ray, pending, processor_factory, options, summary, warn, bar.advance)
    return summary


def _run_on_ray(
    ray: Any,
    pending: list[tuple[int, WorkItem]],
    factory: ProcessorFactory,
    options: RunOptions,
    summary: Summary,
    warn: Callable[[str], None],
    advance: Callable[[int], Any],
) -> None:
    from ray.data import DataContext

    actors, gpus = actor_pool(ray.cluster_resources(), len(pending))
    # batch_size 0 (auto) is decided per actor; guess a GPU-sized batch for the rows per call.
    rows = rows_per_call(len(pending), actors, options.batch_size or (GPU_BATCH_GUESS if gpus else 1))
    actors = min(actors, math.ceil(len(pending) / rows))
    context = DataContext.get_current()
    saved = {k: getattr(context, k) for k in _DATA_SETTINGS}
    for key, value in _DATA_SETTINGS.items():
        setattr(context, key, value)
    data_log = logging.getLogger("ray.data")
    saved_level = data_log.level
    if not options.debug:  # Ray Data's INFO lines would drown facefill's own progress and summary
        data_log.setLevel(logging.ERROR)
    try:
        dataset = _dataset(ray, pending, factory, options, rows, actors, gpus)
        _collect(dataset, pending, options, summary, warn, advance)
    finally:
        data_log.setLevel(saved_level)
        for key, value in saved.items():
            setattr(context, key, value)


_DATA_SETTINGS = {
    "max_errored_blocks": -1,  # a batch lost for good is reported by `_collect`; the others carry on
    "enable_progress_bars": False,  # facefill draws its own
    "print_on_execution_start": False,
}


def _dataset(
    ray: Any,
    pending: list[tuple[int, WorkItem]],
    factory: ProcessorFactory,
    options: RunOptions,
    rows: int,
    actors: int,
    gpus: float,
) -> Any:
    from ray.data import ActorPoolStrategy

    plain = replace(options, console=None, progress=False, debug=False)  # what actors need
    source = ray.data.from_items(
        [encode_item(i, item) for i, item in pending], override_num_blocks=math.ceil(len(pending) / rows)
    )
    with warnings.catch_warnings():
        # Ray 2.60 has no named parameter for bounded restarts yet; **ray_remote_args is the only way.
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        return source.map_batches(
            ItemActor,
            fn_constructor_args=(factory, plain, forwarded_env()),
            batch_size=rows,
            # One call in flight per actor: a worker that dies takes only its own call with it.
            compute=ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
            num_cpus=1,
            num_gpus=gpus or None,
            max_restarts=MAX_RESTARTS,
            max_task_retries=MAX_TASK_RETRIES,
        )


def _collect(
    dataset: Any,
    pending: list[tuple[int, WorkItem]],
    options: RunOptions,
    summary: Summary,
    warn: Callable[[str], None],
    advance: Callable[[int], Any],
) -> None:
    """Stream result rows into the summary; whatever never came back is reported failed, once."""
    by_index = dict(pending)
    reported: set[int] = set()
    setup_failed = False
    lost = "its Ray worker was lost repeatedly; rerun the same command to resume"
    try:
        for row in dataset.iter_rows():
            if row["setup"]:
                setup_failed = True
                raise _setup_error(row["setup"])
            index = int(row["index"])
            item = by_index[index]
            for note in json.loads(row["notes"]):
                warn(note)
            timings = json.loads(row["timings"])
            summary.add(
                ItemResult(
                    item.name, str(item.source), str(item.output), row["status"], row["reason"], timings
                )
            )
            reported.add(index)
            advance(1)
    except Exception as exc:
        if setup_failed or options.debug:
            raise
        # The cluster itself failed (head lost, retries exhausted...): the rest is reported below.
        lost = (
            f"the Ray job stopped ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); rerun to resume"
        )
    for index, item in pending:
        if index in reported:
            continue
        # A dropped call may have saved some of its items before its worker died: those are done.
        if is_finished(item):
            summary.add(ItemResult(item.name, str(item.source), str(item.output), DONE, ""))
        else:  # dropped batches and anything after a stop: reported once
            summary.add(ItemResult(item.name, str(item.source), str(item.output), FAILED, lost))
        advance(1)


def run_batch_ray(
    items: list[WorkItem],
    make_processor: ProcessorFactory,
    settings: Any,
    command: str,
    console: Any,
    warn: Callable[[str], None],
) -> Summary:
    """`run_batch_command`'s Ray branch: its BatchSettings -> RunOptions for actors -> `run_job_ray`.

    Each actor has one CPU, so it gets 2 decode/encode threads unless --workers says otherwise, and
    the model batch stays "auto" (0) unless --batch-size is given: each actor sizes it on its own device.
    """
    from facefill.jobs.progress import progress_wanted

    options = RunOptions(
        overwrite=settings.overwrite,
        workers=settings.workers or ACTOR_IO_WORKERS,
        batch_size=settings.batch_size or 0,
        progress=progress_wanted(settings.quiet),
        debug=settings.debug,
        command=command,
        console=console,
    )
    return run_job_ray(items, make_processor, options, settings.ray, warn)
