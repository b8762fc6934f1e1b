"""Replies to our own notifications are cut exactly at the reply marker (issue 14 item 6).

Every default notification (each kind, each recipient of the sample helpdesk) is
quoted the way Gmail, Outlook (desktop and web), Apple Mail (macOS and iOS) and
Thunderbird quote (`client_quoting`), in plain text and in HTML, top- and
bottom-posted, with HTML clients that keep the marker's class and id and clients that
keep none (then the marker lines alone find it); the new text comes back exactly.
"""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage

import pytest
from client_quoting import HTML_CLIENTS, PLAIN_CLIENTS, Original, Paragraphs, new_plain
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.inbound.quotes import reply_text_from_plain
from helpdesk_mail.inbound.quotes_html import reply_text_from_html
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.reply_marker import REPLY_MARKERS
from helpdesk_mail.samples.preview import (
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.settings import Settings


def _parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    page = msg.get_body(preferencelist=("html",))
    assert text is not None and page is not None
    return str(text.get_content()), str(page.get_content())


def _notifications(settings_: Settings) -> list[tuple[str, Original]]:
    found = []
    for kind in TemplateKind:
        messages = render_message(
            sample_planned(kind),
            None,
            settings_,
            sample_storage(),
            sample_clock(),
            sample_random(),
        )
        assert messages
        for msg in messages:
            text, page = _parts(msg)
            original = Original(text, page, to=str(msg["To"]), subject=str(msg["Subject"]))
            found.append((f"{kind.value}->{msg['To']}", original))
    return found


def _german() -> Settings:
    base = sample_settings()
    notifications = dataclasses.replace(base.notifications, reply_marker=REPLY_MARKERS["de"])
    return dataclasses.replace(base, notifications=notifications)


NOTIFICATIONS = _notifications(sample_settings()) + _notifications(_german())[:3]
WORDS = (
    "printer", "toner", "works", "again", "thanks", "please", "call", "me", "tomorrow",
    "the", "invoice", "is", "attached", "bitte", "danke", "merci", "grazie", "café",
    "naïve", "Größe", "日本語", "テスト", "Привет", "спасибо", "42", "2026", "ok", "yes",
    "A4", "paper", "jam", "still", "broken", "since", "Monday", "room", "B-12", "(urgent)",
    "100%", "e-mail", "&", "<tag>", "Fr.", "#1234", "reply", "above", "this", "line",
)  # fmt: skip
LINE = (
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6)
    .map(" ".join)
    # a line that is the phrase alone is another helpdesk's marker, by rule
    .filter(lambda line: not line.lower().startswith(("reply above this", "reply above the")))
)
PARAGRAPHS: st.SearchStrategy[Paragraphs] = st.lists(
    st.lists(LINE, min_size=1, max_size=3).map(tuple), min_size=1, max_size=3
).map(tuple)
FIXED: Paragraphs = (
    ("Thanks, the printer works again.", "I will reply above this line next time."),
    ("Jane",),
)
"""A customer's text that says "reply above this line" in a sentence: never cut."""


@pytest.mark.parametrize("bottom", [False, True], ids=["top", "bottom"])
@pytest.mark.parametrize("client", sorted(PLAIN_CLIENTS))
@pytest.mark.parametrize("notification", NOTIFICATIONS, ids=[n for n, _ in NOTIFICATIONS])
def test_every_plain_quoting_of_every_default_is_cut_exactly(
    notification: tuple[str, Original], client: str, bottom: bool
) -> None:
    _, original = notification
    reply = PLAIN_CLIENTS[client](original, new_plain(FIXED), bottom)
    assert reply_text_from_plain(reply) == new_plain(FIXED)


@pytest.mark.parametrize("strip", [False, True], ids=["attributes", "no-attributes"])
@pytest.mark.parametrize("bottom", [False, True], ids=["top", "bottom"])
@pytest.mark.parametrize("client", sorted(HTML_CLIENTS))
@pytest.mark.parametrize("notification", NOTIFICATIONS, ids=[n for n, _ in NOTIFICATIONS])
def test_every_html_quoting_of_every_default_is_cut_exactly(
    notification: tuple[str, Original], client: str, bottom: bool, strip: bool
) -> None:
    _, original = notification
    reply = HTML_CLIENTS[client](original, FIXED, bottom, strip)
    assert reply_text_from_html(reply) == new_plain(FIXED)


@settings(max_examples=300, deadline=None)
@given(
    notification=st.sampled_from(NOTIFICATIONS),
    client=st.sampled_from(sorted(PLAIN_CLIENTS)),
    bottom=st.booleans(),
    new=PARAGRAPHS,
)
def test_plain_replies_give_the_new_text_back(
    notification: tuple[str, Original], client: str, bottom: bool, new: Paragraphs
) -> None:
    reply = PLAIN_CLIENTS[client](notification[1], new_plain(new), bottom)
    assert reply_text_from_plain(reply) == new_plain(new)


@settings(max_examples=300, deadline=None)
@given(
    notification=st.sampled_from(NOTIFICATIONS),
    client=st.sampled_from(sorted(HTML_CLIENTS)),
    bottom=st.booleans(),
    strip=st.booleans(),
    new=PARAGRAPHS,
)
def test_html_replies_give_the_new_text_back(
    notification: tuple[str, Original], client: str, bottom: bool, strip: bool, new: Paragraphs
) -> None:
    reply = HTML_CLIENTS[client](notification[1], new, bottom, strip)
    assert reply_text_from_html(reply) == new_plain(new)


def test_a_reply_to_a_notification_becomes_exactly_its_new_text() -> None:
    """End to end: a multipart reply (Outlook desktop, both parts) through process_email."""
    from email.message import EmailMessage as Mime

    _, original = NOTIFICATIONS[0]
    new = (("It is fixed, thanks!", "Jane"),)
    for bottom in (False, True):
        mime = Mime()
        mime["From"] = "Jane Doe <jane@example.com>"
        mime["To"] = "support@acme.test"
        mime["Subject"] = f"RE: {original.subject}"
        mime.set_content(PLAIN_CLIENTS["outlook_desktop"](original, new_plain(new), bottom))
        mime.add_alternative(HTML_CLIENTS["outlook_desktop"](original, new, bottom, False), "html")
        result = process_email(mime.as_bytes(), sample_settings(), sample_storage(), sample_clock())
        assert result.ticket_id == 1234
        assert result.body_text == new_plain(new)
