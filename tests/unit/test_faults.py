"""The process dies at every step of poll -> commit -> deliver -> send -> mark, one at a time.

After a restart (new Poller and Deliverer on the same storage, mailbox and SMTP
outbox, once the dead worker's leases have expired), every email on the server
became exactly one ticket, comment or discard, every event's emails were sent, and
the only duplicates are the single message at the send/mark boundary.
"""

from __future__ import annotations

import functools
from collections import Counter
from email.message import EmailMessage
from typing import Any

import pytest

from helpdesk_mail import IncomingSettings, MailboxAccount, OutgoingSettings, Settings
from helpdesk_mail.memory import InMemoryMailbox, InMemoryStorage, ManualClock, Outbox, SeededRandom
from helpdesk_mail.model import Role, Ticket, User
from helpdesk_mail.records import DeliveryStatus, SentRecord
from helpdesk_mail.shell.delivery import Deliverer
from helpdesk_mail.shell.poller import Poller

ACCOUNT = MailboxAccount(name="support", host="mail.acme.test", batch_size=2)
SETTINGS = Settings(
    incoming=IncomingSettings(
        helpdesk_addresses=("support@acme.test",), default_category="Hardware", accounts=(ACCOUNT,)
    ),
    outgoing=OutgoingSettings(
        from_address="support@acme.test", helpdesk_url="https://hd.acme.test", secret_key="k"
    ),
)
TESS = "tess@acme.test"


def mails() -> list[bytes]:
    new = [
        f"From: c{n}@example.com\r\nTo: support@acme.test\r\nSubject: Case {n}\r\n"
        f"Message-ID: <{n}@example.com>\r\n\r\nHelp {n}\r\n".encode()
        for n in range(1, 4)
    ]
    reply = (
        b"From: jane@example.com\r\nTo: support@acme.test\r\nSubject: Re: [#100] Printer\r\n"
        b"Message-ID: <r1@example.com>\r\nIn-Reply-To: <old@example.com>\r\n\r\nStill broken\r\n"
    )
    bounce = (
        b"From: MAILER-DAEMON@example.net\r\nTo: support@acme.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@example.net>\r\n"
        b"Auto-Submitted: auto-replied\r\nContent-Type: text/plain\r\n\r\n"
        b"This is the mail system. I'm sorry to have to inform you that your message could "
        b"not be delivered.\r\n<nobody@example.org>: host said: 550 5.1.1 User unknown\r\n"
        # the message it returns: one the sent ledger knows went to nobody@example.org
        b"\r\n--- Below this line is a copy of the message.\r\n\r\n"
        b"Message-ID: <hdn.earlier@acme.test>\r\nTo: nobody@example.org\r\n"
    )
    return [*new, reply, bounce]


class Crash(BaseException):
    """The process dies (not an Exception: nothing in the library may catch it)."""


