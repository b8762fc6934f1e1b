"""Create or update the database's tables (the Alembic migrations shipped with the
library): run it at every deploy, before starting the workers.

    helpdesk-mail migrate --settings helpdesk.toml
    helpdesk-mail migrate --db postgresql+psycopg://helpdesk@db.acme.test/helpdesk

Safe to run again: it does nothing when the database is current. Exit status: 0
done, 2 bad settings or arguments, 3 database unreachable or failing.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import sys

from .demo import describe_url
from .worker import Refusal, open_storage, resolve_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The migrate subcommand's arguments."""
    parser.add_argument("--settings", metavar="FILE", help="settings file naming the database")
    parser.add_argument("--db", metavar="URL", help="database URL (instead of --settings)")


def run(args: argparse.Namespace) -> int:
    """Upgrade the database to the code's schema; returns the exit status."""
    try:
        url = resolve_url(args.settings, args.db, command="migrate")
        open_storage(url, migrate=True).close()
    except Refusal as refusal:
        print(f"helpdesk-mail migrate: {refusal}", file=sys.stderr)
        return refusal.status
    print(f"database {describe_url(url)} is at helpdesk_mail's schema")
    return 0
