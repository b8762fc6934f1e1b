"""Property tests for helpdesk_mail.inbound.quotes (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.inbound.quotes import reply_text_from_plain
from helpdesk_mail.inbound.quotes_html import reply_text_from_html
from helpdesk_mail.inbound.signatures import strip_signature
from helpdesk_mail.text import html_to_text

# Lines built from pieces that trigger the rules, mixed with arbitrary text.
_PIECES = [
    "> ",
    ">",
    "On Tue, Mar 5, 2024 at 9:41 AM Help <help@shop.example> wrote:",
    "Am 05.03.2024 um 09:41 schrieb Help:",
    "2024年3月5日(火) 9:41 サポート <help@shop.example>:",
    "-----Original Message-----",
    "---------- Forwarded message ---------",
    "From: Help <help@shop.example>",
    "Sent: Tuesday, March 5, 2024 9:41 AM",
    "To: Dana",
    "Subject: Order",
    "________________________________",
    "Sent from my iPhone",
    "-- ",
    "Best regards,",
    "##- Please type your reply above this line -##",
    "##- Reply above this line -##",
    "##- Acme Support · #1234 -##",
    "##-",
    "-##",
    "=C3=A9=",
    "\u202f",
    "\u00a0",
    "\ufeff",
    "\r\n",
    "\r",
    "\t",
    "wrote",
    "<",
    "@",
    ":",
    "：",
    ">From ",
]
_line = st.lists(
    st.one_of(st.sampled_from(_PIECES), st.text(max_size=20)),
    max_size=6,
).map("".join)
_mailish = st.lists(_line, max_size=30).map("\n".join)
_any_text = st.one_of(st.text(max_size=400), _mailish)

_TAGS = ["p", "div", "br", "blockquote", "hr", "pre", "li", "ul", "script", "style", "b"]
_ATTRS = [
    "",
    ' class="gmail_quote"',
    ' type="cite"',
    ' id="divRplyFwdMsg"',
    ' class="moz-cite-prefix"',
    ' style="border:none;border-top:solid #E1E1E1 1.0pt"',
    ' id="yahoo_quoted_1"',
    ' class="hm-reply-above"',
    ' id="x_hm-reply-above"',
    ' class="m_123hm-reply-end-line"',
    ' id="hm-reply-end"',
]
_html_piece = st.one_of(
    st.builds(lambda t, a: f"<{t}{a}>", st.sampled_from(_TAGS), st.sampled_from(_ATTRS)),
    st.builds(lambda t: f"</{t}>", st.sampled_from(_TAGS)),
    st.sampled_from(["&amp;", "&nbsp;", "&#x1F600;", "&bogus;", "<!--", "-->", "<", ">"]),
    _line,
)
_htmlish = st.one_of(st.text(max_size=300), st.lists(_html_piece, max_size=40).map("".join))


def _normalised(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _is_quote_line(line: str) -> bool:
    if (
        line.startswith(">From ") and line[6:].strip()
    ):  # mbox escaping of "From ", kept outside quote blocks
        return False
    stripped = line.lstrip(" \t\u00a0\ufeff")
    return stripped.startswith(">") and len(line) - len(stripped) <= 4


_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_any_text)
def test_plain_total_and_never_longer(text: str) -> None:
    out = reply_text_from_plain(text)
    assert isinstance(out, str)
    assert len(out) <= len(_normalised(text))


@_SETTINGS
@given(_any_text)
def test_plain_output_has_no_quoted_lines_and_no_trailing_space(text: str) -> None:
    out = reply_text_from_plain(text)
    assert not any(_is_quote_line(line) for line in out.split("\n"))
    assert out == out.rstrip()


@_SETTINGS
@given(_any_text)
def test_plain_is_idempotent(text: str) -> None:
    once = reply_text_from_plain(text)
    assert reply_text_from_plain(once) == once


@_SETTINGS
@given(_any_text)
def test_plain_output_lines_come_from_the_input(text: str) -> None:
    """Nothing is invented: every non-empty output line is (a prefix of) an input line."""
    source = _normalised(text).split("\n")
    for line in reply_text_from_plain(text).split("\n"):
        if line.strip():
            assert any(src.startswith(line) for src in source)


@_SETTINGS
@given(_any_text)
def test_strip_signature_total_and_shrinks(text: str) -> None:
    out = strip_signature(text)
    assert isinstance(out, str)
    assert len(out) <= len(_normalised(text))
    assert strip_signature(out) == out or len(strip_signature(out)) < len(out)


@_SETTINGS
@given(_htmlish)
def test_html_functions_total(html: str) -> None:
    text = html_to_text(html)
    reply = reply_text_from_html(html)
    assert isinstance(text, str)
    assert isinstance(reply, str)
    assert text == text.strip("\n").rstrip()
    assert "\n\n\n" not in text


@_SETTINGS
@given(st.text(max_size=200).filter(lambda s: "<" not in s and "&" not in s))
def test_html_to_text_of_plain_words_keeps_the_words(text: str) -> None:
    assert html_to_text(text).split() == text.replace("\u00a0", " ").replace("\u202f", " ").split()
