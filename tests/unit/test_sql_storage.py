"""The SQL storage on SQLite: the storage conformance kit, and what is SQL's own."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlalchemy")

from pathlib import Path

from helpdesk_mail.ports import Storage
from helpdesk_mail.sql import SqlStorage, make_engine, upgrade
from helpdesk_mail.testing import StorageContract


def _fast_hash(password: str) -> str:
    return f"plain${password}" if password else ""


class TestSqliteStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.path = tmp_path / "helpdesk.db"

    def make_storage(self) -> Storage:
        engine = make_engine(f"sqlite:///{self.path}")
        upgrade(engine)
        return SqlStorage(engine)

    def second_handle(self, storage: Storage) -> Storage:
        assert isinstance(storage, SqlStorage)
        return SqlStorage(make_engine(storage.engine.url))
