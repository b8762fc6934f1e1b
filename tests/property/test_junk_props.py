"""Property tests: the junk filter returns a JunkVerdict for any input and never raises."""

from __future__ import annotations

import email
from email.message import Message

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.inbound.junk import JunkVerdict, classify

HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Message-ID",
    "Return-Path",
    "Auto-Submitted",
    "Precedence",
    "X-Autoreply",
    "X-Autorespond",
    "X-Auto-Response-Suppress",
    "X-Failed-Recipients",
    "X-MS-Exchange-Inbox-Rules-Loop",
    "X-MS-Exchange-Message-Is-Ndr",
    "List-Id",
    "X-Loop",
    "Content-Transfer-Encoding",
]
CONTENT_TYPES = [
    "text/plain",
    "text/html",
    "text/rfc822-headers",
    "message/rfc822",
    "message/delivery-status",
    "message/global-delivery-status",
    "message/feedback-report",
    "message/disposition-notification",
    "multipart/report; report-type=delivery-status",
    "multipart/report; report-type=feedback-report",
    "multipart/mixed",
    "application/octet-stream",
    "image/png",
]
CHARSETS = ["utf-8", "iso-8859-1", "iso-2022-jp", "x-unknown", "zlib", "utf-7", "", "rot13"]
SNIPPETS = [
    "Final-Recipient: rfc822; a@b.example",
    "Action: failed",
    "Action: delayed",
    "Status: 5.1.1",
    "Original-Recipient: rfc822;",
    "This is the mail system at host x.",
    "Hi. This is the qmail-send program at x.",
    "<x@y.example>:",
    "--- Below this line is a copy of the message.",
    "The following address(es) failed:",
    "Return-Path: <>",
    '{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":1}]}}',
    "=?utf-8?b?////?=",
    "=?bogus?q?x?=",
]

header_value = st.one_of(
    st.text(max_size=80),
    st.sampled_from(SNIPPETS),
    st.sampled_from(["<>", "auto-replied", "no", "MAILER-DAEMON@x.example", "noreply@x.example"]),
)


@st.composite
def mime_message(draw: st.DrawFn, depth: int = 0) -> str:
    lines = [
        f"{name}: {draw(header_value)}"
        for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=8))
    ]
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    if ctype.startswith("multipart/") and depth < 3:
        boundary = draw(st.sampled_from(["b1", "b2", "", "weird boundary", "b1--"]))
        lines.append(f'Content-Type: {ctype}; boundary="{boundary}"')
        parts = draw(st.lists(mime_message(depth + 1), max_size=3))
        body = "".join(f"--{boundary}\n{p}\n" for p in parts) + f"--{boundary}--\n"
        if draw(st.booleans()):
            body = body[: draw(st.integers(0, len(body)))]
    else:
        lines.append(f"Content-Type: {ctype}; charset={charset}")
        body = "\n".join(
            draw(st.lists(st.one_of(st.text(max_size=60), st.sampled_from(SNIPPETS)), max_size=10))
        )
    return "\n".join(lines) + "\n\n" + body


def _classify_bytes(raw: bytes, sender: str, helpdesk: list[str]) -> JunkVerdict:
    msg = email.message_from_bytes(raw)
    return classify(
        msg,
        sender=sender,
        helpdesk_addresses=helpdesk,
        is_own_message_id=lambda mid: mid.endswith("x>"),
    )


def _check(v: JunkVerdict) -> None:
    assert isinstance(v, JunkVerdict)
    assert v.kind in (None, "bounce", "auto_reply", "system_sender", "loop")
    if v.evidence is not None:
        assert len(v.evidence) <= 200 and "\n" not in v.evidence
    if v.kind is None:
        assert v.rule is None and v.bounced_recipients == ()
    assert all(r == r.lower() for r in v.bounced_recipients)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.binary(max_size=4000),
    sender=st.text(max_size=40),
    helpdesk=st.lists(st.text(max_size=20), max_size=3),
)
def test_arbitrary_bytes(raw: bytes, sender: str, helpdesk: list[str]) -> None:
    _check(_classify_bytes(raw, sender, helpdesk))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=mime_message(),
    sender=st.sampled_from(["", "mailer-daemon@x.example", "a@b.example", "noreply@x"]),
)
def test_generated_mime_structures(text: str, sender: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    _check(_classify_bytes(raw, sender, ["support@acme.test"]))
    _check(_classify_bytes(raw.replace(b"\n", b"\r\n"), sender, []))


@settings(max_examples=100, deadline=None)
@given(
    headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=10),
    payload=st.one_of(
        st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    ),
)
def test_programmatic_messages(headers: list[tuple[str, str]], payload: str) -> None:
    msg = Message()
    for name, value in headers:
        try:
            msg[name] = value
        except Exception:
            continue
    msg.set_payload(payload)
    _check(classify(msg, sender=""))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mime_message(), raw=st.binary(max_size=1500))
def test_rules_themselves_do_not_raise(text: str, raw: bytes) -> None:
    # classify() swallows errors (a broken rule is skipped); this checks that the
    # rules and the bounce details do not rely on that on hostile input.
    from helpdesk_mail.inbound.junk import NO_AUTO_RESPONSE_RULES, RULES, RuleContext
    from helpdesk_mail.inbound.mime import parse_bytes
    from helpdesk_mail.inbound.mime_headers import decoded_headers

    for data in (text.encode("utf-8", "surrogatepass"), raw):
        for msg in (email.message_from_bytes(data), parse_bytes(data)):
            ctx = RuleContext(
                msg, decoded_headers(msg), "a@b.example", ["support@acme.test"], lambda m: False
            )
            for rule in RULES:
                rule.predicate(ctx)
                if rule.kind == "bounce":
                    ctx.bounce(rule.name)
            for _, predicate in NO_AUTO_RESPONSE_RULES:
                predicate(ctx)
