"""Watching mailboxes for new mail (IMAP IDLE): the poller's wakes, the worker's watcher
threads (on in-memory backends and `InMemoryWatcher`), the IDLE response reader, and
the `idle` setting. The real IDLE against Dovecot: tests/integration/test_idle_dovecot.py."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from helpdesk_mail.memory import (
    InMemoryMailbox,
    InMemoryStorage,
    InMemoryWatcher,
    ManualClock,
    Outbox,
    SeededRandom,
)
from helpdesk_mail.ports import MailboxError
from helpdesk_mail.settings import (
    IncomingSettings,
    MailboxAccount,
    MailProtocol,
    OutgoingSettings,
    Settings,
    SettingsError,
)
from helpdesk_mail.shell.poller import MessageReport, MessageStatus, Poller
from helpdesk_mail.shell.worker import Worker
from helpdesk_mail.transports.idle import MAX_LINE, IdleReader, ResponseKind


def mail(n: int, account: str = "support") -> bytes:
    return (
        f"From: Customer {n} <customer{n}@example.com>\r\nTo: support@acme.test\r\n"
        f"Subject: {account} problem {n}\r\nMessage-ID: <{account}-{n}@example.com>\r\n"
        f"\r\nHello, this is problem {n}.\r\n"
    ).encode()


def make_settings(*accounts: MailboxAccount) -> Settings:
    return Settings(
        incoming=IncomingSettings(
            helpdesk_addresses=("support@acme.test",),
            accounts=accounts or (MailboxAccount(name="support", host="mail.acme.test"),),
            check_interval_minutes=5,
        ),
        outgoing=OutgoingSettings(
            from_address="support@acme.test",
            helpdesk_url="https://helpdesk.acme.test",
            secret_key="idle-test-key",
        ),
    )


class Env:
    def __init__(self, *accounts: MailboxAccount) -> None:
        self.settings = make_settings(*accounts)
        self.clock = ManualClock()
        self.storage = InMemoryStorage(clock=self.clock)
        self.mailbox = InMemoryMailbox()
        self.outbox = Outbox()

    def poller(self, worker: str = "w1", **kw: object) -> Poller:
        return Poller(
            self.settings,
            self.storage,
            self.mailbox,
            self.clock,
            SeededRandom(0),
            worker=worker,
            **kw,  # type: ignore[arg-type]
        )

    def worker(self, **kw: object) -> Worker:
        return Worker(
            self.settings,
            self.storage,
            self.mailbox,
            self.outbox,
            self.clock,
            SeededRandom(0),
            **kw,  # type: ignore[arg-type]
        )


# --- the poller's wakes ---


def test_a_woken_account_is_polled_before_its_interval() -> None:
    env = Env()
    poller = env.poller()
    account = env.settings.incoming.accounts[0]
    assert poller.run_once().polled == 1
    env.mailbox.deliver(mail(1), account="support")
    env.clock.advance(seconds=10)
    assert not poller.is_due(account) and poller.seconds_until_due() > 200
    assert poller.run_once().polled == 0  # the interval (5 minutes) has not passed

    poller.wake("support")
    assert poller.is_due(account) and poller.seconds_until_due() == 0
    report = poller.run_once()
    assert (report.polled, report.processed) == (1, 1)
    assert len(env.storage.tickets) == 1
    # the wake is spent, and the interval starts again from this poll
    assert not poller.is_woken("support") and not poller.is_due(account)
    env.clock.advance(minutes=5)
    assert poller.is_due(account)


def test_a_wake_during_the_accounts_poll_is_kept_for_the_next_round() -> None:
    env = Env()
    env.mailbox.deliver(mail(1), account="support")
    woken: list[MessageReport] = []

    def during(report: MessageReport) -> None:  # new mail announced mid-poll
        woken.append(report)
        poller.wake("support")

    poller = env.poller(on_message=during)
    assert poller.run_once().processed == 1 and woken
    assert poller.is_woken("support") and poller.seconds_until_due() == 0
    env.mailbox.deliver(mail(2), account="support")
    assert poller.run_once().processed == 1
    assert len(env.storage.tickets) == 2


def test_a_wake_takes_the_lease_like_any_poll() -> None:
    env = Env()
    first, second = env.poller("w1"), env.poller("w2")
    first.run_once()
    env.mailbox.deliver(mail(1), account="support")
    now = env.clock.now()
    with env.storage.transaction() as unit:  # w1 is polling it right now
        assert unit.books.lease_mailbox("support", "w1", now, now + timedelta(minutes=2))
    second.wake("support")
    report = second.run_once()
    assert report.polled == 0 and report.leased_elsewhere == 1
    assert len(env.storage.tickets) == 0 and not second.is_woken("support")
    with env.storage.transaction() as unit:
        unit.books.release_mailbox("support", "w1")
    first.wake("support")  # the lease holder was woken too: its round takes the mail
    assert first.run_once().processed == 1


def test_wakes_of_unknown_or_disabled_accounts_poll_nothing() -> None:
    env = Env(
        MailboxAccount(name="on", host="mail.acme.test"),
        MailboxAccount(name="off", host="mail.acme.test", enabled=False),
    )
    poller = env.poller()
    poller.run_once()
    poller.wake("off")
    poller.wake("nobody")
    assert poller.seconds_until_due() > 0
    assert poller.run_once().polled == 0


def test_a_stopping_poller_keeps_the_wake() -> None:
    env = Env()
    stop = threading.Event()
    poller = env.poller(stop=stop)
    poller.run_once()
    poller.wake("support")
    stop.set()
    assert poller.run_once().polled == 0
    assert poller.is_woken("support")


# --- the worker's watchers ---


def test_the_worker_polls_a_watched_account_when_new_mail_is_announced() -> None:
    env = Env()
    watcher = InMemoryWatcher()
    committed = threading.Semaphore(0)

    def on_message(report: MessageReport) -> None:
        if report.status is MessageStatus.PROCESSED:
            committed.release()

    worker = env.worker(watcher=watcher, on_message=on_message, idle_seconds=60.0)
    assert [a.name for a in worker.watched] == ["support"]
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        for n in range(3):
            env.mailbox.deliver(mail(n), account="support")
            # the clock never moves: only the announcement can make the account due
            while not watcher.announce("support"):
                assert thread.is_alive()
                worker.stop.wait(0.01)
            assert committed.acquire(timeout=30), f"message {n} was not committed"
    finally:
        worker.request_stop()
        thread.join(30)
    assert not thread.is_alive()
    assert len(env.storage.tickets) == 3 and not env.mailbox.messages("support")
    assert not watcher.watching


def test_accounts_that_cannot_be_watched_are_polled_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = Env(
        MailboxAccount(name="imap", host="mail.acme.test"),
        MailboxAccount(name="plain", host="mail.acme.test", protocol=MailProtocol.POP3),
        MailboxAccount(name="quiet", host="mail.acme.test", idle=False),
        MailboxAccount(name="old", host="mail.acme.test"),
    )
    env.mailbox.deliver(mail(1, "old"), account="old")
    watcher = InMemoryWatcher(unsupported={"old"})
    worker = env.worker(watcher=watcher, idle_seconds=60.0)
    assert [a.name for a in worker.watched] == ["imap", "old"]
    caplog.set_level(logging.INFO, logger="helpdesk_mail.shell.worker")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        for _ in range(3000):
            if "imap" in watcher.watching and any("old: not watched" in m for m in caplog.messages):
                break
            worker.stop.wait(0.01)
    finally:
        worker.request_stop()
        thread.join(30)
    assert any("old: not watched" in m and "polled every 5 min" in m for m in caplog.messages)
    assert len(env.storage.tickets) == 1  # the first round polled every account


def test_without_a_watcher_nothing_is_watched() -> None:
    assert Env().worker().watched == ()


def test_at_most_idle_per_login_accounts_of_one_login_are_watched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 200 folders of one login, each watched, took every connection the server allows
    # one user (Dovecot: mail_max_userip_connections), and no poll could connect.
    shared = [
        MailboxAccount(name=f"folder{i}", host="mail.acme.test", username="desk", folder=f"F{i}")
        for i in range(7)
    ]
    own = MailboxAccount(name="sales", host="mail.acme.test", username="sales")
    other_port = MailboxAccount(name="legacy", host="mail.acme.test", username="desk", port=1993)
    env = Env(*shared, own, other_port)
    watcher = InMemoryWatcher()
    worker = env.worker(watcher=watcher, idle_seconds=60.0, idle_per_login=5)
    assert [a.name for a in worker.watched] == [
        *(f"folder{i}" for i in range(5)),
        "sales",
        "legacy",
    ]
    caplog.set_level(logging.INFO, logger="helpdesk_mail.shell.worker")
    thread = threading.Thread(target=worker.run)
    thread.start()
    seen: set[str] = set()
    try:
        for _ in range(3000):
            seen = set(watcher.watching)
            if len(seen) == 7:
                break
            worker.stop.wait(0.01)
    finally:
        worker.request_stop()
        thread.join(30)
    assert seen == {a.name for a in worker.watched}
    skipped = [m for m in caplog.messages if "not watched: 5 accounts of desk@mail.acme.test" in m]
    assert [m.split(":")[0] for m in skipped] == ["folder5", "folder6"]
    assert Env(*shared).worker(watcher=watcher).watched == tuple(shared[:5])  # the default
    with pytest.raises(ValueError, match="idle_per_login"):
        env.worker(watcher=watcher, idle_per_login=-1)


def test_a_watcher_that_fails_leaves_its_account_to_polling(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def watch(self, account: object, on_new_mail: object, stop: object) -> None:
            raise RuntimeError("a bug")

    env = Env()
    worker = env.worker(watcher=Broken(), idle_seconds=60.0)
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(worker.run()))
    thread.start()
    for _ in range(3000):
        if any("watching failed" in m for m in caplog.messages):
            break
        worker.stop.wait(0.01)
    assert thread.is_alive(), "a failing watcher stopped the worker"
    worker.request_stop()
    thread.join(30)
    assert done == [0]


# --- the IDLE response reader ---


def kinds(reader: IdleReader, data: bytes) -> list[ResponseKind]:
    return [r.kind for r in reader.feed(data)]


def test_reader_sees_the_continuation_new_mail_and_the_tagged_end() -> None:
    reader = IdleReader(b"A1", exists=2)
    assert kinds(reader, b"+ idling\r\n") == [ResponseKind.CONTINUE]
    assert kinds(reader, b"* OK Still here\r\n* 3 EXISTS\r\n* 1 RECENT\r\n") == [
        ResponseKind.OTHER,
        ResponseKind.NEW_MAIL,
        ResponseKind.OTHER,
    ]
    # our own deletion: an EXPUNGE lowers the count, the EXISTS after it is no news
    assert kinds(reader, b"* 1 EXPUNGE\r\n* 2 EXISTS\r\n") == [ResponseKind.OTHER] * 2
    assert kinds(reader, b"* 3 exists\r\n") == [ResponseKind.NEW_MAIL]
    done = reader.feed(b"A2 OK not ours\r\nA1 OK Idle completed (0.001 + 1.2 secs).\r\n")
    assert [r.kind for r in done] == [ResponseKind.OTHER, ResponseKind.DONE]
    assert done[1].ok and done[1].text.startswith("Idle completed")


def test_reader_takes_bytes_in_any_pieces_and_skips_literals() -> None:
    reader = IdleReader(b"T", exists=None)
    data = b"* 1 FETCH (X {7}\r\n* 9 EXI)\r\n* 5 EXI" + b"STS\r\n* BYE going\r\nT NO [x] y\r\n"
    found = [r for i in range(len(data)) for r in reader.feed(data[i : i + 1])]
    assert [r.kind for r in found] == [
        ResponseKind.OTHER,  # the FETCH line (its literal skipped)
        ResponseKind.OTHER,  # the rest of the FETCH after the literal
        ResponseKind.NEW_MAIL,
        ResponseKind.BYE,
        ResponseKind.DONE,
    ]
    assert found[3].text == "going" and not found[4].ok


def test_reader_refuses_an_endless_line() -> None:
    reader = IdleReader(b"T")
    reader.feed(b"* " + b"x" * (MAX_LINE - 10))
    with pytest.raises(MailboxError):
        reader.feed(b"y" * 20)
    with pytest.raises(MailboxError):
        IdleReader(b"T").feed(b"z" * (MAX_LINE + 5) + b"\r\n")


# --- the setting ---


def test_idle_is_on_for_imap_and_refused_for_pop3() -> None:
    assert MailboxAccount(name="a", host="h").watches
    assert not MailboxAccount(name="a", host="h", idle=False).watches
    assert not MailboxAccount(name="a", host="h", protocol=MailProtocol.POP3).watches
    assert not MailboxAccount(name="a", host="h", protocol=MailProtocol.POP3, idle=False).watches
    with pytest.raises(SettingsError, match="idle: True is not valid: IMAP only"):
        MailboxAccount(name="a", host="h", protocol=MailProtocol.POP3, idle=True)
    with pytest.raises(SettingsError, match="idle"):
        MailboxAccount(name="a", host="h", idle="yes")  # type: ignore[arg-type]
