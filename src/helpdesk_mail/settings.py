"""Every setting of the spec's email settings page, as typed, frozen dataclasses.

Build them in code (`IncomingSettings(accept_unregistered=False)`) or load them
from a mapping, JSON or TOML (`load_settings("helpdesk.toml")`). Either way every
value is checked against the rule attached to its field, and a bad value raises
`SettingsError` naming the key, the value and the rule broken.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import tomllib
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from .addresses import normalize_email
from .reply_marker import DEFAULT_REPLY_MARKER, MAX_MARKER_TEXT, valid_marker_text

__all__ = [
    "DEFAULT_DKIM_HEADERS",
    "DEFAULT_DKIM_OVERSIGN_HEADERS",
    "DEFAULT_DOMAIN_RATE_LIMITS",
    "DEFAULT_RECIPIENT_RATE_LIMITS",
    "DEFAULT_SENDER_RATE_LIMITS",
    "DEFAULT_TICKET_RATE_LIMITS",
    "AutoReplyHandling",
    "ClosedTicketReply",
    "DatabaseSettings",
    "IncomingSettings",
    "MailProtocol",
    "MailboxAccount",
    "NotificationSettings",
    "OAuth2Flow",
    "OAuth2Provider",
    "OAuth2Settings",
    "OutgoingSettings",
    "RateLimit",
    "SenderAuthentication",
    "Settings",
    "SettingsError",
    "TlsMode",
    "load_settings",
]


class SettingsError(ValueError):
    """A setting has a bad value: `key` (dotted path), `value` and the `rule` it breaks.

    With `secret=True` (passwords, keys) the message hides the value; `.value` keeps it.
    """

    def __init__(self, key: str, value: object, rule: str, *, secret: bool = False) -> None:
        self.key = key
        self.value = value
        self.rule = rule
        self.secret = secret
        shown = "<hidden>" if secret else repr(value)
        if rule.startswith(_REQUIRED):
            super().__init__(f"{key}: {rule}")
        else:
            super().__init__(f"{key}: {shown} is not valid: {rule}")


_REQUIRED = "is required"
"""The rule (or the start of the rule) of a missing required key; its `.value` is None."""


class MailProtocol(StrEnum):
    """How a mailbox is read."""

    IMAP = "imap"
    POP3 = "pop3"


class TlsMode(StrEnum):
    """How a connection is secured. STARTTLS, when chosen, is required, never optional."""

    IMPLICIT = "implicit"
    STARTTLS = "starttls"
    NONE = "none"


class AutoReplyHandling(StrEnum):
    """What becomes of auto-replies: discarded (the spec) or kept as an inert comment."""

    DISCARD = "discard"
    COMMENT = "comment"


class ClosedTicketReply(StrEnum):
    """What a reply to a closed ticket does."""

    REOPEN = "reopen"
    NEW_TICKET = "new_ticket"


class SenderAuthentication(StrEnum):
    """What needs a sender authenticated by the helpdesk's own receiving server."""

    OFF = "off"
    """Nothing: the From header is trusted (the spec's behaviour)."""
    COMMANDS = "commands"
    """`#close#`, `#tech#` and acting as a technician need it."""
    ALL = "all"
    """Also new tickets and replies: mail from unauthenticated senders is held for review."""


class OAuth2Provider(StrEnum):
    """Whose token endpoint hands out the OAuth2 access tokens."""

    MICROSOFT = "microsoft"
    GOOGLE = "google"


class OAuth2Flow(StrEnum):
    """How an access token is obtained (RFC 6749: §4.4 client credentials, §6 refresh)."""

    CLIENT_CREDENTIALS = "client_credentials"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a flow name, not a secret)


# --- rules: each is a (description, predicate) pair attached to a field as metadata ---

# Matched with `fullmatch`: `$` alone would accept a trailing newline.
_EMAIL_RE = re.compile(
    r"[^@\s<>()\[\],;:\"\x00-\x1f\x7f]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
)
_HOST_RE = re.compile(r"[A-Za-z0-9._:\[\]-]+")
_URL_RE = re.compile(r"https?://[^\s/?#]+(?:[/?#]\S*)?")


@dataclass(frozen=True)
class Rule:
    """A named check on one setting value."""

    description: str
    check: Callable[[Any], bool]


def _in_range(lo: int, hi: int | None = None) -> Rule:
    text = f"must be between {lo} and {hi}" if hi is not None else f"must be at least {lo}"
    return Rule(text, lambda v: v >= lo and (hi is None or v <= hi))


def _is_email(value: str) -> bool:
    return bool(_EMAIL_RE.fullmatch(value)) and ".." not in value


def _single_line(value: str) -> bool:
    # Control characters (CR, LF, NEL, VT, FF, ...) and Unicode line/paragraph separators.
    return not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value)


