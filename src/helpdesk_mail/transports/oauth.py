"""OAuth2 access tokens for SASL XOAUTH2: token providers for Microsoft 365 and Google.

A provider is a callable returning an access token, so it fits
`MailboxAccount.oauth2_token` and `OutgoingSettings.smtp_oauth2_token`; the
transports build one with `provider_for(settings)` from an `OAuth2Settings` table
(`MailboxAccount.oauth2`, `OutgoingSettings.smtp_oauth2`) when no callable is set.

- Flows (RFC 6749): client credentials (§4.4; Microsoft app-only access) and refresh
  token (§6; Microsoft delegated access, Google). One form POST to the token URL
  with the client secret in the body (`client_secret_post`, which both accept).
- Caching: a token is kept in memory until shortly before its `expires_in` runs out
  (`EARLY_REFRESH_SECONDS`, at most half its lifetime), then a new one is fetched.
  A response without `expires_in` is not cached. Thread-safe: concurrent callers
  wait for one request instead of each sending their own.
- Refresh tokens: read from their source at the first need; a new one returned by
  the server (Microsoft rotates them) replaces it in memory, and is written back to
  the file it came from when `write_back` is on. After `invalid_grant` the source is
  read again at the next call (a fixed file is picked up without a restart).
- Secrets (`EnvSecret`, `FileSecret`, or a literal string in code) are read when a
  token is needed, never logged, and scrubbed from the server's error text.
- Transport security: https with certificate verification; plain http only to a
  loopback address (a local test endpoint); redirects are not followed.
- Errors: `OAuth2Error` with the provider's `error` code and `error_description`,
  and `temporary` (network failures, 5xx, 429, `temporarily_unavailable`). The
  transports turn it into `MailboxError`/`MailboxAuthError` or `SmtpSendError`.

Only the standard library (urllib) is used: docs/decisions.md says why not MSAL.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import ssl
import tempfile
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import (
    OAUTH2_PROVIDERS,
    TOKEN_URL,
    OAuth2Flow,
    OAuth2Provider,
    OAuth2Settings,
)

__all__ = [
    "EARLY_REFRESH_SECONDS",
    "EnvSecret",
    "FileSecret",
    "GoogleTokenProvider",
    "MicrosoftTokenProvider",
    "OAuth2Error",
    "OAuth2TokenProvider",
    "Secret",
    "TokenResponse",
    "build_provider",
    "forget_providers",
    "parse_token_response",
    "provider_for",
]

log = logging.getLogger(__name__)

EARLY_REFRESH_SECONDS = 300
"""A cached token is replaced this long before it expires (at most half its lifetime)."""

MAX_RESPONSE_BYTES = 256 * 1024
"""A token response larger than this is refused (real ones are a few kilobytes)."""

MAX_DESCRIPTION_CHARS = 400
"""The server's `error_description` is cut to this length in error messages."""

# RFC 6749 §5.2 and RFC 6749 §4.1.2.1 codes that say "try again later".
_TEMPORARY_ERRORS = frozenset({"temporarily_unavailable", "server_error", "slow_down"})


class OAuth2Error(Exception):
    """No access token: the endpoint refused, could not be reached, or a secret is missing.

    `error` is the provider's RFC 6749 error code (`invalid_grant`, `invalid_client`,
    ...) or None; `description` its `error_description` (or what went wrong);
    `temporary` whether trying again later may succeed. The message never holds a
    secret.
    """

    def __init__(self, message: str, *, error: str | None, description: str, temporary: bool):
        super().__init__(message)
        self.error = error
        self.description = description
        self.temporary = temporary


# --- secrets: where the client secret and the refresh token are read from ---


@dataclass(frozen=True)
class EnvSecret:
    """A secret held by the environment variable `name`."""

    name: str

    def read(self, what: str) -> str:
        """The variable's value (stripped); `OAuth2Error` naming the variable when unset."""
        value = os.environ.get(self.name, "").strip()
        if not value:
            raise _config_error(f"the environment variable {self.name} ({what}) is not set")
        return value


