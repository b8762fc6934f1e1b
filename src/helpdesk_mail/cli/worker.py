"""Run the helpdesk's email side as a long-running process: poll the mailboxes of the
settings (IMAP, POP3) into the database and deliver the notifications over SMTP.

    helpdesk-mail worker --settings helpdesk.toml
    helpdesk-mail worker --settings helpdesk.toml --db postgresql+psycopg://helpdesk@db/helpdesk
    helpdesk-mail worker --settings helpdesk.toml --once       # one round, then exit

The settings file names the database (`database.url`, or `database.url_env` for a URL
with a password), the mailbox accounts and the SMTP server; passwords come from the
environment or files (`password_env`, `password_file`, `smtp_password_env`...). Run
as many workers as you like, on as many machines, against one PostgreSQL: each
mailbox account is polled by one worker at a time and each notification delivered by
one (leases in the database, expiring when a worker dies).

SIGTERM or SIGINT stops it gracefully: the email being processed is committed, what
was committed is removed from the server, the leases are released, then it exits 0.

Exit status: 0 stopped (or --once done), 1 unexpected error, 2 bad settings or
arguments (the file, a secret that cannot be read, no database named, a bad URL, a
missing extra), 3 database unreachable, refusing the connection, or not at the
schema (run `helpdesk-mail migrate`, or pass --migrate).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any

from ..runtime import SystemClock, SystemRandom
from ..settings import Settings, SettingsError, load_settings
from ..shell.worker import IDLE_PER_LOGIN, Worker
from ..transports.idle import IdleWatcher
from ..transports.mailbox import MailTransport
from ..transports.secrets import SecretError, database_url, secret_problems
from ..transports.stack import send_transport
from .demo import describe_url

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_SETTINGS = 2
EXIT_DATABASE = 3

log = logging.getLogger("helpdesk_mail.worker")


class Refusal(Exception):
    """The worker cannot start: `status` is its exit status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker subcommand's arguments."""
    parser.add_argument(
        "--settings", metavar="FILE", required=True, help="settings file (TOML or JSON)"
    )
    parser.add_argument(
        "--db", metavar="URL", help="database URL (default: the settings' database section)"
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="create or update the database's tables first (as `helpdesk-mail migrate`)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="poll every account once and deliver what is due, then exit",
    )
    parser.add_argument(
        "--name", help="this worker's name in the leases (default: host name and process id)"
    )
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=120.0,
        help="how long a dead worker holds its mailbox accounts and events (default 120)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        help="poll every account this often instead of the settings' check intervals"
        " (for tests and benchmarks; the spec asks for 1 to 5 minutes)",
    )
    parser.add_argument(
        "--no-idle",
        action="store_true",
        help="do not watch IMAP accounts with IDLE: poll every account at its interval"
        " (default: accounts whose server offers IDLE are watched, new mail fetched at once)",
    )
    parser.add_argument(
        "--idle-per-login",
        type=int,
        default=IDLE_PER_LOGIN,
        metavar="N",
        help="watch at most N accounts of one login (host, port, user) with IDLE, the others"
        f" are polled: servers limit the connections of one user (default {IDLE_PER_LOGIN})",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=5.0,
        help="how often an idle worker looks at the outbox (default 5)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default INFO; logs go to stderr)",
    )


def run(args: argparse.Namespace) -> int:
    """Start the worker; returns the exit status (see the module)."""
    _logging(args.log_level)
    try:
        with _built(args) as worker:
            if args.once:
                report, delivered = worker.drain()
                log.info(
                    "worker %s: one round done: %d processed, %d events delivered",
                    worker.name,
                    report.processed,
                    delivered,
                )
                return EXIT_OK
            _on_signals(worker)
            status = worker.run()
            log.info("worker %s: stopped%s", worker.name, "" if status == 0 else " after an error")
            return status
    except Refusal as refusal:
        print(f"helpdesk-mail worker: {refusal}", file=sys.stderr)
        return refusal.status


def check_settings(path: str, db: str | None) -> tuple[Settings, str]:
    """The settings from `path` and the database URL, or `Refusal(2)` saying what is wrong."""
    try:
        settings = load_settings(path)
    except OSError as exc:
        raise Refusal(EXIT_SETTINGS, f"cannot read the settings {path}: {exc.strerror}") from None
    except SettingsError as exc:
        raise Refusal(EXIT_SETTINGS, f"bad settings in {path}: {exc}") from None
    problems = secret_problems(settings)
    if problems:
        raise Refusal(EXIT_SETTINGS, "; ".join(problems))
    try:
        url = database_url(settings, db)
    except SecretError as exc:  # pragma: no cover - secret_problems reported it
        raise Refusal(EXIT_SETTINGS, str(exc)) from None
    if not url:
        raise Refusal(
            EXIT_SETTINGS,
            f"no database: give --db URL, or database.url or database.url_env in {path}",
        )
    if not any(a.enabled for a in settings.incoming.accounts):
        log.warning("no mailbox account is enabled in %s: only delivering notifications", path)
    return settings, url


