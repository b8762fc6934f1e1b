"""Delivery-status fields (RFC 3464 DSN, RFC 5965 ARF feedback): the blocks and who failed.

A `message/delivery-status` part (or a feedback report, or DSN fields a broken
report carries inline in its text) is read as blocks of `Name: value` fields
(`dsn_blocks`, `field_blocks`); `dsn_recipients` gives the recipients the blocks say
failed or were delayed, and whether the failure is only temporary.

Rules (in `dsn_recipients`): a recipient whose ``Action`` is a success
(`_SUCCESS_ACTIONS`) is left out; ``Action`` decides temporary (``delayed``) vs
permanent (``failed``, ``expired``), the ``Status`` class only when ``Action`` is
missing. DSN fields are not RFC 2047 text ("=?utf-8?...?=@x" is kept as sent); an
address in them may be UTF-8 (RFC 6531/6533). Bounded by `bounce_text`'s caps;
never raises.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message

from . import mime_headers, mime_parts
from .bounce_text import MAX_PARTS, MAX_RECIPIENTS, TEXT_SCAN_LIMIT, part_text

__all__ = [
    "REPORT_PARTS",
    "DsnRecipient",
    "dsn_blocks",
    "dsn_recipients",
    "field_blocks",
]

# In DSN fields an address may be UTF-8 (RFC 6531/6533 global delivery status).
_DSN_ADDR_RE = re.compile(
    r"[\w!#$%&'*+/=?^`{|}~.-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+", re.UNICODE
)
REPORT_PARTS = frozenset(
    {"message/delivery-status", "message/global-delivery-status", "message/xdelivery-status"}
)
"""The content types of delivery-status parts."""


@dataclass(frozen=True)
class DsnRecipient:
    """One per-recipient block of a `message/delivery-status` part."""

    final: str | None
    original: str | None
    action: str
    status: str


def _fields(text: str) -> dict[str, str]:
    """`Name: value` lines of one block (lower-case names, the first of each wins)."""
    block: dict[str, str] = {}
    for name, value in mime_headers.header_fields(text.encode("utf-8", "surrogateescape")):
        key = name.decode("utf-8", "replace")
        block.setdefault(key, value.decode("utf-8", "replace"))
    return block


def field_blocks(text: str) -> list[dict[str, str]]:
    """RFC 3464 field blocks of a text, separated by blank lines."""
    blocks = (_fields(chunk) for chunk in re.split(r"\n\s*\n", text[:TEXT_SCAN_LIMIT]))
    return [block for block in blocks if block]


def dsn_blocks(part: Message) -> list[dict[str, str]]:
    """Field blocks of a `message/*delivery-status` or feedback part."""
    children = mime_parts.payload(part)
    if isinstance(children, str):
        return field_blocks(part_text(part))
    blocks: list[dict[str, str]] = []
    for sub in children[:MAX_PARTS]:
        # DSN fields are not RFC 2047 text: "=?utf-8?...?=@x" is kept as sent.
        block: dict[str, str] = {}
        for name, value in sub.raw_items():
            block.setdefault(str(name).lower(), mime_headers.decode_raw_text(value))
        if block:
            blocks.append(block)
        body = mime_parts.payload(sub)
        if isinstance(body, str) and body:
            blocks.extend(field_blocks(body))
    return blocks


def _dsn_address(value: str | None) -> str | None:
    if not value:
        return None
    _, _, addr = value.rpartition(";")
    m = _DSN_ADDR_RE.search(addr or value)
    return m.group(0).lower().strip(".") if m else None


_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded", "deliverable"})


def dsn_recipients(blocks: Iterable[dict[str, str]]) -> tuple[list[DsnRecipient], bool | None]:
    """Failed/delayed recipients of DSN blocks and whether the failure is temporary.

    Recipients whose ``Action`` is a success (delivered, relayed, expanded) are left
    out.  ``Action`` decides temporary (``delayed``) vs permanent (``failed``,
    non-standard ``expired``); the ``Status`` class is used only when ``Action`` is
    missing (a 4.4.7 inside ``Action: failed`` is a final failure).
    """
    out: list[DsnRecipient] = []
    for block in blocks:
        final = _dsn_address(block.get("final-recipient") or block.get("x-actual-recipient"))
        original = _dsn_address(block.get("original-recipient"))
        if not final and not original:
            continue
        action = (block.get("action", "").strip().lower().split() or [""])[0].strip(";,()")
        status_m = re.search(r"[245]\.\d{1,3}\.\d{1,3}", block.get("status", ""))
        status = status_m.group(0) if status_m else ""
        if action in _SUCCESS_ACTIONS:
            continue
        out.append(DsnRecipient(final, original, action, status))
    temporary: bool | None = None
    if out:
        actions = {r.action for r in out}
        if actions & {"failed", "expired", "failure"}:
            temporary = False
        elif any(a.startswith("delay") for a in actions):
            temporary = True
        elif any(r.status.startswith("5") for r in out):
            temporary = False
        elif any(r.status.startswith("4") for r in out):
            temporary = True
    return out[:MAX_RECIPIENTS], temporary
