"""Run the library's main job on built-in sample mail, or on a real mailbox.

    helpdesk-mail demo
    helpdesk-mail demo --db sqlite:///demo.db
    helpdesk-mail tickets                       # what the demo stored
    helpdesk-mail demo --imap imaps://support%40acme.test@imap.acme.test/INBOX

Without options: thirteen sample emails (new tickets, replies, #tech#, #close#,
#unsubscribe#, HTML-only, an attachment, a bounce, an out-of-office reply, a
noreply@ mail, a reply-hijack attempt, an unknown sender) are polled from an
in-memory mailbox by the real Poller into a SQLite file, helpdesk-mail-demo.db in
the current folder (--db URL for another; delete the file to start over), with a
manual clock and seeded randomness; their notifications go to an in-memory SMTP
outbox. Run it twice: the second run creates nothing and sends nothing, as every
email's receipt is in the database and the outbox has nothing pending.

With --imap URL (imap://user:password@host:port/folder, imaps:// for implicit
TLS; pop3:// and pop3s:// work too) a real mailbox is polled once instead, into an
in-memory helpdesk (or the --db given). Its mail stays on the server unless
--delete is given.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any
from urllib.parse import unquote, urlsplit

from ..demo import DemoStorageError, format_run, run_demo, run_mailbox_demo
from ..memory import ManualClock
from ..ports import MailboxError
from ..runtime import SystemClock, SystemRandom
from ..settings import MailboxAccount, MailProtocol, SettingsError, TlsMode
from ..transports.mailbox import MailTransport

DEFAULT_DB = "sqlite:///helpdesk-mail-demo.db"
"""Where the demo stores its helpdesk: a SQLite file in the current folder."""

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
    parser.add_argument(
        "--db",
        metavar="URL",
        help=f"the database to store into (default {DEFAULT_DB}: a file in the current folder;"
        " with --imap: in memory)",
    )


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


def describe_url(url: str) -> str:
    """A database URL as shown to people: a SQLite file's absolute path, else the URL
    without its password."""
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return os.path.abspath(url[len("sqlite:///") :])
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def open_sql_storage(url: str, clock: ManualClock | None = None) -> Any:
    """`SqlStorage(url, migrate=True)`: raises ImportError without the sql extra."""
    from ..sql import SqlStorage

    return SqlStorage(url, clock=clock, migrate=True)


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit status 0, 1 when the mailbox failed, 2 for a bad URL or database."""
    if not args.imap:
        return _samples(args)
    try:
        account = account_from_url(args.imap, starttls=args.starttls, ca_file=args.ca_file)
    except (ValueError, SettingsError) as exc:
        print(f"helpdesk-mail demo: bad --imap URL: {exc}", file=sys.stderr)
        return 2
    storage = None
    if args.db:
        storage, status = _storage(args.db, None)
        if storage is None:
            return status
    try:
        result = run_mailbox_demo(
            account,
            MailTransport(),
            SystemClock(),
            SystemRandom(),
            delete=args.delete,
            storage=storage,
        )
    except MailboxError as exc:  # pragma: no cover - the poller reports mailbox errors itself
        print(f"helpdesk-mail demo: {exc}", file=sys.stderr)
        return 1
    finally:
        _close(storage)
    print(format_run(result))
    return 1 if result.polls[0].errors else 0


def _samples(args: argparse.Namespace) -> int:
    url = args.db or DEFAULT_DB
    clock = ManualClock()
    storage, status = _storage(url, clock)
    if storage is None:
        return status
    try:
        result = run_demo(seed=args.seed, storage=storage, clock=clock)
    except DemoStorageError as exc:
        print(f"helpdesk-mail demo: {describe_url(url)}: {exc}", file=sys.stderr)
        return 2
    finally:
        _close(storage)
    where = describe_url(url)
    if result.fresh:
        print(f"Database: {where} (new; `helpdesk-mail tickets --db {url}` lists it)")
    else:
        print(
            f"Database: {where} (from an earlier run: its emails are already committed;"
            " delete the file to start over)"
        )
    print(format_run(result))
    return 0


def _storage(url: str, clock: ManualClock | None) -> tuple[Any, int]:
    """(the SQL storage, 0), or (None, exit status) with the reason printed."""
    try:
        return open_sql_storage(url, clock), 0
    except ImportError as exc:
        print(
            f"helpdesk-mail demo: the SQL storage needs SQLAlchemy and Alembic: "
            f"pip install 'helpdesk-mail[sql]' ({exc})",
            file=sys.stderr,
        )
        return None, 2
    except Exception as exc:  # a bad URL, a database that cannot be reached or written
        print(f"helpdesk-mail demo: cannot use {describe_url(url)}: {exc}", file=sys.stderr)
        return None, 2


def _close(storage: object) -> None:
    closer = getattr(storage, "close", None)
    if closer is not None:
        closer()