EMAIL = Rule("must be an email address like support@example.com", _is_email)
OPTIONAL_EMAIL = Rule("must be empty or an email address", lambda v: not v or _is_email(v))
EMAIL_LIST = Rule(
    "must be a list of email addresses like support@example.com",
    lambda v: all(_is_email(a) for a in v),
)
PORT = Rule("must be a TCP port between 1 and 65535", lambda v: 1 <= v <= 65535)
HOST = Rule("must be a host name or IP address", lambda v: bool(_HOST_RE.fullmatch(v)))
HOST_LIST = Rule(
    "must be a list of host names like mx.acme.test",
    lambda v: all(bool(_HOST_RE.fullmatch(h.strip())) for h in v),
)
NOT_EMPTY = Rule("must not be empty", lambda v: bool(str(v).strip()))
NO_NEWLINES = Rule("must not contain line breaks or control characters", _single_line)
URL = Rule(
    "must be empty or an http(s) URL like https://helpdesk.example.com",
    lambda v: not v or _URL_RE.fullmatch(v) is not None,
)
# Plain http only to this machine (a local token endpoint in tests): a client secret
# or refresh token never crosses a network in clear text.
_TOKEN_URL_RE = re.compile(
    r"https://[^\s/?#]+(?:/[^\s?#]*)?"
    r"|http://(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?(?:/[^\s?#]*)?"
)
TOKEN_URL = Rule(
    "must be empty or an https URL (plain http only to localhost/127.x/[::1]), "
    "without query or fragment",
    lambda v: not v or _TOKEN_URL_RE.fullmatch(v) is not None,
)
ENV_NAME = Rule(
    "must be empty or an environment variable name like HELPDESK_CLIENT_SECRET",
    lambda v: not v or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v) is not None,
)
FILE_PATH = Rule("must be empty or a file path on one line", _single_line)
TENANT = Rule(
    "must be empty or a Microsoft Entra tenant: its id (a GUID) or domain (acme.onmicrosoft.com)",
    lambda v: not v or re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", v) is not None,
)
REPLY_MARKER = Rule(
    f"must be one line of 1 to {MAX_MARKER_TEXT} characters, without '##' and not starting "
    "or ending with '-'",
    valid_marker_text,
)
SCOPES = Rule(
    "must be a list of scopes without spaces, like https://mail.google.com/",
    lambda v: all(x and not any(c.isspace() for c in x) and _single_line(x) for x in v),
)

# --- DKIM: names as DNS and RFC 5322 allow them ---

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SELECTOR_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD_NAME_RE = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 ftext: printable ASCII but ':'
DKIM_NEVER_SIGNED = frozenset(
    {"return-path", "received", "comments", "keywords", "bcc", "resent-bcc", "dkim-signature"}
)
"""Header fields a DKIM signature must not cover (RFC 6376 5.4): relays add or change
them, or (Bcc) they are removed before the message leaves."""

DEFAULT_DKIM_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "Auto-Submitted",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
"""The header fields a notification's DKIM signature covers (each instance present)."""
DEFAULT_DKIM_OVERSIGN_HEADERS: tuple[str, ...] = ("From", "To", "Subject", "Date")
"""Signed once more than present: nobody can add a second one without breaking the signature."""


def _is_domain(value: str) -> bool:
    return len(value) <= 253 and _DOMAIN_RE.fullmatch(value) is not None


def _header_names(value: tuple[str, ...]) -> bool:
    return all(
        _FIELD_NAME_RE.fullmatch(name) and name.lower() not in DKIM_NEVER_SIGNED for name in value
    )


DKIM_SELECTOR = Rule(
    "must be a DNS name like default or mail2024 (letters, digits, '-', dots between labels)",
    lambda v: len(v) <= 253 and _SELECTOR_RE.fullmatch(v) is not None,
)
DOMAIN = Rule("must be a domain name like acme.test", _is_domain)
_NOT_SIGNABLE = ", ".join(sorted(DKIM_NEVER_SIGNED))
DKIM_HEADERS = Rule(
    f"must be header names that include From and none of: {_NOT_SIGNABLE}",
    lambda v: _header_names(v) and "from" in {n.lower() for n in v},
)
DKIM_OVERSIGN = Rule(f"must be header names, none of: {_NOT_SIGNABLE}", _header_names)


def _setting(default: Any = dataclasses.MISSING, *, rule: Rule | None = None, **kw: Any) -> Any:
    metadata = {"rule": rule} if rule else {}
    if isinstance(default, list | dict | set):
        raise TypeError("use a tuple or default_factory")
    return field(default=default, metadata=metadata, **kw)


def _validate(instance: object) -> None:
    """Check every field against its rule; errors name the field (the loader adds the path)."""
    for f in dataclasses.fields(instance):  # type: ignore[arg-type]
        rule = f.metadata.get("rule")
        value = getattr(instance, f.name)
        if rule is not None and value is not None and not rule.check(value):
            raise SettingsError(f.name, value, rule.description, secret=not f.repr)


def _check(instance: object) -> None:
    """Settings built in code: lists become tuples, strings become enums, then types and rules."""
    _coerce_enums(instance)
    _check_types(instance)
    _validate(instance)


# --- types: what the loader and __post_init__ accept ---

_TYPE_NAMES = {bool: "true or false", int: "a whole number", str: "a string"}


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _coerce_enums(instance: object) -> None:
    """Strings given for enum fields become the enum; lists given for tuple fields, tuples."""
    hints = _hints(type(instance))
    for f in dataclasses.fields(instance):  # type: ignore[arg-type]
        enum_type = _enum_in(hints[f.name])
        value = getattr(instance, f.name)
        if typing.get_origin(hints[f.name]) is tuple and isinstance(value, list):
            object.__setattr__(instance, f.name, tuple(value))
        if enum_type is not None and isinstance(value, str) and not isinstance(value, enum_type):
            value = str(value)
            try:
                object.__setattr__(instance, f.name, enum_type(value))
            except ValueError:
                choices = ", ".join(m.value for m in enum_type)
                raise SettingsError(f.name, value, f"must be one of: {choices}") from None


def _check_types(instance: object) -> None:
    """Reject values of the wrong type (`"no"` for a switch, `"993"` for a port)."""
    hints = _hints(type(instance))
    for f in dataclasses.fields(instance):  # type: ignore[arg-type]
        value = getattr(instance, f.name)
        if not _is_type(hints[f.name], value):
            raise SettingsError(
                f.name, value, f"must be {_describe(hints[f.name])}", secret=not f.repr
            )


