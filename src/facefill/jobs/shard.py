"""`--shard I/N`: split a batch across machines without coordination.

An item belongs to shard `sha256(relative name) mod N`: stable across machines, Python versions and
listing order, and independent of which other files exist (adding a file never moves another one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from facefill.errors import UsageError


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def owns(self, name: str) -> bool:
        """True when the item with relative name `name` belongs to this shard."""
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


def parse_shard(text: str | None) -> Shard | None:
    """'I/N' -> Shard(I, N) with 0 <= I < N; None for no sharding."""
    if text is None or text == "":
        return None
    try:
        left, right = text.split("/")
        index, count = int(left), int(right)
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected I/N, e.g. --shard 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {text!r}: need 0 <= I < N, e.g. --shard 0/4 ... 3/4")
    return Shard(index, count)
