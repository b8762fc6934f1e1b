"""`SqlDomain.apply` follows `helpdesk_mail.actions` as the in-memory reference does: any
sequence of commits (some stale, some on missing tickets, some duplicates) leaves the same
tickets, comments and users in SQLite as in `InMemoryStorage`, and each commit has the same
outcome (or fails the same way, changing nothing)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.actions import (
    Action,
    AddComment,
    AddSubscribers,
    CloseTicket,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    RequireTicket,
    RequireUser,
)
from helpdesk_mail.memory import InMemoryStorage, ManualClock
from helpdesk_mail.model import Attachment, Role, Ticket, TicketStatus
from helpdesk_mail.records import ReceiptKey
from helpdesk_mail.sql import SqlStorage, make_engine, upgrade

PEOPLE = ["jane@example.com", "Bob@Example.com", " tess@acme.test ", "", "<cc@example.com>"]
# Stripped ids only: InMemoryStorage compares an unstripped id with its stripped index, so
# " <c@x> " on a second ticket lands in its `message_ids` too (the SQL storage keeps it the
# first ticket's only, as actions.py says); the inbound side never makes such ids.
MESSAGE_IDS = [None, "", "<a@x>", "<b@x>", "<c@x>"]
TICKETS = st.sampled_from([None, 1, 2, 3])

people = st.sampled_from(PEOPLE)
files = st.lists(
    st.builds(
        Attachment,
        filename=st.sampled_from(["a.txt", "b.png"]),
        content_type=st.just("application/octet-stream"),
        size=st.just(0),
        content=st.binary(max_size=8),
    ),
    max_size=2,
).map(tuple)

actions = st.one_of(
    st.builds(
        RequireTicket,
        ticket_id=st.integers(1, 3),
        status=st.sampled_from(TicketStatus),
        version=st.one_of(st.none(), st.integers(1, 4)),
    ),
    st.builds(RequireUser, email=people, role=st.one_of(st.none(), st.sampled_from(Role))),
    st.builds(
        CreateUser,
        email=people,
        name=st.sampled_from(["Jane", "Bob"]),
        password=st.just(""),
        role=st.sampled_from(Role),
    ),
    st.builds(
        CreateTicket,
        subject=st.sampled_from(["Printer", "VPN"]),
        submitter=people,
        body_text=st.just("text"),
        body_html=st.sampled_from([None, "<p>html</p>"]),
        category=st.sampled_from([None, "Hardware"]),
        subscribers=st.lists(people, max_size=3).map(tuple),
        attachments=files,
        message_id=st.sampled_from(MESSAGE_IDS),
    ),
    st.builds(
        AddComment,
        ticket_id=TICKETS,
        author=people,
        body_text=st.just("reply"),
        body_html=st.none(),
        techs_only=st.booleans(),
        attachments=files,
        message_id=st.sampled_from(MESSAGE_IDS),
    ),
    st.builds(AddSubscribers, ticket_id=TICKETS, emails=st.lists(people, max_size=3).map(tuple)),
    st.builds(RemoveSubscriber, ticket_id=st.integers(1, 3), email=people),
    st.builds(CloseTicket, ticket_id=st.integers(1, 3), by=people),
    st.builds(ReopenTicket, ticket_id=st.integers(1, 3), by=people),
    st.builds(Discard, reason=st.just("bounce")),
)
keys = st.one_of(
    st.none(), st.sampled_from([ReceiptKey("support", f"<k{i}@x>", f"{i:064x}") for i in range(3)])
)
commits = st.lists(st.tuples(st.lists(actions, max_size=4), keys), min_size=1, max_size=8)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file, copied for each example (migrating takes a while)."""
    path = tmp_path_factory.mktemp("sql") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture
def fresh(migrated: Path, tmp_path: Path) -> Iterator[Any]:
    count = 0
    engines: list[Any] = []

    def make() -> SqlStorage:
        nonlocal count
        count += 1
        path = tmp_path / f"example{count}.db"
        shutil.copy(migrated, path)
        engine = make_engine(f"sqlite:///{path}")
        engines.append(engine)
        return SqlStorage(engine, clock=ManualClock(), password_hasher=lambda p: p)

    yield make
    for engine in engines:
        engine.dispose()


def _light(ticket: Ticket | None) -> Any:
    if ticket is None:
        return None
    return dataclasses.replace(
        ticket, attachments=tuple(dataclasses.replace(a, id=None) for a in ticket.attachments)
    )


def _outcome(storage: Any, batch: list[Action], key: ReceiptKey | None) -> Any:
    try:
        return storage.commit(batch, key)
    except Exception as exc:  # the same failure on both sides is what is checked
        return type(exc).__name__


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=commits)
def test_sql_applies_actions_as_the_in_memory_reference(
    fresh: Any, batches: list[tuple[list[Action], ReceiptKey | None]]
) -> None:
    sql = fresh()
    memory = InMemoryStorage(clock=ManualClock())
    for batch, key in batches:
        assert _outcome(sql, batch, key) == _outcome(memory, batch, key), batch
    with sql.transaction() as unit:
        for ticket_id in (1, 2, 3, 4):
            assert _light(unit.domain.ticket(ticket_id)) == _light(memory.ticket(ticket_id))
            mine = [
                dataclasses.replace(c, attachments=tuple(a.filename for a in c.attachments))
                for c in unit.domain.comments(ticket_id)
            ]
            theirs = [
                dataclasses.replace(c, attachments=tuple(a.filename for a in c.attachments))
                for c in memory.comments(ticket_id)
            ]
            assert mine == theirs
            for message_id in MESSAGE_IDS:
                if message_id:
                    assert unit.domain.ticket_for_message_id(
                        message_id
                    ) == memory.ticket_for_message_id(message_id)
        everyone = [p.strip().strip("<>").lower() for p in PEOPLE]
        assert unit.domain.users(everyone) == memory.users(everyone)
        for key in (ReceiptKey("support", f"<k{i}@x>", f"{i:064x}") for i in range(3)):
            assert unit.books.is_processed(key) == memory.is_processed(key)
