"""Issue 13, items 3-9: what someone who can send email may not do (docs/security.md).

Each test drives the library the way a host does: `process_email`, `commit` in one
transaction, then `notify` for the committed events, against `InMemoryStorage`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpdesk_mail import commit, process_email
from helpdesk_mail.actions import AddComment, CreateTicket
from helpdesk_mail.events import Event, StaffAddressSuppressed, TicketCreated, TicketUpdated
from helpdesk_mail.inbound.result import InboundResult
from helpdesk_mail.memory import (
    InMemoryMailbox,
    InMemoryStorage,
    ManualClock,
    Outbox,
    SeededRandom,
)
from helpdesk_mail.model import Attachment, Comment, Role, Ticket, User
from helpdesk_mail.outbound.autologin import verify_autologin_token
from helpdesk_mail.settings import (
    IncomingSettings,
    MailboxAccount,
    NotificationSettings,
    OutgoingSettings,
    RateLimit,
    Settings,
)
from helpdesk_mail.shell.delivery import Deliverer, NotifyReport, notify
from helpdesk_mail.shell.poller import Poller, PollReport
from helpdesk_mail.tokens import (
    LINK_TOKEN,
    SUBJECT_COMMAND,
    clean_subject,
    make_message_id,
    without_commands,
)

SUPPORT = "support@acme.test"
URL = "https://helpdesk.acme.test"
SECRET = "secret"
ADA = "ada@acme.test"
TESS = "tess@acme.test"
JANE = "jane@example.com"
BOB = "bob@example.com"


def make_settings(incoming: dict[str, Any] | None = None, **notifications: Any) -> Settings:
    return Settings(
        incoming=IncomingSettings(helpdesk_addresses=(SUPPORT,), **(incoming or {})),
        notifications=NotificationSettings(**notifications),
        outgoing=OutgoingSettings(
            from_address=SUPPORT,
            from_name="Acme Support",
            reply_to=SUPPORT,
            helpdesk_url=URL,
            secret_key=SECRET,
        ),
    )


def make_storage() -> InMemoryStorage:
    storage = InMemoryStorage()
    storage.add_user(User(ADA, name="Ada Admin", role=Role.ADMIN))
    storage.add_user(
        User(TESS, name="Tess Tech", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    )
    storage.add_user(User(JANE, name="Jane Doe"))
    storage.add_user(User(BOB, name="Bob"))
    return storage


def mail(
    sender: str = f"Jane Doe <{JANE}>",
    subject: str = "Printer on fire",
    body: str = "It is really on fire.\n",
    *,
    to: str = SUPPORT,
    cc: str | None = None,
    message_id: str = "<m1@example.com>",
    in_reply_to: str | None = None,
    html: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return bytes(msg)


class Helpdesk:
    """A host in a test: storage, settings, a clock, and the mail it sent."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or make_settings()
        self.storage = make_storage()
        self.clock = ManualClock()
        self.outbox = Outbox()
        self.random = SeededRandom(7)

    def receive(self, raw: bytes) -> tuple[InboundResult, tuple[Event, ...]]:
        """Process and commit one email; returns the result and the bound events."""
        with self.storage.transaction() as unit:
            result = process_email(raw, self.settings, unit.domain, self.clock, random=self.random)
            outcome = commit(unit, result.actions, events=result.events, at=self.clock.now())
        return result, outcome.events

    def notify(self, events: Sequence[Event]) -> list[NotifyReport]:
        return [
            notify(e, self.settings, self.storage, None, self.outbox, self.clock, self.random)
            for e in events
        ]

    def deliver(self, raw: bytes) -> tuple[InboundResult, list[EmailMessage]]:
        """Receive `raw` and send its notifications; returns the messages it sent."""
        before = len(self.outbox.messages)
        result, events = self.receive(raw)
        self.notify(events)
        return result, self.outbox.messages[before:]


def to_of(message: EmailMessage) -> str:
    return str(message["To"])


def text_of(message: EmailMessage) -> str:
    parts = [p for p in message.walk() if p.get_content_type() in ("text/plain", "text/html")]
    return "\n".join(str(p.get_content()) for p in parts)  # type: ignore[attr-defined]


def actions_of(result: InboundResult, kind: type) -> list[Any]:
    return [a for a in result.actions if isinstance(a, kind)]


# --- item 6: commands smuggled through control, zero-width and bidi characters ------


