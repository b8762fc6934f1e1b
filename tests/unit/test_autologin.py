"""Signed autologin, rating and unsubscribe links."""

from __future__ import annotations

import hmac
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpdesk_mail.outbound import autologin
from helpdesk_mail.outbound.autologin import (
    AutologinClaims,
    make_autologin_url,
    make_link_token,
    make_rating_url,
    make_unsubscribe_url,
    verify_autologin_token,
    verify_link_token,
)

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
SECRET = "s3cret"
TTL = timedelta(hours=72)


def token_of(url: str) -> str:
    query = urllib.parse.urlsplit(url).query
    return urllib.parse.parse_qs(query)["token"][0]


def test_url_shape_and_round_trip() -> None:
    url = make_autologin_url("https://hd.test/", "Jane@Example.com", 1234, NOW, TTL, SECRET)
    assert url.startswith("https://hd.test/autologin?token=")
    claims = verify_autologin_token(token_of(url), NOW + timedelta(hours=1), SECRET)
    assert claims == AutologinClaims("jane@example.com", 1234, NOW + TTL)


def test_default_ttl_is_three_days() -> None:
    url = make_autologin_url("https://hd.test", "a@b.test", 1, NOW, secret=SECRET)
    token = token_of(url)
    assert verify_autologin_token(token, NOW + timedelta(days=3, seconds=-1), SECRET) is not None
    assert verify_autologin_token(token, NOW + timedelta(days=3), SECRET) is None


def test_expired_links_are_rejected() -> None:
    token = token_of(make_autologin_url("https://hd.test", "a@b.test", 1, NOW, TTL, SECRET))
    assert verify_autologin_token(token, NOW + TTL + timedelta(seconds=1), SECRET) is None
    assert verify_autologin_token(token, NOW + timedelta(days=365), SECRET) is None


def test_without_ticket() -> None:
    token = token_of(make_autologin_url("https://hd.test", "a@b.test", None, NOW, TTL, SECRET))
    claims = verify_autologin_token(token, NOW, SECRET)
    assert claims is not None and claims.ticket_id is None


def test_wrong_secret_and_tampering_are_rejected() -> None:
    token = token_of(make_autologin_url("https://hd.test", "a@b.test", 1, NOW, TTL, SECRET))
    assert verify_autologin_token(token, NOW, "other") is None
    assert verify_autologin_token(token, NOW, "") is None
    payload, tag = token.split(".")
    forged_payload = make_link_token("autologin", "admin@b.test", 1, NOW + TTL, "guess")
    assert verify_autologin_token(f"{forged_payload.split('.')[0]}.{tag}", NOW, SECRET) is None
    flipped = tag[:-1] + ("A" if tag[-1] != "A" else "B")
    assert verify_autologin_token(f"{payload}.{flipped}", NOW, SECRET) is None
    assert verify_autologin_token(payload, NOW, SECRET) is None
    assert verify_autologin_token(f"{payload}.", NOW, SECRET) is None


def test_a_token_of_another_purpose_is_not_an_autologin_token() -> None:
    rating = make_link_token("rate", "a@b.test", 1, NOW + TTL, SECRET)
    unsubscribe = make_link_token("unsubscribe", "a@b.test", 1, NOW + TTL, SECRET)
    assert verify_autologin_token(rating, NOW, SECRET) is None
    assert verify_autologin_token(unsubscribe, NOW, SECRET) is None
    assert verify_link_token("rate", rating, NOW, SECRET) is not None


def test_verification_uses_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(autologin.hmac, "compare_digest", spy)
    token = make_link_token("autologin", "a@b.test", 1, NOW + TTL, SECRET)
    assert verify_autologin_token(token, NOW, SECRET) is not None
    assert len(calls) == 1


def test_signing_needs_a_secret_and_an_aware_expiry() -> None:
    with pytest.raises(ValueError):
        make_autologin_url("https://hd.test", "a@b.test", 1, NOW, TTL, "")
    with pytest.raises(ValueError):
        make_link_token("autologin", "a@b.test", 1, datetime(2026, 1, 1), SECRET)


def test_rating_and_unsubscribe_urls() -> None:
    url = make_rating_url("https://hd.test", "a@b.test", 12, "good", NOW + TTL, SECRET)
    assert url.startswith("https://hd.test/ticket/12/rate/good?token=")
    claims = verify_link_token("rate", token_of(url), NOW, SECRET)
    assert claims is not None and claims.ticket_id == 12 and claims.email == "a@b.test"
    with pytest.raises(ValueError):
        make_rating_url("https://hd.test", "a@b.test", 12, "meh", NOW + TTL, SECRET)
    url = make_unsubscribe_url("https://hd.test", "a@b.test", 12, NOW + TTL, SECRET)
    assert verify_link_token("unsubscribe", token_of(url), NOW, SECRET) is not None
    assert make_unsubscribe_url("https://hd.test", None, 12, NOW, SECRET) == (
        "https://hd.test/ticket/12/unsubscribe"
    )


@given(st.text(max_size=300))
def test_any_text_is_rejected_without_raising(token: str) -> None:
    assert verify_autologin_token(token, NOW, SECRET) is None


@given(
    st.binary(max_size=200).map(lambda b: autologin._b64(b)),
    st.binary(max_size=40).map(lambda b: autologin._b64(b)),
)
def test_any_well_formed_looking_token_is_rejected(payload: str, tag: str) -> None:
    assert verify_autologin_token(f"{payload}.{tag}", NOW, SECRET) is None


@given(st.emails(), st.one_of(st.none(), st.integers(0, 10**12)), st.integers(1, 24 * 30))
def test_round_trip_property(email: str, ticket_id: int | None, hours: int) -> None:
    url = make_autologin_url(
        "https://hd.test", email, ticket_id, NOW, timedelta(hours=hours), SECRET
    )
    claims = verify_autologin_token(token_of(url), NOW, SECRET)
    assert claims is not None
    assert claims.email == email.strip().lower() and claims.ticket_id == ticket_id
