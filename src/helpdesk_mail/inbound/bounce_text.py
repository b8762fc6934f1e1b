"""A message read as a possible delivery report: its parts and their text, bounded.

What every reader of a report (`bounce`, `bounce_dsn`, `bounce_ses`,
`bounce_recipients`, `bounce_returned`) starts from, and the caps they share:

- `iter_parts` visits at most `MAX_PARTS` parts and never descends into an attached
  message (`message/*`): what a returned or forwarded message contains belongs to
  someone else's mail;
- `part_text` decodes at most `TEXT_SCAN_LIMIT` characters of a leaf part (through
  `charsets`), with HTML tags removed; attachments are never decoded;
- at most `MAX_RECIPIENTS` failed recipients are reported per message.

Everything is pure and never raises on hostile input.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from email.message import Message

from . import charsets, mime_headers, mime_parts

__all__ = [
    "MAX_PARTS",
    "MAX_RECIPIENTS",
    "TEXT_SCAN_LIMIT",
    "flatten",
    "iter_parts",
    "messages_in",
    "part_text",
]

TEXT_SCAN_LIMIT = 64 * 1024
"""Characters of a text part that are decoded and scanned (bounces put their
explanation first; the returned message, which may be huge, comes after)."""

MAX_PARTS = 200
"""MIME parts visited per message (a bounce has 2-4)."""

MAX_RECIPIENTS = 100
"""Bounced recipients reported per message."""

_WS_RE = re.compile(r"\s+")
_TAG_RE = re.compile(r"<[^<>]{0,2000}>")


def iter_parts(msg: Message, max_parts: int = MAX_PARTS) -> Iterator[Message]:
    """Yield `msg` and its MIME parts depth-first, NOT descending into `message/*`.

    A returned or forwarded message (`message/rfc822`) is a leaf: what it contains
    belongs to someone else's mail (a person forwarding a bounce is human mail).
    """
    stack: list[Message] = [msg]
    seen = 0
    while stack and seen < max_parts:
        part = stack.pop()
        seen += 1
        yield part
        if mime_headers.content_type(part).startswith("message/"):
            continue
        children = mime_parts.payload(part)
        if isinstance(children, list):
            stack.extend(reversed(children[:max_parts]))


def messages_in(part: Message) -> list[Message]:
    """The messages a `message/*` part carries."""
    children = mime_parts.payload(part)
    return children if isinstance(children, list) else []


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def part_text(part: Message, limit: int = TEXT_SCAN_LIMIT) -> str:
    """At most about `limit` characters of a leaf part's text (HTML tags removed)."""
    data = mime_parts.body_bytes(part, limit)
    if not data:
        return ""
    text = charsets.decode_bytes(data[: limit * 4], _charset(part))[:limit]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    subtype = mime_headers.content_type(part).partition("/")[2]
    if subtype == "html" or (subtype != "plain" and "<html" in text[:2000].lower()):
        text = _TAG_RE.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", text))
        text = html.unescape(text)
    return text


def flatten(text: str) -> str:
    """Collapse runs of whitespace to one space (MTAs wrap their sentences differently)."""
    return _WS_RE.sub(" ", text)