@pytest.mark.parametrize(
    "subject",
    [
        "Printer broken #cl\x7fose#",
        "Printer broken #clo\u200bse#",
        "Printer broken #\u202eclose#",
        "Printer broken #cl\u2066ose\u2069#",
        "Printer broken #te\u00adch#",
        "Printer broken #un\ufeffsub#",
    ],
)
def test_a_hidden_command_is_read_as_one_and_never_stored(subject: str) -> None:
    desk = Helpdesk()
    result, sent = desk.deliver(mail(sender="Carl <carl@example.org>", subject=subject))
    [create] = actions_of(result, CreateTicket)
    assert create.subject == "Printer broken"
    assert "commands ignored on a new ticket" in result.detail
    staff = [m for m in sent if to_of(m).endswith(f"<{ADA}>")]
    assert staff
    for message in staff:
        assert str(message["Subject"]).endswith(": Printer broken"), message["Subject"]


def test_a_plain_staff_reply_runs_no_command_from_a_customer_subject() -> None:
    desk = Helpdesk()
    # a ticket whose stored subject carries a command (made on the web, or stored by an
    # older version with the control character in it)
    desk.storage.add_ticket(
        Ticket(id=5, subject="Printer broken #cl\x7fose#", submitter=JANE, subscribers=(JANE,))
    )
    [report] = desk.notify([TicketUpdated(ticket_id=5, actor=JANE)])
    [message] = [m for m in desk.outbox.messages if to_of(m).endswith(f"<{ADA}>")]
    subject = str(message["Subject"])
    assert subject == "[#5] Printer broken"
    # the admin's plain reply to that notification adds a comment and closes nothing
    reply = mail(
        sender=f"Ada Admin <{ADA}>",
        subject=f"Re: {subject}",
        body="Looking into it.\n",
        message_id="<reply@acme.test>",
        in_reply_to=str(message["Message-ID"]),
    )
    result, _ = desk.receive(reply)
    assert result.verdict.value == "add_comment" and result.commands == ()
    ticket = desk.storage.ticket(5)
    assert ticket is not None and not ticket.is_closed
    assert report.sent


@given(st.text(max_size=200))
def test_a_cleaned_subject_has_nothing_invisible_and_no_command_survives(text: str) -> None:
    cleaned = clean_subject(text)
    assert clean_subject(cleaned) == cleaned
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in cleaned)
    assert SUBJECT_COMMAND.search(without_commands(text)) is None


# --- item 7: a Message-ID already stored belongs to its first ticket ------------------


def test_a_reused_message_id_does_not_hijack_the_thread() -> None:
    desk = Helpdesk()
    original = mail(cc=f"Bob <{BOB}>", message_id="<orig@example.com>")
    first, _ = desk.receive(original)
    [create] = actions_of(first, CreateTicket)
    ticket_one = desk.storage.ticket_for_message_id("<orig@example.com>")
    assert ticket_one is not None
    # the attacker's new email claims the original's Message-ID
    attack = mail(
        sender="Mallory <mallory@evil.example>",
        subject="Hello",
        body="Please reply to me.\n",
        message_id="<orig@example.com>",
    )
    result, events = desk.receive(attack)
    assert result.verdict.value == "create_ticket"
    [created] = [e for e in events if isinstance(e, TicketCreated)]
    assert created.ticket_id is not None and created.ticket_id != ticket_one
    ticket_two = desk.storage.ticket(created.ticket_id)
    assert ticket_two is not None and "<orig@example.com>" not in ticket_two.message_ids
    assert desk.storage.ticket_for_message_id("<orig@example.com>") == ticket_one
    # the attacker's ticket's notifications never name the original thread
    desk.notify(events)
    for message in desk.outbox.messages:
        threading = f"{message['In-Reply-To'] or ''} {message['References'] or ''}"
        assert "orig@example.com" not in threading
    # a later reply-all to the original thread lands on the original ticket
    desk.outbox.clear()
    reply_all = mail(
        sender=f"Bob <{BOB}>",
        subject="Re: Printer on fire",
        body="Same here.\n",
        cc=JANE,
        message_id="<bob-reply@example.com>",
        in_reply_to="<orig@example.com>",
    )
    result, sent = desk.deliver(reply_all)
    assert result.verdict.value == "add_comment" and result.ticket_id == ticket_one
    assert sent and all("mallory" not in to_of(m) for m in sent)
    assert create.message_id == "<orig@example.com>"


