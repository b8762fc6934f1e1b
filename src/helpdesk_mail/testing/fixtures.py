"""Ready pytest fixtures for hosts' test suites (loaded automatically through `pytest11`).

    def test_reply_notifies(helpdesk_outbox, helpdesk_mailbox, helpdesk_storage):
        helpdesk_mailbox.deliver(raw_email)
        ...
        assert len(helpdesk_outbox) == 1

Every fixture is function-scoped and fresh for each test.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import pytest

from ..memory import InMemoryMailbox, InMemoryStorage, ManualClock, Outbox, SeededRandom


@pytest.fixture
def helpdesk_outbox() -> Outbox:
    """An `Outbox` send transport collecting sent messages (like Django's `mail.outbox`)."""
    return Outbox()


@pytest.fixture
def helpdesk_mailbox() -> InMemoryMailbox:
    """An in-memory mailbox to drop raw emails into (`deliver(raw, account="default")`)."""
    return InMemoryMailbox()


@pytest.fixture
def helpdesk_storage(helpdesk_clock: ManualClock) -> InMemoryStorage:
    """Empty in-memory storage (`add_user`, `add_ticket`, `load_state` to set it up).

    What its commits create is dated by the `helpdesk_clock` of the same test.
    """
    return InMemoryStorage(clock=helpdesk_clock)


@pytest.fixture
def helpdesk_clock() -> ManualClock:
    """A manual clock at 2026-01-01 09:00 UTC; `advance(minutes=5)` moves it."""
    return ManualClock()


@pytest.fixture
def helpdesk_random() -> SeededRandom:
    """Deterministic randomness (seed 0) for passwords and Message-IDs."""
    return SeededRandom(0)
