"""`SqlBookkeeping`: the library's records (`ports.Bookkeeping`) in SQL, on a connection the
caller owns.

It never commits, rolls back or begins anything: whatever transaction the connection is
in holds its writes, so a host that keeps its own tables runs it inside its own
transaction (`session.connection()`, `engine.begin()`), and what an email became, its
receipt and its events commit together.

Concurrency (PostgreSQL and SQLite alike, across processes and machines):

- `record_receipt` is an INSERT ... ON CONFLICT DO NOTHING on a unique key: of two
  transactions recording one key, the second waits on PostgreSQL's unique index until the
  first commits, then finds it (SQLite has one writer at a time: the second sees it).
- `lease_mailbox` is one conditional upsert of the account's row: taken when the row is
  new, its lease free, expired or already ours; a worker that dies loses it at `until`.
- `claim_events` is one UPDATE of the due, unleased rows, chosen on PostgreSQL by
  `SELECT ... FOR UPDATE SKIP LOCKED` (concurrent claimers skip each other's rows) and
  on SQLite guarded by the same lease columns in the statement (one writer at a time).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..addresses import normalize_email
from ..codec import from_json, to_json
from ..events import Event
from ..records import (
    DeliveryStatus,
    EventStatus,
    MailboxState,
    OutboxEntry,
    PoisonRecord,
    ReceiptKey,
    SentRecord,
)
from .schema import (
    digest,
    mailboxes,
    notification_counts,
    outbox,
    poison,
    receipts,
    sent_ledger,
    suppressions,
)

__all__ = ["SUPPORTED_DIALECTS", "SqlBookkeeping", "check_dialect", "prebuilt", "upsert"]

SUPPORTED_DIALECTS = ("postgresql", "sqlite")

# The frequent reads, built once (SQLAlchemy then only binds the values).
_PROCESSED = sa.select(receipts.c.key_sha256).where(receipts.c.key_sha256 == sa.bindparam("digest"))
_SUPPRESSED = sa.select(suppressions.c.until).where(
    suppressions.c.email_sha256 == sa.bindparam("digest"),
    suppressions.c.until > sa.bindparam("now"),
)
_COUNT = sa.select(sa.func.count()).where(
    notification_counts.c.scope_sha256 == sa.bindparam("digest"),
    notification_counts.c.at >= sa.bindparam("since"),
)
_COUNTS_AT_ONCE = 64
"""At most this many counts in one statement of `notifications_since_each`."""
_COUNTS: dict[int, sa.Select[Any]] = {}


def _counts_statement(queries: int) -> tuple[sa.Select[Any], int]:
    """One row of `slots` counts (1, 2, 4 ... 64 slots, the least that holds `queries`),
    each the scalar subquery of `_COUNT`: a few fixed shapes, built and compiled once."""
    slots = 1
    while slots < queries:
        slots *= 2
    statement = _COUNTS.get(slots)
    if statement is None:
        statement = _COUNTS[slots] = sa.select(
            *(
                sa.select(sa.func.count())
                .where(
                    notification_counts.c.scope_sha256 == sa.bindparam(f"d{i}"),
                    notification_counts.c.at >= sa.bindparam(f"s{i}"),
                )
                .scalar_subquery()
                .label(f"c{i}")
                for i in range(slots)
            )
        )
    return statement, slots


_SENT = sa.select(sent_ledger).where(sent_ledger.c.key_sha256 == sa.bindparam("digest"))


_RELEASE = (
    sa.update(mailboxes)
    .where(
        mailboxes.c.account == sa.bindparam("b_account"),
        mailboxes.c.lease_owner == sa.bindparam("b_owner"),
    )
    .values(lease_owner=None, lease_until=None)
)
_ADD_EVENT = sa.insert(outbox).returning(outbox.c.id)
_UPDATE_EVENT = (
    sa.update(outbox)
    .where(outbox.c.id == sa.bindparam("b_entry_id"))
    .values(
        {
            name: sa.bindparam(f"b_{name}")
            for name in (
                "status",
                "attempts",
                "next_attempt_at",
                "lease_owner",
                "lease_until",
                "last_error",
                "plan",
            )
        }
    )
)


def _lease(insert: Callable[[sa.Table], Any]) -> Any:
    """Take or renew a lease: an upsert that updates only a free, expired or own lease."""
    statement = insert(mailboxes)
    current = mailboxes.c
    return statement.on_conflict_do_update(
        index_elements=[current.account],
        set_={
            "lease_owner": statement.excluded.lease_owner,
            "lease_until": statement.excluded.lease_until,
        },
        where=sa.or_(
            current.lease_owner.is_(None),
            current.lease_owner == statement.excluded.lease_owner,
            current.lease_until.is_(None),
            current.lease_until <= sa.bindparam("b_now"),
        ),
    ).returning(current.account)


def _save_state(insert: Callable[[sa.Table], Any]) -> Any:
    statement = insert(mailboxes)
    kept = ("consecutive_failures", "disabled", "last_error", "last_polled_at")
    return statement.on_conflict_do_update(
        index_elements=[mailboxes.c.account],
        set_={name: getattr(statement.excluded, name) for name in kept},
    )


def _record_sent(insert: Callable[[sa.Table], Any]) -> Any:
    statement = insert(sent_ledger)
    kept: tuple[str, ...] = (
        "key",
        "event_id",
        "template",
        "recipients",
        "status",
        "at",
        "message_id",
        "code",
    )
    kept += ("error",)
    return statement.on_conflict_do_update(
        index_elements=[sent_ledger.c.key_sha256],
        set_={name: getattr(statement.excluded, name) for name in kept},
    )


def check_dialect(connection: sa.Connection) -> None:
    """Raise `ValueError` unless the connection is to PostgreSQL or SQLite 3.35 or later
    (`RETURNING`, upserts)."""
    dialect = connection.dialect
    if dialect.name not in SUPPORTED_DIALECTS:
        raise ValueError(f"helpdesk_mail.sql supports {SUPPORTED_DIALECTS}, not {dialect.name!r}")
    version = dialect.server_version_info
    if dialect.name == "sqlite" and version is not None and tuple(version) < (3, 35):
        found = ".".join(map(str, version))
        raise ValueError(f"helpdesk_mail.sql needs SQLite 3.35 or later (RETURNING), not {found}")


_PREBUILT: dict[tuple[str, str], Any] = {}


def prebuilt(connection: sa.Connection, name: str, build: Callable[[Any], Any]) -> Any:
    """The statement `name` for the connection's dialect, built once by `build(insert)`
    (`insert` is the dialect's INSERT construct, with its ON CONFLICT clauses) and then
    reused with parameters: building a statement, and its cache key, costs more than
    running it."""
    key = (name, connection.dialect.name)
    statement = _PREBUILT.get(key)
    if statement is None:
        statement = _PREBUILT[key] = build(lambda table: upsert(connection, table))
    return statement


def upsert(connection: sa.Connection, table: sa.Table) -> Any:
    """An INSERT with ON CONFLICT clauses in the connection's dialect."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"helpdesk_mail.sql supports {SUPPORTED_DIALECTS}, not {name!r}")


class SqlBookkeeping:
    """The `Bookkeeping` protocol on a SQLAlchemy `Connection` (PostgreSQL or SQLite).

    The caller owns the connection and its transaction: this never commits. Its tables
    (`hdm_*`, see `helpdesk_mail.sql.schema.BOOKKEEPING_TABLES`) are made by
    `helpdesk_mail.sql.upgrade(engine, domain=False)` (or `upgrade(engine)` for all).
    """

    def __init__(self, connection: sa.Connection) -> None:
        check_dialect(connection)
        self.connection = connection
        self._postgres = connection.dialect.name == "postgresql"

    def _run(self, statement: sa.Executable, *args: Any) -> sa.CursorResult[Any]:
        return self.connection.execute(statement, *args)

    # --- receipts ---

    def is_processed(self, key: ReceiptKey) -> bool:
        """Whether an email with this receipt key was committed."""
        return self._run(_PROCESSED, {"digest": digest(key.as_string())}).first() is not None

    def record_receipt(self, key: ReceiptKey, at: datetime) -> bool:
        """Record `key`; False (and nothing recorded) if it already was."""
        statement = prebuilt(
            self.connection,
            "record_receipt",
            lambda insert: (
                insert(receipts).on_conflict_do_nothing().returning(receipts.c.key_sha256)
            ),
        )
        values = {
            "key_sha256": digest(key.as_string()),
            "mailbox": key.mailbox,
            "message_id": key.message_id,
            "content_sha256": key.content_sha256,
            "at": at,
        }
        return self._run(statement, values).first() is not None

    # --- mailbox health and leases ---

    def mailbox_state(self, account: str) -> MailboxState:
        """The health record of a mailbox account (a fresh one when unknown)."""
        row = self._run(
            sa.select(
                mailboxes.c.consecutive_failures,
                mailboxes.c.disabled,
                mailboxes.c.last_error,
                mailboxes.c.last_polled_at,
            ).where(mailboxes.c.account == account)
        ).first()
        if row is None:
            return MailboxState()
        return MailboxState(
            consecutive_failures=row.consecutive_failures,
            disabled=bool(row.disabled),
            last_error=row.last_error,
            last_polled_at=row.last_polled_at,
        )

    def save_mailbox_state(self, account: str, state: MailboxState) -> None:
        """Store the health record of a mailbox account (its lease is left as it is)."""
        statement = prebuilt(self.connection, "save_mailbox_state", _save_state)
        self._run(
            statement,
            {
                "account": account,
                "consecutive_failures": state.consecutive_failures,
                "disabled": state.disabled,
                "last_error": state.last_error,
                "last_polled_at": state.last_polled_at,
            },
        )

    def lease_mailbox(self, account: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take or renew the right to poll `account` until `until` (one statement: an upsert
        that updates only a free, expired or own lease)."""
        statement = prebuilt(self.connection, "lease_mailbox", _lease)
        values = {"account": account, "lease_owner": owner, "lease_until": until, "b_now": now}
        return self._run(statement, values).first() is not None

    def release_mailbox(self, account: str, owner: str) -> None:
        """Give up `owner`'s lease on `account` (nothing if it holds none)."""
        self._run(_RELEASE, {"b_account": account, "b_owner": owner})

    # --- poison ---

    def record_poison(self, record: PoisonRecord) -> None:
        """Keep an email whose processing or commit failed."""
        self._run(
            sa.insert(poison).values(
                mailbox=record.key.mailbox,
                message_id=record.key.message_id,
                content_sha256=record.key.content_sha256,
                account=record.account,
                uid=record.uid,
                raw=record.raw,
                error=record.error,
                at=record.at,
            )
        )

    def poison_records(self) -> Sequence[PoisonRecord]:
        """The emails kept by `record_poison`, oldest first."""
        rows = self._run(sa.select(poison).order_by(poison.c.id))
        return tuple(
            PoisonRecord(
                key=ReceiptKey(r.mailbox, r.message_id, r.content_sha256),
                account=r.account,
                uid=r.uid,
                raw=bytes(r.raw),
                error=r.error,
                at=r.at,
            )
            for r in rows
        )

    # --- suppressions ---

    def is_suppressed(self, email: str, now: datetime) -> bool:
        """Whether notifications to `email` are suppressed at `now`."""
        found = self._run(_SUPPRESSED, {"digest": digest(normalize_email(email)), "now": now})
        return found.first() is not None

    def suppress(self, email: str, until: datetime, reason: str) -> None:
        """Suppress notifications to `email` until then (a later expiry wins)."""
        address = normalize_email(email)
        insert = upsert(self.connection, suppressions).values(
            email_sha256=digest(address), email=address, until=until, reason=reason
        )
        self._run(
            insert.on_conflict_do_update(
                index_elements=[suppressions.c.email_sha256],
                set_={"until": insert.excluded.until, "reason": insert.excluded.reason},
                where=suppressions.c.until < insert.excluded.until,
            )
        )

    # --- notification counts ---

    def notifications_since(self, scope: str, since: datetime) -> int:
        """How many were counted in `scope` at or after `since` (an index range scan)."""
        return int(self._run(_COUNT, {"digest": digest(scope), "since": since}).scalar_one())

    def notifications_since_each(self, queries: Sequence[tuple[str, datetime]]) -> tuple[int, ...]:
        """`notifications_since` of each `(scope, since)` pair, in order: one statement
        (per 64 pairs) of one index range scan a pair."""
        found: list[int] = []
        for start in range(0, len(queries), _COUNTS_AT_ONCE):
            chunk = queries[start : start + _COUNTS_AT_ONCE]
            statement, slots = _counts_statement(len(chunk))
            # the unused slots repeat the last pair (their counts are dropped)
            padded = [*chunk, *[chunk[-1]] * (slots - len(chunk))]
            values: dict[str, Any] = {}
            for i, (scope, since) in enumerate(padded):
                values[f"d{i}"] = digest(scope)
                values[f"s{i}"] = since
            row = self._run(statement, values).one()
            found.extend(int(n) for n in row[: len(chunk)])
        return tuple(found)

    def record_notification(self, scopes: Sequence[str], at: datetime) -> None:
        """Count one sent notification in each scope (a row each)."""
        if scopes:
            self._run(
                sa.insert(notification_counts),
                [{"scope_sha256": digest(s), "scope": s, "at": at} for s in scopes],
            )

    def prune(self, before: datetime) -> int:
        """Delete notification counts older than `before`; returns how many rows went.

        Counts only matter inside the rate-limit windows (`notifications.rate_limit_*`):
        call this now and then (daily, say) with `before` = now minus the longest
        window, so that the table does not grow without bound. Expired suppressions
        are removed too (they no longer suppress anything).
        """
        gone = self._run(sa.delete(notification_counts).where(notification_counts.c.at < before))
        self._run(sa.delete(suppressions).where(suppressions.c.until <= before))
        return int(gone.rowcount)

    # --- the event outbox ---

    def add_events(self, events: Sequence[Event], at: datetime) -> tuple[int, ...]:
        """Record events as pending (in this order); returns their new ids."""
        ids: list[int] = []
        for event in events:
            values = {
                "event": to_json(event),
                "created_at": at,
                "status": EventStatus.PENDING.value,
                "attempts": 0,
            }
            ids.append(int(self._run(_ADD_EVENT, values).scalar_one()))
        return tuple(ids)

    def claim_events(
        self, owner: str, now: datetime, until: datetime, limit: int
    ) -> Sequence[OutboxEntry]:
        """Up to `limit` pending events due at `now` (oldest first) that no one else holds,
        leased to `owner` until `until`, in one UPDATE."""
        if limit <= 0:
            return ()
        due = sa.and_(
            outbox.c.status == EventStatus.PENDING.value,
            sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
            sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
        )
        chosen = sa.select(outbox.c.id).where(due).order_by(outbox.c.id).limit(limit)
        if self._postgres:
            # a materialised CTE: PostgreSQL may run an `IN (subquery)` more than once,
            # which with SKIP LOCKED can pick (and lease) more than `limit` rows
            locked = chosen.with_for_update(skip_locked=True).cte("claimable")
            locked = locked.prefix_with("MATERIALIZED")
            claim = sa.update(outbox).where(outbox.c.id == locked.c.id)
        else:
            # SQLite has one writer at a time: the guard in the statement is the claim
            claim = sa.update(outbox).where(outbox.c.id.in_(chosen.scalar_subquery()), due)
        claim = claim.values(lease_owner=owner, lease_until=until).returning(*outbox.c)
        rows = sorted(self._run(claim), key=lambda r: r.id)
        return tuple(_entry(r) for r in rows)

    def update_event(self, entry: OutboxEntry) -> None:
        """Store a claimed entry's new status, attempts, times, error, plan and lease."""
        plan = entry.plan
        changed = self._run(
            _UPDATE_EVENT,
            {
                "b_entry_id": entry.id,
                "b_status": EventStatus(entry.status).value,
                "b_attempts": entry.attempts,
                "b_next_attempt_at": entry.next_attempt_at,
                "b_lease_owner": entry.lease_owner,
                "b_lease_until": entry.lease_until,
                "b_last_error": entry.last_error,
                "b_plan": None if plan is None else json.dumps(plan, ensure_ascii=False),
            },
        )
        if changed.rowcount == 0:
            raise KeyError(f"no outbox entry {entry.id}")

    def outbox(self, status: EventStatus | None = None) -> Sequence[OutboxEntry]:
        """The entries (with this status), oldest first."""
        query = sa.select(outbox).order_by(outbox.c.id)
        if status is not None:
            query = query.where(outbox.c.status == EventStatus(status).value)
        return tuple(_entry(r) for r in self._run(query))

    # --- the sent ledger ---

    def sent_record(self, key: str) -> SentRecord | None:
        """The ledger's line for this key, or None."""
        row = self._run(_SENT, {"digest": digest(key)}).first()
        return None if row is None else _sent(row)

    def record_sent(self, record: SentRecord) -> None:
        """Add or replace the line of `record.key` (a replaced line keeps its place)."""
        values = {
            "key_sha256": digest(record.key),
            "key": record.key,
            "event_id": record.event_id,
            "template": record.template,
            "recipients": json.dumps(list(record.recipients), ensure_ascii=False),
            "status": DeliveryStatus(record.status).value,
            "at": record.at,
            "message_id": record.message_id,
            "code": record.code,
            "error": record.error,
        }
        self._run(prebuilt(self.connection, "record_sent", _record_sent), values)

    def sent_with_message_id(self, message_id: str) -> Sequence[SentRecord]:
        """The lines with this Message-ID, in the order they were first recorded."""
        query = (
            sa.select(sent_ledger)
            .where(sent_ledger.c.message_id == message_id)
            .order_by(sent_ledger.c.id)
        )
        return tuple(_sent(r) for r in self._run(query))

    def sent_records(self, event_id: int | None = None) -> Sequence[SentRecord]:
        """The lines (of one event), in the order they were first recorded."""
        query = sa.select(sent_ledger).order_by(sent_ledger.c.id)
        if event_id is not None:
            query = query.where(sent_ledger.c.event_id == event_id)
        return tuple(_sent(r) for r in self._run(query))


def _entry(row: sa.Row[Any]) -> OutboxEntry:
    plan: Mapping[str, Any] | None = None if row.plan is None else json.loads(row.plan)
    event: Event = from_json(row.event)
    return OutboxEntry(
        id=int(row.id),
        event=event,
        created_at=row.created_at,
        status=EventStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        last_error=row.last_error,
        plan=plan,
    )


def _sent(row: sa.Row[Any]) -> SentRecord:
    return SentRecord(
        key=row.key,
        event_id=int(row.event_id),
        template=row.template,
        recipients=tuple(json.loads(row.recipients)),
        status=DeliveryStatus(row.status),
        at=row.at,
        message_id=row.message_id,
        code=row.code,
        error=row.error,
    )
