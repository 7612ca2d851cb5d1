"""A progress bar (items/s, ETA) on an interactive terminal; nothing when piped or `--quiet`."""

from __future__ import annotations

import sys
from typing import Any


def progress_wanted(quiet: bool) -> bool:
    """Show a bar only for a person watching: not quiet, and stderr is a terminal."""
    return not quiet and sys.stderr.isatty()


class NullProgress:
    """Drop-in for a disabled bar."""

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None


class BarProgress:
    """A rich progress bar on stderr with done/total, items/s and ETA."""

    def __init__(self, total: int, description: str, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class ItemsPerSecond(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text("  -- it/s" if speed is None else f"{speed:6.1f} it/s")

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            ItemsPerSecond(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> BarProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)


def make_progress(total: int, *, enabled: bool, description: str = "", console: Any = None) -> Any:
    """A context manager with `.advance()`: a bar when enabled, else a no-op."""
    if not enabled or total == 0:
        return NullProgress()
    return BarProgress(total, description, console)
