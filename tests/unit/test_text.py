"""helpdesk_mail.text: block elements end lines in every HTML-to-text path, dropped
elements never hide the rest, and hostile shapes give the right output (their speed is
measured by scripts, not here)."""

from __future__ import annotations

import dataclasses
import email.policy
from email.message import EmailMessage

import pytest

from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.inbound.quotes import reply_text_from_plain
from helpdesk_mail.inbound.quotes_html import reply_text_from_html
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.samples.preview import (
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.settings import Settings
from helpdesk_mail.templating.render import tidy_text
from helpdesk_mail.templating.sanitize import ALLOWED_TAGS, sanitize_html
from helpdesk_mail.text import (
    ALTERNATIVE,
    READING,
    REPLY,
    HtmlRender,
    TextStyle,
    finish_text,
    html_to_text,
    scan_html,
    tidy_lines,
)
from helpdesk_mail.text.scan import Attrs

STYLES = pytest.mark.parametrize(
    "style", [READING, REPLY, ALTERNATIVE], ids=["reading", "reply", "alternative"]
)
THANKS = "<div>Thanks! It is <i>unplugged</i>.</div><div>Photo of the label attached.</div>"


# --- block elements end lines (issue 12.17) ----------------------------------------


@STYLES
@pytest.mark.parametrize(
    ("html", "lines"),
    [
        (THANKS, ["Thanks! It is unplugged.", "Photo of the label attached."]),
        ("<p>a</p><p>b</p>", ["a", "", "b"]),
        ("<ul><li>a</li><li>b</li></ul>", ["- a", "- b"]),
        ("<ol><li>a<li>b</ol>", ["1. a", "2. b"]),
        ("<table><tr><td>a</td></tr><tr><td>b</td></tr></table>", ["a", "b"]),
        ("<h1>a</h1><h6>b</h6>", ["a", "", "b"]),
        ("a<br>b", ["a", "b"]),
        ("<pre>a</pre><pre>b</pre>", ["a", "", "b"]),
        ("<dl><dt>a</dt><dd>b</dd></dl>", ["a", "b"]),
        ("<section>a</section><section>b</section>", ["a", "b"]),
        ("<article>a</article><footer>b</footer>", ["a", "b"]),
        ("<span>a</span><div>b</div>c", ["a", "b", "c"]),
    ],
)
def test_block_elements_end_lines(style: TextStyle, html: str, lines: list[str]) -> None:
    assert html_to_text(html, style).split("\n") == lines


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (READING, "a\nb"),
        (REPLY, "a\nb"),
        (ALTERNATIVE, "a\n----------------------------------------\nb"),
    ],
    ids=["reading", "reply", "alternative"],
)
def test_a_rule_ends_lines(style: TextStyle, expected: str) -> None:
    assert html_to_text("a<hr>b", style) == expected


@pytest.mark.parametrize(
    ("style", "expected"),
    [(READING, "a\n\nb"), (REPLY, "> a\n\nb"), (ALTERNATIVE, "> a\n\nb")],
    ids=["reading", "reply", "alternative"],
)
def test_a_blockquote_is_a_block(style: TextStyle, expected: str) -> None:
    assert html_to_text("<blockquote>a</blockquote>b", style) == expected


def test_table_cells_share_a_line_rows_do_not() -> None:
    html = "<table><tr><th>Name</th><th>Qty</th></tr><tr><td>toner</td><td>2</td></tr></table>"
    assert html_to_text(html) == "Name Qty\ntoner 2"
    assert html_to_text(html, ALTERNATIVE) == "Name  Qty\ntoner  2"


def test_nested_lists_are_indented_without_empty_lines() -> None:
    html = "<ul><li>a<ol start=3><li>x</li><li>y</li></ol></li><li>b</li></ul>after"
    assert html_to_text(html) == "- a\n  3. x\n  4. y\n- b\n\nafter"


