"""The project's PostgreSQL (tests/services/pgserver.sh) through SQLAlchemy Core and psycopg 3.

What the SQL storage will rely on, checked on the real server: a fresh database per
test, committed rows seen by other connections, `FOR UPDATE SKIP LOCKED` for claiming
work, and session advisory locks that are exclusive and die with their connection.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .conftest import PgServer

pytestmark = pytest.mark.integration

METADATA = sa.MetaData()
JOBS = sa.Table(
    "jobs",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(20), nullable=False, server_default="new"),
)
TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(CAST(:key AS bigint))")


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    # NullPool: closing a connection really disconnects (the advisory-lock test needs that)
    eng = sa.create_engine(pg_url, poolclass=NullPool)
    yield eng
    eng.dispose()


def _ids(conn: sa.Connection) -> list[int]:
    return list(conn.execute(sa.select(JOBS.c.id).order_by(JOBS.c.id)).scalars())


def _claim(conn: sa.Connection) -> int | None:
    """The first new job nobody else has locked, locked by `conn` until its transaction ends."""
    query = (
        sa.select(JOBS.c.id)
        .where(JOBS.c.state == "new")
        .order_by(JOBS.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return conn.execute(query).scalar_one_or_none()


def test_sqlalchemy_and_pure_python_psycopg_on_a_fresh_database(
    engine: sa.Engine, pg_server: PgServer
) -> None:
    import psycopg

    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    # the pure-Python psycopg on the system's libpq, never psycopg[binary] / psycopg[c]
    assert psycopg.pq.__impl__ == "python"
    with engine.connect() as conn:
        user, database = conn.execute(sa.text("SELECT current_user, current_database()")).one()
        version = int(conn.execute(sa.text("SHOW server_version_num")).scalar_one())
        tables = sa.inspect(conn).get_table_names()
    main = make_url(pg_server.url)
    assert user == main.username
    assert database == engine.url.database != main.database
    assert version >= 150000
    assert tables == []


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_has_a_database_of_its_own(engine: sa.Engine, run: int) -> None:
    # both runs create the same table: the second would fail if it saw the first's
    with engine.begin() as conn:
        assert sa.inspect(conn).get_table_names() == []
        METADATA.create_all(conn)
        conn.execute(sa.insert(JOBS).values(id=run))
    with engine.connect() as conn:
        assert _ids(conn) == [run]


def test_per_test_databases_are_dropped(pg_server: PgServer) -> None:
    def names() -> set[str]:
        with pg_server.connect() as conn:
            return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}

    name = pg_server.create_database()
    assert name in names()
    with sa.create_engine(pg_server.url_for(name), poolclass=NullPool).connect() as open_conn:
        pg_server.drop_database(name)  # even with a connection still open
        with pytest.raises(sa.exc.OperationalError):
            open_conn.execute(sa.text("SELECT 1"))
    assert name not in names()


def test_two_connections_see_each_others_committed_rows(engine: sa.Engine) -> None:
    METADATA.create_all(engine)
    with engine.connect() as a, engine.connect() as b:
        a.execute(sa.insert(JOBS).values(id=1))
        assert _ids(b) == []  # not committed yet
        a.commit()
        assert _ids(b) == [1]
        b.execute(sa.insert(JOBS).values(id=2))
        b.commit()
        assert _ids(a) == [1, 2]


def test_for_update_skip_locked_skips_rows_locked_by_another_connection(
    engine: sa.Engine,
) -> None:
    METADATA.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(JOBS), [{"id": 1}, {"id": 2}, {"id": 3}])
    with engine.connect() as a, engine.connect() as b:
        assert _claim(a) == 1
        assert _claim(b) == 2  # job 1 is a's: skipped, not waited for
        free = b.execute(
            sa.select(JOBS.c.id).order_by(JOBS.c.id).with_for_update(skip_locked=True)
        ).scalars()
        assert list(free) == [2, 3]  # b's own lock on 2 does not hide it from b
        # the lock on job 1 is real: taking it without SKIP LOCKED fails at once
        with pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
            b.execute(sa.select(JOBS.c.id).where(JOBS.c.id == 1).with_for_update(nowait=True))
        b.rollback()
        a.execute(sa.update(JOBS).where(JOBS.c.id == 1).values(state="done"))
        a.commit()
        assert _claim(b) == 2  # job 1 is done, job 2 free again after b's rollback
        assert _claim(a) == 3


def _wait_until_disconnected(conn: sa.Connection, backend_pid: int) -> None:
    """Wait (at most 30 s) until the server has ended the backend `backend_pid`."""
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    deadline = time.monotonic() + 30
    while conn.execute(query, {"pid": backend_pid}).scalar_one():
        conn.rollback()  # pg_stat_activity is read once per transaction
        assert time.monotonic() < deadline, f"backend {backend_pid} still there"
        time.sleep(0.01)
    conn.rollback()


def test_advisory_lock_is_exclusive_and_released_when_its_connection_closes(
    engine: sa.Engine,
) -> None:
    key = random.getrandbits(62)  # advisory locks are server-wide: a key of this test's own
    a = engine.connect()
    with engine.connect() as b:
        assert a.execute(TRY_LOCK, {"key": key}).scalar_one() is True
        a.commit()  # a session lock outlives the transaction that took it
        assert b.execute(TRY_LOCK, {"key": key}).scalar_one() is False
        assert b.execute(TRY_LOCK, {"key": key + 1}).scalar_one() is True  # other keys are free
        b.commit()
        backend = a.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        a.close()  # NullPool: the connection really closes, without unlocking first
        _wait_until_disconnected(b, backend)
        assert b.execute(TRY_LOCK, {"key": key}).scalar_one() is True
        with engine.connect() as c:
            assert c.execute(TRY_LOCK, {"key": key}).scalar_one() is False
