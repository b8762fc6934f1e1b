"""Addresses that unsubscribed from a ticket (`Ticket.unsubscribed`): a submitter who sent
`#unsubscribe#` stays the submitter but gets no more notifications.

Revision ID: hdm_domain_0002
Revises: hdm_domain_0001
Create Date: 2026-12-06

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "hdm_domain_0002"
down_revision: str | Sequence[str] | None = "hdm_domain_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table of unsubscribed addresses."""
    op.create_table(
        "hdm_unsubscribed",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["hdm_tickets.id"],
            name=op.f("fk_hdm_unsubscribed_ticket_id_hdm_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "email", name=op.f("pk_hdm_unsubscribed")),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("hdm_unsubscribed")
