"""The settings: every field's rule, loading from mappings, JSON and TOML, and the errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail import settings as settings_module
from helpdesk_mail.settings import (
    DEFAULT_RECIPIENT_RATE_LIMITS,
    DEFAULT_TICKET_RATE_LIMITS,
    AutoReplyHandling,
    ClosedTicketReply,
    IncomingSettings,
    MailboxAccount,
    MailProtocol,
    NotificationSettings,
    OutgoingSettings,
    RateLimit,
    Settings,
    SettingsError,
    TlsMode,
    load_settings,
)

# The --settings example of DESIGN.md, verbatim.
DESIGN_EXAMPLE = """\
{
  "incoming": {"accept_unregistered": true, "default_category": null,
               "add_recipients_as_subscribers": true, "check_interval_minutes": 5,
               "max_consecutive_failures": 5,
               "helpdesk_addresses": ["support@acme.test"]},
  "notifications": {"enabled": true},
  "outgoing": {"from_address": "support@acme.test", "from_name": "Acme Support",
               "reply_to": "support@acme.test"}
}
"""

DESIGN_MD = (
    Path(os.environ.get("HELPDESK_MAIL_SHARED", Path(__file__).resolve().parents[3] / "shared"))
    / "DESIGN.md"
)

ACCOUNT = {"name": "support", "host": "imap.acme.test"}


def load(section: str, values: dict[str, Any]) -> Settings:
    return Settings.from_mapping({section: values})


def load_error(data: Any) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping(data)
    return info.value


# --- the DESIGN.md example and the defaults ---


def test_design_example_loads_exactly() -> None:
    s = Settings.from_json(DESIGN_EXAMPLE)
    assert s.incoming == IncomingSettings(
        accept_unregistered=True,
        default_category=None,
        add_recipients_as_subscribers=True,
        check_interval_minutes=5,
        max_consecutive_failures=5,
        helpdesk_addresses=("support@acme.test",),
    )
    assert s.notifications == NotificationSettings(enabled=True)
    assert s.outgoing.from_address == "support@acme.test"
    assert s.outgoing.from_name == "Acme Support"
    assert s.outgoing.reply_to == "support@acme.test"
    assert s.outgoing == OutgoingSettings(
        from_address="support@acme.test", from_name="Acme Support", reply_to="support@acme.test"
    )


@pytest.mark.skipif(not DESIGN_MD.exists(), reason="../shared/DESIGN.md is not here")
def test_design_example_is_the_one_in_design_md() -> None:
    blocks = re.findall(r"```json\n(.*?)```", DESIGN_MD.read_text(encoding="utf-8"), re.S)
    settings_blocks = [b for b in blocks if '"incoming"' in b]
    assert settings_blocks, "DESIGN.md has no settings example"
    assert json.loads(settings_blocks[0]) == json.loads(DESIGN_EXAMPLE)
    assert Settings.from_json(settings_blocks[0]) == Settings.from_json(DESIGN_EXAMPLE)


def test_empty_document_gives_the_defaults() -> None:
    assert Settings.from_mapping({}) == Settings()
    assert Settings.from_json("{}") == Settings()
    assert Settings.from_toml("") == Settings()
    assert (
        Settings.from_mapping({"incoming": {}, "notifications": {}, "outgoing": {}}) == Settings()
    )


def test_defaults_match_the_spec() -> None:
    s = Settings()
    # "checks a given mail account(s) every five minutes"
    assert s.incoming.check_interval_minutes == 5
    # "If there's been 5 (five) errors in a row ... disable the email account"
    assert s.incoming.max_consecutive_failures == 5
    # "by default Helpdesk will add all recipients from TO and CC fields to ticket subscribers"
    assert s.incoming.add_recipients_as_subscribers is True
    assert s.incoming.accept_unregistered is True
    assert s.incoming.default_category is None
    assert s.incoming.accounts == ()
    assert s.incoming.helpdesk_addresses == ()
    # The spec discards auto-replies; a reply to a closed ticket reopens it.
    assert s.incoming.auto_replies is AutoReplyHandling.DISCARD
    assert s.incoming.reply_to_closed is ClosedTicketReply.REOPEN

    n = s.notifications
    assert n.enabled is True
    assert n.ticket_closed is True
    assert n.ticket_confirmation is True
    # "by default we send autologin links", "time-limited to three days"
    assert n.autologin_links is True
    assert n.autologin_ttl_hours == 72
    # "By default ... HelpDesk sends an individual email to every ticket subscriber"
    assert n.cc_mode is False
    # "replies ... sent to all ticket subscribers" unless changed
    assert n.only_tech_updates_to_subscribers is False
    # "uncheck this box" to remove attachments: on by default
    assert n.include_attachments is True
    assert n.ticket_rate_limits == DEFAULT_TICKET_RATE_LIMITS
    assert n.recipient_rate_limits == DEFAULT_RECIPIENT_RATE_LIMITS

    o = s.outgoing
    # "When checked, all outgoing email notifications will have From name": off by default.
    assert o.from_name_for_all is False
    assert o.smtp_host == "localhost"
    assert o.smtp_port == 587
    assert o.smtp_tls is TlsMode.STARTTLS
    assert o.reply_to is None
    assert o.from_address == ""
    assert o.secret_key == ""
    assert o.message_id_domain is None
    # DKIM is off until a selector and a key are set
    assert o.dkim_selector is None and o.dkim_signing_domain is None
    assert o.dkim_private_key_file == "" and o.dkim_private_key_env == ""
    assert o.dkim_headers[0] == "From" and "List-Unsubscribe-Post" in o.dkim_headers
    assert o.dkim_oversign_headers == ("From", "To", "Subject", "Date")


def test_account_defaults_and_effective_port() -> None:
    account = MailboxAccount(name="support", host="imap.acme.test")
    assert account.protocol is MailProtocol.IMAP
    assert account.tls is TlsMode.IMPLICIT
    assert account.folder == "INBOX"
    assert account.enabled is True
    assert account.port is None
    assert account.batch_size == 50
    assert account.quarantine_folder == "Quarantine"
    assert account.effective_port == 993
    assert MailboxAccount(name="a", host="h", tls=TlsMode.STARTTLS).effective_port == 143
    assert MailboxAccount(name="a", host="h", protocol=MailProtocol.POP3).effective_port == 995
    pop_plain = MailboxAccount(name="a", host="h", protocol=MailProtocol.POP3, tls=TlsMode.NONE)
    assert pop_plain.effective_port == 110
    assert MailboxAccount(name="a", host="h", port=10993).effective_port == 10993


# --- the rule of every field, through the loader: dotted key, value and rule ---

BAD_VALUES = [
    # (section, key, bad value, words of the rule)
    ("incoming", "check_interval_minutes", 7, "between 1 and 5"),
    ("incoming", "check_interval_minutes", 0, "between 1 and 5"),
    ("incoming", "max_consecutive_failures", 0, "between 1 and 100"),
    ("incoming", "max_consecutive_failures", 101, "between 1 and 100"),
    ("incoming", "helpdesk_addresses", ["not-an-address"], "email address"),
    ("incoming", "helpdesk_addresses", "support@acme.test", "must be a list"),
    ("incoming", "accept_unregistered", "yes", "true or false"),
    ("incoming", "accept_unregistered", 1, "true or false"),
    ("incoming", "add_recipients_as_subscribers", None, "true or false"),
    ("incoming", "default_category", 3, "a string"),
    ("incoming", "auto_replies", "ignore", "one of: discard, comment"),
    ("incoming", "reply_to_closed", "close", "one of: reopen, new_ticket"),
    ("incoming", "accounts", {"name": "a"}, "must be a list"),
    ("notifications", "enabled", "true", "true or false"),
    ("notifications", "cc_mode", 0, "true or false"),
    ("notifications", "autologin_ttl_hours", 0, "between 1 and 720"),
    ("notifications", "autologin_ttl_hours", 721, "between 1 and 720"),
    ("notifications", "bounce_suppression_days", 366, "between 1 and 365"),
    ("notifications", "ticket_rate_limits", {"count": 1}, "must be a list"),
    ("outgoing", "from_address", "support at acme", "email address"),
    ("outgoing", "from_address", "a@b..c", "email address"),
    ("outgoing", "from_address", "support@acme.test\n", "email address"),
    ("outgoing", "reply_to", "<support@acme.test>", "email address"),
    ("outgoing", "from_name", "Acme\r\nBcc: victim@example.com", "line breaks"),
    ("outgoing", "from_name", "Acme\nSupport", "line breaks"),
    ("outgoing", "from_name", "Acme\rSupport", "line breaks"),
    ("outgoing", "from_name", "Acme\u2028Support", "line breaks"),
    ("outgoing", "smtp_host", "smtp acme", "host name"),
    ("outgoing", "smtp_host", "smtp.acme.test\r\n", "host name"),
    ("outgoing", "smtp_port", 70000, "between 1 and 65535"),
    ("outgoing", "smtp_port", 0, "between 1 and 65535"),
    ("outgoing", "smtp_port", "587", "a whole number"),
    ("outgoing", "smtp_port", 587.0, "a whole number"),
    ("outgoing", "smtp_port", True, "a whole number"),
    ("outgoing", "smtp_tls", "ssl", "one of: implicit, starttls, none"),
    ("outgoing", "helpdesk_url", "ftp://helpdesk.acme.test", "http(s) URL"),
    ("outgoing", "helpdesk_url", "helpdesk.acme.test", "http(s) URL"),
    ("outgoing", "helpdesk_url", "https://", "http(s) URL"),
    ("outgoing", "helpdesk_url", "https://help desk.test", "http(s) URL"),
    ("outgoing", "helpdesk_url", "https://h.test/\r\nX-Evil: 1", "http(s) URL"),
    ("outgoing", "message_id_domain", "acme test", "host name"),
    ("outgoing", "from_name_for_all", "no", "true or false"),
    ("outgoing", "smtp_username", 42, "a string"),
    ("outgoing", "dkim_selector", "", "DNS name"),
    ("outgoing", "dkim_selector", "sel ector", "DNS name"),
    ("outgoing", "dkim_selector", "-default", "DNS name"),
    ("outgoing", "dkim_selector", "default.", "DNS name"),
    ("outgoing", "dkim_selector", "default\r\nX: 1", "DNS name"),
    ("outgoing", "dkim_selector", "a" * 64, "DNS name"),
    ("outgoing", "dkim_selector", 2024, "a string"),
    ("outgoing", "dkim_domain", "acme", "domain name"),
    ("outgoing", "dkim_domain", "acme..test", "domain name"),
    ("outgoing", "dkim_domain", "support@acme.test", "domain name"),
    ("outgoing", "dkim_private_key_file", "/etc/dkim.pem\x00", "file path on one line"),
    ("outgoing", "dkim_private_key_env", "HELPDESK-DKIM", "environment variable name"),
    ("outgoing", "dkim_private_key_env", "1KEY", "environment variable name"),
    ("outgoing", "dkim_private_key_env", None, "a string"),
    ("outgoing", "dkim_headers", ["To", "Subject"], "include From"),
    ("outgoing", "dkim_headers", ["From", "Bcc"], "none of: bcc"),
    ("outgoing", "dkim_headers", ["From", "Received"], "received"),
    ("outgoing", "dkim_headers", ["From", "DKIM-Signature"], "dkim-signature"),
    ("outgoing", "dkim_headers", ["From", "X Bad"], "header names"),
    ("outgoing", "dkim_headers", ["From", "Subject:"], "header names"),
    ("outgoing", "dkim_headers", ["From", ""], "header names"),
    ("outgoing", "dkim_headers", "From", "must be a list"),
    ("outgoing", "dkim_oversign_headers", ["Subject", "Return-Path"], "none of: bcc"),
]


@pytest.mark.parametrize(("section", "key", "value", "rule"), BAD_VALUES)
def test_bad_value_names_key_value_and_rule(section: str, key: str, value: Any, rule: str) -> None:
    err = load_error({section: {key: value}})
    assert err.key == f"{section}.{key}"
    # a list is checked by its rule once it is the field's tuple
    assert err.value == value or (isinstance(value, list) and err.value == tuple(value))
    assert rule in err.rule
    assert str(err).startswith(f"{section}.{key}: ")
    assert rule in str(err)


ACCOUNT_BAD_VALUES = [
    ("port", 70000, "between 1 and 65535"),
    ("port", 0, "between 1 and 65535"),
    ("port", "993", "a whole number"),
    ("port", False, "a whole number"),
    ("host", "imap acme", "host name"),
    ("host", "", "host name"),
    ("host", 5, "a string"),
    ("name", "", "must not be empty"),
    ("name", "   ", "must not be empty"),
    ("folder", "", "must not be empty"),
    ("protocol", "smtp", "one of: imap, pop3"),
    ("protocol", ["imap"], "one of: imap, pop3"),
    ("tls", "ssl", "one of: implicit, starttls, none"),
    ("check_interval_minutes", 7, "between 1 and 5"),
    ("batch_size", 0, "between 1 and 1000"),
    ("batch_size", 1001, "between 1 and 1000"),
    ("timeout_seconds", 3601, "between 1 and 3600"),
    ("enabled", "false", "true or false"),
    ("ca_file", 1, "a string"),
    ("move_to", [], "a string"),
]


@pytest.mark.parametrize(("key", "value", "rule"), ACCOUNT_BAD_VALUES)
def test_account_bad_value_has_a_path_with_the_index(key: str, value: Any, rule: str) -> None:
    good = {"name": "good", "host": "imap.acme.test"}
    bad = {"name": "bad", "host": "imap.acme.test", key: value}
    err = load_error({"incoming": {"accounts": [good, bad]}})
    assert err.key == f"incoming.accounts[1].{key}"
    assert err.value == value
    assert rule in err.rule


@pytest.mark.parametrize("missing", ["name", "host"])
def test_account_required_fields(missing: str) -> None:
    account = dict(ACCOUNT)
    del account[missing]
    err = load_error({"incoming": {"accounts": [account]}})
    assert err.key == f"incoming.accounts[0].{missing}"
    assert err.value is None
    assert err.rule == "is required"
    assert str(err) == f"incoming.accounts[0].{missing}: is required"


def test_account_that_is_not_a_table() -> None:
    err = load_error({"incoming": {"accounts": ["imap.acme.test"]}})
    assert err.key == "incoming.accounts[0]"
    assert "table/object" in err.rule


def test_duplicate_account_names() -> None:
    data = {"incoming": {"accounts": [ACCOUNT, {"name": "sales", "host": "h"}, ACCOUNT]}}
    err = load_error(data)
    assert err.key == "incoming.accounts[2].name"
    assert err.value == "support"
    assert "unique" in err.rule
    with pytest.raises(SettingsError, match="unique"):
        IncomingSettings(accounts=(MailboxAccount("a", "h"), MailboxAccount("a", "h2")))


def test_accounts_load_with_all_fields() -> None:
    account = {
        "name": "support",
        "host": "imap.acme.test",
        "protocol": "pop3",
        "port": 1995,
        "tls": "starttls",
        "username": "support",
        "password": "hunter2",
        "folder": "Helpdesk",
        "enabled": False,
        "ca_file": "/etc/ssl/acme.pem",
        "move_to": "Processed",
        "quarantine_folder": None,
        "check_interval_minutes": 2,
        "batch_size": 10,
        "timeout_seconds": 30,
    }
    loaded = load("incoming", {"accounts": [account]}).incoming.accounts
    assert loaded == (
        MailboxAccount(
            name="support",
            host="imap.acme.test",
            protocol=MailProtocol.POP3,
            port=1995,
            tls=TlsMode.STARTTLS,
            username="support",
            password="hunter2",
            folder="Helpdesk",
            enabled=False,
            ca_file="/etc/ssl/acme.pem",
            move_to="Processed",
            quarantine_folder=None,
            check_interval_minutes=2,
            batch_size=10,
            timeout_seconds=30,
        ),
    )
    assert loaded[0].protocol is MailProtocol.POP3
    assert loaded[0].tls is TlsMode.STARTTLS


@pytest.mark.parametrize(
    ("data", "key", "suggestion"),
    [
        ({"incomming": {}}, "incomming", "incoming"),
        ({"incoming": {"check_interval": 5}}, "incoming.check_interval", "check_interval_minutes"),
        ({"notifications": {"enable": True}}, "notifications.enable", "enabled"),
        ({"outgoing": {"from_adress": "a@b.c"}}, "outgoing.from_adress", "from_address"),
        (
            {"incoming": {"accounts": [{**ACCOUNT, "prot": 1}]}},
            "incoming.accounts[0].prot",
            "port",
        ),
        (
            {"notifications": {"ticket_rate_limits": [{"count": 1, "minute": 1}]}},
            "notifications.ticket_rate_limits[0].minute",
            "minutes",
        ),
    ],
)
def test_unknown_key_suggests_the_closest(data: Any, key: str, suggestion: str) -> None:
    err = load_error(data)
    assert err.key == key
    assert err.rule == f"unknown setting; did you mean {suggestion!r}?"
    assert f"did you mean {suggestion!r}?" in str(err)


def test_unknown_key_without_a_close_match() -> None:
    err = load_error({"outgoing": {"zzzzzz": 1}})
    assert err.key == "outgoing.zzzzzz"
    assert err.rule == "unknown setting"


def test_non_string_key_in_a_mapping() -> None:
    err = load_error({"incoming": {5: True}})
    assert err.key == "incoming.5"
    assert "unknown setting" in err.rule


@pytest.mark.parametrize("document", [[], "incoming", 5, None])
def test_document_must_be_a_table(document: Any) -> None:
    err = load_error(document)
    assert err.key == "<document>"
    assert "table/object" in err.rule


@pytest.mark.parametrize("section", ["incoming", "notifications", "outgoing"])
@pytest.mark.parametrize("value", [None, [], "x", 1, True])
def test_section_must_be_a_table(section: str, value: Any) -> None:
    err = load_error({section: value})
    assert err.key == section
    assert err.value == value
    assert "table/object" in err.rule


# --- enums ---


def test_enums_load_from_their_values() -> None:
    s = Settings.from_mapping(
        {
            "incoming": {"auto_replies": "comment", "reply_to_closed": "new_ticket"},
            "outgoing": {"smtp_tls": "implicit"},
        }
    )
    assert s.incoming.auto_replies is AutoReplyHandling.COMMENT
    assert s.incoming.reply_to_closed is ClosedTicketReply.NEW_TICKET
    assert s.outgoing.smtp_tls is TlsMode.IMPLICIT


def test_enum_values_are_case_sensitive() -> None:
    err = load_error({"outgoing": {"smtp_tls": "STARTTLS"}})
    assert err.key == "outgoing.smtp_tls"
    assert err.rule == "must be one of: implicit, starttls, none"


def test_enums_from_strings_in_code() -> None:
    account = MailboxAccount(name="a", host="h", protocol="pop3", tls="none")  # type: ignore[arg-type]
    assert account.protocol is MailProtocol.POP3
    assert account.tls is TlsMode.NONE
    with pytest.raises(SettingsError) as info:
        IncomingSettings(auto_replies="keep")  # type: ignore[arg-type]
    assert info.value.key == "auto_replies"
    assert info.value.rule == "must be one of: discard, comment"


# --- callables, rate limits, URLs, addresses ---


@pytest.mark.parametrize("value", ["token", 1, True, [], {}])
def test_callables_cannot_be_loaded(value: Any) -> None:
    err = load_error({"incoming": {"accounts": [{**ACCOUNT, "oauth2_token": value}]}})
    assert err.key == "incoming.accounts[0].oauth2_token"
    assert "set in code" in err.rule
    err = load_error({"outgoing": {"smtp_oauth2_token": value}})
    assert err.key == "outgoing.smtp_oauth2_token"
    assert "set in code" in err.rule


def test_callables_null_loads_as_none() -> None:
    s = load("outgoing", {"smtp_oauth2_token": None})
    assert s.outgoing.smtp_oauth2_token is None


def test_callables_can_be_set_in_code() -> None:
    def token() -> str:
        return "ya29.token"

    account = MailboxAccount(name="o365", host="outlook.office365.com", oauth2_token=token)
    assert account.oauth2_token is not None
    assert account.oauth2_token() == "ya29.token"
    outgoing = OutgoingSettings(smtp_oauth2_token=token)
    assert outgoing.smtp_oauth2_token is token
    with pytest.raises(SettingsError) as info:
        OutgoingSettings(smtp_oauth2_token="not callable")  # type: ignore[arg-type]
    assert info.value.key == "smtp_oauth2_token"
    assert "callable" in info.value.rule


def test_rate_limits_load_as_tables() -> None:
    s = load(
        "notifications",
        {
            "ticket_rate_limits": [{"count": 3, "minutes": 5}, {"count": 10, "minutes": 60}],
            "recipient_rate_limits": [],
        },
    )
    assert s.notifications.ticket_rate_limits == (RateLimit(3, 5), RateLimit(10, 60))
    assert s.notifications.recipient_rate_limits == ()


@pytest.mark.parametrize(
    ("limit", "key", "rule"),
    [
        ({"count": 0, "minutes": 5}, "count", "at least 1"),
        ({"count": 3, "minutes": -1}, "minutes", "at least 1"),
        ({"count": "3", "minutes": 5}, "count", "a whole number"),
        ({"count": 3, "minutes": True}, "minutes", "a whole number"),
        ({"count": 3}, "minutes", "required"),
        ({"minutes": 3}, "count", "required"),
    ],
)
def test_rate_limit_rules(limit: dict[str, Any], key: str, rule: str) -> None:
    data = {"notifications": {"recipient_rate_limits": [{"count": 1, "minutes": 1}, limit]}}
    err = load_error(data)
    assert err.key == f"notifications.recipient_rate_limits[1].{key}"
    assert rule in err.rule


def test_rate_limit_in_code() -> None:
    assert RateLimit(count=5, minutes=10) == RateLimit(5, 10)
    with pytest.raises(SettingsError) as info:
        RateLimit(0, 10)
    assert (info.value.key, info.value.value) == ("count", 0)
    with pytest.raises(SettingsError, match="a whole number"):
        RateLimit(1.5, 10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://helpdesk.acme.test",
        "https://helpdesk.acme.test/",
        "https://helpdesk.acme.test:8443/support/",
        "https://acme.test/helpdesk?x=1#top",
        "https://[::1]:8080",
    ],
)
def test_good_urls(url: str) -> None:
    assert load("outgoing", {"helpdesk_url": url}).outgoing.helpdesk_url == url


@pytest.mark.parametrize(
    "address",
    ["support@acme.test", "first.last+tag@sub.acme.example", "a@localhost", "O'Neil@acme.test"],
)
def test_good_addresses(address: str) -> None:
    s = load("outgoing", {"from_address": address, "reply_to": address})
    assert s.outgoing.from_address == address
    assert s.outgoing.reply_to == address


@pytest.mark.parametrize(
    "address",
    [
        "support",
        "@acme.test",
        "support@",
        "support@acme_test",
        "support@-acme.test",
        "support@acme.test.",
        "Acme <support@acme.test>",
        "a b@acme.test",
        "support@@acme.test",
        "sup\x00port@acme.test",
    ],
)
def test_bad_addresses(address: str) -> None:
    err = load_error({"outgoing": {"from_address": address}})
    assert err.key == "outgoing.from_address"
    assert "email address" in err.rule


def test_empty_from_address_and_null_reply_to_are_allowed() -> None:
    s = load("outgoing", {"from_address": "", "reply_to": None})
    assert s.outgoing.from_address == ""
    assert s.outgoing.reply_to is None


def test_helpdesk_addresses_are_normalised() -> None:
    s = load("incoming", {"helpdesk_addresses": [" Support@Acme.TEST ", "help@acme.test"]})
    assert s.incoming.helpdesk_addresses == ("support@acme.test", "help@acme.test")


def test_bad_helpdesk_address_item_type_has_the_index() -> None:
    err = load_error({"incoming": {"helpdesk_addresses": ["a@b.c", 5]}})
    assert err.key == "incoming.helpdesk_addresses[1]"
    assert err.value == 5


@pytest.mark.parametrize("name", ["Acme Support", "Société Générale – Support", "", "A\u00e9"])
def test_good_from_names(name: str) -> None:
    assert load("outgoing", {"from_name": name}).outgoing.from_name == name


@pytest.mark.parametrize("char", ["\r", "\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\x00"])
def test_from_name_rejects_every_line_break(char: str) -> None:
    with pytest.raises(SettingsError) as info:
        OutgoingSettings(from_name=f"Acme{char}Support")
    assert info.value.key == "from_name"
    assert "line breaks" in info.value.rule


@pytest.mark.parametrize("host", ["localhost", "smtp.acme.test", "192.0.2.1", "[2001:db8::1]"])
def test_good_hosts(host: str) -> None:
    assert OutgoingSettings(smtp_host=host).smtp_host == host
    assert MailboxAccount(name="a", host=host).host == host


# --- building in code: the same rules, and types ---


@pytest.mark.parametrize(
    ("cls", "kwargs", "rule"),
    [
        (IncomingSettings, {"check_interval_minutes": 7}, "between 1 and 5"),
        (IncomingSettings, {"accept_unregistered": "no"}, "true or false"),
        (IncomingSettings, {"check_interval_minutes": "5"}, "a whole number"),
        (IncomingSettings, {"check_interval_minutes": True}, "a whole number"),
        (IncomingSettings, {"helpdesk_addresses": (5,)}, "a list of strings"),
        (IncomingSettings, {"accounts": ({"name": "a"},)}, "a list of MailboxAccount tables"),
        (MailboxAccount, {"name": "a", "host": 5}, "a string"),
        (MailboxAccount, {"name": "a", "host": "h", "port": 70000}, "between 1 and 65535"),
        (MailboxAccount, {"name": "a", "host": "h", "port": "993"}, "a whole number or null"),
        (NotificationSettings, {"enabled": None}, "true or false"),
        (NotificationSettings, {"ticket_rate_limits": ((1, 2),)}, "a list of RateLimit tables"),
        (OutgoingSettings, {"smtp_port": 70000}, "between 1 and 65535"),
        (OutgoingSettings, {"from_name": "a\r\nb"}, "line breaks"),
        (OutgoingSettings, {"from_address": "nope"}, "email address"),
    ],
)
def test_code_construction_is_checked(cls: Any, kwargs: dict[str, Any], rule: str) -> None:
    with pytest.raises(SettingsError) as info:
        cls(**kwargs)
    assert info.value.key == list(kwargs)[-1]  # the bad one is the last given
    assert rule in info.value.rule


# --- DKIM: the settings that go together, and the key never in the document ---


DKIM = {"from_address": "support@acme.test", "dkim_selector": "default"}


@pytest.mark.parametrize(
    ("values", "key", "message"),
    [
        (
            DKIM,
            "outgoing.dkim_private_key_file",
            "outgoing.dkim_private_key_file: is required when dkim_selector is set "
            "(or set dkim_private_key_env)",
        ),
        (
            {"dkim_private_key_file": "/etc/dkim.pem"},
            "outgoing.dkim_selector",
            "outgoing.dkim_selector: is required when a DKIM key is set "
            "(the key's name in DNS, e.g. default)",
        ),
        (
            {"dkim_private_key_env": "DKIM_KEY"},
            "outgoing.dkim_selector",
            "outgoing.dkim_selector: is required when a DKIM key is set "
            "(the key's name in DNS, e.g. default)",
        ),
        (
            {**DKIM, "dkim_private_key_file": "/etc/dkim.pem", "dkim_private_key_env": "K"},
            "outgoing.dkim_private_key_env",
            "outgoing.dkim_private_key_env: 'K' is not valid: "
            "set dkim_private_key_file or dkim_private_key_env, not both",
        ),
        (
            {"dkim_selector": "default", "dkim_private_key_env": "K"},
            "outgoing.dkim_domain",
            "outgoing.dkim_domain: is required when dkim_selector is set and from_address is empty",
        ),
    ],
)
def test_dkim_settings_that_go_together(values: dict[str, Any], key: str, message: str) -> None:
    err = load_error({"outgoing": values})
    assert (err.key, str(err)) == (key, message)


def test_dkim_settings_load_and_the_signing_domain() -> None:
    s = load("outgoing", {**DKIM, "dkim_private_key_file": "/etc/helpdesk/dkim.pem"})
    assert s.outgoing.dkim_signing_domain == "acme.test"
    s = load("outgoing", {**DKIM, "dkim_private_key_env": "HELPDESK_DKIM_KEY"})
    assert s.outgoing.dkim_private_key_env == "HELPDESK_DKIM_KEY"
    other = {**DKIM, "dkim_private_key_env": "K", "dkim_domain": "Mail.Acme.test"}
    assert load("outgoing", other).outgoing.dkim_signing_domain == "mail.acme.test"
    no_from = {"dkim_selector": "s1.2026", "dkim_private_key_env": "K", "dkim_domain": "acme.test"}
    assert load("outgoing", no_from).outgoing.dkim_signing_domain == "acme.test"
    headers = {**DKIM, "dkim_private_key_env": "K", "dkim_headers": ["from", "subject"]}
    assert load("outgoing", headers).outgoing.dkim_headers == ("from", "subject")
    assert OutgoingSettings(**DKIM, dkim_private_key_env="K").dkim_selector == "default"


PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw\n-----END PRIVATE KEY-----\n"
)


@pytest.mark.parametrize(
    "data",
    [
        {"outgoing": {"dkim_private_key": PEM}},
        {"outgoing": {"dkim_key": PEM}},
        {"outgoing": {**DKIM, "dkim_private_key_file": PEM}},
        {"outgoing": {**DKIM, "dkim_private_key_env": PEM}},
        {"outgoing": {**DKIM, "dkim_private_key_file": "MIIEvQIBADANBgkqhkiG9w0" * 50}},
        {"outgoing": {**DKIM, "dkim_private_key_file": "MIIEvQIBADAN\nBgkqhkiG9w0"}},
    ],
)
def test_a_dkim_key_in_the_document_is_refused_and_never_shown(data: Any) -> None:
    err = load_error(data)
    assert "MIIEvQ" not in str(err)
    assert "<hidden>" in str(err)
    key = err.key.rpartition(".")[2]
    if key in ("dkim_private_key", "dkim_key"):
        assert err.rule == (
            "secrets are not stored in the settings: name an environment variable with "
            "dkim_private_key_env or a file with dkim_private_key_file"
        )
    else:
        assert err.rule == "must name where the key is, never hold the key itself"


def test_a_typo_near_the_key_file_setting_still_gets_its_suggestion() -> None:
    err = load_error({"outgoing": {"dkim_private_key_fil": "/etc/dkim.pem"}})
    assert err.rule == "unknown setting; did you mean 'dkim_private_key_file'?"


def test_settings_sections_must_be_their_classes() -> None:
    with pytest.raises(SettingsError) as info:
        Settings(incoming={"accept_unregistered": False})  # type: ignore[arg-type]
    assert info.value.key == "incoming"
    assert info.value.rule == "must be an IncomingSettings table"
    assert Settings(incoming=IncomingSettings(accept_unregistered=False)).incoming == (
        IncomingSettings(accept_unregistered=False)
    )


def test_lists_in_code_become_tuples() -> None:
    account = MailboxAccount(name="a", host="h")
    incoming = IncomingSettings(
        helpdesk_addresses=["A@B.test"],  # type: ignore[arg-type]
        accounts=[account],  # type: ignore[arg-type]
    )
    assert incoming.helpdesk_addresses == ("a@b.test",)
    assert incoming.accounts == (account,)
    hash(incoming)  # frozen and hashable once the lists are tuples


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.incoming.check_interval_minutes = 3  # type: ignore[misc]


# --- the error type ---


def test_settings_error_attributes_and_message() -> None:
    err = load_error({"incoming": {"accounts": [{**ACCOUNT, "port": 70000}]}})
    assert isinstance(err, ValueError)
    assert err.key == "incoming.accounts[0].port"
    assert err.value == 70000
    assert err.rule == "must be a TCP port between 1 and 65535"
    assert str(err) == (
        "incoming.accounts[0].port: 70000 is not valid: must be a TCP port between 1 and 65535"
    )


def test_interval_of_seven_minutes_message() -> None:
    err = load_error({"incoming": {"check_interval_minutes": 7}})
    assert str(err) == "incoming.check_interval_minutes: 7 is not valid: must be between 1 and 5"


# --- secrets ---


def test_secrets_are_not_in_repr() -> None:
    def token() -> str:
        return "oauth-token-value"

    account = MailboxAccount(name="a", host="h", password="imap-pass-123", oauth2_token=token)
    outgoing = OutgoingSettings(
        smtp_password="smtp-pass-456", secret_key="signing-key-789", smtp_oauth2_token=token
    )
    s = Settings(incoming=IncomingSettings(accounts=(account,)), outgoing=outgoing)
    for text in (repr(account), repr(outgoing), repr(s), str(s)):
        for secret in ("imap-pass-123", "smtp-pass-456", "signing-key-789"):
            assert secret not in text
        assert "<function" not in text  # the token callables are hidden too
    assert "password=" not in repr(account)
    assert "smtp_password=" not in repr(outgoing)
    assert "secret_key=" not in repr(outgoing)
    assert "host='h'" in repr(account)  # the rest is shown
    # the values are still there for the code that needs them
    assert account.password == "imap-pass-123"
    assert outgoing.secret_key == "signing-key-789"


def test_secrets_loaded_from_a_document_are_not_in_repr() -> None:
    s = Settings.from_mapping(
        {
            "incoming": {"accounts": [{**ACCOUNT, "password": "imap-pass-123"}]},
            "outgoing": {"smtp_password": "smtp-pass-456", "secret_key": "signing-key-789"},
        }
    )
    assert s.incoming.accounts[0].password == "imap-pass-123"
    for secret in ("imap-pass-123", "smtp-pass-456", "signing-key-789"):
        assert secret not in repr(s)


@pytest.mark.parametrize(
    "data",
    [
        {"outgoing": {"smtp_pasword": "hunter2-secret"}},
        {"outgoing": {"secret": "hunter2-secret"}},
        {"incoming": {"accounts": [{**ACCOUNT, "pasword": "hunter2-secret"}]}},
        {"outgoing": {"smtp_password": ["hunter2-secret"]}},
        {"outgoing": {"secret_key": {"k": "hunter2-secret"}}},
        {"incoming": {"accounts": [{**ACCOUNT, "password": ["hunter2-secret"]}]}},
    ],
)
def test_secrets_are_not_in_error_messages(data: Any) -> None:
    err = load_error(data)
    assert "hunter2-secret" not in str(err)
    assert "<hidden>" in str(err)
    assert "hunter2-secret" in repr(err.value)  # the attribute still carries it


def test_secret_with_wrong_type_in_code_is_hidden() -> None:
    with pytest.raises(SettingsError) as info:
        OutgoingSettings(secret_key=123456789)  # type: ignore[arg-type]
    assert "123456789" not in str(info.value)
    assert info.value.value == 123456789


# --- JSON, TOML and files ---

TOML_DOCUMENT = """\
[incoming]
accept_unregistered = false
default_category = "Support"
check_interval_minutes = 3
helpdesk_addresses = ["support@acme.test"]

