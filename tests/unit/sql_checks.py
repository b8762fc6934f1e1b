"""What the SQL storage promises beyond the storage contract, as checks for any database.

`SqlChecks` is run on SQLite (tests/unit/test_sql_storage.py) and on PostgreSQL
(tests/integration/test_sql_postgres.py); a subclass gives `self.url`, an empty database.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from helpdesk_mail.actions import (
    AddComment,
    AddSubscribers,
    CreateTicket,
    CreateUser,
    RequireTicket,
)
from helpdesk_mail.commit import commit
from helpdesk_mail.demo import DEMO_ACCOUNT, demo_settings
from helpdesk_mail.events import TicketCreated
from helpdesk_mail.memory import InMemoryMailbox, InMemoryStorage, ManualClock, Outbox, SeededRandom
from helpdesk_mail.model import Attachment, Role, TicketStatus, User
from helpdesk_mail.records import (
    DeliveryStatus,
    EventStatus,
    MailboxState,
    PoisonRecord,
    ReceiptKey,
    SentRecord,
)
from helpdesk_mail.samples import sample_messages, sample_state
from helpdesk_mail.shell.delivery import Deliverer
from helpdesk_mail.shell.poller import Poller
from helpdesk_mail.sql import (
    BOOKKEEPING_TABLES,
    DOMAIN_TABLES,
    SchemaNotCurrent,
    SqlBookkeeping,
    SqlStorage,
    SqlTransientError,
    check_schema,
    hash_password,
    make_engine,
    metadata,
    upgrade,
)
from helpdesk_mail.sql.migrate import VERSION_TABLE, head_revisions, include_name

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JANE = "jane@example.com"


def fast_hash(password: str) -> str:
    """A cheap stand-in for scrypt where a test makes many users."""
    return f"test${password}" if password else ""


def ticket_action(message_id: str | None = "<m1@example.com>", **changes: Any) -> CreateTicket:
    action = CreateTicket(
        subject="Printer on fire",
        submitter=JANE,
        body_text="It is burning.",
        body_html=None,
        category="Hardware",
        subscribers=(JANE,),
        attachments=(Attachment("photo.jpg", "image/jpeg", 3, b"jpg"),),
        message_id=message_id,
    )
    return dataclasses.replace(action, **changes)


def comment_action(ticket_id: int | None, **changes: Any) -> AddComment:
    action = AddComment(
        ticket_id=ticket_id,
        author=JANE,
        body_text="Still burning.",
        body_html=None,
        techs_only=False,
        attachments=(),
        message_id=None,
    )
    return dataclasses.replace(action, **changes)


def compare(connection: sa.Connection, tables: frozenset[str] | None = None) -> list[Any]:
    """alembic's differences between the database and the code's metadata (of `tables`)."""

    def wanted(item: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        return tables is None or type_ != "table" or name in tables

    context = MigrationContext.configure(
        connection,
        opts={
            "include_name": include_name,
            "include_object": wanted,
            "compare_type": True,
            "compare_server_default": True,
            "version_table": VERSION_TABLE,
        },
    )
    return list(compare_metadata(context, metadata))


class Queries:
    """Counts the statements an engine runs (`with counter: ...`)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.on = False
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.on:
            self.statements.append(statement)

    def __enter__(self) -> Queries:
        self.statements.clear()
        self.on = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.on = False

    @property
    def count(self) -> int:
        return len(self.statements)


