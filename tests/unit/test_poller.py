"""The poller's rules, against the in-memory mailbox and storage (no network)."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from helpdesk_mail.actions import CloseTicket, CreateTicket
from helpdesk_mail.events import Event, MailboxAccountDisabled, TicketCreated
from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.inbound.receipts import receipt_key
from helpdesk_mail.inbound.result import (
    Address,
    InboundResult,
    ParsedEmail,
    Verdict,
)
from helpdesk_mail.memory import InMemoryMailbox, InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.model import Ticket, User
from helpdesk_mail.ports import (
    Clock,
    DomainReader,
    MailboxError,
    MailboxState,
    RandomSource,
    ReceiptKey,
)
from helpdesk_mail.settings import (
    IncomingSettings,
    MailboxAccount,
    MailProtocol,
    Settings,
)
from helpdesk_mail.shell.poller import MessageReport, MessageStatus, Poller

ACCOUNT = "support"


def mail(n: int, subject: str | None = None, message_id: bool = True) -> bytes:
    """A small customer email number `n`."""
    lines = [
        f"From: Customer {n} <customer{n}@example.com>",
        "To: support@acme.test",
        f"Subject: {subject or f'Problem number {n}'}",
        "Date: Thu, 01 Jan 2026 09:00:00 +0000",
    ]
    if message_id:
        lines.append(f"Message-ID: <msg{n}@example.com>")
    lines += ["", f"Hello, this is problem {n}.", ""]
    return "\r\n".join(lines).encode()


def make_settings(*accounts: MailboxAccount, interval: int = 5, failures: int = 5) -> Settings:
    accounts = accounts or (MailboxAccount(name=ACCOUNT, host="mail.acme.test", batch_size=10),)
    return Settings(
        incoming=IncomingSettings(
            helpdesk_addresses=("support@acme.test",),
            accounts=accounts,
            check_interval_minutes=interval,
            max_consecutive_failures=failures,
        )
    )


def standin_process(
    raw: bytes,
    settings: Settings,
    storage: DomainReader,
    clock: Clock,
    *,
    random: RandomSource | None = None,
) -> InboundResult:
    """A tiny deterministic stand-in for `process_email`: every email opens a ticket.

    It keeps these tests about the poller only; one test below runs the real one.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    sender = str(message.get("From", "")).rsplit("<", 1)[-1].strip("> ").lower()
    subject = str(message.get("Subject", ""))
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    parsed = ParsedEmail(
        message_id=message.get("Message-ID"),
        in_reply_to=(),
        references=(),
        sender=Address(sender),
        to=(),
        cc=(),
        reply_to=(),
        subject=subject,
        date=None,
        text=text,
        html=None,
        attachments=(),
    )
    action = CreateTicket(
        subject=subject,
        submitter=sender,
        body_text=text,
        body_html=None,
        category=settings.incoming.default_category,
        subscribers=(sender,),
        attachments=(),
        message_id=parsed.message_id,
    )
    return InboundResult(
        verdict=Verdict.CREATE_TICKET,
        reason=None,
        email=parsed,
        subject=subject,
        commands=(),
        ticket_id=None,
        body_text=text,
        subscribers=(sender,),
        actions=(action,),
        events=(TicketCreated(ticket_id=None, actor=sender),),
        raw=raw,
    )


class Env:
    """A poller wired to in-memory backends, collecting events and message reports."""

    def __init__(self, settings: Settings | None = None, **kwargs: object) -> None:
        self.settings = settings or make_settings()
        self.mailbox = InMemoryMailbox(batch_size=10)
        self.storage = InMemoryStorage()
        self.clock = ManualClock()
        self.events: list[Event] = []
        self.messages: list[MessageReport] = []
        self.poller = self.new_poller(**kwargs)

    def new_poller(self, transport: object = None, **kwargs: object) -> Poller:
        kwargs.setdefault("processor", standin_process)
        return Poller(
            self.settings,
            self.storage,
            transport or self.mailbox,  # type: ignore[arg-type]
            self.clock,
            SeededRandom(1),
            self.events.append,
            on_message=self.messages.append,
            **kwargs,  # type: ignore[arg-type]
        )

    def deliver(self, *raws: bytes, account: str = ACCOUNT) -> None:
        for raw in raws:
            self.mailbox.deliver(raw, account=account)

    def inbox(self, account: str = ACCOUNT) -> list[bytes]:
        return self.mailbox.messages(account)


