"""Delivery from the outbox: frozen plans, idempotency keys, retries, leases, the ledger."""

from __future__ import annotations

import copy
import threading
import time
from datetime import timedelta
from email.message import EmailMessage

import pytest

from helpdesk_mail import Settings, process_email
from helpdesk_mail.codec import from_dict, to_dict
from helpdesk_mail.events import TicketUpdated
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import InMemoryStorage, ManualClock, Outbox, SeededRandom
from helpdesk_mail.model import Role, User
from helpdesk_mail.outbound.plan import plan_notifications
from helpdesk_mail.ports import SendError
from helpdesk_mail.records import DeliveryStatus, EventStatus
from helpdesk_mail.samples.preview import (
    sample_clock,
    sample_planned,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.settings import IncomingSettings, OutgoingSettings
from helpdesk_mail.shell.delivery import Deliverer, RetryPolicy

SETTINGS = Settings(
    incoming=IncomingSettings(
        helpdesk_addresses=("support@acme.test",), default_category="Hardware"
    ),
    outgoing=OutgoingSettings(
        from_address="support@acme.test",
        helpdesk_url="https://helpdesk.acme.test",
        secret_key="delivery-secret",
    ),
)
TESS = "tess@acme.test"
ALEX = "alex@acme.test"


def mail(n: int, sender: str = "jane@example.com") -> bytes:
    return (
        f"From: {sender}\r\nTo: support@acme.test\r\nSubject: Printer {n}\r\n"
        f"Message-ID: <{n}@example.com>\r\n\r\nIt is on fire ({n}).\r\n"
    ).encode()


class Env:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.storage = InMemoryStorage(clock=self.clock)
        self.storage.add_user(
            User(TESS, "Tess", Role.TECHNICIAN, categories=frozenset({"Hardware"}))
        )
        self.storage.add_user(User(ALEX, "Alex", Role.ADMIN))
        self.outbox = Outbox()
        self.random = SeededRandom(3)

    def receive(self, raw: bytes) -> None:
        result = process_email(raw, SETTINGS, self.storage, self.clock, random=self.random)
        self.storage.commit(result.actions, None, result.events)

    def deliverer(self, worker: str = "d1", **kwargs: object) -> Deliverer:
        return Deliverer(
            SETTINGS,
            self.storage,
            self.outbox,
            self.clock,
            self.random,
            worker=worker,
            **kwargs,  # type: ignore[arg-type]
        )

    def to(self) -> list[str]:
        return sorted(a for m in self.outbox.messages for a in _to(m))


def _to(message: EmailMessage) -> list[str]:
    return [a.addr_spec for h in ("To", "Cc") for v in message.get_all(h, ()) for a in v.addresses]


def test_a_stored_and_loaded_event_plans_exactly_the_same_emails() -> None:
    storage, clock = sample_storage(), sample_clock()
    for kind in TemplateKind:
        event = sample_planned(kind).event
        loaded = from_dict(to_dict(event))
        assert loaded == event
        assert plan_notifications(loaded, sample_settings(), storage, clock) == plan_notifications(
            event, sample_settings(), storage, clock
        )


def test_commit_to_sent_mail_through_the_outbox() -> None:
    env = Env()
    env.receive(mail(1))
    [entry] = env.storage.outbox(EventStatus.PENDING)
    report = env.deliverer().run_once()
    assert report.sent == 3 and report.failed == 0
    assert env.to() == [ALEX, "jane@example.com", TESS]
    [done] = env.storage.outbox()
    assert done.status is EventStatus.DONE and done.plan is not None and done.attempts == 1
    lines = env.storage.sent_records(entry.id)
    assert {r.status for r in lines} == {DeliveryStatus.SENT}
    assert {r.recipients[0] for r in lines} == {ALEX, "jane@example.com", TESS}
    assert all(r.message_id for r in lines)
    # nothing is sent twice
    assert env.deliverer().run_once().events == ()
    assert len(env.outbox) == 3


def test_a_temporary_failure_is_retried_with_backoff_without_resending_the_others() -> None:
    env = Env()
    env.receive(mail(1))
    env.outbox.fail_next_send = SendError("451 4.3.0 later", code=451, temporary=True)
    first = env.deliverer().run_once()
    [attempt] = first.events
    assert attempt.status is EventStatus.PENDING and len(attempt.failed) == 1
    assert len(env.outbox) == 2
    [entry] = env.storage.outbox()
    assert entry.next_attempt_at == env.clock.now() + timedelta(minutes=1)
    assert env.deliverer().run_once().events == ()  # not due yet
    env.clock.advance(minutes=1)
    second = env.deliverer().run_once()
    assert second.sent == 1 and len(env.outbox) == 3
    assert sorted(env.to()) == [ALEX, "jane@example.com", TESS]
    assert env.storage.outbox()[0].status is EventStatus.DONE


def test_an_unknown_failure_is_retried_and_given_up_after_max_age() -> None:
    env = Env()
    env.receive(mail(1))

    class Down(Outbox):
        def send(self, message: EmailMessage) -> None:
            raise ConnectionRefusedError("connection refused")

    env.outbox = Down()
    policy = RetryPolicy(max_age=timedelta(hours=3))
    delays = []
    for _ in range(20):
        report = env.deliverer(retry=policy).run_once()
        entry = env.storage.outbox()[0]
        if entry.status is EventStatus.DONE:
            break
        assert report.events and report.events[0].status is EventStatus.PENDING
        assert entry.next_attempt_at is not None
        delays.append(entry.next_attempt_at - env.clock.now())
        env.clock.set(entry.next_attempt_at)
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert max(delays) == timedelta(hours=1)
    lines = env.storage.sent_records()
    assert {r.status for r in lines} == {DeliveryStatus.FAILED}
    assert all("gave up after" in (r.error or "") for r in lines)


def test_a_permanent_failure_is_recorded_and_suppresses_the_address() -> None:
    env = Env()
    env.receive(mail(1, sender="ghost@example.com"))

    class Refusing(Outbox):
        def send(self, message: EmailMessage) -> None:
            if "ghost@example.com" in _to(message):
                raise SendError("550 5.1.1 no such user", code=550, temporary=False)
            super().send(message)

    env.outbox = Refusing()
    [attempt] = env.deliverer().run_once().events
    assert attempt.status is EventStatus.DONE
    [failed] = [r for r in env.storage.sent_records() if r.status is DeliveryStatus.FAILED]
    assert failed.recipients == ("ghost@example.com",) and failed.code == 550
    assert env.storage.is_suppressed("ghost@example.com", env.clock.now())
    assert env.deliverer().run_once().events == ()


def test_an_expired_lease_lets_another_worker_deliver() -> None:
    env = Env()
    env.receive(mail(1))
    [claimed] = env.deliverer("dead").claim()  # claims, then dies
    assert env.deliverer("d2").run_once().events == ()
    env.clock.advance(minutes=5)
    [report] = env.deliverer("d2").run_once().events
    assert report.event_id == claimed.id and len(env.outbox) == 3


class Crash(BaseException):
    """The process dies."""


def test_a_crash_between_send_and_mark_resends_that_one_message_only() -> None:
    env = Env()
    env.receive(mail(1))
    real_record = env.storage.record_sent
    calls = {"n": 0}

    def dying(record: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash()
        real_record(record)  # type: ignore[arg-type]

    env.storage.record_sent = dying  # type: ignore[method-assign]
    with pytest.raises(Crash):
        env.deliverer("dead").run_once()
    del env.storage.record_sent
    assert len(env.outbox) == 2
    env.clock.advance(minutes=5)
    env.deliverer("d2").run_once()
    to = env.to()
    assert sorted(set(to)) == [ALEX, "jane@example.com", TESS]
    assert len(to) == 4  # the one message sent before the crash's mark went out twice


def test_an_event_whose_ticket_is_gone_fails_with_a_reason() -> None:
    env = Env()
    env.storage.commit([], None, [TicketUpdated(404, "jane@example.com")])
    [report] = env.deliverer().run_once().events
    assert report.status is EventStatus.FAILED
    [entry] = env.storage.outbox()
    assert entry.status is EventStatus.FAILED and "no ticket 404" in (entry.last_error or "")


def test_an_empty_template_and_the_planners_skips_are_in_the_ledger() -> None:
    env = Env()
    env.receive(mail(1))
    templates = {TemplateKind.NEW_TICKET: ("", "")}
    deliverer = Deliverer(SETTINGS, env.storage, env.outbox, env.clock, env.random, templates)
    deliverer.run_once()
    assert env.to() == ["jane@example.com"]
    skipped = {
        r.recipients[0]: r.error
        for r in env.storage.sent_records()
        if r.status is DeliveryStatus.SKIPPED
    }
    assert skipped == {ALEX: "empty_template", TESS: "empty_template"}


class _Watching(Outbox):
    """An outbox that, at each send, waits (up to `wait` s) for the event after the one
    being sent to have its plan frozen, and notes whether it had; `stop` is set at the
    first send when one is given. Event n is about ticket n here."""

    def __init__(
        self, storage: InMemoryStorage, stop: threading.Event | None = None, wait: float = 5.0
    ) -> None:
        super().__init__()
        self.storage, self.stop, self.wait = storage, stop, wait
        self.next_frozen: list[tuple[int, bool]] = []

    def _frozen(self, event_id: int) -> bool:
        return any(e.id == event_id and e.plan is not None for e in self.storage.outbox())

    def send(self, message: EmailMessage) -> None:
        ticket = int(str(message["Message-ID"]).split(".")[1])
        last = max(e.id for e in self.storage.outbox())
        if ticket < last:
            deadline = time.monotonic() + self.wait
            while not self._frozen(ticket + 1) and time.monotonic() < deadline:
                time.sleep(0.005)
            self.next_frozen.append((ticket, self._frozen(ticket + 1)))
        super().send(message)
        if self.stop is not None:
            self.stop.set()


def test_the_next_event_is_prepared_while_one_is_sent_and_all_are_sent_in_order() -> None:
    # rule 8: the SMTP waits of one event overlap with the rendering of the next
    env = Env()
    for n in range(1, 5):
        env.receive(mail(n, sender=f"customer{n}@example.com"))
    env.outbox = _Watching(env.storage)
    report = env.deliverer(batch=10, prepare_ahead=True).run_once()
    assert [r.status for r in report.events] == [EventStatus.DONE] * 4
    assert [r.event_id for r in report.events] == [1, 2, 3, 4]
    tickets = [int(str(m["Message-ID"]).split(".")[1]) for m in env.outbox.messages]
    assert tickets == sorted(tickets) and set(tickets) == {1, 2, 3, 4}  # one event after another
    assert env.outbox.next_frozen and all(frozen for _, frozen in env.outbox.next_frozen)
    # without prepare_ahead (the default), the next event is planned only at its turn
    env2 = Env()
    for n in range(1, 3):
        env2.receive(mail(n, sender=f"customer{n}@example.com"))
    env2.outbox = _Watching(env2.storage, wait=0.1)
    env2.deliverer(batch=10).run_once()
    assert env2.outbox.next_frozen and not any(f for _, f in env2.outbox.next_frozen)


def test_a_stop_releases_the_events_after_the_one_at_hand_even_one_prepared_ahead() -> None:
    env = Env()
    for n in range(1, 4):
        env.receive(mail(n, sender=f"customer{n}@example.com"))
    stop = threading.Event()
    env.outbox = _Watching(env.storage, stop)
    first = env.deliverer(batch=10, stop=stop, prepare_ahead=True).run_once()
    assert [r.event_id for r in first.events] == [1]
    assert first.events[0].status is EventStatus.DONE
    pending = env.storage.outbox(EventStatus.PENDING)
    assert [e.id for e in pending] == [2, 3] and all(e.lease_owner is None for e in pending)
    assert pending[0].plan is not None  # prepared ahead, then given back
    env.outbox.stop = None
    second = env.deliverer(batch=10).run_once()  # another worker takes them at once
    assert [r.status for r in second.events] == [EventStatus.DONE] * 2
    sent = [
        r
        for e in env.storage.outbox()
        for r in env.storage.sent_records(e.id)
        if r.status is DeliveryStatus.SENT
    ]
    assert len(env.outbox.messages) == len(sent) == len({r.key for r in sent})


def test_an_event_prepared_ahead_that_cannot_be_planned_fails_and_stays_failed() -> None:
    env = Env()
    env.receive(mail(1))
    env.storage.commit([], None, [TicketUpdated(404, "jane@example.com")])
    env.receive(mail(3, sender="carol@example.com"))
    stop = threading.Event()
    reports = env.deliverer(batch=10, stop=stop, prepare_ahead=True).run_once().events
    assert [(r.event_id, r.status) for r in reports] == [
        (1, EventStatus.DONE),
        (2, EventStatus.FAILED),
        (3, EventStatus.DONE),
    ]
    assert [e.status for e in env.storage.outbox()] == [
        EventStatus.DONE,
        EventStatus.FAILED,
        EventStatus.DONE,
    ]


class _Preparing(Outbox):
    """An outbox that prepares (as `SmtpTransport` and DKIM signing do): each message is
    replaced by a copy marked prepared; one message's preparation may fail."""

    def __init__(self, fail_for: str | None = None) -> None:
        super().__init__()
        self.fail_for = fail_for
        self.prepared: list[EmailMessage] = []

    def prepare(self, message: EmailMessage) -> EmailMessage:
        if self.fail_for is not None and self.fail_for in str(message["To"]):
            raise RuntimeError("cannot prepare this one")
        ready = copy.copy(message)
        ready["X-Prepared"] = "yes"
        self.prepared.append(ready)
        return ready


def test_messages_are_prepared_by_the_transport_and_sent_as_prepared() -> None:
    env = Env()
    env.receive(mail(1))
    env.outbox = _Preparing(fail_for=TESS)
    report = env.deliverer().run_once()
    assert report.sent == 3 and report.failed == 0
    marks = {_to(m)[0]: m["X-Prepared"] for m in env.outbox.messages}
    # what prepare returned is what went out; the one it could not prepare went out as
    # rendered (preparing is only a head start)
    assert marks == {ALEX: "yes", "jane@example.com": "yes", TESS: None}
    assert all(any(p is m for m in env.outbox.messages) for p in env.outbox.prepared)
