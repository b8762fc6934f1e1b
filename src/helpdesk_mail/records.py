"""The library's bookkeeping records: what it keeps about mail received and sent.

These are the values of the `Bookkeeping` protocols (`helpdesk_mail.ports`):
receipts of committed emails (`ReceiptKey`), mailbox health (`MailboxState`),
emails set aside (`PoisonRecord`), events waiting to be delivered
(`OutboxEntry`) and what became of each notification (`SentRecord`). The library
ships implementations that keep them (in memory, and in SQL with the `sql`
extra); a host only reads them, for example to list failed notifications.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .addresses import normalize_email
from .events import Event

__all__ = [
    "DeliveryStatus",
    "EventStatus",
    "MailboxLease",
    "MailboxState",
    "OutboxEntry",
    "PoisonRecord",
    "ReceiptKey",
    "SentRecord",
    "sent_from_state",
]

_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class ReceiptKey:
    """Identifies one received email for de-duplication: mailbox, Message-ID and content hash.

    It is recorded in the same transaction as the commit of what the email became,
    under a unique constraint, so that a crash between commit and delete, or two
    workers reading the same message, never make a second ticket.
    """

    mailbox: str
    message_id: str | None
    content_sha256: str

    def __post_init__(self) -> None:
        if _SEPARATOR in self.mailbox or _SEPARATOR in self.content_sha256:
            raise ValueError("a receipt key's mailbox and hash cannot contain \\x1f")

    def as_string(self) -> str:
        """A single string form, convenient as a database key (`from_string` reads it back)."""
        return f"{self.mailbox}{_SEPARATOR}{self.message_id or ''}{_SEPARATOR}{self.content_sha256}"

    @classmethod
    def from_string(cls, text: str) -> ReceiptKey:
        """The key whose `as_string()` is `text`; `ValueError` if `text` is not one."""
        mailbox, sep, rest = text.partition(_SEPARATOR)
        message_id, sep2, digest = rest.rpartition(_SEPARATOR)
        if not sep or not sep2:
            raise ValueError(f"not a receipt key: {text[:80]!r}")
        return cls(mailbox=mailbox, message_id=message_id or None, content_sha256=digest)


@dataclass(frozen=True)
class MailboxState:
    """Health of a mailbox account: failures in a row and whether it is disabled."""

    consecutive_failures: int = 0
    disabled: bool = False
    last_error: str | None = None
    last_polled_at: datetime | None = None
    """When the last poll started: a restarted poller keeps the account's interval."""


@dataclass(frozen=True)
class MailboxLease:
    """Which worker may poll a mailbox account until when (one poller per account)."""

    account: str
    owner: str
    until: datetime


@dataclass(frozen=True)
class PoisonRecord:
    """An email whose processing or commit raised: kept for a later replay."""

    key: ReceiptKey
    account: str
    uid: str
    raw: bytes = field(repr=False)
    error: str
    at: datetime


class EventStatus(StrEnum):
    """Where an event in the outbox stands."""

    PENDING = "pending"
    """Waiting to be delivered (again, after `next_attempt_at`)."""
    DONE = "done"
    """Every email it planned is sent, skipped or failed for good (see its `SentRecord`s)."""
    FAILED = "failed"
    """It could not be planned at all (its ticket is gone, say): `last_error` says why."""


@dataclass(frozen=True)
class OutboxEntry:
    """An event recorded by a commit, waiting for (or done with) delivery.

    `plan` is the event's notification plan, frozen at the first delivery attempt
    (in the JSON-ready form of `helpdesk_mail.codec`), so that a retry sends the same
    emails to the same people whatever changed since.
    """

    id: int
    event: Event
    created_at: datetime
    status: EventStatus = EventStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    """Not before then (None: at once)."""
    lease_owner: str | None = None
    lease_until: datetime | None = None
    """A worker claimed it until then; after that anyone may claim it again."""
    last_error: str | None = None
    plan: Mapping[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", EventStatus(self.status))


class DeliveryStatus(StrEnum):
    """What became of one notification email."""

    SENT = "sent"
    """The server accepted it."""
    FAILED = "failed"
    """It will not be sent: a permanent refusal, or temporary ones for too long."""
    SKIPPED = "skipped"
    """It was not sent on purpose (an empty template, an unusable address...)."""


@dataclass(frozen=True)
class SentRecord:
    """The ledger's line for one notification email of one event.

    `key` is its idempotency key: the event's outbox id, the template and the
    recipient (`"12/ticket_updated/jane@example.com"`), or the first recipient
    with `cc:` for the one email of CC mode. A key recorded as sent is never sent
    again.
    """

    key: str
    event_id: int
    template: str
    recipients: tuple[str, ...]
    status: DeliveryStatus
    at: datetime
    message_id: str | None = None
    code: int | None = None
    """The SMTP reply code of a failure, when there was one."""
    error: str | None = None
    """Why it failed or was skipped."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", DeliveryStatus(self.status))
        object.__setattr__(self, "recipients", tuple(self.recipients))


def sent_from_state(entries: Iterable[Mapping[str, Any]], at: datetime) -> list[SentRecord]:
    """The ledger lines of a state snapshot's `"sent"` list (`load_state`): notifications
    sent earlier, each `{"message_id", "to": [...], "template", "event_id", "status"}`."""
    records: list[SentRecord] = []
    for i, entry in enumerate(entries, start=1):
        to = tuple(normalize_email(a) for a in entry.get("to", ()))
        template = str(entry.get("template", "ticket_updated"))
        records.append(
            SentRecord(
                key=f"state/{i}/{template}/{','.join(to)}",
                event_id=int(entry.get("event_id", 0)),
                template=template,
                recipients=to,
                status=DeliveryStatus(entry.get("status", "sent")),
                at=at,
                message_id=entry.get("message_id"),
            )
        )
    return records
