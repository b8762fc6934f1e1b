"""Property: any token endpoint answer gives a usable token or an `OAuth2Error`, nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_mail.transports.oauth import (
    MAX_DESCRIPTION_CHARS,
    OAuth2Error,
    OAuth2TokenProvider,
    TokenResponse,
    parse_token_response,
)

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**64), 2**64),
        st.floats(allow_nan=False),
        st.text(max_size=30),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)

# Responses shaped like real ones, with each field sometimes of the wrong type.
fields = st.fixed_dictionaries(
    {},
    optional={
        "access_token": st.one_of(st.text(max_size=40), json_values),
        "token_type": st.one_of(st.sampled_from(["Bearer", "bearer", "MAC", ""]), json_values),
        "expires_in": st.one_of(
            st.integers(-10, 10**8), st.sampled_from(["3599", "x", "1e3", ""]), json_values
        ),
        "refresh_token": st.one_of(st.text(max_size=40), json_values),
        "error": st.one_of(
            st.sampled_from(["invalid_grant", "server_error", "temporarily_unavailable"]),
            json_values,
        ),
        "error_description": st.one_of(st.text(max_size=600), json_values),
    },
)

bodies = st.one_of(
    st.binary(max_size=300),
    fields.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
)
statuses = st.one_of(st.sampled_from([200, 200, 400, 401, 429, 500, 503]), st.integers(100, 599))


def check(result: TokenResponse | OAuth2Error) -> None:
    if isinstance(result, OAuth2Error):
        assert isinstance(result.temporary, bool)
        assert result.error is None or (result.error.isascii() and len(result.error) <= 64)
        assert isinstance(result.description, str) and result.description
    else:
        token = result.access_token
        assert token and token.isascii() and token.isprintable()
        assert result.expires_in is None or 0 < result.expires_in < 10**7
        assert result.refresh_token is None or result.refresh_token.isprintable()


@settings(max_examples=500)
@given(statuses, bodies)
def test_any_answer_gives_a_token_or_an_oauth2_error(status: int, body: bytes) -> None:
    try:
        result: TokenResponse | OAuth2Error = parse_token_response(status, body)
    except OAuth2Error as exc:
        result = exc
    check(result)
    if status != 200:
        assert isinstance(result, OAuth2Error)


@settings(max_examples=200)
@given(st.integers(400, 599), fields)
def test_the_provider_error_text_is_one_bounded_line(status: int, data: dict[str, Any]) -> None:
    provider = OAuth2TokenProvider(
        token_url="https://login.example.test/token",
        client_id="app",
        flow="client_credentials",
        scopes=(),
        client_secret="the-client-secret",
    )
    try:
        provider._accept(status, json.dumps(data).encode(), 0.0)
    except OAuth2Error as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc)
        assert len(exc.description) <= MAX_DESCRIPTION_CHARS + 3
    else:
        raise AssertionError("an error status gave a token")
