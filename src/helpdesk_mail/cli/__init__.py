"""The `helpdesk-mail` command (also `python -m helpdesk_mail`).

Each subcommand lives in its own module with `add_arguments(parser)` and
`run(args) -> int`; the table below names them, and they are imported only
when used, so `helpdesk-mail --help` stays fast.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from .. import __version__


class _Subcommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# name -> (module, one-line help). Modules are relative to this package.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "inspect": (".inspect", "show what incoming emails would become (JSON lines)"),
    "render": (".render", "preview an email template with sample data (html, text, eml)"),
    "demo": (".demo", "poll the built-in sample mail into a SQLite file and show what it became"),
    "tickets": (".tickets", "list the tickets, the event outbox and the sent ledger of a database"),
    "worker": (".worker", "poll the mailboxes and deliver notifications until SIGTERM"),
    "migrate": (".migrate", "create or update the database's tables"),
    "spf": (".spf", "check SPF: the From domain against the SMTP server(s), or one sender"),
    "dns": (".dns", "check deliverability: SPF, DKIM, DMARC and alignment, records to publish"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand's arguments."""
    parser = argparse.ArgumentParser(
        prog="helpdesk-mail",
        description="The email side of a helpdesk: mail to tickets, and ticket events to mail.",
    )
    parser.add_argument("--version", action="version", version=f"helpdesk-mail {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = cast(_Subcommand, importlib.import_module(module_name, __package__))
        sub_parser = sub.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            # the module docs' examples and paragraphs keep their own lines
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
