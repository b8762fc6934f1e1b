"""TLS and authentication helpers shared by the IMAP and POP3 transports.

Certificates are always verified (`ssl.create_default_context`, hostname check
included); a private server is trusted by naming its CA bundle in
`MailboxAccount.ca_file`, never by switching verification off.
"""

from __future__ import annotations

import ssl

from ..ports import MailboxAuthError, MailboxError
from ..settings import MailboxAccount

__all__ = ["ssl_context", "xoauth2_string"]


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


def xoauth2_string(account: MailboxAccount) -> bytes | None:
    """The SASL XOAUTH2 initial response for `account`, or None when it has no token source.

    The token comes from `account.oauth2_token()` at each login, so that a host can
    hand out a fresh access token every time.
    """
    if account.oauth2_token is None:
        return None
    try:
        token = account.oauth2_token()
    except Exception as exc:
        raise MailboxAuthError(f"{account.name}: the OAuth2 token source failed: {exc}") from exc
    if not token or any(c in token for c in "\x01\r\n"):
        raise MailboxAuthError(f"{account.name}: the OAuth2 token source gave an unusable token")
    return f"user={account.username}\x01auth=Bearer {token}\x01\x01".encode()