class SqlChecks:
    """The SQL storage's own promises; subclasses set `self.url` to an empty database."""

    url: str
    engines: list[sa.Engine]

    @pytest.fixture(autouse=True)
    def _dispose(self) -> Iterator[None]:
        self.engines = []
        yield
        for engine in self.engines:
            engine.dispose()

    def engine(self, **kwargs: Any) -> sa.Engine:
        engine = make_engine(self.url, **kwargs)
        self.engines.append(engine)
        return engine

    def storage(self, **kwargs: Any) -> SqlStorage:
        engine = self.engine()
        upgrade(engine)
        kwargs.setdefault("password_hasher", fast_hash)
        return SqlStorage(engine, **kwargs)

    # --- migrations ---

    def test_migrations_make_exactly_the_code_s_tables(self) -> None:
        engine = self.engine()
        upgrade(engine)
        with engine.connect() as connection:
            assert compare(connection) == []
            names = set(sa.inspect(connection).get_table_names())
            check_schema(connection)
        assert names == BOOKKEEPING_TABLES | DOMAIN_TABLES | {VERSION_TABLE}

    def test_a_host_can_take_the_bookkeeping_tables_only(self) -> None:
        engine = self.engine()
        upgrade(engine, domain=False)
        with engine.connect() as connection:
            assert compare(connection, BOOKKEEPING_TABLES) == []
            names = set(sa.inspect(connection).get_table_names())
            check_schema(connection, domain=False)
            with pytest.raises(SchemaNotCurrent):
                check_schema(connection)
        assert names == BOOKKEEPING_TABLES | {VERSION_TABLE}
        with pytest.raises(SchemaNotCurrent, match=r"upgrade\(engine_or_url\)"):
            SqlStorage(engine)
        upgrade(engine)  # the domain branch later: now complete
        SqlStorage(engine)

    def test_an_empty_database_is_refused_and_left_alone(self) -> None:
        engine = self.engine()
        with pytest.raises(SchemaNotCurrent, match=r"helpdesk_mail\.sql\.upgrade"):
            SqlStorage(engine)
        with engine.connect() as connection:
            assert sa.inspect(connection).get_table_names() == []
        storage = SqlStorage(engine, migrate=True)
        with storage.transaction() as unit:
            assert unit.domain.ticket(1) is None

    def test_upgrade_leaves_a_host_s_own_tables_and_alembic_history_alone(self) -> None:
        engine = self.engine()
        host = sa.MetaData()
        tickets = sa.Table("tickets", host, sa.Column("id", sa.Integer, primary_key=True))
        history = sa.Table(
            "alembic_version", host, sa.Column("version_num", sa.String(32), primary_key=True)
        )
        host.create_all(engine)
        with engine.begin() as connection:
            connection.execute(sa.insert(tickets).values(id=7))
            connection.execute(sa.insert(history).values(version_num="host_rev_42"))
        upgrade(engine)
        upgrade(engine)  # current: nothing to do
        with engine.connect() as connection:
            assert connection.execute(sa.select(history.c.version_num)).scalars().all() == [
                "host_rev_42"
            ]
            assert connection.execute(sa.select(tickets.c.id)).scalars().all() == [7]
            current = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
            assert set(current.scalars()) == head_revisions()
            assert compare(connection) == []

    # --- the bookkeeping in a host's own transaction ---

    def _host(self) -> tuple[sa.Engine, sa.Table]:
        engine = self.engine()
        upgrade(engine, domain=False)
        host = sa.MetaData()
        table = sa.Table(
            "host_tickets",
            host,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("subject", sa.Text, nullable=False),
        )
        host.create_all(engine)
        return engine, table

    @staticmethod
    def _write_everything(books: SqlBookkeeping) -> None:
        key = ReceiptKey("support", "<m1@example.com>", "ab" * 32)
        assert books.record_receipt(key, T0)
        assert books.add_events([TicketCreated(1, JANE)], T0)
        books.suppress(JANE, T0 + timedelta(days=1), "bounce")
        books.record_notification(["ticket:1", f"to:{JANE}"], T0)
        books.record_poison(PoisonRecord(key, "support", "1", b"raw", "boom", T0))
        books.save_mailbox_state("support", MailboxState(consecutive_failures=1))
        assert books.lease_mailbox("support", "w1", T0, T0 + timedelta(minutes=5))
        books.record_sent(
            SentRecord("1/new_ticket/" + JANE, 1, "new_ticket", (JANE,), DeliveryStatus.SENT, T0)
        )

    def _count_rows(self, engine: sa.Engine) -> dict[str, int]:
        with engine.connect() as connection:
            return {
                name: connection.execute(
                    sa.select(sa.func.count()).select_from(sa.table(name))
                ).scalar_one()
                for name in sorted(BOOKKEEPING_TABLES | {"host_tickets"})
            }

    def test_bookkeeping_in_a_host_transaction_that_rolls_back_leaves_nothing(self) -> None:
        engine, host_tickets = self._host()
        with engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(sa.insert(host_tickets).values(id=1, subject="Printer"))
            self._write_everything(SqlBookkeeping(connection))
            transaction.rollback()
        assert set(self._count_rows(engine).values()) == {0}
        # the same through an ORM session's connection
        with Session(engine) as session:
            session.execute(sa.insert(host_tickets).values(id=1, subject="Printer"))
            self._write_everything(SqlBookkeeping(session.connection()))
            session.rollback()
        assert set(self._count_rows(engine).values()) == {0}
        # and when the host commits, everything is there
        with Session(engine) as session:
            session.execute(sa.insert(host_tickets).values(id=1, subject="Printer"))
            self._write_everything(SqlBookkeeping(session.connection()))
            session.commit()
        assert set(self._count_rows(engine).values()) == {1, 2}

    # --- reads: a fixed number of queries whatever the size ---

    def test_reads_take_a_fixed_number_of_queries(self) -> None:
        storage = self.storage()
        queries = Queries(storage.engine)
        files = (
            Attachment("a.txt", "text/plain", 1, b"a"),
            Attachment("b.txt", "text/plain", 1, b"b"),
        )
        people = tuple(f"p{i}@example.com" for i in range(30))
        outcome = storage.commit(
            [
                *(CreateUser(p, f"P{i}", "") for i, p in enumerate(people)),
                ticket_action(subscribers=people, attachments=files),
                *(
                    comment_action(None, message_id=f"<r{i}@example.com>", attachments=files)
                    for i in range(20)
                ),
            ],
            at=T0,
        )
        ticket_id = outcome.ticket_id
        assert ticket_id is not None
        with storage.transaction() as unit:
            with queries:
                ticket = unit.domain.ticket(ticket_id)
            assert queries.count == 2, queries.statements
            assert ticket is not None and len(ticket.message_ids) == 21
            assert ticket.subscribers == people and len(ticket.attachments) == 2
            assert all(a.content == b"" and a.size == 1 for a in ticket.attachments)
            with queries:
                comments = unit.domain.comments(ticket_id)
            assert queries.count == 2, queries.statements
            assert len(comments) == 20 and all(len(c.attachments) == 2 for c in comments)
            with queries:
                found = unit.domain.users([*people, "nobody@example.com"])
            assert queries.count == 1, queries.statements
            assert set(found) == set(people)
            with queries:
                assert unit.domain.attachment_content(comments[-1].attachments[1]) == b"b"
            assert queries.count == 1

    # --- text PostgreSQL would refuse ---

    def test_nul_and_lone_surrogates_are_stored_as_replacement_characters(self) -> None:
        storage = self.storage()
        key = ReceiptKey("support", "<nul\x00@example.com>", "cd" * 32)
        outcome = storage.commit(
            [
                CreateUser("nul@example.com", "Nul\x00Name", "pw"),
                ticket_action(
                    "<nul\x00@example.com>",
                    subject="Printer\x00on fire \ud800",
                    body_text="a\x00b",
                    attachments=(Attachment("a\x00.txt", "text/plain", 3, b"\x00\x00\x00"),),
                ),
            ],
            key,
            [TicketCreated(None, "nul\x00@example.com")],
            at=T0,
        )
        assert outcome.ticket_id is not None
        with storage.transaction() as unit:
            ticket = unit.domain.ticket(outcome.ticket_id)
            assert ticket is not None
            assert ticket.subject == "Printer\ufffdon fire \ufffd"
            assert ticket.body_text == "a\ufffdb"
            assert ticket.message_ids == ("<nul\ufffd@example.com>",)
            assert unit.domain.ticket_for_message_id("<nul\x00@example.com>") == ticket.id
            [photo] = ticket.attachments
            assert photo.filename == "a\ufffd.txt"
            assert unit.domain.attachment_content(photo) == b"\x00\x00\x00"  # bytes stay bytes
            user = unit.domain.user("nul@example.com")
            assert user is not None and user.name == "Nul\ufffdName"
            assert unit.books.is_processed(key)
            [entry] = unit.books.outbox()
            # the event is JSON text: the codec escapes U+0000, so it comes back whole
            assert entry.event == TicketCreated(ticket.id, "nul\x00@example.com")

    # --- transient failures ---

    def test_a_locked_database_or_a_lock_timeout_is_transient(self) -> None:
        storage = self.storage()
        ticket_id = storage.commit([ticket_action()], at=T0).ticket_id
        assert ticket_id is not None
        impatient = self.impatient_storage()
        holding = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with storage.transaction() as unit:
                commit(unit, [RequireTicket(ticket_id, TicketStatus.OPEN)], at=T0)
                holding.set()
                release.wait(30)

        worker = threading.Thread(target=hold)
        worker.start()
        try:
            assert holding.wait(30)
            with pytest.raises(SqlTransientError) as caught, impatient.transaction() as unit:
                commit(unit, [comment_action(ticket_id)], at=T0)
            assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
        finally:
            release.set()
            worker.join(30)
        assert impatient.commit([comment_action(ticket_id)], at=T0).comment_id is not None

    def impatient_storage(self) -> SqlStorage:
        """A second handle that gives up on a lock at once (override per database)."""
        raise NotImplementedError

    def hold_write_lock(self, connection: sa.Connection) -> None:
        """Make `connection`'s open transaction block the storage's writes (override)."""
        raise NotImplementedError

    def test_the_poller_leaves_mail_on_the_server_while_the_database_is_locked(self) -> None:
        storage = self.storage()
        impatient = self.impatient_storage()
        mailbox = InMemoryMailbox()
        raw = dict(sample_messages())["01-new-ticket.eml"]
        mailbox.deliver(raw, account=DEMO_ACCOUNT.name)
        settings, clock = demo_settings(), ManualClock()
        poller = Poller(settings, impatient, mailbox, clock, SeededRandom(0))
        with storage.engine.connect() as blocker:
            blocker.begin()
            self.hold_write_lock(blocker)
            [report] = poller.run_once(force=True).accounts
            blocker.rollback()
        assert report.processed == 0 and report.failed == 0 and report.errors == 1
        assert len(mailbox.messages(DEMO_ACCOUNT.name)) == 1  # still on the server
        with storage.transaction() as unit:
            assert unit.books.poison_records() == ()  # not set aside as poison
        clock.advance(hours=2)  # past the retry backoff
        [report] = poller.run_once(force=True).accounts
        assert (report.processed, report.removed) == (1, 1)
        assert mailbox.messages(DEMO_ACCOUNT.name) == []

    # --- concurrency ---

    def test_concurrent_claims_take_each_event_once(self) -> None:
        storage = self.storage()
        storage.commit([], events=[TicketCreated(i, JANE) for i in range(1, 41)], at=T0)
        handles = [storage, *(SqlStorage(self.engine()) for _ in range(3))]
        claimed: list[int] = []
        lock = threading.Lock()
        barrier = threading.Barrier(len(handles))

        def worker(handle: SqlStorage, name: str) -> None:
            barrier.wait()
            while True:
                with handle.transaction() as unit:
                    got = unit.books.claim_events(name, T0, T0 + timedelta(minutes=5), 3)
                if not got:
                    return
                with lock:
                    claimed.extend(e.id for e in got)

        threads = [
            threading.Thread(target=worker, args=(h, f"w{i}")) for i, h in enumerate(handles)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(claimed) == list(range(1, 41))

    def test_two_processes_reading_then_writing_commit_each_email_once(self) -> None:
        # as the poller does: read (is_processed, threading), then write, in one
        # transaction; deferred SQLite transactions would fail here with "locked"
        self.storage()
        script = textwrap.dedent(
            """
            import sys
            from datetime import UTC, datetime
            from helpdesk_mail.actions import CreateTicket
            from helpdesk_mail.commit import commit
            from helpdesk_mail.records import ReceiptKey
            from helpdesk_mail.sql import SqlStorage

            storage, made = SqlStorage(sys.argv[1]), 0
            for n in range(40):
                key, mid = ReceiptKey("support", f"<p{n}@x>", f"{n:064x}"), f"<p{n}@x>"
                with storage.transaction() as unit:
                    if unit.books.is_processed(key) or unit.domain.ticket_for_message_id(mid):
                        continue
                    ticket = CreateTicket("s", "a@x", "b", None, None, ("a@x",), (), mid)
                    outcome = commit(unit, [ticket], key=key, at=datetime.now(UTC))
                    made += not outcome.duplicate
            print(made)
            """
        )
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", script, self.url], stdout=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        made = [int(w.communicate(timeout=120)[0]) for w in workers]
        assert [w.returncode for w in workers] == [0, 0]
        assert sum(made) == 40
        with SqlStorage(self.engine()).transaction() as unit:
            count = unit.connection.execute(sa.text("SELECT count(*) FROM hdm_tickets"))
            assert count.scalar_one() == 40

    def test_concurrent_leases_of_one_mailbox_give_it_to_one_worker(self) -> None:
        storage = self.storage()
        handles = [storage, *(SqlStorage(self.engine()) for _ in range(3))]
        barrier = threading.Barrier(len(handles))
        won: list[str] = []

        def worker(handle: SqlStorage, name: str) -> None:
            barrier.wait()
            with handle.transaction() as unit:
                if unit.books.lease_mailbox("support", name, T0, T0 + timedelta(minutes=5)):
                    won.append(name)

        threads = [
            threading.Thread(target=worker, args=(h, f"w{i}")) for i, h in enumerate(handles)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(won) == 1

    # --- pruning ---

    def test_prune_removes_old_counts_and_expired_suppressions(self) -> None:
        storage = self.storage()
        with storage.transaction() as unit:
            unit.books.record_notification(["ticket:1", "to:a@example.com"], T0)
            unit.books.record_notification(["ticket:1"], T0 + timedelta(hours=2))
            unit.books.suppress("old@example.com", T0, "bounce")
            unit.books.suppress("new@example.com", T0 + timedelta(days=3), "bounce")
        assert storage.prune(T0 + timedelta(hours=1)) == 2
        with storage.transaction() as unit:
            assert unit.books.notifications_since("ticket:1", T0) == 1
            assert unit.books.notifications_since("to:a@example.com", T0) == 0
            assert unit.books.is_suppressed("new@example.com", T0 + timedelta(days=1))
            rows = unit.connection.execute(sa.text("SELECT email FROM hdm_suppressions"))
            assert rows.scalars().all() == ["new@example.com"]

    # --- the domain's own rules ---

    def test_versions_go_up_on_every_change_and_only_then(self) -> None:
        storage = self.storage()
        ticket_id = storage.commit([ticket_action()], at=T0).ticket_id
        assert ticket_id is not None

        def version() -> int | None:
            with storage.transaction() as unit:
                ticket = unit.domain.ticket(ticket_id)
            assert ticket is not None
            return ticket.version

        assert version() == 1
        storage.commit([AddSubscribers(ticket_id, (JANE,))], at=T0)  # nothing new
        assert version() == 1
        storage.commit([AddSubscribers(ticket_id, ("bob@example.com",))], at=T0)
        assert version() == 2
        storage.commit([comment_action(ticket_id)], at=T0)
        assert version() == 3

    def test_load_state_and_setup_match_the_in_memory_storage(self) -> None:
        storage = self.storage(password_hasher=hash_password)
        memory = InMemoryStorage()
        for target in (storage, memory):
            target.load_state(sample_state())
            target.add_kb_article(
                dataclasses.replace(
                    _article(), body="Printers catch fire when the fuser overheats."
                )
            )
            target.add_user(User("tina@acme.test", "Tina", Role.TECHNICIAN), "secret")
        with storage.transaction() as unit:
            for ticket_id in (1, 2, 3):
                assert unit.domain.ticket(ticket_id) == memory.ticket(ticket_id)
            emails = [u["email"] for u in sample_state()["users"]]
            assert unit.domain.users(emails) == memory.users(emails)
            assert sorted(u.email for u in unit.domain.staff()) == sorted(
                u.email for u in memory.staff()
            )
            for text in ("my printer is on fire", "the FUSER", "nothing here", "fi"):
                assert unit.domain.search_kb(text, 3) == memory.search_kb(text, 3)
            assert unit.domain.check_password("tina@acme.test", "secret")
            assert not unit.domain.check_password("tina@acme.test", "other")
        # new tickets continue after the loaded ones
        assert storage.commit([ticket_action(None)], at=T0).ticket_id == 3

    def test_kb_search_of_any_number_of_words_matches_the_in_memory_one(self) -> None:
        from helpdesk_mail.model import KBArticle

        storage = self.storage()
        memory = InMemoryStorage()
        articles = [
            KBArticle(1, "Printer on fire", None, "", "The fuser overheats."),
            KBArticle(2, "snake_case names", None, "", "50% off /path/to/file"),
            KBArticle(3, "Word soup", None, "", " ".join(f"word{i:02d}" for i in range(40))),
            KBArticle(4, "Underscores", None, "", "a name like snakeXcase is no match"),
        ]
        for target in (storage, memory):
            for article in articles:
                target.add_kb_article(article)
        texts = [
            "printer",
            "printer fuser",
            "snake_case",  # `_` and `%` are no wildcards
            "100% /path/to/file",
            "fire " + " ".join(f"word{i:02d}" for i in range(3)),
            " ".join(f"word{i:02d}" for i in range(5)),
            " ".join(f"word{i:02d}" for i in range(40)),  # more words than the SQL probes
            "none of these",
        ]
        with storage.transaction() as unit:
            for text in texts:
                for limit in (1, 3):
                    found = unit.domain.search_kb(text, limit)
                    assert found == memory.search_kb(text, limit), (text, limit)
            assert [a.id for a in unit.domain.search_kb("snake_case", 3)] == [2]

    # --- the whole loop: the demo's mail through the poller and the deliverer ---

    def test_the_demo_mail_gives_the_same_tickets_and_emails_as_in_memory(self) -> None:
        sql = self.storage(clock=ManualClock())
        memory = InMemoryStorage(clock=ManualClock())

        def run(storage: Any) -> tuple[list[str], list[str], Outbox]:
            storage.load_state(sample_state())
            mailbox = InMemoryMailbox(batch_size=DEMO_ACCOUNT.batch_size)
            for _name, raw in sample_messages():
                mailbox.deliver(raw, account=DEMO_ACCOUNT.name)
            settings, clock, random = demo_settings(), ManualClock(), SeededRandom(0)
            outbox = Outbox()
            poller = Poller(settings, storage, mailbox, clock, random)
            report = poller.run_once(force=True)
            Deliverer(settings, storage, outbox, clock, random).run_once()
            statuses = [
                f"{a.account}:{a.processed}/{a.duplicates}/{a.failed}" for a in report.accounts
            ]
            with storage.transaction() as unit:
                tickets = []
                for ticket_id in range(1, 20):
                    ticket = unit.domain.ticket(ticket_id)
                    if ticket is None:
                        continue
                    comments = unit.domain.comments(ticket_id)
                    tickets.append(
                        repr(
                            (
                                dataclasses.replace(ticket, attachments=(), created_at=None),
                                [(c.author, c.body_text, c.techs_only) for c in comments],
                                [(a.filename, a.size) for a in ticket.attachments],
                            )
                        )
                    )
                ledger = [(r.key, r.status, r.recipients) for r in unit.books.sent_records()]
                pending = unit.books.outbox(EventStatus.PENDING)
            assert pending == ()
            return [*statuses, *map(repr, ledger)], tickets, outbox

        sql_lines, sql_tickets, sql_outbox = run(sql)
        memory_lines, memory_tickets, memory_outbox = run(memory)
        assert sql_lines == memory_lines
        assert sql_tickets == memory_tickets
        assert len(sql_outbox) == len(memory_outbox) > 0
        assert _texts(sql_outbox) == _texts(memory_outbox)


def _article() -> Any:
    from helpdesk_mail.model import KBArticle

    return KBArticle(id=5, title="Printer on fire?", category="Hardware", url="https://kb/5")


def _texts(outbox: Outbox) -> list[str]:
    """The sent messages as text, MIME boundaries (random) made equal."""
    return [re.sub(r"=+\d+==", "=BOUNDARY=", m.as_string()) for m in outbox.messages]
