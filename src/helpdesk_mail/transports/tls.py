"""TLS and authentication helpers shared by the IMAP and POP3 transports.

Certificates are always verified (`ssl.create_default_context`, hostname check
included); a private server is trusted by naming its CA bundle in
`MailboxAccount.ca_file`, never by switching verification off.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

from ..ports import MailboxAuthError, MailboxError
from ..settings import MailboxAccount, OAuth2Settings

__all__ = ["oauth2_source", "ssl_context", "xoauth2_string"]


def ssl_context(account: MailboxAccount) -> ssl.SSLContext:
    """A verifying TLS context (TLS 1.2 or later) for `account`, trusting `account.ca_file`."""
    try:
        context = ssl.create_default_context(cafile=account.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(
            f"{account.name}: cannot load CA file {account.ca_file!r}: {exc}"
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def oauth2_source(
    token: Callable[[], str] | None, settings: OAuth2Settings | None
) -> Callable[[], str] | None:
    """Where a login's access token comes from: the callable set in code, else the
    provider of the `OAuth2Settings` table (`transports.oauth.provider_for`), else None."""
    if token is not None or settings is None:
        return token
    from .oauth import provider_for  # urllib only when a table asks for it

    return provider_for(settings)


def xoauth2_string(account: MailboxAccount) -> bytes | None:
    """The SASL XOAUTH2 initial response for `account`, or None when it has no token source.

    The token comes from `account.oauth2_token()`, or the provider of `account.oauth2`,
    at each login, so that a fresh access token is used every time. A token source
    that fails temporarily (an `OAuth2Error` with `temporary`, e.g. the token endpoint
    unreachable) raises `MailboxError`, any other failure `MailboxAuthError`.
    """
    source = oauth2_source(account.oauth2_token, account.oauth2)
    if source is None:
        return None
    try:
        token = source()
    except Exception as exc:
        error = MailboxError if getattr(exc, "temporary", False) is True else MailboxAuthError
        raise error(f"{account.name}: the OAuth2 token source failed: {exc}") from exc
    if not token or any(c in token for c in "\x01\r\n"):
        raise MailboxAuthError(f"{account.name}: the OAuth2 token source gave an unusable token")
    return f"user={account.username}\x01auth=Bearer {token}\x01\x01".encode()
