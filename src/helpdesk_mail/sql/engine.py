"""Engines set up for the SQL storage, and which database errors are worth a retry.

SQLite is the embedded default. `configure_engine` gives every SQLite connection:
foreign keys on, a busy timeout (a writer waits for another instead of failing at once),
WAL (readers never block the writer), and `BEGIN IMMEDIATE` for every transaction: a
transaction takes the write lock when it starts, so two processes never both read and
then deadlock upgrading to write (SQLite would fail one of them with "database is
locked" at once, without waiting). PostgreSQL engines check a pooled connection that
sat idle for `PING_IDLE_SECONDS` or more before handing it out (`ping_when_idle`): a
connection the server dropped meanwhile is replaced before use. A connection in steady
use is not pinged (SQLAlchemy's `pool_pre_ping` pings at every checkout: one round trip
more for each transaction); if the server dropped it anyway, the statement fails as a
transient error and the pool replaces its connections.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.pool import StaticPool

__all__ = [
    "PING_IDLE_SECONDS",
    "DatabaseUrlError",
    "configure_engine",
    "is_transient",
    "make_engine",
    "ping_when_idle",
]

BUSY_TIMEOUT = 30.0
"""Seconds a SQLite writer waits for another one before giving up ("database is locked")."""

PING_IDLE_SECONDS = 2.0
"""A pooled PostgreSQL connection idle this long is pinged before it is handed out."""

# PostgreSQL SQLSTATE classes and codes worth trying again: connection exceptions,
# transaction rollbacks (serialization failure, deadlock), insufficient resources,
# operator intervention (admin shutdown, statement timeout), system errors, lock timeout.
_PG_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")
_PG_TRANSIENT_CODES = ("55P03", "55006")
# SQLite primary result codes worth trying again: busy, locked, I/O error, cannot open.
_SQLITE_TRANSIENT = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
}


class DatabaseUrlError(ValueError):
    """A database URL that SQLAlchemy cannot use (malformed, or an unknown dialect)."""


def make_engine(url: str | sa.URL, busy_timeout: float = BUSY_TIMEOUT, **kwargs: Any) -> sa.Engine:
    """A SQLAlchemy engine for `url`, set up for the SQL storage (`configure_engine`).

    `sqlite:///path/helpdesk.db` (a file; `sqlite://` is a private in-memory database
    shared by the engine's one connection) or `postgresql+psycopg://user:pw@host/db`.
    `kwargs` go to `sqlalchemy.create_engine`. A URL SQLAlchemy cannot use raises
    `DatabaseUrlError`; a driver that is not installed, `ImportError`.
    """
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError as error:
        raise DatabaseUrlError(f"not a database URL: {error}") from None
    try:
        parsed.get_dialect()
    except exc.NoSuchModuleError as error:
        raise DatabaseUrlError(f"unknown database: {error}") from None
    if parsed.get_backend_name() == "sqlite":
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        kwargs["connect_args"] = connect_args
        if parsed.database in (None, "", ":memory:"):
            kwargs.setdefault("poolclass", StaticPool)
    engine = sa.create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "postgresql" and not kwargs.get("pool_pre_ping"):
        ping_when_idle(engine)
    configure_engine(engine, busy_timeout)
    return engine


def ping_when_idle(engine: sa.Engine) -> sa.Engine:
    """Ping a pooled connection at checkout when it was idle `PING_IDLE_SECONDS` or more
    (a failed ping replaces it with a fresh connection). Doing it twice changes nothing."""
    if not event.contains(engine, "checkout", _ping_if_idle):
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", _ping_if_idle)
    return engine


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    since = record.info.get("checked_in_at")
    if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
        return  # new, or in steady use
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as error:  # the server dropped it: the pool connects afresh
        raise exc.DisconnectionError(f"a pooled connection failed its ping: {error}") from error


def configure_engine(engine: sa.Engine, busy_timeout: float = BUSY_TIMEOUT) -> sa.Engine:
    """Set up a SQLite engine's connections as the storage needs them (see the module);
    other engines are left as they are. Doing it twice changes nothing."""
    if engine.dialect.name != "sqlite" or event.contains(engine, "begin", _begin_immediate):
        return engine
    timeout_ms = int(busy_timeout * 1000)

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # pysqlite's own transaction handling off: the "begin" event below says BEGIN
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _begin_immediate(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_transient(error: BaseException) -> bool:
    """Whether a database error is worth trying again later: the database is away, busy,
    locked, out of resources or failing over (not a bug, a constraint or a bad value)."""
    if isinstance(error, exc.TimeoutError | exc.DisconnectionError):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_TRANSIENT
        text = str(original).lower()
        return "locked" in text or "busy" in text or "unable to open" in text
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _PG_TRANSIENT_CLASSES or sqlstate in _PG_TRANSIENT_CODES
    # a driver error without SQLSTATE: psycopg's failed connection or a closed one
    return isinstance(error, exc.OperationalError) and error.orig is not None and sqlstate is None
