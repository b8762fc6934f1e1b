"""parse_email: header decoding, addresses, bodies, attachments, large messages."""

from __future__ import annotations

import base64
import email
import os

import pytest

from helpdesk_mail.inbound.mime_headers import decode_header_text
from helpdesk_mail.inbound.parse import parse_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?Caf=C3=A9_ouvert?=", "Café ouvert"),
        ("=?ISO-8859-1?B?RnL2c2NoZQ==?=", "Frösche"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # whitespace between words is dropped
        ("Re: TEST =?utf-8?q?x?=", "Re: TEST x"),  # but kept next to plain text
        ("=?bogus-charset?q?plain?=", "plain"),
        ("=?utf-8?b?not base64?=", "=?utf-8?b?not base64?="),
        ("=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=", "テスト"),
        ("=?utf-8*en?q?lang?=", "lang"),  # RFC 2231 language suffix
        ("folded\r\n  line", "folded line"),
    ],
)
def test_decode_header_text(raw: str, expected: str) -> None:
    assert decode_header_text(raw) == expected


def header_bytes(subject: bytes, body_charset: str | None = None) -> bytes:
    ctype = f"Content-Type: text/plain; charset={body_charset}\r\n" if body_charset else ""
    return (
        b"From: a@example.com\r\nSubject: " + subject + b"\r\n" + ctype.encode() + b"\r\nbody\r\n"
    )


def test_raw_utf8_header() -> None:
    parsed, _ = parse_email(header_bytes("Säying Hello".encode()))
    assert parsed.subject == "Säying Hello"


def test_raw_8bit_inside_an_encoded_word() -> None:
    parsed, _ = parse_email(header_bytes(b"=?iso-8859-1?Q?Die_Fr\xf6sche?="))
    assert parsed.subject == "Die Frösche"


def test_undeclared_koi8r_and_cp1251_headers_are_guessed() -> None:
    assert parse_email(header_bytes("тест тест".encode("koi8_r")))[0].subject == "тест тест"
    assert parse_email(header_bytes("тест тест".encode("cp1251")))[0].subject == "тест тест"


def test_undeclared_latin_header_is_cp1252() -> None:
    assert parse_email(header_bytes("Grüße".encode("cp1252")))[0].subject == "Grüße"


def test_header_uses_the_body_charset_when_it_declares_one() -> None:
    subject = "Привет".encode("cp1251")
    assert parse_email(header_bytes(subject, "windows-1251"))[0].subject == "Привет"


def test_iso2022jp_with_nec_extensions() -> None:
    parsed, _ = parse_email(header_bytes(b"=?iso-2022-jp?B?GyRCLWIbKEI0MQ==?="))
    assert parsed.subject == "№41"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Jane Doe <JANE@Example.com>", [("jane@example.com", "Jane Doe")]),
        (
            '"Doe, Jane" <jane@example.com>, bob@example.com',
            [("jane@example.com", "Doe, Jane"), ("bob@example.com", "")],
        ),
        ("alice@example.com <bob@example.com>", [("bob@example.com", "alice@example.com")]),
        ("=?utf-8?q?Ren=C3=A9e?= <renee@example.com>", [("renee@example.com", "Renée")]),
        ("bob@example.com (Bob)", [("bob@example.com", "Bob")]),
        ("undisclosed-recipients:;", []),
        ("a@x.test, a@x.test", [("a@x.test", "")]),
    ],
)
def test_addresses(header: str, expected: list[tuple[str, str]]) -> None:
    raw = f"From: x@example.com\r\nTo: {header}\r\n\r\nbody\r\n".encode()
    parsed, _ = parse_email(raw)
    assert [(a.email, a.name) for a in parsed.to] == expected


def test_message_ids_and_references() -> None:
    raw = (
        b"From: a@example.com\r\nMessage-ID: <one@x>\r\nIn-Reply-To: <two@x>\r\n"
        b"References: <three@x>\r\n <two@x>\r\n\r\nbody\r\n"
    )
    parsed, _ = parse_email(raw)
    assert parsed.message_id == "<one@x>"
    assert parsed.in_reply_to == ("<two@x>",)
    assert parsed.references == ("<three@x>", "<two@x>")


