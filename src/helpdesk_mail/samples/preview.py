"""Sample data for previewing templates (`helpdesk-mail render`, docs, golden tests).

`sample_storage()` is an in-memory helpdesk with one ticket (#1234, "Printer on
fire") that has a customer, a technician, three replies (one techs-only), custom
fields, attachments and a KB article; `sample_planned(kind)` is the email of each
kind about it, and `sample_settings()` the outgoing settings of "Acme Support".
Everything is fixed (clock, randomness), so previews are reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from ..events import (
    InboundFlood,
    KBArticleUpdated,
    MailboxAccountDisabled,
    MessageTooLarge,
    StaffAddressSuppressed,
    TicketClosed,
    TicketCreated,
    TicketMoved,
    TicketTaken,
    TicketUpdated,
    UserCreated,
)
from ..kinds import TemplateKind
from ..memory import InMemoryStorage, ManualClock, SeededRandom
from ..model import Attachment, Comment, CustomField, KBArticle, Role, Ticket, User, Visibility
from ..planned import PlannedEmail, Recipient
from ..settings import NotificationSettings, OutgoingSettings, Settings

__all__ = [
    "SAMPLES",
    "SAMPLE_NOW",
    "sample_clock",
    "sample_planned",
    "sample_random",
    "sample_settings",
    "sample_storage",
]

SAMPLE_NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
_T0 = datetime(2026, 1, 2, 14, 5, tzinfo=UTC)
CUSTOMER = "jane@example.com"
TECH = "tess@acme.test"
ADMIN = "alex@acme.test"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def sample_settings() -> Settings:
    """Settings of the sample helpdesk: Acme Support, links at https://helpdesk.acme.test."""
    return Settings(
        notifications=NotificationSettings(),
        outgoing=OutgoingSettings(
            from_address="support@acme.test",
            from_name="Acme Support",
            reply_to="support@acme.test",
            helpdesk_url="https://helpdesk.acme.test",
            secret_key="sample-secret-key",  # noqa: S106 - previews only
        ),
    )


def sample_clock() -> ManualClock:
    """A clock stopped at `SAMPLE_NOW`."""
    return ManualClock(SAMPLE_NOW)


def sample_random() -> SeededRandom:
    """Randomness with a fixed seed."""
    return SeededRandom(1234)


