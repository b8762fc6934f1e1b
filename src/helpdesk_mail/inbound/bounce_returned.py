"""The message a delivery report returns: its header fields, Message-IDs and sole recipient.

A report returns the failed message attached (`message/rfc822`), as its header
fields (`text/rfc822-headers`), or quoted inline after a start marker
(`bounce_patterns.RETURNED_START`; `returned_text`). Its Message-IDs say which mail
of ours the report answers (at most `MAX_RETURNED_IDS`); when it had a single
To/Cc recipient, that recipient is the one a report naming nobody is about
(`sole_recipient`). Header text is bounded by `TEXT_SCAN_LIMIT`; never raises.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import mime_headers
from .bounce_patterns import RETURNED_START
from .bounce_text import TEXT_SCAN_LIMIT

__all__ = [
    "MAX_RETURNED_IDS",
    "message_ids_in",
    "returned_header_lines",
    "returned_text",
    "sole_recipient",
]

MAX_RETURNED_IDS = 10
"""Message-IDs of returned messages reported per report (a bounce returns one)."""

_MESSAGE_ID_RE = re.compile(r"<[^<>\s@]{1,250}@[^<>\s@]{1,250}>")


def sole_recipient(headers: Iterable[tuple[str, str]]) -> str | None:
    """The one address a returned message was sent to (To/Cc), or `None` if not exactly one.

    A report that names nobody is still about that message; when it had a single
    recipient, that recipient is the one that failed.
    """
    found: dict[str, None] = {}
    for name, value in headers:
        if name.lower() in ("to", "cc", "bcc"):
            for addr in mime_headers.find_addresses(value):
                found.setdefault(addr, None)
    return next(iter(found)) if len(found) == 1 else None


def returned_header_lines(text: str) -> list[tuple[str, str]]:
    """The header fields of a returned message given as text (headers only)."""
    if not text.lstrip()[:1]:
        return []
    head = text[:TEXT_SCAN_LIMIT].split("\n\n", 1)[0].encode("utf-8", "surrogateescape")
    return [
        (name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
        for name, value in mime_headers.header_fields(head)
    ]


def message_ids_in(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The Message-IDs of the returned message's header fields."""
    found: list[str] = []
    for name, value in headers:
        if name.strip().lower() == "message-id":
            found.extend(_MESSAGE_ID_RE.findall(value[:1000]))
    return found


def returned_text(text: str) -> str:
    """The returned message of a plain-text report (what follows its start marker), if any."""
    cut = RETURNED_START.search(text)
    if cut is None:
        return ""
    rest = text[cut.start() :]
    if not re.match(
        r"\s*(?:return-path|received|dkim-signature|x-received|arc-seal|message-id"
        r"|mime-version|authentication-results|x-original-to|delivered-to"
        r"|x-originating-ip|x-track):",
        rest,
        re.IGNORECASE,
    ):
        rest = rest.split("\n", 1)[1] if "\n" in rest else ""
    return rest.lstrip("\r\n")
