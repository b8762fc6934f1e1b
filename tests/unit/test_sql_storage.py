"""The SQL storage on SQLite: the storage conformance kit, and the SQL storage's own checks."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.register_assert_rewrite("sql_checks")

import sqlalchemy as sa  # noqa: E402 - after the importorskip
from sql_checks import SqlChecks, fast_hash  # noqa: E402

from helpdesk_mail.ports import Storage  # noqa: E402
from helpdesk_mail.sql import SqlStorage, make_engine, upgrade  # noqa: E402
from helpdesk_mail.testing import StorageContract  # noqa: E402


class TestSqliteStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _path(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'helpdesk.db'}"

    def make_storage(self) -> Storage:
        engine = make_engine(self.url)
        upgrade(engine)
        return SqlStorage(engine, password_hasher=fast_hash)

    def second_handle(self, storage: Storage) -> Storage:
        return SqlStorage(make_engine(self.url), password_hasher=fast_hash)


class TestSqliteChecks(SqlChecks):
    @pytest.fixture(autouse=True)
    def _path(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'helpdesk.db'}"

    def impatient_storage(self) -> SqlStorage:
        return SqlStorage(self.engine(busy_timeout=0.05))

    def hold_write_lock(self, connection: sa.Connection) -> None:
        # the storage's engine begins with BEGIN IMMEDIATE: the write lock is held
        connection.execute(sa.text("SELECT count(*) FROM hdm_receipts"))


class TestSqliteSetup:
    def test_wal_foreign_keys_and_busy_timeout(self, tmp_path: Path) -> None:
        engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}", busy_timeout=12.5)
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 12500
        engine.dispose()

    def test_an_in_memory_database_is_one_database(self) -> None:
        storage = SqlStorage("sqlite://", migrate=True, password_hasher=fast_hash)
        outcome = storage.commit([], events=())
        assert outcome.ticket_id is None
        with storage.transaction() as unit:
            assert unit.books.outbox() == ()
        storage.close()

    def test_the_scrypt_hash_is_django_s_format(self) -> None:
        from helpdesk_mail.sql import hash_password, verify_password

        encoded = hash_password("s3cret")
        algorithm, n, salt, r, p, _hash = encoded.split("$")
        assert (algorithm, n, r, p) == ("scrypt", "16384", "8", "1") and len(salt) == 22
        assert verify_password(encoded, "s3cret") and not verify_password(encoded, "other")
        assert hash_password("") == "" and not verify_password("", "")
        assert not verify_password("scrypt$999999999$x$8$1$abc", "s3cret")

    def test_generated_passwords_get_a_cheap_hash_chosen_ones_the_slow_one(self) -> None:
        from helpdesk_mail.actions import CreateUser
        from helpdesk_mail.model import Role, User
        from helpdesk_mail.sql import hash_generated_password, verify_password

        encoded = hash_generated_password("Zx3-generated-96-bits")
        algorithm, n, salt, r, p, _hash = encoded.split("$")
        assert (algorithm, n, r, p) == ("scrypt", "256", "8", "1") and len(salt) == 22
        assert verify_password(encoded, "Zx3-generated-96-bits")
        assert not verify_password(encoded, "other")
        storage = SqlStorage("sqlite://", migrate=True)  # the default hashers
        storage.commit([CreateUser("new@example.com", "New", "gen-pass", Role.USER)])
        storage.add_user(User("tina@acme.test", "Tina", Role.TECHNICIAN), "chosen")
        with storage.transaction() as unit:
            rows = unit.connection.exec_driver_sql("SELECT email, password_hash FROM hdm_users")
            hashes = {email: hashed for email, hashed in rows}
            assert unit.domain.check_password("new@example.com", "gen-pass")
            assert unit.domain.check_password("tina@acme.test", "chosen")
        assert hashes["new@example.com"].startswith("scrypt$256$")
        assert hashes["tina@acme.test"].startswith("scrypt$16384$")
        storage.close()

    def test_an_old_sqlite_is_refused_with_the_version_it_needs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from helpdesk_mail.sql import SqlBookkeeping

        engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
        with engine.connect() as connection:
            monkeypatch.setattr(connection.dialect, "server_version_info", (3, 31, 1))
            with pytest.raises(ValueError, match=r"SQLite 3\.35 or later"):
                SqlBookkeeping(connection)
        engine.dispose()