def test_sanitized_blocks_that_templates_do_not_allow_become_divs() -> None:
    assert sanitize_html("<section>a</section><article>b</article>") == ("<div>a</div><div>b</div>")
    assert sanitize_html("<menu><li>x</li></menu>") == "<ul><li>x</li></ul>"


def _notification_text(body_html: str | None, body_text: str) -> str:
    storage = sample_storage()
    comments = list(storage.comments(1234))
    comments[-1] = dataclasses.replace(comments[-1], body_html=body_html, body_text=body_text)
    storage.add_ticket(storage.tickets[1234], comments)
    messages = render_message(
        sample_planned(TemplateKind.TICKET_UPDATED),
        None,
        sample_settings(),
        storage,
        sample_clock(),
        sample_random(),
    )
    assert messages
    part = messages[0].get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(
    "html",
    [
        THANKS,
        "<section>Thanks! It is unplugged.</section><section>Photo of the label attached.",
        "<article><header>Thanks! It is unplugged.</header>Photo of the label attached.</article>",
        "<p>Thanks! It is unplugged.<br>Photo of the label attached.</p>",
    ],
)
def test_notification_text_alternative_keeps_the_lines(html: str) -> None:
    text = _notification_text(html, "")
    assert "Thanks! It is unplugged.\nPhoto of the label attached.\n" in text


def test_the_sample_comment_is_what_inbound_makes_of_its_html() -> None:
    """The sample data (and so the golden files) holds the text inbound would store."""
    for comment in sample_storage().comments(1234):
        if comment.body_html:
            assert comment.body_text == reply_text_from_html(comment.body_html)


def _mail(content_type: str, body: str) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Jane Doe <jane@example.com>"
    msg["To"] = "support@acme.test"
    msg["Subject"] = "Printer"
    msg["Message-ID"] = "<t@example.com>"
    msg.set_content(body, subtype=content_type, cte="base64")
    return msg.as_bytes()


def _inbound_text(content_type: str, body: str) -> str:
    result = process_email(
        _mail(content_type, body),
        Settings(),
        InMemoryStorage(),
        ManualClock(),
        random=SeededRandom(0),
    )
    return result.body_text


def test_inbound_reading_keeps_the_lines() -> None:
    assert _inbound_text("html", THANKS) == (
        "Thanks! It is unplugged.\nPhoto of the label attached."
    )


# --- dropped elements never hide the rest (issue 13, "Also") -----------------------


@pytest.mark.parametrize(
    "opening",
    [
        "<svg onload=alert(1)>",
        "<math><mi>x</mi><style>",
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
        "<style>",
        "<script>",
        "<title>",
        "<template>",
        "<object data=x.swf>",
        "<iframe src=https://evil.test/>",
        "<textarea>",
        "<select><option>",
        "<svg><math><svg><math>",
        "<head>",
    ],
)
def test_an_unclosed_dropped_element_does_not_hide_the_rest(opening: str) -> None:
    out = sanitize_html(opening + "<p>The printer <b>is</b> on fire.</p>")
    assert "<p>The printer <b>is</b> on fire.</p>" in out
    assert "onload" not in out and "onerror" not in out and "<img" not in out
    for tag in ("svg", "math", "style", "script", "noscript", "title", "template", "object"):
        assert f"<{tag}" not in out
    assert html_to_text(opening + "<p>The printer <b>is</b> on fire.</p>").endswith(
        "The printer is on fire."
    )


def test_closed_dropped_elements_still_go_with_their_content() -> None:
    assert sanitize_html("<svg><text>x</text></svg>a<style>p{}</style>b") == "ab"
    assert sanitize_html("<svg><svg></svg>hidden</svg>shown") == "shown"
    assert sanitize_html("<head><title>T</title><p>x") == "<p>x</p>"


def test_unclosed_elements_nested_deeply_are_each_dropped_alone() -> None:
    out = sanitize_html("<svg><math>" * 20_000 + "after")
    assert out == "after"
    assert html_to_text("<svg><math>" * 20_000 + "after") == "after"