def _is_type(tp: Any, value: object) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_is_type(a, value) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if _is_callable(tp):
        return callable(value)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return isinstance(value, tuple) and all(_is_type(item, v) for v in value)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _describe(tp: Any) -> str:
    """The type of a setting in words, as error messages and docs/settings.md give it."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if _is_callable(tp):
        return "a callable (set in code only)"
    if origin is tuple:
        item = _describe(typing.get_args(tp)[0]).removeprefix("a ").removeprefix("an ")
        return f"a list of {item}s"
    if isinstance(tp, type) and issubclass(tp, StrEnum):
        return "one of: " + ", ".join(m.value for m in tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        article = "an" if tp.__name__[0] in "AEIOU" else "a"
        return f"{article} {tp.__name__} table"
    return _TYPE_NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def _enum_in(tp: Any) -> type[StrEnum] | None:
    for candidate in (tp, *typing.get_args(tp)):
        if isinstance(candidate, type) and issubclass(candidate, StrEnum):
            return candidate
    return None


def _is_callable(tp: Any) -> bool:
    return typing.get_origin(tp) is Callable or tp is Callable


@dataclass(frozen=True)
class RateLimit:
    """At most `count` notifications within `minutes`."""

    count: int = _setting(rule=_in_range(1))
    """Notifications allowed within the window."""
    minutes: int = _setting(rule=_in_range(1))
    """Length of the window, in minutes."""

    def __post_init__(self) -> None:
        _check(self)


# Modelled on Zammad's per-ticket notification limits.
DEFAULT_TICKET_RATE_LIMITS = (
    RateLimit(10, 10),
    RateLimit(15, 30),
    RateLimit(25, 60),
    RateLimit(50, 180),
    RateLimit(100, 600),
)
DEFAULT_RECIPIENT_RATE_LIMITS = (RateLimit(20, 10), RateLimit(40, 60), RateLimit(150, 600))
# Inbound flood limits: a customer writes a few emails an hour, a busy technician
# answering by email a few dozen; a domain is shared by many senders (a company, a
# free-mail provider), so its limits are wider.
DEFAULT_SENDER_RATE_LIMITS = (RateLimit(20, 10), RateLimit(60, 60))
# A domain's limits leave room for a busy helpdesk's many customers at one public
# provider (gmail.com): hundreds of forged senders at one domain are what they stop.
DEFAULT_DOMAIN_RATE_LIMITS = (RateLimit(300, 10), RateLimit(1000, 60))


# --- OAuth2 (SASL XOAUTH2): where the access tokens come from ---

CLIENT_ID = Rule(
    "must be a non-empty string on one line",
    lambda v: bool(v.strip()) and _single_line(v),
)


@dataclass(frozen=True)
class _ProviderFacts:
    """What one OAuth2 provider offers: its token URL, flows and default scopes."""

    token_url: str
    flows: tuple[OAuth2Flow, ...]
    scopes: Mapping[OAuth2Flow, tuple[str, ...]]
    secret_required: frozenset[OAuth2Flow]


# Invariants: the first flow of `flows` is the provider's default flow; `scopes` has
# an entry for every flow in `flows`; `token_url` is https and has `{tenant}` exactly
# when the provider needs a tenant (Microsoft). The scopes are the ones mail needs:
# Microsoft's `.default` means "every permission the admin granted on Exchange Online"
# (IMAP.AccessAsApp, POP.AccessAsApp, SMTP.SendAsApp for an app; the delegated
# IMAP/POP/SMTP scopes for a user), `offline_access` asks for a refresh token back.
OAUTH2_PROVIDERS: Mapping[OAuth2Provider, _ProviderFacts] = types.MappingProxyType(
    {
        OAuth2Provider.MICROSOFT: _ProviderFacts(
            token_url="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",  # noqa: S106
            flows=(OAuth2Flow.CLIENT_CREDENTIALS, OAuth2Flow.REFRESH_TOKEN),
            scopes={
                OAuth2Flow.CLIENT_CREDENTIALS: ("https://outlook.office365.com/.default",),
                OAuth2Flow.REFRESH_TOKEN: (
                    "https://outlook.office365.com/.default",
                    "offline_access",
                ),
            },
            secret_required=frozenset({OAuth2Flow.CLIENT_CREDENTIALS}),
        ),
        OAuth2Provider.GOOGLE: _ProviderFacts(
            token_url="https://oauth2.googleapis.com/token",  # noqa: S106
            flows=(OAuth2Flow.REFRESH_TOKEN,),
            scopes={OAuth2Flow.REFRESH_TOKEN: ("https://mail.google.com/",)},
            secret_required=frozenset({OAuth2Flow.REFRESH_TOKEN}),
        ),
    }
)
"""The providers' facts: default token URL, flows (the first is the default), scopes."""

_TENANTLESS = ("common", "organizations", "consumers")


