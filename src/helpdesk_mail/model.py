"""Host-facing value types: users, categories, tickets, comments, attachments, KB articles.

These are the library's read-only view of the host's data. The host keeps its own
records in its own database and hands the library these frozen snapshots through
the `Storage` protocol. People are identified by their lower-cased email address,
categories by name, tickets by an integer id.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .addresses import normalize_email


class Role(StrEnum):
    """What a user may do in the helpdesk."""

    ADMIN = "admin"
    TECHNICIAN = "technician"
    USER = "user"

    @property
    def is_staff(self) -> bool:
        """True for technicians and administrators."""
        return self is not Role.USER


class TicketStatus(StrEnum):
    """A ticket is open (new, in progress, waiting...) or closed."""

    OPEN = "open"
    CLOSED = "closed"


class Visibility(StrEnum):
    """Who may see a custom field."""

    PUBLIC = "public"
    TECHS = "techs"
    ADMINS = "admins"


def _strings(value: str | Iterable[str]) -> tuple[str, ...]:
    # A lone string is one item, not its characters (`"subscribers": "jane@example.com"`).
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class User:
    """A person known to the helpdesk: customer, technician or administrator."""

    email: str
    name: str = ""
    role: Role = Role.USER
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    company: str = ""
    department: str = ""
    location: str = ""
    categories: frozenset[str] = frozenset()
    """Categories a technician serves (ignored for administrators, who see all)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalize_email(self.email))
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "categories", frozenset(_strings(self.categories)))

    @property
    def is_staff(self) -> bool:
        """True for technicians and administrators."""
        return self.role.is_staff

    @property
    def display_name(self) -> str:
        """Full name if known, else the username, else the address."""
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return self.name or full or self.username or self.email

    def serves(self, category: str | None) -> bool:
        """Whether this user sees tickets of `category` (administrators see every category)."""
        if self.role is Role.ADMIN:
            return True
        return self.role is Role.TECHNICIAN and category is not None and category in self.categories


@dataclass(frozen=True)
class Category:
    """A ticket category (the technicians who serve it name it in `User.categories`)."""

    name: str
    id: int | None = None


@dataclass(frozen=True)
class CustomField:
    """A custom field value on a ticket."""

    id: int
    name: str
    value: str
    visibility: Visibility = Visibility.PUBLIC

    def __post_init__(self) -> None:
        object.__setattr__(self, "visibility", Visibility(self.visibility))


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message, ticket or comment.

    `content_id` is set for inline parts (without angle brackets) so that `cid:`
    references in an HTML body can be resolved by the host. `url` is the host's
    download link, used by templates.

    Reads are light: a ticket or comment read from storage may leave `content`
    empty (`size` still set); the library asks `DomainReader.attachment_content`
    for the bytes only when it composes an email that attaches the file. `id` is
    the host's own key for the file (anything that fits in a string), so that it
    can find the bytes again.
    """

    filename: str
    content_type: str = "application/octet-stream"
    size: int = 0
    content: bytes = field(default=b"", repr=False)
    inline: bool = False
    content_id: str | None = None
    url: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Comment:
    """An entry of a ticket's log: a reply by a customer or a technician."""

    ticket_id: int
    author: str
    body_text: str
    created_at: datetime
    id: int | None = None
    body_html: str | None = None
    techs_only: bool = False
    attachments: tuple[Attachment, ...] = ()
    via: str = "email"

    def __post_init__(self) -> None:
        object.__setattr__(self, "author", normalize_email(self.author))
        object.__setattr__(self, "attachments", tuple(self.attachments))


@dataclass(frozen=True)
class Ticket:
    """A ticket as the library sees it."""

    id: int
    subject: str
    submitter: str
    status: TicketStatus = TicketStatus.OPEN
    category: str | None = None
    priority: str = "normal"
    assignee: str | None = None
    subscribers: tuple[str, ...] = ()
    custom_fields: tuple[CustomField, ...] = ()
    via: str = "email"
    created_at: datetime | None = None
    due_date: datetime | None = None
    time_spent_minutes: int = 0
    body_text: str = ""
    body_html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    message_ids: tuple[str, ...] = ()
    """Message-IDs stored for this ticket, oldest first (its incoming mail; a host may add
    its notifications' too): replies are threaded by them and notifications answer the last."""
    unsubscribed: tuple[str, ...] = ()
    """Addresses that unsubscribed from this ticket (`#unsubscribe#`, `RemoveSubscriber`):
    the submitter among them gets no more notifications about it."""
    version: int | None = None
    """A number the host changes on every change of the ticket (None: it keeps none, and
    only the status guards a commit against a concurrent change; see `RequireTicket`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", TicketStatus(self.status))
        object.__setattr__(self, "submitter", normalize_email(self.submitter))
        if self.assignee is not None:
            object.__setattr__(self, "assignee", normalize_email(self.assignee))
        subs = tuple(dict.fromkeys(normalize_email(s) for s in _strings(self.subscribers)))
        object.__setattr__(self, "subscribers", subs)
        gone = tuple(dict.fromkeys(normalize_email(s) for s in _strings(self.unsubscribed)))
        object.__setattr__(self, "unsubscribed", gone)
        ids = tuple(dict.fromkeys(m.strip() for m in _strings(self.message_ids)))
        object.__setattr__(self, "message_ids", ids)
        object.__setattr__(self, "custom_fields", tuple(self.custom_fields))
        object.__setattr__(self, "attachments", tuple(self.attachments))

    @property
    def is_closed(self) -> bool:
        """True when the ticket is closed."""
        return self.status is TicketStatus.CLOSED


@dataclass(frozen=True)
class KBArticle:
    """A knowledge-base article (for `#Suggested_KB_articles#` and KB-update notifications)."""

    id: int
    title: str
    category: str | None = None
    url: str = ""
    body: str = ""
