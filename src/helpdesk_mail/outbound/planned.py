"""What the notification planner produces and the renderer consumes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..events import Event
from ..model import Role


class TemplateKind(StrEnum):
    """Every kind of notification email; each has a default template the host may override."""

    TICKET_CONFIRMATION = "ticket_confirmation"
    """To the submitter of a ticket made by email: "we received your ticket"."""
    NEW_TICKET = "new_ticket"
    """To administrators and technicians: a new ticket."""
    TICKET_UPDATED = "ticket_updated"
    """To subscribers and technicians: a new comment."""
    TICKET_CLOSED = "ticket_closed"
    """To the submitter (and subscribers): the ticket was closed."""
    TICKET_TAKEN = "ticket_taken"
    """To the technicians of the category: another technician took the ticket."""
    TICKET_MOVED = "ticket_moved"
    """To the technicians of the new category who could not see the ticket before."""
    KB_ARTICLE_UPDATED = "kb_article_updated"
    """To the technicians of the article's category."""
    WELCOME = "welcome"
    """To a new user: the username, password and URL."""
    MAILBOX_DISABLED = "mailbox_disabled"
    """To the administrators: an incoming mailbox was disabled after repeated failures."""


@dataclass(frozen=True)
class Recipient:
    """One addressee of a planned email."""

    email: str
    name: str = ""
    role: Role = Role.USER
    autologin: bool = False
    """Whether this recipient's copy may carry an autologin link (regular users only)."""
    rating_links: bool = False
    """Whether this recipient's copy may carry `#RatingLinks#` (the ticket's creator, closed)."""


@dataclass(frozen=True)
class PlannedEmail:
    """One email to render and send.

    Without `cc_mode`, `to` holds exactly one recipient (each person gets their own
    copy). In `cc_mode` one email goes to everybody in `to` and `cc`, with no
    autologin or rating links.
    """

    template: TemplateKind
    event: Event
    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...] = ()
    cc_mode: bool = False
    ticket_id: int | None = None
    include_attachments: bool = True
    counts_for_ticket: bool = True
    """Whether sending this email counts one notification against the ticket's rate limits.

    The planner sets it on the first email of each event only, so that the per-ticket
    limits count events, not copies (see `outbound.plan.scopes_for`).
    """


@dataclass(frozen=True)
class SkippedRecipient:
    """Someone the rules would have notified but who was left out, and why."""

    email: str
    reason: str


@dataclass(frozen=True)
class NotificationPlan:
    """The emails to send for one event, and the recipients left out."""

    emails: tuple[PlannedEmail, ...] = ()
    skipped: tuple[SkippedRecipient, ...] = ()