@dataclass(frozen=True)
class OAuth2Settings:
    """OAuth2 for SASL XOAUTH2: which provider's token endpoint, which flow, which secrets.

    Secrets are never in the settings: `*_env` names an environment variable and
    `*_file` a file that holds them; both are read when a token is first needed.
    """

    provider: OAuth2Provider
    """`microsoft` (Microsoft 365 / Exchange Online) or `google` (Gmail, Google Workspace)."""
    client_id: str = _setting(rule=CLIENT_ID)
    """The application (client) id registered with the provider."""
    tenant: str = _setting("", rule=TENANT)
    """Microsoft: the directory (tenant) id or domain; required for microsoft, unused for google."""
    flow: OAuth2Flow | None = None
    """`client_credentials` (Microsoft, app-only) or `refresh_token`;
    None: microsoft `client_credentials`, google `refresh_token`."""
    scopes: tuple[str, ...] = _setting((), rule=SCOPES)
    """Empty: Microsoft `https://outlook.office365.com/.default` (plus `offline_access`
    for refresh_token), Google `https://mail.google.com/`."""
    token_url: str = _setting("", rule=TOKEN_URL)
    """Empty: `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`
    or `https://oauth2.googleapis.com/token`."""
    client_secret_env: str = _setting("", rule=ENV_NAME)
    """The environment variable that holds the client secret."""
    client_secret_file: str = _setting("", rule=FILE_PATH)
    """Or: the file that holds the client secret (surrounding white space ignored)."""
    refresh_token_env: str = _setting("", rule=ENV_NAME)
    """flow `refresh_token`: the environment variable that holds the refresh token."""
    refresh_token_file: str = _setting("", rule=FILE_PATH)
    """Or: the file that holds the refresh token."""
    refresh_token_write_back: bool = False
    """Write a new refresh token the provider hands out back to `refresh_token_file`
    (Microsoft rotates them; off: the new one is kept in memory only)."""
    timeout_seconds: int = _setting(30, rule=_in_range(1, 300))
    """Network time-out of one token request."""

    def __post_init__(self) -> None:
        _check(self)
        for key, broken, rule in _OAUTH2_RULES:
            if broken(self):
                value = getattr(self, key)
                raise SettingsError(key, value if value else None, rule)

    @property
    def effective_flow(self) -> OAuth2Flow:
        """The configured flow, or the provider's default."""
        return self.flow or OAUTH2_PROVIDERS[self.provider].flows[0]

    @property
    def effective_scopes(self) -> tuple[str, ...]:
        """The configured scopes, or the provider's defaults for the flow."""
        return self.scopes or OAUTH2_PROVIDERS[self.provider].scopes[self.effective_flow]

    @property
    def effective_token_url(self) -> str:
        """The configured token URL, or the provider's, with the tenant filled in."""
        return self.token_url or OAUTH2_PROVIDERS[self.provider].token_url.format(
            tenant=self.tenant
        )


def _microsoft(o: OAuth2Settings) -> bool:
    return o.provider is OAuth2Provider.MICROSOFT


def _refreshes(o: OAuth2Settings) -> bool:
    return o.effective_flow is OAuth2Flow.REFRESH_TOKEN


def _needs_secret(o: OAuth2Settings) -> bool:
    return o.effective_flow in OAUTH2_PROVIDERS[o.provider].secret_required


# Cross-field rules of an OAuth2 table, checked in order after each field's own rule:
# (the key the error names, "is it broken?", the rule). A rule starting with
# "is required" is worded for a missing value (the key is named without a value).
_OAUTH2_RULES: tuple[tuple[str, Callable[[OAuth2Settings], bool], str], ...] = (
    (
        "flow",
        lambda o: o.effective_flow not in OAUTH2_PROVIDERS[o.provider].flows,
        "provider google has only the refresh_token flow for mail",
    ),
    (
        "tenant",
        lambda o: _microsoft(o) and not o.tenant,
        f"{_REQUIRED} with provider microsoft: the tenant's id or domain",
    ),
    ("tenant", lambda o: not _microsoft(o) and bool(o.tenant), "is only for provider microsoft"),
    (
        "tenant",
        lambda o: _microsoft(o) and not _refreshes(o) and o.tenant.lower() in _TENANTLESS,
        "client_credentials needs the tenant's own id or domain, "
        "not common/organizations/consumers",
    ),
    (
        "client_secret_file",
        lambda o: bool(o.client_secret_env and o.client_secret_file),
        "set client_secret_env or client_secret_file, not both",
    ),
    (
        "client_secret_env",
        lambda o: _needs_secret(o) and not (o.client_secret_env or o.client_secret_file),
        f"{_REQUIRED} (or client_secret_file) for this provider and flow: "
        "the client secret is read from that environment variable or file",
    ),
    (
        "refresh_token_file",
        lambda o: bool(o.refresh_token_env and o.refresh_token_file),
        "set refresh_token_env or refresh_token_file, not both",
    ),
    (
        "refresh_token_env",
        lambda o: _refreshes(o) and not (o.refresh_token_env or o.refresh_token_file),
        f"{_REQUIRED} (or refresh_token_file) with flow refresh_token",
    ),
    (
        "refresh_token_env",
        lambda o: not _refreshes(o) and bool(o.refresh_token_env),
        "is only for flow refresh_token",
    ),
    (
        "refresh_token_file",
        lambda o: not _refreshes(o) and bool(o.refresh_token_file),
        "is only for flow refresh_token",
    ),
    (
        "refresh_token_write_back",
        lambda o: o.refresh_token_write_back and not o.refresh_token_file,
        "needs refresh_token_file (the file a new refresh token is written to)",
    ),
)

_USE_ENV_OR_FILE = (
    "secrets are not stored in the settings: name an environment variable with {0}_env "
    "or a file with {0}_file"
)

# Keys a settings document may not have, with the reason (checked before "unknown setting").
_REFUSED_KEYS: dict[type, dict[str, str]] = {
    OAuth2Settings: {
        "client_secret": _USE_ENV_OR_FILE.format("client_secret"),
        "refresh_token": _USE_ENV_OR_FILE.format("refresh_token"),
        "access_token": "access tokens expire within hours: they are fetched, not configured",
    },
}


