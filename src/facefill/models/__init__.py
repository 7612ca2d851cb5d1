"""Pure torch networks, one architecture a file, checkpoint-compatible with the public weights.

Use `build(name, **config)` / `from_checkpoint(name, state_dict)`; see `registry.py`. Files and
weights names load through `facefill.pipelines.pretrained.load_pretrained` (models/ does no I/O).
"""

from facefill.models.registry import available, build, from_checkpoint, load_strict, register

__all__ = ["available", "build", "from_checkpoint", "load_strict", "register"]
