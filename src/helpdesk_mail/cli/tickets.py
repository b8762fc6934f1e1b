"""List what a database holds: its tickets with their comments, the event outbox and the
sent ledger (what became of each notification email).

    helpdesk-mail tickets                         # the demo's database
    helpdesk-mail tickets --db sqlite:///demo.db
    helpdesk-mail tickets --settings helpdesk.toml --last 5

Meant for a first look (the demo's file, a test database): it reads the whole outbox
and ledger and shows the last --last entries of each (default 20). Exit status: 0,
2 bad arguments or settings, 3 database unreachable or not at the schema.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..demo import describe_event
from ..model import Comment, Ticket
from ..records import OutboxEntry, SentRecord
from .demo import DEFAULT_DB, describe_url
from .worker import Refusal, open_storage, resolve_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tickets subcommand's arguments."""
    parser.add_argument(
        "--db", metavar="URL", help=f"database URL (default: the demo's, {DEFAULT_DB})"
    )
    parser.add_argument("--settings", metavar="FILE", help="settings file naming the database")
    parser.add_argument(
        "--last", type=int, default=20, metavar="N", help="show the last N of each (default 20)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the listing; returns the exit status."""
    try:
        if args.db or args.settings:
            url = resolve_url(args.settings, args.db, command="tickets")
        else:
            url = DEFAULT_DB
        storage = open_storage(url)
    except Refusal as refusal:
        print(f"helpdesk-mail tickets: {refusal}", file=sys.stderr)
        return refusal.status
    try:
        print(listing(storage, describe_url(url), max(0, args.last)))
    finally:
        storage.close()
    return 0


def listing(storage: Any, where: str, last: int = 20) -> str:
    """The readable listing of a `SqlStorage` (or an `InMemoryStorage`)."""
    with storage.transaction() as unit:
        domain, books = unit.domain, unit.books
        every_id = domain.ticket_ids()
        tickets = [t for t in (domain.ticket(i) for i in every_id[-last:] if last) if t]
        comments = {t.id: domain.comments(t.id) for t in tickets}
        entries = list(books.outbox())
        sent = list(books.sent_records())
    by_status: dict[str, int] = {}
    for entry in entries:
        by_status[entry.status.value] = by_status.get(entry.status.value, 0) + 1
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    out = [
        f"Database {where}: {len(every_id)} tickets, {len(entries)} events in the outbox"
        f"{f' ({statuses})' if statuses else ''}, {len(sent)} lines in the sent ledger.",
        "",
        _heading("Tickets", len(tickets), len(every_id)),
    ]
    for ticket in tickets:
        out.extend(_ticket(ticket, comments[ticket.id]))
    if not tickets:
        out.append("  (none)")
    out += [
        "",
        _heading("Outbox: the events commits recorded", min(last, len(entries)), len(entries)),
    ]
    out.extend(_entry(e) for e in entries[-last:] if last)
    if not entries:
        out.append("  (none)")
    shown = min(last, len(sent))
    out += ["", _heading("Sent ledger: each notification email", shown, len(sent))]
    out.extend(_sent(r) for r in sent[-last:] if last)
    if not sent:
        out.append("  (none)")
    return "\n".join(out)


def _heading(title: str, shown: int, total: int) -> str:
    return f"{title} (the last {shown} of {total}):" if shown < total else f"{title}:"


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at is not None else "-"


def _quote(text: str, limit: int = 70) -> str:
    flat = " ".join(text.split())
    return f'"{flat[: limit - 1]}…"' if len(flat) > limit else f'"{flat}"'


def _ticket(ticket: Ticket, comments: Sequence[Comment]) -> list[str]:
    lines = [
        f"  #{ticket.id} {ticket.status.value} {_quote(ticket.subject, 60)}",
        f"      from {ticket.submitter}, category {ticket.category or '-'},"
        f" opened {_when(ticket.created_at)}",
        f"      subscribers: {', '.join(ticket.subscribers) or '-'}",
    ]
    if ticket.body_text.strip():
        lines.append(f"      text: {_quote(ticket.body_text)}")
    for comment in comments:
        who = comment.author + (" (techs only)" if comment.techs_only else "")
        lines.append(f"      {_when(comment.created_at)} {who}: {_quote(comment.body_text, 60)}")
    return lines


def _entry(entry: OutboxEntry) -> str:
    attempts = f"{entry.attempts} attempt{'s' if entry.attempts != 1 else ''}"
    extra = ""
    if entry.next_attempt_at is not None:
        extra += f", next try {_when(entry.next_attempt_at)}"
    if entry.lease_owner:
        extra += f", leased to {entry.lease_owner} until {_when(entry.lease_until)}"
    if entry.last_error:
        extra += f", last error: {entry.last_error[:80]}"
    event = describe_event(entry.event)
    return f"  event {entry.id:<4} {entry.status.value:<8} {event} ({attempts}{extra})"


def _sent(record: SentRecord) -> str:
    what = record.template or "-"
    to = ", ".join(record.recipients)
    line = f"  event {record.event_id:<4} {record.status.value:<8} {what} -> {to}"
    if record.error:
        line += f" ({record.error[:80]})"
    elif record.message_id:
        line += f" {record.message_id}"
    return line