@dataclass(frozen=True)
class MailboxAccount:
    """One incoming mailbox that the poller reads."""

    name: str = _setting(rule=NOT_EMPTY)
    """Names the account in logs, health records and receipt keys; unique."""
    host: str = _setting(rule=HOST)
    """The IMAP or POP3 server."""
    protocol: MailProtocol = MailProtocol.IMAP
    """How the mailbox is read: `imap` or `pop3`."""
    port: int | None = _setting(None, rule=PORT)
    """None: 993/143 for IMAP, 995/110 for POP3, by TLS mode."""
    tls: TlsMode = TlsMode.IMPLICIT
    """`implicit` (TLS from the start), `starttls` (required upgrade) or `none`."""
    username: str = ""
    """Login name."""
    password: str = _setting("", repr=False)
    """Login password; kept out of `repr` and error messages. Better: `password_env` or
    `password_file`, so that the settings file holds no secret."""
    password_env: str = _setting("", rule=ENV_NAME)
    """The environment variable that holds the login password (read at each login)."""
    password_file: str = _setting("", rule=FILE_PATH)
    """Or: the file that holds the login password (surrounding white space ignored)."""
    oauth2_token: Callable[[], str] | None = field(default=None, repr=False)
    """A callable returning a fresh OAuth2 access token (SASL XOAUTH2); set in code only."""
    oauth2: OAuth2Settings | None = None
    """Log in with SASL XOAUTH2 with tokens from this OAuth2 table; `username` is the mailbox."""
    folder: str = _setting("INBOX", rule=NOT_EMPTY)
    """IMAP: the folder to read (POP3 has only the inbox)."""
    enabled: bool = True
    """Off: the poller skips the account (one disabled after failures is in its `MailboxState`)."""
    ca_file: str | None = None
    """A CA bundle for private servers; certificates are always verified."""
    move_to: str | None = None
    """IMAP: move processed mail to this folder instead of deleting it."""
    quarantine_folder: str | None = "Quarantine"
    """IMAP: where mail that fails to process goes (None: leave it and skip it)."""
    check_interval_minutes: int | None = _setting(None, rule=_in_range(1, 5))
    """None: the incoming settings' interval."""
    batch_size: int = _setting(50, rule=_in_range(1, 1000))
    """Messages fetched per round trip (and held in memory at once)."""
    timeout_seconds: int = _setting(60, rule=_in_range(1, 3600))
    """Network time-out of each server operation."""
    max_message_bytes: int | None = _setting(None, rule=_in_range(1024))
    """None: the incoming settings' `max_message_bytes`."""
    idle: bool | None = None
    """IMAP: watch the folder with IDLE (RFC 2177) so that new mail is fetched within
    seconds, when the server offers it (else it is polled); the check interval still
    bounds the wait. None: on for IMAP. `false` turns it off; POP3 has no IDLE."""

    def __post_init__(self) -> None:
        _check(self)
        _check_password_sources(self, "")
        _check_oauth2(self.oauth2, self.oauth2_token, self.username, "")
        if self.idle and self.protocol is MailProtocol.POP3:
            raise SettingsError("idle", self.idle, "IMAP only: POP3 has no IDLE, leave it unset")

    @property
    def watches(self) -> bool:
        """Whether a worker watches this account with IMAP IDLE (IMAP, `idle` not false)."""
        return self.protocol is MailProtocol.IMAP and self.idle is not False

    @property
    def effective_port(self) -> int:
        """The configured port, or the protocol's default for the TLS mode."""
        if self.port is not None:
            return self.port
        implicit = self.tls is TlsMode.IMPLICIT
        if self.protocol is MailProtocol.IMAP:
            return 993 if implicit else 143
        return 995 if implicit else 110


@dataclass(frozen=True)
class IncomingSettings:
    """The spec's "Incoming Email handler settings", plus the mailbox accounts."""

    accept_unregistered: bool = True
    """Turn mail from unknown addresses into tickets, creating users (off: discard it)."""
    default_category: str | None = None
    """Category of new tickets made from email."""
    add_recipients_as_subscribers: bool = True
    """Subscribe To and Cc addresses of a new ticket (off: only the sender)."""
    max_subscribers_per_email: int = _setting(50, rule=_in_range(0, 1000))
    """To and Cc addresses of one email that become subscribers of its new ticket (the
    sender aside); the rest are named in the result's `detail`."""
    check_interval_minutes: int = _setting(5, rule=_in_range(1, 5))
    """How often the mailboxes are checked (the spec: every 1-5 minutes)."""
    max_consecutive_failures: int = _setting(5, rule=_in_range(1, 100))
    """Connection or login failures in a row before an account is disabled."""
    max_message_bytes: int = _setting(25 * 1024 * 1024, rule=_in_range(1024))
    """Larger messages are not processed: kept for review (quarantined on IMAP) and their
    sender is told (`message_too_large`). 25 MB (26 214 400 bytes) by default."""
    helpdesk_addresses: tuple[str, ...] = _setting((), rule=EMAIL_LIST)
    """The helpdesk's own addresses: never subscribers; mail from them is a loop."""
    accounts: tuple[MailboxAccount, ...] = ()
    """The mailboxes the poller reads."""
    auto_replies: AutoReplyHandling = AutoReplyHandling.DISCARD
    """`discard` auto-replies (the spec) or keep them as a `comment` that notifies nobody."""
    reply_to_closed: ClosedTicketReply = ClosedTicketReply.REOPEN
    """A reply to a closed ticket `reopen`s it, or starts a `new_ticket`."""
    authserv_ids: tuple[str, ...] = _setting((), rule=HOST_LIST)
    """The authserv-id(s) your own receiving server writes in `Authentication-Results`
    (e.g. `mx.acme.test`): only its results are read, anyone else's are ignored."""
    sender_authentication: SenderAuthentication | None = None
    """`off`, `commands` or `all` (see docs/inbound.md); unset: `commands` once
    `authserv_ids` is set, else `off`."""
    sender_rate_limits: tuple[RateLimit, ...] = DEFAULT_SENDER_RATE_LIMITS
    """Flood limits per sender address over a sliding window: mail over one is kept for
    review (quarantined, not ticketed) and the admins get one summary per window."""
    domain_rate_limits: tuple[RateLimit, ...] = DEFAULT_DOMAIN_RATE_LIMITS
    """Flood limits per sender domain, likewise (forged senders at one domain)."""

    def __post_init__(self) -> None:
        _coerce_enums(self)
        _check_types(self)
        object.__setattr__(
            self, "authserv_ids", tuple(a.strip().lower() for a in self.authserv_ids)
        )
        if self.sender_authentication not in (None, SenderAuthentication.OFF) and not (
            self.authserv_ids
        ):
            raise SettingsError(
                "sender_authentication",
                self.sender_authentication.value,
                "needs incoming.authserv_ids: the authserv-id of your receiving server",
            )
        object.__setattr__(
            self, "helpdesk_addresses", tuple(normalize_email(a) for a in self.helpdesk_addresses)
        )
        _validate(self)
        seen: set[str] = set()
        for i, account in enumerate(self.accounts):
            if account.name in seen:
                raise SettingsError(
                    f"accounts[{i}].name", account.name, "account names must be unique"
                )
            seen.add(account.name)

    @property
    def authentication(self) -> SenderAuthentication:
        """The sender authentication in force (`sender_authentication`, or its default)."""
        if self.sender_authentication is not None:
            return self.sender_authentication
        return SenderAuthentication.COMMANDS if self.authserv_ids else SenderAuthentication.OFF


