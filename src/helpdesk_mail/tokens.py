"""Tokens that tie mail to tickets: the subject token `[#1234]` and signed Message-IDs.

A generated Message-ID looks like `<hd.1234.k3j5h2.9f8e7d6c5b4a3f2e1d0c@acme.test>`: the
ticket id, a random nonce and an HMAC-SHA256 tag (truncated to 80 bits) over both,
keyed with `OutgoingSettings.secret_key`. A reply's In-Reply-To/References carry it
back; `check_message_id` returns the ticket only when the tag verifies, so a forged
ID that merely looks like ours is recognised as forged. Mail that is not about a
ticket (or a helpdesk without a secret) gets an unsigned random Message-ID.

The subject token `[#1234]` is what a reply carries when its Message-IDs are lost;
notifications put it first in their subject (`with_ticket_token`), and inbound reads
it back (`ticket_token`).

Subjects are cleaned the same way on both sides (`clean_subject`): control, zero-width
and bidi characters are removed before inbound reads the email API's commands
(`SUBJECT_COMMAND`) or stores the subject, so that what a technician sees is what is
read back from their reply; and a notification's subject never carries a command
(`without_commands`), so that a plain reply can only run the commands its sender typed.

Links that carry our signed tokens (autologin, rating, unsubscribe: `LINK_TOKEN`) are
neutralised in stored inbound content (`neutralize_link_tokens`): a customer quoting a
notification must not pass their sign-in link on to everyone the ticket notifies.

Randomness comes in as a `token_bytes(n)` function (a `RandomSource`'s method), so
this module stays free of I/O.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "LINK_TOKEN",
    "SUBJECT_COMMAND",
    "TICKET_TOKEN",
    "MessageIdCheck",
    "check_message_id",
    "clean_subject",
    "make_message_id",
    "neutralize_link_tokens",
    "new_message_id",
    "ticket_token",
    "with_ticket_token",
    "without_commands",
]

TokenBytes = Callable[[int], bytes]
"""A source of `n` random bytes (`RandomSource.token_bytes`)."""

TICKET_TOKEN = re.compile(r"\[#(\d{1,18})\]")
"""The ticket token of a subject, `[#1234]`."""

SUBJECT_COMMAND = re.compile(r"#(unsubscribe|unsub|close|tech)#", re.IGNORECASE)
"""A command of the email API in a subject: `#tech#`, `#close#`, `#unsubscribe#`, `#unsub#`."""

# Removed from subjects: C0/C1 controls, DEL, zero-width and joiner characters, bidi
# embeddings, overrides, isolates and marks, the soft hyphen, invisible operators, tag
# characters and the other format characters (Unicode category Cf); line and paragraph
# separators and white-space controls (tab, CR, LF...) become a space.
_SUBJECT_BLANKS = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]+")
_SUBJECT_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f"
    "\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"
    "\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f]"
)
_SPACES = re.compile(" {2,}")

LINK_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_.-])eyJ[A-Za-z0-9_-]{4,2040}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"
)
"""A signed link token (`outbound.autologin`): base64url JSON (it starts `{"`, so `eyJ`),
a dot and the base64url HMAC-SHA256 tag (43 characters)."""

_SIGNED = re.compile(r"^<?hd\.(\d{1,18})\.([a-z2-7]{1,32})\.([0-9a-f]{20})@([^<>\s@]+)>?$")
_SIGNED_NONCE_BYTES = 10
_UNSIGNED_NONCE_BYTES = 15


def clean_subject(subject: str) -> str:
    """`subject` without control, zero-width, bidi and other invisible format characters
    (line breaks and tabs become spaces), white space collapsed: what a person sees is
    what the library reads (`#cl\\x7fose#` is `#close#`, and is read as the command)."""
    subject = _SUBJECT_INVISIBLE.sub("", _SUBJECT_BLANKS.sub(" ", subject))
    return _SPACES.sub(" ", subject).strip(" ")


def without_commands(subject: str) -> str:
    """`subject` (cleaned) with every email-API command removed: what a notification's
    subject may carry, so that a reply to it runs no command its sender did not type."""
    subject = clean_subject(subject)
    if SUBJECT_COMMAND.search(subject) is None:
        return subject
    return _SPACES.sub(" ", SUBJECT_COMMAND.sub(" ", subject)).strip(" ")


def neutralize_link_tokens(text: str) -> str:
    """`text` with every signed link token (`LINK_TOKEN`) removed, so that a quoted
    notification's autologin, rating or unsubscribe link no longer signs anyone in; the
    link itself stays and leads to the helpdesk's sign-in."""
    if "eyJ" not in text:
        return text
    return LINK_TOKEN.sub("", text)


def ticket_token(subject: str) -> int | None:
    """The ticket id of the first `[#1234]` token in the subject, if any."""
    match = TICKET_TOKEN.search(subject)
    return int(match.group(1)) if match else None


def with_ticket_token(subject: str, ticket_id: int | None) -> str:
    """`subject` starting with `[#ticket_id]`, unless its first token already names it."""
    if ticket_id is None or ticket_token(subject) == ticket_id:
        return subject
    return f"[#{ticket_id}] {subject}"


@dataclass(frozen=True)
class MessageIdCheck:
    """What a Message-ID says about itself: ours (`ticket_id` set), forged, or foreign."""

    ticket_id: int | None
    forged: bool


def _nonce(token_bytes: TokenBytes, n: int) -> str:
    return base64.b32encode(token_bytes(n)).decode("ascii").lower().rstrip("=")


def _tag(secret: str, ticket_id: int, nonce: str) -> str:
    mac = hmac.new(secret.encode(), f"{ticket_id}.{nonce}".encode(), hashlib.sha256)
    return mac.hexdigest()[:20]


def make_message_id(ticket_id: int, domain: str, secret: str, token_bytes: TokenBytes) -> str:
    """A new signed Message-ID (with angle brackets) for a notification about `ticket_id`."""
    if not secret:
        raise ValueError("a secret key is needed to sign Message-IDs")
    nonce = _nonce(token_bytes, _SIGNED_NONCE_BYTES)
    return f"<hd.{ticket_id}.{nonce}.{_tag(secret, ticket_id, nonce)}@{domain}>"


def new_message_id(ticket_id: int | None, domain: str, secret: str, token_bytes: TokenBytes) -> str:
    """The Message-ID of a new notification: signed when it is about a ticket and a
    secret is set, else an unsigned random one."""
    if ticket_id is not None and secret:
        return make_message_id(ticket_id, domain, secret, token_bytes)
    return f"<hdn.{_nonce(token_bytes, _UNSIGNED_NONCE_BYTES)}@{domain}>"


def check_message_id(message_id: str, secret: str) -> MessageIdCheck:
    """Whether `message_id` was generated by this helpdesk, and for which ticket."""
    match = _SIGNED.match(message_id.strip())
    if match is None or not secret:
        return MessageIdCheck(ticket_id=None, forged=match is not None and not secret)
    ticket_id, nonce, tag = int(match[1]), match[2], match[3]
    if hmac.compare_digest(tag, _tag(secret, ticket_id, nonce)):
        return MessageIdCheck(ticket_id=ticket_id, forged=False)
    return MessageIdCheck(ticket_id=None, forged=True)