@dataclass(frozen=True)
class FileSecret:
    """A secret held by the file at `path` (surrounding white space ignored)."""

    path: str

    def read(self, what: str) -> str:
        """The file's text (stripped); `OAuth2Error` naming the file when unreadable or empty."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                value = handle.read(MAX_RESPONSE_BYTES).strip()
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc)
            raise _config_error(f"cannot read {what} from the file {self.path}: {reason}") from None
        if not value:
            raise _config_error(f"the file {self.path} ({what}) is empty")
        return value

    def write(self, value: str) -> None:
        """Replace the file's content atomically, keeping its permissions (new file: 0600)."""
        target = Path(self.path)
        try:
            mode = target.stat().st_mode & 0o777
        except OSError:
            mode = 0o600
        fd, tmp = tempfile.mkstemp(prefix=".oauth2-", dir=target.parent)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value + "\n")
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


Secret = str | EnvSecret | FileSecret
"""A secret: a literal string (in code only), or where to read it from."""


def _read(secret: Secret, what: str) -> str:
    if isinstance(secret, str):
        if not secret.strip():
            raise _config_error(f"{what} is empty")
        return secret.strip()
    return secret.read(what)


def _config_error(text: str) -> OAuth2Error:
    return OAuth2Error(text, error=None, description=text, temporary=False)


# --- the providers ---


