"""In-memory implementations of every port, for tests and for hosts' own test suites.

They behave like the real thing where it matters to a host's tests (commits are
atomic and de-duplicated, POP3-like deletions, sent mail collected like Django's
`mail.outbox`), keep everything in plain attributes a test can inspect, and can be
told to fail (`fail_connect`, `fail_next_send`, `temporary_failures`). They are not
thread-safe and not for production.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from .actions import (
    Action,
    AddComment,
    AddSubscribers,
    CloseTicket,
    CommitOutcome,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    SuppressRecipients,
)
from .addresses import normalize_email
from .model import Comment, KBArticle, Role, Ticket, TicketStatus, User
from .ports import (
    Clock,
    MailboxAuthError,
    MailboxError,
    MailboxState,
    PoisonRecord,
    ReceiptKey,
    SendError,
    TemporaryDnsError,
)
from .settings import MailboxAccount, MailProtocol

__all__ = [
    "InMemoryMailbox",
    "InMemoryResolver",
    "InMemoryStorage",
    "ManualClock",
    "Outbox",
    "SeededRandom",
]

EPOCH = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> datetime:
        """The current (manual) time."""
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by `delta` or by `timedelta(**kwargs)`; returns the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("a clock does not go backwards")
        self._now += step
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when` (timezone-aware)."""
        if when.tzinfo is None:
            raise ValueError("ManualClock needs timezone-aware times")
        self._now = when


