"""What the notification planner produces and the renderer consumes.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Event
from .kinds import TemplateKind
from .model import Role


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
    """Someone the rules would have notified but who was left out, and why.

    `reason` is a `SkipReason` value; `detail` says more where there is more to say
    (which flood limit was reached).
    """

    email: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class NotificationPlan:
    """The emails to send for one event, and the recipients left out."""

    emails: tuple[PlannedEmail, ...] = ()
    skipped: tuple[SkippedRecipient, ...] = ()
