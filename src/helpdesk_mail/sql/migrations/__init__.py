"""Alembic migrations of the SQL storage (`helpdesk_mail.sql.upgrade` runs them).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""
