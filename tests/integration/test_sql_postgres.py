"""The SQL storage on a real PostgreSQL: the storage conformance kit, the SQL storage's own
checks, and failures only a server has (a dropped connection, a server that is away)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from helpdesk_mail.actions import Discard
from helpdesk_mail.ports import Storage, TransientStorageError
from helpdesk_mail.sql import SqlStorage, SqlTransientError, make_engine, upgrade
from helpdesk_mail.sql import engine as engine_module
from helpdesk_mail.testing import StorageContract

pytest.register_assert_rewrite("unit.sql_checks")

from unit.sql_checks import T0, SqlChecks, fast_hash, ticket_action  # noqa: E402

pytestmark = pytest.mark.integration


class TestPostgresStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _database(self, pg_url: str) -> Iterator[None]:
        self.url = pg_url
        self.handles: list[SqlStorage] = []
        yield
        for handle in self.handles:
            handle.engine.dispose()

    def make_storage(self) -> Storage:
        upgrade(self.url)
        storage = SqlStorage(make_engine(self.url), password_hasher=fast_hash)
        self.handles.append(storage)
        return storage

    def second_handle(self, storage: Storage) -> Storage:
        other = SqlStorage(make_engine(self.url), password_hasher=fast_hash)
        self.handles.append(other)
        return other


class TestPostgresChecks(SqlChecks):
    @pytest.fixture(autouse=True)
    def _database(self, pg_url: str) -> None:
        self.url = pg_url

    def impatient_storage(self) -> SqlStorage:
        # the ticket's row lock is held by another transaction: give up after 200 ms
        engine = self.engine(connect_args={"options": "-c lock_timeout=200"})
        return SqlStorage(engine, password_hasher=fast_hash)

    def hold_write_lock(self, connection: sa.Connection) -> None:
        connection.execute(sa.text("LOCK TABLE hdm_receipts IN ACCESS EXCLUSIVE MODE"))

    def test_a_server_that_is_away_is_transient(self) -> None:
        url = sa.make_url(self.url).set(port=1).render_as_string(hide_password=False)
        storage = SqlStorage(url)  # the schema is checked at the first transaction
        with pytest.raises(TransientStorageError), storage.transaction():
            pass
        storage.close()

    def test_a_connection_dropped_inside_a_transaction_is_transient(self) -> None:
        storage = self.storage()
        admin = self.engine()
        with pytest.raises(SqlTransientError), storage.transaction() as unit:
            pid = unit.connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            unit.books.record_receipt(_key(), T0)
        # the pool hands out a good connection again, and nothing was recorded
        with storage.transaction() as unit:
            assert not unit.books.is_processed(_key())
        assert storage.commit([Discard("bounce")], _key(), at=T0).duplicate is False

    def _terminate_pooled_connection(self, storage: SqlStorage) -> None:
        """Ends, from another session, the server process of the storage's pooled connection."""
        with storage.transaction() as unit:
            pid = unit.connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with self.engine().connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        storage = self.storage()
        self._terminate_pooled_connection(storage)
        monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 0.0)  # idle long enough
        with storage.transaction() as unit:  # pinged at checkout, replaced: no error
            assert not unit.books.is_processed(_key())

    def test_a_connection_in_steady_use_is_not_pinged(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        storage = self.storage()
        self._terminate_pooled_connection(storage)
        monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 3600.0)
        # not pinged: the dropped connection fails the transaction, as a transient error
        with pytest.raises(SqlTransientError), storage.transaction() as unit:
            unit.books.is_processed(_key())
        with storage.transaction() as unit:  # the pool connects afresh
            assert not unit.books.is_processed(_key())

    def test_a_second_committer_of_a_key_waits_on_the_unique_index_then_sees_it(self) -> None:
        storage = self.storage()
        other = SqlStorage(self.engine(), password_hasher=fast_hash)
        admin = self.engine()
        answer: list[bool] = []
        started = threading.Event()

        def second() -> None:
            with other.transaction() as unit:
                started.set()
                answer.append(unit.books.record_receipt(_key(), T0))

        with storage.transaction() as first:
            assert first.books.record_receipt(_key(), T0)
            first.domain.apply([ticket_action()])
            worker = threading.Thread(target=second)
            worker.start()
            assert started.wait(30)
            # the second INSERT waits on the first's uncommitted index entry
            waiting = 0
            for _ in range(3000):
                with admin.connect() as look:
                    waiting = look.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND query LIKE 'INSERT INTO hdm_receipts%'"
                        )
                    ).scalar_one()
                if waiting:
                    break
                time.sleep(0.01)
            assert waiting == 1 and answer == []
        worker.join(30)
        assert answer == [False]


def _key() -> object:
    from helpdesk_mail.records import ReceiptKey

    return ReceiptKey("support", "<m9@example.com>", "ef" * 32)
