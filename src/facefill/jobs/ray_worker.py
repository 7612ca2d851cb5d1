"""The Ray actor of a cluster batch: one processor (one model) per actor, items in, result rows out.

Rows crossing the cluster carry paths only (a pickled `WorkItem`, a few hundred bytes), never
image bytes: each actor reads its inputs and writes outputs + sidecars itself, atomically, through
the local runner's own per-item path (`runner.process_pending`), so a result is byte-identical to
a local run's. Item-level errors become `failed` rows, never exceptions, so Ray never retries them;
only a lost process (killed worker, dead node) is retried, a bounded number of times.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from facefill.jobs.processor import Processor
from facefill.jobs.runner import RunOptions, process_pending
from facefill.jobs.summary import Summary

# Environment that steers facefill (offline, weights folders, the test delay hook) or the hub client:
# copied from the driver into every actor, so a remote node behaves like the machine that started the job.
FORWARDED_ENV_PREFIXES = ("FACEFILL_", "HF_")

ProcessorFactory = Callable[[Callable[[str], None]], Processor]


def forwarded_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The driver's variables that every actor must see."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k.startswith(FORWARDED_ENV_PREFIXES)}


def encode_item(index: int, item: Any) -> dict[str, Any]:
    """A work item as a plain row: its position in the plan, its name, and the pickled paths."""
    return {"index": index, "name": item.name, "item": pickle.dumps(item)}


def _result_rows(summary: Summary, index_of: dict[str, int], notes: list[str]) -> dict[str, list]:
    rows: dict[str, list] = {"index": [], "status": [], "reason": [], "timings": [], "notes": [], "setup": []}
    for k, result in enumerate(summary.results):
        record = asdict(result)
        rows["index"].append(index_of[result.name])
        rows["status"].append(record["status"])
        rows["reason"].append(record["reason"])
        rows["timings"].append(json.dumps(record["timings_ms"]))
        rows["notes"].append(json.dumps(notes if k == 0 else []))  # a batch's warnings ride on one row
        rows["setup"].append("")
    return rows


def _setup_rows(indexes: list[int], error: tuple[str, str]) -> dict[str, list]:
    """Every item of the batch carries the setup error; the driver raises it once."""
    n = len(indexes)
    return {
        "index": list(indexes),
        "status": [""] * n,
        "reason": [""] * n,
        "timings": ["{}"] * n,
        "notes": ["[]"] * n,
        "setup": [json.dumps(error)] * n,
    }


class ItemActor:
    """Holds one processor for its lifetime; each call processes a batch of item rows.

    `factory(warn)` builds the processor here, in the actor (settings + run context travel pickled);
    `env` is the driver's `forwarded_env()`, applied before the processor reads any setting.
    """

    def __init__(self, factory: ProcessorFactory, options: RunOptions, env: dict[str, str]) -> None:
        os.environ.update(env)
        self.options = options
        self.notes: list[str] = []
        self.processor: Processor | None = None
        self.setup_error: tuple[str, str] | None = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.processor = factory(self.notes.append)
            except Exception as exc:  # the same in every actor: raised once by the driver
                self.setup_error = (type(exc).__name__, str(exc))
        self.notes += [str(w.message) for w in caught]
        self.run_options = self._with_batch_size(self.options)

    def _with_batch_size(self, options: RunOptions) -> RunOptions:
        """batch_size 0 = the processor's auto size on this actor's own device (a GPU here, maybe)."""
        if options.batch_size >= 1 or self.processor is None:
            return replace(options, batch_size=max(1, options.batch_size))
        auto = getattr(self.processor, "auto_batch_size", None)
        return replace(options, batch_size=auto() if auto else 1)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        indexes = [int(i) for i in batch["index"]]
        if self.setup_error is not None:
            return _setup_rows(indexes, self.setup_error)
        items = [pickle.loads(blob) for blob in batch["item"]]
        index_of = {item.name: i for item, i in zip(items, indexes, strict=True)}
        summary = Summary(command=self.options.command)
        assert self.processor is not None  # built, since there was no setup error
        with warnings.catch_warnings(record=True) as caught:  # shown by the driver, as locally
            process_pending(items, self.processor, self.run_options, summary)
        notes, self.notes = self.notes + [str(w.message) for w in caught], []
        return _result_rows(summary, index_of, notes)
