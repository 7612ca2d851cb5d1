"""Deterministic per-item seeds: item i's seed depends only on (run seed, item name)."""

from __future__ import annotations

import hashlib


def item_seed(seed: int, name: str) -> int:
    """A 63-bit seed derived from the run seed and the item's relative name."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)
