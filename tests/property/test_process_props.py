"""process_email never raises and never reports an internal error, whatever the bytes."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.settings import Settings

SETTINGS = Settings()
STORAGE = InMemoryStorage()
CLOCK = ManualClock()


# Stored text holds no C0 control character but tab and newline.
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f]")


def check(raw: bytes) -> None:
    result = process_email(raw, SETTINGS, STORAGE, CLOCK, random=SeededRandom(0))
    assert result.error is None, result.error
    json.dumps(result.to_json(), ensure_ascii=False).encode("utf-8")
    email = result.email
    stored = [
        email.subject,
        email.text,
        email.html or "",
        result.body_text,
        *(a.name for a in (email.sender, *email.to, *email.cc, *email.reply_to)),
        *(a.filename for a in email.attachments),
        *(value for _, value in email.headers),
    ]
    assert not any(CONTROLS.search(text) for text in stored), stored


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_any_bytes(raw: bytes) -> None:
    check(raw)


HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Auto-Submitted",
        "Precedence",
        "Reply-To",
        "Date",
        "X-Failed-Recipients",
        "Return-Path",
    ]
)
TEXTISH = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60
) | st.sampled_from(
    [
        "=?utf-8?q?caf=C3=A9?=",
        "=?bogus?b?!!!?=",
        "multipart/mixed; boundary=b",
        "base64",
        "quoted-printable",
        "text/html; charset=klingon",
        "message/rfc822",
        "<a@b>",
        "multipart/report; report-type=delivery-status; boundary=b",
        "attachment; filename*=x''%FF",
        "attachment; filename*=undefined''caf%C3%A9",
        "attachment; filename*=utf-8''a; filename*0=b",
        "text/plain; charset*=utf-8''utf-8",
        "text/plain; charset=idna",
        "text/plain; charset=punycode",
        "text/plain; charset=undefined",
        'multipart/mixed; boundary=b; name="a;b;c"',
        "=?idna?q?caf=C3=A9?=",
        "a\x00b\x07c\x1bd",
    ]
)


@st.composite
def mime(draw: st.DrawFn, depth: int = 0) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, TEXTISH), max_size=8))
    lines = [f"{k}: {v}".encode("utf-8", "surrogateescape") for k, v in headers]
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b", "B1", "x"]))
        lines.append(f"Content-Type: multipart/mixed; boundary={boundary}".encode())
        parts = draw(st.lists(mime(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\r\n"
    else:
        body = draw(st.binary(max_size=300) | TEXTISH.map(lambda t: t.encode("utf-8")))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mime())
def test_generated_mime_structures(raw: bytes) -> None:
    check(raw)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_after_real_headers(tail: bytes) -> None:
    check(b"From: Jane <jane@example.com>\r\nTo: support@acme.test\r\nSubject: x\r\n" + tail)
