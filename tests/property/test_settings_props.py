"""Property: any JSON-like document gives `Settings` or `SettingsError`, never another exception."""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.settings import (
    IncomingSettings,
    MailboxAccount,
    NotificationSettings,
    OAuth2Settings,
    OutgoingSettings,
    RateLimit,
    Settings,
    SettingsError,
)

SECTIONS: dict[str, type[Any]] = {
    "incoming": IncomingSettings,
    "notifications": NotificationSettings,
    "outgoing": OutgoingSettings,
}


def keys_of(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)

# Values that come close to passing: the edges of the rules, real addresses, real enums.
near_values = st.one_of(
    st.sampled_from(
        [
            0,
            1,
            5,
            6,
            7,
            100,
            65535,
            65536,
            70000,
            -1,
            True,
            False,
            "",
            " ",
            "imap",
            "pop3",
            "implicit",
            "starttls",
            "none",
            "discard",
            "comment",
            "reopen",
            "new_ticket",
            "support@acme.test",
            "support@acme.test\n",
            "a@b..c",
            "https://helpdesk.acme.test",
            "https://h.test/\r\n",
            "localhost",
            "Acme\r\nSupport",
            "INBOX",
            "microsoft",
            "google",
            "client_credentials",
            "refresh_token",
            "common",
            "acme.onmicrosoft.com",
            "HELPDESK_SECRET",
            "/run/secrets/x",
            "http://127.0.0.1:8080/token",
            "https://mail.google.com/",
        ]
    ),
    scalars,
)

json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=20,
)

value = st.one_of(near_values, json_like)


def good(tp: Any) -> st.SearchStrategy[Any]:
    """Values of the right type for a field, often (not always) within its rule."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(good(a) for a in args))
    if tp is type(None):
        return st.none()
    if typing.get_origin(tp) is Callable:
        return st.none()
    if tp is OAuth2Settings:
        return oauth2_table()
    if origin is tuple:
        if args[0] is MailboxAccount:
            return st.lists(account_table(), max_size=3)
        if args[0] is RateLimit:
            return st.lists(section(RateLimit), max_size=3)
        return st.lists(st.one_of(good(args[0]), near_values), max_size=3)
    if isinstance(tp, type) and issubclass(tp, StrEnum):
        return st.one_of(st.sampled_from([m.value for m in tp]), st.text(max_size=8))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.one_of(st.integers(-2, 8), st.integers(0, 70000))
    if tp is str:
        return st.one_of(
            st.sampled_from(
                [
                    "support@acme.test",
                    "imap.acme.test",
                    "https://helpdesk.acme.test/",
                    "Acme Support",
                    "INBOX",
                    "",
                    "a b",
                ]
            ),
            st.text(max_size=12),
        )
    return value


def mostly(right: st.SearchStrategy[Any], odds: int = 15) -> st.SearchStrategy[Any]:
    """`right`, except about once in `odds` draws any value at all."""
    return st.integers(0, odds - 1).flatmap(lambda i: value if i == 0 else right)


def field_strategy(tp: Any) -> st.SearchStrategy[Any]:
    return mostly(good(tp))


def section(cls: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Tables of `cls`: each real key maybe present, sometimes with a typo'd or unknown key."""
    hints = typing.get_type_hints(cls)
    real = st.fixed_dictionaries(
        {}, optional={name: field_strategy(hints[name]) for name in keys_of(cls)}
    )
    typo = st.dictionaries(
        st.one_of(st.sampled_from(keys_of(cls)).map(lambda k: k[:-1]), st.text(max_size=6)),
        value,
        max_size=1,
    )
    with_typo = st.builds(lambda a, b: {**a, **b}, real, typo)
    return st.integers(0, 7).flatmap(lambda i: with_typo if i == 0 else real)


def account_table() -> st.SearchStrategy[Any]:
    required = st.fixed_dictionaries(
        {
            "name": st.one_of(st.sampled_from(["a", "b", "c"]), good(str), value),
            "host": st.one_of(st.just("imap.acme.test"), good(str), value),
        }
    )
    return st.one_of(
        st.builds(lambda r, rest: {**rest, **r}, required, section(MailboxAccount)),
        st.builds(lambda r, rest: {**rest, **r}, required, section(MailboxAccount)),
        section(MailboxAccount),
        value,
    )


def oauth2_table() -> st.SearchStrategy[Any]:
    """OAuth2 tables near validity: a provider and client id, then any of the other keys
    (and sometimes a literal secret, which is refused)."""
    required = st.fixed_dictionaries(
        {
            "provider": st.one_of(st.sampled_from(["microsoft", "google"]), value),
            "client_id": st.one_of(st.just("app-id"), good(str)),
        },
        optional={"client_secret": good(str), "refresh_token": good(str)},
    )
    return st.one_of(
        st.builds(lambda r, rest: {**rest, **r}, required, section(OAuth2Settings)),
        section(OAuth2Settings),
        value,
    )


