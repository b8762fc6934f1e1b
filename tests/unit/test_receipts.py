"""Receipt keys (`inbound.receipts`): Message-ID and content hash of raw emails."""

from __future__ import annotations

import pytest

from helpdesk_mail.inbound.receipts import content_sha256, message_id_of, receipt_key


def mail(n: int) -> bytes:
    """A small customer email number `n` (as the poller tests deliver them)."""
    lines = [
        f"From: Customer {n} <customer{n}@example.com>",
        "To: support@acme.test",
        f"Subject: Problem number {n}",
        "Date: Thu, 01 Jan 2026 09:00:00 +0000",
        f"Message-ID: <msg{n}@example.com>",
        "",
        f"Hello, this is problem {n}.",
        "",
    ]
    return "\r\n".join(lines).encode()


# Digests computed by the poller's own implementation before receipt keys moved to
# `inbound.receipts`: stored keys must keep matching the same emails.
PINNED = [
    (mail(1), "ce53939c865b00aaec685a3da53fc66a1263ddde201cec5441b8a74eaa824757"),
    (
        b"Received: x\r\nfrom:  A\xa0B\t <a@b.c>\xa0\r\nSUBJECT: caf\xc3\xa9\r\n  folded\x0b\r\n"
        b"To:\r\nbad line\r\nX Y: skipped\r\nmessage-id: no-brackets@host\n"
        b"\nbody\r\nline\r\n\r\n\r\n",
        "ca587444ec0a8d068b7eae9aea6986b6d5cd52bb546f0a264c1b1b643ebb0ecd",
    ),
    (
        b"Subject: only headers\r\nFrom: a@b.c",
        "eda1173c0b4eb1998c5a7213c9efa39c9ac8d12ff448fe4b2d62578ab06fba62",
    ),
    (
        # no end of header within the scanned 256 KB: hashed whole since issue 13.12
        # (it was 8f574fda07b3303c28ee5d37bf4683923e5c22bbb3687e0d79f69eb627e0b851)
        b"Subject: " + b"s" * (300 * 1024) + b"\r\n\r\nbody",
        "17aaf4d089b5462130c977d7734cab89e76361580d2df40fde354b7907013234",
    ),
]


@pytest.mark.parametrize(("raw", "digest"), PINNED)
def test_content_hash_is_pinned(raw: bytes, digest: str) -> None:
    assert content_sha256(raw) == digest


def test_message_id_of_odd_headers() -> None:
    assert message_id_of(PINNED[1][0]) == "no-brackets@host"
    assert message_id_of(PINNED[3][0]) is None  # no blank line within the scanned head


def test_receipt_key_uses_message_id_and_content_hash() -> None:
    key = receipt_key("box", mail(1))
    assert key.mailbox == "box"
    assert key.message_id == "<msg1@example.com>"
    assert len(key.content_sha256) == 64
    assert receipt_key("box", mail(1)) == key
    assert receipt_key("other", mail(1)) != key


def test_content_hash_ignores_transport_differences() -> None:
    raw = mail(1)
    base = content_sha256(raw)
    relayed = (
        b"Return-Path: <customer1@example.com>\r\n"
        b"Delivered-To: help@acme.test\r\n"
        b"Received: from mx.example.com by mail.acme.test; Thu, 01 Jan 2026 09:00:01 +0000\r\n"
        + raw
    )
    assert content_sha256(relayed) == base  # the same email through another alias
    assert content_sha256(raw.replace(b"\r\n", b"\n")) == base  # LF (Maildir) vs CRLF
    refolded = raw.replace(b"Subject: Problem number 1", b"Subject: Problem\r\n number 1")
    assert content_sha256(refolded) == base
    assert content_sha256(raw + b"\r\n\r\n") == base
    assert content_sha256(raw.replace(b"problem 1.", b"problem 2.")) != base
    assert content_sha256(raw.replace(b"Problem number 1", b"Problem number 2")) != base
    assert content_sha256(raw.replace(b"09:00:00", b"09:00:01")) != base


def test_message_id_folded_odd_and_missing() -> None:
    assert message_id_of(b"Subject: x\r\nMessage-Id:\r\n  <a.b@c>\r\n\r\nbody") == "<a.b@c>"
    assert message_id_of(b"MESSAGE-ID: junk <x@y> (comment)\n\nbody") == "<x@y>"
    assert message_id_of(b"Message-ID: no-brackets@host\r\n\r\n") == "no-brackets@host"
    assert message_id_of(b"Subject: x\r\n\r\nMessage-ID: <in@body>\r\n") is None
    assert message_id_of(b"") is None


def test_emails_alike_in_their_first_256_kb_of_headers_differ() -> None:
    # Issue 13.12: two different emails without Message-ID whose header is longer
    # than the scanned window were one key, and the second was deleted as a duplicate.
    head = b"From: a@example.com\r\nSubject: s\r\n" + b"X-Trace: hop\r\n" * 30_000
    first = head + b"X-Last: 1\r\n\r\nfirst body\r\n"
    second = head + b"X-Last: 2\r\n\r\nsecond body\r\n"
    assert len(head) > 256 * 1024
    assert content_sha256(first) != content_sha256(second)
    assert receipt_key("box", first) != receipt_key("box", second)
    assert content_sha256(first) == content_sha256(first.replace(b"\r\n", b"\n"))


def test_a_body_without_a_blank_line_counts() -> None:
    # lines that are not header fields, with no blank line before them, are the body
    first = b"From: a@example.com\r\nSubject: s\r\nthe printer is on fire\r\n"
    second = b"From: a@example.com\r\nSubject: s\r\nthe printer is fine\r\n"
    assert content_sha256(first) != content_sha256(second)
