"""Show what incoming emails would become, one JSON object per file, one per line.

    helpdesk-mail inspect message.eml
    helpdesk-mail inspect --settings helpdesk.toml --state state.json mail/*.eml
    helpdesk-mail inspect --indent 2

Each file is processed against the same starting state (the defaults and an empty
helpdesk, or --settings and --state), so what one file would change does not
carry over to the next. With no PATH, the built-in sample mail is inspected in
the sample helpdesk (its users and tickets), unless --state is given.
Keys: path, verdict, reason, from, subject, commands, ticket_id, body_text,
attachments, subscribers (the inspect contract of docs/cli.md), and detail,
no_auto_response, bounced_recipients, message_id.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..inbound.process import process_email
from ..memory import InMemoryStorage, SeededRandom
from ..runtime import SystemClock
from ..settings import Settings, SettingsError, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The inspect subcommand's arguments."""
    parser.add_argument("paths", nargs="*", metavar="PATH", help="raw email files (.eml)")
    parser.add_argument("--settings", metavar="FILE", help="settings as JSON or TOML")
    parser.add_argument("--state", metavar="FILE", help="users and tickets as JSON (docs/cli.md)")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")


def run(args: argparse.Namespace) -> int:
    """Inspect each file; exit status 0, or 2 for unusable settings, state or paths."""
    try:
        settings = load_settings(args.settings) if args.settings else Settings()
        if args.state:
            state = json.loads(Path(args.state).read_text(encoding="utf-8"))
        elif not args.paths:
            from ..samples import sample_state

            state = sample_state()
        else:
            state = {}
        storage = InMemoryStorage()
        storage.load_state(state)
    except SettingsError as exc:
        print(f"helpdesk-mail inspect: bad settings: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"helpdesk-mail inspect: cannot load: {exc}", file=sys.stderr)
        return 2
    inputs = _inputs(args.paths)
    if inputs is None:
        return 2
    clock = SystemClock()
    status = 0
    for label, raw in inputs:
        if raw is None:
            print(f"helpdesk-mail inspect: cannot read {label}", file=sys.stderr)
            status = 2
            continue
        result = process_email(raw, settings, storage, clock, random=SeededRandom(0))
        record = {"path": label, **result.to_json()}
        print(json.dumps(record, ensure_ascii=False, indent=args.indent))
    return status


def _inputs(paths: list[str]) -> list[tuple[str, bytes | None]] | None:
    if not paths:
        from ..samples import sample_messages

        return [(name, raw) for name, raw in sample_messages()]
    found: list[tuple[str, bytes | None]] = []
    for path in paths:
        try:
            found.append((path, Path(path).read_bytes()))
        except OSError:
            found.append((path, None))
    return found
