"""Sender authentication from our own receiving server's Authentication-Results (issue 14.1).

The headers below are written in the real forms of Postfix with OpenDMARC, Gmail and
Microsoft 365 (our own text, their syntax).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from helpdesk_mail import (
    IncomingSettings,
    InMemoryStorage,
    ManualClock,
    OutgoingSettings,
    Role,
    SeededRandom,
    Settings,
    SettingsError,
    Ticket,
    User,
    process_email,
)
from helpdesk_mail.inbound.authentication import authenticate
from helpdesk_mail.inbound.result import DiscardReason, Verdict

POSTFIX_PASS = "mx.acme.test; dmarc=pass (p=reject dis=none) header.from=example.com"
POSTFIX_FAIL = "mx.acme.test; dmarc=fail (p=none dis=none) header.from=example.com"
GMAIL = (
    "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=Ab12;"
    "\r\n       spf=pass (google.com: domain of jane@example.com designates 192.0.2.7 as"
    " permitted sender) smtp.mailfrom=jane@example.com;\r\n       dmarc=pass"
    " (p=NONE sp=NONE dis=NONE) header.from=example.com"
)
MICROSOFT = (
    "spf=pass (sender IP is 192.0.2.9) smtp.mailfrom=example.com; dkim=pass (signature"
    " was verified) header.d=example.com;dmarc=pass action=none header.from=example.com;"
    "compauth=pass reason=100"
)
SPF_ONLY_MISALIGNED = (
    "mx.acme.test; spf=pass smtp.mailfrom=bounces@mailer.example.net; dkim=none; dmarc=none"
)
DKIM_ALIGNED_SUBDOMAIN = "mx.acme.test; dkim=pass header.d=mail.example.com; dmarc=none"

JANE = "jane@example.com"


def headers(*results: str) -> list[tuple[str, str]]:
    return [("Authentication-Results", r) for r in results] + [("From", JANE)]


@pytest.mark.parametrize(
    ("results", "ids", "ok"),
    [
        ((POSTFIX_PASS,), ("mx.acme.test",), True),
        ((POSTFIX_FAIL,), ("mx.acme.test",), False),
        ((GMAIL,), ("mx.google.com",), True),
        ((MICROSOFT,), ("exchange-online",), True),
        ((SPF_ONLY_MISALIGNED,), ("mx.acme.test",), False),
        ((DKIM_ALIGNED_SUBDOMAIN,), ("mx.acme.test",), True),
        ((GMAIL,), ("mx.acme.test",), False),  # someone else's server: ignored
        ((), ("mx.acme.test",), False),
        (("mx.acme.test; this is not ; valid ===",), ("mx.acme.test",), False),
        # a forged second header below ours cannot turn our fail into a pass
        ((POSTFIX_FAIL, POSTFIX_PASS), ("mx.acme.test",), False),
    ],
)
def test_the_verdict(results: tuple[str, ...], ids: tuple[str, ...], ok: bool) -> None:
    verdict = authenticate(headers(*results), JANE, ids)
    assert verdict.authenticated is ok, verdict.evidence
    assert verdict.evidence


def mail(subject: str, sender: str, *results: str, body: str = "Hello.") -> bytes:
    lines = [f"Authentication-Results: {r}" for r in results]
    lines += [
        "Received: from mail.example.com by mx.acme.test",
        f"From: {sender}",
        "To: support@acme.test",
        f"Subject: {subject}",
        "Message-ID: <r1@example.com>",
        "In-Reply-To: <t7@example.com>",
        "",
        body,
    ]
    return "\r\n".join(lines).encode()


def setup(mode: str | None = None) -> tuple[Settings, InMemoryStorage]:
    incoming: dict[str, object] = {
        "helpdesk_addresses": ("support@acme.test",),
        "authserv_ids": ("mx.acme.test",),
    }
    if mode is not None:
        incoming["sender_authentication"] = mode
    settings = Settings(
        incoming=IncomingSettings(**incoming),  # type: ignore[arg-type]
        outgoing=OutgoingSettings(from_address="support@acme.test", secret_key="k"),
    )
    storage = InMemoryStorage()
    storage.add_user(User(JANE, "Jane"))
    storage.add_user(User("tess@acme.test", "Tess", Role.TECHNICIAN))
    storage.add_ticket(
        Ticket(7, "Printer", JANE, subscribers=(JANE,), message_ids=("<t7@example.com>",))
    )
    return settings, storage


def run(raw: bytes, settings: Settings, storage: InMemoryStorage):  # type: ignore[no-untyped-def]
    return process_email(raw, settings, storage, ManualClock(), random=SeededRandom(0))


def test_commands_need_an_authenticated_sender_once_configured() -> None:
    settings, storage = setup()  # authserv_ids set: `commands` by default
    forged = run(mail("Re: Printer #close#", JANE, POSTFIX_FAIL, POSTFIX_PASS), settings, storage)
    assert forged.verdict is Verdict.ADD_COMMENT and forged.commands == ()
    assert "#close# ignored: the sender is not authenticated (dmarc=fail" in forged.detail
    real = run(mail("Re: Printer #close#", JANE, POSTFIX_PASS), settings, storage)
    assert real.commands == ("close",)


def test_a_technicians_address_that_nothing_authenticated_does_not_speak_to_customers() -> None:
    settings, storage = setup()
    raw = mail("Re: Printer", "tess@acme.test", "mx.acme.test; dmarc=fail header.from=acme.test")
    result = run(raw, settings, storage)
    [comment] = [a for a in result.actions if type(a).__name__ == "AddComment"]
    assert comment.techs_only and "kept techs-only" in result.detail
    assert result.commands == ()


def test_all_holds_new_tickets_and_replies_from_unauthenticated_senders() -> None:
    settings, storage = setup("all")
    result = run(mail("Re: Printer", JANE, POSTFIX_FAIL), settings, storage)
    assert (result.verdict, result.reason) == (Verdict.DISCARD, DiscardReason.UNREGISTERED)
    assert result.hold and "not authenticated" in result.hold and result.actions == ()
    assert run(mail("Re: Printer", JANE, POSTFIX_PASS), settings, storage).ticket_id == 7


def test_off_is_todays_behaviour() -> None:
    settings, storage = setup("off")
    assert run(mail("Re: Printer #close#", JANE), settings, storage).commands == ("close",)
    # without authserv_ids nothing is checked either
    plain = Settings(incoming=IncomingSettings(helpdesk_addresses=("support@acme.test",)))
    assert run(mail("Re: Printer #close#", JANE), plain, storage).commands == ("close",)


def test_commands_or_all_without_an_authserv_id_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="authserv_ids"):
        IncomingSettings(sender_authentication="commands")  # type: ignore[arg-type]


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Authentication-Results", "From"]), st.text())))
def test_any_header_text_gives_a_verdict_never_an_exception(
    pairs: list[tuple[str, str]],
) -> None:
    verdict = authenticate(pairs, JANE, ("mx.acme.test",))
    assert verdict.evidence


def test_an_authenticated_new_sender_counts_as_known_for_the_confirmation() -> None:
    settings, storage = setup()
    new = mail(
        "Printer on fire", "new@example.com", POSTFIX_PASS.replace("example.com", "example.com")
    )
    raw = new.replace(b"In-Reply-To: <t7@example.com>\r\n", b"")
    [event] = run(raw, settings, storage).events
    assert event.sender_known  # type: ignore[union-attr]
    forged = raw.replace(b"dmarc=pass", b"dmarc=fail")
    [event] = run(forged, settings, storage).events
    assert not event.sender_known  # type: ignore[union-attr]
