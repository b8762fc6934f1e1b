"""inbound.charsets, mime_headers, mime_parts, mime: charsets, header text, parameters,
address lists, header blocks, payloads, parsing."""

from __future__ import annotations

import email

import pytest

from helpdesk_mail.inbound import charsets, mime, mime_headers, mime_parts


@pytest.mark.parametrize(
    ("charset", "codec"),
    [
        ("UTF-8", "utf-8"),
        ('"iso-8859-1"', "iso8859-1"),
        ("us-ascii", "ascii"),
        ("ks_c_5601-1987", "cp949"),
        ("iso-2022-jp", "iso2022_jp_ext"),
        ("idna", None),
        ("punycode", None),
        ("undefined", None),
        ("unicode-escape", None),
        ("base64", None),
        ("rot13", None),
        ("klingon", None),
        ("utf-8\x00", None),
        ("", None),
        (None, None),
    ],
)
def test_text_codec(charset: str | None, codec: str | None) -> None:
    assert charsets.text_codec(charset) == codec


def test_decode_bytes_falls_back() -> None:
    assert charsets.decode_bytes("café".encode(), "idna") == "café"
    assert charsets.decode_bytes("café".encode("cp1252"), "utf-8") == "café"
    assert charsets.decode_bytes(b"\x81\x8d", None) == "\ufffd\ufffd"
    assert charsets.decode_bytes("Привет".encode("cp1251"), "bogus", ["windows-1251"]) == "Привет"


def test_clip_never_cuts_a_word() -> None:
    assert mime_headers.clip("short", 10) == "short"
    assert mime_headers.clip("a@b.com, ceo@bigcorp.com", 20) == "a@b.com,"
    assert mime_headers.clip("one two three", 9) == "one two"
    assert mime_headers.clip("x" * 30, 10) == "x" * 10  # one run longer than the cap


def test_header_text_is_one_clean_line() -> None:
    assert mime_headers.decode_header_text("a\x00b\x07c\r\n\td") == "abc d"
    assert mime_headers.decode_header_text("=?utf-8?q?x=00y?= z") == "xy z"
    long = ("word " * 5000).encode("ascii")
    assert mime_headers.decode_header_text(long.decode()).endswith("word")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/plain", [("text/plain", "")]),
        (
            'text/plain; charset="utf-8"; Name=a.txt',
            [("text/plain", ""), ("charset", '"utf-8"'), ("name", "a.txt")],
        ),
        ('a; name="x;y"; b=c', [("a", ""), ("name", '"x;y"'), ("b", "c")]),
        ('a; name="x\\";y"', [("a", ""), ("name", '"x\\";y"')]),
        ("a; ; novalue; =x; b=1", [("a", ""), ("b", "1")]),
        ("charset=utf-8", [("charset", "utf-8")]),
    ],
)
def test_split_params(value: str, expected: list[tuple[str, str]]) -> None:
    assert mime_headers.split_params(value) == expected


def test_split_params_caps() -> None:
    many = "a/b" + "; p=v" * 100
    assert len(mime_headers.split_params(many)) == 1 + mime_headers.MAX_PARAMS
    long_value = "a/b; name=" + "x" * (mime_headers.MAX_PARAM_CHARS + 1) + "; c=d"
    assert mime_headers.split_params(long_value) == [("a/b", ""), ("c", "d")]
    cut = "a/b; c=d; name=" + "x" * mime_headers.MAX_HEADER_CHARS
    assert mime_headers.split_params(cut) == [("a/b", ""), ("c", "d")]


def test_part_reads_parameters_like_the_stdlib_and_decodes_rfc2231() -> None:
    raw = (
        b"Content-Type: text/plain; charset*=utf-8''utf-8; name*0*=utf-8''caf%C3%A9; "
        b'name*1=.txt\r\nContent-Disposition: attachment; filename="a b.txt"\r\n\r\nx'
    )
    part = mime.parse_bytes(raw)
    assert isinstance(part, mime_headers.Part)
    assert part.get_content_charset() == "utf-8"
    assert part.get_param("name") == "café.txt"
    assert part.get_filename() == "a b.txt"
    assert part.get_payload() == "x"
    plain = email.message_from_bytes(raw)
    assert plain.get_content_type() == part.get_content_type()


def test_parse_bytes_rebuilds_hostile_parameter_headers() -> None:
    raw = (
        b'Content-Type: text/plain; charset=utf-8; name="' + b"a;" * 10_000 + b'"\r\n'
        b"Content-Disposition: attachment; filename*=undefined''caf%C3%A9.txt\r\n\r\nx"
    )
    part = mime.parse_bytes(raw)
    assert part["content-type"] == 'text/plain; charset="utf-8"'
    assert part["content-disposition"] == "attachment; filename*=utf-8''caf%C3%A9.txt"
    assert [type(d).__name__ for d in part.defects] == ["HeaderRebuilt", "HeaderRebuilt"]
    plain = email.message.Message()
    plain["content-disposition"] = part["content-disposition"]
    assert plain.get_filename() == "café.txt"  # readable by the stdlib's own parser too


def test_payload_is_what_was_received() -> None:
    part = mime.parse_bytes(b"Content-Type: text/plain; charset=idna\r\n\r\ncaf\xc3\xa9")
    with pytest.raises(UnicodeError):
        part.get_payload()  # the stdlib applies the charset
    assert mime_parts.payload(part) == "caf\udcc3\udca9"
    assert mime_parts.body_bytes(part) == "café".encode()


def test_body_bytes_with_a_limit() -> None:
    part = mime.parse_bytes(
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b"aGVsbG8g" * 1000 + b"\r\n"
    )
    assert mime_parts.body_bytes(part, 12).startswith(b"hello hello ")
    assert len(mime_parts.body_bytes(part, 12)) <= 24


def test_split_addresses() -> None:
    value = '"Smith, John" <j@x.com>, (a, comment) b@y.com, <c@z.com>, "q\\"," <d@w.com>,,'
    assert mime_headers.split_addresses(value) == [
        '"Smith, John" <j@x.com>',
        "(a, comment) b@y.com",
        "<c@z.com>",
        '"q\\"," <d@w.com>',
    ]


def test_find_addresses() -> None:
    assert mime_headers.find_addresses("To: A@B.example, <c@d.example>. a@b.example") == [
        "a@b.example",
        "c@d.example",
    ]


def test_split_message() -> None:
    fields, body = mime_headers.split_message(
        b"Subject: a\r\n  folded\r\nX Y: no\r\nnot a field\r\nTo:b\r\n\r\nbody\r\n"
    )
    assert fields == [(b"subject", b"a folded"), (b"to", b"b")]
    assert body == b"body\r\n"
    assert mime_headers.split_message(b"Subject: only") == ([(b"subject", b"only")], b"")
