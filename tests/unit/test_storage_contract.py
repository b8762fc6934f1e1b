"""The in-memory storage passes the storage conformance kit (helpdesk_mail.testing)."""

from __future__ import annotations

from helpdesk_mail.memory import InMemoryStorage
from helpdesk_mail.ports import Storage
from helpdesk_mail.testing import StorageContract


class TestInMemoryStorage(StorageContract):
    def make_storage(self) -> Storage:
        return InMemoryStorage()
