"""Hostile mail (issue 13): what is stored, read and kept, by structure (no timing here;
speed and memory are measured by benchmarks/hostile.py)."""

from __future__ import annotations

import base64
import random

from helpdesk_mail.inbound.parse import parse_email
from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.inbound.result import InboundResult
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.settings import Settings

CRLF = b"\r\n"


def run(raw: bytes) -> InboundResult:
    result = process_email(
        raw, Settings(), InMemoryStorage(), ManualClock(), random=SeededRandom(1)
    )
    assert result.error is None, result.error
    return result


def mail(
    body: bytes, content_type: bytes, subject: bytes = b"Hostile", extra: bytes = b""
) -> bytes:
    return (
        b"From: Jane <jane@example.com>\r\nTo: support@acme.test\r\nSubject: "
        + subject
        + CRLF
        + b"MIME-Version: 1.0\r\nContent-Type: "
        + content_type
        + CRLF
        + extra
        + CRLF
        + body
    )


def rfc822_chain(depth: int, text: bytes = b"level text\r\n" * 100) -> bytes:
    """message/rfc822 inside message/rfc822, `depth` levels, a text part at each."""
    inner = mail(text, b"text/plain; charset=utf-8", b"level 0")
    for i in range(1, depth):
        inner = mail(
            b"--lvl%d\r\nContent-Type: text/plain\r\n\r\n" % i
            + text
            + b"--lvl%d\r\nContent-Type: message/rfc822\r\n\r\n" % i
            + inner
            + b"\r\n--lvl%d--\r\n" % i,
            b'multipart/mixed; boundary="lvl%d"' % i,
            b"Fwd: level %d" % i,
        )
    return inner


def test_an_rfc822_chain_is_stored_once_as_the_outer_message() -> None:
    # Issue 13.2b: each level was stored with its whole subtree (1 MB in, 32 MB stored).
    raw = rfc822_chain(20)
    [attached] = run(raw).email.attachments
    assert attached.filename == "Fwd: level 18.eml"
    assert attached.content_type == "message/rfc822"
    assert attached.size < len(raw)
    content = attached.content
    assert content.startswith(b"From: Jane <jane@example.com>\nTo: support@acme.test\n")
    # the whole chain is in it, once
    assert content.count(b"Subject: Fwd: level") == 18 and content.count(b"level 0") == 1
    assert content.count(b"level text") == 19 * 100


def test_an_attached_message_is_reported_once_with_its_subject_as_name() -> None:
    # mail-parser reported a message/rfc822 attached without a file name under a made-up
    # name, and the same part was added again under its subject
    inner = mail(b"old text\r\n", b"text/plain", b"Earlier")
    raw = mail(
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
        + inner
        + b"\r\n--b--\r\n",
        b"multipart/mixed; boundary=b",
    )
    [attached] = run(raw).email.attachments
    assert attached.filename == "Earlier.eml" and not attached.inline
    assert b"Subject: Earlier\n" in attached.content and b"old text" in attached.content


def test_files_inside_an_attached_message_stay_inside_it() -> None:
    pdf = base64.b64encode(b"%PDF-1.4 inner").decode().encode()
    inner = mail(
        b"--i\r\nContent-Type: text/plain\r\n\r\nsee the pdf\r\n"
        b'--i\r\nContent-Type: application/pdf; name="inner.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + pdf + b"\r\n--i--\r\n",
        b"multipart/mixed; boundary=i",
        b"Forwarded",
    )
    raw = mail(
        b"--b\r\nContent-Type: text/plain\r\n\r\nFYI\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b--\r\n",
        b"multipart/mixed; boundary=b",
    )
    [attached] = run(raw).email.attachments
    assert attached.filename == "Forwarded.eml"
    assert pdf in attached.content


def test_one_bad_base64_character_does_not_empty_the_attachment() -> None:
    # Issue 13.2b: the whole attachment was dropped for one character.
    data = random.Random(7).randbytes(57 * 200)
    encoded = base64.encodebytes(data).replace(b"\n", CRLF)
    line = 78 * 100  # a character inside line 100, not a line end
    garbled = encoded[:line] + b"!" + encoded[line + 1 :]
    added = encoded[:line] + b"!" + encoded[line:]
    for body in (garbled, added):
        raw = mail(
            b"--b\r\nContent-Type: text/plain\r\n\r\nthe scan\r\n"
            b'--b\r\nContent-Type: application/pdf; name="scan.pdf"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"--b--\r\n",
            b"multipart/mixed; boundary=b",
        )
        [scan] = run(raw).email.attachments
        assert scan.size == len(data)
        wrong = sum(a != b for a, b in zip(scan.content, data, strict=True))
        assert wrong <= (1 if body is garbled else 0)


def nested_multiparts(depth: int, text: bytes = b"hello from the bottom\r\n") -> bytes:
    opening = b"".join(
        b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (i, i + 1)
        for i in range(depth - 1)
    )
    inner = b"--n%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" % (depth - 1) + text
    inner += b'--n%d\r\nContent-Type: application/pdf; name="deep.pdf"\r\n\r\n%%PDF\r\n' % (
        depth - 1
    )
    closing = b"".join(b"\r\n--n%d--\r\n" % i for i in reversed(range(depth)))
    return mail(opening + inner + closing, b'multipart/mixed; boundary="n0"')


def test_deeply_nested_multiparts_are_read() -> None:
    parsed, _ = parse_email(nested_multiparts(400))
    assert parsed.text == "hello from the bottom"
    assert [a.filename for a in parsed.attachments] == ["deep.pdf"]