[[incoming.accounts]]
name = "support"
host = "imap.acme.test"
username = "support@acme.test"
password = "s3cret"

[[incoming.accounts]]
name = "legacy"
host = "pop.acme.test"
protocol = "pop3"
port = 995

[notifications]
cc_mode = true
ticket_rate_limits = [{count = 5, minutes = 10}]

[outgoing]
from_address = "support@acme.test"
from_name = "Acme Support"
smtp_host = "smtp.acme.test"
smtp_port = 465
smtp_tls = "implicit"
helpdesk_url = "https://helpdesk.acme.test"
"""


def check_toml_document(s: Settings) -> None:
    assert s.incoming.accept_unregistered is False
    assert s.incoming.default_category == "Support"
    assert s.incoming.check_interval_minutes == 3
    assert [a.name for a in s.incoming.accounts] == ["support", "legacy"]
    assert s.incoming.accounts[0].password == "s3cret"
    assert s.incoming.accounts[1].protocol is MailProtocol.POP3
    assert s.incoming.accounts[1].effective_port == 995
    assert s.notifications.cc_mode is True
    assert s.notifications.ticket_rate_limits == (RateLimit(5, 10),)
    assert s.outgoing.smtp_tls is TlsMode.IMPLICIT
    assert s.outgoing.smtp_port == 465
    assert s.outgoing.helpdesk_url == "https://helpdesk.acme.test"


def test_from_toml() -> None:
    check_toml_document(Settings.from_toml(TOML_DOCUMENT))


def test_json_and_toml_give_the_same_settings() -> None:
    import tomllib

    as_json = json.dumps(tomllib.loads(TOML_DOCUMENT))
    assert Settings.from_json(as_json) == Settings.from_toml(TOML_DOCUMENT)


def test_load_settings_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "helpdesk.toml"
    path.write_text(TOML_DOCUMENT, encoding="utf-8")
    check_toml_document(load_settings(path))
    check_toml_document(load_settings(str(path)))


def test_load_settings_uppercase_toml_suffix(tmp_path: Path) -> None:
    path = tmp_path / "HELPDESK.TOML"
    path.write_text(TOML_DOCUMENT, encoding="utf-8")
    check_toml_document(load_settings(path))


def test_load_settings_json_file(tmp_path: Path) -> None:
    path = tmp_path / "helpdesk.json"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    assert load_settings(path) == Settings.from_json(DESIGN_EXAMPLE)


def test_load_settings_other_suffix_is_json(tmp_path: Path) -> None:
    path = tmp_path / "helpdesk.conf"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    assert load_settings(path) == Settings.from_json(DESIGN_EXAMPLE)
    path.write_text(TOML_DOCUMENT, encoding="utf-8")
    with pytest.raises(SettingsError, match="valid JSON"):
        load_settings(path)


def test_load_settings_errors_in_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[incoming]\ncheck_interval_minutes = 7\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert info.value.key == "incoming.check_interval_minutes"
    assert info.value.value == 7


def test_load_settings_utf8_and_bom_free(tmp_path: Path) -> None:
    path = tmp_path / "helpdesk.json"
    path.write_text('{"outgoing": {"from_name": "Société Générale"}}', encoding="utf-8")
    assert load_settings(path).outgoing.from_name == "Société Générale"


def test_load_settings_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"outgoing": {"from_name": "Société"}}'.encode("latin-1"))
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert info.value.key == "<document>"
    assert "UTF-8" in info.value.rule


def test_load_settings_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize("text", ["{", "{'incoming': {}}", "", "[1,]", "{} {}"])
def test_invalid_json(text: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_json(text)
    assert info.value.key == "<document>"
    assert "valid JSON" in info.value.rule


@pytest.mark.parametrize("text", ["[incoming", "a = ", "x = 1\nx = 2", "[incoming]\nb = tru"])
def test_invalid_toml(text: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_toml(text)
    assert info.value.key == "<document>"
    assert "valid TOML" in info.value.rule


def test_deeply_nested_documents_are_errors_not_crashes() -> None:
    with pytest.raises(SettingsError, match="valid JSON"):
        Settings.from_json("[" * 100_000)
    with pytest.raises(SettingsError, match="valid TOML"):
        Settings.from_toml("a = " + "[" * 100_000)


def test_toml_dates_are_not_numbers_or_strings() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_toml("[incoming]\ncheck_interval_minutes = 1979-05-27\n")
    assert info.value.key == "incoming.check_interval_minutes"
    with pytest.raises(SettingsError) as info:
        Settings.from_toml("[incoming]\ndefault_category = 1979-05-27\n")
    assert info.value.key == "incoming.default_category"


def test_json_float_for_an_integer() -> None:
    err = load_error(json.loads('{"incoming": {"check_interval_minutes": 5.0}}'))
    assert err.key == "incoming.check_interval_minutes"
    assert err.rule == "must be a whole number"


def test_every_rule_has_a_description() -> None:
    import dataclasses

    for cls in (
        IncomingSettings,
        MailboxAccount,
        NotificationSettings,
        OutgoingSettings,
        RateLimit,
    ):
        for f in dataclasses.fields(cls):
            rule = f.metadata.get("rule")
            if rule is not None:
                assert isinstance(rule, settings_module.Rule)
                assert rule.description.startswith("must ")
