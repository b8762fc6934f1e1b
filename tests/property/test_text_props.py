"""Property tests for helpdesk_mail.text and the sanitizer that reads HTML with it."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.templating.sanitize import ALLOWED_TAGS, sanitize_html
from helpdesk_mail.text import ALTERNATIVE, READING, REPLY, html_to_text, scan_html, tidy_lines
from helpdesk_mail.text.scan import Attrs

# Pieces that open, close or break the constructs the scanner and the sanitizer track.
_PIECES = [
    "<svg onload=x>", "</svg>", "<math>", "</math>", "<style>", "</style>", "<script>",
    "</script>", "<noscript>", "</noscript>", "<title>", "</title>", "<head>", "</head>",
    "<body>", "<template>", "</template>", "<object>", "</object>", '<p title="', '">',
    "<p>", "</p>", "<div>", "</div>", "<section>", "</section>", "<!--", "-->", "<!", "<?",
    "<a href=javascript:x>", "<a href='https://x.test'>", "</a>", "<img src=x onerror=y>",
    "<blockquote>", "</blockquote>", "<pre>", "</pre>", "<li>", "<ol>", "<br>", "<hr>",
    "&nbsp;", "&amp;", "&", "<", ">", "'", '"', " ", "\n", "KEEP", "text",
]  # fmt: skip
HOSTILE = st.lists(st.sampled_from(_PIECES) | st.text(max_size=5), max_size=40).map("".join)
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_TAG = re.compile(r"</?([A-Za-z][^\s/>]*)")


@PROPS
@given(HOSTILE)
def test_sanitizer_output_is_allowed_and_stable(source: str) -> None:
    out = sanitize_html(source)
    assert {t.lower() for t in _TAG.findall(out)} <= ALLOWED_TAGS
    # values are escaped (no '"' inside), so name="value" pairs are the real attributes
    for tag in re.findall(r"<[^>]*>", out):
        for name, value in re.findall(r'([\w-]+)="([^"]*)"', tag):
            assert not name.startswith("on")
            assert not value.strip().lower().startswith("javascript")
    assert sanitize_html(out) == out


@PROPS
@given(HOSTILE)
def test_every_style_renders_without_raising(source: str) -> None:
    for style in (READING, REPLY, ALTERNATIVE):
        text = html_to_text(source, style)
        assert text == text.strip("\n")
        assert not re.search(r"[ \t]\n", text)


class _Count:
    def __init__(self) -> None:
        self.events = 0

    def start(self, tag: str, attrs: Attrs, self_closing: bool, pos: int) -> None:
        self.events += 1

    def end(self, tag: str, pos: int) -> None:
        self.events += 1

    def text(self, data: str) -> None:
        assert data
        self.events += 1

    def dropped(self, tag: str, attrs: Attrs, pos: int) -> None:
        self.events += 1


@PROPS
@given(HOSTILE)
def test_scan_reports_at_most_one_event_per_character(source: str) -> None:
    sink = _Count()
    scan_html(source, sink, drop=frozenset({"svg", "math", "style", "script", "head"}))
    assert sink.events <= len(source)


@PROPS
@given(st.text(alphabet=" \t\r\nab", max_size=60))
def test_tidy_lines_trims_and_squeezes(text: str) -> None:
    out = tidy_lines(text)
    assert "\r" not in out and "\n\n\n" not in out
    assert out == out.strip("\n")
    assert all(line == line.rstrip(" \t") for line in out.split("\n"))
    assert out.split() == text.split()


@settings(max_examples=300)
@given(st.lists(st.sampled_from(["a", "b ", " ", "\t", "\n", "\n", "\r", "\r\n"])).map("".join))
def test_tidy_lines_reads_long_texts_a_slice_at_a_time(text: str) -> None:
    from helpdesk_mail.text import tidy

    whole = tidy.tidy_lines(text)
    saved, tidy._CHUNK = tidy._CHUNK, 3
    try:
        assert tidy.tidy_lines(text) == whole
    finally:
        tidy._CHUNK = saved


@settings(max_examples=500)
@given(
    st.lists(
        st.sampled_from(
            ["a", " ", "\t", "=", "\u00e9", "\n", "x" * 80, " " * 100, "\x00", "b" * 75]
        )
    ).map("".join)
)
def test_notifications_quote_text_as_the_email_package_does(text: str) -> None:
    from email import quoprimime

    from helpdesk_mail.outbound import mime_writer

    body = (text + "\n").encode("utf-8").decode("latin-1")
    saved, mime_writer._QP_GROUP = mime_writer._QP_GROUP, 3  # many groups
    try:
        ours = "".join(mime_writer._quoted_printable(body))
    finally:
        mime_writer._QP_GROUP = saved
    assert ours == quoprimime.body_encode(body, 78)
