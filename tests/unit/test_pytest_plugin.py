"""The pytest plugin: its fixtures reach a host's test suite through the pytest11 entry point."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import entry_points

import pytest

from helpdesk_mail.memory import (
    EPOCH,
    InMemoryMailbox,
    InMemoryStorage,
    ManualClock,
    Outbox,
    SeededRandom,
)
from helpdesk_mail.ports import Clock, RandomSource, Storage

pytest_plugins = ["pytester"]

FIXTURES = [
    "helpdesk_outbox",
    "helpdesk_mailbox",
    "helpdesk_storage",
    "helpdesk_clock",
    "helpdesk_random",
]


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("helpdesk_mail") == "helpdesk_mail.testing.fixtures"


def test_plugin_is_loaded_in_this_session(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("helpdesk_mail")


def test_fixtures_used_directly(
    helpdesk_outbox: Outbox,
    helpdesk_mailbox: InMemoryMailbox,
    helpdesk_storage: InMemoryStorage,
    helpdesk_clock: ManualClock,
    helpdesk_random: SeededRandom,
) -> None:
    assert isinstance(helpdesk_outbox, Outbox) and len(helpdesk_outbox) == 0
    assert isinstance(helpdesk_mailbox, InMemoryMailbox)
    assert helpdesk_mailbox.messages() == []
    assert isinstance(helpdesk_storage, Storage)
    assert helpdesk_storage.tickets == {} and helpdesk_storage.users_by_email == {}
    assert isinstance(helpdesk_clock, Clock)
    assert helpdesk_clock.now() == EPOCH
    assert helpdesk_clock.advance(minutes=5) == EPOCH + timedelta(minutes=5)
    assert isinstance(helpdesk_random, RandomSource)
    assert helpdesk_random.token_bytes(16) == SeededRandom(0).token_bytes(16)


HOST_SUITE = """
from datetime import datetime, timedelta, timezone

import pytest

from helpdesk_mail.memory import SeededRandom
from helpdesk_mail.model import Ticket
from helpdesk_mail.settings import MailboxAccount

FIRST = SeededRandom(0).token_bytes(8)


def test_a_dirties_everything(
    helpdesk_outbox, helpdesk_mailbox, helpdesk_storage, helpdesk_clock, helpdesk_random
):
    from email.message import EmailMessage

    message = EmailMessage()
    message["To"] = "jane@example.com"
    helpdesk_outbox.send(message)
    helpdesk_mailbox.deliver(b"Subject: hi\\r\\n\\r\\nhello")
    helpdesk_storage.add_ticket(Ticket(1, "Printer", "jane@example.com"))
    helpdesk_clock.advance(days=3)
    assert helpdesk_random.token_bytes(8) == FIRST
    assert helpdesk_outbox.recipients() == ["jane@example.com"]


def test_b_gets_fresh_fixtures(
    helpdesk_outbox, helpdesk_mailbox, helpdesk_storage, helpdesk_clock, helpdesk_random
):
    assert len(helpdesk_outbox) == 0
    assert helpdesk_mailbox.messages() == []
    assert helpdesk_storage.ticket(1) is None
    assert helpdesk_clock.now() == datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
    assert helpdesk_random.token_bytes(8) == FIRST


def test_c_mailbox_round_trip(helpdesk_mailbox):
    uid = helpdesk_mailbox.deliver(b"raw")
    with helpdesk_mailbox.open(MailboxAccount(name="default", host="imap.test")) as session:
        assert list(session.fetch(session.list_uids())) == [(uid, b"raw")]
        session.delete([uid])
    assert helpdesk_mailbox.messages() == []
"""


def test_host_suite_gets_fresh_fixtures_without_a_conftest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_host=HOST_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    assert result.ret == 0
    output = result.stdout.str()
    for name in FIXTURES:
        assert name in output
    assert "Django's `mail.outbox`" in output
    assert "2026-01-01 09:00 UTC" in output


def test_fixtures_are_function_scoped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_scope="""
import pytest

@pytest.fixture(scope="module")
def shared(helpdesk_storage):
    return helpdesk_storage

def test_it(shared):
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ScopeMismatch*helpdesk_storage*"])


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="def test_it(helpdesk_outbox):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:helpdesk_mail", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'helpdesk_outbox' not found*"])
