"""Speed of the SQL storage on SQLite (a temporary file) and, when `HELPDESK_TEST_PG_URL`
names a server (tests/services/pgserver.sh), on PostgreSQL in a temporary database.

- commits/s: one email's commit (receipt, a new ticket with a subscriber and a file,
  a comment, two events), each in its own transaction, as the poller makes them;
- reads/s of `ticket()` and of `comments()` on a ticket with 50 comments, and the
  number of queries each takes;
- events/s through the outbox: claim 20, mark each done, in two transactions per batch.

Run from the repository root with no arguments; the last line is JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from helpdesk_mail.actions import AddComment, CreateTicket
from helpdesk_mail.events import TicketCreated, TicketUpdated
from helpdesk_mail.model import Attachment
from helpdesk_mail.records import EventStatus, ReceiptKey
from helpdesk_mail.sql import SqlStorage, make_engine, upgrade

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COMMITS = 300
READS = 300


def _ticket(n: int) -> CreateTicket:
    return CreateTicket(
        subject=f"Request {n}",
        submitter=f"c{n}@example.com",
        body_text="Hello " * 200,
        body_html=None,
        category="General",
        subscribers=(f"c{n}@example.com", "cc@example.com"),
        attachments=(Attachment("log.txt", "text/plain", 0, b"x" * 20_000),),
        message_id=f"<m{n}@example.com>",
    )


def _comment(ticket_id: int | None, n: int) -> AddComment:
    return AddComment(ticket_id, "cc@example.com", "Reply " * 100, None, False, (), f"<r{n}@x>")


def _rate(count: int, run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return round(count / (time.perf_counter() - start), 1)


def measure(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    storage = SqlStorage(engine, password_hasher=lambda p: p)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def commits() -> None:
        for n in range(COMMITS):
            key = ReceiptKey("support", f"<m{n}@example.com>", f"{n:064x}")
            events = [TicketCreated(None, f"c{n}@example.com"), TicketUpdated(None, "x@y")]
            storage.commit([_ticket(n), _comment(None, n)], key, events, at=T0)

    result: dict[str, Any] = {"commits_per_s": _rate(COMMITS, commits)}
    big = storage.commit([_ticket(10_000)], at=T0).ticket_id
    assert big is not None
    for n in range(50):
        storage.commit([_comment(big, 10_000 + n)], at=T0)
    with storage.transaction() as unit:
        for name, read in (
            ("ticket", lambda: unit.domain.ticket(big)),
            ("comments", lambda: unit.domain.comments(big)),
        ):
            statements.clear()
            read()
            result[f"{name}_queries"] = len(statements)
            result[f"{name}_reads_per_s"] = _rate(READS, lambda r=read: [r() for _ in range(READS)])

    def deliver() -> None:
        while True:
            with storage.transaction() as unit:
                batch = unit.books.claim_events("bench", T0, T0 + timedelta(minutes=5), 20)
            if not batch:
                return
            with storage.transaction() as unit:
                for entry in batch:
                    unit.books.update_event(dataclasses.replace(entry, status=EventStatus.DONE))

    result["events_per_s"] = _rate(2 * COMMITS, deliver)
    engine.dispose()
    return result


def _postgres(url: str) -> dict[str, Any]:
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"helpdesk_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        target = sa.make_url(url).set(database=name).render_as_string(hide_password=False)
        return measure(target)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'bench.db'}")
    print("sqlite", results["sqlite"], file=sys.stderr)
    pg_url = os.environ.get("HELPDESK_TEST_PG_URL")
    if pg_url:
        results["postgresql"] = _postgres(pg_url)
        print("postgresql", results["postgresql"], file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
