"""The whole email side in one loop: mail in, ticket, notification out, reply back in.

Uses the pytest plugin's fixtures, as a host's test suite would.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses

from helpdesk_mail import (
    Deliverer,
    IncomingSettings,
    OutgoingSettings,
    Role,
    Settings,
    User,
    commit,
    process_email,
)
from helpdesk_mail.memory import InMemoryStorage, ManualClock, Outbox, SeededRandom
from helpdesk_mail.records import EventStatus

SETTINGS = Settings(
    incoming=IncomingSettings(
        helpdesk_addresses=("support@acme.test",), default_category="Hardware"
    ),
    outgoing=OutgoingSettings(
        from_address="support@acme.test",
        from_name="Acme Support",
        reply_to="support@acme.test",
        helpdesk_url="https://helpdesk.acme.test",
        secret_key="round-trip-secret",
    ),
)


def receive(
    raw: bytes, storage: InMemoryStorage, clock: ManualClock, rng: SeededRandom, outbox: Outbox
) -> int | None:
    """What a host does with one incoming email: process; commit the actions and the events
    (into the outbox) in one transaction; a deliverer sends the outbox's notifications."""
    result = process_email(raw, SETTINGS, storage, clock, random=rng)
    with storage.transaction() as unit:
        outcome = commit(unit, result.actions, events=result.events, at=clock.now())
    Deliverer(SETTINGS, storage, outbox, clock, rng).run_once()
    assert storage.outbox(EventStatus.PENDING) == ()
    return outcome.ticket_id


def reply_to(message: EmailMessage, sender: str, body: str, subject: str | None = None) -> bytes:
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(message["Reply-To"])
    reply["Subject"] = subject if subject is not None else f"Re: {message['Subject']}"
    reply["In-Reply-To"] = str(message["Message-ID"])
    reply["References"] = str(message["Message-ID"])
    reply["Message-ID"] = f"<reply-{len(body)}@example.com>"
    quoted = "\n".join(
        f"> {line}" for line in message.get_body(("plain",)).get_content().splitlines()
    )
    reply.set_content(f"{body}\n\nOn Mon, 5 Jan 2026, Acme Support wrote:\n{quoted}\n")
    return bytes(reply)


def recipients(message: EmailMessage) -> set[str]:
    return {
        a.lower() for _, a in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
    }


def test_mail_in_notification_out_reply_back_in(
    helpdesk_storage: InMemoryStorage,
    helpdesk_clock: ManualClock,
    helpdesk_random: SeededRandom,
    helpdesk_outbox: Outbox,
) -> None:
    storage, clock, rng, outbox = helpdesk_storage, helpdesk_clock, helpdesk_random, helpdesk_outbox
    storage.add_user(
        User(
            "tess@acme.test",
            name="Tess Tech",
            role=Role.TECHNICIAN,
            categories=frozenset({"Hardware"}),
        )
    )
    first = (
        b"From: Jane Doe <jane@example.com>\r\nTo: support@acme.test\r\n"
        b"Subject: Printer on fire\r\nMessage-ID: <first@example.com>\r\n\r\nIt is on fire.\r\n"
    )
    ticket_id = receive(first, storage, clock, rng, outbox)
    assert ticket_id is not None
    by_recipient = {frozenset(recipients(m)): m for m in outbox.messages}
    confirmation = by_recipient[frozenset({"jane@example.com"})]
    assert f"[#{ticket_id}]" in str(confirmation["Subject"])
    assert confirmation["Auto-Submitted"] == "auto-generated"
    assert frozenset({"tess@acme.test"}) in by_recipient  # the category's technician

    # Tess answers the technician notification; Jane gets it, Tess does not.
    clock.advance(minutes=10)
    outbox.clear()
    tech_reply = reply_to(
        by_recipient[frozenset({"tess@acme.test"})], "tess@acme.test", "Unplug it, please."
    )
    assert receive(tech_reply, storage, clock, rng, outbox) == ticket_id
    assert [recipients(m) for m in outbox.messages] == [{"jane@example.com"}]
    update = outbox.messages[0]

    # Jane replies to that notification with a subject of her own: the signed
    # Message-ID, not the subject, finds the ticket; only her new text is stored.
    clock.advance(minutes=10)
    outbox.clear()
    customer_reply = reply_to(update, "jane@example.com", "Done, it is out.", subject="thanks")
    assert receive(customer_reply, storage, clock, rng, outbox) == ticket_id
    comments = storage.comments(ticket_id)
    assert [(c.author, c.body_text) for c in comments] == [
        ("tess@acme.test", "Unplug it, please."),
        ("jane@example.com", "Done, it is out."),
    ]
    assert comments[1].created_at == clock.now()
    assert [recipients(m) for m in outbox.messages] == [{"tess@acme.test"}]


def test_a_forged_reply_cannot_reach_the_ticket(
    helpdesk_storage: InMemoryStorage,
    helpdesk_clock: ManualClock,
    helpdesk_random: SeededRandom,
    helpdesk_outbox: Outbox,
) -> None:
    storage, clock, rng, outbox = helpdesk_storage, helpdesk_clock, helpdesk_random, helpdesk_outbox
    first = (
        b"From: jane@example.com\r\nTo: support@acme.test\r\nSubject: Secret\r\n"
        b"Message-ID: <s@example.com>\r\n\r\nmy secret\r\n"
    )
    ticket_id = receive(first, storage, clock, rng, outbox)
    real = str(outbox.messages[0]["Message-ID"])
    forged = real.replace(f"hd.{ticket_id}.", f"hd.{ticket_id}.x", 1)
    mallory = (
        f"From: mallory@evil.example\r\nTo: support@acme.test\r\nSubject: Re: [#{ticket_id}] Secret"
        f"\r\nIn-Reply-To: {forged}\r\nMessage-ID: <m@evil.example>\r\n\r\nlet me in\r\n"
    ).encode()
    assert receive(mallory, storage, clock, rng, outbox) != ticket_id
    assert storage.comments(ticket_id) == ()
