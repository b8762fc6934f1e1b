"""Receipt keys: what makes two fetched emails the same email, for de-duplication.

A receipt key is (mailbox, Message-ID, `content_sha256`). The hash covers what an
email says (its identity headers and its body), not how it travelled: line
endings, header folding, trailing blank lines and trace headers (Received,
Delivered-To, Return-Path...) do not count, so the same email fetched twice, over
IMAP or POP3, or delivered through two aliases, has one key. Keys are stored by
the host: the hash of a given email must never change from one version to the next.

One exception, so that the hash covers the whole message: an email whose header has
no end (no blank line) within its first `mime_headers.MAX_SCANNED_HEAD` bytes (256 KB) used
to be hashed on its identity headers in those bytes alone, so that two different
such emails without Message-ID counted as one (the second was deleted as a
duplicate). Such an email (and one without a blank line whose lines are not all
header fields) is now hashed whole, line endings aside; for it, and only for it, a
key computed by an older version no longer matches: one still on the server from
before an upgrade may be processed once more.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import hashlib
import re

from ..ports import ReceiptKey
from .mime_headers import MAX_SCANNED_HEAD, header_end, split_message

__all__ = ["IDENTITY_HEADERS", "content_sha256", "message_id_of", "receipt_key"]

# The headers that say what a message is. Trace headers that servers add on the way
# (Received, Delivered-To, Return-Path, spam and authentication results...) are left
# out, so two copies of one email delivered by different routes or aliases hash alike.
IDENTITY_HEADERS = (
    b"from",
    b"sender",
    b"reply-to",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"in-reply-to",
    b"references",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
)
_SPACE = re.compile(rb"\s+")
_ANGLE_ID = re.compile(r"<[^<>\s]+>")


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID of a raw email (`<...>` form, first one), or None if it has none."""
    for name, value in split_message(raw)[0]:
        if name == b"message-id":
            text = value.decode("ascii", "replace")
            match = _ANGLE_ID.search(text)
            if match:
                return match.group(0)
            return text[:998] or None
    return None


def content_sha256(raw: bytes) -> str:
    """SHA-256 of what an email says: its identity headers and its body.

    Line endings (CRLF or LF), header folding and trailing blank lines do not count,
    nor do trace headers (see `IDENTITY_HEADERS`): the same email fetched twice, over
    IMAP or POP3, or delivered twice through two aliases has one hash.
    """
    fields, body = split_message(raw)
    if header_end(raw) is None and not _read_whole(raw, fields):
        # No end of header in the scanned window, and the fields are not all of the
        # email (it is longer than the window, or has lines that are not fields):
        # the whole email counts, trace headers included.
        whole = raw.replace(b"\r\n", b"\n").rstrip(b"\n")
        return hashlib.sha256(b"whole message\n" + whole).hexdigest()
    digest = hashlib.sha256()
    for wanted in IDENTITY_HEADERS:
        for name, value in fields:
            if name == wanted:
                digest.update(name + b":" + _SPACE.sub(b" ", value) + b"\n")
    digest.update(b"\n")
    digest.update(body.replace(b"\r\n", b"\n").rstrip(b"\n"))
    return digest.hexdigest()


_FOLD = re.compile(rb"\r?\n[ \t]+")


def _read_whole(raw: bytes, fields: list[tuple[bytes, bytes]]) -> bool:
    """Whether the header fields of a raw email without a blank line are all of it."""
    if len(raw) > MAX_SCANNED_HEAD:
        return False
    lines = [line for line in _FOLD.sub(b" ", raw).split(b"\n") if line.strip()]
    return len(lines) == len(fields)


def receipt_key(mailbox: str, raw: bytes) -> ReceiptKey:
    """The de-duplication key of a raw email received in `mailbox`."""
    return ReceiptKey(
        mailbox=mailbox,
        message_id=message_id_of(raw),
        content_sha256=content_sha256(raw),
    )