def test_notifications_never_reference_another_tickets_signed_message_id() -> None:
    desk = Helpdesk()
    foreign = make_message_id(1, "acme.test", SECRET, SeededRandom(3).token_bytes)
    desk.storage.add_ticket(
        Ticket(
            id=2,
            subject="Mine",
            submitter=JANE,
            subscribers=(JANE,),
            message_ids=("<own@example.com>", foreign),
        )
    )
    desk.notify([TicketUpdated(ticket_id=2, actor=BOB)])
    assert desk.outbox.messages
    for message in desk.outbox.messages:
        assert message["In-Reply-To"] == "<own@example.com>"
        assert str(message["References"]) == "<own@example.com>"


# --- item 9: cid: references resolve only to the parts of the same message ------------

SECRET_PNG = b"\x89PNG\r\n\x1a\nTECHS-ONLY-DIAGRAM"
OWN_PNG = b"\x89PNG\r\n\x1a\nJANES-PHOTO"


def _image_parts(message: EmailMessage) -> list[bytes]:
    return [
        p.get_payload(decode=True)  # type: ignore[misc]
        for p in message.walk()
        if p.get_content_maintype() == "image"
    ]


def test_a_customer_cannot_pull_a_techs_only_inline_image_into_their_notification() -> None:
    desk = Helpdesk()
    desk.storage.add_ticket(
        Ticket(id=3, subject="Network", submitter=JANE, subscribers=(JANE, BOB)),
        [
            Comment(
                ticket_id=3,
                author=TESS,
                body_text="Internal diagram",
                body_html='<p>Internal diagram <img src="cid:diagram@acme" alt="diagram"></p>',
                created_at=desk.clock.now(),
                id=1,
                techs_only=True,
                attachments=(
                    Attachment(
                        "diagram.png",
                        "image/png",
                        len(SECRET_PNG),
                        SECRET_PNG,
                        True,
                        "diagram@acme",
                    ),
                ),
            ),
            Comment(
                ticket_id=3,
                author=JANE,
                body_text="See this",
                body_html=(
                    '<p>See this <img src="cid:diagram@acme" alt="their diagram">'
                    '<img src="cid:photo@jane" alt="my photo"></p>'
                ),
                created_at=desk.clock.now(),
                id=2,
                attachments=(
                    Attachment("photo.png", "image/png", len(OWN_PNG), OWN_PNG, True, "photo@jane"),
                ),
            ),
        ],
    )
    desk.notify([TicketUpdated(ticket_id=3, actor=JANE, comment_id=2)])
    [to_bob] = [m for m in desk.outbox.messages if to_of(m).endswith(f"<{BOB}>")]
    images = _image_parts(to_bob)
    assert SECRET_PNG not in images
    assert OWN_PNG in images
    assert "their diagram" in text_of(to_bob)  # the alt text stands in for it
    # staff see the techs-only comment with its own image, resolved to its own part
    [to_ada] = [m for m in desk.outbox.messages if to_of(m).endswith(f"<{ADA}>")]
    staff_images = _image_parts(to_ada)
    assert OWN_PNG in staff_images and SECRET_PNG in staff_images


# --- item 8: quoted sign-in links and quoted threads are not stored -------------------


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain = html = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not plain:
            plain = str(part.get_content())  # type: ignore[attr-defined]
        elif part.get_content_type() == "text/html" and not html:
            html = str(part.get_content())  # type: ignore[attr-defined]
    return plain, html


def _quoting_reply(notification: EmailMessage, new: str, message_id: str) -> bytes:
    """Jane's reply to `notification`, quoting it whole the way Gmail does."""
    plain, html = _parts(notification)
    quoted = "\n".join(f"> {line}" for line in plain.splitlines())
    return mail(
        subject=f"Re: {notification['Subject']}",
        body=f"{new}\n\nOn Mon, 1 Jun 2026 at 10:00, Acme Support <{SUPPORT}> wrote:\n{quoted}\n",
        html=(
            f"<div dir=ltr>{new}</div><br><div class=gmail_quote><div dir=ltr class=gmail_attr>"
            f"On Mon, 1 Jun 2026 at 10:00, Acme Support &lt;{SUPPORT}&gt; wrote:<br></div>"
            f'<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">{html}</blockquote>'
            "</div>"
        ),
        message_id=message_id,
        in_reply_to=str(notification["Message-ID"]),
    )