@dataclass(frozen=True)
class NotificationSettings:
    """The spec's "Notifications" switches, plus loop and flood protection."""

    enabled: bool = True
    """The master switch."""
    ticket_closed: bool = True
    """Submitters hear when their ticket is closed."""
    ticket_confirmation: bool = True
    """Submitters of tickets by email get a confirmation."""
    notify_admins_new_tickets: bool = True
    """Administrators hear of every new ticket, in every category."""
    notify_techs_new_tickets: bool = True
    """Technicians hear of new tickets (and tickets moved) into their categories."""
    notify_all_techs_on_customer_update: bool = False
    """All technicians of the category hear of a customer's update, assigned or not."""
    notify_all_techs_on_take: bool = False
    """All technicians of the category hear when another technician takes a ticket."""
    notify_techs_on_kb_update: bool = False
    """Technicians of the category hear when someone else updates a KB article in it."""
    include_attachments: bool = True
    """Attach the ticket's files to notifications (off, e.g. for HIPAA: no files or images)."""
    max_attached_bytes: int = _setting(10 * 1024 * 1024, rule=_in_range(0, 1024 * 1024 * 1024))
    """Total bytes of the files (and inline images) one notification attaches, 10 MB: files
    are attached in order while they fit; the others are only listed, with their links."""
    max_attached_files: int = _setting(50, rule=_in_range(0, 10_000))
    """Files (and inline images) one notification attaches at most; the others are only
    listed, with their links."""
    autologin_links: bool = True
    """Regular users get links that log them in without a password (never staff, never CC mode)."""
    autologin_ttl_hours: int = _setting(72, rule=_in_range(1, 24 * 30))
    """How long an autologin link works (the spec: three days)."""
    cc_mode: bool = False
    """Send one email to all subscribers in CC instead of one each (disables autologin, ratings)."""
    only_tech_updates_to_subscribers: bool = False
    """A non-technician's reply is emailed to technicians only."""
    bounce_suppression_days: int = _setting(7, rule=_in_range(1, 365))
    """How long an address whose mail bounced gets no notifications."""
    ticket_rate_limits: tuple[RateLimit, ...] = DEFAULT_TICKET_RATE_LIMITS
    """Flood limits per ticket: once one is reached, its notifications are skipped."""
    recipient_rate_limits: tuple[RateLimit, ...] = DEFAULT_RECIPIENT_RATE_LIMITS
    """Flood limits per customer address (staff are exempt)."""
    reply_marker: str = _setting(DEFAULT_REPLY_MARKER, rule=REPLY_MARKER)
    """The line on top of every notification, above which replies are written (shown as
    ``##- Reply above this line -##``); translations in `reply_marker.REPLY_MARKERS`."""

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class OutgoingSettings:
    """The spec's "Outgoing email settings", plus the links, the signing key and DKIM."""

    from_address: str = _setting("", rule=OPTIONAL_EMAIL)
    """The From address of every notification."""
    from_name: str = _setting("", rule=NO_NEWLINES)
    """The From name of system notifications, like "Acme Support"."""
    reply_to: str | None = _setting(None, rule=OPTIONAL_EMAIL)
    """Reply-To of every email sent: best a mailbox the poller reads (None: none)."""
    from_name_for_all: bool = False
    """Use `from_name` for human replies too (otherwise the author's name)."""
    smtp_host: str = _setting("localhost", rule=HOST)
    """The SMTP server."""
    smtp_port: int = _setting(587, rule=PORT)
    """The SMTP server's port."""
    smtp_username: str = ""
    """SMTP login name (empty: no authentication)."""
    smtp_password: str = _setting("", repr=False)
    """SMTP password; kept out of `repr` and error messages. Better: `smtp_password_env`
    or `smtp_password_file`, so that the settings file holds no secret."""
    smtp_password_env: str = _setting("", rule=ENV_NAME)
    """The environment variable that holds the SMTP password (read at each login)."""
    smtp_password_file: str = _setting("", rule=FILE_PATH)
    """Or: the file that holds the SMTP password (surrounding white space ignored)."""
    smtp_oauth2_token: Callable[[], str] | None = field(default=None, repr=False)
    """A callable returning a fresh OAuth2 access token (Office 365); set in code only."""
    smtp_oauth2: OAuth2Settings | None = None
    """AUTH XOAUTH2 with tokens from this OAuth2 table; `smtp_username` is the mailbox."""
    smtp_tls: TlsMode = TlsMode.STARTTLS
    """`implicit` (SMTPS), `starttls` (required upgrade) or `none`."""
    smtp_ca_file: str | None = None
    """A CA bundle for a private SMTP server; certificates are always verified."""
    helpdesk_url: str = _setting("", rule=URL)
    """Base URL of the helpdesk, for ticket, autologin, rating and unsubscribe links."""
    secret_key: str = _setting("", repr=False)
    """Signs autologin links and outgoing Message-IDs; kept out of `repr` and error messages."""
    message_id_domain: str | None = _setting(None, rule=HOST)
    """Domain of generated Message-IDs (None: the From address's domain)."""
    dkim_selector: str | None = _setting(None, rule=DKIM_SELECTOR)
    """DKIM: sign every email with the key published at `<selector>._domainkey.<dkim_domain>`
    (None: no signing; signing needs the `dkim` extra)."""
    dkim_domain: str | None = _setting(None, rule=DOMAIN)
    """DKIM: the signing domain `d=` (None: the From address's domain, as DMARC alignment wants)."""
    dkim_private_key_file: str = _setting("", rule=FILE_PATH)
    """DKIM: a file holding the RSA private key (PEM); the key itself never goes in the settings."""
    dkim_private_key_env: str = _setting("", rule=ENV_NAME)
    """DKIM: instead of a file, the environment variable holding the private key (PEM)."""
    dkim_headers: tuple[str, ...] = _setting(DEFAULT_DKIM_HEADERS, rule=DKIM_HEADERS)
    """DKIM: the header fields signed (every instance present), case-insensitive."""
    dkim_oversign_headers: tuple[str, ...] = _setting(
        DEFAULT_DKIM_OVERSIGN_HEADERS, rule=DKIM_OVERSIGN
    )
    """DKIM: header fields signed once more than present, so that none can be added on the way."""

    def __post_init__(self) -> None:
        _refuse_inline_keys(self)
        _check(self)
        _check_password_sources(self, "smtp_")
        _check_oauth2(self.smtp_oauth2, self.smtp_oauth2_token, self.smtp_username, "smtp_")
        _check_dkim(self)

    @property
    def dkim_signing_domain(self) -> str | None:
        """The DKIM `d=`: `dkim_domain`, else the From address's domain (None: no signing)."""
        if self.dkim_selector is None:
            return None
        if self.dkim_domain:
            return self.dkim_domain.lower()
        return self.from_address.rpartition("@")[2].lower() or None


