"""Export a trained generator (normally the EMA copy) to a safetensors file facefill can ship/load.

The architecture name and config travel in the safetensors metadata (config values as JSON) so that
a loader can rebuild the exact network without guessing, together with the training step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file


def export_generator(
    generator: torch.nn.Module,
    path: str | Path,
    step: int | None = None,
    arch: str = "facefill-lite",
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Write `generator`'s float32 state dict + `arch`/`config` metadata atomically to `path`.

    Without `config`, the facefill-lite attributes `widths` and `dilations` are recorded when present.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = (
        generator.module if isinstance(generator, torch.nn.parallel.DistributedDataParallel) else generator
    )
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()}
    if config is None:
        config = {k: list(getattr(module, k)) for k in ("widths", "dilations") if hasattr(module, k)}
    metadata = {"arch": arch, **{k: json.dumps(v) for k, v in config.items()}}
    if step is not None:
        metadata["step"] = str(step)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)  # a model file others may read, whatever the writer's temp-file mode
    os.replace(tmp, path)
    return path
