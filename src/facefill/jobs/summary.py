"""What happened to each item, the end-of-run table, and `--summary-json`.

Statuses: `done` (written now), `skipped` (reason `output exists`: finished by an earlier run; or
`no mask`: nothing to fill), `failed` (reason = the one-line error). Exit code: 1 when any item
failed, else 0. An image without a mask is *skipped*, not failed (as in IOPaint: a partial mask
folder is normal), except when no image at all had a mask, which is surely a mistake (exit 1).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facefill import __version__
from facefill.io.files import atomic_write_bytes
from facefill.jobs.plan import NO_MASK

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
OUTPUT_EXISTS = "output exists"


@dataclass
class ItemResult:
    name: str
    input: str
    output: str
    status: str
    reason: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Summary:
    command: str
    results: list[ItemResult] = field(default_factory=list)

    def add(self, result: ItemResult) -> None:
        self.results.append(result)

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(r.status for r in self.results)
        counts = {status: counter[status] for status in (DONE, SKIPPED, FAILED)}
        return {**counts, "total": len(self.results)}

    @property
    def all_unmasked(self) -> bool:
        """True when every item was skipped for lack of a mask (almost certainly a wrong --mask)."""
        return bool(self.results) and all(r.status == SKIPPED and r.reason == NO_MASK for r in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.counts[FAILED] or self.all_unmasked else 0

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(self.results, key=lambda r: r.name)
        return {
            "facefill_version": __version__,
            "command": self.command,
            "counts": self.counts,
            "exit_code": self.exit_code,
            "items": [asdict(r) for r in ordered],
        }

    def write_json(self, path: Path) -> None:
        atomic_write_bytes(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode("utf-8"))

    def render(self, console: Any, max_rows: int = 50) -> None:
        """Counts, then one row per failed item and per item skipped for a reason other than resume."""
        from rich.table import Table

        counts = self.counts
        noteworthy = sorted(
            (r for r in self.results if r.status != DONE and r.reason != OUTPUT_EXISTS),
            key=lambda r: (r.status != FAILED, r.name),
        )
        if noteworthy:
            table = Table(title="items not written", show_lines=False)
            table.add_column("status")
            table.add_column("input", overflow="fold")
            table.add_column("reason", overflow="fold")
            for r in noteworthy[:max_rows]:
                table.add_row(r.status, r.input, r.reason)
            console.print(table)
            if len(noteworthy) > max_rows:
                console.print(f"... and {len(noteworthy) - max_rows} more (see --summary-json)")
        resumed = sum(1 for r in self.results if r.reason == OUTPUT_EXISTS)
        console.print(
            f"done {counts[DONE]}, skipped {counts[SKIPPED]} ({resumed} already done), "
            f"failed {counts[FAILED]}, total {counts['total']}"
        )
        if self.all_unmasked:
            console.print(
                "error: no image had a matching mask; masks match by relative path, stem, or {stem}_mask"
            )