_KEY_SOURCES = ("dkim_private_key_file", "dkim_private_key_env")
_REFUSED_KEYS[OutgoingSettings] = {
    "dkim_private_key": _USE_ENV_OR_FILE.format("dkim_private_key"),
    "dkim_key": _USE_ENV_OR_FILE.format("dkim_private_key"),
}


def _refuse_inline_keys(outgoing: OutgoingSettings) -> None:
    """A PEM key pasted where its file or variable name belongs never shows in an error."""
    for name in _KEY_SOURCES:
        value = getattr(outgoing, name)
        if isinstance(value, str) and (
            "-----" in value or "PRIVATE KEY" in value or "\n" in value or len(value) > 1000
        ):
            raise SettingsError(
                name,
                value,
                "must name where the key is, never hold the key itself",
                secret=True,
            )


def _check_dkim(outgoing: OutgoingSettings) -> None:
    """The DKIM settings that only make sense together."""
    key_file, key_env = outgoing.dkim_private_key_file, outgoing.dkim_private_key_env
    if key_file and key_env:
        raise SettingsError(
            "dkim_private_key_env",
            key_env,
            "set dkim_private_key_file or dkim_private_key_env, not both",
        )
    if outgoing.dkim_selector is None:
        if key_file or key_env:
            raise SettingsError(
                "dkim_selector",
                None,
                f"{_REQUIRED} when a DKIM key is set (the key's name in DNS, e.g. default)",
            )
        return
    if not key_file and not key_env:
        raise SettingsError(
            "dkim_private_key_file",
            None,
            f"{_REQUIRED} when dkim_selector is set (or set dkim_private_key_env)",
        )
    if not outgoing.dkim_domain and not outgoing.from_address:
        raise SettingsError(
            "dkim_domain", None, f"{_REQUIRED} when dkim_selector is set and from_address is empty"
        )


def _check_oauth2(
    oauth2: OAuth2Settings | None, token: Callable[[], str] | None, username: str, prefix: str
) -> None:
    """An OAuth2 table needs the login name, and is not combined with a token callable."""
    if oauth2 is None:
        return
    if token is not None:
        raise SettingsError(
            f"{prefix}oauth2_token",
            token,
            f"set {prefix}oauth2_token (in code) or {prefix}oauth2 (a table), not both",
            secret=True,
        )
    if not username:
        raise SettingsError(
            f"{prefix}username", None, f"{_REQUIRED} with {prefix}oauth2: the mailbox to log in as"
        )


def _check_password_sources(table: object, prefix: str) -> None:
    """At most one of `{prefix}password`, `{prefix}password_env`, `{prefix}password_file`."""
    given = [
        name
        for name in (f"{prefix}password", f"{prefix}password_env", f"{prefix}password_file")
        if getattr(table, name)
    ]
    if len(given) > 1:
        raise SettingsError(
            given[-1],
            getattr(table, given[-1]),
            f"set one of {prefix}password, {prefix}password_env or {prefix}password_file, not more",
            secret=given[-1] == f"{prefix}password",
        )


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _url_has_password(url: str) -> bool:
    """Whether `scheme://user:password@host/...` carries a password (its userinfo has ':')."""
    scheme = _URL_SCHEME.match(url)
    rest = url[scheme.end() :] if scheme is not None else url
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, _host = netloc.rpartition("@")
    return bool(at) and ":" in userinfo


