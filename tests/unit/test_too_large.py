"""Messages over `incoming.max_message_bytes` (issue 12, item 13): not parsed, kept like
held mail, counted in the poll report, and their sender told by `message_too_large`."""

from __future__ import annotations

import pytest

from helpdesk_mail.events import MessageTooLarge
from helpdesk_mail.inbound import oversized
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import (
    InMemoryMailbox,
    InMemoryStorage,
    ManualClock,
    Outbox,
    SeededRandom,
)
from helpdesk_mail.outbound.plan import SkipReason, plan_notifications
from helpdesk_mail.records import DeliveryStatus
from helpdesk_mail.settings import (
    IncomingSettings,
    MailboxAccount,
    MailProtocol,
    NotificationSettings,
    OutgoingSettings,
    RateLimit,
    Settings,
    SettingsError,
)
from helpdesk_mail.shell.delivery import Deliverer
from helpdesk_mail.shell.poller import MessageReport, MessageStatus, Poller

ACCOUNT = "support"
LIMIT = 4096


def settings(*, protocol: MailProtocol = MailProtocol.IMAP, **notifications: object) -> Settings:
    account = MailboxAccount(name=ACCOUNT, host="mail.acme.test", protocol=protocol)
    return Settings(
        incoming=IncomingSettings(
            helpdesk_addresses=("support@acme.test",),
            accounts=(account,),
            max_message_bytes=LIMIT,
        ),
        outgoing=OutgoingSettings(
            from_address="support@acme.test",
            helpdesk_url="https://helpdesk.acme.test",
            secret_key="too-large-secret",
        ),
        notifications=NotificationSettings(**notifications),  # type: ignore[arg-type]
    )