class OAuth2TokenProvider:
    """Access tokens from an OAuth2 token endpoint, cached until shortly before expiry.

    Call it for a token (`provider()`); `invalidate()` drops the cached one (e.g.
    after a server refused it), `requests` counts the token requests sent. `clock` is
    a monotonic time source in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        flow: OAuth2Flow | str,
        scopes: Sequence[str],
        client_secret: Secret | None = None,
        refresh_token: Secret | None = None,
        write_back: bool = False,
        timeout: float = 30.0,
        name: str = "OAuth2",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.flow = OAuth2Flow(flow)
        if not TOKEN_URL.check(token_url) or not token_url:
            raise ValueError(f"token_url {token_url!r} {TOKEN_URL.description}")
        if self.flow is OAuth2Flow.REFRESH_TOKEN and refresh_token is None:
            raise ValueError("the refresh_token flow needs a refresh_token")
        if self.flow is OAuth2Flow.CLIENT_CREDENTIALS and client_secret is None:
            raise ValueError("the client_credentials flow needs a client_secret")
        if write_back and not isinstance(refresh_token, FileSecret):
            raise ValueError("write_back needs a refresh token read from a FileSecret")
        self.token_url = token_url
        self.client_id = client_id
        self.scopes = tuple(scopes)
        self.name = name
        self.timeout = timeout
        self.write_back = write_back
        self.requests = 0
        """Token requests sent to the endpoint so far."""
        self._client_secret = client_secret
        self._refresh_source = refresh_token
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._refresh_token: str | None = None  # the newest one, once read or rotated
        self._opener: urllib.request.OpenerDirector | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, token_url={self.token_url!r}, "
            f"client_id={self.client_id!r}, flow={self.flow.value!r})"
        )

    def __call__(self) -> str:
        """A valid access token: the cached one, or a new one from the endpoint."""
        with self._lock:
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            self._token = None
            return self._fetch()

    def invalidate(self) -> None:
        """Forget the cached access token: the next call fetches a new one."""
        with self._lock:
            self._token = None

    # --- one token request (called with the lock held) ---

    def _fetch(self) -> str:
        form = {"grant_type": self.flow.value, "client_id": self.client_id}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        secrets: list[str] = []
        if self._client_secret is not None:
            form["client_secret"] = _read(self._client_secret, "the OAuth2 client secret")
            secrets.append(form["client_secret"])
        if self.flow is OAuth2Flow.REFRESH_TOKEN:
            assert self._refresh_source is not None
            if self._refresh_token is None:
                self._refresh_token = _read(self._refresh_source, "the OAuth2 refresh token")
            form["refresh_token"] = self._refresh_token
            secrets.append(self._refresh_token)
        started = self._clock()
        self.requests += 1
        try:
            status, body = self._post(urllib.parse.urlencode(form).encode("ascii"))
            return self._accept(status, body, started)
        except OAuth2Error as exc:
            if exc.error == "invalid_grant":
                self._refresh_token = None  # read the source again next time
            raise _scrubbed(exc, secrets) from None

    def _post(self, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 (the URL's scheme is checked)
            self.token_url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        if self._opener is None:
            self._opener = _opener(self.token_url)
        try:
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    return response.status, _bounded(response)
            except urllib.error.HTTPError as exc:
                with exc:
                    return exc.code, _bounded(exc)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise self._error(None, f"cannot reach the token endpoint: {reason}", True) from None

    def _accept(self, status: int, body: bytes, started: float) -> str:
        try:
            response = parse_token_response(status, body)
        except OAuth2Error as exc:
            raise self._error(exc.error, exc.description, exc.temporary) from None
        if self.flow is OAuth2Flow.REFRESH_TOKEN and response.refresh_token:
            self._keep_refresh_token(response.refresh_token)
        lifetime = response.expires_in
        if lifetime is not None:
            self._token = response.access_token
            self._expires_at = started + lifetime - min(EARLY_REFRESH_SECONDS, lifetime / 2)
        return response.access_token

    def _keep_refresh_token(self, rotated: str) -> None:
        if rotated == self._refresh_token:
            return
        self._refresh_token = rotated
        if self.write_back and isinstance(self._refresh_source, FileSecret):
            try:
                self._refresh_source.write(rotated)
            except OSError as exc:
                log.warning(
                    "%s: cannot write the new refresh token to %s: %s (kept in memory)",
                    self.name,
                    self._refresh_source.path,
                    exc.strerror or type(exc).__name__,
                )

    def _error(self, code: str | None, description: str, temporary: bool) -> OAuth2Error:
        description = _clean(description)
        what = f"{code}: {description}" if code else description
        return OAuth2Error(
            f"{self.name} token endpoint {self.token_url}: {what}",
            error=code,
            description=description,
            temporary=temporary,
        )


class MicrosoftTokenProvider(OAuth2TokenProvider):
    """Microsoft 365 (Entra ID) tokens for IMAP, POP3 and SMTP of Exchange Online.

    Without `refresh_token`: the client credentials flow (app-only access; the app
    needs IMAP.AccessAsApp/POP.AccessAsApp/SMTP.SendAsApp and an Exchange service
    principal with mailbox permission). With it: the refresh token flow (delegated).
    `scopes` and `token_url` default to the provider's (see `OAUTH2_PROVIDERS`).
    """

    def __init__(
        self,
        tenant: str,
        client_id: str,
        *,
        client_secret: Secret | None = None,
        refresh_token: Secret | None = None,
        scopes: Sequence[str] | None = None,
        token_url: str | None = None,
        write_back: bool = False,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        facts = OAUTH2_PROVIDERS[OAuth2Provider.MICROSOFT]
        flow = OAuth2Flow.CLIENT_CREDENTIALS if refresh_token is None else OAuth2Flow.REFRESH_TOKEN
        super().__init__(
            token_url=token_url or facts.token_url.format(tenant=tenant),
            client_id=client_id,
            flow=flow,
            scopes=facts.scopes[flow] if scopes is None else scopes,
            client_secret=client_secret,
            refresh_token=refresh_token,
            write_back=write_back,
            timeout=timeout,
            name="microsoft",
            clock=clock,
        )


class GoogleTokenProvider(OAuth2TokenProvider):
    """Google (Gmail, Workspace) tokens by the refresh token flow, scope `https://mail.google.com/`."""

    def __init__(
        self,
        client_id: str,
        *,
        client_secret: Secret,
        refresh_token: Secret,
        scopes: Sequence[str] | None = None,
        token_url: str | None = None,
        write_back: bool = False,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        facts = OAUTH2_PROVIDERS[OAuth2Provider.GOOGLE]
        flow = OAuth2Flow.REFRESH_TOKEN
        super().__init__(
            token_url=token_url or facts.token_url,
            client_id=client_id,
            flow=flow,
            scopes=facts.scopes[flow] if scopes is None else scopes,
            client_secret=client_secret,
            refresh_token=refresh_token,
            write_back=write_back,
            timeout=timeout,
            name="google",
            clock=clock,
        )


# --- the token response (RFC 6749 §5.1 and §5.2) ---


@dataclass(frozen=True)
class TokenResponse:
    """What a successful token response gives: the token, its lifetime, a new refresh token."""

    access_token: str
    expires_in: float | None
    """Seconds the token is valid (None: not said, or unusable)."""
    refresh_token: str | None


def parse_token_response(status: int, body: bytes) -> TokenResponse:
    """The token endpoint's answer (any status, any bytes) as a `TokenResponse`.

    Raises `OAuth2Error` (with `error`, `description`, `temporary`; the message is
    just "error: description") for an error response or an unusable success.
    """
    data = _json_object(body)
    if status != 200 or "error" in data:
        code = data.get("error")
        code = code if isinstance(code, str) and 0 < len(code) <= 64 and _usable(code) else None
        described = data.get("error_description")
        if not isinstance(described, str) or not described:
            described = f"HTTP {status}" + ("" if data else " without an OAuth2 error body")
        temporary = status >= 500 or status == 429 or code in _TEMPORARY_ERRORS
        raise _refusal(code, described, temporary)
    token = data.get("access_token")
    if not isinstance(token, str) or not token or not _usable(token):
        raise _refusal(None, "the response has no usable access_token", False)
    token_type = data.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise _refusal(None, f"token_type {str(token_type)[:20]!r} is not Bearer", False)
    rotated = data.get("refresh_token")
    rotated = rotated if isinstance(rotated, str) and rotated and _usable(rotated) else None
    return TokenResponse(token, _seconds(data.get("expires_in")), rotated)


def _refusal(code: str | None, description: str, temporary: bool) -> OAuth2Error:
    message = f"{code}: {description}" if code else description
    return OAuth2Error(message, error=code, description=description, temporary=temporary)


# --- from settings to providers ---

_PROVIDERS: dict[OAuth2Settings, OAuth2TokenProvider] = {}
_PROVIDERS_LOCK = threading.Lock()


def build_provider(
    settings: OAuth2Settings, *, clock: Callable[[], float] = time.monotonic
) -> OAuth2TokenProvider:
    """A new provider for an `OAuth2Settings` table (secrets read at the first token)."""

    def source(env: str, file: str) -> Secret | None:
        if env:
            return EnvSecret(env)
        return FileSecret(file) if file else None

    return OAuth2TokenProvider(
        token_url=settings.effective_token_url,
        client_id=settings.client_id,
        flow=settings.effective_flow,
        scopes=settings.effective_scopes,
        client_secret=source(settings.client_secret_env, settings.client_secret_file),
        refresh_token=source(settings.refresh_token_env, settings.refresh_token_file),
        write_back=settings.refresh_token_write_back,
        timeout=settings.timeout_seconds,
        name=settings.provider.value,
        clock=clock,
    )


def provider_for(settings: OAuth2Settings) -> OAuth2TokenProvider:
    """The process's one provider for these settings (so its token cache is shared)."""
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(settings)
        if provider is None:
            provider = _PROVIDERS[settings] = build_provider(settings)
        return provider


