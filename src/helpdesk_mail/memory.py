"""In-memory implementations of every port, for tests and for hosts' own test suites.

They behave like the real thing where it matters to a host's tests (transactions
are atomic, receipts unique, reads light, POP3-like deletions, sent mail collected
like Django's `mail.outbox`), keep everything in plain attributes a test can
inspect, and can be told to fail (`fail_next_commit`, `fail_connect`,
`fail_next_send`, `temporary_failures`). Not for production: nothing is persisted.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    RequireTicket,
    RequireUser,
    StaleCommit,
    SuppressRecipients,
)
from .addresses import normalize_email
from .commit import commit
from .events import Event
from .model import Attachment, Comment, KBArticle, Role, Ticket, TicketStatus, User
from .ports import (
    Clock,
    MailboxAuthError,
    MailboxError,
    SendError,
    StopSignal,
    TemporaryDnsError,
    WatchUnsupported,
)
from .records import (
    EventStatus,
    MailboxLease,
    MailboxState,
    OutboxEntry,
    PoisonRecord,
    ReceiptKey,
    SentRecord,
    sent_from_state,
)
from .settings import MailboxAccount, MailProtocol

__all__ = [
    "InMemoryMailbox",
    "InMemoryResolver",
    "InMemoryStorage",
    "InMemoryWatcher",
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


def _without(keys: dict[str, None], key: str) -> dict[str, None]:
    return {k: None for k in keys if k != key}


class _MemoryUnit:
    """A transaction of `InMemoryStorage`: its domain and its books are the storage itself."""

    def __init__(self, storage: InMemoryStorage) -> None:
        self._storage = storage

    @property
    def domain(self) -> InMemoryStorage:
        return self._storage

    @property
    def books(self) -> InMemoryStorage:
        return self._storage


# The attributes a transaction restores on rollback (see `InMemoryStorage._write`).
_STATE = (
    "users_by_email",
    "passwords",
    "tickets",
    "ticket_comments",
    "kb_articles",
    "processed",
    "mailbox_states",
    "mailbox_leases",
    "poison",
    "suppressed",
    "sent_log",
    "outbox_entries",
    "sent_ledger",
    "_ledger_by_event",
    "_ledger_by_message_id",
    "commits",
    "_message_index",
    "_files",
    "_counters",
)


_APPEND_ONLY = frozenset({"poison", "commits"})
"""Lists only ever appended to: a transaction remembers their length."""

_WHOLE = frozenset({"_counters", *_APPEND_ONLY})
"""Containers a transaction remembers whole (small ones); the others entry by entry."""

_MISSING = object()


def _restore(current: Any, saved: Any) -> None:
    """Put `saved` back into the container `current`, in place (references stay valid)."""
    if isinstance(current, list):
        del current[saved:]  # an append-only list: its length before
    else:
        current.clear()
        current.update(saved)


def _undo_keys(current: Any, saved: dict[Any, Any]) -> None:
    """Put back the entries of `current` that a transaction changed: each key's value
    before (`_MISSING`: there was none; for a set, whether the key was in it)."""
    for key, before in saved.items():
        if isinstance(current, set):
            if before:
                current.add(key)
            else:
                current.discard(key)
        elif before is _MISSING:
            current.pop(key, None)
        else:
            current[key] = before


class InMemoryStorage:
    """A whole `Storage` in dictionaries: the host's domain and the library's bookkeeping.

    It keeps every rule of docs/protocols.md, so that a host's tests see what a real
    database would do: transactions are atomic (a block that raises changes nothing)
    and serialised by a lock (two threads are two connections), receipt keys are
    unique, reads are light (attachments come without their bytes, which
    `attachment_content` gives), tickets carry a version that every change bumps, and
    a Message-ID belongs to the first ticket that stored it.

    Tickets and comments that commits create are dated by `clock` (share the clock
    your test moves); without one they all get 2026-01-01 09:00 UTC. Everything is
    in plain attributes a test may inspect. Not for production: nothing is persisted.
    """

    def __init__(self, first_ticket_id: int = 1, clock: Clock | None = None) -> None:
        self.clock = clock
        self.users_by_email: dict[str, User] = {}
        self.passwords: dict[str, str] = {}
        self.tickets: dict[int, Ticket] = {}
        self.ticket_comments: dict[int, list[Comment]] = {}
        self.kb_articles: dict[int, KBArticle] = {}
        self.processed: set[str] = set()
        self.mailbox_states: dict[str, MailboxState] = {}
        self.mailbox_leases: dict[str, MailboxLease] = {}
        self.poison: list[PoisonRecord] = []
        self.suppressed: dict[str, tuple[datetime, str]] = {}
        self.sent_log: dict[str, list[datetime]] = {}
        self.outbox_entries: dict[int, OutboxEntry] = {}
        self.sent_ledger: dict[str, SentRecord] = {}
        self._ledger_by_event: dict[int, dict[str, None]] = {}
        self._ledger_by_message_id: dict[str, dict[str, None]] = {}
        self.commits: list[tuple[Action, ...]] = []
        """The actions of every `apply`, in order (for tests)."""
        self._message_index: dict[str, int] = {}
        self._files: dict[str, bytes] = {}
        self._counters = {"ticket": first_ticket_id, "comment": 1, "event": 1, "file": 1}
        self._lock = threading.RLock()
        self._saved: dict[str, Any] | None = None
        self._saved_keys: dict[str, dict[Any, Any]] | None = None
        self.fail_next_commit: Exception | None = None
        """Set to an exception to make the next `apply` raise it (and change nothing)."""
        self.calls: Counter[str] = Counter()
        """How often each read method was called (tests count storage round trips)."""

    # --- transactions ---

    @contextmanager
    def transaction(self) -> Iterator[_MemoryUnit]:
        """A transaction: everything written in the block is undone if the block raises.

        Transactions are serialised by a lock; a nested one joins the outer one.
        """
        with self._lock:
            if self._saved is not None:
                yield _MemoryUnit(self)
                return
            self._saved, self._saved_keys = {}, {}
            try:
                yield _MemoryUnit(self)
            except BaseException:
                for name, value in self._saved.items():
                    _restore(getattr(self, name), value)
                for name, keys in self._saved_keys.items():
                    _undo_keys(getattr(self, name), keys)
                raise
            finally:
                self._saved = self._saved_keys = None

    def _write(self, name: str, *keys: Any) -> None:
        """Remember what a transaction's first write to `name` changes, to undo it.

        The containers of `_WHOLE` whole (a small one, or an append-only list's length);
        the others only at `keys`, the entries about to change (their values before: a
        transaction costs what it writes, not what is stored). Inner lists are copied:
        they may be extended in place."""
        if self._saved is None or self._saved_keys is None or name in self._saved:
            return
        container = getattr(self, name)
        if name in _WHOLE:
            self._saved[name] = len(container) if name in _APPEND_ONLY else copy.copy(container)
            return
        saved = self._saved_keys.setdefault(name, {})
        for key in keys:
            if key in saved:
                continue
            if isinstance(container, set):
                saved[key] = key in container
            else:
                before = container.get(key, _MISSING)
                saved[key] = list(before) if isinstance(before, list) else before

    def commit(
        self,
        actions: Sequence[Action],
        key: ReceiptKey | None = None,
        events: Sequence[Event] = (),
    ) -> CommitOutcome:
        """Commit one email's actions, its receipt key and its events in one transaction.

        A shortcut for tests: `helpdesk_mail.commit` inside `transaction()`, dated by
        this storage's clock.
        """
        with self.transaction() as unit:
            return commit(unit, actions, key=key, events=events, at=self._now())

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of everything stored (not the read counters): tests compare two
        snapshots to show that something wrote nothing."""
        with self._lock:
            return copy.deepcopy({name: getattr(self, name) for name in _STATE})

    # --- setting up (for tests) ---

    def add_user(self, user: User, password: str = "") -> User:
        """Add or replace a user."""
        self._write("users_by_email", user.email)
        self.users_by_email[user.email] = user
        if password:
            self._write("passwords", user.email)
            self.passwords[user.email] = password
        return user

    def add_ticket(self, ticket: Ticket, comments: Iterable[Comment] = ()) -> Ticket:
        """Add or replace a ticket (and append its comments); returns it as stored.

        Add tickets through this method or a commit, not by writing to `tickets`: the
        Message-ID index, the files and the version are kept here. A Message-ID that
        another ticket stored first stays that ticket's.
        """
        self._write("tickets", ticket.id)
        self._write("ticket_comments", ticket.id)
        self._write("_message_index", *ticket.message_ids)
        self._write("_counters")
        previous = self.tickets.get(ticket.id)
        version = (previous.version or 0) + 1 if previous is not None else ticket.version or 1
        ticket = dataclasses.replace(
            ticket, attachments=self._keep_files(ticket.attachments), version=version
        )
        self.tickets[ticket.id] = ticket
        for message_id in ticket.message_ids:
            self._message_index.setdefault(message_id, ticket.id)
        kept = [
            dataclasses.replace(c, attachments=self._keep_files(c.attachments)) for c in comments
        ]
        self.ticket_comments.setdefault(ticket.id, []).extend(kept)
        self._counters["ticket"] = max(self._counters["ticket"], ticket.id + 1)
        return ticket

    def add_kb_article(self, article: KBArticle) -> KBArticle:
        """Add or replace a knowledge-base article."""
        self._write("kb_articles", article.id)
        self.kb_articles[article.id] = article
        return article

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Load a JSON-like snapshot: `{"users": [...], "tickets": [...], "kb_articles": [...]}`.

        The format is the one of `helpdesk-mail inspect --state` (see docs/cli.md);
        unknown keys are ignored, missing optional keys take defaults. `"sent"` lists
        notifications sent earlier, as the sent ledger keeps them
        (`{"message_id": ..., "to": [...], "template": ..., "event_id": ...}`): what a
        bounce must return to suppress anyone.
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
        for record in sent_from_state(state.get("sent", ()), self._now()):
            self.record_sent(record)
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

    def _keep_files(self, attachments: Iterable[Attachment]) -> tuple[Attachment, ...]:
        """Store the bytes of new files apart; the ticket or comment keeps light copies."""
        light: list[Attachment] = []
        for a in attachments:
            if a.id is None or a.content:
                self._write("_counters")
                file_id = a.id or f"f{self._counters['file']}"
                self._write("_files", file_id)
                if a.id is None:
                    self._counters["file"] += 1
                self._files[file_id] = a.content
                a = dataclasses.replace(a, id=file_id, size=a.size or len(a.content))
            light.append(dataclasses.replace(a, content=b""))
        return tuple(light)

    # --- DomainReader ---

    def user(self, email: str) -> User | None:
        """The user with this address, or None."""
        self.calls["user"] += 1
        return self.users_by_email.get(normalize_email(email))

    def users(self, emails: Iterable[str]) -> Mapping[str, User]:
        """The known users among these addresses, by address."""
        self.calls["users"] += 1
        found = (self.users_by_email.get(normalize_email(e)) for e in emails)
        return {u.email: u for u in found if u is not None}

    def staff(self) -> Iterable[User]:
        """All technicians and administrators."""
        self.calls["staff"] += 1
        return [u for u in self.users_by_email.values() if u.is_staff]

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket with this id (attachments without their bytes), or None."""
        self.calls["ticket"] += 1
        return self.tickets.get(ticket_id)

    def ticket_ids(self, last: int | None = None) -> list[int]:
        """The ids of the tickets, ascending (only the `last` ones when given), as
        `SqlDomain.ticket_ids` lists them."""
        ids = sorted(self.tickets)
        return ids if last is None else ids[len(ids) - max(0, last) :]

    def ticket_for_message_id(self, message_id: str) -> int | None:
        """The first ticket that stored this Message-ID, or None."""
        self.calls["ticket_for_message_id"] += 1
        ticket_id = self._message_index.get(message_id.strip())
        return ticket_id if ticket_id in self.tickets else None

    def comments(self, ticket_id: int) -> Sequence[Comment]:
        """The ticket's log, oldest first (attachments without their bytes)."""
        self.calls["comments"] += 1
        return tuple(self.ticket_comments.get(ticket_id, ()))

    def attachment_content(self, attachment: Attachment) -> bytes:
        """The bytes of a stored file (`b""` for one this storage does not know)."""
        self.calls["attachment_content"] += 1
        if attachment.content:
            return attachment.content
        return self._files.get(attachment.id or "", b"")

    def kb_article(self, article_id: int) -> KBArticle | None:
        """The KB article with this id, or None."""
        self.calls["kb_article"] += 1
        return self.kb_articles.get(article_id)

    def search_kb(self, text: str, limit: int) -> Sequence[KBArticle]:
        """Articles sharing the most words (of four letters or more) with `text`."""
        self.calls["search_kb"] += 1
        words = {w for w in _words(text) if len(w) >= 4}
        scored = []
        for article in self.kb_articles.values():
            overlap = len(words & _words(f"{article.title} {article.body}"))
            if overlap:
                scored.append((-overlap, article.id, article))
        return tuple(a for _, _, a in sorted(scored)[:limit])

    # --- Domain: applying actions, as helpdesk_mail.actions documents them ---

    def apply(self, actions: Sequence[Action]) -> CommitOutcome:
        """Apply `actions` in order (each as its class documents); all or nothing."""
        if self.fail_next_commit is not None:
            exc, self.fail_next_commit = self.fail_next_commit, None
            raise exc
        with self.transaction():
            outcome = self._apply(actions)
            self._write("commits")
            self.commits.append(tuple(actions))
            return outcome

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
                case RequireTicket():
                    current = self.tickets.get(action.ticket_id)
                    if current is None or current.status is not action.status:
                        raise StaleCommit(f"ticket {action.ticket_id} is not {action.status}")
                    if action.version is not None and current.version != action.version:
                        raise StaleCommit(f"ticket {action.ticket_id} changed")
                case RequireUser():
                    user = self.users_by_email.get(normalize_email(action.email))
                    if (user.role if user is not None else None) != action.role:
                        raise StaleCommit(f"user {action.email} changed")
                case CreateUser():
                    email = normalize_email(action.email)
                    if email not in self.users_by_email:
                        self.add_user(
                            User(email=email, name=action.name, role=action.role),
                            action.password,
                        )
                        created.append(email)
                case CreateTicket():
                    mid = (action.message_id or "").strip()
                    self._write("_counters")
                    ticket_id = self._counters["ticket"]
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
                            message_ids=(mid,) if mid and mid not in self._message_index else (),
                        )
                    )
                case AddComment():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    self._write("_counters")
                    comment_id = self._counters["comment"]
                    self._counters["comment"] += 1
                    comment = Comment(
                        id=comment_id,
                        ticket_id=ticket.id,
                        author=action.author,
                        body_text=action.body_text,
                        body_html=action.body_html,
                        techs_only=action.techs_only,
                        attachments=action.attachments,
                        created_at=self._now(),
                    )
                    ids = ticket.message_ids
                    mid = (action.message_id or "").strip()
                    if mid and mid not in self._message_index:
                        ids = (*ids, mid)
                    self.add_ticket(dataclasses.replace(ticket, message_ids=ids), [comment])
                case AddSubscribers():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    self._replace(ticket, subscribers=(*ticket.subscribers, *action.emails))
                case RemoveSubscriber():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    gone = normalize_email(action.email)
                    if gone in ticket.subscribers or gone == ticket.submitter:
                        subs = tuple(s for s in ticket.subscribers if s != gone)
                        unsubscribed = (*ticket.unsubscribed, gone)
                        self._replace(ticket, subscribers=subs, unsubscribed=unsubscribed)
                case CloseTicket():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    if not ticket.is_closed:
                        self._replace(ticket, status=TicketStatus.CLOSED)
                case ReopenTicket():
                    ticket = target(action.ticket_id)
                    ticket_id = ticket.id
                    self._replace(ticket, status=TicketStatus.OPEN)
                case SuppressRecipients():
                    raise TypeError("SuppressRecipients is bookkeeping: Domain.apply never gets it")
                case Discard():
                    pass
        return CommitOutcome(
            ticket_id=ticket_id, comment_id=comment_id, created_users=tuple(created)
        )

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else EPOCH

    def _replace(self, ticket: Ticket, **changes: Any) -> None:
        changed = dataclasses.replace(ticket, **changes)
        if changed != ticket:  # a change that changes nothing keeps the version
            self.add_ticket(changed)

    # --- Bookkeeping: receipts ---

    def is_processed(self, key: ReceiptKey) -> bool:
        """Whether this receipt key was committed."""
        self.calls["is_processed"] += 1
        return key.as_string() in self.processed

    def record_receipt(self, key: ReceiptKey, at: datetime) -> bool:
        """Record `key`; False if it already was."""
        if key.as_string() in self.processed:
            return False
        self._write("processed", key.as_string())
        self.processed.add(key.as_string())
        return True

    # --- Bookkeeping: mailbox health and leases ---

    def mailbox_state(self, account: str) -> MailboxState:
        """The health record of an account."""
        self.calls["mailbox_state"] += 1
        return self.mailbox_states.get(account, MailboxState())

    def save_mailbox_state(self, account: str, state: MailboxState) -> None:
        """Store an account's health record."""
        self._write("mailbox_states", account)
        self.mailbox_states[account] = state

    def lease_mailbox(self, account: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take or renew the right to poll `account` (False while another owner holds it)."""
        with self._lock:
            current = self.mailbox_leases.get(account)
            if current is not None and current.owner != owner and current.until > now:
                return False
            self._write("mailbox_leases", account)
            self.mailbox_leases[account] = MailboxLease(account, owner, until)
            return True

    def release_mailbox(self, account: str, owner: str) -> None:
        """Give up `owner`'s lease on `account`."""
        with self._lock:
            current = self.mailbox_leases.get(account)
            if current is not None and current.owner == owner:
                self._write("mailbox_leases", account)
                del self.mailbox_leases[account]

    # --- Bookkeeping: poison ---

    def record_poison(self, record: PoisonRecord) -> None:
        """Keep a failed email for replay."""
        self._write("poison")
        self.poison.append(record)

    def poison_records(self) -> Sequence[PoisonRecord]:
        """The failed emails kept, oldest first."""
        self.calls["poison_records"] += 1
        return tuple(self.poison)

    # --- Bookkeeping: suppressions and counts ---

    def is_suppressed(self, email: str, now: datetime) -> bool:
        """Whether `email` bounced recently (its suppression has not expired)."""
        self.calls["is_suppressed"] += 1
        entry = self.suppressed.get(normalize_email(email))
        return entry is not None and entry[0] > now

    def suppress(self, email: str, until: datetime, reason: str) -> None:
        """Suppress notifications to `email` until `until` (a later expiry wins)."""
        address = normalize_email(email)
        current = self.suppressed.get(address)
        if current is None or current[0] < until:
            self._write("suppressed", address)
            self.suppressed[address] = (until, reason)

    def notifications_since(self, scope: str, since: datetime) -> int:
        """Notifications counted in `scope` at or after `since`."""
        self.calls["notifications_since"] += 1
        return self._counted(scope, since)

    def notifications_since_each(self, queries: Sequence[tuple[str, datetime]]) -> tuple[int, ...]:
        """`notifications_since` of each `(scope, since)` pair, in order (one call)."""
        self.calls["notifications_since_each"] += 1
        return tuple(self._counted(scope, since) for scope, since in queries)

    def _counted(self, scope: str, since: datetime) -> int:
        return sum(1 for at in self.sent_log.get(scope, ()) if at >= since)

    def record_notification(self, scopes: Sequence[str], at: datetime) -> None:
        """Count one sent notification in each scope."""
        self._write("sent_log", *scopes)
        for scope in scopes:
            self.sent_log[scope] = [*self.sent_log.get(scope, ()), at]

    # --- Bookkeeping: the event outbox ---

    def add_events(self, events: Sequence[Event], at: datetime) -> tuple[int, ...]:
        """Record events as pending; returns their ids."""
        self._write("_counters")
        ids: list[int] = []
        for event in events:
            event_id = self._counters["event"]
            self._counters["event"] += 1
            self._write("outbox_entries", event_id)
            self.outbox_entries[event_id] = OutboxEntry(id=event_id, event=event, created_at=at)
            ids.append(event_id)
        return tuple(ids)

    def claim_events(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> Sequence[OutboxEntry]:
        """Lease up to `limit` due pending events no one else holds to `owner`."""
        with self._lock:
            claimed: list[OutboxEntry] = []
            for entry in self.outbox_entries.values():
                if len(claimed) >= limit:
                    break
                if entry.status is not EventStatus.PENDING:
                    continue
                if entry.next_attempt_at is not None and entry.next_attempt_at > now:
                    continue
                if entry.lease_until is not None and entry.lease_until > now:
                    continue
                leased = dataclasses.replace(entry, lease_owner=owner, lease_until=until)
                self._write("outbox_entries", entry.id)
                self.outbox_entries[entry.id] = leased
                claimed.append(leased)
            return tuple(claimed)

    def update_event(self, entry: OutboxEntry) -> None:
        """Store an entry's new state."""
        if entry.id not in self.outbox_entries:
            raise KeyError(f"no outbox entry {entry.id}")
        self._write("outbox_entries", entry.id)
        self.outbox_entries[entry.id] = entry

    def outbox(self, status: EventStatus | None = None) -> Sequence[OutboxEntry]:
        """The outbox entries (with this status), oldest first."""
        return tuple(e for e in self.outbox_entries.values() if status in (None, e.status))

    # --- Bookkeeping: the sent ledger ---

    def sent_record(self, key: str) -> SentRecord | None:
        """The ledger's line for this idempotency key, or None."""
        self.calls["sent_record"] += 1
        return self.sent_ledger.get(key)

    def record_sent(self, record: SentRecord) -> None:
        """Add or replace the line of `record.key`."""
        old = self.sent_ledger.get(record.key)
        self._write("sent_ledger", record.key)
        self._write("_ledger_by_event", record.event_id, *([old.event_id] if old else []))
        message_ids = [m for m in (record.message_id, old.message_id if old else None) if m]
        self._write("_ledger_by_message_id", *message_ids)
        self.sent_ledger[record.key] = record
        # the indexes hold keys in the order recorded; inner dicts are replaced, never
        # changed in place, so a rolled-back transaction restores them whole
        if old is not None and old.event_id != record.event_id:
            self._ledger_by_event[old.event_id] = _without(
                self._ledger_by_event[old.event_id], record.key
            )
        self._ledger_by_event[record.event_id] = {
            **self._ledger_by_event.get(record.event_id, {}),
            record.key: None,
        }
        if old is not None and old.message_id and old.message_id != record.message_id:
            self._ledger_by_message_id[old.message_id] = _without(
                self._ledger_by_message_id[old.message_id], record.key
            )
        if record.message_id:
            self._ledger_by_message_id[record.message_id] = {
                **self._ledger_by_message_id.get(record.message_id, {}),
                record.key: None,
            }

    def sent_records(self, event_id: int | None = None) -> Sequence[SentRecord]:
        """The ledger's lines (of one event), in the order recorded."""
        if event_id is None:
            return tuple(self.sent_ledger.values())
        return tuple(self.sent_ledger[k] for k in self._ledger_by_event.get(event_id, {}))

    def sent_with_message_id(self, message_id: str) -> Sequence[SentRecord]:
        """The ledger's lines with this Message-ID, in the order recorded."""
        self.calls["sent_with_message_id"] += 1
        keys = self._ledger_by_message_id.get(message_id, {})
        return tuple(self.sent_ledger[k] for k in keys)


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


class InMemoryWatcher:
    """A `MailboxWatcher` told by the test: `announce(name)` is new mail in that account.

    `watch` blocks (in the worker's thread) until `stop`, calling `on_new_mail` for each
    announcement of its account; accounts named in `unsupported` raise
    `WatchUnsupported`, as a server without IDLE does. `watching` holds the names being
    watched now (a test waits for it before announcing).
    """

    def __init__(self, unsupported: Iterable[str] = ()) -> None:
        self.unsupported = set(unsupported)
        self.watching: set[str] = set()
        self._lock = threading.Lock()
        self._announced: dict[str, threading.Event] = {}

    def watch(
        self, account: MailboxAccount, on_new_mail: Callable[[], object], stop: StopSignal
    ) -> None:
        """Call `on_new_mail` at each `announce(account.name)` until `stop` is set."""
        name = account.name
        if name in self.unsupported:
            raise WatchUnsupported(f"{name}: no IDLE here")
        announced = threading.Event()
        with self._lock:
            self._announced[name] = announced
            self.watching.add(name)
        try:
            while not stop.is_set():
                if announced.wait(0.01):
                    announced.clear()
                    on_new_mail()
        finally:
            with self._lock:
                self.watching.discard(name)

    def announce(self, name: str) -> bool:
        """New mail in account `name`: its watcher calls back (False: nobody watches it)."""
        with self._lock:
            announced = self._announced.get(name)
            watched = name in self.watching
        if announced is None or not watched:
            return False
        announced.set()
        return True


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
