"""The protocols between the pure core and the outside world.

Storage is split by who owns the data. The host's domain (users, tickets,
comments, files, KB articles) is `DomainReader`/`Domain`, which the host
implements over its own tables. The library's bookkeeping (receipts, mailbox
health, poison, suppressions, notification counts, the event outbox and the sent
ledger) is `Bookkeeping`, which the library implements (`memory`, `sql`). A
`Storage` opens a `UnitOfWork`: one transaction over both, so that what an email
became, its receipt and its events are committed together (`helpdesk_mail.commit`).

The core reads through `DomainReader` (inbound) and `PlanReader` (notifications),
time through `Clock` and randomness through `RandomSource`; it never does I/O
itself. The shell talks to servers through `MailboxTransport`, `SendTransport`
and `Resolver`, and is told of new mail by a `MailboxWatcher` (IMAP IDLE).
`helpdesk_mail.memory` has an in-memory implementation of each.
docs/protocols.md is the reference: every method, what it must guarantee, and a
worked example of a host's own storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .actions import Action, CommitOutcome
from .events import Event
from .model import Attachment, Comment, KBArticle, Ticket, User
from .records import (
    EventStatus,
    MailboxState,
    OutboxEntry,
    PoisonRecord,
    ReceiptKey,
    SentRecord,
)

if TYPE_CHECKING:
    from .settings import MailboxAccount

__all__ = [
    "Bookkeeping",
    "Clock",
    "CountsEach",
    "Domain",
    "DomainReader",
    "EventOutbox",
    "EventStatus",
    "MailboxAuthError",
    "MailboxError",
    "MailboxHealth",
    "MailboxSession",
    "MailboxState",
    "MailboxTransport",
    "MailboxWatcher",
    "NotificationCounts",
    "OutboxEntry",
    "PlanReader",
    "PoisonQueue",
    "PoisonRecord",
    "PreparingSendTransport",
    "RandomSource",
    "ReceiptKey",
    "Receipts",
    "Refusal",
    "Resolver",
    "SendError",
    "SendTransport",
    "SentLedger",
    "SentRecord",
    "StopSignal",
    "Storage",
    "Suppressions",
    "TemporaryDnsError",
    "TransientStorageError",
    "UnitOfWork",
    "WatchUnsupported",
    "count_each",
]


@runtime_checkable
class Clock(Protocol):
    """The source of time: the core never reads the wall clock itself."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


@runtime_checkable
class RandomSource(Protocol):
    """The source of randomness (passwords, Message-IDs)."""

    def token_bytes(self, n: int) -> bytes:
        """`n` random bytes; a real host uses `secrets.token_bytes`."""
        ...


class DomainReader(Protocol):
    """The host's data as the library reads it: users, tickets, comments, files, KB articles.

    Values are frozen snapshots (`helpdesk_mail.model`). Reads are light: tickets and
    comments may carry their attachments without bytes (see `attachment_content`).
    """

    def user(self, email: str) -> User | None:
        """The user with this (normalised) address, or None."""
        ...

    def users(self, emails: Iterable[str]) -> Mapping[str, User]:
        """The users among these (normalised) addresses, by address; unknown ones are left out.

        One call for many people (a ticket's commenters, its subscribers).
        """
        ...

    def staff(self) -> Iterable[User]:
        """All technicians and administrators."""
        ...

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket with this id, or None. Its `message_ids` oldest first."""
        ...

    def ticket_for_message_id(self, message_id: str) -> int | None:
        """The ticket that stored this Message-ID (with angle brackets), or None.

        A Message-ID belongs to the first ticket that stored it.
        """
        ...

    def comments(self, ticket_id: int) -> Sequence[Comment]:
        """The ticket's log, oldest first."""
        ...

    def attachment_content(self, attachment: Attachment) -> bytes:
        """The bytes of a file read without them (asked only when an email attaches it)."""
        ...

    def kb_article(self, article_id: int) -> KBArticle | None:
        """The knowledge-base article with this id, or None."""
        ...

    def search_kb(self, text: str, limit: int) -> Sequence[KBArticle]:
        """Up to `limit` KB articles similar to `text` (empty when nothing matches)."""
        ...