biased_documents = st.fixed_dictionaries(
    {}, optional={name: mostly(section(cls)) for name, cls in SECTIONS.items()}
)

documents = st.one_of(
    biased_documents,
    biased_documents,
    biased_documents,
    st.dictionaries(st.text(max_size=10), value, max_size=3),
    json_like,
)


def settings_or_error(data: Any) -> Settings | SettingsError:
    try:
        return Settings.from_mapping(data)
    except SettingsError as exc:
        return exc


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_mapping_gives_settings_or_settings_error(data: Any) -> None:
    result = settings_or_error(data)
    if isinstance(result, SettingsError):
        assert isinstance(result.key, str)
        assert isinstance(result.rule, str) and result.rule
        assert str(result).startswith(f"{result.key}: ")
        if isinstance(data, dict):  # the path starts at one of the document's keys
            assert any(result.key.startswith(str(k)) for k in data)
        else:
            assert result.key == "<document>"
    else:
        assert isinstance(result, Settings)
        assert isinstance(result.incoming, IncomingSettings)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_json_document_agrees_with_the_mapping(data: Any) -> None:
    text = json.dumps(data)  # the strategies only make string keys, so this round-trips
    from_mapping = settings_or_error(data)
    try:
        from_json: Settings | SettingsError = Settings.from_json(text)
    except SettingsError as exc:
        from_json = exc
    if isinstance(from_mapping, SettingsError):
        assert isinstance(from_json, SettingsError)
        assert (from_json.key, from_json.rule) == (from_mapping.key, from_mapping.rule)
    else:
        assert from_json == from_mapping


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_any_text_gives_settings_or_settings_error(text: str) -> None:
    for parse in (Settings.from_json, Settings.from_toml):
        try:
            result = parse(text)
        except SettingsError as exc:
            assert exc.key
        else:
            assert isinstance(result, Settings)


toml_fragments = st.lists(
    st.sampled_from(
        [
            "[incoming]\n",
            "[outgoing]\n",
            "[notifications]\n",
            "[[incoming.accounts]]\n",
            "[[notifications.ticket_rate_limits]]\n",
            'name = "a"\n',
            'host = "imap.acme.test"\n',
            "port = 70000\n",
            "port = 993\n",
            "count = 1\n",
            "minutes = 0\n",
            "check_interval_minutes = 7\n",
            "check_interval_minutes = 3\n",
            "enabled = false\n",
            'protocol = "pop3"\n',
            'smtp_tls = "ssl"\n',
            "when = 1979-05-27T07:32:00Z\n",
            'helpdesk_addresses = ["a@b.c", 1]\n',
            "x = [[1], {a = 2}]\n",
        ]
    ),
    max_size=8,
).map("".join)


@settings(max_examples=300)
@given(toml_fragments)
def test_toml_documents_give_settings_or_settings_error(text: str) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        valid_toml = False
    else:
        valid_toml = True
    try:
        result = Settings.from_toml(text)
    except SettingsError as exc:
        assert exc.key
        assert valid_toml or exc.key == "<document>"
    else:
        assert valid_toml
        assert isinstance(result, Settings)


@settings(max_examples=200)
@given(
    st.integers(1, 5),
    st.integers(1, 100),
    st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=4),
    st.integers(1, 65535),
)
def test_valid_documents_load_and_keep_their_values(
    interval: int, failures: int, names: list[str], port: int
) -> None:
    data = {
        "incoming": {
            "check_interval_minutes": interval,
            "max_consecutive_failures": failures,
            "accounts": [{"name": n, "host": f"{n}.acme.test", "port": port} for n in names],
        },
        "outgoing": {"smtp_port": port},
    }
    s = Settings.from_mapping(data)
    assert s.incoming.check_interval_minutes == interval
    assert s.incoming.max_consecutive_failures == failures
    assert [a.name for a in s.incoming.accounts] == names
    assert all(isinstance(a, MailboxAccount) and a.port == port for a in s.incoming.accounts)
    assert s.outgoing.smtp_port == port


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    oauth2_table(),
    st.sampled_from(["client_secret", "refresh_token", "access_token"]),
    st.text(min_size=1, max_size=12),
    st.booleans(),
)
def test_a_literal_oauth2_secret_is_refused_and_never_shown(
    table: Any, key: str, tail: str, outgoing: bool
) -> None:
    secret = "hunter2-" + tail
    table = {**table, key: secret} if isinstance(table, dict) else {key: secret}
    if outgoing:
        data = {"outgoing": {"smtp_username": "s@acme.test", "smtp_oauth2": table}}
    else:
        account = {"name": "a", "host": "h", "username": "s@acme.test", "oauth2": table}
        data = {"incoming": {"accounts": [account]}}
    result = settings_or_error(data)
    assert isinstance(result, SettingsError)
    assert secret not in str(result)
