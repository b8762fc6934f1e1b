"""The worker loop (shell/worker.py) and the stop rules of the poller and the deliverer,
on in-memory backends: no process, no server."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest

from helpdesk_mail.memory import InMemoryMailbox, InMemoryStorage, ManualClock, Outbox, SeededRandom
from helpdesk_mail.records import EventStatus
from helpdesk_mail.settings import IncomingSettings, MailboxAccount, OutgoingSettings, Settings
from helpdesk_mail.shell.delivery import Deliverer
from helpdesk_mail.shell.poller import MessageReport, MessageStatus, Poller
from helpdesk_mail.shell.worker import Worker


def mail(n: int, account: str = "support") -> bytes:
    return (
        f"From: Customer {n} <customer{n}@example.com>\r\nTo: support@acme.test\r\n"
        f"Subject: {account} problem {n}\r\nMessage-ID: <{account}-{n}@example.com>\r\n"
        f"\r\nHello, this is problem {n}.\r\n"
    ).encode()


def settings(*names: str, batch: int = 10) -> Settings:
    accounts = tuple(MailboxAccount(name=n, host="mail.acme.test", batch_size=batch) for n in names)
    return Settings(
        incoming=IncomingSettings(helpdesk_addresses=("support@acme.test",), accounts=accounts),
        outgoing=OutgoingSettings(
            from_address="support@acme.test",
            helpdesk_url="https://helpdesk.acme.test",
            secret_key="worker-test-key",
        ),
    )


class Env:
    def __init__(self, *names: str, messages: int = 0, batch: int = 10) -> None:
        names = names or ("support",)
        self.settings = settings(*names, batch=batch)
        self.clock = ManualClock()
        self.storage = InMemoryStorage(clock=self.clock)
        self.mailbox = InMemoryMailbox(batch_size=batch)
        self.outbox = Outbox()
        for name in names:
            for n in range(messages):
                self.mailbox.deliver(mail(n, name), account=name)

    def worker(self, name: str = "w1", **kw: object) -> Worker:
        return Worker(
            self.settings,
            self.storage,
            self.mailbox,
            self.outbox,
            self.clock,
            SeededRandom(0),
            name=name,
            **kw,  # type: ignore[arg-type]
        )

    def left(self, account: str = "support") -> int:
        return len(self.mailbox.messages(account))


def test_a_round_polls_commits_removes_and_delivers() -> None:
    env = Env(messages=3)
    worker = env.worker()
    report = worker.poll_round()
    assert (report.processed, report.removed, env.left()) == (3, 3, 0)
    delivered = worker.delivery_round()
    assert len(delivered.events) == 3 and delivered.sent == 3
    assert sorted(env.outbox.recipients()) == [f"customer{n}@example.com" for n in range(3)]
    assert all(e.status is EventStatus.DONE for e in env.storage.outbox())
    assert env.storage.mailbox_leases == {}


def test_run_until_stop_delivers_everything_and_returns_0() -> None:
    env = Env(messages=4)
    sent = threading.Event()

    class Watching(Outbox):
        def send(self, message: object) -> None:
            super().send(message)  # type: ignore[arg-type]
            if len(self.messages) == 4:
                sent.set()

    env.outbox = Watching()
    worker = env.worker(idle_seconds=60.0)
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(worker.run()))
    thread.start()
    # the poller's commits wake the delivery loop: no wait for idle_seconds
    assert sent.wait(30), "the notifications were not delivered"
    worker.request_stop()
    thread.join(30)
    assert not thread.is_alive() and done == [0]
    assert env.left() == 0 and len(env.storage.tickets) == 4


def test_stop_mid_batch_finishes_the_email_removes_what_was_committed_releases_the_lease(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = Env(messages=10, batch=10)
    seen: list[MessageReport] = []
    worker: Worker

    def third_stops(report: MessageReport) -> None:
        seen.append(report)
        if len(seen) == 3:
            worker.request_stop()  # as SIGTERM would, while the batch is being processed

    worker = env.worker(on_message=third_stops)
    with caplog.at_level(logging.INFO, logger="helpdesk_mail"):
        report = worker.poll_round()
    account = report.account("support")
    assert account.stopped and account.polled
    assert [r.status for r in seen] == [MessageStatus.PROCESSED] * 3
    assert (account.processed, account.removed) == (3, 3)
    assert env.left() == 7 and len(env.storage.tickets) == 3
    assert env.storage.mailbox_leases == {}
    # not a complete poll: the schedule stays as it was, the next worker polls at once
    assert env.storage.mailbox_state("support").last_polled_at is None
    assert any(
        "poll: 1 accounts polled" in r.message and "stopped" in r.message for r in caplog.records
    )
    # the next worker takes the rest, each email once
    again = env.worker("w2").poll_round()
    assert (again.processed, again.duplicates, env.left()) == (7, 0, 0)
    assert len(env.storage.tickets) == 10


def test_stop_between_accounts_leaves_the_others_alone() -> None:
    env = Env("a", "b", "c", messages=2)
    worker: Worker

    def stop_at_once(report: MessageReport) -> None:
        worker.request_stop()

    worker = env.worker(on_message=stop_at_once)
    report = worker.poll_round()
    assert [a.polled for a in report.accounts] == [True, False, False]
    assert (env.left("a"), env.left("b"), env.left("c")) == (1, 2, 2)


def test_a_stopped_deliverer_finishes_the_event_and_releases_the_others() -> None:
    env = Env(messages=5)
    env.worker().poll_round()
    stop = threading.Event()

    class StopAfterFirst(Outbox):
        def send(self, message: object) -> None:
            super().send(message)  # type: ignore[arg-type]
            stop.set()

    sender = StopAfterFirst()
    deliverer = Deliverer(
        env.settings, env.storage, sender, env.clock, SeededRandom(0), worker="d1", stop=stop
    )
    report = deliverer.run_once()
    assert len(report.events) == 1 and len(sender) == 1
    entries = env.storage.outbox()
    assert [e.status for e in entries] == [EventStatus.DONE] + [EventStatus.PENDING] * 4
    assert all(e.lease_owner is None and e.lease_until is None for e in entries)
    # released, not leased until expiry: another deliverer takes them at once
    other = Deliverer(env.settings, env.storage, Outbox(), env.clock, SeededRandom(0), worker="d2")
    assert len(other.run_once().events) == 4


def test_a_claimed_event_whose_lease_ran_out_is_left_to_its_new_owner() -> None:
    env = Env(messages=2)
    env.worker().poll_round()
    slow = Deliverer(
        env.settings, env.storage, Outbox(), env.clock, SeededRandom(0), worker="slow",
        lease=timedelta(minutes=1),
    )  # fmt: skip
    claimed = list(slow.claim())
    env.clock.advance(minutes=2)
    fast = Deliverer(env.settings, env.storage, env.outbox, env.clock, SeededRandom(0), worker="f")
    assert len(fast.run_once().events) == 2
    # the slow one, back with its stale claim, sends nothing a second time
    assert slow.run_once().events == () and len(env.outbox) == 2
    assert all(e.status is EventStatus.DONE for e in env.storage.outbox())
    assert claimed


def test_two_workers_share_the_accounts_and_the_outbox() -> None:
    names = tuple(f"acct{i}" for i in range(6))
    env = Env(*names, messages=5, batch=2)
    workers = [env.worker("w1"), env.worker("w2")]
    polled: dict[str, list[str]] = {"w1": [], "w2": []}
    barrier = threading.Barrier(2)

    def run(worker: Worker) -> None:
        barrier.wait()
        report = worker.poll_round()
        polled[worker.name] = [a.account for a in report.accounts if a.polled]
        while worker.delivery_round().events:
            pass

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(env.left(n) == 0 for n in names)
    assert len(env.storage.tickets) == 30
    assert not set(polled["w1"]) & set(polled["w2"]), "an account was polled twice"
    assert sorted(polled["w1"] + polled["w2"]) == sorted(names)
    assert len(env.outbox) == 30
    assert len({str(m["Subject"]) for m in env.outbox.messages}) == 30
    assert all(e.status is EventStatus.DONE for e in env.storage.outbox())


def test_the_schedule_is_shared_through_the_storage() -> None:
    env = Env("a", "b")
    first = env.worker("w1")
    assert first.poll_round().polled == 2
    # a second worker (another process) sees that both were just polled
    second = env.worker("w2")
    assert second.poll_round().polled == 0
    env.clock.advance(minutes=5)
    assert second.poll_round().polled == 2
    # and the first one, whose own schedule said "due", finds them polled since
    assert first.poll_round().polled == 0


def test_poll_interval_replaces_the_settings_interval() -> None:
    env = Env()
    worker = env.worker(poll_interval=timedelta(seconds=2))
    worker.poll_round()
    env.clock.advance(seconds=2)
    assert worker.poller.is_due(env.settings.incoming.accounts[0])
    assert worker.poller.seconds_until_due() == 0


def test_drain_polls_everything_and_delivers_until_nothing_is_due() -> None:
    env = Env("a", "b", messages=3)
    worker = env.worker()
    worker.deliverer.batch = 2
    report, delivered = worker.drain()
    assert (report.processed, delivered, len(env.outbox)) == (6, 6, 6)


def test_a_round_that_raises_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = Env(messages=1)
    worker = env.worker(idle_seconds=0.01)
    calls = {"n": 0}
    real = worker.deliverer.run_once

    def flaky(limit: int | None = None) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database away")
        if calls["n"] >= 3:
            worker.request_stop()
        return real(limit)

    monkeypatch.setattr(worker.deliverer, "run_once", flaky)
    monkeypatch.setattr("helpdesk_mail.shell.worker.ERROR_PAUSE", 0.01)
    with caplog.at_level(logging.ERROR, logger="helpdesk_mail"):
        assert worker.run() == 0
    assert calls["n"] >= 3
    assert any("delivery round failed" in r.message for r in caplog.records)


def test_a_loop_that_dies_stops_the_worker_with_status_1(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = Env()
    worker = env.worker(idle_seconds=0.01)

    class Fatal(BaseException):
        pass

    def die(limit: int | None = None) -> object:
        raise Fatal

    monkeypatch.setattr(worker.deliverer, "run_once", die)
    with caplog.at_level(logging.CRITICAL, logger="helpdesk_mail"):
        assert worker.run() == 1
    assert worker.stop.is_set()


def test_poller_stop_flag_is_checked_before_each_message() -> None:
    env = Env(messages=4, batch=2)
    stop = threading.Event()
    stop.set()
    poller = Poller(env.settings, env.storage, env.mailbox, env.clock, stop=stop)
    report = poller.run_once()
    assert report.processed == 0 and env.left() == 4
    assert env.storage.mailbox_leases == {}


def test_an_event_whose_lease_ran_short_is_given_back_undelivered() -> None:
    env = Env(messages=3)
    env.worker().poll_round()

    class Slow(Outbox):
        def send(self, message: object) -> None:
            super().send(message)  # type: ignore[arg-type]
            env.clock.advance(seconds=60)  # a third of the lease per email

    sender = Slow()
    deliverer = Deliverer(
        env.settings, env.storage, sender, env.clock, SeededRandom(0), worker="slow",
        lease=timedelta(minutes=3),
    )  # fmt: skip
    report = deliverer.run_once()
    assert len(report.events) == 2 and len(sender) == 2
    entries = env.storage.outbox()
    assert [e.status for e in entries] == [EventStatus.DONE] * 2 + [EventStatus.PENDING]
    assert entries[2].lease_owner is None and entries[2].attempts == 0


def test_one_smtp_connection_serves_the_rounds_while_busy_and_is_let_go_when_idle() -> None:
    env = Env(messages=6)
    done = threading.Event()

    class Connections(Outbox):
        """Counts connections as SmtpTransport makes them: at the first send in a `with`."""

        def __init__(self) -> None:
            super().__init__()
            self.depth = 0
            self.opened = 0
            self.connected = False

        def __enter__(self) -> Connections:
            self.depth += 1
            return self

        def send(self, message: object) -> None:
            if not self.connected:
                self.opened += 1
                self.connected = self.depth > 0
            super().send(message)  # type: ignore[arg-type]

        def __exit__(self, *exc: object) -> None:
            self.depth -= 1
            if self.depth == 0:
                self.connected = False
                if len(self.messages) == 6:
                    done.set()

    sender = Connections()
    env.outbox = sender
    # commits spread out: each one wakes the delivery loop for a round of its own
    worker = env.worker(idle_seconds=0.2, on_message=lambda report: time.sleep(0.05))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        assert done.wait(30), "the connection was not let go after the outbox went idle"
    finally:
        worker.request_stop()
        thread.join(30)
    assert len(sender) == 6 and sender.depth == 0
    assert sender.opened == 1  # not one per delivery round
