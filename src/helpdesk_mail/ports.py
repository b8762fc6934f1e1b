"""The protocols between the pure core and the outside world.

The core reads the host's data through `StorageReader`, time through `Clock` and
randomness through `RandomSource`; it never does I/O itself. The shell (the
`Poller`, the mail transports, the SPF checker) talks to servers through
`MailboxTransport`, `SendTransport` and `Resolver`. `helpdesk_mail.memory` has an
in-memory implementation of each, for tests and for hosts' own test suites.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .actions import Action, CommitOutcome
from .model import Comment, KBArticle, Ticket, User

if TYPE_CHECKING:
    from .settings import MailboxAccount


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


@dataclass(frozen=True)
class ReceiptKey:
    """Identifies one received email for de-duplication: mailbox, Message-ID and content hash.

    The host records it in the same transaction as the commit of what the email
    became, so that a crash between commit and delete never makes a second ticket.
    """

    mailbox: str
    message_id: str | None
    content_sha256: str

    def as_string(self) -> str:
        """A single string form, convenient as a database key."""
        return f"{self.mailbox}\x1f{self.message_id or ''}\x1f{self.content_sha256}"


@dataclass(frozen=True)
class MailboxState:
    """Health of a mailbox account: failures in a row and whether it is disabled."""

    consecutive_failures: int = 0
    disabled: bool = False
    last_error: str | None = None
    last_polled_at: datetime | None = None
    """When the last poll started: a restarted poller keeps the account's interval."""


@dataclass(frozen=True)
class PoisonRecord:
    """An email whose processing or commit raised: kept for a later replay."""

    key: ReceiptKey
    account: str
    uid: str
    raw: bytes
    error: str
    at: datetime


@runtime_checkable
class StorageReader(Protocol):
    """The read-only view of the host's data that the pure core uses."""

    def user(self, email: str) -> User | None:
        """The user with this (lower-cased) address, or None."""
        ...

    def staff(self) -> Iterable[User]:
        """All technicians and administrators."""
        ...

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket with this id, or None."""
        ...

    def ticket_for_message_id(self, message_id: str) -> int | None:
        """The ticket that stored this Message-ID (with angle brackets), or None."""
        ...

    def comments(self, ticket_id: int) -> Sequence[Comment]:
        """The ticket's log, oldest first."""
        ...

    def kb_article(self, article_id: int) -> KBArticle | None:
        """The knowledge-base article with this id, or None."""
        ...

    def search_kb(self, text: str, limit: int) -> Sequence[KBArticle]:
        """Up to `limit` KB articles similar to `text` (empty when nothing matches)."""
        ...

    def is_suppressed(self, email: str, now: datetime) -> bool:
        """Whether notifications to `email` are suppressed (it bounced recently)."""
        ...

    def notifications_since(self, scope: str, since: datetime) -> int:
        """How many notifications were sent in `scope` (e.g. `ticket:12`, `to:a@b.c`) since then."""
        ...

    def is_processed(self, key: ReceiptKey) -> bool:
        """Whether an email with this receipt key was already committed."""
        ...

    def mailbox_state(self, account: str) -> MailboxState:
        """The health record of a mailbox account (a fresh one when unknown)."""
        ...


@runtime_checkable
class Storage(StorageReader, Protocol):
    """The host's storage: the reader plus the writes the shell needs."""

    def commit(self, actions: Sequence[Action], key: ReceiptKey | None) -> CommitOutcome:
        """Apply `actions` and record `key` atomically; a key seen before applies nothing."""
        ...

    def save_mailbox_state(self, account: str, state: MailboxState) -> None:
        """Store the health record of a mailbox account."""
        ...

    def record_poison(self, record: PoisonRecord) -> None:
        """Keep an email whose processing or commit failed, for a later replay."""
        ...

    def poison_records(self) -> Sequence[PoisonRecord]:
        """The emails kept by `record_poison`, oldest first."""
        ...

    def suppress(self, email: str, until: datetime, reason: str) -> None:
        """Suppress notifications to `email` until then."""
        ...

    def record_notification(self, scopes: Sequence[str], at: datetime) -> None:
        """Count one sent notification in each scope (for rate limits)."""
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


class SendTransport(Protocol):
    """Sends composed emails (SMTP or in-memory)."""

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises `SendError` on failure."""
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


class TemporaryDnsError(Exception):
    """A DNS look-up timed out or the server failed (SPF `temperror`)."""
