"""Signed links: autologin (sign in without a password), ratings and unsubscribe.

An autologin token is ``<payload>.<tag>``: the payload is base64url JSON with the
user's address, the ticket id and the expiry (Unix seconds); the tag is
HMAC-SHA256 over a purpose prefix and the payload, keyed with
`OutgoingSettings.secret_key`, in base64url. `verify_autologin_token` checks the tag
in constant time (`hmac.compare_digest`) and rejects expired tokens; it returns None
for anything else, whatever the input.

Rules (the spec's, enforced by `outbound.compose`): autologin links go only to
regular users (`Recipient.autologin`, role `user`), only when
`NotificationSettings.autologin_links` is on, never in CC mode, and expire after
`autologin_ttl_hours` (72 by default).

The same signing makes rating and unsubscribe links (`make_link_token`,
`verify_link_token`), each with its own purpose so that one kind of token can never
be used as another.

URLs (the host routes them): ``{base}/autologin?token=...``,
``{base}/ticket/{id}/rate/{good|ok|bad}?token=...``, ``{base}/ticket/{id}/unsubscribe?token=...``.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..addresses import normalize_email

__all__ = [
    "AutologinClaims",
    "LinkClaims",
    "make_autologin_url",
    "make_link_token",
    "make_rating_url",
    "make_unsubscribe_url",
    "ticket_url",
    "verify_autologin_token",
    "verify_link_token",
]

DEFAULT_TTL = timedelta(hours=72)
MAX_TOKEN = 2048
_AUTOLOGIN = "autologin"


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link token says: its purpose, who, which ticket, until when."""

    purpose: str
    email: str
    ticket_id: int | None
    expires_at: datetime


@dataclass(frozen=True)
class AutologinClaims:
    """A verified autologin token: sign `email` in (and show `ticket_id`) until `expires_at`."""

    email: str
    ticket_id: int | None
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(secret: str, purpose: str, payload: str) -> str:
    message = f"helpdesk_mail.{purpose}.v1.{payload}".encode()
    return _b64(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest())


def make_link_token(
    purpose: str, email: str, ticket_id: int | None, expires_at: datetime, secret: str
) -> str:
    """A signed token for `purpose` (e.g. `autologin`, `rate`, `unsubscribe`)."""
    if not secret:
        raise ValueError("a secret key is needed to sign links")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    body = {"e": normalize_email(email), "t": ticket_id, "x": int(expires_at.timestamp())}
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{payload}.{_tag(secret, purpose, payload)}"


def verify_link_token(purpose: str, token: str, now: datetime, secret: str) -> LinkClaims | None:
    """The claims of a valid, unexpired token for `purpose`; None for anything else."""
    if not secret or not isinstance(token, str) or len(token) > MAX_TOKEN:
        return None
    payload, dot, tag = token.strip().partition(".")
    if not dot or not payload or not tag:
        return None
    try:
        expected = _tag(secret, purpose, payload)
        if not hmac.compare_digest(expected.encode("ascii"), tag.encode("ascii", "replace")):
            return None
        body = json.loads(_unb64(payload))
        email, ticket_id, expiry = body["e"], body["t"], body["x"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        return None
    if not isinstance(email, str) or not isinstance(expiry, int) or isinstance(expiry, bool):
        return None
    if ticket_id is not None and (not isinstance(ticket_id, int) or isinstance(ticket_id, bool)):
        return None
    try:
        expires_at = datetime.fromtimestamp(expiry, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if now >= expires_at:
        return None
    return LinkClaims(purpose, email, ticket_id, expires_at)


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def ticket_url(base_url: str, ticket_id: int) -> str:
    """The plain link to a ticket: ``{base}/ticket/{id}``."""
    return f"{_base(base_url)}/ticket/{ticket_id}"


def make_autologin_url(
    base_url: str,
    email: str,
    ticket_id: int | None,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    secret: str = "",
) -> str:
    """``{base}/autologin?token=...``: signs `email` in and opens `ticket_id`, until now+ttl."""
    token = make_link_token(_AUTOLOGIN, email, ticket_id, now + ttl, secret)
    return f"{_base(base_url)}/autologin?token={urllib.parse.quote(token, safe='')}"


def verify_autologin_token(token: str, now: datetime, secret: str) -> AutologinClaims | None:
    """The claims of a valid, unexpired autologin token, else None (never raises)."""
    claims = verify_link_token(_AUTOLOGIN, token, now, secret)
    if claims is None:
        return None
    return AutologinClaims(claims.email, claims.ticket_id, claims.expires_at)


RATINGS = ("good", "ok", "bad")


def make_rating_url(
    base_url: str, email: str, ticket_id: int, rating: str, expires_at: datetime, secret: str
) -> str:
    """``{base}/ticket/{id}/rate/{rating}?token=...`` (token purpose ``rate``)."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}")
    token = make_link_token("rate", email, ticket_id, expires_at, secret)
    return f"{ticket_url(base_url, ticket_id)}/rate/{rating}?token={token}"


def make_unsubscribe_url(
    base_url: str, email: str | None, ticket_id: int, expires_at: datetime, secret: str
) -> str:
    """``{base}/ticket/{id}/unsubscribe?token=...``; without `email` (CC mode) or secret,
    no token: the host asks the user to sign in."""
    url = f"{ticket_url(base_url, ticket_id)}/unsubscribe"
    if email and secret:
        url += f"?token={make_link_token('unsubscribe', email, ticket_id, expires_at, secret)}"
    return url
