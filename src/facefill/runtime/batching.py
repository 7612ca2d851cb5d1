"""Batch size choice and out-of-memory back-off.

`auto_batch_size` picks a starting size from the device (1 on CPU: no speed-up from batching there,
only memory); `BatchSizer` halves it whenever a batch runs out of memory, down to 1, and keeps the
smaller size for the rest of the run so one OOM does not repeat on every batch.
torch is only looked up if it is already imported, so the jobs layer can use this module cheaply.
"""

from __future__ import annotations

import sys
from typing import Any

MAX_AUTO_BATCH = 32
# Rough bytes of activations per input pixel of a mid-size inpainting GAN in float32; errs large.
_BYTES_PER_PIXEL = 12 * 400


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS out-of-memory errors and host MemoryError."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None) if torch else None
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_accelerator_memory() -> None:
    """Return cached blocks to the driver after an OOM (no-op without torch/CUDA)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def auto_batch_size(device: Any, *, batchable: bool, side: int | None = None) -> int:
    """A starting batch size: 1 on CPU or for unbatchable models; from free memory on CUDA."""
    kind = str(device).split(":")[0]
    if not batchable or kind == "cpu":
        return 1
    if kind == "mps":
        return 4
    if kind == "cuda":
        torch = sys.modules.get("torch")
        try:
            free, _total = torch.cuda.mem_get_info(device)  # type: ignore[union-attr]
        except Exception:
            return 4
        per_item = (side or 512) ** 2 * _BYTES_PER_PIXEL
        return max(1, min(MAX_AUTO_BATCH, int(free * 0.6) // per_item))
    return 1


class BatchSizer:
    """The current batch size, halved on each out-of-memory error."""

    def __init__(self, size: int) -> None:
        self.size = max(1, int(size))

    def shrink(self, failed_size: int | None = None) -> bool:
        """After an OOM on a batch of `failed_size` (default: the current size), halve; False at 1."""
        free_accelerator_memory()
        target = (failed_size or self.size) // 2
        if target < 1:
            return False
        self.size = min(self.size, target)
        return True


def reserve_cpu_for_io(io_workers: int) -> int:
    """Give torch's intra-op pool the cores the decode/encode threads do not use; returns the count.

    Oversubscribed OpenMP threads spin against the I/O threads: on a 2-core machine a 256x256
    classical fill took 3x longer with 2 torch threads than with 1. OMP_NUM_THREADS, when set, wins.
    """
    import os

    torch = sys.modules.get("torch")
    if torch is None or os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads() if torch is not None else 0
    threads = max(1, (os.cpu_count() or 1) - io_workers)
    torch.set_num_threads(threads)
    return threads