DATABASE_URL = Rule(
    "must be empty or a SQLAlchemy URL like sqlite:///helpdesk.db or "
    "postgresql+psycopg://helpdesk@db.acme.test/helpdesk, on one line, without a password "
    "(a URL with a password goes in the environment variable named by url_env)",
    lambda v: (
        not v
        or (
            _URL_SCHEME.match(v) is not None
            and _single_line(v)
            and not any(c.isspace() for c in v)
            and not _url_has_password(v)
        )
    ),
)


@dataclass(frozen=True)
class DatabaseSettings:
    """Where `helpdesk-mail worker` keeps the helpdesk (`helpdesk_mail.sql.SqlStorage`).

    Only the command line reads this section; a host that embeds the library passes its
    own `Storage` instead.
    """

    url: str = _setting("", rule=DATABASE_URL, repr=False)
    """The database's SQLAlchemy URL, without a password: `sqlite:///path/helpdesk.db` or
    `postgresql+psycopg://user@host/dbname` (the password then from libpq's PGPASSWORD or
    ~/.pgpass). Empty: `url_env`, or `--db` on the command line."""
    url_env: str = _setting("", rule=ENV_NAME)
    """The environment variable that holds the URL (one with a password in it)."""

    def __post_init__(self) -> None:
        _check(self)
        if self.url and self.url_env:
            raise SettingsError("url_env", self.url_env, "set url or url_env, not both")


_REFUSED_KEYS[DatabaseSettings] = {
    "password": "a database password goes in the URL held by the environment variable "
    "named by url_env (or in libpq's PGPASSWORD or ~/.pgpass), never in the settings",
}


@dataclass(frozen=True)
class Settings:
    """All settings: incoming, notifications and outgoing, and the worker's database."""

    incoming: IncomingSettings = field(default_factory=IncomingSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    outgoing: OutgoingSettings = field(default_factory=OutgoingSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)

    def __post_init__(self) -> None:
        _check_types(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Settings:
        """Settings from a mapping with sections `incoming`, `notifications`, `outgoing`
        and `database`."""
        return _build(cls, data, "")

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Settings from a JSON document."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise SettingsError("<document>", text[:40], f"must be valid JSON ({exc})") from None
        return cls.from_mapping(data)

    @classmethod
    def from_toml(cls, text: str) -> Settings:
        """Settings from a TOML document."""
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise SettingsError("<document>", text[:40], f"must be valid TOML ({exc})") from None
        return cls.from_mapping(data)


def load_settings(path: str | Path) -> Settings:
    """Settings from a `.json` or `.toml` file (by extension; other names are tried as JSON)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError("<document>", str(p), f"must be UTF-8 text ({exc})") from None
    if p.suffix.lower() == ".toml":
        return Settings.from_toml(text)
    return Settings.from_json(text)


# --- the mapping loader: strict types, dotted keys in errors, "did you mean" ---

_T = TypeVar("_T")


def _build(cls: type[_T], data: object, prefix: str) -> _T:
    if not isinstance(data, Mapping):
        raise SettingsError(prefix.rstrip(".") or "<document>", data, "must be a table/object")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    refused = _REFUSED_KEYS.get(cls, {})
    for key, value in data.items():
        if key in refused:
            raise SettingsError(f"{prefix}{key}", value, refused[key], secret=True)
        if not isinstance(key, str) or key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            secret = _looks_secret(str(key)) or bool(close and not fields[close[0]].repr)
            raise SettingsError(f"{prefix}{key}", value, f"unknown setting{hint}", secret=secret)
        try:
            kwargs[key] = _convert(hints[key], value, f"{prefix}{key}")
        except SettingsError as exc:
            if fields[key].repr:
                raise
            raise SettingsError(exc.key, exc.value, exc.rule, secret=True) from None
    try:
        return cls(**kwargs)
    except SettingsError as exc:  # raised by this level's checks, named relative to it
        raise SettingsError(f"{prefix}{exc.key}", exc.value, exc.rule, secret=exc.secret) from None
    except TypeError as exc:  # a required field is missing
        missing = [n for n, f in fields.items() if _required(f) and n not in kwargs]
        if missing:
            raise SettingsError(f"{prefix}{missing[0]}", None, _REQUIRED) from None
        raise SettingsError(prefix.rstrip("."), None, f"is not valid ({exc})") from None


def _looks_secret(key: str) -> bool:
    return any(word in key.lower() for word in ("password", "secret", "token", "private"))


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _convert(tp: Any, value: object, key: str) -> object:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if any(typing.get_origin(a) is not None and _is_callable(a) for a in args):
            raise SettingsError(key, value, "can only be set in code (a callable)")
        non_none = [a for a in args if a is not type(None)]
        return _convert(non_none[0], value, key)
    if _is_callable(tp):
        raise SettingsError(key, value, "can only be set in code (a callable)")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise SettingsError(key, value, "must be a list")
        item_type = args[0]
        return tuple(_convert(item_type, v, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build(tp, value, f"{key}.")
    if isinstance(tp, type) and issubclass(tp, StrEnum):
        try:
            return tp(str(value)) if isinstance(value, str) else tp(value)  # type: ignore[arg-type]
        except ValueError:
            choices = ", ".join(m.value for m in tp)
            raise SettingsError(key, value, f"must be one of: {choices}") from None
    if tp is int and isinstance(value, bool):
        raise SettingsError(key, value, "must be a whole number")
    if tp in _TYPE_NAMES and not isinstance(value, tp):
        raise SettingsError(key, value, f"must be {_TYPE_NAMES[tp]}")
    return value
