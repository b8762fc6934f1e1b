"""From a helpdesk event to sent mail: plan, render, send, count.

`notify(event, settings, storage, templates, transport, clock, random)` is the glue
of the outbound side:

1. `plan_notifications` decides who gets which email (and who is left out, why);
2. `render_message` turns each planned email into messages (one per recipient, one
   in CC mode; None when the host left that template empty);
3. `transport.send` sends each message;
4. after each successful send, `storage.record_notification(scopes, clock.now())`
   counts it for the rate limits of the next plans: `scopes_for` of the planned
   email, narrowed to the recipients who got that message, and the ticket counted
   once per event (by the first message that goes out, even when the email the
   planner marked `counts_for_ticket` failed).

A failed send does not stop the others: everything ends up in the `NotifyReport`
(sent, skipped with reasons, failed with errors). Only `SendError` from the
transport and `ComposeError`/`TemplateError` from rendering are caught; anything
else (a bug, a storage failure) propagates, with what was sent before it already
recorded. A `SendError` carries `code`, `temporary`, `accepted` and `refused`; a non-empty
`accepted` means the message reached those recipients (a partial delivery), which
counts as sent.

`plan_notifications` raises `ValueError` for an event whose ticket id is not bound yet
(`events.bind_ticket`) and `LookupError` when its ticket or article is missing: these
propagate, nothing having been sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

from ..addresses import normalize_email
from ..events import Event
from ..kinds import TemplateKind
from ..outbound.compose import ComposeError, render_message
from ..outbound.plan import plan_notifications, scopes_for
from ..outbound.planned import Recipient
from ..ports import Clock, RandomSource, Refusal, SendError, SendTransport, Storage
from ..settings import Settings
from ..templating.masks import TemplateError
from ..templating.render import Templates

__all__ = [
    "EMPTY_TEMPLATE",
    "UNUSABLE_ADDRESS",
    "FailedNotification",
    "NotifyReport",
    "SentNotification",
    "SkippedNotification",
    "notify",
]

EMPTY_TEMPLATE = "empty_template"
"""Skip reason: the host's template for that kind of email is empty (the spec's opt-out)."""
UNUSABLE_ADDRESS = "unusable_address"
"""Skip reason: the renderer could not put the address in a header."""


@dataclass(frozen=True)
class SentNotification:
    """One message sent: its kind, who got it, its Message-ID, and who was refused."""

    template: TemplateKind
    recipients: tuple[str, ...]
    message_id: str | None
    refused: tuple[Refusal, ...] = ()
    """Recipients of the same message that the server refused (a partial delivery)."""


@dataclass(frozen=True)
class SkippedNotification:
    """Someone who gets no email for the event, and why.

    `reason` is a planner `SkipReason` value (`template` None), `EMPTY_TEMPLATE` or
    `UNUSABLE_ADDRESS`.
    """

    email: str
    reason: str
    template: TemplateKind | None = None


@dataclass(frozen=True)
class FailedNotification:
    """One message (or planned email, when rendering failed) that reached nobody."""

    template: TemplateKind
    recipients: tuple[str, ...]
    error: str
    code: int | None = None
    """The SMTP reply code, when the transport gave one."""
    temporary: bool | None = None
    """Whether a retry may succeed; None when the error does not say."""
    message_id: str | None = None
    refused: tuple[Refusal, ...] = ()


@dataclass(frozen=True)
class NotifyReport:
    """What `notify` did for one event."""

    sent: tuple[SentNotification, ...] = ()
    skipped: tuple[SkippedNotification, ...] = ()
    failed: tuple[FailedNotification, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every message was sent to all its recipients."""
        return not self.failed and not any(s.refused for s in self.sent)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every address that got a message, in sending order."""
        return tuple(r for s in self.sent for r in s.recipients)


def notify(
    event: Event,
    settings: Settings,
    storage: Storage,
    templates: Templates | None,
    transport: SendTransport,
    clock: Clock,
    random: RandomSource,
) -> NotifyReport:
    """Plan, render and send the notifications of `event`, counting each one sent.

    `templates` are the host's (None: the defaults). See the module doc for what is
    caught and reported and what propagates.
    """
    plan = plan_notifications(event, settings, storage, clock)
    sent: list[SentNotification] = []
    skipped = [SkippedNotification(s.email, s.reason) for s in plan.skipped]
    failed: list[FailedNotification] = []
    # The planner marks the event's first email as the one that counts for the ticket;
    # if that one fails, the first email of the event that does go out counts instead.
    ticket_pending = any(p.counts_for_ticket for p in plan.emails)
    for planned in plan.emails:
        everyone = (*planned.to, *planned.cc)
        try:
            messages = render_message(planned, templates, settings, storage, clock, random)
        except (ComposeError, TemplateError) as exc:
            failed.append(
                FailedNotification(
                    planned.template,
                    tuple(r.email for r in everyone),
                    f"cannot compose: {exc}",
                    temporary=False,
                )
            )
            continue
        if messages is None:
            skipped.extend(
                SkippedNotification(r.email, EMPTY_TEMPLATE, planned.template) for r in everyone
            )
            continue
        addressed = {a for m in messages for a in _recipients(m)}
        skipped.extend(
            SkippedNotification(r.email, UNUSABLE_ADDRESS, planned.template)
            for r in everyone
            if normalize_email(r.email) not in addressed
        )
        for message in messages:
            outcome = _send(transport, message, planned.template)
            if isinstance(outcome, FailedNotification):
                failed.append(outcome)
                continue
            sent.append(outcome)
            scopes = scopes_for(
                dataclasses.replace(
                    planned,
                    to=_matching(everyone, outcome.recipients),
                    cc=(),
                    counts_for_ticket=ticket_pending,
                )
            )
            ticket_pending = False
            storage.record_notification(scopes, clock.now())
    return NotifyReport(tuple(sent), tuple(skipped), tuple(failed))


def _send(
    transport: SendTransport, message: EmailMessage, template: TemplateKind
) -> SentNotification | FailedNotification:
    recipients = tuple(_recipients(message))
    raw_id = message.get("Message-ID")
    message_id = str(raw_id).strip() if raw_id is not None else None
    try:
        transport.send(message)
    except SendError as exc:
        accepted = tuple(normalize_email(a) for a in exc.accepted)
        refused = exc.refused
        if accepted:
            return SentNotification(template, accepted, message_id, refused)
        return FailedNotification(
            template,
            recipients,
            str(exc) or type(exc).__name__,
            code=exc.code,
            temporary=exc.temporary,
            message_id=message_id,
            refused=refused,
        )
    return SentNotification(template, recipients, message_id)


def _recipients(message: EmailMessage) -> list[str]:
    """The To, Cc and Bcc addresses of `message`, normalised, without repeats."""
    found: dict[str, None] = {}
    for header in ("To", "Cc", "Bcc"):
        for value in message.get_all(header) or []:
            addresses = getattr(value, "addresses", None)
            specs = (
                [str(a.addr_spec) for a in addresses]
                if addresses is not None
                else [spec for _, spec in getaddresses([str(value)])]
            )
            found.update((normalize_email(s), None) for s in specs if s)
    return list(found)


def _matching(everyone: Sequence[Recipient], addresses: Sequence[str]) -> tuple[Recipient, ...]:
    """The planned recipients among `addresses` (an unplanned address gets a plain one)."""
    by_email = {normalize_email(r.email): r for r in everyone}
    return tuple(by_email.get(a) or Recipient(a) for a in addresses)
