"""The SQL storage's tables (SQLAlchemy Core), all prefixed `hdm_`.

Two groups, created by two branches of the migrations (`helpdesk_mail.sql.migrate`):

- the library's bookkeeping (`BOOKKEEPING_TABLES`): receipts, mailboxes (health and
  leases), poison, suppressions, notification counts, the event outbox and the sent
  ledger. A host with its own tables needs only these (`SqlBookkeeping`);
- the domain of a helpdesk that has no tables of its own (`DOMAIN_TABLES`): users,
  tickets, subscribers, Message-IDs, comments, attachments and their bytes, KB articles
  (`SqlDomain`, `SqlStorage`).

Tables are created only by the migrations; this `metadata` is what the code expects,
and a test checks that the migrations produce exactly it (alembic's `compare_metadata`).

Two column types keep SQLite and PostgreSQL alike: `UtcDateTime` (timezone-aware UTC
in and out; SQLite has no time zones) and `CleanText` (text PostgreSQL accepts: U+0000
and lone surrogates become U+FFFD, on both databases, so that both store the same).
Keys that come from outside and may be long (a Message-ID can be 16 KB) are unique
through their SHA-256 digest, as a PostgreSQL B-tree entry holds at most ~2.7 KB.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "BOOKKEEPING_TABLES",
    "DOMAIN_TABLES",
    "CleanText",
    "UtcDateTime",
    "clean_text",
    "digest",
    "metadata",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)
"""Every table of the SQL storage, as the code expects it."""


def clean_text(value: str) -> str:
    """`value` as text every database stores: U+0000 and lone surrogates become U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # a valid surrogate pair becomes its character; a lone surrogate U+FFFD
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def digest(value: str) -> str:
    """The SHA-256 (hex) of `clean_text(value)`: the unique key of a long text."""
    return hashlib.sha256(clean_text(value).encode("utf-8")).hexdigest()


class CleanText(sa.types.TypeDecorator[str]):
    """TEXT whose values go through `clean_text` (PostgreSQL rejects U+0000 in text)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return value


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime; SQLite keeps it as naive UTC text, which sorts."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the storage needs timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id(name: str = "id") -> sa.Column[int]:
    # BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY is the rowid
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


def _text(name: str, nullable: bool = False, **kw: Any) -> sa.Column[str]:
    return sa.Column(name, CleanText(), nullable=nullable, **kw)


def _when(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


# --- the library's bookkeeping ------------------------------------------------------

receipts = sa.Table(
    "hdm_receipts",
    metadata,
    sa.Column("key_sha256", sa.String(64), primary_key=True),
    _text("mailbox"),
    _text("message_id", nullable=True),
    _text("content_sha256"),
    _when("at"),
)
"""One row per committed email: `key_sha256` is the digest of `ReceiptKey.as_string()`."""

mailboxes = sa.Table(
    "hdm_mailboxes",
    metadata,
    _text("account", primary_key=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    _text("last_error", nullable=True),
    _when("last_polled_at", nullable=True),
    _text("lease_owner", nullable=True),
    _when("lease_until", nullable=True),
)
"""One row per mailbox account: its health (`MailboxState`) and who polls it until when."""

poison = sa.Table(
    "hdm_poison",
    metadata,
    _id(),
    _text("mailbox"),
    _text("message_id", nullable=True),
    _text("content_sha256"),
    _text("account"),
    _text("uid"),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    _text("error"),
    _when("at"),
)
"""Emails whose processing or commit failed (`PoisonRecord`), in the order recorded."""

suppressions = sa.Table(
    "hdm_suppressions",
    metadata,
    sa.Column("email_sha256", sa.String(64), primary_key=True),
    _text("email"),
    _when("until"),
    _text("reason"),
)
"""Addresses (normalised) not to mail until `until`, by the digest of the address."""

notification_counts = sa.Table(
    "hdm_notification_counts",
    metadata,
    _id(),
    sa.Column("scope_sha256", sa.String(64), nullable=False),
    _text("scope"),
    _when("at"),
    sa.Index(None, "scope_sha256", "at"),
    sa.Index(None, "at"),
)
"""One row per scope of each sent notification (rate limits); `SqlBookkeeping.prune`
removes rows older than the longest rate-limit window."""

outbox = sa.Table(
    "hdm_outbox",
    metadata,
    _id(),
    _text("event"),
    _when("created_at"),
    _text("status"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    _when("next_attempt_at", nullable=True),
    _text("lease_owner", nullable=True),
    _when("lease_until", nullable=True),
    _text("last_error", nullable=True),
    _text("plan", nullable=True),
    sa.Index(None, "status", "id"),
)
"""Events waiting for delivery (`OutboxEntry`): the event and its frozen plan as JSON text
(`helpdesk_mail.codec`). Claims read the `(status, id)` index oldest first."""

sent_ledger = sa.Table(
    "hdm_sent_ledger",
    metadata,
    _id(),
    sa.Column("key_sha256", sa.String(64), nullable=False),
    _text("key"),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    _text("template"),
    _text("recipients"),
    _text("status"),
    _when("at"),
    _text("message_id", nullable=True),
    sa.Column("code", sa.Integer, nullable=True),
    _text("error", nullable=True),
    sa.UniqueConstraint("key_sha256"),
    sa.Index(None, "event_id", "id"),
    sa.Index(None, "message_id"),
)
"""What became of each notification email (`SentRecord`), unique by the digest of its
idempotency key; `id` keeps the order in which keys were first recorded. `recipients` is
a JSON list. A bounce finds the lines of the Message-ID it returns by `message_id` (our
own Message-IDs: short, so indexed as they are)."""

BOOKKEEPING_TABLES = frozenset(
    t.name
    for t in (receipts, mailboxes, poison, suppressions, notification_counts, outbox, sent_ledger)
)
"""The tables `SqlBookkeeping` uses (the `hdm_books` branch of the migrations)."""

# --- the domain of a helpdesk without tables of its own -----------------------------

users = sa.Table(
    "hdm_users",
    metadata,
    _text("email", primary_key=True),
    _text("name"),
    _text("role"),
    _text("first_name"),
    _text("last_name"),
    _text("username"),
    _text("company"),
    _text("department"),
    _text("location"),
    _text("categories", server_default="[]"),
    _text("password_hash"),
    sa.Index(None, "role"),
)
"""Users by normalised address; `categories` is a JSON list, the password a PBKDF2 hash
in Django's format (`pbkdf2_sha256$<iterations>$<salt>$<hash>`), empty when none."""

