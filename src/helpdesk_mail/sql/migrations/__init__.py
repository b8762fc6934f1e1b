"""Alembic migrations of the SQL storage (`helpdesk_mail.sql.upgrade` runs them)."""