class SeededRandom:
    """Deterministic random bytes from a seed: the same seed, the same passwords and IDs."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)

    def token_bytes(self, n: int) -> bytes:
        """`n` pseudo-random bytes."""
        return self._random.randbytes(n)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


class InMemoryStorage:
    """A `Storage` in dictionaries. Commits are atomic: a failing action changes nothing.

    Tickets and comments that commits create are dated by `clock` (share the clock
    your test moves); without one they all get 2026-01-01 09:00 UTC.
    """

    def __init__(self, first_ticket_id: int = 1, clock: Clock | None = None) -> None:
        self.clock = clock
        self.users: dict[str, User] = {}
        self.passwords: dict[str, str] = {}
        self.tickets: dict[int, Ticket] = {}
        self.ticket_comments: dict[int, list[Comment]] = {}
        self.kb_articles: dict[int, KBArticle] = {}
        self.processed: set[str] = set()
        self.mailbox_states: dict[str, MailboxState] = {}
        self.poison: list[PoisonRecord] = []
        self.suppressed: dict[str, tuple[datetime, str]] = {}
        self.sent_log: dict[str, list[datetime]] = {}
        self.commits: list[tuple[Action, ...]] = []
        self._message_index: dict[str, int] = {}
        self._next_ticket_id = first_ticket_id
        self._next_comment_id = 1
        self.fail_next_commit: Exception | None = None
        """Set to an exception to make the next `commit` raise it (and change nothing)."""

    # --- setting up (for tests) ---

    def add_user(self, user: User, password: str = "") -> User:
        """Add or replace a user."""
        self.users[user.email] = user
        if password:
            self.passwords[user.email] = password
        return user

    def add_ticket(self, ticket: Ticket, comments: Iterable[Comment] = ()) -> Ticket:
        """Add or replace a ticket (and its comments).

        Add tickets through this method or `commit`, not by writing to `tickets`: the
        Message-ID index that threading uses is kept here.
        """
        self.tickets[ticket.id] = ticket
        for message_id in ticket.message_ids:
            self._message_index[message_id] = ticket.id
        self.ticket_comments.setdefault(ticket.id, []).extend(comments)
        self._next_ticket_id = max(self._next_ticket_id, ticket.id + 1)
        return ticket

    def add_kb_article(self, article: KBArticle) -> KBArticle:
        """Add or replace a knowledge-base article."""
        self.kb_articles[article.id] = article
        return article

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Load a JSON-like snapshot: `{"users": [...], "tickets": [...], "kb_articles": [...]}`.

        The format is the one of `helpdesk-mail inspect --state` (see docs/cli.md);
        unknown keys are ignored, missing optional keys take defaults.
        """
        for u in state.get("users", ()):
            self.add_user(
                User(
                    email=u["email"],
                    name=u.get("name", ""),
                    role=Role(u.get("role", "user")),
                    first_name=u.get("first_name", ""),
                    last_name=u.get("last_name", ""),
                    username=u.get("username", ""),
                    company=u.get("company", ""),
                    department=u.get("department", ""),
                    location=u.get("location", ""),
                    categories=frozenset(u.get("categories", ())),
                )
            )
        for t in state.get("tickets", ()):
            self.add_ticket(
                Ticket(
                    id=int(t["id"]),
                    subject=t.get("subject", ""),
                    submitter=t.get("submitter", ""),
                    status=TicketStatus(t.get("status", "open")),
                    category=t.get("category"),
                    priority=t.get("priority", "normal"),
                    assignee=t.get("assignee"),
                    subscribers=tuple(t.get("subscribers", ())),
                    message_ids=tuple(t.get("message_ids", ())),
                    body_text=t.get("body", ""),
                )
            )
        for a in state.get("kb_articles", ()):
            self.add_kb_article(
                KBArticle(
                    id=int(a["id"]),
                    title=a.get("title", ""),
                    category=a.get("category"),
                    url=a.get("url", ""),
                    body=a.get("body", ""),
                )
            )

    # --- StorageReader ---

    def user(self, email: str) -> User | None:
        """The user with this address, or None."""
        return self.users.get(normalize_email(email))

    def staff(self) -> Iterable[User]:
        """All technicians and administrators."""
        return [u for u in self.users.values() if u.is_staff]

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket with this id, or None."""
        return self.tickets.get(ticket_id)

    def ticket_for_message_id(self, message_id: str) -> int | None:
        """The ticket that stored this Message-ID, or None."""
        ticket_id = self._message_index.get(message_id.strip())
        ticket = self.tickets.get(ticket_id) if ticket_id is not None else None
        return (
            ticket_id if ticket is not None and message_id.strip() in ticket.message_ids else None
        )

    def comments(self, ticket_id: int) -> Sequence[Comment]:
        """The ticket's log, oldest first."""
        return tuple(self.ticket_comments.get(ticket_id, ()))

    def kb_article(self, article_id: int) -> KBArticle | None:
        """The KB article with this id, or None."""
        return self.kb_articles.get(article_id)

    def search_kb(self, text: str, limit: int) -> Sequence[KBArticle]:
        """Articles sharing the most words (of four letters or more) with `text`."""
        words = {w for w in _words(text) if len(w) >= 4}
        scored = []
        for article in self.kb_articles.values():
            overlap = len(words & _words(f"{article.title} {article.body}"))
            if overlap:
                scored.append((-overlap, article.id, article))
        return tuple(a for _, _, a in sorted(scored)[:limit])

    def is_suppressed(self, email: str, now: datetime) -> bool:
        """Whether `email` bounced recently (its suppression has not expired)."""
        entry = self.suppressed.get(normalize_email(email))
        return entry is not None and entry[0] > now

    def notifications_since(self, scope: str, since: datetime) -> int:
        """Notifications counted in `scope` at or after `since`."""
        return sum(1 for at in self.sent_log.get(scope, ()) if at >= since)

    def is_processed(self, key: ReceiptKey) -> bool:
        """Whether this receipt key was committed."""
        return key.as_string() in self.processed

    def mailbox_state(self, account: str) -> MailboxState:
        """The health record of an account."""
        return self.mailbox_states.get(account, MailboxState())

    # --- Storage writes ---

    def commit(self, actions: Sequence[Action], key: ReceiptKey | None) -> CommitOutcome:
        """Apply `actions` and record `key`, all or nothing; a known key applies nothing."""
        if key is not None and self.is_processed(key):
            return CommitOutcome(duplicate=True)
        if self.fail_next_commit is not None:
            exc, self.fail_next_commit = self.fail_next_commit, None
            raise exc
        self._check(actions)  # every action can be applied, so applying cannot fail half-way
        outcome = self._apply(actions)
        if key is not None:
            self.processed.add(key.as_string())
        self.commits.append(tuple(actions))
        return outcome

    def _check(self, actions: Sequence[Action]) -> None:
        """Raise `KeyError`, before anything changes, if an action names a missing ticket."""
        current: int | str | None = None  # "new": the ticket this commit creates
        for action in actions:
            if isinstance(action, CreateTicket):
                current = "new"
                continue
            if not isinstance(
                action, AddComment | AddSubscribers | RemoveSubscriber | CloseTicket | ReopenTicket
            ):
                continue
            wanted = action.ticket_id if action.ticket_id is not None else current
            if wanted is None or (wanted != "new" and wanted not in self.tickets):
                raise KeyError(f"no ticket {wanted}")
            current = wanted

    def _apply(self, actions: Sequence[Action]) -> CommitOutcome:
        ticket_id: int | None = None
        comment_id: int | None = None
        created: list[str] = []

        def target(tid: int | None) -> Ticket:
            resolved = tid if tid is not None else ticket_id
            if resolved is None or resolved not in self.tickets:
                raise KeyError(f"no ticket {resolved}")
            return self.tickets[resolved]

        for action in actions:
            match action:
                case CreateUser():
                    if normalize_email(action.email) not in self.users:
                        self.add_user(
                            User(email=action.email, name=action.name, role=action.role),
                            action.password,
                        )
                        created.append(normalize_email(action.email))
                case CreateTicket():
                    ticket_id = self._next_ticket_id
                    self.add_ticket(
                        Ticket(
                            id=ticket_id,
                            subject=action.subject,
                            submitter=action.submitter,
                            category=action.category,
                            subscribers=action.subscribers,
                            via=action.via,
                            created_at=self._now(),
                            body_text=action.body_text,
                            body_html=action.body_html,
                            attachments=action.attachments,
                            message_ids=(action.message_id,) if action.message_id else (),
                        )
                    )
                case AddComment():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    comment_id = self._next_comment_id
                    self._next_comment_id += 1
                    self.ticket_comments.setdefault(ticket.id, []).append(
                        Comment(
                            id=comment_id,
                            ticket_id=ticket.id,
                            author=action.author,
                            body_text=action.body_text,
                            body_html=action.body_html,
                            techs_only=action.techs_only,
                            attachments=action.attachments,
                            created_at=self._now(),
                        )
                    )
                    if action.message_id:
                        self._replace(ticket, message_ids=(*ticket.message_ids, action.message_id))
                case AddSubscribers():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    self._replace(ticket, subscribers=(*ticket.subscribers, *action.emails))
                case RemoveSubscriber():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    gone = normalize_email(action.email)
                    subs = tuple(s for s in ticket.subscribers if s != gone)
                    self._replace(ticket, subscribers=subs)
                case CloseTicket():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    self._replace(ticket, status=TicketStatus.CLOSED)
                case ReopenTicket():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    self._replace(ticket, status=TicketStatus.OPEN)
                case SuppressRecipients():
                    for email in action.emails:
                        self.suppress(email, action.until, action.reason)
                case Discard():
                    pass
        return CommitOutcome(
            ticket_id=ticket_id, comment_id=comment_id, created_users=tuple(created)
        )

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else EPOCH

    def _replace(self, ticket: Ticket, **changes: Any) -> None:
        self.add_ticket(dataclasses.replace(ticket, **changes))

    def save_mailbox_state(self, account: str, state: MailboxState) -> None:
        """Store an account's health record."""
        self.mailbox_states[account] = state

    def record_poison(self, record: PoisonRecord) -> None:
        """Keep a failed email for replay."""
        self.poison.append(record)

    def poison_records(self) -> Sequence[PoisonRecord]:
        """The failed emails kept, oldest first."""
        return tuple(self.poison)

    def suppress(self, email: str, until: datetime, reason: str) -> None:
        """Suppress notifications to `email` until `until` (a later expiry wins)."""
        address = normalize_email(email)
        current = self.suppressed.get(address)
        if current is None or current[0] < until:
            self.suppressed[address] = (until, reason)

    def record_notification(self, scopes: Sequence[str], at: datetime) -> None:
        """Count one sent notification in each scope."""
        for scope in scopes:
            self.sent_log.setdefault(scope, []).append(at)