def _autologin_for(text: str) -> set[str]:
    """The addresses whose valid autologin tokens `text` carries."""
    found = set()
    for match in LINK_TOKEN.finditer(text):
        claims = verify_autologin_token(match.group(0), ManualClock().now(), SECRET)
        if claims is not None:
            found.add(claims.email)
    return found


def test_a_quoted_autologin_link_is_neither_stored_nor_passed_on() -> None:
    desk = Helpdesk()
    _, events = desk.receive(mail(cc=f"Bob <{BOB}>", message_id="<start@example.com>"))
    [created] = [e for e in events if isinstance(e, TicketCreated)]
    ticket_id = created.ticket_id
    assert ticket_id is not None
    # Tess answers; Jane's copy carries her own autologin link
    desk.outbox.clear()
    tess = mail(
        sender=f"Tess Tech <{TESS}>",
        subject=f"Re: [#{ticket_id}] Printer on fire",
        body="Did you try turning it off?\n",
        message_id="<tess@acme.test>",
        in_reply_to="<start@example.com>",
    )
    _, sent = desk.deliver(tess)
    [to_jane] = [m for m in sent if to_of(m).endswith(f"<{JANE}>")]
    assert _autologin_for(text_of(to_jane)) == {JANE}
    # Jane replies, quoting the whole notification
    desk.outbox.clear()
    result, sent = desk.deliver(_quoting_reply(to_jane, "Yes, twice.", "<jane-2@example.com>"))
    [comment] = actions_of(result, AddComment)
    stored = f"{comment.body_text}\n{comment.body_html}\n{comment.full_text}"
    assert _autologin_for(stored) == set()
    assert "turning it off" not in (comment.body_html or "")
    assert "Yes, twice." in (comment.body_html or "")
    assert sent
    for message in sent:
        assert JANE not in _autologin_for(text_of(message)), to_of(message)


def test_the_stored_html_is_the_reply_not_the_thread() -> None:
    desk = Helpdesk()
    _, events = desk.receive(mail(message_id="<start@example.com>"))
    desk.notify(events)
    previous = "<start@example.com>"
    sizes = []
    for round_ in range(10):
        desk.clock.advance(hours=3)  # a conversation, not a flood
        desk.outbox.clear()
        tess = mail(
            sender=f"Tess Tech <{TESS}>",
            subject="Re: [#1] Printer on fire",
            body=f"Round {round_}: try again.\n",
            message_id=f"<tess-{round_}@acme.test>",
            in_reply_to=previous,
        )
        _, sent = desk.deliver(tess)
        [to_jane] = [m for m in sent if to_of(m).endswith(f"<{JANE}>")]
        reply = _quoting_reply(to_jane, f"Still broken ({round_}).", f"<jane-{round_}@x.test>")
        result, _ = desk.deliver(reply)
        [comment] = actions_of(result, AddComment)
        sizes.append(len(comment.body_html or ""))
        previous = f"<jane-{round_}@x.test>"
    assert max(sizes) < 500, sizes


# --- item 5: a bounce suppresses only an address it proves answers our mail ----------


def _dsn(failed: Sequence[str], returned: bytes | None) -> bytes:
    """A delivery status notification for `failed`, returning `returned` whole."""
    blocks = b"".join(
        f"\r\nFinal-Recipient: rfc822; {a}\r\nAction: failed\r\nStatus: 5.1.1\r\n".encode()
        for a in failed
    )
    attached = b"\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\n" + returned if returned else b""
    return (
        b"From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        b"To: support@acme.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn-" + str(len(failed)).encode() + b"@mx.example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
        b"This is the mail system at host mx.example.org.\r\n"
        b"\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.org\r\n" + blocks + attached + b"\r\n--b1--\r\n"
    )


def _conversation(desk: Helpdesk) -> dict[str, EmailMessage]:
    """Jane's new ticket (Bob in CC, in Tess's category), then Tess's answer: the
    notifications each person got, by address."""
    desk.settings = make_settings({"default_category": "Hardware"})
    got: dict[str, EmailMessage] = {}
    _, sent = desk.deliver(mail(cc=f"Bob <{BOB}>", message_id="<start@example.com>"))
    got.update({m["To"].addresses[0].addr_spec: m for m in sent})
    tess = mail(
        sender=f"Tess Tech <{TESS}>",
        subject="Re: [#1] Printer on fire",
        body="On my way.\n",
        message_id="<tess@acme.test>",
        in_reply_to="<start@example.com>",
    )
    _, sent = desk.deliver(tess)
    got.update({m["To"].addresses[0].addr_spec: m for m in sent})
    return got


