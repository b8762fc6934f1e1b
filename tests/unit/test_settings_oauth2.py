"""The OAuth2 tables of the settings (`incoming.accounts[].oauth2`, `outgoing.smtp_oauth2`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.settings import (
    MailboxAccount,
    OAuth2Flow,
    OAuth2Provider,
    OAuth2Settings,
    OutgoingSettings,
    Settings,
    SettingsError,
)

MICROSOFT_TOML = """\
[[incoming.accounts]]
name = "support"
host = "outlook.office365.com"
username = "support@acme.test"

[incoming.accounts.oauth2]
provider = "microsoft"
tenant = "acme.onmicrosoft.com"
client_id = "0b5c-app-id"
client_secret_env = "HELPDESK_O365_SECRET"

[outgoing]
smtp_host = "smtp.office365.com"
smtp_username = "support@acme.test"

[outgoing.smtp_oauth2]
provider = "microsoft"
tenant = "acme.onmicrosoft.com"
client_id = "0b5c-app-id"
client_secret_file = "/run/secrets/o365"
"""

GOOGLE = {
    "provider": "google",
    "client_id": "123.apps.googleusercontent.com",
    "client_secret_file": "/run/secrets/google-client",
    "refresh_token_file": "/var/lib/helpdesk/google-refresh-token",
}
MICROSOFT = {
    "provider": "microsoft",
    "tenant": "acme.onmicrosoft.com",
    "client_id": "0b5c-app-id",
    "client_secret_env": "HELPDESK_O365_SECRET",
}
ACCOUNT = {"name": "support", "host": "imap.gmail.com", "username": "support@acme.test"}


def account_error(oauth2: Any, **account: Any) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping(
            {"incoming": {"accounts": [{**ACCOUNT, **account, "oauth2": oauth2}]}}
        )
    return info.value


def test_microsoft_toml_loads_with_the_defaults() -> None:
    s = Settings.from_toml(MICROSOFT_TOML)
    oauth2 = s.incoming.accounts[0].oauth2
    assert oauth2 is not None
    assert oauth2.provider is OAuth2Provider.MICROSOFT
    assert oauth2.effective_flow is OAuth2Flow.CLIENT_CREDENTIALS
    assert oauth2.effective_scopes == ("https://outlook.office365.com/.default",)
    assert oauth2.effective_token_url == (
        "https://login.microsoftonline.com/acme.onmicrosoft.com/oauth2/v2.0/token"
    )
    smtp = s.outgoing.smtp_oauth2
    assert smtp is not None and smtp.client_secret_file == "/run/secrets/o365"


def test_google_defaults() -> None:
    s = Settings.from_mapping({"incoming": {"accounts": [{**ACCOUNT, "oauth2": GOOGLE}]}})
    oauth2 = s.incoming.accounts[0].oauth2
    assert oauth2 is not None
    assert oauth2.effective_flow is OAuth2Flow.REFRESH_TOKEN
    assert oauth2.effective_scopes == ("https://mail.google.com/",)
    assert oauth2.effective_token_url == "https://oauth2.googleapis.com/token"


def test_microsoft_refresh_token_defaults() -> None:
    oauth2 = OAuth2Settings(
        provider=OAuth2Provider.MICROSOFT,
        tenant="organizations",
        client_id="app",
        flow=OAuth2Flow.REFRESH_TOKEN,
        refresh_token_env="HELPDESK_RT",
    )
    assert oauth2.effective_scopes == ("https://outlook.office365.com/.default", "offline_access")


def test_overrides() -> None:
    oauth2 = OAuth2Settings(
        provider="google",  # type: ignore[arg-type]
        client_id="c",
        client_secret_env="S",
        refresh_token_env="R",
        scopes=["https://mail.google.com/", "email"],  # type: ignore[arg-type]
        token_url="http://127.0.0.1:8080/token",
    )
    assert oauth2.effective_scopes == ("https://mail.google.com/", "email")
    assert oauth2.effective_token_url == "http://127.0.0.1:8080/token"


@pytest.mark.parametrize("key", ["client_secret", "refresh_token", "access_token"])
def test_literal_secrets_are_refused(key: str) -> None:
    err = account_error({**GOOGLE, key: "hunter2-secret"})
    assert err.key == f"incoming.accounts[0].oauth2.{key}"
    assert "hunter2-secret" not in str(err)
    assert "<hidden>" in str(err)
    if key != "access_token":
        assert f"{key}_env" in err.rule and f"{key}_file" in err.rule
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({"outgoing": {"smtp_oauth2": {**MICROSOFT, key: "hunter2"}}})
    assert info.value.key == f"outgoing.smtp_oauth2.{key}"


def test_literal_secret_message() -> None:
    err = account_error({**MICROSOFT, "client_secret": "hunter2"})
    assert str(err) == (
        "incoming.accounts[0].oauth2.client_secret: <hidden> is not valid: secrets are not "
        "stored in the settings: name an environment variable with client_secret_env or a "
        "file with client_secret_file"
    )


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"provider": "yahoo"}, "provider", "must be one of: microsoft, google"),
        ({"provider": None}, "provider", "must be one of: microsoft, google"),
        ({"tenant": None}, "tenant", "must be a string"),
        ({"client_id": ""}, "client_id", "must be a non-empty string on one line"),
        ({"client_id": "a\nb"}, "client_id", "must be a non-empty string on one line"),
        ({"flow": "password"}, "flow", "must be one of: client_credentials, refresh_token"),
        ({"client_secret_env": "MY-SECRET"}, "client_secret_env", "environment variable name"),
        ({"refresh_token_file": "/a\n/b"}, "refresh_token_file", "one line"),
        ({"tenant": "acme/../x"}, "tenant", "tenant"),
        ({"scopes": ["a b"]}, "scopes", "without spaces"),
        ({"scopes": "https://mail.google.com/"}, "scopes", "must be a list"),
        ({"token_url": "http://login.example.com/token"}, "token_url", "https"),
        ({"token_url": "https://h/token?x=1"}, "token_url", "without query"),
        ({"timeout_seconds": 0}, "timeout_seconds", "between 1 and 300"),
        ({"unknown": 1}, "unknown", "unknown setting"),
    ],
)
def test_field_rules(change: dict[str, Any], key: str, message: str) -> None:
    err = account_error({**MICROSOFT, **change})
    assert err.key == f"incoming.accounts[0].oauth2.{key}"
    assert message in err.rule


def test_required_keys() -> None:
    err = account_error({"tenant": "t", "client_id": "c", "client_secret_env": "S"})
    assert str(err) == "incoming.accounts[0].oauth2.provider: is required"
    err = account_error({"provider": "microsoft", "tenant": "t", "client_secret_env": "S"})
    assert err.key == "incoming.accounts[0].oauth2.client_id"


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        (
            {**MICROSOFT, "tenant": ""},
            "tenant",
            "tenant: is required with provider microsoft: the tenant's id or domain",
        ),
        ({**GOOGLE, "tenant": "acme"}, "tenant", "is only for provider microsoft"),
        (
            {**GOOGLE, "flow": "client_credentials"},
            "flow",
            "provider google has only the refresh_token flow for mail",
        ),
        (
            {**MICROSOFT, "tenant": "common"},
            "tenant",
            "client_credentials needs the tenant's own id or domain",
        ),
        (
            {**MICROSOFT, "client_secret_env": ""},
            "client_secret_env",
            "client_secret_env: is required (or client_secret_file) for this provider and flow",
        ),
        (
            {**GOOGLE, "client_secret_file": ""},
            "client_secret_env",
            "is required (or client_secret_file)",
        ),
        (
            {**MICROSOFT, "client_secret_file": "/run/s"},
            "client_secret_file",
            "set client_secret_env or client_secret_file, not both",
        ),
        (
            {**GOOGLE, "refresh_token_file": ""},
            "refresh_token_env",
            "refresh_token_env: is required (or refresh_token_file) with flow refresh_token",
        ),
        (
            {**GOOGLE, "refresh_token_env": "RT"},
            "refresh_token_file",
            "set refresh_token_env or refresh_token_file, not both",
        ),
        ({**MICROSOFT, "refresh_token_env": "RT"}, "refresh_token_env", "only for flow"),
        ({**MICROSOFT, "refresh_token_file": "/rt"}, "refresh_token_file", "only for flow"),
        (
            {
                **GOOGLE,
                "refresh_token_file": "",
                "refresh_token_env": "RT",
                "refresh_token_write_back": True,
            },
            "refresh_token_write_back",
            "needs refresh_token_file",
        ),
    ],
)
def test_cross_field_rules(table: dict[str, Any], key: str, message: str) -> None:
    err = account_error(table)
    assert err.key == f"incoming.accounts[0].oauth2.{key}"
    assert message in str(err)


def test_microsoft_refresh_token_flow_without_a_client_secret_is_fine() -> None:
    table = {
        "provider": "microsoft",
        "tenant": "common",
        "client_id": "public-app",
        "flow": "refresh_token",
        "refresh_token_file": "/var/lib/helpdesk/rt",
        "refresh_token_write_back": True,
    }
    s = Settings.from_mapping({"incoming": {"accounts": [{**ACCOUNT, "oauth2": table}]}})
    assert s.incoming.accounts[0].oauth2 is not None


def test_oauth2_needs_the_login_name() -> None:
    err = account_error(GOOGLE, username="")
    assert str(err) == (
        "incoming.accounts[0].username: is required with oauth2: the mailbox to log in as"
    )
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({"outgoing": {"smtp_oauth2": MICROSOFT}})
    assert info.value.key == "outgoing.smtp_username"


def test_table_and_callable_are_not_both_set() -> None:
    oauth2 = OAuth2Settings(**GOOGLE)  # type: ignore[arg-type]
    with pytest.raises(SettingsError) as info:
        MailboxAccount(
            name="a", host="h", username="u@x.test", oauth2=oauth2, oauth2_token=lambda: "t"
        )
    assert info.value.key == "oauth2_token"
    assert "not both" in info.value.rule
    with pytest.raises(SettingsError) as info:
        OutgoingSettings(smtp_username="u@x.test", smtp_oauth2=oauth2, smtp_oauth2_token=str)
    assert info.value.key == "smtp_oauth2_token"


def test_table_must_be_a_table() -> None:
    err = account_error("microsoft")
    assert err.key == "incoming.accounts[0].oauth2"
    assert "table" in err.rule


def test_repr_names_only_where_secrets_are() -> None:
    s = Settings.from_toml(MICROSOFT_TOML)
    text = repr(s)
    assert "client_secret_env='HELPDESK_O365_SECRET'" in text
    assert "client_secret_file='/run/secrets/o365'" in text


def oauth2_examples() -> list[tuple[str, str]]:
    root = Path(__file__).resolve().parents[2] / "docs"
    found = []
    for name in ("operations.md", "sending.md"):
        for block in re.findall(r"```toml\n(.*?)```", (root / name).read_text(), re.S):
            if "oauth2]" in block:
                found.append((name, block))
    return found


@pytest.mark.parametrize(("doc", "block"), oauth2_examples())
def test_oauth2_examples_in_the_docs_load(doc: str, block: str) -> None:
    if block.startswith("[incoming.accounts.oauth2]"):  # a variant of the account above it
        block = '[[incoming.accounts]]\nname = "a"\nhost = "h"\nusername = "a@acme.com"\n' + block
    s = Settings.from_toml(block)
    tables = [a.oauth2 for a in s.incoming.accounts] + [s.outgoing.smtp_oauth2]
    assert any(t is not None for t in tables)


def test_the_docs_show_every_provider() -> None:
    text = "".join(block for _, block in oauth2_examples())
    assert 'provider = "microsoft"' in text and 'provider = "google"' in text
    assert 'flow = "refresh_token"' in text
    assert "[outgoing.smtp_oauth2]" in text
