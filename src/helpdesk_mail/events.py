"""Things that happened in the helpdesk, which the notification planner turns into emails.

Incoming mail produces some of them (`InboundResult.events`); the host produces the
rest (a ticket created on the web, a technician taking a ticket, a KB article edited).
A ticket event whose `ticket_id` is `None` refers to the ticket that the same
`InboundResult` creates, and a `TicketUpdated` whose `comment_id` is `None` to the
comment it adds: `bind_ticket` fills both in from the commit's outcome
(`helpdesk_mail.commit` does it before it records the events in the outbox).

Events are plain data: `helpdesk_mail.codec` turns each into a versioned JSON-ready
dict and back, and enum fields given as their string values (`via="email"`) are
turned into the enum, so a stored and loaded event is equal to the original.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum


class Via(StrEnum):
    """Where a ticket came from (the spec's `#Via#`)."""

    EMAIL = "email"
    WEB = "web"
    API = "api"
    CHAT = "chat"
    PHONE = "phone"


@dataclass(frozen=True)
class TicketCreated:
    """A new ticket was submitted by `actor`."""

    ticket_id: int | None
    actor: str
    via: Via = Via.EMAIL
    auto_response_allowed: bool = True
    """False for mail that must get no automatic answer (bulk, list, auto-response-suppressed)."""
    sender_known: bool = True
    """False when the ticket came by email from an address the helpdesk did not know (no
    account before this email) and that our receiving server did not authenticate
    (`incoming.sender_authentication`): anyone can forge such a From, so its confirmation
    must not quote the subject and text back (backscatter)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "via", Via(self.via))


@dataclass(frozen=True)
class TicketUpdated:
    """`actor` added a comment to a ticket."""

    ticket_id: int | None
    actor: str
    comment_id: int | None = None
    techs_only: bool = False
    has_attachments: bool = False
    via: Via = Via.EMAIL

    def __post_init__(self) -> None:
        object.__setattr__(self, "via", Via(self.via))


@dataclass(frozen=True)
class TicketClosed:
    """`actor` closed a ticket."""

    ticket_id: int
    actor: str


@dataclass(frozen=True)
class TicketTaken:
    """Technician `actor` took (was assigned) a ticket."""

    ticket_id: int
    actor: str
    previous_assignee: str | None = None


@dataclass(frozen=True)
class TicketMoved:
    """`actor` moved a ticket from one category to another."""

    ticket_id: int
    actor: str
    old_category: str | None
    new_category: str | None


@dataclass(frozen=True)
class KBArticleUpdated:
    """`actor` created or edited a knowledge-base article."""

    article_id: int
    actor: str


@dataclass(frozen=True)
class UserCreated:
    """A user account was created (the welcome email carries the password)."""

    email: str
    password: str
    actor: str = ""


@dataclass(frozen=True)
class StaffAddressSuppressed:
    """A delivery report proved that mail to a technician's or administrator's address
    bounced: notifications to it are suppressed until `until` (for the admins)."""

    email: str
    reason: str
    until: str
    """When the suppression ends (ISO 8601), as the admins are told it."""


@dataclass(frozen=True)
class InboundFlood:
    """Mail from one sender (`scope` `from:<address>`) or one domain (`domain:<domain>`)
    went over an inbound flood limit (`count` emails in `minutes`): more of it is kept
    for review, not ticketed, and this one summary goes to the admins per window."""

    scope: str
    count: int
    minutes: int
    account: str


@dataclass(frozen=True)
class MailboxAccountDisabled:
    """A mailbox account was disabled after too many failures in a row (for the admins)."""

    account: str
    failures: int
    last_error: str


@dataclass(frozen=True)
class MessageTooLarge:
    """A message larger than `incoming.max_message_bytes` was not processed: it is kept
    for the admins (quarantined like held mail) and its sender is told (`sender`)."""

    account: str
    sender: str
    size: int
    """The message's size in bytes."""
    limit: int
    """The limit it is over, in bytes."""
    subject: str = ""


Event = (
    TicketCreated
    | TicketUpdated
    | TicketClosed
    | TicketTaken
    | TicketMoved
    | KBArticleUpdated
    | UserCreated
    | MailboxAccountDisabled
    | MessageTooLarge
    | StaffAddressSuppressed
    | InboundFlood
)

_PENDING_TICKET = (TicketCreated, TicketUpdated)


def bind_ticket(event: Event, ticket_id: int | None, comment_id: int | None = None) -> Event:
    """The event with its pending (`None`) ticket id and, for a `TicketUpdated`, its pending
    comment id replaced by the committed ones (a `None` argument binds nothing)."""
    if isinstance(event, _PENDING_TICKET) and event.ticket_id is None and ticket_id is not None:
        event = dataclasses.replace(event, ticket_id=ticket_id)
    if isinstance(event, TicketUpdated) and event.comment_id is None and comment_id is not None:
        event = dataclasses.replace(event, comment_id=comment_id)
    return event
