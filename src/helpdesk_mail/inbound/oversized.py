"""A message over the size limit: what the poller needs to answer it, from its header alone.

Rules (this file owns them):

1. A message longer than `max_message_bytes(settings, account)` bytes is not parsed:
   only its header block is read (up to the first blank line, at most
   `mime_headers.MAX_SCANNED_HEAD` bytes), through the same parser as any mail.
2. Its sender is told (`MessageTooLarge`) unless nobody should be: no sender address,
   one of the helpdesk's own addresses, a machine's address (`is_system_address`), or
   a header that asks for no automatic answer or marks machine mail (the junk
   filter's header rules: Auto-Submitted, a null Return-Path, Precedence bulk,
   List-Id, X-Auto-Response-Suppress...). The planner then applies its own
   protection (bounced addresses, the recipient's flood limits) as for any email.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from ..addresses import is_system_address, own_addresses
from ..events import MessageTooLarge
from ..settings import MailboxAccount, Settings
from ..tokens import check_message_id
from . import mime_headers
from .junk import classify
from .parse import parse_email

__all__ = ["header_block", "max_message_bytes", "too_large"]


def max_message_bytes(settings: Settings, account: MailboxAccount) -> int:
    """The size limit of messages read from `account` (its own, else the incoming one)."""
    own = account.max_message_bytes
    return own if own is not None else settings.incoming.max_message_bytes


def header_block(raw: bytes) -> bytes:
    """The header of a raw email, up to its first blank line (at most `MAX_SCANNED_HEAD`)."""
    end = mime_headers.header_end(raw)
    return raw[: end[0]] if end is not None else raw[: mime_headers.MAX_SCANNED_HEAD]


def too_large(
    raw: bytes, settings: Settings, account: MailboxAccount, limit: int
) -> MessageTooLarge | None:
    """The event that tells the sender of `raw` (over `limit` bytes) it was not accepted,
    or None when nobody should be told (see the module's rule 2)."""
    email, message = parse_email(header_block(raw) + b"\r\n\r\n")
    sender = email.sender.email
    own = own_addresses(settings)
    if not sender or sender in own or is_system_address(sender):
        return None
    secret = settings.outgoing.secret_key
    verdict = classify(
        message,
        sender=sender,
        helpdesk_addresses=own,
        is_own_message_id=lambda mid: check_message_id(mid, secret).ticket_id is not None,
        parsed=email,
    )
    if verdict.kind is not None or verdict.no_auto_response:
        return None
    return MessageTooLarge(
        account=account.name,
        sender=sender,
        size=len(raw),
        limit=limit,
        subject=email.subject,
    )