class Outbox:
    """A `SendTransport` that keeps what it sends, like Django's `mail.outbox`."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.fail_next_send: Exception | None = None
        """Set to an exception (e.g. `SendError`) to make the next `send` raise it."""

    def send(self, message: EmailMessage) -> None:
        """Keep `message` (or raise the injected failure)."""
        if self.fail_next_send is not None:
            exc, self.fail_next_send = self.fail_next_send, None
            raise exc
        self.messages.append(message)

    def clear(self) -> None:
        """Forget the messages sent so far."""
        self.messages.clear()

    def recipients(self) -> list[str]:
        """Every To and Cc address of every message sent, in order."""
        found: list[str] = []
        for message in self.messages:
            for header in ("To", "Cc"):
                for addr in message.get_all(header, ()):
                    found.extend(a.addr_spec.lower() for a in getattr(addr, "addresses", ()))
        return found

    def __len__(self) -> int:
        return len(self.messages)


class _MemorySession:
    """A session that behaves as the account's protocol: IMAP folders, or POP3's one inbox."""

    def __init__(self, mailbox: InMemoryMailbox, account: MailboxAccount) -> None:
        self._mailbox = mailbox
        self._account = account.name
        self.can_move = account.protocol is MailProtocol.IMAP
        self.stable_ids = account.protocol is MailProtocol.POP3
        self._pending_delete: set[str] = set()
        self.closed = False

    def _folder(self, name: str | None = None) -> dict[str, bytes]:
        return self._mailbox.folders.setdefault((self._account, name or "INBOX"), {})

    def list_uids(self) -> Sequence[str]:
        self._mailbox.round_trips += 1
        return [u for u in self._folder() if u not in self._pending_delete]

    def fetch(self, uids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        folder = self._folder()
        for start in range(0, len(uids), self._mailbox.batch_size):
            self._mailbox.round_trips += 1
            if self._mailbox.drop_after_fetches == 0:
                raise MailboxError("connection dropped (injected)")
            if self._mailbox.drop_after_fetches is not None:
                self._mailbox.drop_after_fetches -= 1
            for uid in uids[start : start + self._mailbox.batch_size]:
                if uid in folder:
                    yield uid, folder[uid]

    def delete(self, uids: Sequence[str]) -> None:
        self._mailbox.round_trips += 1
        self._pending_delete.update(uids)

    def move(self, uids: Sequence[str], folder: str) -> None:
        if not self.can_move:
            raise MailboxError(f"{self._account}: POP3 cannot move messages to {folder!r}")
        self._mailbox.round_trips += 1
        source = self._folder()
        dest = self._folder(folder)
        for uid in uids:
            if uid in source:
                dest[uid] = source.pop(uid)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        folder = self._folder()
        for uid in self._pending_delete:
            folder.pop(uid, None)

    def __enter__(self) -> _MemorySession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class InMemoryMailbox:
    """A `MailboxTransport` holding raw emails per account and folder.

    Deletions take effect when the session closes, as with POP3's QUIT, so a test
    can simulate a crash by dropping a session without closing it.
    """

    def __init__(self, batch_size: int = 50) -> None:
        self.folders: dict[tuple[str, str], dict[str, bytes]] = {}
        self.batch_size = batch_size
        self.round_trips = 0
        self.fail_connect: list[Exception] = []
        """Exceptions the next `open` calls raise, one each, in order."""
        self.drop_after_fetches: int | None = None
        """Raise `MailboxError` on the fetch batch after this many (None: never)."""
        self._next_uid = 1

    def deliver(self, raw: bytes, account: str = "default", folder: str = "INBOX") -> str:
        """Drop a raw email into an account's folder; returns its uid."""
        uid = str(self._next_uid)
        self._next_uid += 1
        self.folders.setdefault((account, folder), {})[uid] = raw
        return uid

    def messages(self, account: str = "default", folder: str = "INBOX") -> list[bytes]:
        """The raw emails currently in a folder."""
        return list(self.folders.get((account, folder), {}).values())

    def open(self, account: MailboxAccount) -> _MemorySession:
        """Open a session on `account.name` (raises an injected failure if one is queued)."""
        self.round_trips += 1
        if self.fail_connect:
            raise self.fail_connect.pop(0)
        if not account.enabled:
            raise MailboxError(f"account {account.name!r} is disabled")
        return _MemorySession(self, account)

    @staticmethod
    def auth_failure(message: str = "[AUTHENTICATIONFAILED] Authentication failed.") -> Exception:
        """An authentication failure to queue in `fail_connect`."""
        return MailboxAuthError(message)


class InMemoryResolver:
    """A `Resolver` answering from a dictionary: `records[(name, "TXT")] = ["v=spf1 -all"]`."""

    def __init__(self, records: Mapping[tuple[str, str], Sequence[str]] | None = None) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        for (name, rdtype), values in (records or {}).items():
            self.add(name, rdtype, *values)
        self.temporary_failures: set[tuple[str, str]] = set()
        """(name, rdtype) pairs that raise `TemporaryDnsError`."""
        self.queries: list[tuple[str, str]] = []

    def add(self, name: str, rdtype: str, *values: str) -> None:
        """Add records."""
        key = (name.lower().rstrip("."), rdtype.upper())
        self.records.setdefault(key, []).extend(values)

    def query(self, name: str, rdtype: str) -> Sequence[str]:
        """The records of that name and type ([] if none)."""
        key = (name.lower().rstrip("."), rdtype.upper())
        self.queries.append(key)
        if key in self.temporary_failures:
            raise TemporaryDnsError(f"{name} {rdtype}: server failure (injected)")
        return tuple(self.records.get(key, ()))


def send_failure(message: str = "451 4.3.0 Try again later") -> Exception:
    """A send failure to queue in `Outbox.fail_next_send`."""
    return SendError(message)