class World:
    """One helpdesk: storage, mailbox and SMTP outbox survive a crash; workers do not."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.storage = InMemoryStorage(clock=self.clock)
        self.storage.add_user(
            User(TESS, "Tess", Role.TECHNICIAN, categories=frozenset({"Hardware"}))
        )
        self.storage.add_user(User("jane@example.com", "Jane"))
        self.storage.add_ticket(
            Ticket(
                100,
                "Printer",
                "jane@example.com",
                category="Hardware",
                subscribers=("jane@example.com",),
                message_ids=("<old@example.com>",),
            )
        )
        self.storage.record_sent(
            SentRecord("0/ticket_updated/nobody", 0, "ticket_updated", ("nobody@example.org",),
                       DeliveryStatus.SENT, self.clock.now(), message_id="<hdn.earlier@acme.test>")
        )  # fmt: skip
        self.mailbox = InMemoryMailbox(batch_size=2)
        for raw in mails():
            self.mailbox.deliver(raw, account=ACCOUNT.name)
        self.smtp = Outbox()
        self.random = SeededRandom(9)
        self.steps: Counter[str] = Counter()
        self.crash_at: tuple[str, int] | None = None

    def hook(self, step: str) -> None:
        self.steps[step] += 1
        if self.crash_at == (step, self.steps[step]):
            self.crash_at = None
            raise Crash(step)

    def instrument(self) -> None:
        """Wrap every step a crash may hit (each call counts)."""
        storage_steps = (
            "transaction",
            "is_processed",
            "record_receipt",
            "apply",
            "add_events",
            "suppress",
            "save_mailbox_state",
            "lease_mailbox",
            "release_mailbox",
            "claim_events",
            "update_event",
            "sent_records",
            "record_sent",
            "record_notification",
        )
        for name in storage_steps:
            self._wrap(self.storage, name, f"storage.{name}")
        for name in ("open",):
            self._wrap(self.mailbox, name, f"mailbox.{name}")
        world = self
        original_open = self.mailbox.open

        def open_session(account: MailboxAccount) -> Any:
            session = original_open(account)
            for step in ("list_uids", "fetch", "delete", "close"):
                world._wrap(session, step, f"session.{step}")
            return session

        self.mailbox.open = open_session  # type: ignore[method-assign]
        real_send = self.smtp.send

        def send(message: EmailMessage) -> None:
            world.hook("smtp.before_send")
            real_send(message)
            world.hook("smtp.after_send")  # accepted by the server, not yet marked

        self.smtp.send = send  # type: ignore[method-assign]

    def _wrap(self, obj: Any, name: str, step: str) -> None:
        method = getattr(obj, name)

        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.hook(step)
            return method(*args, **kwargs)

        setattr(obj, name, wrapper)

    def run(self, worker: str) -> None:
        """One worker's life: poll, then deliver, until there is nothing left to do."""
        poller = Poller(
            SETTINGS, self.storage, self.mailbox, self.clock, self.random, worker=worker
        )
        deliverer = Deliverer(
            SETTINGS, self.storage, self.smtp, self.clock, self.random, worker=worker
        )
        for _ in range(10):
            poller.run_once(force=True)
            while deliverer.run_once().events:
                pass
            self.clock.advance(minutes=1)

    def recipients(self) -> Counter[tuple[str, str]]:
        """(subject, recipient) of every message the SMTP server accepted."""
        return Counter(
            (str(m["Subject"]), a.addr_spec)
            for m in self.smtp.messages
            for v in m.get_all("To", ())
            for a in v.addresses
        )


def reference() -> World:
    world = World()
    world.instrument()
    world.run("w1")
    return world


def scenarios() -> list[tuple[str, int]]:
    counts = reference().steps
    cases: list[tuple[str, int]] = []
    for step, n in sorted(counts.items()):
        cases.extend((step, k) for k in sorted({1, 2, (n + 1) // 2, n}) if k <= n)
    return cases


REFERENCE = reference()


def test_the_reference_run_does_everything_once() -> None:
    w = REFERENCE
    assert w.mailbox.messages(ACCOUNT.name) == []
    assert len(w.storage.processed) == len(mails())
    assert len(w.storage.tickets) == 4  # ticket 100 and three new ones
    assert len(w.storage.comments(100)) == 1
    assert w.storage.is_suppressed("nobody@example.org", w.clock.now())
    assert all(c == 1 for c in w.recipients().values())
    assert len(w.recipients()) >= 7
    assert {e.status.value for e in w.storage.outbox()} == {"done"}


@pytest.mark.parametrize("step,nth", scenarios())
def test_a_crash_at_any_step_loses_nothing_and_duplicates_at_most_one_sent_message(
    step: str, nth: int
) -> None:
    world = World()
    world.instrument()
    world.crash_at = (step, nth)
    with pytest.raises(Crash):
        world.run("dead")
    # messages the server accepted whose "sent" line the crash kept from being written
    marked = sum(  # event 0: the earlier notification the bounce returns
        1 for r in world.storage.sent_records() if r.status.value == "sent" and r.event_id
    )
    unmarked = len(world.smtp.messages) - marked
    assert unmarked in (0, 1)
    world.clock.advance(minutes=15)  # the dead worker's leases expire
    world.run("alive")

    # every email became exactly one ticket, comment or discard, and left the server
    assert world.mailbox.messages(ACCOUNT.name) == []
    assert len(world.storage.processed) == len(mails())
    assert sorted(t.subject for t in world.storage.tickets.values()) == sorted(
        t.subject for t in REFERENCE.storage.tickets.values()
    )
    assert [c.body_text for c in world.storage.comments(100)] == ["Still broken"]
    assert world.storage.is_suppressed("nobody@example.org", world.clock.now())
    # every event's emails were sent; a duplicate only when the crash hit between send and mark
    got, want = world.recipients(), REFERENCE.recipients()
    assert set(got) == set(want)
    extra = sum(got.values()) - sum(want.values())
    assert extra == unmarked, (got, want)
    if step == "smtp.after_send":
        assert extra == 1
    assert {e.status.value for e in world.storage.outbox()} == {"done"}
