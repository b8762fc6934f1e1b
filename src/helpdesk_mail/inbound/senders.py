"""Addresses that belong to machines, not people (postmaster@, noreply@...).

The patterns are the junk filter's `SYSTEM_LOCAL_PARTS` table; this module gives
the rest of the library (subscribers of new tickets, notification recipients)
one question to ask of an address.
"""

from __future__ import annotations

from .junk import SYSTEM_LOCAL_PARTS


def is_system_address(address: str) -> bool:
    """Whether `address` is a system sender that must never be a subscriber or recipient."""
    local = address.strip().strip("<>").lower().rpartition("@")[0]
    return bool(local) and any(pattern.search(local) for _, pattern in SYSTEM_LOCAL_PARTS)