def test_sanitized_output_of_hostile_openings_is_stable_and_allowed() -> None:
    import re

    source = (
        '<svg onload=x><noscript><p title="</noscript><img src=x onerror=y>">'
        "<math><style><img src=x onerror=z></style>t<template><a href=javascript:x>l"
    )
    out = sanitize_html(source)
    assert sanitize_html(out) == out
    assert {t.lower() for t in re.findall(r"</?([A-Za-z][^\s/>]*)", out)} <= ALLOWED_TAGS
    assert "javascript" not in out and "onerror" not in out


# --- the tokenizer ----------------------------------------------------------------


class _Events:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def start(self, tag: str, attrs: Attrs, self_closing: bool, pos: int) -> None:
        self.seen.append(f"<{tag}{'/' if self_closing else ''}@{pos}>")

    def end(self, tag: str, pos: int) -> None:
        self.seen.append(f"</{tag}@{pos}>")

    def text(self, data: str) -> None:
        self.seen.append(data)

    def dropped(self, tag: str, attrs: Attrs, pos: int) -> None:
        self.seen.append(f"-{tag}@{pos}")


def _scan(html: str, drop: frozenset[str] = frozenset()) -> list[str]:
    events = _Events()
    scan_html(html, events, drop=drop)
    return events.seen


def test_scan_reports_tags_text_and_positions() -> None:
    assert _scan("a<b x='1'>c</b><br/>&amp;") == ["a", "<b@1>", "c", "</b@11>", "<br/@15>", "&"]


def test_scan_treats_a_cut_off_tag_as_text() -> None:
    assert _scan('a <b href="x') == ['a <b href="x']


def test_scan_raw_text_without_its_end_is_read_as_html() -> None:
    assert _scan("<style>a{}</style>b") == ["<style@0>", "a{}", "</style@10>", "b"]
    assert _scan("<style><b>x") == ["<style@0>", "<b@7>", "x"]


def test_scan_drops_content_and_goes_back_for_unclosed_ones() -> None:
    drop = frozenset({"svg", "head"})
    assert _scan("<svg><b>x</b></svg>y", drop) == ["-svg@0", "y"]
    assert _scan("<svg><b>x</b>y", drop) == ["-svg@0", "<b@5>", "x", "</b@9>", "y"]
    assert _scan("<head>t<body>b", drop) == ["-head@0", "<body@7>", "b"]


# --- hostile shapes give the right text (linear time is measured by scripts) --------


def test_long_runs_of_spaces_are_trimmed_and_kept_where_they_belong() -> None:
    assert tidy_text("a" + " " * 200_000 + "b  \n") == "a" + " " * 200_000 + "b\n"
    assert tidy_lines(" \n" * 200_000 + "x") == "x"
    assert finish_text("\u00a0" * 100_000 + "x\u00a0") == " " * 100_000 + "x"


def test_a_megabyte_of_nbsp_or_pre_spaces_keeps_the_text_after_it() -> None:
    assert html_to_text("<p>" + "&nbsp;" * 170_000 + "x</p>") == " " * 170_000 + "x"
    assert reply_text_from_html("<p>" + "&nbsp;" * 170_000 + "x</p>").strip() == "x"
    assert reply_text_from_html("<pre>" + " " * 1_000_000 + "x</pre>").strip() == "x"


def test_leading_blank_lines_before_a_quote_are_dropped() -> None:
    assert reply_text_from_plain("\n" * 300_000 + "hello\n> quoted") == "hello"
    assert (
        reply_text_from_html("<br>" * 100_000 + 'hello<blockquote type="cite">q</blockquote>')
        == "hello"
    )


def test_html_render_marks_start_tags() -> None:
    job = HtmlRender("<p>a</p><hr><p>b</p>", lambda tag, attrs: "hr" if tag == "hr" else None)
    job.run()
    assert job.marks[0][0] == "hr"
    assert job.raw()[: job.marks[0][1]].strip() == "a"
