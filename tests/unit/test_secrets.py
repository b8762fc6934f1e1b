"""Secrets by reference: the settings rules (`password_env`/`password_file`,
`smtp_password_*`, the `database` section) and where they are read
(`helpdesk_mail.transports.secrets`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk_mail.settings import (
    DatabaseSettings,
    MailboxAccount,
    OAuth2Settings,
    OutgoingSettings,
    Settings,
    SettingsError,
)
from helpdesk_mail.transports.secrets import (
    SecretError,
    database_url,
    mailbox_password,
    read_secret,
    secret_problems,
    smtp_password,
)


def account(**kw: object) -> MailboxAccount:
    return MailboxAccount(name="support", host="imap.acme.test", **kw)  # type: ignore[arg-type]


def test_a_literal_password_is_still_accepted_and_used() -> None:
    # it always was: existing settings files keep working (docs/settings.md says so)
    loaded = Settings.from_mapping(
        {"incoming": {"accounts": [{"name": "a", "host": "h", "password": "s3cret"}]}}
    )
    assert mailbox_password(loaded.incoming.accounts[0]) == "s3cret"
    assert smtp_password(OutgoingSettings(smtp_password="pw")) == "pw"


def test_password_from_the_environment_read_at_each_login() -> None:
    acc = account(password_env="HDM_IMAP_PW")
    assert mailbox_password(acc, environ={"HDM_IMAP_PW": " first \n"}) == "first"
    assert mailbox_password(acc, environ={"HDM_IMAP_PW": "rotated"}) == "rotated"
    with pytest.raises(
        SecretError, match=r"incoming\.accounts\[support\]\.password_env.*HDM_IMAP_PW"
    ):
        mailbox_password(acc, environ={})


def test_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-a-file\n")
    assert mailbox_password(account(password_file=str(secret))) == "from-a-file"
    out = OutgoingSettings(smtp_password_file=str(secret))
    assert smtp_password(out) == "from-a-file"
    secret.write_text("   \n")
    with pytest.raises(SecretError, match="is empty"):
        smtp_password(out)
    with pytest.raises(SecretError, match="smtp_password_file: cannot read"):
        smtp_password(OutgoingSettings(smtp_password_file=str(tmp_path / "missing")))


def test_no_password_at_all_is_empty() -> None:
    assert mailbox_password(account()) == ""
    assert read_secret("x", "", "") is None


def test_one_password_source_only() -> None:
    with pytest.raises(SettingsError, match="not more") as info:
        account(password="hunter2", password_file="/run/pw")
    assert info.value.key == "password_file"
    with pytest.raises(SettingsError, match="not more") as info:
        OutgoingSettings(smtp_password="hunter2", smtp_password_env="X")
    assert "hunter2" not in str(info.value)
    with pytest.raises(SettingsError, match="environment variable name"):
        account(password_env="not a name")


def test_the_database_section() -> None:
    assert DatabaseSettings(url="sqlite:///helpdesk.db").url == "sqlite:///helpdesk.db"
    assert DatabaseSettings(url="postgresql+psycopg://hd@db:5432/hd?sslmode=require").url
    for bad in (
        "postgresql+psycopg://hd:hunter2@db/hd",
        "postgresql://:hunter2@db/hd",
        "not a url",
        "sqlite:///a\nb",
    ):
        with pytest.raises(SettingsError) as info:
            DatabaseSettings(url=bad)
        assert "hunter2" not in str(info.value)
    with pytest.raises(SettingsError, match="not both"):
        DatabaseSettings(url="sqlite:///a.db", url_env="HDM_DB")
    with pytest.raises(SettingsError, match="never in the settings"):
        Settings.from_mapping({"database": {"password": "hunter2"}})


def test_database_url_order() -> None:
    with_url = Settings(database=DatabaseSettings(url="sqlite:///a.db"))
    with_env = Settings(database=DatabaseSettings(url_env="HDM_DB"))
    assert database_url(with_url, "sqlite:///cli.db") == "sqlite:///cli.db"
    assert database_url(with_url) == "sqlite:///a.db"
    assert database_url(with_env, environ={"HDM_DB": "postgresql://u:p@h/d"}) == (
        "postgresql://u:p@h/d"
    )
    assert database_url(Settings()) is None
    with pytest.raises(SecretError, match=r"database\.url_env"):
        database_url(with_env, environ={})


def test_secret_problems_names_every_unreadable_reference(tmp_path: Path) -> None:
    oauth = OAuth2Settings(
        provider="google",  # type: ignore[arg-type]
        client_id="id",
        client_secret_env="HDM_GOOGLE_SECRET",
        refresh_token_file=str(tmp_path / "refresh"),
    )
    settings = Settings.from_mapping({})
    settings = Settings(
        incoming=settings.incoming.__class__(
            accounts=(
                account(password_env="HDM_IMAP_PW"),
                MailboxAccount(name="gmail", host="imap.gmail.com", username="a@b.c", oauth2=oauth),
                MailboxAccount(name="off", host="h", password_env="HDM_OFF", enabled=False),
            )
        ),
        outgoing=OutgoingSettings(smtp_password_file=str(tmp_path / "smtp")),
        database=DatabaseSettings(url_env="HDM_DB"),
    )
    problems = secret_problems(settings, environ={"HDM_IMAP_PW": "x"})
    assert len(problems) == 4, problems
    text = "\n".join(problems)
    for needle in (
        "gmail].oauth2.client_secret_env",
        "HDM_GOOGLE_SECRET",
        "gmail].oauth2.refresh_token_file",
        "outgoing.smtp_password_file",
        "database.url_env",
    ):
        assert needle in text
    assert "HDM_OFF" not in text  # a switched-off account is not checked
    everything = {"HDM_IMAP_PW": "x", "HDM_GOOGLE_SECRET": "s", "HDM_DB": "sqlite://"}
    (tmp_path / "refresh").write_text("1//token")
    (tmp_path / "smtp").write_text("pw")
    assert secret_problems(settings, environ=everything) == []
