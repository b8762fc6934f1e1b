"""inbound.mime never raises, keeps its caps, and reads ordinary parameters as the stdlib does."""

from __future__ import annotations

import email.message
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.inbound import mime

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
    params = draw(st.lists(st.tuples(TOKEN, TOKEN | QUOTED), max_size=mime.MAX_PARAMS))
    spaces = st.sampled_from(["", " ", "  "])
    return main + "".join(f";{draw(spaces)}{name}={value}" for name, value in params)


@settings(max_examples=300)
@given(parameter_header())
def test_ordinary_parameters_read_as_the_stdlib_reads_them(value: str) -> None:
    ours, theirs = mime.Part(), email.message.Message()
    ours["content-type"] = theirs["content-type"] = value
    assert ours.get_params() == theirs.get_params()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000) | st.binary(max_size=3000).map(lambda b: b.decode("latin-1")))
def test_header_readers_never_raise(value: str) -> None:
    for text in (mime.decode_header_text(value), mime.decode_raw_text(value)):
        assert not CONTROLS.search(text)
    params = mime.split_params(value)
    assert 1 <= len(params) <= 1 + mime.MAX_PARAMS
    assert all(len(v) <= mime.MAX_PARAM_CHARS for _, v in params[1:])
    mime.split_addresses(value)
    mime.find_addresses(value)
    assert len(mime.clip(value, 100)) <= 100
    part = mime.Part()
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
    mime.decoded_headers(msg)
    for part in msg.walk():
        mime.payload(part)
        mime.body_bytes(part)
        mime.body_bytes(part, 100)
        mime.content_type(part)
        mime.param(part, "charset")
    mime.split_message(raw)
    for charset in ("utf-8", "idna", "punycode", "undefined", "iso-2022-jp", "bogus", None):
        mime.decode_bytes(raw, charset)
