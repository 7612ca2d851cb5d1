"""Stop a training run cleanly on SIGTERM / SIGINT: finish the step, checkpoint, return.

Runs here are time-boxed (`timeout 2h facefill train ...`, a scheduler's pre-emption, Ctrl-C), and
killing the process mid-way loses everything since the last timed checkpoint. Inside `StopSignal`
the first signal only sets `requested`; the loop checkpoints after the current step and ends, so
`--resume` continues exactly there. A second signal falls through to the previous handler (a
second Ctrl-C still interrupts at once). `timeout` and Ctrl-C signal the whole process group, so
data-loader workers ignore both (`ignore_stop_signals`): the main process stops them itself once it
has checkpointed, instead of finding them dead mid-step.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignal:
    """Context manager; `requested` is the signal's name ("SIGTERM") once one arrived, else None."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():  # handlers only work there
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is None:
            self.requested = signal.Signals(signum).name
            return
        previous = self._previous.get(signum)
        self.__exit__()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.raise_signal(signum)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def ignore_stop_signals(_worker_id: int = 0) -> None:
    """A data-loader worker's `worker_init_fn`: leave SIGTERM / SIGINT to the main process."""
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
