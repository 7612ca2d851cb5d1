"""Export a trained generator (normally the EMA copy) to a safetensors file facefill can ship/load.

The architecture config travels in the safetensors metadata so that the loader can rebuild the exact
network without guessing (`widths`, `dilations` as JSON), together with the training step.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file


def export_generator(generator: torch.nn.Module, path: str | Path, step: int | None = None) -> Path:
    """Write `generator`'s float32 state dict + architecture metadata atomically to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = (
        generator.module if isinstance(generator, torch.nn.parallel.DistributedDataParallel) else generator
    )
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()}
    metadata = {"arch": "facefill-lite"}
    if hasattr(module, "widths"):
        metadata["widths"] = json.dumps(list(module.widths))
    if hasattr(module, "dilations"):
        metadata["dilations"] = json.dumps(list(module.dilations))
    if step is not None:
        metadata["step"] = str(step)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)  # a model file others may read, whatever the writer's temp-file mode
    os.replace(tmp, path)
    return path
