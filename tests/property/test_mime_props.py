"""inbound.mime (and charsets, mime_headers, mime_parts, mime_bounds) never raises, keeps
its caps, and reads ordinary parameters as the stdlib does."""

from __future__ import annotations

import email.message
import re
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.inbound import charsets, mime, mime_bounds, mime_headers, mime_parts

CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f]")  # header text is one line: no newline either

TOKEN = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"();,\\=*'),
    min_size=1,
    max_size=12,
)
QUOTED = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'),
    max_size=20,
).map(lambda t: f'"{t}"')


@st.composite
def parameter_header(draw: st.DrawFn) -> str:
    main = draw(st.sampled_from(["text/plain", "multipart/mixed", "attachment", "inline"]))
    params = draw(st.lists(st.tuples(TOKEN, TOKEN | QUOTED), max_size=mime_headers.MAX_PARAMS))
    spaces = st.sampled_from(["", " ", "  "])
    return main + "".join(f";{draw(spaces)}{name}={value}" for name, value in params)


@settings(max_examples=300)
@given(parameter_header())
def test_ordinary_parameters_read_as_the_stdlib_reads_them(value: str) -> None:
    ours, theirs = mime_headers.Part(), email.message.Message()
    ours["content-type"] = theirs["content-type"] = value
    assert ours.get_params() == theirs.get_params()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000) | st.binary(max_size=3000).map(lambda b: b.decode("latin-1")))
def test_header_readers_never_raise(value: str) -> None:
    for text in (mime_headers.decode_header_text(value), mime_headers.decode_raw_text(value)):
        assert not CONTROLS.search(text)
    params = mime_headers.split_params(value)
    assert 1 <= len(params) <= 1 + mime_headers.MAX_PARAMS
    assert all(len(v) <= mime_headers.MAX_PARAM_CHARS for _, v in params[1:])
    mime_headers.split_addresses(value)
    mime_headers.find_addresses(value)
    assert len(mime_headers.clip(value, 100)) <= 100
    part = mime_headers.Part()
    part["content-type"] = value
    part["content-disposition"] = value
    part.get_params()
    part.get_filename()
    part.get_content_charset()
    part.get_boundary()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_raw_readers_never_raise(raw: bytes) -> None:
    msg = mime.parse_bytes(raw)
    mime_headers.decoded_headers(msg)
    for part in msg.walk():
        mime_parts.payload(part)
        mime_parts.body_bytes(part)
        mime_parts.body_bytes(part, 100)
        mime_headers.content_type(part)
        mime_headers.param(part, "charset")
    mime_headers.split_message(raw)
    for charset in ("utf-8", "idna", "punycode", "undefined", "iso-2022-jp", "bogus", None):
        charsets.decode_bytes(raw, charset)


# --- cutting long bodies out before the stdlib parser reads them -------------------------

LINES = st.sampled_from(
    [
        "",
        "",
        "--b",
        "--b--",
        "--c",
        "--c--",
        "--",
        "-- ",
        "Content-Type: multipart/mixed; boundary=c",
        "Content-Type: multipart/digest; boundary=c",
        "Content-Type: message/rfc822",
        "Content-Type: message/global-delivery-status",
        "Content-Type: text/plain",
        "Content-Type:",
        " message/delivery-status",
        "From: x@example.com",
        "From here on",
        "Subject: s",
        "a:b",
        ":",
        "\tfolded",
        " folded",
        "hello",
        "hello world: x",
        "HELPDESKMAILCUT00000000",
        "caf\udcc3\udca9",
    ]
)
ENDINGS = st.sampled_from(["\r\n", "\n", "\r"])


@st.composite
def line_soup(draw: st.DrawFn) -> bytes:
    """A message of odd lines: boundaries, blank lines, header and body lines, nesting."""
    head = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n"
    lines = draw(st.lists(st.tuples(LINES, ENDINGS), max_size=60))
    body = "".join(line + end for line, end in lines)
    if draw(st.booleans()):
        body = body.rstrip("\r\n")
    return (head + body).encode("ascii", "surrogateescape")


def _tree(msg: email.message.Message) -> list[object]:
    return [
        (
            list(p.raw_items()),
            p._payload if isinstance(p._payload, str) else len(p._payload or ()),
            p.preamble,
            p.epilogue,
            [type(d).__name__ for d in p.defects],
            p.get_default_type(),
        )
        for p in mime_parts.iter_parts(msg)
    ]


def _whole(raw: bytes) -> email.message.Message:
    """`parse_bytes` without cutting anything out."""
    saved = mime_bounds.CUT_MIN_MESSAGE
    mime_bounds.CUT_MIN_MESSAGE = sys.maxsize  # no message is long enough to cut
    try:
        return mime.parse_bytes(raw)
    finally:
        mime_bounds.CUT_MIN_MESSAGE = saved


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(line_soup())
def test_cutting_long_bodies_out_parses_the_same(raw: bytes) -> None:
    saved = mime_bounds.CUT_MIN_MESSAGE, mime_bounds.CUT_MIN_RUN
    mime_bounds.CUT_MIN_MESSAGE, mime_bounds.CUT_MIN_RUN = 0, 1  # cut every run, however short
    try:
        cut = _tree(mime.parse_bytes(raw))
    finally:
        mime_bounds.CUT_MIN_MESSAGE, mime_bounds.CUT_MIN_RUN = saved
    assert cut == _tree(_whole(raw))
