"""The Poller against a real Dovecot: end to end, faults, a 20 MB message, 1,000 messages."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Callable, Sequence

import pytest

from helpdesk_mail.events import Event, MailboxAccountDisabled, MessageTooLarge, TicketCreated
from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.inbound.result import InboundResult
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.ports import Clock, DomainReader, MailboxState, RandomSource
from helpdesk_mail.settings import (
    IncomingSettings,
    MailboxAccount,
    MailProtocol,
    Settings,
    TlsMode,
)
from helpdesk_mail.shell.poller import MessageReport, Poller
from helpdesk_mail.transports.imap import ImapTransport
from helpdesk_mail.transports.pop3 import Pop3Transport

from .conftest import MailServer

pytestmark = pytest.mark.integration

MakeMail = Callable[..., bytes]
IMAP, POP3 = MailProtocol.IMAP, MailProtocol.POP3


def transport_for(protocol: MailProtocol) -> ImapTransport | Pop3Transport:
    return ImapTransport() if protocol is IMAP else Pop3Transport()


class Helpdesk:
    """A poller on one real account, with in-memory storage, collecting what happens."""

    def __init__(
        self,
        account: MailboxAccount,
        transport: object | None = None,
        processor: object | None = None,
    ) -> None:
        self.account = account
        self.settings = Settings(
            incoming=IncomingSettings(
                helpdesk_addresses=("support@acme.test",),
                accounts=(account,),
                # a thousand customers of one domain in one poll: not a flood here
                sender_rate_limits=(),
                domain_rate_limits=(),
            )
        )
        self.storage = InMemoryStorage()
        self.clock = ManualClock()
        self.transport = transport or transport_for(account.protocol)
        self.events: list[Event] = []
        self.reports: list[MessageReport] = []
        self.processor = processor

    def poller(self, transport: object | None = None) -> Poller:
        extra = {"processor": self.processor} if self.processor else {}
        return Poller(
            self.settings,
            self.storage,
            transport or self.transport,  # type: ignore[arg-type]
            self.clock,
            SeededRandom(7),
            self.events.append,
            on_message=self.reports.append,
            **extra,  # type: ignore[arg-type]
        )

    def tickets(self) -> int:
        return len(self.storage.tickets)


@pytest.mark.parametrize("protocol", [IMAP, POP3])
def test_mail_becomes_tickets_and_leaves_the_server(
    mailbox: MailServer, make_mail: MakeMail, protocol: MailProtocol
) -> None:
    for n in range(5):
        mailbox.append(make_mail(n))
    desk = Helpdesk(mailbox.account(protocol, TlsMode.STARTTLS))
    report = desk.poller().run_once()
    acc = report.account("support")
    assert (acc.processed, acc.removed, acc.errors) == (5, 5, 0), acc
    assert desk.tickets() == 5
    assert mailbox.count() == 0
    created = [e for e in desk.events if isinstance(e, TicketCreated)]
    assert sorted(e.ticket_id for e in created) == sorted(desk.storage.tickets)


def test_processed_mail_can_be_moved_instead(mailbox: MailServer, make_mail: MakeMail) -> None:
    for n in range(3):
        mailbox.append(make_mail(n))
    desk = Helpdesk(mailbox.account(move_to="Processed"))
    assert desk.poller().run_once().processed == 3
    assert mailbox.count() == 0
    assert mailbox.count("Processed") == 3


def test_poison_goes_to_a_new_quarantine_folder(mailbox: MailServer, make_mail: MakeMail) -> None:
    def picky(
        raw: bytes,
        settings: Settings,
        storage: DomainReader,
        clock: Clock,
        *,
        random: RandomSource | None = None,
    ) -> InboundResult:
        if b"Request number 1\r\n" in raw:
            raise ValueError("cannot process this one")
        return process_email(raw, settings, storage, clock, random=random)

    for n in range(3):
        mailbox.append(make_mail(n))
    desk = Helpdesk(mailbox.account(), processor=picky)
    report = desk.poller().run_once()
    acc = report.account("support")
    assert (acc.processed, acc.failed, acc.quarantined) == (2, 1, 1)
    assert mailbox.count() == 0
    assert "Quarantine" in mailbox.folders()
    [quarantined] = mailbox.messages("Quarantine")
    [record] = desk.storage.poison_records()
    assert record.raw == quarantined
    assert "cannot process this one" in record.error


# --- faults ---


@pytest.mark.parametrize("protocol", [IMAP, POP3])
def test_server_stopped_mid_poll(
    mail_server: MailServer, make_mail: MakeMail, protocol: MailProtocol
) -> None:
    mail_server.empty()
    mail_server.drop(make_mail(n) for n in range(30))
    desk = Helpdesk(mail_server.account(protocol, batch_size=10))
    stopped: list[bool] = []

    def stop_server_once(report: MessageReport) -> None:
        if not stopped and len(desk.reports) == 5:
            stopped.append(True)
            mail_server.stop()  # Dovecot kills its sessions (shutdown_clients = yes)

    poller = desk.poller()
    poller.on_message = lambda r: (desk.reports.append(r), stop_server_once(r))
    try:
        report = poller.run_once()
        acc = report.account("support")
        assert stopped and acc.errors == 1, acc
        assert acc.removed == 0
        committed = desk.tickets()
        assert 5 <= committed <= 10  # the first batch, fetched before the stop
        # while the server is down: a connection failure, counted
        desk.clock.advance(minutes=5)
        report = poller.run_once()
        assert "cannot connect" in (report.account("support").error or "")
        assert desk.storage.mailbox_state("support").consecutive_failures == 2
    finally:
        mail_server.start()
    desk.clock.advance(minutes=5)
    report = poller.run_once()
    acc = report.account("support")
    assert acc.errors == 0, acc
    assert acc.duplicates == committed  # committed but not deleted: removed now
    assert acc.processed == 30 - committed
    assert desk.tickets() == 30  # nothing twice
    assert mail_server.count() == 0  # nothing left
    assert desk.storage.mailbox_state("support") == MailboxState(last_polled_at=desk.clock.now())


class DropBeforeDelete:
    """A transport whose connection is cut after the fetch, just before the first delete."""

    def __init__(self, inner: ImapTransport | Pop3Transport) -> None:
        self.inner = inner
        self.drops = 1

    def open(self, account: MailboxAccount) -> object:
        session = self.inner.open(account)
        original = session.delete

        def delete(uids: Sequence[str]) -> None:
            if self.drops:
                self.drops -= 1
                session.connection.sock.shutdown(socket.SHUT_RDWR)
            original(uids)

        session.delete = delete  # type: ignore[method-assign]
        return session


@pytest.mark.parametrize("protocol", [IMAP, POP3])
def test_connection_dropped_between_fetch_and_delete(
    mailbox: MailServer, make_mail: MakeMail, protocol: MailProtocol
) -> None:
    for n in range(4):
        mailbox.append(make_mail(n))
    desk = Helpdesk(mailbox.account(protocol))
    report = desk.poller(DropBeforeDelete(transport_for(protocol))).run_once()
    acc = report.account("support")
    assert acc.errors == 1 and acc.processed == 4 and acc.removed == 0, acc
    assert desk.tickets() == 4
    assert mailbox.count() == 4  # still there: nothing lost
    report = desk.poller().run_once(force=True)
    acc = report.account("support")
    assert (acc.duplicates, acc.processed, acc.errors) == (4, 0, 0)
    assert desk.tickets() == 4  # nothing twice
    assert mailbox.count() == 0


@pytest.mark.parametrize("protocol", [IMAP, POP3])
def test_wrong_password_five_times_disables(
    mail_server: MailServer, make_mail: MakeMail, protocol: MailProtocol
) -> None:
    desk = Helpdesk(mail_server.account(protocol, password="not-the-password"))
    poller = desk.poller()
    for n in range(1, 6):
        report = poller.run_once(force=True)
        assert report.account("support").errors == 1
        assert desk.storage.mailbox_state("support").consecutive_failures == n
    state = desk.storage.mailbox_state("support")
    assert state.disabled
    assert [type(e) for e in desk.events] == [MailboxAccountDisabled]
    connections = desk.transport.stats.connections  # type: ignore[attr-defined]
    report = poller.run_once(force=True)
    assert not report.account("support").polled
    assert desk.transport.stats.connections == connections  # type: ignore[attr-defined]
    poller.enable_account("support")
    assert desk.storage.mailbox_state("support") == MailboxState()


# --- size and volume ---


def big_mail(make_mail: MakeMail, megabytes: int = 20) -> bytes:
    payload = base64.encodebytes(os.urandom(megabytes * 1024 * 1024 * 3 // 4 - 4096))
    head = make_mail(1, subject="Twenty megabytes").split(b"\r\n\r\n", 1)[0]
    head = head.replace(b"Content-Type: text/plain; charset=utf-8", b"")
    return (
        head.rstrip(b"\r\n") + b"\r\nContent-Type: multipart/mixed; boundary=BIG\r\n\r\n--BIG\r\n"
        b"Content-Type: text/plain\r\n\r\nThe disk image is attached.\r\n--BIG\r\n"
        b"Content-Type: application/octet-stream; name=disk.img\r\n"
        b"Content-Disposition: attachment; filename=disk.img\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + payload.replace(b"\n", b"\r\n")
        + b"--BIG--\r\n"
    )


@pytest.mark.parametrize("protocol", [IMAP, POP3])
def test_twenty_megabyte_message(
    mailbox: MailServer, make_mail: MakeMail, protocol: MailProtocol
) -> None:
    raw = big_mail(make_mail)
    assert len(raw) >= 20 * 1000 * 1000
    mailbox.drop([raw, make_mail(2)])
    desk = Helpdesk(mailbox.account(protocol))
    report = desk.poller().run_once()
    assert report.processed == 2, report
    big = next(r for r in desk.reports if r.result and r.result.subject == "Twenty megabytes")
    assert big.result is not None
    assert len(big.result.raw) == len(raw)
    [attachment] = big.result.email.attachments
    assert attachment.filename == "disk.img" and attachment.size > 14_000_000
    assert mailbox.count() == 0


@pytest.mark.parametrize("protocol", [IMAP, POP3])
def test_a_message_over_the_accounts_size_limit_is_kept_and_its_sender_told(
    mailbox: MailServer, make_mail: MakeMail, protocol: MailProtocol
) -> None:
    small, large = make_mail(1), make_mail(2) + b"x" * 4096 + b"\r\n"
    mailbox.drop([small, large])
    desk = Helpdesk(mailbox.account(protocol, max_message_bytes=4096))
    report = desk.poller().run_once()
    acc = report.account("support")
    assert (acc.processed, acc.too_large, acc.errors) == (1, 1, 0), acc
    [told] = [e for e in desk.events if isinstance(e, MessageTooLarge)]
    assert told.size > 4096 and told.limit == 4096 and told.account == "support"
    [record] = desk.storage.poison_records()
    assert record.error.startswith("too large:")
    if protocol is IMAP:  # quarantined
        assert mailbox.count() == 0 and mailbox.count("Quarantine") == 1
    else:  # left on the server, and skipped by the next poll
        assert mailbox.count() == 1
        again = desk.poller().run_once(force=True).account("support")
        assert (again.skipped, again.too_large) == (1, 0)
    assert [e for e in desk.storage.outbox() if isinstance(e.event, MessageTooLarge)]


@pytest.mark.parametrize("protocol", [IMAP, POP3])
def test_one_thousand_messages(
    mailbox: MailServer, make_mail: MakeMail, protocol: MailProtocol
) -> None:
    mailbox.drop(make_mail(n) for n in range(1000))
    desk = Helpdesk(mailbox.account(protocol, batch_size=50))
    started = time.perf_counter()
    report = desk.poller().run_once()
    elapsed = time.perf_counter() - started
    acc = report.account("support")
    assert (acc.processed, acc.removed, acc.errors) == (1000, 1000, 0), acc
    assert desk.tickets() == 1000
    assert mailbox.count() == 0
    stats = desk.transport.stats  # type: ignore[attr-defined]
    assert stats.connections == 1
    assert stats.round_trips / 1000 <= 0.1, stats
    print(f"{protocol.value}: 1000 messages in {elapsed:.2f} s, {stats}")
