"""Pick a torch device from a user string, falling back to CPU visibly when it is missing."""

from __future__ import annotations

import warnings

import torch

from facefill.errors import DeviceError


def resolve_device(spec: str = "auto") -> torch.device:
    """`auto|cpu|cuda|cuda:N|mps` -> a usable torch.device (CPU with a warning if unavailable)."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        try:
            dev = torch.device(spec)
        except RuntimeError as exc:
            raise DeviceError(
                f"--device {spec!r} is not a device name; use auto, cpu, cuda, cuda:N or mps"
            ) from exc
        if not torch.cuda.is_available():
            warnings.warn(f"--device {spec}: CUDA is not available here; running on CPU", stacklevel=2)
            return torch.device("cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            warnings.warn(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s); using cuda:0",
                stacklevel=2,
            )
            return torch.device("cuda:0")
        return dev
    if spec == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            warnings.warn("--device mps: MPS is not available here; running on CPU", stacklevel=2)
            return torch.device("cpu")
        return torch.device("mps")
    raise DeviceError(f"--device {spec!r} is not a device name; use auto, cpu, cuda, cuda:N or mps")
