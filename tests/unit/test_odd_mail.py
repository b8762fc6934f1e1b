"""Odd and hostile mail through `process_email`: charsets, RFC 2231, controls, long headers."""

from __future__ import annotations

import pytest

from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.inbound.result import InboundResult
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.settings import Settings

C0 = {chr(c) for c in range(32)} - {"\t", "\n"}


def run(raw: bytes) -> InboundResult:
    result = process_email(
        raw, Settings(), InMemoryStorage(), ManualClock(), random=SeededRandom(1)
    )
    assert result.error is None, result.error
    return result


def text_mail(content_type: bytes, body: bytes = b"hello caf\xc3\xa9\r\n") -> bytes:
    return (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: " + content_type + b"\r\n\r\n" + body
    )


def with_attachment(disposition: bytes) -> bytes:
    return (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: " + disposition + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n"
    )


@pytest.mark.parametrize(
    "content_type",
    [
        b"text/plain; charset*=utf-8''utf-8",
        b"text/plain; charset*=us-ascii'en'utf-8",
        b"text/plain; charset*0=utf; charset*1=-8",
    ],
)
def test_rfc2231_charset_of_the_body(content_type: bytes) -> None:
    result = run(text_mail(content_type))
    assert result.email.text == "hello café\n"
    assert result.verdict.value == "create_ticket"


@pytest.mark.parametrize("charset", [b"idna", b"punycode", b"undefined", b"unicode_escape"])
def test_charsets_that_are_not_text_fall_back(charset: bytes) -> None:
    result = run(text_mail(b"text/plain; charset=" + charset, b"caf\xc3\xa9 \\x41 - a-b\r\n"))
    assert result.email.text == "café \\x41 - a-b\n"  # read as UTF-8, nothing interpreted


@pytest.mark.parametrize("charset", ["idna", "punycode", "undefined"])
def test_encoded_words_in_charsets_that_are_not_text(charset: str) -> None:
    raw = (
        f"From: =?{charset}?q?Bob_Caf=C3=A9?= <a@example.com>\r\n"
        f"Subject: =?{charset}?q?caf=C3=A9-x?=\r\n\r\nhello\r\n"
    ).encode()
    result = run(raw)
    assert result.email.subject == "café-x"
    assert result.email.sender.name == "Bob Café"


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        (b"attachment; filename*=undefined''caf%C3%A9.pdf", "café.pdf"),
        (b"attachment; filename*=idna''caf%C3%A9.pdf", "café.pdf"),
        (b"attachment; filename*=utf-8''a.pdf; filename*0=b.pdf", "a.pdf"),
        (b"attachment; filename*0*=utf-8''a%20; filename*1=b.pdf", "a b.pdf"),
    ],
)
def test_rfc2231_file_names_in_odd_charsets_and_pieces(disposition: bytes, name: str) -> None:
    result = run(with_attachment(disposition))
    assert [a.filename for a in result.email.attachments] == [name]


def test_stored_text_has_no_control_characters() -> None:
    raw = (
        b'From: "Bo\x00b\x01" <a@example.com>\r\n'
        b"Subject: hi\x00 there\x07 =?utf-8?q?x=00y=1B?=\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nhel\x00lo\x0b\x1b\r\nline\ttwo\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>x\x00y\x0c</p>\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="a\x00b\x07.pdf"\r\n'
        b"\r\nJVBERg==\r\n--b--\r\n"
    )
    email = run(raw).email
    assert email.subject == "hi there xy"
    assert email.sender.name == "Bob"
    assert email.text == "hello\nline\ttwo"
    assert email.html == "<p>xy</p>"
    assert [a.filename for a in email.attachments] == ["ab.pdf"]
    for value in (
        email.subject,
        email.sender.name,
        email.text,
        email.html,
        *dict(email.headers).values(),
    ):
        assert not C0 & set(value)


def test_a_long_cc_is_never_cut_inside_an_address() -> None:
    # The old cap (the first 16 KB of the value) fell inside the last address and
    # kept "ceo@bigcorp.co".
    value = b", ".join(b"user%05d@example.com" % i for i in range(711)) + b", "
    value = b"xxx@example.com, " + value + b"ceo@bigcorp.com"
    assert value[:16_384].endswith(b"ceo@bigcorp.co")
    raw = b"From: a@example.com\r\nCc: " + value + b"\r\nSubject: x\r\n\r\nhello\r\n"
    emails = [a.email for a in run(raw).email.cc]
    assert "ceo@bigcorp.co" not in emails
    assert emails[-1] == "ceo@bigcorp.com"
    assert len(emails) == 713


def test_too_many_addresses_are_capped_and_the_detail_says_so() -> None:
    cc = b"Cc: " + b", ".join(b"u%d@example.com" % i for i in range(1500))
    raw = b"From: a@example.com\r\n" + cc + b"\r\nSubject: x\r\n\r\nhello\r\n"
    result = run(raw)
    assert len(result.email.cc) == 1000
    assert "cc: only the first 1000 addresses read" in result.detail
    assert "AddressesCapped: cc: only the first 1000 addresses read" in result.email.defects


def test_an_address_header_longer_than_the_cap_loses_whole_addresses_only() -> None:
    cc = b"Cc: " + b", ".join(b"u%054d@example.com" % i for i in range(990))  # 68 KB
    raw = b"From: a@example.com\r\n" + cc + b"\r\nSubject: x\r\n\r\nhello\r\n"
    result = run(raw)
    emails = [a.email for a in result.email.cc]
    assert 900 < len(emails) < 990
    assert all(len(e) == 67 for e in emails)
    assert "cc: only the first 65536 characters read" in result.detail


def test_long_parameter_headers_keep_their_first_parameters() -> None:
    content_type = b'text/plain; charset=utf-8; name="' + b"a;" * 100_000 + b'"'
    assert run(text_mail(content_type)).email.text == "hello café\n"
    disposition = b'attachment; filename="report.pdf"; x="' + b"a;" * 100_000 + b'"'
    names = [a.filename for a in run(with_attachment(disposition)).email.attachments]
    assert names == ["report.pdf"]


def test_many_parameters_keep_the_boundary() -> None:
    content_type = b"multipart/mixed; " + b"a=b; " * 50_000 + b"boundary=b"
    raw = with_attachment(b"attachment").replace(b"multipart/mixed; boundary=b", content_type)
    # the boundary comes after the parameters that are read: the body is one text part
    result = run(raw)
    assert result.verdict.value == "create_ticket"
    content_type = b"multipart/mixed; boundary=b; " + b"a=b; " * 50_000
    raw = with_attachment(b'attachment; filename="r.pdf"').replace(
        b"multipart/mixed; boundary=b", content_type
    )
    assert [a.filename for a in run(raw).email.attachments] == ["r.pdf"]


def test_an_attached_message_keeps_a_long_header_cut_and_folded() -> None:
    # The stdlib writes attached messages back through email.header.Header, whose
    # folding is quadratic in the length of a line (minutes for 1 MB).
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b'--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="x.eml"'
        b"\r\n\r\nSubject: " + b"word " * 4000 + b"\r\nFrom: b@example.com\r\n\r\ninner body\r\n"
        b"--b--\r\n"
    )
    attached = [a for a in run(raw).email.attachments if a.filename == "x.eml"]
    assert len(attached) == 1
    content = attached[0].content
    assert b"inner body" in content and b"From: b@example.com" in content
    assert max(len(line) for line in content.splitlines()) <= 998
    assert 3000 < content.count(b"word") < 4000
