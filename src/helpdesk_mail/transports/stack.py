"""The send transport a helpdesk runs with, built from its settings.

    transport = send_transport(settings.outgoing)       # SMTP, DKIM-signed when configured
    transport = with_dkim(my_transport, settings.outgoing)   # any transport, signed alike

Build it once at start-up: that is when a DKIM key that is missing or unusable
shows (`DkimKeyError`, a `SettingsError`), and when DKIM is configured without
dkimpy installed (`SettingsError` naming `outgoing.dkim_selector`: install
``helpdesk-mail[dkim]``). dkimpy is imported only when DKIM is on.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ..ports import SendTransport
from ..settings import OutgoingSettings, SettingsError
from .smtp import DEFAULT_TIMEOUT, SmtpTransport

__all__ = ["send_transport", "with_dkim"]


def _dkim_module(outgoing: OutgoingSettings) -> Any:
    try:
        return importlib.import_module(".dkim", __package__)
    except ImportError as exc:
        raise SettingsError(
            "outgoing.dkim_selector",
            outgoing.dkim_selector,
            f"needs dkimpy, which is not installed: pip install 'helpdesk-mail[dkim]' ({exc})",
        ) from None


def with_dkim(
    inner: SendTransport,
    outgoing: OutgoingSettings,
    *,
    environ: Mapping[str, str] | None = None,
) -> SendTransport:
    """`inner` wrapped in a `DkimSigningTransport` when `outgoing.dkim_selector` is set,
    else `inner` itself. `environ` (default `os.environ`) holds `dkim_private_key_env`."""
    if outgoing.dkim_selector is None:
        return inner
    module = _dkim_module(outgoing)
    signer = module.DkimSigner.from_settings(outgoing, environ=environ)
    if signer is None:  # pragma: no cover - the settings refuse a selector without a domain
        return inner
    transport: SendTransport = module.DkimSigningTransport(inner, signer)
    return transport


def send_transport(
    outgoing: OutgoingSettings,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    local_hostname: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SendTransport:
    """`SmtpTransport(outgoing, ...)`, DKIM-signing when `outgoing.dkim_selector` is set."""
    smtp = SmtpTransport(outgoing, timeout=timeout, local_hostname=local_hostname)
    return with_dkim(smtp, outgoing, environ=environ)