def test_a_forged_bounce_suppresses_nobody() -> None:
    desk = Helpdesk()
    _conversation(desk)
    result, events = desk.receive(_dsn([TESS, ADA, BOB], None))
    assert result.reason is not None and result.reason.value == "bounce"
    now = desk.clock.now()
    assert not any(desk.storage.is_suppressed(a, now) for a in (TESS, ADA, BOB))
    assert events == ()


def test_a_customer_cannot_suppress_others_with_their_own_notification() -> None:
    desk = Helpdesk()
    got = _conversation(desk)
    # Jane returns a notification she did receive, signed by us, but names others
    _, events = desk.receive(_dsn([TESS, ADA, BOB], bytes(got[JANE])))
    now = desk.clock.now()
    assert not any(desk.storage.is_suppressed(a, now) for a in (TESS, ADA, BOB))
    assert events == ()


def test_a_real_bounce_suppresses_its_recipient() -> None:
    desk = Helpdesk()
    got = _conversation(desk)
    desk.receive(_dsn([BOB], bytes(got[BOB])))
    assert desk.storage.is_suppressed(BOB, desk.clock.now())
    assert not desk.storage.is_suppressed(JANE, desk.clock.now())


def test_a_staff_address_is_never_suppressed_without_telling_the_admins() -> None:
    desk = Helpdesk()
    got = _conversation(desk)
    desk.outbox.clear()
    _, events = desk.receive(_dsn([TESS], bytes(got[TESS])))
    assert desk.storage.is_suppressed(TESS, desk.clock.now())
    [notice] = events
    assert isinstance(notice, StaffAddressSuppressed) and notice.email == TESS
    desk.notify(events)
    [to_ada] = desk.outbox.messages
    assert to_of(to_ada).endswith(f"<{ADA}>")
    assert TESS in text_of(to_ada) and "suspended" in text_of(to_ada)


# --- item 3: inbound flood control ---------------------------------------------------

ACCOUNT = MailboxAccount(name="support", host="mail.acme.test", batch_size=50)


def _flooded(raws: Sequence[bytes], **incoming: Any) -> tuple[Helpdesk, PollReport]:
    desk = Helpdesk(make_settings({"accounts": (ACCOUNT,), **incoming}))
    mailbox = InMemoryMailbox()
    for raw in raws:
        mailbox.deliver(raw, account=ACCOUNT.name)
    poller = Poller(desk.settings, desk.storage, mailbox, desk.clock, desk.random)
    report = poller.run_once(force=True)
    deliverer = Deliverer(desk.settings, desk.storage, desk.outbox, desk.clock, desk.random)
    while deliverer.run_once().events:
        pass
    return desk, report


def test_a_flood_from_one_sender_is_held_and_staff_get_one_summary() -> None:
    raws = [
        mail(sender="Spam <bulk@spam.example>", subject=f"Buy {n}", message_id=f"<s{n}@x>")
        for n in range(60)
    ]
    desk, report = _flooded(raws)
    assert (report.processed, report.held) == (20, 40)
    assert len(desk.storage.tickets) == 20
    assert len(desk.storage.poison_records()) == 40  # kept for review, not deleted
    to_ada = [m for m in desk.outbox.messages if to_of(m).endswith(f"<{ADA}>")]
    summaries = [m for m in to_ada if "kept for review" in str(m["Subject"])]
    assert len(summaries) == 1 and "bulk@spam.example" in text_of(summaries[0])
    assert len(to_ada) == 21  # 20 new tickets, then one summary instead of 40 more
    # the flood still going on an hour later is still held, with one more summary
    assert len(desk.outbox.messages) < 100


def test_a_flood_of_forged_senders_at_one_domain_is_held() -> None:
    raws = [
        mail(sender=f"x{n}@victim.example", subject=f"Hi {n}", message_id=f"<d{n}@x>")
        for n in range(30)
    ]
    limits = (RateLimit(10, 10),)
    desk, report = _flooded(raws, domain_rate_limits=limits)
    assert (report.processed, report.held) == (10, 20)
    summaries = [m for m in desk.outbox.messages if "kept for review" in str(m["Subject"])]
    assert len(summaries) == 1 and "the domain victim.example" in text_of(summaries[0])


