"""The real clock and random source, for production use (tests use `memory`).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        return datetime.now(UTC)


class SystemRandom:
    """Cryptographically strong randomness from `secrets`."""

    def token_bytes(self, n: int) -> bytes:
        """`n` random bytes."""
        return secrets.token_bytes(n)