def sample_storage() -> InMemoryStorage:
    """An in-memory helpdesk holding the sample ticket, its people and a KB article."""
    storage = InMemoryStorage()
    storage.add_user(
        User(
            CUSTOMER,
            name="Jane Doe",
            first_name="Jane",
            last_name="Doe",
            username="jane",
            company="Example Corp",
            department="Finance",
            location="Berlin",
        )
    )
    storage.add_user(User("bob@example.com", name="Bob Roe", username="bob"))
    storage.add_user(
        User(TECH, name="Tess Tech", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    )
    storage.add_user(User(ADMIN, name="Alex Admin", role=Role.ADMIN))
    storage.add_kb_article(
        KBArticle(
            7,
            "Printer troubleshooting",
            category="Hardware",
            url="https://helpdesk.acme.test/kb/7",
            body="printer paper jam toner fire",
        )
    )
    ticket = Ticket(
        id=1234,
        subject="Printer on fire",
        submitter=CUSTOMER,
        category="Hardware",
        priority="High",
        assignee=TECH,
        subscribers=(CUSTOMER, "bob@example.com", TECH),
        custom_fields=(
            CustomField(1, "Asset tag", "PR-0042"),
            CustomField(2, "Internal cost centre", "CC-7", Visibility.TECHS),
        ),
        via="email",
        created_at=_T0,
        due_date=_T0 + timedelta(days=3),
        time_spent_minutes=95,
        body_text="The printer on floor 2 is smoking.\nPlease help!",
        body_html=(
            "<p>The printer on floor 2 is <b>smoking</b>.</p><p>Please help!</p>"
            '<p><img src="cid:photo1@example.com" alt="photo"></p>'
        ),
        attachments=(
            Attachment(
                "error-log.txt",
                "text/plain",
                size=2048,
                content=b"E42 fuser overheat\n",
                url="https://helpdesk.acme.test/files/1",
            ),
            Attachment(
                "photo.png",
                "image/png",
                size=len(PNG),
                content=PNG,
                inline=True,
                content_id="photo1@example.com",
            ),
        ),
        message_ids=("<CAF1234abc@mail.example.com>",),
    )
    comments = (
        Comment(
            1234,
            TECH,
            "Please unplug it and step away. I am on my way.",
            _T0 + timedelta(minutes=20),
            id=1,
        ),
        Comment(
            1234,
            TECH,
            "Fuser unit needs replacing; ordered.",
            _T0 + timedelta(minutes=50),
            id=2,
            techs_only=True,
        ),
        Comment(
            1234,
            CUSTOMER,
            "Thanks! It is unplugged.\nPhoto of the label attached.",
            _T0 + timedelta(hours=2),
            id=3,
            body_html=(
                "<div>Thanks! It is <i>unplugged</i>.</div>"
                "<div>Photo of the label attached.</div>"
                '<script>alert("x")</script>'
            ),
            attachments=(
                Attachment(
                    "label.jpg",
                    "image/jpeg",
                    size=35_000,
                    content=b"\xff\xd8\xff\xe0 sample jpeg \xff\xd9",
                    url="https://helpdesk.acme.test/files/2",
                ),
            ),
        ),
    )
    storage.add_ticket(ticket, comments)
    return storage


_CUSTOMER = Recipient(CUSTOMER, "Jane Doe", Role.USER, autologin=True)
_RATING_CUSTOMER = Recipient(CUSTOMER, "Jane Doe", Role.USER, autologin=True, rating_links=True)
_TECH = Recipient(TECH, "Tess Tech", Role.TECHNICIAN)
_ADMIN = Recipient(ADMIN, "Alex Admin", Role.ADMIN)
_NEW_USER = Recipient("bob@example.com", "Bob Roe")
_T = 1234
K = TemplateKind

# The sample email of each kind: one row per `TemplateKind` (tests/unit/test_tables.py
# checks there is one, and that together they show every event type).
# fmt: off
SAMPLES: Mapping[TemplateKind, PlannedEmail] = {
    K.TICKET_CONFIRMATION: PlannedEmail(
        K.TICKET_CONFIRMATION, TicketCreated(_T, CUSTOMER), (_CUSTOMER,), ticket_id=_T),
    K.NEW_TICKET: PlannedEmail(
        K.NEW_TICKET, TicketCreated(_T, CUSTOMER), (_TECH,), ticket_id=_T),
    K.TICKET_UPDATED: PlannedEmail(
        K.TICKET_UPDATED, TicketUpdated(_T, CUSTOMER, comment_id=3, has_attachments=True),
        (_TECH,), ticket_id=_T),
    K.TICKET_CLOSED: PlannedEmail(
        K.TICKET_CLOSED, TicketClosed(_T, TECH), (_RATING_CUSTOMER,), ticket_id=_T),
    K.TICKET_TAKEN: PlannedEmail(
        K.TICKET_TAKEN, TicketTaken(_T, TECH), (_ADMIN,), ticket_id=_T),
    K.TICKET_MOVED: PlannedEmail(
        K.TICKET_MOVED, TicketMoved(_T, ADMIN, "Network", "Hardware"), (_TECH,), ticket_id=_T),
    K.KB_ARTICLE_UPDATED: PlannedEmail(
        K.KB_ARTICLE_UPDATED, KBArticleUpdated(7, ADMIN), (_TECH,), include_attachments=False),
    K.WELCOME: PlannedEmail(
        K.WELCOME, UserCreated("bob@example.com", "k7Q-p2Zx-9fLm"), (_NEW_USER,),
        include_attachments=False),
    K.MAILBOX_DISABLED: PlannedEmail(
        K.MAILBOX_DISABLED,
        MailboxAccountDisabled("support-imap", 5, "[AUTHENTICATIONFAILED] Invalid credentials"),
        (_ADMIN,), include_attachments=False),
    K.MESSAGE_TOO_LARGE: PlannedEmail(
        K.MESSAGE_TOO_LARGE,
        MessageTooLarge("support-imap", CUSTOMER, 41_943_040, 26_214_400, "Scans of the invoices"),
        (Recipient(CUSTOMER, "Jane Doe", Role.USER),), include_attachments=False),
    K.STAFF_ADDRESS_SUPPRESSED: PlannedEmail(
        K.STAFF_ADDRESS_SUPPRESSED,
        StaffAddressSuppressed(TECH, "bounce (dsn_report)", "2026-01-12T09:30+00:00"),
        (_ADMIN,), include_attachments=False),
    K.INBOUND_FLOOD: PlannedEmail(
        K.INBOUND_FLOOD, InboundFlood("from:bulk@spam.example", 20, 10, "support-imap"),
        (_ADMIN,), include_attachments=False),
}
# fmt: on


def sample_planned(kind: TemplateKind | str) -> PlannedEmail:
    """The sample email of `kind` (to the customer, or to staff for staff-only kinds).

    Raises `ValueError` for a value that names no kind and `LookupError` for a kind
    without a sample (`SAMPLES`).
    """
    k = TemplateKind(kind)
    planned = SAMPLES.get(k)
    if planned is None:
        raise LookupError(f"no sample email of kind {k.value} in samples.preview.SAMPLES")
    return planned
