"""Pure torch networks, one architecture a file, checkpoint-compatible with the public weights.

Use `build(name, **config)` / `from_checkpoint(name, source)`; see `registry.py`.
"""

from facefill.models.registry import available, build, from_checkpoint, load_strict, register

__all__ = ["available", "build", "from_checkpoint", "load_strict", "register"]
