"""The domain of a helpdesk without tables of its own: users, tickets, subscribers,
Message-IDs, comments, attachments and their bytes, KB articles.

Revision ID: hdm_domain_0001
Revises:
Create Date: 2026-03-02

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "hdm_domain_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("hdm_domain",)
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def _text(name: str, default: str | None = None, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable, server_default=default)


def upgrade() -> None:
    """Create the domain tables."""
    op.create_table(
        "hdm_users",
        _text("email"),
        _text("name"),
        _text("role"),
        _text("first_name"),
        _text("last_name"),
        _text("username"),
        _text("company"),
        _text("department"),
        _text("location"),
        _text("categories", "[]"),
        _text("password_hash"),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_hdm_users")),
    )
    op.create_index(op.f("ix_hdm_users_role"), "hdm_users", ["role"])
    op.create_table(
        "hdm_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("subject"),
        _text("submitter"),
        _text("status"),
        _text("category", nullable=True),
        _text("priority", "normal"),
        _text("assignee", nullable=True),
        _text("via", "email"),
        sa.Column("created_at", WHEN, nullable=True),
        sa.Column("due_date", WHEN, nullable=True),
        sa.Column("time_spent_minutes", sa.Integer(), nullable=False, server_default="0"),
        _text("body_text"),
        _text("body_html", nullable=True),
        _text("custom_fields", "[]"),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_tickets")),
    )
    op.create_table(
        "hdm_subscribers",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        _text("email"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["hdm_tickets.id"],
            name=op.f("fk_hdm_subscribers_ticket_id_hdm_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "email", name=op.f("pk_hdm_subscribers")),
    )
    op.create_table(
        "hdm_message_ids",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        _text("message_id"),
        sa.Column("message_id_sha256", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["hdm_tickets.id"],
            name=op.f("fk_hdm_message_ids_ticket_id_hdm_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_message_ids")),
        sa.UniqueConstraint("message_id_sha256", name=op.f("uq_hdm_message_ids_message_id_sha256")),
    )
    op.create_index(op.f("ix_hdm_message_ids_ticket_id_id"), "hdm_message_ids", ["ticket_id", "id"])
    op.create_table(
        "hdm_comments",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        _text("author"),
        _text("body_text"),
        _text("body_html", nullable=True),
        sa.Column("techs_only", sa.Boolean(), nullable=False, server_default=sa.false()),
        _text("via", "email"),
        sa.Column("created_at", WHEN, nullable=False),
        _text("full_text"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["hdm_tickets.id"],
            name=op.f("fk_hdm_comments_ticket_id_hdm_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_comments")),
    )
    op.create_index(op.f("ix_hdm_comments_ticket_id_id"), "hdm_comments", ["ticket_id", "id"])
    op.create_table(
        "hdm_attachments",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("comment_id", ID, nullable=True),
        _text("filename"),
        _text("content_type"),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("inline", sa.Boolean(), nullable=False, server_default=sa.false()),
        _text("content_id", nullable=True),
        _text("url", nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["hdm_tickets.id"],
            name=op.f("fk_hdm_attachments_ticket_id_hdm_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["hdm_comments.id"],
            name=op.f("fk_hdm_attachments_comment_id_hdm_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_attachments")),
    )
    op.create_index(
        op.f("ix_hdm_attachments_ticket_id_comment_id_id"),
        "hdm_attachments",
        ["ticket_id", "comment_id", "id"],
    )
    op.create_index(op.f("ix_hdm_attachments_comment_id"), "hdm_attachments", ["comment_id"])
    op.create_table(
        "hdm_files",
        sa.Column("attachment_id", ID, nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["hdm_attachments.id"],
            name=op.f("fk_hdm_files_attachment_id_hdm_attachments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_hdm_files")),
    )
    op.create_table(
        "hdm_kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("title"),
        _text("category", nullable=True),
        _text("url"),
        _text("body"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hdm_kb_articles")),
    )


def downgrade() -> None:
    """Drop the domain tables."""
    for table in (
        "hdm_kb_articles",
        "hdm_files",
        "hdm_attachments",
        "hdm_comments",
        "hdm_message_ids",
        "hdm_subscribers",
        "hdm_tickets",
        "hdm_users",
    ):
        op.drop_table(table)
