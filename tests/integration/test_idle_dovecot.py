"""IMAP IDLE against a real Dovecot: a worker with a 5-minute check interval commits new
mail within seconds, survives its IDLE connection being cut (a kick, a server restart),
renews its IDLE, and polls an account whose server does not announce IDLE (the
tests' second listener, tests/services/mailserver.sh)."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from helpdesk_mail.memory import InMemoryStorage, Outbox, SeededRandom
from helpdesk_mail.runtime import SystemClock
from helpdesk_mail.settings import (
    IncomingSettings,
    MailboxAccount,
    OutgoingSettings,
    Settings,
    TlsMode,
)
from helpdesk_mail.shell.poller import MessageReport, MessageStatus
from helpdesk_mail.shell.worker import Worker
from helpdesk_mail.transports.idle import IdleWatcher
from helpdesk_mail.transports.mailbox import MailTransport

from .conftest import MailServer

pytestmark = pytest.mark.integration

MakeMail = Callable[..., bytes]
WITHIN = 30.0
"""A generous bound for what takes about a second."""


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WITHIN) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.02)


class Running:
    """A `Worker` with an `IdleWatcher` on one real account, in a thread."""

    def __init__(
        self,
        account: MailboxAccount,
        watcher: IdleWatcher,
        poll_interval: timedelta | None = None,
    ) -> None:
        settings = Settings(
            incoming=IncomingSettings(
                helpdesk_addresses=("support@acme.test",),
                accounts=(account,),
                check_interval_minutes=5,
            ),
            outgoing=OutgoingSettings(
                from_address="support@acme.test",
                helpdesk_url="https://helpdesk.acme.test",
                secret_key="idle-integration-key",
            ),
        )
        self.storage = InMemoryStorage()
        self.watcher = watcher
        self.committed: list[MessageReport] = []
        self.worker = Worker(
            settings,
            self.storage,
            MailTransport(),
            Outbox(),
            SystemClock(),
            SeededRandom(3),
            name="idle-test",
            poll_interval=poll_interval,
            idle_seconds=60.0,
            on_message=self._on_message,
            watcher=watcher,
        )
        self.thread = threading.Thread(target=self.worker.run, name="worker")

    def _on_message(self, report: MessageReport) -> None:
        if report.status is MessageStatus.PROCESSED:
            self.committed.append(report)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.worker.request_stop()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the worker did not stop"

    def tickets(self) -> int:
        return len(self.storage.tickets)


@pytest.fixture
def idle_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="helpdesk_mail")
    yield caplog


def test_new_mail_is_committed_within_seconds_while_idling(
    mailbox: MailServer, make_mail: MakeMail, idle_log: pytest.LogCaptureFixture
) -> None:
    watcher = IdleWatcher()
    with Running(mailbox.account(), watcher) as running:
        wait_for(lambda: watcher.idles >= 1, "the IDLE is running")
        polls = running.worker.polls
        for n in range(3):
            mailbox.append(make_mail(n))
            wait_for(lambda n=n: running.tickets() == n + 1, f"message {n} committed")  # type: ignore[misc]
        # the check interval is 5 minutes: only the IDLE wakes polled these
        assert running.worker.polls > polls
        wait_for(lambda: mailbox.count() == 0, "the mail removed from the server")
    assert watcher.connections == 1 and watcher.reconnections == 0
    assert any("support: IDLE: watching 'INBOX'" in m for m in idle_log.messages)


def kick(server: MailServer) -> None:
    state = server.env["HELPDESK_TEST_MAIL_STATE"]
    subprocess.run(
        ["doveadm", "-c", os.path.join(state, "etc", "dovecot.conf"), "kick", server.user],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.mark.parametrize("cut", ["kick", "restart"])
def test_a_connection_dropped_mid_idle_is_reestablished(
    mailbox: MailServer, make_mail: MakeMail, idle_log: pytest.LogCaptureFixture, cut: str
) -> None:
    watcher = IdleWatcher(backoff_first=0.2)
    with Running(mailbox.account(), watcher) as running:
        wait_for(lambda: watcher.idles >= 1, "the IDLE is running")
        if cut == "kick":
            kick(mailbox)
        else:  # Dovecot stopped (its sessions killed) and started again
            mailbox.stop()
            mailbox.start()
        wait_for(lambda: watcher.reconnections >= 1, "the IDLE connection re-established")
        wait_for(lambda: watcher.idles >= 2, "a new IDLE running")
        mailbox.append(make_mail(1))
        wait_for(lambda: running.tickets() == 1, "the message after the cut committed")
    lost = [m for m in idle_log.messages if "support: IDLE: connection lost" in m]
    assert lost, idle_log.messages
    assert "connecting again in" in lost[0]
    assert any("support: IDLE: connected again, polling once" in m for m in idle_log.messages)


def test_the_idle_is_renewed_and_still_announces_mail(
    mailbox: MailServer, make_mail: MakeMail
) -> None:
    watcher = IdleWatcher(renew_seconds=0.5)
    with Running(mailbox.account(), watcher) as running:
        wait_for(lambda: watcher.idles >= 4, "the IDLE renewed three times")
        mailbox.append(make_mail(1))
        wait_for(lambda: running.tickets() == 1, "the message committed")
    assert watcher.connections == 1 and watcher.reconnections == 0


def test_a_server_without_idle_is_polled(
    mailbox: MailServer, make_mail: MakeMail, idle_log: pytest.LogCaptureFixture
) -> None:
    account = mailbox.account(
        tls=TlsMode.NONE,
        host=mailbox.env["HELPDESK_TEST_NOTLS_HOST"],
        port=int(mailbox.env["HELPDESK_TEST_IMAP_NOTLS_PORT"]),
        ca_file=None,
    )
    watcher = IdleWatcher()
    mailbox.append(make_mail(1))
    with Running(account, watcher, poll_interval=timedelta(seconds=1)) as running:
        wait_for(
            lambda: any("support: not watched" in m for m in idle_log.messages),
            "the watcher gave up on the server without IDLE",
        )
        wait_for(lambda: running.tickets() == 1, "the first poll committed the message")
        mailbox.append(make_mail(2))
        wait_for(lambda: running.tickets() == 2, "a later poll committed the next one")
    line = next(m for m in idle_log.messages if "support: not watched" in m)
    assert "does not offer IDLE" in line and "polled every 1 s" in line
    assert watcher.idles == 0
