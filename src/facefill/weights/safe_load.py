"""Read checkpoint files without ever executing code from them.

safetensors files are plain data. Pickled PyTorch files are read with `torch.load(weights_only=True)`
plus a short explicit allow-list (the argparse Namespace that rosinality/e4e training files carry,
numpy scalars and arrays); any other global in the pickle is refused with a WeightsError before it
is called. TorchScript archives go through `torch.jit.load`. Everything is mapped to CPU first;
moving to a device is the caller's business.
"""

from __future__ import annotations

import contextlib
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from facefill.errors import WeightsError

_SAFETENSORS_SUFFIXES = (".safetensors",)


def detect_format(path: Path) -> str:
    """'safetensors', 'torchscript' or 'torch-pickle', from the file's bytes (and its suffix)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise WeightsError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    if not head:
        raise WeightsError(f"checkpoint {path} is empty; download or copy it again")
    if path.suffix.lower() in _SAFETENSORS_SUFFIXES or _looks_like_safetensors(head):
        return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            raise WeightsError(f"checkpoint {path} is a damaged zip archive (truncated download?)") from None
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
    return "torch-pickle"


def _looks_like_safetensors(head: bytes) -> bool:
    # 8-byte little-endian header length, then a JSON object.
    return len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (1 << 30)


def allowed_globals() -> list[Any]:
    """Classes/functions a checkpoint pickle may name. Data containers only, nothing that runs code."""
    import argparse

    allowed: list[Any] = [argparse.Namespace]
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return allowed
    core = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    for fn in (core.scalar, core._reconstruct):
        for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1.x and 2.x pickles
            allowed.append((fn, f"{module}.{fn.__name__}"))
        allowed.append(fn)
    allowed += [np.ndarray, np.dtype]
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return allowed


def _refused_global(message: str) -> str | None:
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", message) or re.search(r"GLOBAL ([\w.]+)", message)
    return m.group(1) if m else None


def _allow_list(torch: Any) -> contextlib.AbstractContextManager:
    """The allow-list as a scoped context (torch >= 2.5); older torch gets the process-wide variant."""
    scoped = getattr(torch.serialization, "safe_globals", None)
    if scoped is not None:
        return scoped(allowed_globals())
    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is not None:
        add([g for g in allowed_globals() if not isinstance(g, tuple)])
    return contextlib.nullcontext()


def load_torch_pickle(path: Path) -> Any:
    """torch.load with weights_only=True and the allow-list, on CPU; refusals become WeightsError."""
    import torch

    try:
        with _allow_list(torch):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        name = _refused_global(str(exc))
        if name:
            raise WeightsError(
                f"refused to load {path}: it contains the pickled object `{name}`, which is not on "
                "facefill's allow-list (loading it could run code); "
                "convert the checkpoint to safetensors with a trusted tool"
            ) from None
        raise WeightsError(
            f"cannot read {path} safely ({_unpickler_detail(exc)}): a damaged file, or a pickle that the "
            "safe loader refused; check it with `facefill weights verify`, "
            "or convert it to safetensors with a trusted tool"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError) as exc:
        raise WeightsError(
            f"cannot read {path} as a PyTorch checkpoint ({_first_line(exc)}); damaged or truncated? "
            "run `facefill weights verify`"
        ) from None


def _unpickler_detail(exc: BaseException) -> str:
    """The one informative line of torch's long weights_only error."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            return rest or (lines[i + 1] if i + 1 < len(lines) else line)
    return lines[0][:200] if lines else type(exc).__name__


def load_safetensors(path: Path) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read {path} as safetensors: {_first_line(exc)}") from None


def safetensors_metadata(path: Path) -> dict[str, str]:
    """The string metadata of a safetensors file's header (e.g. the architecture config an export wrote)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read {path} as safetensors: {_first_line(exc)}") from None


def load_torchscript(path: Path) -> Any:
    import torch

    try:
        with warnings.catch_warnings():  # torch marks TorchScript deprecated; LaMa still ships as one
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as exc:
        raise WeightsError(f"cannot read {path} as a TorchScript model: {_first_line(exc)}") from None


def load_file(path: Path, fmt: str | None = None) -> Any:
    """Load any supported checkpoint file; the format is detected from its bytes."""
    detected = detect_format(path)
    if fmt == "torchscript" and detected == "torch-pickle":
        raise WeightsError(f"{path} is not a TorchScript archive (expected one for this checkpoint)")
    if detected == "safetensors":
        return load_safetensors(path)
    if detected == "torchscript":
        return load_torchscript(path)
    return load_torch_pickle(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
