"""What the mailbox transports share: batches of fetches and their counters.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["MAX_BATCH_BYTES", "TransportStats", "split_batches"]

MAX_BATCH_BYTES = 32 * 1024 * 1024
"""Default cap on the bytes of one fetch batch (a single bigger message goes alone)."""


@dataclass
class TransportStats:
    """Counters summed over a transport's sessions (for benchmarks and tests)."""

    connections: int = 0
    commands: int = 0
    """Command lines sent to the server."""
    round_trips: int = 0
    """Server answers waited for: the greeting plus one per command (or pipelined batch)."""


def split_batches(
    uids: Sequence[str], count: int, sizes: dict[str, int], max_bytes: int
) -> Iterator[list[str]]:
    """`uids` in batches of at most `count` messages and (when sizes are known) `max_bytes`."""
    batch: list[str] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= count or total + size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch
