"""Tools for hosts' own test suites: pytest fixtures and the storage conformance kit.

- `helpdesk_mail.testing.fixtures` is a pytest plugin, loaded automatically: fresh
  in-memory backends per test (`helpdesk_storage`, `helpdesk_mailbox`, ...).
- `StorageContract` is opt-in: subclass it with your own storage to run the whole
  storage contract against it (see `helpdesk_mail.testing.contract`).
"""

from .contract import StorageContract

__all__ = ["StorageContract"]
