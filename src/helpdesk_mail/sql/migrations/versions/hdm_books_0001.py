"""The library's bookkeeping: receipts, mailboxes, poison, suppressions, notification counts,
the event outbox and the sent ledger.

Revision ID: hdm_books_0001
Revises:
Create Date: 2026-03-02

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "hdm_books_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("hdm_books",)
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the bookkeeping tables."""
    op.create_table(
        "hdm_receipts",
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("mailbox", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("key_sha256", name=op.f("pk_hdm_receipts")),
    )
    op.create_table(
        "hdm_mailboxes",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_polled_at", WHEN, nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_hdm_mailboxes")),
    )
    op.create_table(
        "hdm_poison",
        sa.Column("id", ID, nullable=False),
        sa.Column("mailbox", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("uid", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_poison")),
    )
    op.create_table(
        "hdm_suppressions",
        sa.Column("email_sha256", sa.String(64), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("until", WHEN, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("email_sha256", name=op.f("pk_hdm_suppressions")),
    )
    op.create_table(
        "hdm_notification_counts",
        sa.Column("id", ID, nullable=False),
        sa.Column("scope_sha256", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_notification_counts")),
    )
    op.create_index(
        op.f("ix_hdm_notification_counts_scope_sha256_at"),
        "hdm_notification_counts",
        ["scope_sha256", "at"],
    )
    op.create_index(op.f("ix_hdm_notification_counts_at"), "hdm_notification_counts", ["at"])
    op.create_table(
        "hdm_outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", WHEN, nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("plan", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_outbox")),
    )
    op.create_index(op.f("ix_hdm_outbox_status_id"), "hdm_outbox", ["status", "id"])
    op.create_table(
        "hdm_sent_ledger",
        sa.Column("id", ID, nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_sent_ledger")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_hdm_sent_ledger_key_sha256")),
    )
    op.create_index(op.f("ix_hdm_sent_ledger_event_id_id"), "hdm_sent_ledger", ["event_id", "id"])


def downgrade() -> None:
    """Drop the bookkeeping tables."""
    for table in (
        "hdm_sent_ledger",
        "hdm_outbox",
        "hdm_notification_counts",
        "hdm_suppressions",
        "hdm_poison",
        "hdm_mailboxes",
        "hdm_receipts",
    ):
        op.drop_table(table)
