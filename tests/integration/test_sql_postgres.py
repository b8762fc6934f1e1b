"""The SQL storage on a real PostgreSQL: the storage conformance kit, and what is SQL's own."""

from __future__ import annotations

import pytest

from helpdesk_mail.ports import Storage
from helpdesk_mail.sql import SqlStorage, make_engine, upgrade
from helpdesk_mail.testing import StorageContract

pytestmark = pytest.mark.integration


class TestPostgresStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _database(self, pg_url: str) -> None:
        self.url = pg_url
        self.handles: list[SqlStorage] = []

    @pytest.fixture(autouse=True)
    def _close(self) -> object:
        yield
        for handle in self.handles:
            handle.engine.dispose()

    def make_storage(self) -> Storage:
        upgrade(self.url)
        storage = SqlStorage(make_engine(self.url))
        self.handles.append(storage)
        return storage

    def second_handle(self, storage: Storage) -> Storage:
        other = SqlStorage(make_engine(self.url))
        self.handles.append(other)
        return other
