"""Secrets by reference: settings name an environment variable (`*_env`) or a file
(`*_file`) and the value is read here, where it is used, never stored in the settings.

- `mailbox_password(account)`: `password`, else `password_env`, else `password_file`,
  read at each login (a rotated file is picked up by the next login);
- `smtp_password(outgoing)`: the same for `smtp_password*`;
- `database_url(settings, override)`: `--db`, else `database.url`, else the variable
  named by `database.url_env`;
- `secret_problems(settings)`: every reference of a settings document that cannot be
  read now (passwords, OAuth2 client secrets and refresh tokens, the DKIM key, the
  database URL), for a worker to refuse to start with a message naming each.

An environment variable's value and a file's text are stripped of surrounding white
space; an empty one counts as missing. Error messages name the setting and where it
points, never the secret.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..settings import MailboxAccount, OutgoingSettings, Settings

__all__ = [
    "MAX_SECRET_BYTES",
    "SecretError",
    "database_url",
    "mailbox_password",
    "read_secret",
    "secret_problems",
    "smtp_password",
]

MAX_SECRET_BYTES = 64 * 1024
"""A secret file is read up to this size (a password, a token, a URL, a PEM key)."""


class SecretError(Exception):
    """A secret named by the settings cannot be read: the message names the setting and
    the variable or file, never a value."""


def read_secret(
    key: str, env: str, file: str, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """The secret named by `env` (an environment variable) or `file`; None when neither is
    set. `key` is the setting's dotted name, for the message of the `SecretError` raised
    when the variable is unset or empty, or the file unreadable or empty."""
    if env:
        value = (os.environ if environ is None else environ).get(env, "").strip()
        if not value:
            raise SecretError(f"{key}_env: the environment variable {env} is not set or empty")
        return value
    if file:
        try:
            with open(file, encoding="utf-8") as handle:
                value = handle.read(MAX_SECRET_BYTES).strip()
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc)
            raise SecretError(f"{key}_file: cannot read {file}: {reason}") from None
        if not value:
            raise SecretError(f"{key}_file: the file {file} is empty")
        return value
    return None


def mailbox_password(account: MailboxAccount, *, environ: Mapping[str, str] | None = None) -> str:
    """The login password of `account`: `password`, else the one its `password_env` or
    `password_file` holds (read now), else ""."""
    if account.password:
        return account.password
    key = f"incoming.accounts[{account.name}].password"
    found = read_secret(key, account.password_env, account.password_file, environ=environ)
    return found or ""


def smtp_password(outgoing: OutgoingSettings, *, environ: Mapping[str, str] | None = None) -> str:
    """The SMTP password: `smtp_password`, else the one `smtp_password_env` or
    `smtp_password_file` holds (read now), else ""."""
    if outgoing.smtp_password:
        return outgoing.smtp_password
    found = read_secret(
        "outgoing.smtp_password",
        outgoing.smtp_password_env,
        outgoing.smtp_password_file,
        environ=environ,
    )
    return found or ""


def database_url(
    settings: Settings, override: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """The database URL: `override` (the command line's `--db`), else `database.url`, else
    the value of the variable named by `database.url_env`; None when none is given."""
    if override:
        return override
    if settings.database.url:
        return settings.database.url
    return read_secret("database.url", settings.database.url_env, "", environ=environ)


def secret_problems(settings: Settings, *, environ: Mapping[str, str] | None = None) -> list[str]:
    """One message per secret reference of `settings` that cannot be read now (an unset
    variable, a missing or empty file): mailbox and SMTP passwords, OAuth2 client
    secrets and refresh tokens, the DKIM key and the database URL. Empty: all readable."""
    problems: list[str] = []

    def check(key: str, env: str, file: str) -> None:
        try:
            read_secret(key, env, file, environ=environ)
        except SecretError as exc:
            problems.append(str(exc))

    for account in settings.incoming.accounts:
        if not account.enabled:
            continue
        where = f"incoming.accounts[{account.name}]"
        check(f"{where}.password", account.password_env, account.password_file)
        if account.oauth2 is not None:
            o = account.oauth2
            check(f"{where}.oauth2.client_secret", o.client_secret_env, o.client_secret_file)
            check(f"{where}.oauth2.refresh_token", o.refresh_token_env, o.refresh_token_file)
    out = settings.outgoing
    check("outgoing.smtp_password", out.smtp_password_env, out.smtp_password_file)
    if out.smtp_oauth2 is not None:
        o = out.smtp_oauth2
        check("outgoing.smtp_oauth2.client_secret", o.client_secret_env, o.client_secret_file)
        check("outgoing.smtp_oauth2.refresh_token", o.refresh_token_env, o.refresh_token_file)
    check("outgoing.dkim_private_key", out.dkim_private_key_env, out.dkim_private_key_file)
    check("database.url", settings.database.url_env, "")
    return problems