def failing_on(word: str, exc: Exception | None = None):  # type: ignore[no-untyped-def]
    """A processor that raises for mail whose raw bytes contain `word`."""

    def processor(
        raw: bytes,
        settings: Settings,
        storage: DomainReader,
        clock: Clock,
        *,
        random: RandomSource | None = None,
    ) -> InboundResult:
        if word.encode() in raw:
            raise exc or RuntimeError(f"cannot digest {word}")
        return standin_process(raw, settings, storage, clock, random=random)

    return processor


def test_copies_through_two_aliases_make_one_ticket() -> None:
    env = Env()
    env.deliver(mail(1), b"Delivered-To: sales@acme.test\r\nReceived: by mx\r\n" + mail(1))
    report = env.poller.run_once()
    assert (report.processed, report.duplicates) == (1, 1)
    assert env.inbox() == []


def test_without_message_id_the_hash_alone_identifies() -> None:
    env = Env()
    env.deliver(mail(1, message_id=False), mail(2, message_id=False))
    report = env.poller.run_once()
    assert report.processed == 2
    assert len(env.storage.tickets) == 2
    assert all(m.key.message_id is None for m in env.messages)


# --- the main path ---


def test_new_mail_becomes_tickets_and_leaves_the_server() -> None:
    env = Env()
    env.deliver(*(mail(n) for n in range(1, 4)))
    report = env.poller.run_once()
    acc = report.account(ACCOUNT)
    assert (acc.polled, acc.processed, acc.duplicates, acc.failed, acc.removed) == (
        True,
        3,
        0,
        0,
        3,
    )
    assert env.inbox() == []
    assert sorted(t.subject for t in env.storage.tickets.values()) == [
        "Problem number 1",
        "Problem number 2",
        "Problem number 3",
    ]
    created = [e for e in env.events if isinstance(e, TicketCreated)]
    assert sorted(e.ticket_id for e in created) == sorted(env.storage.tickets)  # bound ids
    assert all(e.ticket_id is not None for e in created)
    assert set(report.events) == set(env.events)
    assert [m.status for m in env.messages] == [MessageStatus.PROCESSED] * 3
    assert len(env.storage.processed) == 3


def test_same_message_twice_in_the_mailbox_makes_one_ticket() -> None:
    env = Env()
    env.deliver(mail(1), mail(1))
    report = env.poller.run_once()
    assert (report.processed, report.duplicates) == (1, 1)
    assert len(env.storage.tickets) == 1
    assert env.inbox() == []


def test_same_message_id_with_other_content_is_not_a_duplicate() -> None:
    env = Env()
    env.deliver(mail(1), mail(1).replace(b"problem 1.", b"problem 1, again."))
    report = env.poller.run_once()
    assert report.duplicates == 0
    assert report.processed == 2


def test_move_to_folder_instead_of_delete() -> None:
    account = MailboxAccount(name=ACCOUNT, host="mail.acme.test", move_to="Processed")
    env = Env(make_settings(account))
    env.deliver(mail(1), mail(2))
    env.poller.run_once()
    assert env.inbox() == []
    assert len(env.mailbox.messages(ACCOUNT, "Processed")) == 2


# --- nothing lost, nothing twice ---


class _Crash(BaseException):
    """The process dies: nothing after this runs, not even the session's close."""


class CrashingTransport:
    """Wraps the in-memory mailbox; the session 'crashes' at delete and is never closed."""

    def __init__(self, inner: InMemoryMailbox, crash_at: str = "delete") -> None:
        self.inner = inner
        self.crash_at = crash_at

    def open(self, account: MailboxAccount) -> _CrashingSession:
        return _CrashingSession(self.inner.open(account), self.crash_at)