tickets = sa.Table(
    "hdm_tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _text("subject"),
    _text("submitter"),
    _text("status"),
    _text("category", nullable=True),
    _text("priority", server_default="normal"),
    _text("assignee", nullable=True),
    _text("via", server_default="email"),
    _when("created_at", nullable=True),
    _when("due_date", nullable=True),
    sa.Column("time_spent_minutes", sa.Integer, nullable=False, server_default="0"),
    _text("body_text"),
    _text("body_html", nullable=True),
    _text("custom_fields", server_default="[]"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
)
"""Tickets; `version` goes up by one on every change of the ticket (its row, subscribers,
Message-IDs or comments). `custom_fields` is a JSON list."""

subscribers = sa.Table(
    "hdm_subscribers",
    metadata,
    sa.Column(
        "ticket_id", sa.Integer, sa.ForeignKey(tickets.c.id, ondelete="CASCADE"), primary_key=True
    ),
    _text("email", primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
)
"""A ticket's subscribers, in `position` order."""

unsubscribed = sa.Table(
    "hdm_unsubscribed",
    metadata,
    sa.Column(
        "ticket_id", sa.Integer, sa.ForeignKey(tickets.c.id, ondelete="CASCADE"), primary_key=True
    ),
    _text("email", primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
)
"""Addresses that unsubscribed from a ticket (`Ticket.unsubscribed`), in `position` order."""

message_ids = sa.Table(
    "hdm_message_ids",
    metadata,
    _id(),
    sa.Column(
        "ticket_id", sa.Integer, sa.ForeignKey(tickets.c.id, ondelete="CASCADE"), nullable=False
    ),
    _text("message_id"),
    sa.Column("message_id_sha256", sa.String(64), nullable=False),
    sa.UniqueConstraint("message_id_sha256"),
    sa.Index(None, "ticket_id", "id"),
)
"""Message-IDs (with angle brackets) in arrival order (`id`); the unique digest makes a
Message-ID belong to the first ticket that stored it."""

comments = sa.Table(
    "hdm_comments",
    metadata,
    _id(),
    sa.Column(
        "ticket_id", sa.Integer, sa.ForeignKey(tickets.c.id, ondelete="CASCADE"), nullable=False
    ),
    _text("author"),
    _text("body_text"),
    _text("body_html", nullable=True),
    sa.Column("techs_only", sa.Boolean, nullable=False, server_default=sa.false()),
    _text("via", server_default="email"),
    _when("created_at"),
    _text("full_text"),
    sa.Index(None, "ticket_id", "id"),
)
"""A ticket's log in `id` order. `full_text` is the whole message, quoted history included."""

attachments = sa.Table(
    "hdm_attachments",
    metadata,
    _id(),
    sa.Column(
        "ticket_id", sa.Integer, sa.ForeignKey(tickets.c.id, ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "comment_id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey(comments.c.id, ondelete="CASCADE"),
        nullable=True,
    ),
    _text("filename"),
    _text("content_type"),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("inline", sa.Boolean, nullable=False, server_default=sa.false()),
    _text("content_id", nullable=True),
    _text("url", nullable=True),
    sa.Index(None, "ticket_id", "comment_id", "id"),
    sa.Index(None, "comment_id"),
)
"""Files of a ticket (`comment_id` NULL) or of one of its comments, without their bytes."""

files = sa.Table(
    "hdm_files",
    metadata,
    sa.Column(
        "attachment_id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey(attachments.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("content", sa.LargeBinary, nullable=False),
)
"""The bytes of each attachment, apart, so that reading tickets and comments stays light."""

kb_articles = sa.Table(
    "hdm_kb_articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _text("title"),
    _text("category", nullable=True),
    _text("url"),
    _text("body"),
)
"""Knowledge-base articles."""

DOMAIN_TABLES = frozenset(
    t.name
    for t in (
        users,
        tickets,
        subscribers,
        unsubscribed,
        message_ids,
        comments,
        attachments,
        files,
        kb_articles,
    )
)
"""The tables `SqlDomain` uses (the `hdm_domain` branch of the migrations)."""
