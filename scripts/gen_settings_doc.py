#!/usr/bin/env python3
"""Write docs/settings.md, the settings reference, from the settings dataclasses.

Run it from the repository root with no arguments after changing a setting (its
type, default, rule or the docstring under it): `python scripts/gen_settings_doc.py`.
`--check` only reports whether the page is up to date (exit status 1 if not).
tests/unit/test_docs_settings.py fails while the page is out of date.

Everything below the intro is derived: keys, types and defaults from the
dataclasses, rules from the `rule` metadata of their fields, descriptions from the
string literal under each field (read with `ast`), and the error messages shown by
running the loader on bad documents.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import sys
import typing
from enum import Enum
from pathlib import Path
from typing import Any

from helpdesk_mail import settings as S

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "settings.md"

# (heading, class, how a document reaches it)
SECTIONS: list[tuple[str, type[Any], str]] = [
    ("incoming", S.IncomingSettings, "the `incoming` table"),
    ("incoming.accounts[]", S.MailboxAccount, "each table of the `incoming.accounts` list"),
    (
        "incoming.accounts[].oauth2",
        S.OAuth2Settings,
        "the `oauth2` table of an account and the `outgoing.smtp_oauth2` table "
        '(see "OAuth2" above)',
    ),
    ("notifications", S.NotificationSettings, "the `notifications` table"),
    (
        "notifications.*_rate_limits[]",
        S.RateLimit,
        "each table of `notifications.ticket_rate_limits` and `recipient_rate_limits`",
    ),
    ("outgoing", S.OutgoingSettings, "the `outgoing` table"),
    ("database", S.DatabaseSettings, "the `database` table (read by `helpdesk-mail worker`)"),
]

EXAMPLE_JSON = """\
{
  "incoming": {
    "accept_unregistered": true,
    "default_category": "General",
    "add_recipients_as_subscribers": true,
    "check_interval_minutes": 5,
    "max_consecutive_failures": 5,
    "helpdesk_addresses": ["support@acme.test"],
    "accounts": [
      {"name": "support", "host": "imap.acme.test", "username": "support@acme.test",
       "password_env": "HELPDESK_IMAP_PASSWORD", "move_to": "Processed"},
      {"name": "legacy", "host": "pop.acme.test", "protocol": "pop3",
       "username": "help", "password_file": "/run/secrets/legacy-pop3-password"}
    ]
  },
  "notifications": {
    "enabled": true,
    "cc_mode": false,
    "autologin_ttl_hours": 72,
    "ticket_rate_limits": [{"count": 10, "minutes": 10}, {"count": 50, "minutes": 180}]
  },
  "outgoing": {
    "from_address": "support@acme.test",
    "from_name": "Acme Support",
    "reply_to": "support@acme.test",
    "smtp_host": "smtp.acme.test",
    "smtp_port": 587,
    "smtp_username": "support@acme.test",
    "smtp_password_env": "HELPDESK_SMTP_PASSWORD",
    "helpdesk_url": "https://helpdesk.acme.test",
    "secret_key": "a long random string",
    "dkim_selector": "default",
    "dkim_private_key_file": "/etc/helpdesk/dkim-default.pem"
  },
  "database": {
    "url_env": "HELPDESK_DATABASE_URL"
  }
}
"""

EXAMPLE_TOML = """\
[incoming]
accept_unregistered = true
default_category = "General"
add_recipients_as_subscribers = true
check_interval_minutes = 5
max_consecutive_failures = 5
helpdesk_addresses = ["support@acme.test"]

[[incoming.accounts]]
name = "support"
host = "imap.acme.test"
username = "support@acme.test"
password_env = "HELPDESK_IMAP_PASSWORD"
move_to = "Processed"

[[incoming.accounts]]
name = "legacy"
host = "pop.acme.test"
protocol = "pop3"
username = "help"
password_file = "/run/secrets/legacy-pop3-password"

[notifications]
enabled = true
cc_mode = false
autologin_ttl_hours = 72
ticket_rate_limits = [{count = 10, minutes = 10}, {count = 50, minutes = 180}]

[outgoing]
from_address = "support@acme.test"
from_name = "Acme Support"
reply_to = "support@acme.test"
smtp_host = "smtp.acme.test"
smtp_port = 587
smtp_username = "support@acme.test"
smtp_password_env = "HELPDESK_SMTP_PASSWORD"
helpdesk_url = "https://helpdesk.acme.test"
secret_key = "a long random string"
dkim_selector = "default"
dkim_private_key_file = "/etc/helpdesk/dkim-default.pem"

