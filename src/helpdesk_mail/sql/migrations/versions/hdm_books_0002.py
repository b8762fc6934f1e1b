"""The sent ledger is read by Message-ID: a bounce suppresses an address only when the
Message-ID it returns was sent to that address (`SentLedger.sent_with_message_id`).

Revision ID: hdm_books_0002
Revises: hdm_books_0001
Create Date: 2027-01-10

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "hdm_books_0002"
down_revision: str | Sequence[str] | None = "hdm_books_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index the sent ledger by Message-ID."""
    op.create_index(op.f("ix_hdm_sent_ledger_message_id"), "hdm_sent_ledger", ["message_id"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index(op.f("ix_hdm_sent_ledger_message_id"), table_name="hdm_sent_ledger")
