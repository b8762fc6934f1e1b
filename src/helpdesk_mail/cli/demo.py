"""Run the library's main job on built-in sample mail, or on a real mailbox.

    helpdesk-mail demo
    helpdesk-mail demo --imap imaps://support%40acme.test@imap.acme.test/INBOX

Without options: thirteen sample emails (new tickets, replies, #tech#, #close#,
#unsubscribe#, HTML-only, an attachment, a bounce, an out-of-office reply, a
noreply@ mail, a reply-hijack attempt, an unknown sender) are polled from an
in-memory mailbox into an in-memory helpdesk by the real Poller, with a manual
clock and seeded randomness: the same output on every run.

With --imap URL (imap://user:password@host:port/folder, imaps:// for implicit
TLS; pop3:// and pop3s:// work too) a real mailbox is polled once instead. Its
mail stays on the server unless --delete is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import unquote, urlsplit

from ..demo import format_run, run_demo, run_mailbox_demo
from ..ports import MailboxError
from ..runtime import SystemClock, SystemRandom
from ..settings import MailboxAccount, MailProtocol, SettingsError, TlsMode
from ..transports.mailbox import MailTransport

_SCHEMES = {
    "imap": (MailProtocol.IMAP, TlsMode.NONE),
    "imaps": (MailProtocol.IMAP, TlsMode.IMPLICIT),
    "pop3": (MailProtocol.POP3, TlsMode.NONE),
    "pop3s": (MailProtocol.POP3, TlsMode.IMPLICIT),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo subcommand's arguments."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--imap",
        metavar="URL",
        help="poll this mailbox instead: imap[s]://user:pass@host[:port][/folder]"
        " (or pop3[s]://...); the password may come from $HELPDESK_MAIL_PASSWORD",
    )
    parser.add_argument(
        "--starttls", action="store_true", help="with imap:// or pop3://: require STARTTLS"
    )
    parser.add_argument("--ca-file", metavar="FILE", help="CA bundle for a private server")
    parser.add_argument(
        "--delete",
        action="store_true",
        help="remove committed mail from the server (default: leave it there)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample run's randomness")


def account_from_url(
    url: str, *, starttls: bool = False, ca_file: str | None = None
) -> MailboxAccount:
    """A `MailboxAccount` from `imap[s]://user:pass@host:port/folder` (or `pop3[s]://`)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"unsupported scheme {parts.scheme!r}: use imap, imaps, pop3 or pop3s")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    protocol, tls = _SCHEMES[scheme]
    if starttls:
        if tls is TlsMode.IMPLICIT:
            raise ValueError("--starttls goes with imap:// or pop3://, not with implicit TLS")
        tls = TlsMode.STARTTLS
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    password = unquote(parts.password or "") or os.environ.get("HELPDESK_MAIL_PASSWORD", "")
    return MailboxAccount(
        name=parts.hostname,
        host=parts.hostname,
        protocol=protocol,
        port=parts.port,
        tls=tls,
        username=unquote(parts.username or ""),
        password=password,
        folder=folder,
        ca_file=ca_file,
        quarantine_folder=None,
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit status 0, 1 when the mailbox failed, 2 for a bad URL."""
    if not args.imap:
        print(format_run(run_demo(seed=args.seed)))
        return 0
    try:
        account = account_from_url(args.imap, starttls=args.starttls, ca_file=args.ca_file)
    except (ValueError, SettingsError) as exc:
        print(f"helpdesk-mail demo: bad --imap URL: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_mailbox_demo(
            account, MailTransport(), SystemClock(), SystemRandom(), delete=args.delete
        )
    except MailboxError as exc:  # pragma: no cover - the poller reports mailbox errors itself
        print(f"helpdesk-mail demo: {exc}", file=sys.stderr)
        return 1
    print(format_run(result))
    return 1 if result.polls[0].errors else 0