[database]
url_env = "HELPDESK_DATABASE_URL"
"""

# Bad documents whose errors the page shows, as the loader words them.
ERROR_EXAMPLES: list[dict[str, Any]] = [
    {"incoming": {"check_interval_minutes": 7}},
    {"incoming": {"accounts": [{"name": "support", "host": "imap.acme.test", "port": 70000}]}},
    {"incoming": {"accounts": [{"name": "support"}]}},
    {"outgoing": {"from_adress": "support@acme.test"}},
    {"outgoing": {"from_name": "Acme\r\nBcc: everyone@example.com"}},
    {"notifications": {"enabled": "yes"}},
    {"outgoing": {"smtp_pasword": "hunter2"}},
    {"outgoing": {"smtp_oauth2_token": "ya29.token"}},
    {
        "outgoing": {
            "smtp_username": "support@acme.test",
            "smtp_oauth2": {
                "provider": "microsoft",
                "tenant": "acme.onmicrosoft.com",
                "client_id": "0b5c-app-id",
                "client_secret": "hunter2",
            },
        }
    },
    {
        "outgoing": {
            "smtp_username": "support@acme.test",
            "smtp_oauth2": {
                "provider": "microsoft",
                "client_id": "0b5c-app-id",
                "client_secret_env": "HELPDESK_O365_SECRET",
            },
        }
    },
    {"outgoing": {"from_address": "support@acme.test", "dkim_selector": "default"}},
    {"outgoing": {"dkim_private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQ..."}},
    {
        "incoming": {
            "accounts": [
                {
                    "name": "support",
                    "host": "imap.acme.test",
                    "password": "hunter2",
                    "password_env": "HELPDESK_IMAP_PASSWORD",
                }
            ]
        }
    },
    {"database": {"url": "postgresql+psycopg://helpdesk:hunter2@db.acme.test/helpdesk"}},
]

INTRO = """\
# Settings reference

<!-- Generated by scripts/gen_settings_doc.py from src/helpdesk_mail/settings.py.
     Do not edit by hand: change the dataclasses (or the docstring under a field),
     or the intro in the script, then run `python scripts/gen_settings_doc.py`. -->

Every setting of the spec's email settings page, and the few the library adds
(mailbox accounts, signing key, flood limits, DKIM), in three sections named after
their classes: `incoming` (`IncomingSettings`, with its `MailboxAccount`s),
`notifications` (`NotificationSettings`) and `outgoing` (`OutgoingSettings`); and a
fourth, `database` (`DatabaseSettings`), that only `helpdesk-mail worker` reads.

Build them in code or load a JSON or TOML document:

```python
from helpdesk_mail import IncomingSettings, Settings, load_settings

settings = load_settings("helpdesk.toml")  # .toml by extension; any other name is JSON
settings = Settings.from_json(text)  # also Settings.from_toml(text), Settings.from_mapping(d)
settings = Settings(incoming=IncomingSettings(accept_unregistered=False))
```

Loading is strict, so a typo never passes silently as a default:

- A key that does not exist is an error, which suggests the closest real key.
- Types are exact: `true`/`false` for switches (not `"yes"`, not `1`); whole
  numbers for numbers (not `"5"`, `5.0` or `true`); `null` only where the type
  says so. Enumerations take the lower-case values listed.
- A key left out takes its default; so does a whole section.
- Callables (OAuth2 token sources of your own) can only be set in code.
- Secrets of OAuth2 (client secrets, refresh tokens) are never written in the
  settings: an `oauth2` table names the environment variable or file that holds
  them, and a literal `client_secret` or `refresh_token` key is an error.
- Settings built in code are checked by the same rules and raise the same errors.
- Passwords and the secret key stay out of `repr()` and of error messages.
- Mailbox and SMTP passwords are best given by reference: `password_env` /
  `smtp_password_env` name an environment variable, `password_file` /
  `smtp_password_file` a file (surrounding white space ignored), read at each login.
  A literal `password` / `smtp_password` is still accepted, as it always was, for
  settings built in code and for files kept as secret as a password; setting more
  than one of the three is an error. `helpdesk-mail worker` refuses to start while a
  named variable is unset or a named file unreadable, naming it.
- The database URL (`database.url`) may not hold a password: put a URL with a
  password in an environment variable named by `database.url_env`, or let libpq
  find the password (`PGPASSWORD`, `~/.pgpass`).
- The DKIM private key never goes in a settings document: name its file
  (`dkim_private_key_file`) or environment variable (`dkim_private_key_env`). It is
  read when the send transport is built (`transports.stack.send_transport`), so a
  missing file or variable is an error at start-up. See deliverability.md.