class Domain(DomainReader, Protocol):
    """The host's data, read and written inside one transaction (see `UnitOfWork`)."""

    def apply(self, actions: Sequence[Action]) -> CommitOutcome:
        """Apply `actions` in order, as each action's class documents (`helpdesk_mail.actions`).

        Raises `StaleCommit` when a `RequireTicket`/`RequireUser` no longer holds. Never
        receives `SuppressRecipients` (bookkeeping). Does not commit: the transaction does.
        Returns the ticket created or touched, the comment added and the users created.
        """
        ...


class Receipts(Protocol):
    """Which emails were already committed (de-duplication)."""

    def is_processed(self, key: ReceiptKey) -> bool:
        """Whether an email with this receipt key was committed."""
        ...

    def record_receipt(self, key: ReceiptKey, at: datetime) -> bool:
        """Record `key`; False (and nothing recorded) if it already was.

        Under a unique constraint: of two transactions recording the same key, the
        second gets False (or fails) once the first has committed.
        """
        ...


class MailboxHealth(Protocol):
    """Mailbox accounts: failures in a row, disabled accounts, and which worker polls which."""

    def mailbox_state(self, account: str) -> MailboxState:
        """The health record of a mailbox account (a fresh one when unknown)."""
        ...

    def save_mailbox_state(self, account: str, state: MailboxState) -> None:
        """Store the health record of a mailbox account."""
        ...

    def lease_mailbox(self, account: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take or renew the right to poll `account` until `until`.

        True when nobody else holds an unexpired lease (a lease of `owner` is renewed);
        False when another owner's lease runs past `now`.
        """
        ...

    def release_mailbox(self, account: str, owner: str) -> None:
        """Give up `owner`'s lease on `account` (nothing if it holds none)."""
        ...


class PoisonQueue(Protocol):
    """Emails whose processing or commit failed, kept for a replay."""

    def record_poison(self, record: PoisonRecord) -> None:
        """Keep an email whose processing or commit failed."""
        ...

    def poison_records(self) -> Sequence[PoisonRecord]:
        """The emails kept by `record_poison`, oldest first."""
        ...


class Suppressions(Protocol):
    """Addresses not to mail for a while (they bounced)."""

    def is_suppressed(self, email: str, now: datetime) -> bool:
        """Whether notifications to `email` are suppressed at `now`."""
        ...

    def suppress(self, email: str, until: datetime, reason: str) -> None:
        """Suppress notifications to `email` until then (a later expiry wins)."""
        ...


class NotificationCounts(Protocol):
    """How many notifications went out, per scope, for the rate limits."""

    def notifications_since(self, scope: str, since: datetime) -> int:
        """How many were counted in `scope` (`ticket:12`, `to:a@b.c`) at or after `since`."""
        ...

    def record_notification(self, scopes: Sequence[str], at: datetime) -> None:
        """Count one sent notification in each scope."""
        ...


class EventOutbox(Protocol):
    """Events waiting to be delivered: recorded by commits, claimed by deliverers."""

    def add_events(self, events: Sequence[Event], at: datetime) -> tuple[int, ...]:
        """Record events as pending (in this order); returns their new ids."""
        ...

    def claim_events(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> Sequence[OutboxEntry]:
        """Up to `limit` pending events due at `now` (oldest first) that no one else holds,
        leased to `owner` until `until` (SQL: `FOR UPDATE SKIP LOCKED`)."""
        ...

    def update_event(self, entry: OutboxEntry) -> None:
        """Store a claimed entry's new status, attempts, times, error, plan and lease."""
        ...

    def outbox(self, status: EventStatus | None = None) -> Sequence[OutboxEntry]:
        """The entries (with this status), oldest first: for hosts and admins to look at."""
        ...


class SentLedger(Protocol):
    """What became of each notification email, by idempotency key."""

    def sent_record(self, key: str) -> SentRecord | None:
        """The ledger's line for this key, or None."""
        ...

    def record_sent(self, record: SentRecord) -> None:
        """Add or replace the line of `record.key`."""
        ...

    def sent_records(self, event_id: int | None = None) -> Sequence[SentRecord]:
        """The lines (of one event), in the order they were recorded."""
        ...

    def sent_with_message_id(self, message_id: str) -> Sequence[SentRecord]:
        """The lines of the email(s) sent with this Message-ID (angle brackets included,
        compared exactly), in the order recorded: what a bounce that returns it answers."""
        ...


class Bookkeeping(
    Receipts,
    MailboxHealth,
    PoisonQueue,
    Suppressions,
    NotificationCounts,
    EventOutbox,
    SentLedger,
    Protocol,
):
    """The library's own records, which it ships implementations of (memory; SQL with the
    `sql` extra). A host with its own database uses the SQL one on its own connection, so
    that one transaction covers its tables and these."""


class PlanReader(DomainReader, Protocol):
    """What planning and composing notifications read: the host's data, suppressions, counts."""

    def is_suppressed(self, email: str, now: datetime) -> bool:
        """Whether notifications to `email` are suppressed at `now`."""
        ...

    def notifications_since(self, scope: str, since: datetime) -> int:
        """How many notifications were counted in `scope` at or after `since`."""
        ...


@runtime_checkable
class CountsEach(Protocol):
    """Optional beside `NotificationCounts` and `PlanReader`: several counts in one read
    (the rate limits ask several at once). Without it the library asks
    `notifications_since` once a pair (`count_each`)."""

    def notifications_since_each(self, queries: Sequence[tuple[str, datetime]]) -> Sequence[int]:
        """`notifications_since(scope, since)` of each `(scope, since)` pair, in order."""
        ...


def count_each(
    counts: NotificationCounts | PlanReader, queries: Sequence[tuple[str, datetime]]
) -> tuple[int, ...]:
    """`counts.notifications_since(scope, since)` of each `(scope, since)` pair, in order:
    in one read when `counts` is also a `CountsEach`, else one call a pair."""
    if not queries:
        return ()
    each = getattr(counts, "notifications_since_each", None)  # what an instance has
    if each is None:
        return tuple(counts.notifications_since(scope, since) for scope, since in queries)
    found = tuple(int(n) for n in each(queries))
    if len(found) != len(queries):
        raise ValueError(f"notifications_since_each: {len(found)} counts for {len(queries)}")
    return found


class UnitOfWork(Protocol):
    """One transaction: the host's data and the library's records, committed together."""

    @property
    def domain(self) -> Domain:
        """The host's data, inside this transaction."""
        ...

    @property
    def books(self) -> Bookkeeping:
        """The library's records, inside this transaction."""
        ...


@runtime_checkable
class Storage(Protocol):
    """Where everything is kept: opens transactions over the host's data and the library's
    records. `helpdesk_mail.memory.InMemoryStorage` is one; `helpdesk_mail.sql` has others."""

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """A new transaction: committed when the block ends, rolled back if it raises."""
        ...


class MailboxSession(Protocol):
    """One open connection to a mailbox. Close it (or use `with`) when done.

    Two capabilities tell the poller what the mailbox can do, so that it never asks
    which protocol it talks to: `can_move` (folders exist: processed mail may be
    moved and poison quarantined) and `stable_ids` (a message keeps its id across
    sessions, so known poison can be skipped by id without fetching it).
    """

    can_move: bool
    """Whether `move` works (IMAP folders). False: processed mail is deleted and
    poison stays in the inbox (POP3)."""
    stable_ids: bool
    """Whether ids name the same message in every session (POP3 UIDL). IMAP UIDs are
    not, as a changed UIDVALIDITY renumbers them."""

    def list_uids(self) -> Sequence[str]:
        """Stable ids (IMAP UID, POP3 UIDL) of the messages waiting, oldest first."""
        ...

    def fetch(self, uids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        """The raw bytes of these messages, fetched in batches, as (uid, raw) pairs."""
        ...

    def delete(self, uids: Sequence[str]) -> None:
        """Remove these messages from the server (POP3: takes effect at `close`)."""
        ...

    def move(self, uids: Sequence[str], folder: str) -> None:
        """Move these messages to another folder; raises `MailboxError` when `can_move` is False."""
        ...

    def close(self) -> None:
        """End the session (POP3: QUIT commits the deletions)."""
        ...

    def __enter__(self) -> MailboxSession: ...

    def __exit__(self, *exc_info: object) -> None: ...


class MailboxTransport(Protocol):
    """Opens sessions to mailbox accounts (IMAP, POP3 or in-memory)."""

    def open(self, account: MailboxAccount) -> MailboxSession:
        """Connect and log in; raises `MailboxError` (or a subclass) on failure."""
        ...


class StopSignal(Protocol):
    """What a long wait looks at to end early (`threading.Event` is one)."""

    def is_set(self) -> bool:
        """Whether stopping was asked for."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set or `timeout` seconds passed; whether it is set."""
        ...


class MailboxWatcher(Protocol):
    """Tells of new mail in a mailbox account as it arrives (IMAP IDLE), so that it is
    polled at once instead of at its next interval."""

    def watch(
        self,
        account: MailboxAccount,
        on_new_mail: Callable[[], object],
        stop: StopSignal,
    ) -> None:
        """Watch `account` until `stop` is set, calling `on_new_mail()` (from this thread)
        whenever the server announces new mail, and after each reconnection (mail may
        have come meanwhile). A lost connection is re-established with backoff, here.
        Raises `WatchUnsupported` when the server cannot be watched: poll it instead."""
        ...


class SendTransport(Protocol):
    """Sends composed emails (SMTP or in-memory)."""

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises `SendError` on failure."""
        ...


@runtime_checkable
class PreparingSendTransport(SendTransport, Protocol):
    """A `SendTransport` that can do a message's work that needs no connection (DKIM
    signing, serializing, finding the envelope) before the message's turn to be sent.

    The `Deliverer` calls `prepare` while it renders (in its second thread with
    ``prepare_ahead``, while the previous message waits on the server) and sends what
    `prepare` returned. Preparing is only a head start: `send` of the returned message
    does what `send` of the original would (a message that cannot be sent fails there,
    with the error `send` raises).
    """

    def prepare(self, message: EmailMessage) -> EmailMessage:
        """The message to `send` in place of `message`, its sending work done ahead.
        Neither may be changed afterwards. Raises nothing: what cannot be prepared is
        returned as it is, for `send` to refuse."""
        ...


class Resolver(Protocol):
    """DNS look-ups for SPF."""

    def query(self, name: str, rdtype: str) -> Sequence[str]:
        """Records of `rdtype` (TXT, A, AAAA, MX, PTR) for `name` as text; [] if none or NXDOMAIN.

        Raises `TemporaryDnsError` on time-outs and server failures.
        """
        ...


class MailboxError(Exception):
    """A mailbox could not be reached or used."""


class MailboxAuthError(MailboxError):
    """The mailbox server refused the credentials."""


class WatchUnsupported(MailboxError):
    """The mailbox server offers no way to watch it (no IMAP IDLE): it is polled."""


@dataclass(frozen=True)
class Refusal:
    """A recipient the server (or the envelope check) refused; `code` is None for the latter."""

    address: str
    code: int | None
    reply: str

    @property
    def temporary(self) -> bool:
        """Whether a later retry may succeed (a 4xx reply)."""
        return self.code is not None and 400 <= self.code < 500


class SendError(Exception):
    """An email could not be sent (to everyone).

    `temporary` tells whether sending the same message later may succeed (None:
    unknown); `code` is the server's reply code, if there was one. A non-empty
    `accepted` means a partial delivery: the message did reach those recipients and
    only `refused` ones missed it (do not resend to `accepted`). Transports of your
    own should set what they know: `notify` reports it.
    """

    def __init__(
        self,
        message: str = "",
        *,
        code: int | None = None,
        temporary: bool | None = None,
        accepted: Sequence[str] = (),
        refused: Sequence[Refusal] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.temporary = temporary
        self.accepted = tuple(accepted)
        """Recipients who did get the message (a partial delivery)."""
        self.refused = tuple(refused)
        """Recipients the server refused."""


class TransientStorageError(Exception):
    """The storage cannot take a write right now (the database is away, busy or failing
    over): worth trying again later. A host's storage raises it (or a subclass) for its
    connection-type errors; the `Poller` then leaves the email on the server and tries
    again with backoff instead of setting it aside as poison."""


class TemporaryDnsError(Exception):
    """A DNS look-up timed out or the server failed (SPF `temperror`)."""
