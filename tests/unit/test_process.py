"""process_email: senders, subscribers, threading, the email API, junk verdicts, events."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from helpdesk_mail import (
    AddComment,
    AddSubscribers,
    CloseTicket,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    Role,
    SuppressRecipients,
    Ticket,
    TicketClosed,
    TicketCreated,
    TicketStatus,
    TicketUpdated,
    User,
    bind_ticket,
    process_email,
)
from helpdesk_mail.inbound.result import DiscardReason, InboundResult, Verdict
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.records import DeliveryStatus, SentRecord
from helpdesk_mail.settings import (
    AutoReplyHandling,
    ClosedTicketReply,
    IncomingSettings,
    OutgoingSettings,
    Settings,
)
from helpdesk_mail.tokens import make_message_id

SECRET = "test-secret-key"
SUPPORT = "support@acme.test"


def settings(**incoming: object) -> Settings:
    base: dict[str, object] = {"helpdesk_addresses": (SUPPORT,)}
    base.update(incoming)
    return Settings(
        incoming=IncomingSettings(**base),  # type: ignore[arg-type]
        outgoing=OutgoingSettings(from_address=SUPPORT, secret_key=SECRET),
    )


def mail(
    sender: str = "Jane Doe <jane@example.com>",
    subject: str = "Printer on fire",
    body: str = "It is really on fire.\n",
    to: str = SUPPORT,
    cc: str | None = None,
    message_id: str = "<m1@example.com>",
    in_reply_to: str | None = None,
    **headers: str,
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
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return bytes(msg)


@pytest.fixture
def storage() -> InMemoryStorage:
    s = InMemoryStorage()
    s.add_user(User("jane@example.com", name="Jane Doe"))
    s.add_user(User("bob@example.com", name="Bob"))
    s.add_user(User("mallory@example.com", name="Mallory"))
    s.add_user(User("tess@acme.test", name="Tess Tech", role=Role.TECHNICIAN))
    s.add_user(User("ada@acme.test", name="Ada Admin", role=Role.ADMIN))
    s.add_ticket(
        Ticket(
            id=1234,
            subject="Printer on fire",
            submitter="jane@example.com",
            subscribers=("jane@example.com", "bob@example.com"),
            message_ids=("<m1@example.com>",),
        )
    )
    return s


def run(raw: bytes, storage: InMemoryStorage, s: Settings | None = None) -> InboundResult:
    return process_email(raw, s or settings(), storage, ManualClock(), random=SeededRandom(1))


def of_type(result: InboundResult, kind: type) -> list[object]:
    return [a for a in result.actions if isinstance(a, kind)]


# --- new tickets, senders and subscribers ---


def test_unknown_sender_becomes_user_and_ticket_with_recipients_subscribed() -> None:
    storage = InMemoryStorage()
    raw = mail(
        sender="New Person <new@example.org>",
        to=f"{SUPPORT}, colleague@example.org",
        cc="boss@example.org, noreply@example.org, Support <SUPPORT@acme.test>",
        message_id="<new@example.org>",
    )
    result = run(raw, storage, settings(default_category="Hardware"))
    assert result.verdict.value == "create_ticket"
    [user] = of_type(result, CreateUser)
    assert isinstance(user, CreateUser)
    assert (user.email, user.name) == ("new@example.org", "New Person")
    assert len(user.password) >= 16
    [ticket] = of_type(result, CreateTicket)
    assert isinstance(ticket, CreateTicket)
    assert ticket.category == "Hardware"
    assert ticket.subscribers == ("new@example.org", "colleague@example.org", "boss@example.org")
    assert result.subscribers == ("colleague@example.org", "boss@example.org")
    assert result.events == (
        TicketCreated(ticket_id=None, actor="new@example.org", sender_known=False),
    )


def test_generated_password_comes_from_the_injected_random_source() -> None:
    raw = mail(sender="new@example.org")
    # actions[0] is the precondition that the sender has no account yet
    first = run(raw, InMemoryStorage()).actions[1]
    again = run(raw, InMemoryStorage()).actions[1]
    other = process_email(
        raw, settings(), InMemoryStorage(), ManualClock(), random=SeededRandom(2)
    ).actions[1]
    assert isinstance(first, CreateUser) and isinstance(other, CreateUser)
    assert first == again
    assert first.password != other.password


def test_recipients_setting_off_subscribes_only_the_sender(storage: InMemoryStorage) -> None:
    raw = mail(cc="boss@example.org", message_id="<new@x>")
    result = run(raw, storage, settings(add_recipients_as_subscribers=False))
    [ticket] = of_type(result, CreateTicket)
    assert isinstance(ticket, CreateTicket)
    assert ticket.subscribers == ("jane@example.com",)
    assert result.subscribers == ()


def test_subscribers_taken_from_one_email_are_capped_and_the_rest_named() -> None:
    # Issue 13.10: a huge Cc list made every address a subscriber (and every later
    # notification walked all of them for each of them).
    cc = ", ".join(f"cc{i}@example.net" for i in range(60))
    raw = mail(to=f"{SUPPORT}, jane@example.com", cc=cc, message_id="<many@x>")
    result = run(raw, InMemoryStorage())
    [ticket] = of_type(result, CreateTicket)
    assert isinstance(ticket, CreateTicket)
    # the sender in To is subscribed and does not count
    assert result.subscribers == ("jane@example.com", *(f"cc{i}@example.net" for i in range(50)))
    assert ticket.subscribers == result.subscribers
    left_out = ", ".join(f"cc{i}@example.net" for i in range(50, 60))
    assert "only the first 50 of 60 To and Cc addresses subscribed" in result.detail
    assert result.detail.endswith(f"left out: {left_out}")
    few = run(raw, InMemoryStorage(), settings(max_subscribers_per_email=3))
    assert few.subscribers == (
        "jane@example.com",
        "cc0@example.net",
        "cc1@example.net",
        "cc2@example.net",
    )
    assert "left out: cc3@example.net, " in few.detail
    assert run(mail(cc="a@example.net"), InMemoryStorage()).detail == "new ticket"


def test_unregistered_sender_is_discarded_when_not_accepted() -> None:
    result = run(
        mail(sender="new@example.org"), InMemoryStorage(), settings(accept_unregistered=False)
    )
    assert result.verdict.value == "discard"
    assert result.reason is not None and result.reason.value == "unregistered"
    assert not of_type(result, CreateUser) and not of_type(result, CreateTicket)


def test_registered_sender_is_accepted_when_unregistered_are_not(storage: InMemoryStorage) -> None:
    result = run(mail(message_id="<fresh@x>"), storage, settings(accept_unregistered=False))
    assert result.verdict.value == "create_ticket"
    assert not of_type(result, CreateUser)


def test_missing_sender_is_malformed() -> None:
    result = run(b"Subject: hello\r\n\r\nno from\r\n", InMemoryStorage())
    assert result.reason is not None and result.reason.value == "malformed"


@pytest.mark.parametrize("raw", [b"", b"\x00\xff" * 100, b"From: <>\r\n\r\n", b"\r\n\r\n\r\n"])
def test_garbage_is_discarded_not_raised(raw: bytes) -> None:
    result = run(raw, InMemoryStorage())
    assert result.verdict.value == "discard"
    assert result.error is None


# --- threading ---


def test_reply_by_stored_message_id_adds_a_comment_and_cc_adds_nobody(
    storage: InMemoryStorage,
) -> None:
    raw = mail(
        subject="Re: Printer on fire",
        cc="stranger@example.org",
        message_id="<r1@example.com>",
        in_reply_to="<m1@example.com>",
        body="Still burning.\n",
    )
    result = run(raw, storage)
    assert result.verdict.value == "add_comment"
    assert result.ticket_id == 1234
    assert result.subscribers == ()
    [comment] = of_type(result, AddComment)
    assert isinstance(comment, AddComment)
    assert comment.body_text == "Still burning."
    assert not comment.techs_only
    assert result.events == (TicketUpdated(ticket_id=1234, actor="jane@example.com"),)


def test_reply_to_our_signed_message_id_threads_for_anyone(storage: InMemoryStorage) -> None:
    ours = make_message_id(1234, "acme.test", SECRET, SeededRandom(5).token_bytes)
    raw = mail(sender="mallory@example.com", message_id="<r2@x>", in_reply_to=ours)
    result = run(raw, storage)
    assert (result.verdict.value, result.ticket_id) == ("add_comment", 1234)


def test_forged_signed_message_id_is_ignored(storage: InMemoryStorage) -> None:
    ours = make_message_id(1234, "acme.test", "another-secret", SeededRandom(5).token_bytes)
    raw = mail(sender="mallory@example.com", message_id="<r3@x>", in_reply_to=ours)
    result = run(raw, storage)
    assert result.verdict.value == "create_ticket"
    assert "forged" in result.detail


@pytest.mark.parametrize(
    "sender", ["jane@example.com", "bob@example.com", "tess@acme.test", "ada@acme.test"]
)
def test_subject_token_counts_for_people_on_the_ticket(
    storage: InMemoryStorage, sender: str
) -> None:
    raw = mail(sender=sender, subject="Re: [#1234] Printer on fire", message_id="<t@x>")
    result = run(raw, storage)
    assert (result.verdict.value, result.ticket_id) == ("add_comment", 1234)


@pytest.mark.parametrize("sender", ["mallory@example.com", "unknown@example.org"])
def test_subject_token_from_anyone_else_starts_a_new_ticket(
    storage: InMemoryStorage, sender: str
) -> None:
    raw = mail(sender=sender, subject="Re: [#1234] Printer on fire", message_id="<t@x>")
    result = run(raw, storage)
    assert result.verdict.value == "create_ticket"
    assert "not on that ticket" in result.detail


def test_reply_to_unknown_ticket_is_a_new_ticket(storage: InMemoryStorage) -> None:
    raw = mail(subject="Re: [#99] Old", message_id="<x@x>", in_reply_to="<unknown@x>")
    assert run(raw, storage).verdict.value == "create_ticket"


def test_reply_to_closed_ticket_reopens_it_or_starts_a_new_one(storage: InMemoryStorage) -> None:
    ticket = storage.ticket(1234)
    assert ticket is not None
    storage.add_ticket(Ticket(**{**ticket.__dict__, "status": TicketStatus.CLOSED}))
    raw = mail(message_id="<again@x>", in_reply_to="<m1@example.com>")
    reopened = run(raw, storage)
    assert reopened.verdict.value == "add_comment"
    assert of_type(reopened, ReopenTicket) == [ReopenTicket(1234, "jane@example.com")]
    fresh = run(raw, storage, settings(reply_to_closed=ClosedTicketReply.NEW_TICKET))
    assert fresh.verdict.value == "create_ticket"


# --- the email API ---


def test_commands_are_removed_from_the_subject_case_insensitively(
    storage: InMemoryStorage,
) -> None:
    raw = mail(
        sender="tess@acme.test",
        subject="Re: [#1234] Printer #TECH# on fire #Close#",
        message_id="<c@x>",
    )
    result = run(raw, storage)
    assert result.subject == "Re: [#1234] Printer on fire"
    assert result.commands == ("tech", "close")


def test_tech_command_makes_a_techs_only_comment_for_staff(storage: InMemoryStorage) -> None:
    raw = mail(sender="tess@acme.test", subject="Re: [#1234] x #tech#", message_id="<c@x>")
    result = run(raw, storage)
    [comment] = of_type(result, AddComment)
    assert isinstance(comment, AddComment) and comment.techs_only
    assert result.events == (
        TicketUpdated(ticket_id=1234, actor="tess@acme.test", techs_only=True),
    )


def test_tech_command_from_a_customer_is_ignored(storage: InMemoryStorage) -> None:
    raw = mail(subject="Re: [#1234] x #tech#", message_id="<c@x>")
    result = run(raw, storage)
    [comment] = of_type(result, AddComment)
    assert isinstance(comment, AddComment) and not comment.techs_only
    assert "#tech# ignored" in result.detail


@pytest.mark.parametrize("sender", ["jane@example.com", "tess@acme.test", "ada@acme.test"])
def test_close_command_by_submitter_or_staff(storage: InMemoryStorage, sender: str) -> None:
    raw = mail(sender=sender, subject="Re: [#1234] done #close#", message_id="<c@x>")
    result = run(raw, storage)
    assert of_type(result, CloseTicket) == [CloseTicket(1234, sender)]
    assert TicketClosed(ticket_id=1234, actor=sender) in result.events


def test_close_command_by_another_subscriber_is_ignored(storage: InMemoryStorage) -> None:
    raw = mail(sender="bob@example.com", subject="Re: [#1234] done #close#", message_id="<c@x>")
    result = run(raw, storage)
    assert of_type(result, CloseTicket) == []
    assert "#close# ignored" in result.detail


@pytest.mark.parametrize("command", ["#unsubscribe#", "#UNSUB#"])
def test_unsubscribe_removes_the_sender(storage: InMemoryStorage, command: str) -> None:
    raw = mail(
        sender="bob@example.com", subject=f"Re: [#1234] {command}", body="", message_id="<u@x>"
    )
    result = run(raw, storage)
    assert of_type(result, RemoveSubscriber) == [RemoveSubscriber(1234, "bob@example.com")]
    assert of_type(result, AddComment) == []  # nothing to say, nobody to notify
    outcome = storage.commit(result.actions, key=None)
    ticket = storage.ticket(1234)
    assert outcome.ticket_id == 1234 and ticket is not None
    assert "bob@example.com" not in ticket.subscribers


# --- junk ---


def test_mail_from_the_helpdesk_itself_is_a_loop(storage: InMemoryStorage) -> None:
    result = run(mail(sender=SUPPORT), storage)
    assert result.reason is not None and result.reason.value == "loop"


def test_our_own_message_id_coming_back_is_a_loop(storage: InMemoryStorage) -> None:
    ours = make_message_id(1234, "acme.test", SECRET, SeededRandom(9).token_bytes)
    result = run(mail(message_id=ours), storage)
    assert result.reason is not None and result.reason.value == "loop"


def test_system_sender_is_discarded(storage: InMemoryStorage) -> None:
    result = run(mail(sender="noreply@shop.example"), storage)
    assert result.reason is not None and result.reason.value == "system_sender"


def _bounce(returned_message_id: str | None) -> bytes:
    returned = (
        b"\r\n--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"From: support@acme.test\r\nTo: gone@example.org\r\n"
        + f"Message-ID: {returned_message_id}\r\n".encode()
        if returned_message_id
        else b""
    )
    return (
        b"From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        b"To: support@acme.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
        b"This is the mail system at host mx.example.org.\r\n"
        b"\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.org\r\n\r\n"
        b"Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        + returned
        + b"\r\n--b1--\r\n"
    )


def test_bounce_is_discarded_and_its_recipients_suppressed(storage: InMemoryStorage) -> None:
    # the report returns a message of ours, which the sent ledger shows went to that address
    ours = make_message_id(1234, "acme.test", SECRET, SeededRandom(4).token_bytes)
    storage.record_sent(
        SentRecord("1/ticket_updated/gone", 1, "ticket_updated", ("gone@example.org",),
                   DeliveryStatus.SENT, ManualClock().now(), message_id=ours)
    )  # fmt: skip
    result = run(_bounce(ours), storage)
    assert result.reason is not None and result.reason.value == "bounce"
    assert result.bounced_recipients == ("gone@example.org",)
    [suppress] = of_type(result, SuppressRecipients)
    assert isinstance(suppress, SuppressRecipients)
    assert suppress.emails == ("gone@example.org",) and suppress.proof == (ours,)
    storage.commit(result.actions, key=None)
    assert storage.is_suppressed("gone@example.org", ManualClock().now())


def test_a_bounce_that_returns_no_message_of_ours_suppresses_nobody(
    storage: InMemoryStorage,
) -> None:
    # before issue 13 item 5 this report suppressed gone@example.org: anyone can write it
    result = run(_bounce(None), storage)
    assert result.reason is not None and result.reason.value == "bounce"
    assert result.bounced_recipients == ("gone@example.org",)
    assert of_type(result, SuppressRecipients) == []
    assert "nobody suppressed" in result.detail


def test_auto_reply_is_discarded_by_default(storage: InMemoryStorage) -> None:
    raw = mail(
        subject="Out of office", in_reply_to="<m1@example.com>", Auto_Submitted="auto-replied"
    )
    result = run(raw, storage)
    assert result.reason is not None and result.reason.value == "auto_reply"
    assert [type(a) for a in result.actions] == [Discard]


def test_auto_reply_can_be_kept_as_an_inert_comment(storage: InMemoryStorage) -> None:
    keep = settings(auto_replies=AutoReplyHandling.COMMENT)
    raw = mail(
        subject="Out of office", in_reply_to="<m1@example.com>", Auto_Submitted="auto-replied"
    )
    result = run(raw, storage, keep)
    assert result.verdict.value == "add_comment"
    assert result.events == ()
    unthreaded = mail(subject="Out of office", message_id="<z@x>", Auto_Submitted="auto-replied")
    assert run(unthreaded, storage, keep).verdict.value == "discard"


def test_list_mail_becomes_a_ticket_that_must_get_no_automatic_answer(
    storage: InMemoryStorage,
) -> None:
    raw = mail(message_id="<l@x>", Precedence="bulk", X_Auto_Response_Suppress="All")
    result = run(raw, storage)
    assert result.verdict.value == "create_ticket"
    assert result.no_auto_response
    [event] = result.events
    assert isinstance(event, TicketCreated) and not event.auto_response_allowed


# --- the host's side ---


def test_events_bind_to_the_committed_ticket() -> None:
    storage = InMemoryStorage(first_ticket_id=77)
    result = run(mail(), storage)
    outcome = storage.commit(result.actions, key=None)
    assert outcome.ticket_id == 77
    assert [bind_ticket(e, 77) for e in result.events] == [
        TicketCreated(ticket_id=77, actor="jane@example.com", sender_known=False)
    ]


def test_html_only_mail_gets_readable_text() -> None:
    msg = EmailMessage()
    msg["From"] = "jane@example.com"
    msg["To"] = SUPPORT
    msg["Subject"] = "HTML only"
    msg.set_content("<p>Hello <b>there</b></p><p>Second&nbsp;line</p>", subtype="html")
    result = run(bytes(msg), InMemoryStorage())
    assert "Hello there" in result.body_text
    assert "Second" in result.body_text
    assert "<" not in result.body_text


def test_close_command_on_a_closed_ticket_keeps_it_closed(storage: InMemoryStorage) -> None:
    ticket = storage.ticket(1234)
    assert ticket is not None
    storage.add_ticket(Ticket(**{**ticket.__dict__, "status": TicketStatus.CLOSED}))
    raw = mail(subject="Re: [#1234] thanks #close#", message_id="<cc@x>")
    result = run(raw, storage)
    assert result.verdict.value == "add_comment"
    assert of_type(result, ReopenTicket) == [] and of_type(result, CloseTicket) == []


def test_an_inert_auto_reply_does_not_reopen_a_closed_ticket(storage: InMemoryStorage) -> None:
    ticket = storage.ticket(1234)
    assert ticket is not None
    storage.add_ticket(Ticket(**{**ticket.__dict__, "status": TicketStatus.CLOSED}))
    keep = settings(auto_replies=AutoReplyHandling.COMMENT)
    raw = mail(
        subject="Out of office", in_reply_to="<m1@example.com>", Auto_Submitted="auto-replied"
    )
    result = run(raw, storage, keep)
    assert result.verdict.value == "add_comment"
    assert of_type(result, ReopenTicket) == []


# --- the helpdesk's own addresses: one definition (issue 12.5) ---


def own_settings() -> Settings:
    """No `helpdesk_addresses` at all: From, Reply-To and the mailbox account are ours."""
    from helpdesk_mail.settings import MailboxAccount

    return Settings(
        incoming=IncomingSettings(
            accounts=(
                MailboxAccount(name="box", host="mail.acme.test", username="inbox@acme.test"),
            )
        ),
        outgoing=OutgoingSettings(
            from_address="support@acme.test", reply_to="replies@acme.test", secret_key=SECRET
        ),
    )


def test_from_reply_to_and_mailbox_addresses_are_never_subscribers() -> None:
    raw = mail(to="support@acme.test", cc="replies@acme.test, inbox@acme.test, bob@example.com")
    result = run(raw, InMemoryStorage(), own_settings())
    assert result.verdict is Verdict.CREATE_TICKET
    assert result.subscribers == ("bob@example.com",)


@pytest.mark.parametrize("sender", ["support@acme.test", "replies@acme.test", "inbox@acme.test"])
def test_mail_from_any_own_address_is_a_loop(sender: str) -> None:
    result = run(mail(sender=sender), InMemoryStorage(), own_settings())
    assert (result.verdict, result.reason) == (Verdict.DISCARD, DiscardReason.LOOP)


# --- issue 12: spec rules at the edges ---


def test_a_bare_close_closes_without_an_empty_comment(storage: InMemoryStorage) -> None:
    raw = mail(subject="Re: Printer on fire #close#", body="", in_reply_to="<m1@example.com>")
    result = run(raw, storage)
    assert result.verdict is Verdict.ADD_COMMENT and result.commands == ("close",)
    assert of_type(result, AddComment) == []
    assert [type(e).__name__ for e in result.events] == ["TicketClosed"]


def test_a_close_with_words_keeps_the_comment(storage: InMemoryStorage) -> None:
    raw = mail(
        subject="Re: Printer on fire #close#",
        body="Solved, thanks.",
        in_reply_to="<m1@example.com>",
    )
    result = run(raw, storage)
    assert len(of_type(result, AddComment)) == 1
    assert [type(e).__name__ for e in result.events] == ["TicketUpdated", "TicketClosed"]


def test_a_refused_command_is_not_in_commands_but_in_detail(storage: InMemoryStorage) -> None:
    raw = mail(subject="Re: Printer on fire #tech#", body="Psst.", in_reply_to="<m1@example.com>")
    result = run(raw, storage)
    assert result.commands == ()
    assert "#tech# ignored" in result.detail


def test_a_cc_subscriber_without_an_account_may_reply_when_unregistered_are_refused(
    storage: InMemoryStorage,
) -> None:
    storage.commit([AddSubscribers(1234, ("carl@example.com",))])
    s = settings(accept_unregistered=False)
    raw = mail(
        sender="carl@example.com",
        subject="Re: Printer on fire",
        body="Me too.",
        in_reply_to="<m1@example.com>",
    )
    result = run(raw, storage, s)
    assert result.verdict is Verdict.ADD_COMMENT and result.ticket_id == 1234
    assert of_type(result, CreateUser) == []  # no account is made for them
    stranger = run(mail(sender="eve@example.com", in_reply_to="<m1@example.com>"), storage, s)
    assert (stranger.verdict, stranger.reason) == (Verdict.DISCARD, DiscardReason.UNREGISTERED)


def test_a_reply_whose_extraction_leaves_nothing_keeps_its_whole_text(
    storage: InMemoryStorage,
) -> None:
    # the new text is below the quote, where extraction cuts it off
    body = "On Mon, Jan 5, 2026 at 9:00 AM Tess <tess@acme.test> wrote:\n> Is it on?\n"
    result = run(mail(body=body, in_reply_to="<m1@example.com>"), storage)
    [comment] = of_type(result, AddComment)
    assert comment.body_text.strip()  # never an empty comment from a non-empty email


def test_mail_without_a_sender_is_held_not_discarded() -> None:
    raw = b"To: support@acme.test\r\nSubject: Help\r\nMessage-ID: <x@y>\r\n\r\nPlease help.\r\n"
    result = run(raw, InMemoryStorage())
    assert (result.verdict, result.reason) == (Verdict.DISCARD, DiscardReason.MALFORMED)
    assert result.hold and "no sender" in result.hold and result.actions == ()


def test_a_new_ticket_does_not_keep_another_tickets_token(storage: InMemoryStorage) -> None:
    raw = mail(sender="mallory@example.com", subject="Re: [#1234] Printer on fire")
    result = run(raw, storage)
    assert result.verdict is Verdict.CREATE_TICKET
    [create] = of_type(result, CreateTicket)
    assert create.subject == "Re: Printer on fire" == result.subject


@pytest.mark.parametrize("prefix", ["Fwd:", "FW:", "WG:", "TR:", "RV:", "VS:", "Doorst.:"])
def test_a_forwarded_old_thread_from_an_outsider_starts_a_new_ticket(
    storage: InMemoryStorage, prefix: str
) -> None:
    subject = f"{prefix} Re: [#1234] Printer on fire"
    outsider = mail(sender="mallory@example.com", subject=subject, in_reply_to="<m1@example.com>")
    result = run(outsider, storage)
    assert result.verdict is Verdict.CREATE_TICKET, result.detail
    assert "forward of ticket 1234" in result.detail
    insider = mail(sender="bob@example.com", subject=subject, in_reply_to="<m1@example.com>")
    assert run(insider, storage).ticket_id == 1234  # someone on the ticket: still threaded