def forget_providers() -> None:
    """Drop every provider `provider_for` made: the next login builds new ones, which read
    their secrets again (after a secret was changed, or between tests)."""
    with _PROVIDERS_LOCK:
        _PROVIDERS.clear()


# --- helpers ---


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx then surfaces as an HTTPError, never a second request


def _opener(url: str) -> urllib.request.OpenerDirector:
    """No redirects; https verified (TLS 1.2+); environment proxies, except to loopback."""
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if urllib.parse.urlsplit(url).scheme == "https":
        context = ssl.create_default_context()  # loads the CA store: once per provider
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        handlers.append(urllib.request.HTTPSHandler(context=context))
    else:  # TOKEN_URL allows plain http to loopback only
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def _bounded(response: Any) -> bytes:
    body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
    return body[:0] if len(body) > MAX_RESPONSE_BYTES else body


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(value: object) -> float | None:
    """`expires_in` as seconds (a number, or digits as Azure AD v1 sent them); None if unusable."""
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 10**7:
        return float(value)
    return None


def _usable(token: str) -> bool:
    """An access token goes into a SASL string: printable ASCII, no separators."""
    return token.isascii() and token.isprintable() and len(token) < 64 * 1024


def _clean(text: str) -> str:
    """Server text for an error message: one line, control characters out, bounded."""
    text = text[: MAX_DESCRIPTION_CHARS * 2]
    kept = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in text)
    kept = " ".join(kept.split())
    return kept if len(kept) <= MAX_DESCRIPTION_CHARS else kept[:MAX_DESCRIPTION_CHARS] + "..."


def _scrubbed(exc: OAuth2Error, secrets: Sequence[str]) -> OAuth2Error:
    """`exc` with any secret sent in the request replaced by <hidden>."""
    message, description = str(exc), exc.description
    for secret in secrets:
        if len(secret) >= 4:
            message = message.replace(secret, "<hidden>")
            description = description.replace(secret, "<hidden>")
    return OAuth2Error(message, error=exc.error, description=description, temporary=exc.temporary)