def resolve_url(settings_path: str | None, db: str | None, *, command: str) -> str:
    """The database URL of `--db`, else of the settings' database section (`Refusal(2)`
    when neither names one, or the settings cannot be read)."""
    if db:
        return db
    if not settings_path:
        raise Refusal(EXIT_SETTINGS, f"{command} needs --db URL or --settings FILE")
    try:
        settings = load_settings(settings_path)
        url = database_url(settings)
    except OSError as exc:
        raise Refusal(
            EXIT_SETTINGS, f"cannot read the settings {settings_path}: {exc.strerror}"
        ) from None
    except (SettingsError, SecretError) as exc:
        raise Refusal(EXIT_SETTINGS, f"bad settings in {settings_path}: {exc}") from None
    if not url:
        raise Refusal(EXIT_SETTINGS, f"no database.url or database.url_env in {settings_path}")
    return url


def open_storage(url: str, *, migrate: bool = False, clock: Any = None) -> Any:
    """A checked `SqlStorage` for `url`, or `Refusal` (2: bad URL or missing extra;
    3: unreachable, refused, or not at the schema)."""
    try:
        from ..sql import (
            DatabaseUnavailable,
            DatabaseUrlError,
            SchemaNotCurrent,
            SqlStorage,
            upgrade,
        )
    except ImportError as exc:
        raise Refusal(
            EXIT_SETTINGS,
            f"the SQL storage is not installed: pip install 'helpdesk-mail[postgresql]' "
            f"(or [sql] for SQLite) ({exc})",
        ) from None
    shown = describe_url(url)
    try:
        if migrate:
            upgrade(url)
        storage = SqlStorage(url, clock=clock)
        storage.check()
    except DatabaseUrlError as exc:
        raise Refusal(EXIT_SETTINGS, f"bad database URL {shown}: {exc}") from None
    except ImportError as exc:
        raise Refusal(
            EXIT_SETTINGS,
            f"the database driver for {shown} is not installed ({exc}); for PostgreSQL: "
            "pip install 'helpdesk-mail[postgresql]' (psycopg 3 on the system's libpq)",
        ) from None
    except SchemaNotCurrent as exc:
        raise Refusal(
            EXIT_DATABASE,
            f"database {shown} is not at helpdesk_mail's schema: run "
            f"`helpdesk-mail migrate --db URL` (or pass --migrate) ({exc})",
        ) from None
    except DatabaseUnavailable as exc:
        raise Refusal(EXIT_DATABASE, f"cannot use database {shown}: {_first_line(exc)}") from None
    except Exception as exc:  # what the migrations or the driver raise on a broken database
        raise Refusal(
            EXIT_DATABASE, f"cannot use database {shown}: {type(exc).__name__}: {_first_line(exc)}"
        ) from None
    return storage


@contextmanager
def _built(args: argparse.Namespace) -> Iterator[Worker]:
    settings, url = check_settings(args.settings, args.db)
    try:
        sender = send_transport(settings.outgoing)
    except SettingsError as exc:  # a DKIM key that cannot be used, dkimpy missing
        raise Refusal(EXIT_SETTINGS, f"bad settings in {args.settings}: {exc}") from None
    clock = SystemClock()
    storage = open_storage(url, migrate=args.migrate, clock=clock)
    name = args.name or f"{platform.node() or 'worker'}:{os.getpid()}"
    lease = timedelta(seconds=max(1.0, args.lease_seconds))
    interval = timedelta(seconds=args.poll_seconds) if args.poll_seconds else None
    worker = Worker(
        settings,
        storage,
        MailTransport(),
        sender,
        clock,
        SystemRandom(),
        name=name,
        lease=lease,
        poll_interval=interval,
        idle_seconds=max(0.1, args.idle_seconds),
        watcher=None if args.no_idle else IdleWatcher(),
        idle_per_login=max(0, args.idle_per_login),
    )
    accounts = [a.name for a in settings.incoming.accounts if a.enabled]
    log.info(
        "worker %s: database %s, %d mailbox account(s) (%s), %d to watch with IDLE, SMTP %s:%d",
        name,
        describe_url(url),
        len(accounts),
        ", ".join(accounts) or "none",
        len(worker.watched),
        settings.outgoing.smtp_host,
        settings.outgoing.smtp_port,
    )
    try:
        yield worker
    finally:
        storage.close()


def _on_signals(worker: Worker) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if worker.stop.is_set():
            log.warning("%s again: still finishing the email or event at hand", name)
            return
        log.info("%s: stopping after the email or event at hand", name)
        worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=getattr(logging, level),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    else:
        root.setLevel(getattr(logging, level))
    # Alembic says which dialect it found at every schema check: not worth a line
    logging.getLogger("alembic").setLevel(max(logging.WARNING, getattr(logging, level)))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
