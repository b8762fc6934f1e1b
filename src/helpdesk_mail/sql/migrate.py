"""Schema migrations: the Alembic scripts shipped in `helpdesk_mail/sql/migrations`.

Two branches, so that a host with its own tables gets only the library's:

- `hdm_books`: the bookkeeping tables (`SqlBookkeeping`);
- `hdm_domain`: the domain tables of a helpdesk without its own (`SqlDomain`, `SqlStorage`).

`upgrade(engine_or_url)` brings both to their head; `upgrade(..., domain=False)` only the
bookkeeping. The revisions are kept in a table of their own, `hdm_alembic_version`, so a
host's own Alembic history (`alembic_version`) is never touched, and the scripts only see
`hdm_` tables. `check_schema` tells whether a database is at the head the code expects.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .engine import make_engine

__all__ = [
    "BOOKS_BRANCH",
    "DOMAIN_BRANCH",
    "MIGRATIONS",
    "VERSION_TABLE",
    "SchemaNotCurrent",
    "alembic_config",
    "check_schema",
    "current_revisions",
    "head_revisions",
    "include_name",
    "upgrade",
]

MIGRATIONS = "helpdesk_mail.sql:migrations"
"""Alembic's `script_location` of the shipped migrations."""
VERSION_TABLE = "hdm_alembic_version"
"""Where the applied revisions are kept (not the host's `alembic_version`)."""
BOOKS_BRANCH = "hdm_books"
DOMAIN_BRANCH = "hdm_domain"
PREFIX = "hdm_"


class SchemaNotCurrent(RuntimeError):
    """The database's tables are not the ones this version of the code expects."""


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's filter: only the library's `hdm_` tables (a host's own are left alone)."""
    return type_ != "table" or (name or "").startswith(PREFIX)


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    """An Alembic `Config` for the shipped migrations, on `connection` (or `url`)."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions(*, domain: bool = True) -> frozenset[str]:
    """The head revisions the code expects (only the bookkeeping's with `domain=False`)."""
    script = _script()
    if domain:
        return frozenset(script.get_heads())
    return frozenset(r.revision for r in script.get_revisions(f"{BOOKS_BRANCH}@head") if r)


def current_revisions(connection: sa.Connection) -> frozenset[str]:
    """The revisions applied to the database of `connection` (empty: none)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return frozenset(context.get_current_heads())


def check_schema(connection: sa.Connection, *, domain: bool = True) -> None:
    """Raise `SchemaNotCurrent` unless the database is at the head revision(s) (only the
    bookkeeping's with `domain=False`)."""
    current = current_revisions(connection)
    expected = head_revisions(domain=domain)
    ok = current == expected if domain else expected <= current
    if not ok:
        found = ", ".join(sorted(current)) or "no helpdesk_mail tables"
        call = "upgrade(engine_or_url)" if domain else "upgrade(engine_or_url, domain=False)"
        raise SchemaNotCurrent(
            f"the database is not at helpdesk_mail's schema (it has {found}; the code "
            f"expects {', '.join(sorted(expected))}): run helpdesk_mail.sql.{call} first"
        )


def upgrade(engine_or_url: sa.Engine | str, *, domain: bool = True) -> None:
    """Create or update the library's tables to the head revision, in one transaction.

    `domain=False` upgrades only the bookkeeping tables (for a host with its own
    ticket tables that uses `SqlBookkeeping`). Safe to run again: it does nothing when
    the database is current.
    """
    owned = not isinstance(engine_or_url, sa.Engine)
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with engine.begin() as connection:
            target = "heads" if domain else f"{BOOKS_BRANCH}@head"
            command.upgrade(alembic_config(connection), target)
    finally:
        if owned:
            engine.dispose()
