"""What an incoming email asks the host to do: actions, as frozen dataclasses.

`process_email` returns a tuple of these; the host applies them in its own storage
(or `Storage.commit` does, for hosts that implement the protocol). An action whose
`ticket_id` is `None` refers to the ticket created by the `CreateTicket` of the
same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .model import Attachment, Role


@dataclass(frozen=True)
class CreateUser:
    """Register an unknown sender (accept-unregistered is on) with a generated password."""

    email: str
    name: str
    password: str
    role: Role = Role.USER


@dataclass(frozen=True)
class CreateTicket:
    """Open a new ticket from an email."""

    subject: str
    submitter: str
    body_text: str
    body_html: str | None
    category: str | None
    subscribers: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    message_id: str | None
    via: str = "email"


@dataclass(frozen=True)
class AddComment:
    """Add a reply to a ticket's log (`ticket_id` None: the ticket this result creates)."""

    ticket_id: int | None
    author: str
    body_text: str
    body_html: str | None
    techs_only: bool
    attachments: tuple[Attachment, ...]
    message_id: str | None
    full_text: str = ""
    """The whole text of the message, quoted history included."""


@dataclass(frozen=True)
class AddSubscribers:
    """Subscribe addresses to a ticket."""

    ticket_id: int | None
    emails: tuple[str, ...]


@dataclass(frozen=True)
class RemoveSubscriber:
    """Unsubscribe an address from a ticket (`#unsubscribe#`)."""

    ticket_id: int
    email: str


@dataclass(frozen=True)
class CloseTicket:
    """Close a ticket (`#close#`)."""

    ticket_id: int
    by: str


@dataclass(frozen=True)
class ReopenTicket:
    """Reopen a closed ticket that received a reply."""

    ticket_id: int
    by: str


@dataclass(frozen=True)
class SuppressRecipients:
    """Stop mailing addresses that bounced (fed to the notification suppression list)."""

    emails: tuple[str, ...]
    temporary: bool | None
    reason: str
    until: datetime


@dataclass(frozen=True)
class Discard:
    """Drop the email: nothing else happens. `reason` is one of the inspect contract's reasons."""

    reason: str
    detail: str = ""


Action = (
    CreateUser
    | CreateTicket
    | AddComment
    | AddSubscribers
    | RemoveSubscriber
    | CloseTicket
    | ReopenTicket
    | SuppressRecipients
    | Discard
)


@dataclass(frozen=True)
class CommitOutcome:
    """What a commit produced: the ticket touched or created, the comment added, users made."""

    ticket_id: int | None = None
    comment_id: int | None = None
    created_users: tuple[str, ...] = ()
    duplicate: bool = False
    """True when the receipt key had already been committed: nothing was applied again."""
