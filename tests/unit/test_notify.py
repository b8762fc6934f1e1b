"""notify(): plan, render, send, count; with the in-memory Outbox (no server).

Also the SmtpTransport checks that need no server, and the examples of docs/sending.md.
"""

from __future__ import annotations

import dataclasses
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.events import TicketClosed, TicketCreated, TicketUpdated
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import InMemoryStorage, ManualClock, Outbox, SeededRandom
from helpdesk_mail.model import Role, Ticket, User
from helpdesk_mail.ports import SendError
from helpdesk_mail.settings import (
    IncomingSettings,
    NotificationSettings,
    OutgoingSettings,
    RateLimit,
    Settings,
)
from helpdesk_mail.shell.delivery import (
    EMPTY_TEMPLATE,
    FailedNotification,
    NotifyReport,
    SentNotification,
    notify,
)
from helpdesk_mail.transports.smtp import Refusal, SendResult, SmtpSendError, SmtpTransport

ROOT = Path(__file__).resolve().parents[2]
HELPDESK = "support@acme.test"
TOM = "tom@acme.test"
TIA = "tia@acme.test"
ADA = "ada@acme.test"
JANE = "jane@example.com"
BOB = "bob@example.com"


def make_storage() -> InMemoryStorage:
    storage = InMemoryStorage()
    storage.add_user(User(ADA, name="Ada", role=Role.ADMIN))
    storage.add_user(
        User(TOM, name="Tom", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    )
    storage.add_user(
        User(TIA, name="Tia", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    )
    storage.add_user(User(JANE, name="Jane Doe"))
    storage.add_user(User(BOB, name="Bob"))
    storage.add_ticket(
        Ticket(
            id=1,
            subject="Printer on fire",
            submitter=JANE,
            category="Hardware",
            assignee=TOM,
            subscribers=(JANE, BOB),
        )
    )
    return storage


def make_settings(outgoing: dict[str, Any] | None = None, **notifications: Any) -> Settings:
    out: dict[str, Any] = {
        "from_address": HELPDESK,
        "from_name": "Acme Support",
        "helpdesk_url": "https://helpdesk.acme.test",
        "secret_key": "secret",
    }
    out.update(outgoing or {})
    return Settings(
        incoming=IncomingSettings(helpdesk_addresses=(HELPDESK,)),
        notifications=NotificationSettings(**notifications),
        outgoing=OutgoingSettings(**out),
    )


def run(
    event: Any,
    *,
    storage: InMemoryStorage | None = None,
    settings: Settings | None = None,
    transport: Any = None,
    templates: Any = None,
    clock: ManualClock | None = None,
) -> tuple[NotifyReport, InMemoryStorage, Any]:
    storage = storage or make_storage()
    transport = transport if transport is not None else Outbox()
    report = notify(
        event,
        settings or make_settings(),
        storage,
        templates,
        transport,
        clock or ManualClock(),
        SeededRandom(0),
    )
    return report, storage, transport


def counts(storage: InMemoryStorage) -> dict[str, int]:
    return {scope: len(times) for scope, times in storage.sent_log.items()}


# --- the happy path ---


def test_customer_reply_goes_to_assignee_and_subscribers_and_is_counted() -> None:
    report, storage, outbox = run(TicketUpdated(ticket_id=1, actor=JANE))
    assert report.ok and report.failed == ()
    assert sorted(report.recipients) == sorted([TOM, BOB])
    assert sorted(outbox.recipients()) == sorted([TOM, BOB])
    assert [(s.email, s.reason) for s in report.skipped] == [(JANE, "actor")]
    for sent, message in zip(report.sent, outbox.messages, strict=True):
        assert sent.template is TemplateKind.TICKET_UPDATED
        assert sent.message_id == message["Message-ID"]
        assert message["Auto-Submitted"] == "auto-generated"
    # the ticket counted once for the event, each addressee once
    assert counts(storage) == {"ticket:1": 1, f"to:{TOM}": 1, f"to:{BOB}": 1}


def test_records_use_the_clock_at_each_send() -> None:
    class TickingOutbox(Outbox):
        def __init__(self, clock: ManualClock) -> None:
            super().__init__()
            self.clock = clock

        def send(self, message: EmailMessage) -> None:
            super().send(message)
            self.clock.advance(seconds=1)

    clock = ManualClock()
    start = clock.now()
    _, storage, _ = run(
        TicketUpdated(ticket_id=1, actor=JANE), transport=TickingOutbox(clock), clock=clock
    )
    times = sorted(
        t for scope, ts in storage.sent_log.items() if scope.startswith("to:") for t in ts
    )
    assert [(t - start).total_seconds() for t in times] == [1.0, 2.0]


def test_cc_mode_sends_one_message_and_counts_everyone_once() -> None:
    report, storage, outbox = run(
        TicketClosed(ticket_id=1, actor=TOM), settings=make_settings(cc_mode=True)
    )
    assert len(outbox) == 1
    [sent] = report.sent
    assert sorted(sent.recipients) == sorted([JANE, BOB])
    assert counts(storage) == {"ticket:1": 1, f"to:{JANE}": 1, f"to:{BOB}": 1}


def test_rate_limits_read_what_notify_recorded() -> None:
    storage = make_storage()
    clock = ManualClock()
    settings = make_settings(ticket_rate_limits=(RateLimit(2, 10),))
    sent = []
    for _ in range(3):
        report, _, _ = run(
            TicketUpdated(ticket_id=1, actor=JANE), storage=storage, settings=settings, clock=clock
        )
        sent.append(len(report.sent))
    assert sent == [2, 2, 0]
    assert counts(storage)["ticket:1"] == 2


def test_no_email_when_notifications_are_off() -> None:
    report, storage, outbox = run(
        TicketUpdated(ticket_id=1, actor=JANE), settings=make_settings(enabled=False)
    )
    assert (report.sent, report.skipped, report.failed) == ((), (), ())
    assert len(outbox) == 0
    assert storage.sent_log == {}


# --- skips ---


def test_an_empty_template_skips_that_email() -> None:
    templates = {TemplateKind.TICKET_UPDATED: ("", "  ")}
    report, storage, outbox = run(TicketUpdated(ticket_id=1, actor=JANE), templates=templates)
    assert len(outbox) == 0
    assert report.sent == ()
    skipped = {(s.email, s.reason, s.template) for s in report.skipped}
    assert (TOM, EMPTY_TEMPLATE, TemplateKind.TICKET_UPDATED) in skipped
    assert (BOB, EMPTY_TEMPLATE, TemplateKind.TICKET_UPDATED) in skipped
    assert storage.sent_log == {}


def test_empty_template_for_one_kind_leaves_the_others() -> None:
    storage = make_storage()
    storage.add_ticket(Ticket(id=2, subject="New one", submitter=BOB, category="Hardware"))
    templates = {TemplateKind.TICKET_CONFIRMATION: ("", "")}
    report, _, outbox = run(
        TicketCreated(ticket_id=2, actor=BOB), storage=storage, templates=templates
    )
    assert (BOB, EMPTY_TEMPLATE) in {(s.email, s.reason) for s in report.skipped}
    assert BOB not in outbox.recipients()
    assert {TOM, TIA, ADA} <= set(outbox.recipients())


# --- failures ---


class FailingFor(Outbox):
    """An Outbox that raises the given error for messages to some addresses."""

    def __init__(self, errors: dict[str, SendError]) -> None:
        super().__init__()
        self.errors = errors

    def send(self, message: EmailMessage) -> None:
        for address, error in self.errors.items():
            if address in str(message["To"]):
                raise error
        super().send(message)


def test_a_failing_send_does_not_stop_the_others_and_is_not_counted() -> None:
    transport = FailingFor({TOM: SmtpSendError("451 4.3.0 Try again later", code=451)})
    report, storage, _ = run(TicketUpdated(ticket_id=1, actor=JANE), transport=transport)
    [failure] = report.failed
    assert failure == FailedNotification(
        TemplateKind.TICKET_UPDATED,
        (TOM,),
        "451 4.3.0 Try again later",
        code=451,
        temporary=True,
        message_id=failure.message_id,
    )
    assert failure.message_id is not None
    assert report.recipients == (BOB,)
    assert not report.ok
    # the ticket is counted by the first message that did go out
    assert counts(storage) == {"ticket:1": 1, f"to:{BOB}": 1}


def test_a_plain_send_error_has_unknown_code_and_temporariness() -> None:
    outbox = Outbox()
    outbox.fail_next_send = SendError("boom")
    report, _, _ = run(TicketUpdated(ticket_id=1, actor=JANE), transport=outbox)
    [failure] = report.failed
    assert (failure.error, failure.code, failure.temporary) == ("boom", None, None)
    assert len(report.sent) == 1


def test_a_hosts_own_transport_can_report_a_temporary_failure() -> None:
    outbox = Outbox()
    outbox.fail_next_send = SendError("queue full", code=452, temporary=True)
    report, _, _ = run(TicketUpdated(ticket_id=1, actor=JANE), transport=outbox)
    [failure] = report.failed
    assert (failure.error, failure.code, failure.temporary) == ("queue full", 452, True)


def test_a_partial_delivery_counts_as_sent_for_the_accepted_only() -> None:
    class Partial(Outbox):
        def send(self, message: EmailMessage) -> None:
            super().send(message)
            raise SmtpSendError(
                "1 recipient(s) refused",
                code=550,
                accepted=[BOB.upper()],
                refused=[Refusal(JANE, 550, "5.1.1 No such user")],
            )

    report, storage, _ = run(
        TicketClosed(ticket_id=1, actor=TOM),
        settings=make_settings(cc_mode=True),
        transport=Partial(),
    )
    [sent] = report.sent
    assert sent.recipients == (BOB,)
    assert sent.refused == (Refusal(JANE, 550, "5.1.1 No such user"),)
    assert report.failed == ()
    assert not report.ok
    assert counts(storage) == {"ticket:1": 1, f"to:{BOB}": 1}


def test_compose_errors_are_reported_for_every_planned_email() -> None:
    settings = make_settings(outgoing={"from_address": ""})
    report, storage, outbox = run(TicketUpdated(ticket_id=1, actor=JANE), settings=settings)
    assert len(outbox) == 0
    assert {r for f in report.failed for r in f.recipients} == {TOM, BOB}
    assert all("from_address" in f.error and f.temporary is False for f in report.failed)
    assert storage.sent_log == {}


def test_other_exceptions_propagate_after_counting_what_was_sent() -> None:
    class Exploding(Outbox):
        def send(self, message: EmailMessage) -> None:
            if self.messages:
                raise RuntimeError("bug")
            super().send(message)

    storage = make_storage()
    with pytest.raises(RuntimeError, match="bug"):
        run(TicketUpdated(ticket_id=1, actor=JANE), storage=storage, transport=Exploding())
    assert sum(1 for s in storage.sent_log if s.startswith("to:")) == 1


def test_an_unbound_or_unknown_ticket_propagates_before_sending() -> None:
    outbox = Outbox()
    with pytest.raises(ValueError):
        run(TicketUpdated(ticket_id=None, actor=JANE), transport=outbox)
    with pytest.raises(LookupError):
        run(TicketUpdated(ticket_id=99, actor=JANE), transport=outbox)
    assert len(outbox) == 0


def test_report_types_are_frozen() -> None:
    sent = SentNotification(TemplateKind.TICKET_UPDATED, (BOB,), "<x@y>")
    for value in (sent, NotifyReport(sent=(sent,)), Refusal(BOB, 550, "no"), SendResult((BOB,))):
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.__setattr__("x", 1)


# --- SmtpTransport checks that need no server ---


def transport_for(**outgoing: Any) -> SmtpTransport:
    # port 9 (discard) on loopback: nothing listens; these checks fail before connecting
    values: dict[str, Any] = {"from_address": HELPDESK, "smtp_host": "127.0.0.1", "smtp_port": 9}
    values.update(outgoing)
    return SmtpTransport(OutgoingSettings(**values), timeout=2)


def simple_message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("hello")
    return msg


def test_no_from_address_fails_before_connecting() -> None:
    with pytest.raises(SmtpSendError, match="from_address") as info:
        transport_for(from_address="").send(simple_message(To=JANE))
    assert info.value.temporary is False


def test_no_recipient_fails_before_connecting() -> None:
    with pytest.raises(SmtpSendError, match="no usable recipient") as info:
        transport_for().send(simple_message(Subject="nobody"))
    assert (info.value.code, info.value.temporary) == (None, False)


def test_a_missing_ca_file_is_a_configuration_error() -> None:
    with pytest.raises(SmtpSendError, match="smtp_ca_file") as info:
        transport_for(smtp_ca_file="/nonexistent/ca.pem").send(simple_message(To=JANE))
    assert info.value.temporary is False


def test_send_error_temporary_follows_the_code() -> None:
    assert SmtpSendError("x", code=421).temporary is True
    assert SmtpSendError("x", code=550).temporary is False
    assert SmtpSendError("x").temporary is False
    assert SmtpSendError("x", temporary=True).temporary is True
    assert SmtpSendError("x", accepted=["a@b.c"]).partial is True
    assert Refusal("a@b.c", 452, "full").temporary is True
    assert Refusal("a@b.c", None, "bad").temporary is False


def test_the_password_is_not_in_the_transport_repr() -> None:
    t = transport_for(smtp_username="u", smtp_password="hunter2")
    assert "hunter2" not in repr(t.settings)


# --- docs/sending.md ---

BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_sending_doc_examples_run() -> None:
    blocks = BLOCK.findall((ROOT / "docs" / "sending.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    namespace: dict[str, Any] = {"__name__": "__doc_example__"}
    for code in blocks:
        exec(compile(code, "docs/sending.md", "exec"), namespace)
    assert len(namespace["outbox"]) == 1
    assert callable(namespace["send_all"])
