"""The in-memory backends behave like the real thing where a host's tests rely on it."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.actions import (
    Action,
    AddComment,
    AddSubscribers,
    CloseTicket,
    CommitOutcome,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    SuppressRecipients,
)
from helpdesk_mail.memory import (
    EPOCH,
    InMemoryMailbox,
    InMemoryResolver,
    InMemoryStorage,
    ManualClock,
    Outbox,
    SeededRandom,
    send_failure,
)
from helpdesk_mail.model import Attachment, Comment, KBArticle, Role, Ticket, TicketStatus, User
from helpdesk_mail.ports import (
    Bookkeeping,
    Clock,
    Domain,
    MailboxAuthError,
    MailboxError,
    MailboxState,
    MailboxTransport,
    PlanReader,
    PoisonRecord,
    RandomSource,
    ReceiptKey,
    Resolver,
    SendError,
    SendTransport,
    Storage,
    TemporaryDnsError,
)
from helpdesk_mail.settings import MailboxAccount

# The --state example of DESIGN.md, verbatim.
DESIGN_STATE: dict[str, Any] = {
    "users": [
        {
            "email": "tech@acme.test",
            "name": "Tess Tech",
            "role": "technician",
            "categories": ["Hardware"],
        }
    ],
    "tickets": [
        {
            "id": 1234,
            "subject": "Printer on fire",
            "status": "open",
            "category": "Hardware",
            "submitter": "jane@example.com",
            "subscribers": ["jane@example.com"],
            "message_ids": ["<abc@example.com>"],
        }
    ],
}

DESIGN_MD = (
    Path(os.environ.get("HELPDESK_MAIL_SHARED", Path(__file__).resolve().parents[3] / "shared"))
    / "DESIGN.md"
)

KEY = ReceiptKey(mailbox="support", message_id="<m1@example.com>", content_sha256="ab" * 32)


def create_ticket(
    subject: str = "Printer on fire",
    submitter: str = "jane@example.com",
    message_id: str | None = "<m1@example.com>",
    subscribers: tuple[str, ...] = ("jane@example.com",),
) -> CreateTicket:
    return CreateTicket(
        subject=subject,
        submitter=submitter,
        body_text="It is burning.",
        body_html="<p>It is burning.</p>",
        category="Hardware",
        subscribers=subscribers,
        attachments=(Attachment("photo.jpg", "image/jpeg", 3, b"jpg"),),
        message_id=message_id,
    )


def add_comment(
    ticket_id: int | None, author: str = "jane@example.com", message_id: str | None = None
) -> AddComment:
    return AddComment(
        ticket_id=ticket_id,
        author=author,
        body_text="Still burning.",
        body_html=None,
        techs_only=False,
        attachments=(),
        message_id=message_id,
    )


def state_of(storage: InMemoryStorage) -> dict[str, Any]:
    """Everything a commit may change, as plain values."""
    return storage.snapshot()


@pytest.fixture
def storage() -> InMemoryStorage:
    s = InMemoryStorage()
    s.load_state(DESIGN_STATE)
    return s


# --- the protocols ---


def test_in_memory_classes_satisfy_their_protocols() -> None:
    storage: Storage = InMemoryStorage()
    reader: PlanReader = InMemoryStorage()
    domain: Domain = InMemoryStorage()
    books: Bookkeeping = InMemoryStorage()
    transport: MailboxTransport = InMemoryMailbox()
    sender: SendTransport = Outbox()
    resolver: Resolver = InMemoryResolver()
    clock: Clock = ManualClock()
    random_source: RandomSource = SeededRandom()
    assert isinstance(storage, Storage)
    assert reader is not None and domain is not None and books is not None
    assert isinstance(clock, Clock)
    assert isinstance(random_source, RandomSource)
    assert not isinstance(object(), Storage)
    assert not isinstance(Outbox(), Clock)
    assert transport is not None and sender is not None and resolver is not None


# --- load_state and the reader ---


def test_load_state_with_the_design_example(storage: InMemoryStorage) -> None:
    tech = storage.user("tech@acme.test")
    assert tech is not None
    assert tech.name == "Tess Tech"
    assert tech.role is Role.TECHNICIAN
    assert tech.categories == frozenset({"Hardware"})
    assert tech.is_staff
    ticket = storage.ticket(1234)
    assert ticket is not None
    assert ticket.subject == "Printer on fire"
    assert ticket.status is TicketStatus.OPEN
    assert ticket.category == "Hardware"
    assert ticket.submitter == "jane@example.com"
    assert ticket.subscribers == ("jane@example.com",)
    assert ticket.message_ids == ("<abc@example.com>",)
    assert storage.ticket_for_message_id("<abc@example.com>") == 1234
    assert list(storage.staff()) == [tech]


@pytest.mark.skipif(not DESIGN_MD.exists(), reason="../shared/DESIGN.md is not here")
def test_design_state_example_is_the_one_in_design_md() -> None:
    found = re.findall(r"```json\n(.*?)```", DESIGN_MD.read_text(encoding="utf-8"), re.S)
    states = [json.loads(b) for b in found if '"tickets"' in b]
    assert states == [DESIGN_STATE]


def test_load_state_ignores_extra_keys_and_defaults_missing_ones() -> None:
    s = InMemoryStorage()
    s.load_state(
        {
            "users": [{"email": "Jane@Example.com", "shoe_size": 38}],
            "tickets": [{"id": "7", "colour": "red"}],
            "kb_articles": [{"id": 1, "title": "Printers", "body": "Turn it off and on."}],
            "something_else": [],
        }
    )
    jane = s.user("jane@example.com")
    assert jane == User("jane@example.com")
    assert jane is not None and jane.role is Role.USER
    ticket = s.ticket(7)
    assert ticket is not None
    assert (ticket.subject, ticket.status, ticket.priority) == ("", TicketStatus.OPEN, "normal")
    assert ticket.subscribers == () and ticket.message_ids == ()
    article = s.kb_article(1)
    assert article is not None and article.title == "Printers"


def test_load_state_rejects_bad_enum_values() -> None:
    with pytest.raises(ValueError):
        InMemoryStorage().load_state({"users": [{"email": "a@b.c", "role": "boss"}]})
    with pytest.raises(ValueError):
        InMemoryStorage().load_state({"tickets": [{"id": 1, "status": "pending"}]})


def test_new_tickets_get_ids_after_loaded_ones(storage: InMemoryStorage) -> None:
    outcome = storage.commit([create_ticket()], None)
    assert outcome.ticket_id == 1235


def test_first_ticket_id() -> None:
    s = InMemoryStorage(first_ticket_id=100)
    assert s.commit([create_ticket()], None).ticket_id == 100
    assert s.commit([create_ticket()], None).ticket_id == 101


def test_user_lookup_is_case_insensitive(storage: InMemoryStorage) -> None:
    assert storage.user("TECH@acme.TEST") is storage.user("tech@acme.test")
    assert storage.user(" <tech@acme.test> ") is not None
    assert storage.user("nobody@acme.test") is None


def test_staff_are_technicians_and_admins() -> None:
    s = InMemoryStorage()
    admin = s.add_user(User("boss@acme.test", role=Role.ADMIN))
    tech = s.add_user(User("tech@acme.test", role=Role.TECHNICIAN))
    s.add_user(User("jane@example.com"))
    assert sorted(u.email for u in s.staff()) == sorted([admin.email, tech.email])


def test_add_user_keeps_a_password() -> None:
    s = InMemoryStorage()
    s.add_user(User("Jane@Example.com"), password="pw")
    assert s.passwords == {"jane@example.com": "pw"}
    s.add_user(User("joe@example.com"))
    assert "joe@example.com" not in s.passwords


def test_ticket_for_message_id(storage: InMemoryStorage) -> None:
    assert storage.ticket_for_message_id("  <abc@example.com> ") == 1234
    assert storage.ticket_for_message_id("<other@example.com>") is None
    storage.commit([add_comment(1234, message_id="<reply@example.com>")], None)
    assert storage.ticket_for_message_id("<reply@example.com>") == 1234
    outcome = storage.commit([create_ticket(message_id="<new@example.com>")], None)
    assert storage.ticket_for_message_id("<new@example.com>") == outcome.ticket_id


def test_comments_are_a_snapshot(storage: InMemoryStorage) -> None:
    storage.commit([add_comment(1234)], None)
    comments = storage.comments(1234)
    assert isinstance(comments, tuple)
    assert [c.body_text for c in comments] == ["Still burning."]
    storage.commit([add_comment(1234)], None)
    assert len(comments) == 1
    assert len(storage.comments(1234)) == 2
    assert storage.comments(999) == ()


def test_add_ticket_with_comments() -> None:
    s = InMemoryStorage()
    when = datetime(2026, 1, 1, tzinfo=UTC)
    s.add_ticket(
        Ticket(5, "Hi", "jane@example.com"),
        [Comment(5, "jane@example.com", "first", when), Comment(5, "tech@acme.test", "2nd", when)],
    )
    assert [c.body_text for c in s.comments(5)] == ["first", "2nd"]


def test_search_kb() -> None:
    s = InMemoryStorage()
    printers = s.add_kb_article(KBArticle(1, "Printer jams", body="Open the printer tray."))
    fire = s.add_kb_article(KBArticle(2, "Printer fire", body="Call the fire brigade."))
    s.add_kb_article(KBArticle(3, "Passwords", body="Use the reset link."))
    assert s.search_kb("My printer is on fire!", 5) == (fire, printers)
    assert s.search_kb("My printer is on fire!", 1) == (fire,)
    assert s.search_kb("printer", 0) == ()
    assert s.search_kb("is on my a the", 5) == ()  # short words do not count
    assert s.search_kb("Nothing matches here", 5) == ()
    assert s.search_kb("PRINTER, JAMS.", 5) == (printers, fire)


def test_suppression_expires() -> None:
    s = InMemoryStorage()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    s.suppress("Bounce@Example.com", now + timedelta(days=7), "hard bounce")
    assert s.is_suppressed("bounce@example.com", now)
    assert s.is_suppressed("BOUNCE@example.com", now + timedelta(days=6, hours=23))
    assert not s.is_suppressed("bounce@example.com", now + timedelta(days=7))
    assert not s.is_suppressed("other@example.com", now)


def test_later_suppression_wins() -> None:
    s = InMemoryStorage()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    s.suppress("a@example.com", now + timedelta(days=7), "hard")
    s.suppress("a@example.com", now + timedelta(days=1), "soft")
    assert s.suppressed["a@example.com"] == (now + timedelta(days=7), "hard")
    s.suppress("a@example.com", now + timedelta(days=30), "again")
    assert s.is_suppressed("a@example.com", now + timedelta(days=20))


def test_notification_counts() -> None:
    s = InMemoryStorage()
    t0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
    s.record_notification(["ticket:1", "to:a@example.com"], t0)
    s.record_notification(["ticket:1"], t0 + timedelta(minutes=5))
    s.record_notification(["ticket:2"], t0 + timedelta(minutes=10))
    assert s.notifications_since("ticket:1", t0) == 2
    assert s.notifications_since("ticket:1", t0 + timedelta(minutes=1)) == 1
    assert s.notifications_since("ticket:1", t0 + timedelta(minutes=5)) == 1  # at: counted
    assert s.notifications_since("to:a@example.com", t0) == 1
    assert s.notifications_since("ticket:3", t0) == 0


def test_mailbox_state() -> None:
    s = InMemoryStorage()
    assert s.mailbox_state("support") == MailboxState()
    assert s.mailbox_state("support").consecutive_failures == 0
    assert not s.mailbox_state("support").disabled
    state = MailboxState(consecutive_failures=5, disabled=True, last_error="timeout")
    s.save_mailbox_state("support", state)
    assert s.mailbox_state("support") == state
    assert s.mailbox_state("sales") == MailboxState()


def test_poison_records() -> None:
    s = InMemoryStorage()
    assert s.poison_records() == ()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    first = PoisonRecord(KEY, "support", "1", b"raw 1", "boom", at)
    second = PoisonRecord(KEY, "support", "2", b"raw 2", "bang", at + timedelta(minutes=1))
    s.record_poison(first)
    s.record_poison(second)
    assert s.poison_records() == (first, second)


# --- commit: each action ---


def test_commit_create_user_and_ticket() -> None:
    s = InMemoryStorage()
    outcome = s.commit([CreateUser("Jane@Example.com", "Jane Doe", "s3cret"), create_ticket()], KEY)
    assert outcome == CommitOutcome(ticket_id=1, created_users=("jane@example.com",))
    assert s.user("jane@example.com") == User("jane@example.com", name="Jane Doe")
    assert s.passwords["jane@example.com"] == "s3cret"
    ticket = s.ticket(1)
    assert ticket is not None
    assert ticket.subject == "Printer on fire"
    assert ticket.submitter == "jane@example.com"
    assert ticket.body_text == "It is burning."
    assert ticket.body_html == "<p>It is burning.</p>"
    assert ticket.category == "Hardware"
    assert ticket.subscribers == ("jane@example.com",)
    assert ticket.attachments[0].filename == "photo.jpg"
    assert ticket.message_ids == ("<m1@example.com>",)
    assert ticket.via == "email"
    assert s.is_processed(KEY)
    assert s.commits == [(CreateUser("Jane@Example.com", "Jane Doe", "s3cret"), create_ticket())]


def test_create_user_never_replaces_a_known_user() -> None:
    s = InMemoryStorage()
    boss = s.add_user(User("boss@acme.test", name="The Boss", role=Role.ADMIN), "old")
    outcome = s.commit([CreateUser("Boss@ACME.test", "Impostor", "new")], None)
    assert outcome.created_users == ()
    assert s.user("boss@acme.test") == boss
    assert s.passwords["boss@acme.test"] == "old"


def test_create_ticket_without_message_id() -> None:
    s = InMemoryStorage()
    s.commit([create_ticket(message_id=None)], None)
    ticket = s.ticket(1)
    assert ticket is not None and ticket.message_ids == ()


def test_add_comment_to_an_existing_ticket(storage: InMemoryStorage) -> None:
    outcome = storage.commit(
        [
            AddComment(
                ticket_id=1234,
                author="Tech@Acme.test",
                body_text="On my way.",
                body_html="<p>On my way.</p>",
                techs_only=True,
                attachments=(Attachment("a.txt"),),
                message_id="<r1@acme.test>",
            )
        ],
        None,
    )
    assert outcome.ticket_id == 1234
    assert outcome.comment_id == 1
    [comment] = storage.comments(1234)
    assert comment.id == 1
    assert comment.ticket_id == 1234
    assert comment.author == "tech@acme.test"
    assert comment.techs_only is True
    assert comment.body_html == "<p>On my way.</p>"
    # reads are light: the file comes back with the storage's id and without its bytes
    assert comment.attachments == (Attachment("a.txt", id="f1"),)
    assert storage.attachment_content(comment.attachments[0]) == b""
    ticket = storage.ticket(1234)
    assert ticket is not None
    assert ticket.message_ids == ("<abc@example.com>", "<r1@acme.test>")
    second = storage.commit([add_comment(1234)], None)
    assert second.comment_id == 2


def test_actions_without_a_ticket_id_go_to_the_ticket_just_created() -> None:
    s = InMemoryStorage()
    outcome = s.commit(
        [
            create_ticket(),
            add_comment(None),
            AddSubscribers(None, ("Boss@Acme.test", "jane@example.com")),
        ],
        None,
    )
    assert outcome.ticket_id == 1
    assert outcome.comment_id == 1
    ticket = s.ticket(1)
    assert ticket is not None
    assert ticket.subscribers == ("jane@example.com", "boss@acme.test")  # deduplicated
    assert [c.ticket_id for c in s.comments(1)] == [1]


def test_add_subscribers_to_an_existing_ticket(storage: InMemoryStorage) -> None:
    outcome = storage.commit([AddSubscribers(1234, ("cc@example.com",))], None)
    assert outcome.ticket_id == 1234
    ticket = storage.ticket(1234)
    assert ticket is not None
    assert ticket.subscribers == ("jane@example.com", "cc@example.com")


def test_remove_subscriber(storage: InMemoryStorage) -> None:
    storage.commit([AddSubscribers(1234, ("cc@example.com",))], None)
    outcome = storage.commit([RemoveSubscriber(1234, "Jane@Example.COM")], None)
    assert outcome.ticket_id == 1234
    ticket = storage.ticket(1234)
    assert ticket is not None
    assert ticket.subscribers == ("cc@example.com",)
    storage.commit([RemoveSubscriber(1234, "nobody@example.com")], None)  # not there: no-op
    assert storage.ticket(1234) == ticket


def test_close_and_reopen(storage: InMemoryStorage) -> None:
    outcome = storage.commit([CloseTicket(1234, by="tech@acme.test")], None)
    assert outcome.ticket_id == 1234
    ticket = storage.ticket(1234)
    assert ticket is not None and ticket.is_closed
    storage.commit([ReopenTicket(1234, by="jane@example.com")], None)
    ticket = storage.ticket(1234)
    assert ticket is not None and ticket.status is TicketStatus.OPEN


def test_suppress_recipients_action() -> None:
    s = InMemoryStorage()
    until = datetime(2026, 1, 8, tzinfo=UTC)
    s.commit(
        [SuppressRecipients(("A@example.com", "b@example.com"), False, "550 no such user", until)],
        None,
    )
    assert s.suppressed == {
        "a@example.com": (until, "550 no such user"),
        "b@example.com": (until, "550 no such user"),
    }
    assert s.is_suppressed("a@example.com", until - timedelta(seconds=1))


def test_discard_changes_nothing_but_records_the_key(storage: InMemoryStorage) -> None:
    before = state_of(storage)
    outcome = storage.commit([Discard("bounce")], KEY)
    assert outcome == CommitOutcome()
    after = state_of(storage)
    assert after["processed"] == before["processed"] | {KEY.as_string()}
    assert after["commits"] == [(Discard("bounce"),)]
    for name in ("users_by_email", "tickets", "ticket_comments", "suppressed"):
        assert after[name] == before[name]


def test_empty_commit() -> None:
    s = InMemoryStorage()
    assert s.commit([], KEY) == CommitOutcome()
    assert s.is_processed(KEY)


# --- commit: de-duplication and atomicity ---


def test_duplicate_receipt_key_applies_nothing(storage: InMemoryStorage) -> None:
    first = storage.commit([create_ticket()], KEY)
    assert first.duplicate is False
    before = state_of(storage)
    again = storage.commit([create_ticket(), add_comment(1234)], KEY)
    assert again == CommitOutcome(duplicate=True)
    assert state_of(storage) == before


def test_receipt_keys_differ_by_each_part(storage: InMemoryStorage) -> None:
    storage.commit([], KEY)
    assert storage.is_processed(ReceiptKey("support", "<m1@example.com>", "ab" * 32))
    assert not storage.is_processed(ReceiptKey("sales", "<m1@example.com>", "ab" * 32))
    assert not storage.is_processed(ReceiptKey("support", None, "ab" * 32))
    assert not storage.is_processed(ReceiptKey("support", "<m1@example.com>", "cd" * 32))


def test_commit_without_key_is_never_a_duplicate() -> None:
    s = InMemoryStorage()
    assert s.commit([create_ticket()], None).ticket_id == 1
    assert s.commit([create_ticket()], None).ticket_id == 2
    assert s.processed == set()


@pytest.mark.parametrize(
    "actions",
    [
        [add_comment(999)],
        [add_comment(None)],  # no ticket created in this commit
        [CreateUser("new@example.com", "New", "pw"), create_ticket(), add_comment(999)],
        [create_ticket(), add_comment(None), CloseTicket(999, "x@example.com")],
        [
            SuppressRecipients(("s@example.com",), True, "full", EPOCH + timedelta(days=1)),
            AddSubscribers(1234, ("cc@example.com",)),
            RemoveSubscriber(999, "jane@example.com"),
        ],
        [CloseTicket(1234, "tech@acme.test"), ReopenTicket(4321, "jane@example.com")],
    ],
)
def test_failing_action_rolls_back_the_whole_commit(
    storage: InMemoryStorage, actions: list[Action]
) -> None:
    tickets = storage.tickets  # a reference a test might hold on to
    before = state_of(storage)
    with pytest.raises(KeyError):
        storage.commit(actions, KEY)
    assert state_of(storage) == before
    assert not storage.is_processed(KEY)
    assert storage.tickets is tickets  # restored in place
    # and the same email can be committed once the problem is gone
    assert storage.commit([create_ticket()], KEY).ticket_id == 1235


def test_fail_next_commit_raises_once_and_changes_nothing(storage: InMemoryStorage) -> None:
    storage.fail_next_commit = RuntimeError("database is locked")
    before = state_of(storage)
    with pytest.raises(RuntimeError, match="database is locked"):
        storage.commit([create_ticket()], KEY)
    assert state_of(storage) == before
    assert storage.fail_next_commit is None
    assert storage.commit([create_ticket()], KEY).ticket_id == 1235


def test_duplicate_is_reported_before_an_injected_failure(storage: InMemoryStorage) -> None:
    storage.commit([], KEY)
    storage.fail_next_commit = RuntimeError("boom")
    assert storage.commit([create_ticket()], KEY).duplicate
    assert storage.fail_next_commit is not None  # still armed for the next real commit


# --- Outbox ---


def make_message(to: str, cc: str | None = None, subject: str = "Hi") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme Support <support@acme.test>"
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message.set_content("Hello")
    return message


def test_outbox_collects_sent_messages() -> None:
    outbox = Outbox()
    assert len(outbox) == 0
    first = make_message("Jane <Jane@Example.com>", cc="Joe <joe@example.com>, x@example.com")
    second = make_message("boss@acme.test")
    outbox.send(first)
    outbox.send(second)
    assert len(outbox) == 2
    assert outbox.messages == [first, second]
    assert outbox.recipients() == [
        "jane@example.com",
        "joe@example.com",
        "x@example.com",
        "boss@acme.test",
    ]
    outbox.clear()
    assert len(outbox) == 0
    assert outbox.recipients() == []


def test_outbox_fail_next_send_is_one_shot() -> None:
    outbox = Outbox()
    outbox.fail_next_send = send_failure()
    with pytest.raises(SendError, match="451"):
        outbox.send(make_message("jane@example.com"))
    assert outbox.messages == []
    outbox.send(make_message("jane@example.com"))
    assert len(outbox) == 1


# --- InMemoryMailbox ---

SUPPORT = MailboxAccount(name="support", host="imap.acme.test")


def test_deliver_and_list() -> None:
    mailbox = InMemoryMailbox()
    uid1 = mailbox.deliver(b"one", account="support")
    uid2 = mailbox.deliver(b"two", account="support")
    mailbox.deliver(b"other", account="sales")
    mailbox.deliver(b"spam", account="support", folder="Junk")
    assert uid1 != uid2
    assert mailbox.messages("support") == [b"one", b"two"]
    assert mailbox.messages("sales") == [b"other"]
    assert mailbox.messages("support", "Junk") == [b"spam"]
    assert mailbox.messages("nobody") == []
    with mailbox.open(SUPPORT) as session:
        assert list(session.list_uids()) == [uid1, uid2]
        assert dict(session.fetch([uid1, uid2])) == {uid1: b"one", uid2: b"two"}


def test_default_account_name() -> None:
    mailbox = InMemoryMailbox()
    mailbox.deliver(b"raw")
    assert mailbox.messages() == [b"raw"]
    with mailbox.open(MailboxAccount(name="default", host="h")) as session:
        assert len(session.list_uids()) == 1


def test_fetch_is_batched_and_counts_round_trips() -> None:
    mailbox = InMemoryMailbox(batch_size=10)
    uids = [mailbox.deliver(f"mail {i}".encode(), account="support") for i in range(25)]
    session = mailbox.open(SUPPORT)
    assert mailbox.round_trips == 1  # the open
    listed = session.list_uids()
    assert mailbox.round_trips == 2
    fetched = session.fetch(listed)
    assert mailbox.round_trips == 2  # lazy: nothing fetched yet
    got = list(fetched)
    assert [uid for uid, _ in got] == uids
    assert got[24] == (uids[24], b"mail 24")
    assert mailbox.round_trips == 2 + 3  # 25 messages in batches of 10
    session.close()


def test_fetch_skips_unknown_uids() -> None:
    mailbox = InMemoryMailbox()
    uid = mailbox.deliver(b"raw", account="support")
    with mailbox.open(SUPPORT) as session:
        assert list(session.fetch(["nope", uid])) == [(uid, b"raw")]


def test_delete_takes_effect_only_on_close() -> None:
    mailbox = InMemoryMailbox()
    uid1 = mailbox.deliver(b"one", account="support")
    uid2 = mailbox.deliver(b"two", account="support")
    session = mailbox.open(SUPPORT)
    session.delete([uid1])
    assert mailbox.messages("support") == [b"one", b"two"]  # still on the server
    assert list(session.list_uids()) == [uid2]  # but hidden from this session
    session.close()
    assert mailbox.messages("support") == [b"two"]
    session.close()  # closing twice is harmless
    assert mailbox.messages("support") == [b"two"]


def test_session_dropped_without_close_deletes_nothing() -> None:
    mailbox = InMemoryMailbox()
    uid = mailbox.deliver(b"one", account="support")
    crashed = mailbox.open(SUPPORT)
    crashed.delete([uid])
    del crashed  # a crash: no QUIT
    assert mailbox.messages("support") == [b"one"]
    with mailbox.open(SUPPORT) as session:
        assert list(session.list_uids()) == [uid]


def test_context_manager_closes_and_commits_deletions() -> None:
    mailbox = InMemoryMailbox()
    uid = mailbox.deliver(b"one", account="support")
    with mailbox.open(SUPPORT) as session:
        session.delete([uid])
    assert session.closed
    assert mailbox.messages("support") == []


def test_move() -> None:
    mailbox = InMemoryMailbox()
    uid1 = mailbox.deliver(b"one", account="support")
    uid2 = mailbox.deliver(b"two", account="support")
    with mailbox.open(SUPPORT) as session:
        session.move([uid1, "nope"], "Processed")
        assert list(session.list_uids()) == [uid2]
    assert mailbox.messages("support") == [b"two"]
    assert mailbox.messages("support", "Processed") == [b"one"]


def test_fail_connect_is_a_queue() -> None:
    mailbox = InMemoryMailbox()
    mailbox.fail_connect = [MailboxError("timed out"), InMemoryMailbox.auth_failure()]
    with pytest.raises(MailboxError, match="timed out") as first:
        mailbox.open(SUPPORT)
    assert not isinstance(first.value, MailboxAuthError)
    with pytest.raises(MailboxAuthError, match="AUTHENTICATIONFAILED"):
        mailbox.open(SUPPORT)
    assert mailbox.fail_connect == []
    with mailbox.open(SUPPORT) as session:
        assert list(session.list_uids()) == []
    assert mailbox.round_trips == 4  # failed opens count too


def test_auth_failure_is_a_mailbox_error() -> None:
    error = InMemoryMailbox.auth_failure("nope")
    assert isinstance(error, MailboxAuthError)
    assert isinstance(error, MailboxError)
    assert str(error) == "nope"


def test_drop_after_fetches() -> None:
    mailbox = InMemoryMailbox(batch_size=2)
    uids = [mailbox.deliver(f"{i}".encode(), account="support") for i in range(6)]
    mailbox.drop_after_fetches = 1
    got: list[str] = []
    with mailbox.open(SUPPORT) as session, pytest.raises(MailboxError, match="dropped"):
        for uid, _ in session.fetch(uids):
            got.append(uid)
    assert got == uids[:2]  # the first batch arrived, the second did not


def test_drop_after_zero_fetches() -> None:
    mailbox = InMemoryMailbox()
    uid = mailbox.deliver(b"x", account="support")
    mailbox.drop_after_fetches = 0
    with mailbox.open(SUPPORT) as session, pytest.raises(MailboxError):
        list(session.fetch([uid]))


def test_disabled_account_cannot_be_opened() -> None:
    mailbox = InMemoryMailbox()
    disabled = MailboxAccount(name="support", host="imap.acme.test", enabled=False)
    with pytest.raises(MailboxError, match="disabled"):
        mailbox.open(disabled)


# --- ManualClock ---


def test_manual_clock() -> None:
    clock = ManualClock()
    assert clock.now() == EPOCH == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert clock.now() == clock.now()  # it does not move by itself
    assert clock.advance(minutes=5) == EPOCH + timedelta(minutes=5)
    assert clock.advance(timedelta(hours=1)) == EPOCH + timedelta(hours=1, minutes=5)
    assert clock.advance(timedelta(0)) == clock.now()
    assert clock.now() == EPOCH + timedelta(hours=1, minutes=5)


def test_manual_clock_does_not_go_backwards() -> None:
    clock = ManualClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(minutes=-5)
    assert clock.now() == EPOCH


def test_manual_clock_is_timezone_aware_only() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=timezone(timedelta(hours=2))))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 6, 2))
    later = datetime(2026, 6, 2, tzinfo=UTC)
    clock.set(later)
    assert clock.now() == later
    assert clock.now().tzinfo is not None


# --- SeededRandom ---


def test_seeded_random_is_deterministic() -> None:
    a, b = SeededRandom(42), SeededRandom(42)
    assert [a.token_bytes(16) for _ in range(3)] == [b.token_bytes(16) for _ in range(3)]
    assert SeededRandom(1).token_bytes(16) != SeededRandom(2).token_bytes(16)
    assert SeededRandom().token_bytes(8) == SeededRandom(0).token_bytes(8)
    r = SeededRandom(7)
    assert len(r.token_bytes(0)) == 0
    assert len(r.token_bytes(33)) == 33
    assert r.token_bytes(16) != r.token_bytes(16)  # successive draws differ


# --- InMemoryResolver ---


def test_resolver_records() -> None:
    resolver = InMemoryResolver({("Acme.TEST.", "txt"): ["v=spf1 a -all"]})
    resolver.add("acme.test", "A", "192.0.2.1", "192.0.2.2")
    assert resolver.query("acme.test", "TXT") == ("v=spf1 a -all",)
    assert resolver.query("ACME.test.", "txt") == ("v=spf1 a -all",)
    assert resolver.query("acme.test", "a") == ("192.0.2.1", "192.0.2.2")
    assert resolver.query("acme.test", "MX") == ()
    assert resolver.query("nowhere.test", "TXT") == ()
    assert resolver.queries[:2] == [("acme.test", "TXT"), ("acme.test", "TXT")]
    assert len(resolver.queries) == 5


def test_resolver_temporary_failures() -> None:
    resolver = InMemoryResolver({("acme.test", "TXT"): ["v=spf1 -all"]})
    resolver.temporary_failures.add(("acme.test", "TXT"))
    with pytest.raises(TemporaryDnsError):
        resolver.query("Acme.Test", "txt")
    assert resolver.query("acme.test", "A") == ()
    resolver.temporary_failures.clear()
    assert resolver.query("acme.test", "TXT") == ("v=spf1 -all",)


def test_commits_are_dated_by_the_storage_clock() -> None:
    clock = ManualClock()
    storage = InMemoryStorage(clock=clock)
    first = storage.commit([create_ticket()], None)
    clock.advance(minutes=90)
    storage.commit([add_comment(first.ticket_id)], None)
    assert first.ticket_id is not None
    ticket = storage.ticket(first.ticket_id)
    assert ticket is not None and ticket.created_at == ManualClock().now()
    [comment] = storage.comments(first.ticket_id)
    assert comment.created_at == clock.now()