In the tables below, a description's `None` is `null` in a JSON document. TOML
has no null: leave the key out for a `null` default; the one setting whose null
is not its default, `quarantine_folder`, can be null only in JSON or in code.

`helpdesk-mail inspect --settings FILE` reads the same documents (see cli.md).

## OAuth2

Microsoft 365 and Gmail want OAuth2 (SASL XOAUTH2) rather than passwords. Give a
mailbox account an `oauth2` table (`[incoming.accounts.oauth2]` in TOML, right
after its `[[incoming.accounts]]`) and the outgoing side an `outgoing.smtp_oauth2`
table: `provider` (`microsoft` or `google`), `client_id`, `tenant` (Microsoft),
the `flow` and where the secrets are (`client_secret_env` or `client_secret_file`,
`refresh_token_env` or `refresh_token_file`). The transports then fetch access
tokens from the provider's token endpoint (`helpdesk_mail.transports.oauth`) and
cache them until shortly before they expire. The login name (`username`,
`smtp_username`) is the mailbox address. The settings files for Microsoft 365
(client credentials) and Google (refresh token) are in operations.md ("OAuth2:
Microsoft 365 and Google") and sending.md; the table's keys are at the end of
this page. A host that builds tokens itself sets the callables `oauth2_token` /
`smtp_oauth2_token` in code instead (not both).
"""


def field_docs(cls: type[Any]) -> dict[str, str]:
    """The string literal under each field of `cls`, read from the source with `ast`."""
    tree = ast.parse(Path(inspect.getfile(S)).read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    docs: dict[str, str] = {}
    for stmt, following in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[stmt.target.id] = " ".join(inspect.cleandoc(following.value.value).split())
    return docs


def to_document(value: Any) -> Any:
    """A default as it would be written in a JSON document."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_document(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_document(v) for v in value]
    if callable(value):
        raise TypeError(f"a callable default cannot be written: {value!r}")
    return value


def default_cell(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value: Any = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "*required*"
    return code(json.dumps(to_document(value), ensure_ascii=False))


def code(text: str) -> str:
    return f"`{text}`"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(cls: type[Any]) -> list[str]:
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    lines = ["| key | type | default | rule | description |", "| --- | --- | --- | --- | --- |"]
    for f in dataclasses.fields(cls):
        rule = f.metadata.get("rule")
        row = [
            code(f.name),
            S._describe(hints[f.name]),
            default_cell(f),
            rule.description if rule is not None else "",
            docs.get(f.name, ""),
        ]
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return lines


def error_lines() -> list[str]:
    lines = []
    for document in ERROR_EXAMPLES:
        try:
            S.Settings.from_mapping(document)
        except S.SettingsError as exc:
            lines.append(str(exc))
        else:
            raise AssertionError(f"{document!r} is not an error")
    return lines


def check_examples() -> None:
    """The two examples must load, to the same settings, and differ from the defaults."""
    from_json = S.Settings.from_json(EXAMPLE_JSON)
    from_toml = S.Settings.from_toml(EXAMPLE_TOML)
    if from_json != from_toml:
        raise AssertionError("the JSON and TOML examples give different settings")
    if from_json == S.Settings():
        raise AssertionError("the examples only repeat the defaults")


def render() -> str:
    """The whole page."""
    check_examples()
    out = [INTRO.rstrip("\n"), ""]
    out += ["## Example", "", "As JSON:", "", "```json", EXAMPLE_JSON.rstrip("\n"), "```", ""]
    out += ["The same as TOML:", "", "```toml", EXAMPLE_TOML.rstrip("\n"), "```", ""]
    out += [
        "## Errors",
        "",
        "A bad value raises `SettingsError` (a `ValueError`) naming the key as a dotted",
        "path (`.key`, with list indexes), the value (`.value`) and the rule it breaks",
        "(`.rule`); the message reads `key: value is not valid: rule`. For example:",
        "",
        "```text",
        *error_lines(),
        "```",
        "",
        "A document that is not valid JSON or TOML is an error with the key `<document>`.",
        "",
    ]
    for heading, cls, where in SECTIONS:
        summary = " ".join(inspect.cleandoc(cls.__doc__ or "").split())
        out += [f"## `{heading}`: {cls.__name__}", "", f"{summary} Read from {where}.", ""]
        out += [*table(cls), ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = render()
    if argv == ["--check"]:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run scripts/gen_settings_doc.py")
            return 1
        return 0
    if argv:
        print(__doc__.strip().splitlines()[0], "\nusage: gen_settings_doc.py [--check]")
        return 2
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