def mixed(*parts: str) -> bytes:
    head = (
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
    )
    return (head + "".join(f"--B\r\n{p}\r\n" for p in parts) + "--B--\r\n").encode()


def test_attachments_inline_images_and_attached_messages() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    raw = mixed(
        "Content-Type: text/plain; charset=utf-8\r\n\r\nSee attached.",
        "Content-Type: application/pdf\r\nContent-Disposition: attachment;"
        " filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"%PDF-1.4").decode(),
        "Content-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + png,
        "Content-Type: message/rfc822\r\n\r\nFrom: c@example.com\r\nSubject: Earlier\r\n\r\nold",
        'Content-Type: application/ms-tnef; name="winmail.dat"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"tnef").decode(),
    )
    parsed, _ = parse_email(raw)
    by_name = {a.filename: a for a in parsed.attachments}
    assert by_name["résumé.pdf"].content == b"%PDF-1.4"
    assert by_name["résumé.pdf"].content_type == "application/pdf"
    logo = next(a for a in parsed.attachments if a.content_id == "logo@x")
    assert logo.inline and logo.content == b"\x89PNG fake"
    assert b"Subject: Earlier" in by_name["Earlier.eml"].content
    assert by_name["winmail.dat"].content == b"tnef"
    assert parsed.text.startswith("See attached.")


def test_quoted_pair_backslashes_in_file_names_are_unquoted() -> None:
    raw = mixed(
        'Content-Type: image/png; name="C:\\\\TEMP\\\\a.png"\r\nContent-Transfer-Encoding: base64'
        "\r\n\r\nAAAA"
    )
    assert [a.filename for a in parse_email(raw)[0].attachments] == ["C:TEMPa.png"]


@pytest.mark.parametrize("size", [2 * 2**20, 3 * 2**20 + 7])
def test_large_base64_attachments_are_decoded_exactly(size: int) -> None:
    data = os.urandom(size)
    encoded = base64.encodebytes(data).decode().replace("\n", "\r\n")
    raw = mixed(
        "Content-Type: text/plain\r\n\r\nbig one",
        'Content-Type: application/octet-stream; name="big.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + encoded,
        "Content-Type: message/rfc822\r\n\r\nFrom: c@example.com\r\nSubject: Inner\r\n"
        "MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + encoded,
    )
    parsed, _ = parse_email(raw)
    big = next(a for a in parsed.attachments if a.filename == "big.bin")
    assert big.content == data and big.size == size
    inner = next(a for a in parsed.attachments if a.filename == "Inner.eml")
    assert email.message_from_bytes(inner.content).get_payload(decode=True) == data
    assert parsed.text.strip() == "big one"


def test_unnamed_attachments_get_stable_names_from_their_type() -> None:
    raw = mixed(
        "Content-Type: text/plain\r\n\r\nhi",
        "Content-Type: application/rtf\r\n\r\n{\\rtf1 x}",
        "Content-Type: application/pdf\r\nContent-Disposition: attachment\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=",
    )
    names = [[a.filename for a in parse_email(raw)[0].attachments] for _ in range(3)]
    assert names == [["attachment-1.rtf", "attachment-2.pdf"]] * 3


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (b"From: Big Bug bb@bug.com\r\n", ("bb@bug.com", "Big Bug")),
        (b"From: Nobody\r\nSender: list@example.com\r\n", ("list@example.com", "")),
        (b"Reply-To: Jane <jane@example.com>\r\n", ("jane@example.com", "Jane")),
        (b"Return-Path: <john.doe@somenet.example>\r\n", ("john.doe@somenet.example", "")),
        (b"Return-Path: <>\r\n", ("", "")),
        (b"From: a@x.test\r\nReply-To: b@x.test\r\n", ("a@x.test", "")),
    ],
)
def test_sender_falls_back_through_sender_reply_to_and_return_path(
    headers: bytes, expected: tuple[str, str]
) -> None:
    sender = parse_email(headers + b"Subject: s\r\n\r\nbody\r\n")[0].sender
    assert (sender.email, sender.name) == expected