def test_a_held_flood_email_can_be_replayed() -> None:
    raws = [mail(sender="a@b.example", subject=f"S{n}", message_id=f"<r{n}@x>") for n in range(3)]
    desk, report = _flooded(raws, sender_rate_limits=(RateLimit(2, 10),))
    assert report.held == 1
    [held] = desk.storage.poison_records()
    poller = Poller(desk.settings, desk.storage, InMemoryMailbox(), desk.clock, desk.random)
    assert poller.replay(held).status.value == "processed"


class _CountsOneByOne(InMemoryStorage):
    """Books written before `notifications_since_each`: their counts are read one by one."""

    def __getattribute__(self, name: str) -> Any:
        if name == "notifications_since_each":
            raise AttributeError(name)
        return super().__getattribute__(name)


@pytest.mark.parametrize(
    ("sender", "domain", "expected"),
    [(8, 100, (16, 14)), (12, 20, (20, 10))],  # the senders' limit first, the domain's
)
def test_books_without_counts_in_one_read_hold_the_same_flood(
    monkeypatch: pytest.MonkeyPatch, sender: int, domain: int, expected: tuple[int, int]
) -> None:
    raws = [
        mail(sender=f"x{n % 2}@victim.example", subject=f"Hi {n}", message_id=f"<o{n}@x>")
        for n in range(30)
    ]
    limits = {
        "sender_rate_limits": (RateLimit(sender, 10),),
        "domain_rate_limits": (RateLimit(domain, 60),),
    }

    def outcome() -> tuple[int, int, list[str]]:
        desk, report = _flooded(raws, **limits)
        return report.processed, report.held, [str(m["Subject"]) for m in desk.outbox.messages]

    calls = {"each": 0}
    real = InMemoryStorage.notifications_since_each

    def spy(self: InMemoryStorage, queries: Any) -> Any:
        calls["each"] += 1
        return real(self, queries)

    monkeypatch.setattr(InMemoryStorage, "notifications_since_each", spy)
    batched = outcome()
    assert batched[:2] == expected and calls["each"] > 0
    old = _CountsOneByOne()
    for user in make_storage().users_by_email.values():
        old.add_user(user)
    monkeypatch.setattr(f"{__name__}.make_storage", lambda: old)
    calls["each"] = 0
    assert outcome() == batched and calls["each"] == 0


# --- item 4: backscatter -------------------------------------------------------------


def _confirmation(sent: Sequence[EmailMessage], to: str) -> EmailMessage:
    [message] = [m for m in sent if to_of(m).endswith(f"<{to}>") or to_of(m) == to]
    return message


def test_a_confirmation_to_an_unknown_sender_echoes_nothing_they_wrote() -> None:
    desk = Helpdesk()
    raw = mail(
        sender="Visit evil.example now <victim@stranger.example>",
        subject="CHEAP PILLS at evil.example",
        body="Buy now at http://evil.example/pills\n",
    )
    _, sent = desk.deliver(raw)
    confirmation = _confirmation(sent, "victim@stranger.example")
    everything = f"{confirmation['Subject']}\n{text_of(confirmation)}"
    assert "evil.example" not in everything and "PILLS" not in everything
    assert "[#1]" in str(confirmation["Subject"])
    # the staff notification shows it all
    assert "CHEAP PILLS" in str(_confirmation(sent, ADA)["Subject"])


def test_a_confirmation_to_a_known_sender_quotes_their_ticket() -> None:
    desk = Helpdesk()
    _, sent = desk.deliver(mail(subject="Printer on fire", body="Smoke everywhere.\n"))
    confirmation = _confirmation(sent, JANE)
    assert "Printer on fire" in str(confirmation["Subject"])
    assert "Smoke everywhere." in text_of(confirmation)


def test_no_confirmations_while_a_sender_floods() -> None:
    raws = [
        mail(sender=f"c{n % 3}@many.example", subject=f"Q{n}", message_id=f"<q{n}@x>")
        for n in range(12)
    ]
    desk, report = _flooded(raws, domain_rate_limits=(RateLimit(8, 10),))
    assert report.processed == 8
    confirmations = [m for m in desk.outbox.messages if "many.example" in to_of(m)]
    # the confirmations planned once the domain's mail went over the limit are skipped
    assert len(confirmations) < 8