class _CrashingSession:
    def __init__(self, inner: object, crash_at: str) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.can_move = inner.can_move  # type: ignore[attr-defined]
        self.stable_ids = inner.stable_ids  # type: ignore[attr-defined]

    def list_uids(self) -> Sequence[str]:
        return self.inner.list_uids()  # type: ignore[attr-defined, no-any-return]

    def fetch(self, uids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        return self.inner.fetch(uids)  # type: ignore[attr-defined, no-any-return]

    def delete(self, uids: Sequence[str]) -> None:
        if self.crash_at == "delete":
            raise _Crash
        if self.crash_at == "drop":
            raise MailboxError("connection reset by peer (injected)")
        self.inner.delete(uids)  # type: ignore[attr-defined]

    def move(self, uids: Sequence[str], folder: str) -> None:
        self.inner.move(uids, folder)  # type: ignore[attr-defined]

    def close(self) -> None:
        if self.crash_at not in ("delete",):
            self.inner.close()  # type: ignore[attr-defined]

    def __enter__(self) -> _CrashingSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not _Crash:
            self.close()


def test_crash_between_commit_and_delete_makes_no_duplicate() -> None:
    env = Env()
    env.deliver(mail(1), mail(2))
    crashing = env.new_poller(transport=CrashingTransport(env.mailbox))
    with pytest.raises(_Crash):
        crashing.run_once()
    assert len(env.storage.tickets) == 2  # committed
    assert len(env.inbox()) == 2  # but never deleted
    # the process restarts: a new poller, same storage
    env.messages.clear()
    report = env.new_poller().run_once()
    assert (report.processed, report.duplicates) == (0, 2)
    assert len(env.storage.tickets) == 2
    assert env.inbox() == []
    assert [m.status for m in env.messages] == [MessageStatus.DUPLICATE] * 2


def test_connection_dropped_before_delete_makes_no_duplicate() -> None:
    env = Env()
    env.deliver(mail(1), mail(2))
    report = env.new_poller(transport=CrashingTransport(env.mailbox, "drop")).run_once()
    acc = report.account(ACCOUNT)
    assert acc.errors == 1 and acc.processed == 2 and acc.removed == 0
    assert "connection reset" in (acc.error or "")
    assert env.storage.mailbox_state(ACCOUNT).consecutive_failures == 1
    report = env.poller.run_once(force=True)
    assert (report.processed, report.duplicates) == (0, 2)
    assert len(env.storage.tickets) == 2
    assert env.inbox() == []
    assert env.storage.mailbox_state(ACCOUNT) == MailboxState(
        last_polled_at=env.clock.now()
    )  # a success resets


def test_connection_dropped_mid_fetch_loses_nothing() -> None:
    account = MailboxAccount(name=ACCOUNT, host="mail.acme.test", batch_size=2)
    env = Env(make_settings(account))
    env.mailbox.batch_size = 2
    env.deliver(*(mail(n) for n in range(1, 6)))
    env.mailbox.drop_after_fetches = 1  # the second batch fails
    report = env.poller.run_once()
    assert report.account(ACCOUNT).errors == 1
    assert report.processed == 2
    env.mailbox.drop_after_fetches = None
    report = env.poller.run_once(force=True)
    assert report.processed == 3
    assert len(env.storage.tickets) == 5
    assert env.inbox() == []


def test_storage_failure_keeps_the_mail_and_does_not_count_as_mailbox_failure() -> None:
    env = Env()
    env.deliver(mail(1))

    def broken(key: ReceiptKey) -> bool:
        raise ConnectionError("database is down")

    env.storage.is_processed = broken  # type: ignore[method-assign]
    report = env.poller.run_once()
    assert report.account(ACCOUNT).errors == 1
    assert "database is down" in (report.account(ACCOUNT).error or "")
    assert env.storage.mailbox_state(ACCOUNT).consecutive_failures == 0
    assert len(env.inbox()) == 1
    assert report.account(ACCOUNT).deferred == 1 and env.poller.deferred == 1
    assert env.storage.poison_records() == ()  # not the mail's fault: no poison record
    del env.storage.is_processed
    # it waits for its backoff (1 minute after the first failure), then goes in
    assert env.poller.run_once(force=True).account(ACCOUNT).deferred == 1
    env.clock.advance(minutes=1)
    assert env.poller.run_once(force=True).processed == 1
    assert env.inbox() == [] and env.poller.deferred == 0


# --- poison ---


def test_poison_is_recorded_and_quarantined_on_imap() -> None:
    env = Env(processor=failing_on("problem 2"))
    env.deliver(mail(1), mail(2), mail(3))
    report = env.poller.run_once()
    acc = report.account(ACCOUNT)
    assert (acc.processed, acc.failed, acc.quarantined, acc.errors) == (2, 1, 1, 0)
    assert env.inbox() == []
    assert env.mailbox.messages(ACCOUNT, "Quarantine") == [mail(2)]
    [record] = env.storage.poison_records()
    assert record.key == receipt_key(ACCOUNT, mail(2))
    assert record.raw == mail(2) and record.account == ACCOUNT
    assert "cannot digest" in record.error and record.error.startswith("processing")
    assert env.storage.mailbox_state(ACCOUNT) == MailboxState(
        last_polled_at=env.clock.now()
    )  # not an account failure


def test_failing_commit_is_poison_too() -> None:
    env = Env()
    env.deliver(mail(1), mail(2))
    env.storage.fail_next_commit = RuntimeError("constraint violated")
    report = env.poller.run_once()
    assert (report.processed, report.failed) == (1, 1)
    [record] = env.storage.poison_records()
    assert record.error.startswith("commit: RuntimeError: constraint violated")


def test_library_error_result_is_poison() -> None:
    def erroring(
        raw: bytes,
        settings: Settings,
        storage: DomainReader,
        clock: Clock,
        *,
        random: RandomSource | None = None,
    ) -> InboundResult:
        result = standin_process(raw, settings, storage, clock, random=random)
        return replace(result, error="Traceback: boom")

    env = Env(processor=erroring)
    env.deliver(mail(1))
    report = env.poller.run_once()
    assert report.failed == 1
    assert env.storage.tickets == {}
    assert env.mailbox.messages(ACCOUNT, "Quarantine") == [mail(1)]


def test_pop3_poison_stays_is_skipped_and_replayed() -> None:
    account = MailboxAccount(name=ACCOUNT, host="mail.acme.test", protocol=MailProtocol.POP3)
    env = Env(make_settings(account), processor=failing_on("problem 2"))
    env.deliver(mail(1), mail(2), mail(3))
    report = env.poller.run_once()
    assert (report.processed, report.failed) == (2, 1)
    assert env.inbox() == [mail(2)]  # left on the server
    # later polls skip it without processing it again
    report = env.poller.run_once(force=True)
    assert report.account(ACCOUNT).skipped == 1
    assert report.failed == 0 and len(env.storage.poison_records()) == 1
    assert env.inbox() == [mail(2)]
    # fixed: replay it, then the next poll removes the copy as a duplicate
    [record] = env.poller.pending_poison()
    fixed = env.new_poller()
    result = fixed.replay(record)
    assert result.status is MessageStatus.PROCESSED
    assert result.outcome is not None and result.outcome.ticket_id in env.storage.tickets
    assert env.poller.pending_poison() == []
    assert fixed.replay(record).status is MessageStatus.DUPLICATE
    report = fixed.run_once(force=True)
    assert report.duplicates == 1 and env.inbox() == []
    assert len(env.storage.tickets) == 3


def test_imap_poison_without_quarantine_folder_is_skipped_by_key() -> None:
    account = MailboxAccount(name=ACCOUNT, host="mail.acme.test", quarantine_folder=None)
    calls: list[bytes] = []
    inner = failing_on("problem 1")

    def counting(raw: bytes, *args: object, **kwargs: object) -> InboundResult:
        calls.append(raw)
        return inner(raw, *args, **kwargs)  # type: ignore[no-any-return]

    env = Env(make_settings(account), processor=counting)
    env.deliver(mail(1))
    assert env.poller.run_once().failed == 1
    report = env.poller.run_once(force=True)
    assert report.account(ACCOUNT).skipped == 1
    assert len(calls) == 1
    assert env.inbox() == [mail(1)]


def test_poison_never_blocks_the_mailbox() -> None:
    env = Env(processor=failing_on("BAD"))
    env.deliver(*(mail(n, subject="BAD" if n % 3 == 0 else None) for n in range(1, 31)))
    report = env.poller.run_once()
    assert (report.processed, report.failed) == (20, 10)
    assert env.inbox() == []


# --- account health ---


def test_five_failures_in_a_row_disable_the_account() -> None:
    env = Env()
    env.deliver(mail(1))
    env.mailbox.fail_connect = [env.mailbox.auth_failure() for _ in range(6)]
    for n in range(1, 5):
        report = env.poller.run_once(force=True)
        acc = report.account(ACCOUNT)
        assert acc.errors == 1 and not acc.disabled
        assert env.storage.mailbox_state(ACCOUNT).consecutive_failures == n
    report = env.poller.run_once(force=True)
    assert report.account(ACCOUNT).disabled
    state = env.storage.mailbox_state(ACCOUNT)
    assert state.disabled and state.consecutive_failures == 5
    assert "Authentication failed" in (state.last_error or "")
    disabled = [e for e in env.events if isinstance(e, MailboxAccountDisabled)]
    assert disabled == [MailboxAccountDisabled(ACCOUNT, 5, state.last_error or "")]
    assert list(report.events) == disabled
    # a disabled account is not even connected to
    opened = env.mailbox.round_trips
    report = env.poller.run_once(force=True)
    assert not report.account(ACCOUNT).polled and report.account(ACCOUNT).disabled
    assert env.mailbox.round_trips == opened
    assert len(env.mailbox.fail_connect) == 1
    # the admin re-enables it: reset, polled at once, and the mail arrives
    env.mailbox.fail_connect = []
    env.poller.enable_account(ACCOUNT)
    assert env.storage.mailbox_state(ACCOUNT) == MailboxState()
    report = env.poller.run_once()
    assert report.processed == 1


def test_a_success_resets_the_count() -> None:
    env = Env()
    env.mailbox.fail_connect = [MailboxError("connection refused") for _ in range(4)]
    for _ in range(4):
        env.poller.run_once(force=True)
    assert env.storage.mailbox_state(ACCOUNT).consecutive_failures == 4
    env.poller.run_once(force=True)
    assert env.storage.mailbox_state(ACCOUNT) == MailboxState(last_polled_at=env.clock.now())
    env.mailbox.fail_connect = [MailboxError("connection refused") for _ in range(4)]
    for _ in range(4):
        env.poller.run_once(force=True)
    assert not env.storage.mailbox_state(ACCOUNT).disabled
    assert not any(isinstance(e, MailboxAccountDisabled) for e in env.events)


def test_the_limit_comes_from_the_settings() -> None:
    env = Env(make_settings(failures=2))
    env.mailbox.fail_connect = [MailboxError("timed out") for _ in range(2)]
    env.poller.run_once(force=True)
    env.poller.run_once(force=True)
    assert env.storage.mailbox_state(ACCOUNT).disabled


def test_disabled_state_in_storage_is_honoured() -> None:
    env = Env()
    env.deliver(mail(1))
    env.storage.save_mailbox_state(ACCOUNT, MailboxState(5, True, "earlier"))
    report = env.poller.run_once()
    assert not report.account(ACCOUNT).polled
    assert env.mailbox.round_trips == 0
    assert len(env.inbox()) == 1


def test_switched_off_account_is_not_polled() -> None:
    on = MailboxAccount(name="on", host="mail.acme.test")
    off = MailboxAccount(name="off", host="mail.acme.test", enabled=False)
    env = Env(make_settings(on, off))
    env.deliver(mail(1), account="on")
    env.deliver(mail(2), account="off")
    report = env.poller.run_once()
    assert report.account("on").processed == 1
    assert not report.account("off").polled
    assert env.inbox("off") == [mail(2)]


def test_one_failing_account_does_not_stop_the_others() -> None:
    a = MailboxAccount(name="a", host="mail.acme.test")
    b = MailboxAccount(name="b", host="mail.acme.test")
    env = Env(make_settings(a, b))
    env.deliver(mail(1), account="b")
    env.mailbox.fail_connect = [MailboxError("refused")]
    report = env.poller.run_once()
    assert report.account("a").errors == 1
    assert report.account("b").processed == 1
    assert report.errors == 1


def test_on_event_failure_does_not_break_the_poll() -> None:
    env = Env()

    def explode(event: Event) -> None:
        raise RuntimeError("notifier down")

    poller = env.new_poller()
    poller.on_event = explode
    env.deliver(mail(1), mail(2))
    report = poller.run_once()
    assert report.processed == 2 and env.inbox() == []


# --- scheduling ---


def test_intervals_follow_the_clock() -> None:
    fast = MailboxAccount(name="fast", host="mail.acme.test", check_interval_minutes=1)
    slow = MailboxAccount(name="slow", host="mail.acme.test")  # incoming default: 5
    env = Env(make_settings(fast, slow, interval=5))

    def polled() -> list[str]:
        return [a.account for a in env.poller.run_once().accounts if a.polled]

    assert polled() == ["fast", "slow"]
    assert polled() == []
    assert env.poller.seconds_until_due() == 60.0
    env.clock.advance(seconds=59)
    assert polled() == []
    env.clock.advance(seconds=1)
    assert polled() == ["fast"]
    env.clock.advance(minutes=3)
    assert polled() == ["fast"]
    env.clock.advance(minutes=1)
    assert polled() == ["fast", "slow"]
    assert [a.account for a in env.poller.run_once(force=True).accounts if a.polled] == [
        "fast",
        "slow",
    ]


def test_failed_polls_wait_for_the_interval_too() -> None:
    env = Env()
    env.mailbox.fail_connect = [MailboxError("refused")]
    assert env.poller.run_once().errors == 1
    assert not env.poller.run_once().account(ACCOUNT).polled
    env.clock.advance(minutes=5)
    assert env.poller.run_once().account(ACCOUNT).polled


def test_run_forever_sleeps_until_due_with_an_injected_sleep() -> None:
    fast = MailboxAccount(name="fast", host="mail.acme.test", check_interval_minutes=2)
    env = Env(make_settings(fast))
    stop = threading.Event()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        env.clock.advance(seconds=seconds)
        env.deliver(mail(len(sleeps)), account="fast")
        if len(sleeps) == 3:
            stop.set()

    env.poller.run_forever(stop, sleep=sleep)
    assert sleeps == [120.0, 120.0, 120.0]
    assert len(env.storage.tickets) == 2  # polled at 0, 2, 4 and stopped at 6 minutes
    assert env.inbox("fast") == [mail(3)]


def test_run_forever_survives_unexpected_errors() -> None:
    env = Env()
    stop = threading.Event()
    calls = 0

    def broken_state(account: str) -> MailboxState:
        nonlocal calls
        calls += 1
        if calls == 2:
            stop.set()
        raise RuntimeError("db down")

    env.storage.mailbox_state = broken_state  # type: ignore[method-assign]
    env.poller.run_forever(stop, sleep=lambda s: env.clock.advance(seconds=s))
    assert calls == 2


def test_run_forever_in_a_thread_stops_promptly() -> None:
    env = Env()
    stop = threading.Event()
    thread = threading.Thread(target=env.poller.run_forever, args=(stop,))
    thread.start()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


# --- I/O that scales ---


class RecordingTransport:
    """Records the size of every fetch the poller asks for."""

    def __init__(self, inner: InMemoryMailbox) -> None:
        self.inner = inner
        self.fetches: list[int] = []
        self.opens = 0

    def open(self, account: MailboxAccount) -> object:
        self.opens += 1
        session = self.inner.open(account)
        original = session.fetch

        def fetch(uids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
            self.fetches.append(len(uids))
            return original(uids)

        session.fetch = fetch  # type: ignore[method-assign]
        return session


def test_one_connection_per_poll_and_batched_fetches() -> None:
    account = MailboxAccount(name=ACCOUNT, host="mail.acme.test", batch_size=10)
    env = Env(make_settings(account))
    env.deliver(*(mail(n) for n in range(1, 26)))
    transport = RecordingTransport(env.mailbox)
    report = env.new_poller(transport=transport).run_once()
    assert report.processed == 25
    assert transport.opens == 1
    assert transport.fetches == [10, 10, 5]
    # open + list + 3 x (fetch + delete): far fewer round trips than messages
    assert env.mailbox.round_trips == 1 + 1 + 3 * 2


def test_default_processor_is_process_email() -> None:
    env = Env()
    poller = Poller(env.settings, env.storage, env.mailbox, env.clock, SeededRandom(1))
    assert poller._processor is process_email
    env.deliver(mail(1))
    report = poller.run_once()
    assert report.processed == 1, env.storage.poison_records()
    [ticket] = env.storage.tickets.values()
    assert ticket.subject == "Problem number 1"
    assert ticket.submitter == "customer1@example.com"


def test_clock_only_moves_when_told() -> None:
    env = Env()
    start = env.clock.now()
    env.poller.run_once()
    assert env.clock.now() == start
    assert env.poller.seconds_until_due() == timedelta(minutes=5).total_seconds()


def test_unexpected_error_ends_only_that_account() -> None:
    a = MailboxAccount(name="a", host="mail.acme.test")
    b = MailboxAccount(name="b", host="mail.acme.test")
    env = Env(make_settings(a, b))
    env.deliver(mail(1), account="a")
    env.deliver(mail(2), account="b")
    env.mailbox.fail_connect = [KeyError("bug in a transport")]
    report = env.poller.run_once()
    assert "unexpected: KeyError" in (report.account("a").error or "")
    assert env.storage.mailbox_state("a").consecutive_failures == 0
    assert report.account("b").processed == 1
    assert env.inbox("a") == [mail(1)]


def test_a_restarted_poller_keeps_each_accounts_interval() -> None:
    env = Env()
    env.poller.run_once()
    polled_at = env.clock.now()
    assert env.storage.mailbox_state(ACCOUNT).last_polled_at == polled_at
    env.clock.advance(minutes=2)
    restarted = env.new_poller()  # a new process, the same storage
    assert not restarted.is_due(restarted.accounts[0])
    assert restarted.seconds_until_due() == 180.0
    assert not restarted.run_once().account(ACCOUNT).polled
    env.clock.advance(minutes=3)
    assert restarted.run_once().account(ACCOUNT).polled


def test_a_failed_poll_also_records_when_it_started() -> None:
    env = Env()
    env.mailbox.fail_connect = [MailboxError("connection refused")]
    env.poller.run_once()
    state = env.storage.mailbox_state(ACCOUNT)
    assert (state.consecutive_failures, state.last_polled_at) == (1, env.clock.now())


# --- no stale commits ---


def test_a_ticket_changed_between_reading_and_commit_is_processed_again() -> None:
    """The web UI closes the ticket while the reply is being processed: the commit is
    refused (its RequireTicket no longer holds) and the email is processed again, so the
    reply reopens the ticket instead of becoming a comment on a closed ticket."""
    env = Env(processor=process_email)
    env.storage.add_user(User("jane@example.com", "Jane"))
    env.storage.add_ticket(
        Ticket(
            7,
            "Printer",
            "jane@example.com",
            subscribers=("jane@example.com",),
            message_ids=("<t7@example.com>",),
        )
    )
    calls: list[int] = []

    def racing(raw: bytes, *args: object, **kwargs: object) -> InboundResult:
        result = process_email(raw, *args, **kwargs)  # type: ignore[arg-type]
        calls.append(1)
        if len(calls) == 1:  # meanwhile, a technician closes the ticket on the web
            env.storage.commit([CloseTicket(7, "tess@acme.test")])
        return result

    env.poller = env.new_poller(processor=racing)
    env.deliver(
        b"From: jane@example.com\r\nTo: support@acme.test\r\nSubject: Re: Printer\r\n"
        b"In-Reply-To: <t7@example.com>\r\nMessage-ID: <r7@example.com>\r\n\r\nStill broken\r\n"
    )
    report = env.poller.run_once()
    assert report.processed == 1 and len(calls) == 2
    ticket = env.storage.ticket(7)
    assert ticket is not None and not ticket.is_closed  # reopened by the reply
    assert [c.body_text for c in env.storage.comments(7)] == ["Still broken"]
    assert env.inbox() == []


def test_mail_without_a_sender_is_held_for_review_never_deleted() -> None:
    env = Env(processor=process_email)
    raw = b"To: support@acme.test\r\nSubject: Help\r\nMessage-ID: <nos@x>\r\n\r\nPlease help.\r\n"
    env.deliver(raw)
    report = env.poller.run_once()
    account = report.account(ACCOUNT)
    assert (account.held, account.processed, account.removed) == (1, 0, 0)
    assert env.inbox() == [] and env.mailbox.messages(ACCOUNT, "Quarantine") == [raw]
    [record] = env.storage.poison_records()
    assert record.error.startswith("held: no sender address")
    assert env.storage.tickets == {}