def mail(
    sender: str = "Jane Doe <jane@example.com>", size: int = 2 * LIMIT, extra: str = ""
) -> bytes:
    head = (
        f"From: {sender}\r\nTo: support@acme.test\r\nSubject: Scans of the invoices\r\n"
        f"Message-ID: <big-{size}@example.com>\r\n{extra}MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    return head + b"x" * (size - len(head))


class Env:
    def __init__(self, config: Settings | None = None) -> None:
        self.settings = config or settings()
        self.mailbox = InMemoryMailbox(batch_size=10)
        self.clock = ManualClock()
        self.storage = InMemoryStorage(clock=self.clock)
        self.messages: list[MessageReport] = []
        self.parsed: list[bytes] = []
        self.poller = Poller(
            self.settings,
            self.storage,
            self.mailbox,
            self.clock,
            SeededRandom(1),
            processor=self.processor,
            on_message=self.messages.append,
        )
        self.outbox = Outbox()

    def processor(self, raw: bytes, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        from helpdesk_mail.inbound.process import process_email

        self.parsed.append(raw)
        return process_email(raw, *args, **kwargs)  # type: ignore[arg-type]

    def deliver(self) -> list[str]:
        Deliverer(self.settings, self.storage, self.outbox, self.clock, SeededRandom(2)).run_once()
        return [str(m["To"]) for m in self.outbox.messages]


def test_a_message_over_the_limit_is_kept_counted_and_its_sender_told() -> None:
    env = Env()
    big, small = mail(), mail(size=LIMIT // 2)
    env.mailbox.deliver(big, account=ACCOUNT)
    env.mailbox.deliver(small, account=ACCOUNT)
    report = env.poller.run_once()
    account = report.account(ACCOUNT)
    assert (account.too_large, account.processed, account.held, account.failed) == (1, 1, 0, 0)
    assert report.too_large == 1
    assert env.parsed == [small]  # the large one never reached process_email
    # kept like held mail: recorded, quarantined, not deleted
    assert env.mailbox.messages(ACCOUNT) == []
    assert env.mailbox.messages(ACCOUNT, "Quarantine") == [big]
    [record] = env.storage.poison_records()
    assert record.raw == big and record.error.startswith("too large: 8192 bytes")
    [message] = [m for m in env.messages if m.status is MessageStatus.TOO_LARGE]
    event = MessageTooLarge(ACCOUNT, "jane@example.com", 8192, LIMIT, "Scans of the invoices")
    assert message.events == (event,)
    assert event in report.events
    # the sender's notice went to the outbox in the same transaction as the record
    assert [e.event for e in env.storage.outbox() if isinstance(e.event, MessageTooLarge)] == [
        event
    ]
    sent = env.deliver()
    # the notice, and the small mail's confirmation
    assert sent == ["Jane Doe <jane@example.com>"] * 2
    [notice] = [m for m in env.outbox.messages if "too large" in str(m["Subject"])]
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert '"Scans of the invoices" was not accepted: it is 8 KB, ' in text
    assert "may be at most 4 KB." in text


def test_pop3_leaves_it_on_the_server_and_skips_it_later_without_telling_again() -> None:
    env = Env(settings(protocol=MailProtocol.POP3))
    env.mailbox.deliver(mail(), account=ACCOUNT)
    assert env.poller.run_once().too_large == 1
    assert env.mailbox.messages(ACCOUNT) == [mail()]
    again = env.poller.run_once(force=True)
    assert (again.too_large, again.account(ACCOUNT).skipped) == (0, 1)
    assert len(env.storage.outbox()) == 1 and len(env.storage.poison_records()) == 1


def test_replay_processes_it_whatever_its_size() -> None:
    env = Env(settings(protocol=MailProtocol.POP3))
    env.mailbox.deliver(mail(), account=ACCOUNT)
    env.poller.run_once()
    [record] = env.poller.pending_poison()
    assert env.poller.replay(record).status is MessageStatus.PROCESSED
    report = env.poller.run_once(force=True)
    assert report.duplicates == 1 and env.mailbox.messages(ACCOUNT) == []


@pytest.mark.parametrize(
    ("sender", "extra"),
    [
        ("mailer-daemon@example.com", ""),
        ("support@acme.test", ""),
        ("Jane <jane@example.com>", "Auto-Submitted: auto-replied\r\n"),
        ("Jane <jane@example.com>", "Precedence: bulk\r\n"),
        ("", ""),
    ],
)
def test_machines_our_own_address_and_auto_mail_are_not_told(sender: str, extra: str) -> None:
    env = Env()
    raw = mail(sender, extra=extra) if sender else mail(extra="").replace(b"From: ", b"X-From: ")
    env.mailbox.deliver(raw, account=ACCOUNT)
    report = env.poller.run_once()
    assert report.too_large == 1 and env.mailbox.messages(ACCOUNT, "Quarantine") == [raw]
    assert not env.storage.outbox() and report.events == ()


def test_the_recipients_flood_limit_applies() -> None:
    config = settings(recipient_rate_limits=(RateLimit(1, 60),))
    env = Env(config)
    env.storage.record_notification(("to:jane@example.com",), env.clock.now())
    event = MessageTooLarge(ACCOUNT, "jane@example.com", 8192, LIMIT)
    plan = plan_notifications(event, config, env.storage, env.clock)
    assert plan.emails == ()
    assert [s.reason for s in plan.skipped] == [SkipReason.RATE_LIMITED]


def test_the_notice_is_skippable_like_every_template() -> None:
    env = Env()
    env.mailbox.deliver(mail(), account=ACCOUNT)
    env.poller.run_once()
    templates = {TemplateKind.MESSAGE_TOO_LARGE: ("", "")}
    Deliverer(
        env.settings, env.storage, env.outbox, env.clock, SeededRandom(2), templates
    ).run_once()
    assert env.outbox.messages == []
    [line] = env.storage.sent_records()
    assert (line.status, line.error) == (DeliveryStatus.SKIPPED, "empty_template")


def test_an_accounts_own_limit_wins() -> None:
    account = MailboxAccount(name=ACCOUNT, host="mail.acme.test", max_message_bytes=100_000)
    config = Settings(incoming=IncomingSettings(accounts=(account,), max_message_bytes=LIMIT))
    assert oversized.max_message_bytes(config, account) == 100_000
    assert oversized.max_message_bytes(Settings(), MailboxAccount("a", "h")) == 25 * 1024 * 1024
    with pytest.raises(SettingsError):
        IncomingSettings(max_message_bytes=10)


def test_only_the_header_is_read() -> None:
    """The body is never parsed: a header-only reading finds the sender and subject."""
    raw = mail(size=3_000_000)
    assert oversized.header_block(raw).endswith(b"charset=utf-8")
    event = oversized.too_large(raw, settings(), settings().incoming.accounts[0], LIMIT)
    assert event == MessageTooLarge(
        ACCOUNT, "jane@example.com", 3_000_000, LIMIT, "Scans of the invoices"
    )
