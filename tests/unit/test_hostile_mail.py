"""Hostile mail (issue 13): what is stored, read and kept, by structure (no timing here;
speed and memory are measured by benchmarks/hostile.py)."""

from __future__ import annotations

import base64
import email.policy
import random
import re
from email.message import EmailMessage

import pytest

from helpdesk_mail import bind_ticket, notify
from helpdesk_mail.inbound.parse import parse_email
from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.inbound.result import InboundResult
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import InMemoryStorage, ManualClock, Outbox, SeededRandom
from helpdesk_mail.model import Role, User
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.samples.preview import (
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.settings import (
    IncomingSettings,
    NotificationSettings,
    OutgoingSettings,
    Settings,
)

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


# --- what notifications attach --------------------------------------------------------


def notifications_of(raw: bytes, settings: Settings) -> list[EmailMessage]:
    """The emails sent about `raw` made into a ticket (as the benchmark runs it)."""
    storage = InMemoryStorage()
    storage.add_user(
        User("tess@acme.test", "Tess Tech", Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    )
    storage.add_user(User("jane@example.com", "Jane", Role.USER))  # her confirmation shows all
    clock = ManualClock()
    result = process_email(raw, settings, storage, clock, random=SeededRandom(1))
    outcome = storage.commit(result.actions, key=None)
    outbox = Outbox()
    for event in result.events:
        event = bind_ticket(event, outcome.ticket_id)
        notify(event, settings, storage, None, outbox, clock, SeededRandom(2))
    assert outbox.messages
    return outbox.messages


def hostile_settings(**notifications: int) -> Settings:
    return Settings(
        incoming=IncomingSettings(
            helpdesk_addresses=("support@acme.test",), default_category="Hardware"
        ),
        notifications=NotificationSettings(**notifications),  # type: ignore[arg-type]
        outgoing=OutgoingSettings(
            from_address="support@acme.test", helpdesk_url="https://help.acme.test"
        ),
    )


def with_files(sizes: list[int]) -> bytes:
    parts = [b"Content-Type: text/plain\r\n\r\nthe files\r\n"]
    for i, size in enumerate(sizes):
        data = base64.encodebytes(bytes([i % 256]) * size).replace(b"\n", CRLF)
        parts.append(
            b'Content-Type: application/octet-stream; name="f%d.bin"\r\n' % i
            + b"Content-Transfer-Encoding: base64\r\n\r\n"
            + data
        )
    body = b"".join(b"--b\r\n" + p + CRLF for p in parts) + b"--b--\r\n"
    return mail(body, b"multipart/mixed; boundary=b")


def test_a_notification_attaches_files_up_to_its_size_bound() -> None:
    raw = with_files([400_000, 700_000, 200_000, 100_000])
    for msg in notifications_of(raw, hostile_settings(max_attached_bytes=1_000_000)):
        attached = [(p.get_filename(), len(p.get_content())) for p in msg.iter_attachments()]
        # in order while they fit: f1 does not fit after f0, f2 and f3 do
        assert attached == [("f0.bin", 400_000), ("f2.bin", 200_000), ("f3.bin", 100_000)]
        assert "f1.bin" in str(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        assert len(msg.as_bytes()) < 2 * 1_000_000


def test_a_notification_attaches_at_most_its_number_of_files() -> None:
    # Issue 13: thousands of tiny files were each attached to every notification.
    raw = with_files([10] * 300)
    stored = run(raw).email.attachments
    assert len(stored) == 300
    for msg in notifications_of(raw, hostile_settings()):
        assert [p.get_filename() for p in msg.iter_attachments()] == [
            f"f{i}.bin" for i in range(50)
        ]
    for msg in notifications_of(raw, hostile_settings(max_attached_files=3)):
        assert len(list(msg.iter_attachments())) == 3


def test_suggested_articles_are_searched_with_the_start_of_the_ticket_only() -> None:
    searched: list[str] = []

    class Spy(InMemoryStorage):
        def search_kb(self, text: str, limit: int) -> tuple[()]:
            searched.append(text)
            return ()

    storage = Spy()
    settings = hostile_settings()
    raw = mail(b"the printer is on fire " * 50_000, b"text/plain")
    result = process_email(raw, settings, storage, ManualClock(), random=SeededRandom(1))
    outcome = storage.commit(result.actions, key=None)
    [event] = result.events
    notify(
        bind_ticket(event, outcome.ticket_id),
        settings,
        storage,
        None,
        Outbox(),
        ManualClock(),
        SeededRandom(2),
    )
    assert searched and all(len(q) <= 2000 for q in searched)
    assert searched[0].startswith("Hostile the printer is on fire")
    assert searched[0].rsplit(" ", 1)[1] in {"the", "printer", "is", "on", "fire"}  # whole words


def test_quoted_history_is_looked_for_in_the_first_lines_of_a_long_body() -> None:
    from helpdesk_mail.inbound.quotes import MAX_REPLY_LINES, reply_text_from_plain

    quote = "> an old line\n" * (3 * MAX_REPLY_LINES)
    # history that starts within the lines looked at goes, however long it is
    reply = "Thanks, fixed.\n\nOn Mon, 5 Jan 2026, Jane wrote:\n" + quote
    assert reply_text_from_plain(reply) == "Thanks, fixed."
    # past them, the text is kept as it is
    long_text = "a line of new text\n" * (2 * MAX_REPLY_LINES) + quote
    assert reply_text_from_plain(long_text) == long_text.rstrip()
    # leading blank lines are not counted
    assert reply_text_from_plain("\n" * (2 * MAX_REPLY_LINES) + reply) == "Thanks, fixed."


def test_notifications_are_written_as_the_stdlib_writes_them() -> None:
    # their writer writes bodies a slice at a time, with boundaries set beforehand
    raw = with_files([3000, 5])
    for msg in notifications_of(raw, hostile_settings()):
        for wire in (email.policy.SMTP, email.policy.SMTPUTF8):
            ours = msg.as_bytes(policy=wire)
            assert ours == EmailMessage.as_bytes(msg, policy=wire)
            assert re.search(rb"\r\n--==hm_[0-9a-f]{20}_0==--\r\n", ours)  # set beforehand


def test_mail_nested_too_deep_for_the_parser_becomes_a_ticket() -> None:
    # Issue 13.11: 1,000 levels of multipart were discarded as malformed.
    result = run(nested_multiparts(1000))
    assert result.verdict.value == "create_ticket" and result.hold is None
    assert result.body_text == "hello from the bottom"
    assert [a.filename for a in result.email.attachments] == ["deep.pdf"]
    assert any(d.startswith("Flattened: ") for d in result.email.defects)


def test_mail_nested_too_deep_with_nothing_readable_is_held() -> None:
    empty = nested_multiparts(1000, text=b"").replace(
        b'Content-Type: application/pdf; name="deep.pdf"\r\n\r\n%PDF\r\n', b""
    )
    result = run(empty)
    assert result.verdict.value == "discard" and result.reason is not None
    assert result.reason.value == "malformed"
    assert result.hold is not None and "nothing readable" in result.hold
    assert result.actions == ()  # nothing committed: the poller keeps the mail


def test_a_message_of_too_many_parts_keeps_its_first_parts() -> None:
    # thousands of tiny files: a message object each (11x the mail in memory)
    result = run(with_files([4] * 1200))
    names = [a.filename for a in result.email.attachments]
    assert names == [f"f{i}.bin" for i in range(999)]  # the text part is the first of 1000
    assert result.body_text == "the files"
    assert "1201 parts, 1 levels: parts read side by side, only the first 1000 kept" in (
        result.detail
    )
    small = run(with_files([4] * 900))
    assert len(small.email.attachments) == 900 and small.detail == "new ticket"


@pytest.mark.parametrize("kind", list(TemplateKind), ids=str)
def test_every_kind_of_notification_is_written_as_the_stdlib_writes_it(kind: TemplateKind) -> None:
    messages = render_message(
        sample_planned(kind),
        None,
        sample_settings(),
        sample_storage(),
        sample_clock(),
        sample_random(),
    )
    assert messages
    for msg in messages:
        assert msg.as_bytes(policy=email.policy.SMTP) == EmailMessage.as_bytes(
            msg, policy=email.policy.SMTP
        )
        assert bytes(msg) == EmailMessage.as_bytes(msg)


def test_a_header_of_too_many_fields_keeps_its_first_fields() -> None:
    # 200,000 header fields kept a name and a value each (14x the mail)
    traces = b"".join(b"X-Trace-%d: hop\r\n" % i for i in range(3000))
    result = run(mail(b"Hello.\r\n", b"text/plain", extra=traces))
    assert result.verdict.value == "create_ticket" and result.body_text == "Hello."
    names = [name for name, _ in result.email.headers]
    assert "X-Trace-0" in names and "X-Trace-2999" not in names
    assert "header of 3005 fields: only the first 1000 read" in result.detail
    # a sender named only after them is not seen: the mail is held, not lost
    late_sender = traces + b"From: late@example.com\r\n"
    held = run(b"To: support@acme.test\r\nSubject: s\r\n" + late_sender + b"\r\nHello.\r\n")
    assert held.hold is not None


def test_a_header_field_longer_than_its_cap_is_cut() -> None:
    subject = b" ".join(b"word%d" % i for i in range(40_000))  # about 300 KB
    result = run(mail(b"Hello.\r\n", b"text/plain", subject=subject))
    assert result.email.subject.startswith("word0 word1 word2")
    assert "1 header fields cut at 131072 bytes" in result.detail


def test_a_notification_shows_a_long_text_message_up_to_the_bound_of_html() -> None:
    # Issue 13: the HTML of a message was shown up to sanitize.MAX_INPUT characters, its
    # text whole: a 4 MB text comment made every notification about it 8 MB (text and
    # its HTML alternative), rendered again for every later notification that shows it.
    from helpdesk_mail.templating.sanitize import MAX_INPUT

    words = b"word " * (2 * MAX_INPUT // 5)  # 2 x MAX_INPUT characters
    raw = mail(words + b"\r\nTHE-END\r\n", b"text/plain; charset=utf-8")
    for msg in notifications_of(raw, hostile_settings()):
        text = str(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        html = str(msg.get_body(preferencelist=("html",)).get_content())  # type: ignore[union-attr]
        assert text.count("word") > MAX_INPUT // 6  # most of what may be shown is shown
        assert text.count("word") <= MAX_INPUT // 5 and html.count("word") <= MAX_INPUT // 5
        assert "THE-END" not in text and "THE-END" not in html
        assert len(msg.as_bytes()) < 3 * MAX_INPUT
