"""Deterministic per-item seeds: item i's seed depends only on (run seed, item name).

Randomness reaches models through one `torch.Generator` per item (`item_generator`), never through
torch's global RNG, so an item gives the same result alone, in any batch, or in another process.
"""

from __future__ import annotations

import hashlib
from typing import Any


def item_seed(seed: int, name: str) -> int:
    """A 63-bit seed derived from the run seed and the item's relative name."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def item_generator(seed: int, name: str) -> Any:
    """A CPU `torch.Generator` seeded with `item_seed(seed, name)` (draw on CPU, then move)."""
    import torch

    return torch.Generator(device="cpu").manual_seed(item_seed(seed, name))
