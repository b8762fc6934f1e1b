"""The result of processing one incoming email: the parsed summary, verdict, actions and events.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..actions import Action
from ..events import Event
from ..model import Attachment


class Verdict(StrEnum):
    """What an incoming email becomes."""

    CREATE_TICKET = "create_ticket"
    ADD_COMMENT = "add_comment"
    DISCARD = "discard"


class DiscardReason(StrEnum):
    """Why an email was discarded (the `reason` of the inspect contract)."""

    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    SYSTEM_SENDER = "system_sender"
    LOOP = "loop"
    UNREGISTERED = "unregistered"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Address:
    """A mailbox: lower-cased address and decoded display name."""

    email: str
    name: str = ""


@dataclass(frozen=True)
class ParsedEmail:
    """The decoded parts of an email that the rules and the host use."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    subject: str
    date: datetime | None
    text: str
    """The plain-text body (from the HTML when there is no text part), quoted history included."""
    html: str | None
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Every header as decoded text, in order."""


@dataclass(frozen=True)
class InboundResult:
    """What `process_email` decided for one email. `raw` keeps the original bytes."""

    verdict: Verdict
    reason: DiscardReason | None
    email: ParsedEmail
    subject: str
    """The decoded subject with email-API commands removed (and, for a new ticket, any
    other ticket's `[#n]` token)."""
    commands: tuple[str, ...]
    """The commands that take effect; a refused one is named in `detail`."""
    ticket_id: int | None
    body_text: str
    """The new text of the message: quoted history and reply headers removed."""
    subscribers: tuple[str, ...]
    actions: tuple[Action, ...]
    events: tuple[Event, ...]
    detail: str = ""
    """Why: the junk rule that fired and its evidence, or how the ticket was found."""
    no_auto_response: bool = False
    """Human mail that must not get an automatic answer (bulk, list or auto-response-suppressed)."""
    bounced_recipients: tuple[str, ...] = ()
    error: str | None = None
    """Set when processing failed inside the library: the email must be kept, not deleted."""
    hold: str | None = None
    """Set (to why) when nothing may be done with the email yet it must not be deleted (no
    sender address, say): the poller keeps it for review like a poison message."""
    raw: bytes = field(default=b"", repr=False)

    def to_json(self) -> dict[str, Any]:
        """The inspect contract's JSON object (without `path`)."""
        return {
            "verdict": self.verdict.value,
            "reason": self.reason.value if self.reason else None,
            "from": {"email": self.email.sender.email, "name": self.email.sender.name},
            "subject": self.subject,
            "commands": list(self.commands),
            "ticket_id": self.ticket_id,
            "body_text": self.body_text,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "inline": a.inline,
                    "content_id": a.content_id,
                }
                for a in self.email.attachments
            ],
            "subscribers": list(self.subscribers),
            "detail": self.detail,
            "no_auto_response": self.no_auto_response,
            "bounced_recipients": list(self.bounced_recipients),
            "message_id": self.email.message_id,
        }
