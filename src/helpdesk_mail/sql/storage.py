"""`SqlStorage`: a complete `Storage` in SQL, for a new helpdesk and for the demo.

Each `transaction()` is one database transaction on one connection, shared by the
unit's `domain` (`SqlDomain`) and `books` (`SqlBookkeeping`): committed when the block
ends, rolled back when it raises. Connection-type failures (the database is away, busy,
locked, failing over) come out of `transaction()` as `SqlTransientError`, a
`ports.TransientStorageError`, so the poller keeps the email and tries again later.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc

from ..actions import Action, CommitOutcome
from ..commit import commit
from ..events import Event
from ..model import Comment, KBArticle, Ticket, User
from ..ports import Bookkeeping, Clock, Domain, Storage, TransientStorageError
from ..records import ReceiptKey, sent_from_state
from .books import SqlBookkeeping
from .domain import SqlDomain
from .engine import configure_engine, is_transient, make_engine
from .migrate import check_schema, upgrade

__all__ = ["DatabaseUnavailable", "SqlStorage", "SqlTransientError", "SqlUnit"]


class SqlTransientError(TransientStorageError):
    """The database could not take the transaction now (away, busy, locked, failing over);
    the driver's error is its `__cause__`."""


class DatabaseUnavailable(RuntimeError):
    """`SqlStorage.check`: the database cannot be reached or refused the connection (a
    wrong password, no such database); the driver's error is its `__cause__`."""


class SqlUnit:
    """One transaction of `SqlStorage`: the domain and the books on one connection."""

    def __init__(self, domain: SqlDomain, books: SqlBookkeeping) -> None:
        self._domain = domain
        self._books = books

    @property
    def domain(self) -> SqlDomain:
        """The helpdesk's data, inside this transaction."""
        return self._domain

    @property
    def books(self) -> SqlBookkeeping:
        """The library's records, inside this transaction."""
        return self._books

    @property
    def connection(self) -> sa.Connection:
        """The transaction's connection (for queries of your own in the same transaction)."""
        return self._books.connection


class SqlStorage:
    """Everything in one SQL database (SQLite or PostgreSQL): the domain tables and the
    library's bookkeeping, each transaction on one connection.

        storage = SqlStorage("sqlite:///helpdesk.db", migrate=True)
        with storage.transaction() as unit:
            ticket = unit.domain.ticket(12)

    `engine_or_url`: a SQLAlchemy engine or a URL (`make_engine` sets it up; a SQLite
    engine of yours is set up the same way by `configure_engine`). The database must be
    at the head revision of the migrations (`helpdesk_mail.sql.upgrade`, or
    `migrate=True` to run them here); otherwise `SchemaNotCurrent` is raised. Tickets
    and comments are dated by `clock` (the wall clock when None).
    """

    def __init__(
        self,
        engine_or_url: sa.Engine | str,
        *,
        clock: Clock | None = None,
        migrate: bool = False,
        password_hasher: Callable[[str], str] | None = None,
    ) -> None:
        self._owns_engine = not isinstance(engine_or_url, sa.Engine)
        self.engine = (
            configure_engine(engine_or_url)
            if isinstance(engine_or_url, sa.Engine)
            else make_engine(engine_or_url)
        )
        self.clock = clock
        self.password_hasher = password_hasher
        if migrate:
            upgrade(self.engine)
        self._checked = False
        # a database that is away now is checked by the first transaction
        with contextlib.suppress(TransientStorageError):
            self._check()

    def _check(self) -> None:
        try:
            with self.engine.connect() as connection:
                check_schema(connection)
        except (exc.DBAPIError, exc.TimeoutError, exc.DisconnectionError) as error:
            if is_transient(error):
                raise SqlTransientError(f"database unavailable: {error}") from error
            raise
        self._checked = True

    def check(self) -> None:
        """Connect and check the schema now (a worker does it at start-up).

        Raises `DatabaseUnavailable` when the database cannot be reached or refuses the
        connection, `SchemaNotCurrent` when its tables are not at the code's revision.
        """
        try:
            self._check()
        except SqlTransientError as error:
            raise DatabaseUnavailable(str(error)) from error.__cause__
        except (exc.DBAPIError, exc.TimeoutError, exc.DisconnectionError) as error:
            raise DatabaseUnavailable(f"database unavailable: {error}") from error

    @contextmanager
    def transaction(self) -> Iterator[SqlUnit]:
        """A new transaction: committed when the block ends, rolled back if it raises.

        Raises `SqlTransientError` (a `TransientStorageError`) when the database is away,
        busy or locked, whether at the start, inside the block or at the commit.
        """
        if not self._checked:
            self._check()
        try:
            with self.engine.begin() as connection:
                yield SqlUnit(
                    SqlDomain(connection, self.clock, self.password_hasher),
                    SqlBookkeeping(connection),
                )
        except (exc.DBAPIError, exc.TimeoutError, exc.DisconnectionError) as error:
            if is_transient(error):
                raise SqlTransientError(str(error)) from error
            raise

    def close(self) -> None:
        """Close the engine's pooled connections if this storage made the engine."""
        if self._owns_engine:
            self.engine.dispose()

    # --- shortcuts, each in a transaction of its own ---

    def commit(
        self,
        actions: Sequence[Action],
        key: ReceiptKey | None = None,
        events: Sequence[Event] = (),
        at: datetime | None = None,
    ) -> CommitOutcome:
        """Commit one email's actions, its receipt key and its events (`helpdesk_mail.commit`)
        in a transaction of its own, at `at` (now by the storage's clock by default)."""
        with self.transaction() as unit:
            when = at if at is not None else unit.domain.now()
            return commit(unit, actions, key=key, events=events, at=when)

    def prune(self, before: datetime) -> int:
        """Delete notification counts older than `before` (see `SqlBookkeeping.prune`)."""
        with self.transaction() as unit:
            return unit.books.prune(before)

    # --- setting up (tests, the demo, imports) ---

    def add_user(self, user: User, password: str = "") -> User:
        """Add or replace a user."""
        with self.transaction() as unit:
            return unit.domain.add_user(user, password)

    def add_ticket(self, ticket: Ticket, comments: Iterable[Comment] = ()) -> Ticket:
        """Add or replace a ticket (and append its comments); returns it as stored."""
        with self.transaction() as unit:
            return unit.domain.add_ticket(ticket, comments)

    def add_kb_article(self, article: KBArticle) -> KBArticle:
        """Add or replace a knowledge-base article."""
        with self.transaction() as unit:
            return unit.domain.add_kb_article(article)

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Load a JSON-like snapshot (the format of `InMemoryStorage.load_state`) in one
        transaction."""
        with self.transaction() as unit:
            unit.domain.load_state(state)
            at = self.clock.now() if self.clock is not None else datetime.now(UTC)
            for record in sent_from_state(state.get("sent", ()), at):
                unit.books.record_sent(record)


if TYPE_CHECKING:  # mypy checks that the classes keep the protocols of helpdesk_mail.ports

    def _conforms(
        storage: SqlStorage, connection: sa.Connection
    ) -> tuple[Storage, Domain, Bookkeeping]:
        return storage, SqlDomain(connection), SqlBookkeeping(connection)
