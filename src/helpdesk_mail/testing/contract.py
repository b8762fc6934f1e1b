"""The storage conformance kit: the whole `Storage` contract, as tests any storage must pass.

Subclass `StorageContract` in your own test suite and say how to make a fresh,
empty storage; pytest runs every check against it:

    from helpdesk_mail.testing import StorageContract

    class TestMyStorage(StorageContract):
        def make_storage(self):
            return MyStorage(fresh_database())     # empty: no users, tickets or records

        def second_handle(self, storage):         # optional: another connection to the
            return MyStorage(storage.database)    # same data (default: the same object)

The checks create their data through the library's own write path
(`helpdesk_mail.commit` with `CreateUser`, `CreateTicket`, ... actions), so a host
implements nothing extra for them. They cover: atomic commits, duplicate receipt
keys, refused stale commits, Message-ID lookup and order, light reads, suppression
expiry, notification counts, the event outbox (claim, lease expiry,
acknowledgement), the sent ledger, mailbox state and leases, poison records, and
concurrent commits of one receipt key from two connections. `helpdesk_mail.memory`
and `helpdesk_mail.sql` pass it; docs/protocols.md explains each rule.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from ..actions import (
    Action,
    AddComment,
    AddSubscribers,
    CloseTicket,
    CommitOutcome,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    RequireTicket,
    RequireUser,
    StaleCommit,
    SuppressRecipients,
)
from ..commit import commit
from ..events import Event, TicketCreated, TicketUpdated
from ..model import Attachment, Role, TicketStatus
from ..ports import Storage, count_each
from ..records import (
    DeliveryStatus,
    EventStatus,
    MailboxState,
    PoisonRecord,
    ReceiptKey,
    SentRecord,
)

__all__ = ["StorageContract"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JANE = "jane@example.com"
BOB = "bob@example.com"
TESS = "tess@acme.test"


def _key(n: int = 1, mailbox: str = "support") -> ReceiptKey:
    return ReceiptKey(mailbox, f"<m{n}@example.com>", f"{n:064x}")


def _ticket(message_id: str | None = "<m1@example.com>", **changes: object) -> CreateTicket:
    action = CreateTicket(
        subject="Printer on fire",
        submitter=JANE,
        body_text="It is burning.",
        body_html="<p>It is burning.</p>",
        category="Hardware",
        subscribers=(JANE, BOB),
        attachments=(Attachment("photo.jpg", "image/jpeg", 3, b"jpg"),),
        message_id=message_id,
    )
    return dataclasses.replace(action, **changes)  # type: ignore[arg-type]


def _comment(ticket_id: int | None, message_id: str | None = None, **changes: object) -> AddComment:
    action = AddComment(
        ticket_id=ticket_id,
        author=JANE,
        body_text="Still burning.",
        body_html=None,
        techs_only=False,
        attachments=(),
        message_id=message_id,
    )
    return dataclasses.replace(action, **changes)  # type: ignore[arg-type]


class StorageContract:
    """The storage contract as pytest tests: subclass it and define `make_storage`."""

    def make_storage(self) -> Storage:
        """A fresh, empty storage (override this)."""
        raise NotImplementedError("define make_storage() in your StorageContract subclass")

    def second_handle(self, storage: Storage) -> Storage:
        """Another connection to the same data (override when yours has connections)."""
        return storage

    # --- helpers ---

    @pytest.fixture
    def storage(self) -> Storage:
        """A fresh storage for one check."""
        return self.make_storage()

    @staticmethod
    def run(
        storage: Storage,
        actions: Sequence[Action],
        key: ReceiptKey | None = None,
        events: Sequence[Event] = (),
        at: datetime = T0,
    ) -> CommitOutcome:
        """Commit in a transaction of its own."""
        with storage.transaction() as unit:
            return commit(unit, actions, key=key, events=events, at=at)

    def new_ticket(
        self, storage: Storage, message_id: str | None = "<m1@example.com>", **changes: object
    ) -> int:
        """A committed ticket of Jane's (with Bob subscribed); its id."""
        outcome = self.run(storage, [_ticket(message_id, **changes)])
        assert outcome.ticket_id is not None
        return outcome.ticket_id

    # --- commits ---

    def test_a_commit_creates_and_reports(self, storage: Storage) -> None:
        outcome = self.run(storage, [CreateUser(JANE, "Jane", "pw"), _ticket()], _key())
        assert outcome.ticket_id is not None and outcome.created_users == (JANE,)
        assert not outcome.duplicate
        with storage.transaction() as unit:
            ticket = unit.domain.ticket(outcome.ticket_id)
            assert ticket is not None
            assert (ticket.subject, ticket.submitter, ticket.status) == (
                "Printer on fire",
                JANE,
                TicketStatus.OPEN,
            )
            assert ticket.subscribers == (JANE, BOB)
            assert ticket.message_ids == ("<m1@example.com>",)
            user = unit.domain.user(JANE)
            assert user is not None and user.role is Role.USER
            assert unit.books.is_processed(_key())

    def test_actions_without_a_ticket_id_mean_the_ticket_just_created(
        self, storage: Storage
    ) -> None:
        outcome = self.run(
            storage, [_ticket(), _comment(None), AddSubscribers(None, ("cc@example.com",))]
        )
        assert outcome.ticket_id is not None and outcome.comment_id is not None
        with storage.transaction() as unit:
            [comment] = unit.domain.comments(outcome.ticket_id)
            ticket = unit.domain.ticket(outcome.ticket_id)
        assert comment.id == outcome.comment_id and comment.ticket_id == outcome.ticket_id
        assert ticket is not None and ticket.subscribers == (JANE, BOB, "cc@example.com")

    def test_a_commit_is_all_or_nothing(self, storage: Storage) -> None:
        ticket_id = self.new_ticket(storage)
        with pytest.raises(Exception):  # noqa: B017 - whatever the storage raises for it
            self.run(
                storage,
                [
                    CreateUser("new@example.com", "New", "pw"),
                    _comment(ticket_id),
                    _comment(999_999),
                ],
                _key(2),
                [TicketUpdated(ticket_id, JANE)],
            )
        with storage.transaction() as unit:
            assert unit.domain.user("new@example.com") is None
            assert unit.domain.comments(ticket_id) == ()
            assert not unit.books.is_processed(_key(2))
            assert unit.books.outbox() == ()
        assert self.run(storage, [_comment(ticket_id)], _key(2)).comment_id is not None

    def test_a_receipt_key_commits_once(self, storage: Storage) -> None:
        first = self.run(storage, [_ticket()], _key(), [TicketCreated(None, JANE)])
        again = self.run(storage, [_ticket()], _key(), [TicketCreated(None, JANE)])
        assert again.duplicate and again.ticket_id is None
        with storage.transaction() as unit:
            assert unit.domain.ticket_for_message_id("<m1@example.com>") == first.ticket_id
            assert len(unit.books.outbox()) == 1
        assert self.run(storage, [Discard("bounce")], _key(3)) == CommitOutcome()
        with storage.transaction() as unit:
            assert unit.books.is_processed(_key(3))

    def test_a_receipt_key_reads_back(self, storage: Storage) -> None:
        key = ReceiptKey("support", None, "ab" * 32)
        assert ReceiptKey.from_string(key.as_string()) == key
        self.run(storage, [Discard("bounce")], key)
        with storage.transaction() as unit:
            assert unit.books.is_processed(ReceiptKey.from_string(key.as_string()))

    def test_concurrent_commits_of_one_key_make_one_ticket(self, storage: Storage) -> None:
        other = self.second_handle(storage)
        barrier = threading.Barrier(2)
        outcomes: list[CommitOutcome] = []
        errors: list[BaseException] = []

        def worker(handle: Storage) -> None:
            barrier.wait()
            try:
                outcomes.append(self.run(handle, [_ticket()], _key(7)))
            except Exception as exc:  # a unique-constraint error is a fine answer too
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(h,)) for h in (storage, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        created = [o for o in outcomes if not o.duplicate]
        assert len(created) == 1, (outcomes, errors)
        with storage.transaction() as unit:
            assert unit.domain.ticket_for_message_id("<m1@example.com>") == created[0].ticket_id

    # --- preconditions ---

    def test_stale_ticket_preconditions_refuse_the_commit(self, storage: Storage) -> None:
        ticket_id = self.new_ticket(storage)
        with storage.transaction() as unit:
            ticket = unit.domain.ticket(ticket_id)
        assert ticket is not None
        # the web UI closes the ticket after the email was read
        self.run(storage, [CloseTicket(ticket_id, TESS)])
        with pytest.raises(StaleCommit):
            self.run(
                storage,
                [RequireTicket(ticket_id, ticket.status, ticket.version), _comment(ticket_id)],
                _key(2),
                [TicketUpdated(ticket_id, JANE)],
            )
        with storage.transaction() as unit:
            assert unit.domain.comments(ticket_id) == ()
            assert not unit.books.is_processed(_key(2))
            assert unit.books.outbox() == ()
        current = RequireTicket(ticket_id, TicketStatus.CLOSED)
        assert self.run(storage, [current, _comment(ticket_id)], _key(2)).comment_id is not None

    def test_a_changed_version_refuses_the_commit(self, storage: Storage) -> None:
        ticket_id = self.new_ticket(storage)
        with storage.transaction() as unit:
            ticket = unit.domain.ticket(ticket_id)
        assert ticket is not None
        if ticket.version is None:
            pytest.skip("this storage keeps no ticket versions (only the status is checked)")
        self.run(storage, [AddSubscribers(ticket_id, ("cc@example.com",))])
        with pytest.raises(StaleCommit):
            self.run(storage, [RequireTicket(ticket_id, ticket.status, ticket.version)])

    def test_user_preconditions(self, storage: Storage) -> None:
        self.run(storage, [RequireUser(JANE, None), CreateUser(JANE, "Jane", "pw")])
        with pytest.raises(StaleCommit):
            self.run(storage, [RequireUser(JANE, None), CreateUser(JANE, "Jane", "pw")])
        self.run(storage, [RequireUser(JANE, Role.USER)])
        with pytest.raises(StaleCommit):
            self.run(storage, [RequireUser(JANE, Role.TECHNICIAN)])

    # --- the domain's rules ---

    def test_message_ids_in_arrival_order_and_owned_by_their_first_ticket(
        self, storage: Storage
    ) -> None:
        ticket_id = self.new_ticket(storage)
        self.run(storage, [_comment(ticket_id, "<r1@example.com>")])
        self.run(storage, [_comment(ticket_id, "<r2@example.com>")])
        other = self.new_ticket(storage, message_id="<r1@example.com>", subject="Hijack")
        with storage.transaction() as unit:
            ticket = unit.domain.ticket(ticket_id)
            assert ticket is not None
            assert ticket.message_ids == (
                "<m1@example.com>",
                "<r1@example.com>",
                "<r2@example.com>",
            )
            for message_id in ticket.message_ids:
                assert unit.domain.ticket_for_message_id(message_id) == ticket_id
            assert unit.domain.ticket_for_message_id("<nobody@example.com>") is None
            stolen = unit.domain.ticket(other)
        assert stolen is not None and "<r1@example.com>" not in stolen.message_ids

    def test_comments_in_order_and_reads_are_light(self, storage: Storage) -> None:
        ticket_id = self.new_ticket(storage)
        files = (Attachment("log.txt", "text/plain", 5, b"hello"),)
        first = self.run(storage, [_comment(ticket_id, attachments=files)]).comment_id
        second = self.run(storage, [_comment(ticket_id, techs_only=True, author=TESS)]).comment_id
        with storage.transaction() as unit:
            comments = unit.domain.comments(ticket_id)
            assert [c.id for c in comments] == [first, second]
            assert comments[1].techs_only and comments[1].author == TESS
            [stored] = comments[0].attachments
            assert (stored.filename, stored.content_type, stored.size) == (
                "log.txt",
                "text/plain",
                5,
            )
            assert stored.content in (b"", b"hello")
            assert unit.domain.attachment_content(stored) == b"hello"
            ticket = unit.domain.ticket(ticket_id)
            assert ticket is not None
            [photo] = ticket.attachments
            assert unit.domain.attachment_content(photo) == b"jpg"

    def test_users_in_one_call(self, storage: Storage) -> None:
        self.run(
            storage,
            [CreateUser(JANE, "Jane", "pw"), CreateUser(TESS, "Tess", "pw", Role.TECHNICIAN)],
        )
        with storage.transaction() as unit:
            found = unit.domain.users([JANE, TESS, "nobody@example.com"])
            assert set(found) == {JANE, TESS}
            assert found[TESS].role is Role.TECHNICIAN
            assert [u.email for u in unit.domain.staff()] == [TESS]

    def test_create_user_keeps_an_existing_one(self, storage: Storage) -> None:
        self.run(storage, [CreateUser(TESS, "Tess", "pw", Role.TECHNICIAN)])
        outcome = self.run(storage, [CreateUser(TESS, "Someone", "other")])
        assert outcome.created_users == ()
        with storage.transaction() as unit:
            user = unit.domain.user(TESS)
        assert user is not None and user.role is Role.TECHNICIAN

    def test_subscribers_close_and_reopen(self, storage: Storage) -> None:
        ticket_id = self.new_ticket(storage)
        self.run(storage, [AddSubscribers(ticket_id, (BOB, "cc@example.com"))])
        self.run(storage, [RemoveSubscriber(ticket_id, JANE)])
        self.run(storage, [RemoveSubscriber(ticket_id, "nobody@example.com")])
        self.run(storage, [CloseTicket(ticket_id, TESS)])
        with storage.transaction() as unit:
            ticket = unit.domain.ticket(ticket_id)
        assert ticket is not None and ticket.status is TicketStatus.CLOSED
        assert ticket.subscribers == (BOB, "cc@example.com") and ticket.submitter == JANE
        assert ticket.unsubscribed == (JANE,)  # the submitter hears nothing more of it
        self.run(storage, [ReopenTicket(ticket_id, JANE)])
        with storage.transaction() as unit:
            reopened = unit.domain.ticket(ticket_id)
        assert reopened is not None and reopened.status is TicketStatus.OPEN

    # --- events travel with the commit ---

    def test_events_are_bound_and_recorded_with_the_commit(self, storage: Storage) -> None:
        outcome = self.run(
            storage,
            [_ticket(), _comment(None)],
            _key(),
            [TicketCreated(None, JANE), TicketUpdated(None, JANE)],
        )
        assert outcome.events == (
            TicketCreated(outcome.ticket_id, JANE),
            TicketUpdated(outcome.ticket_id, JANE, comment_id=outcome.comment_id),
        )
        with storage.transaction() as unit:
            entries = unit.books.outbox()
        assert [e.id for e in entries] == list(outcome.event_ids)
        assert [e.event for e in entries] == list(outcome.events)
        assert all(e.status is EventStatus.PENDING and e.attempts == 0 for e in entries)

    def test_outbox_claims_leases_and_acknowledges(self, storage: Storage) -> None:
        self.run(storage, [], None, [TicketCreated(1, JANE), TicketCreated(2, BOB)])
        other = self.second_handle(storage)
        with storage.transaction() as unit:
            mine = unit.books.claim_events("w1", T0, T0 + timedelta(minutes=5), 1)
        with other.transaction() as unit:
            theirs = unit.books.claim_events("w2", T0, T0 + timedelta(minutes=5), 10)
        assert len(mine) == 1 and len(theirs) == 1 and mine[0].id != theirs[0].id
        assert mine[0].lease_owner == "w1" and mine[0].lease_until == T0 + timedelta(minutes=5)
        with storage.transaction() as unit:  # nothing left to claim while the leases hold
            assert unit.books.claim_events("w3", T0 + timedelta(minutes=4), T0, 10) == ()
        # w1 acknowledges; w2 dies and its lease expires: another worker takes its event over
        done = dataclasses.replace(
            mine[0], status=EventStatus.DONE, lease_owner=None, lease_until=None
        )
        with storage.transaction() as unit:
            unit.books.update_event(done)
        later = T0 + timedelta(minutes=6)
        with storage.transaction() as unit:
            again = unit.books.claim_events("w3", later, later + timedelta(minutes=5), 10)
            assert [e.id for e in again] == [theirs[0].id]
            assert [e.id for e in unit.books.outbox(EventStatus.DONE)] == [mine[0].id]

    def test_outbox_respects_the_next_attempt_and_keeps_the_plan(self, storage: Storage) -> None:
        self.run(storage, [], None, [TicketCreated(1, JANE)])
        with storage.transaction() as unit:
            [entry] = unit.books.claim_events("w1", T0, T0 + timedelta(minutes=5), 10)
            retry = dataclasses.replace(
                entry,
                attempts=1,
                next_attempt_at=T0 + timedelta(minutes=10),
                lease_owner=None,
                lease_until=None,
                last_error="451 try later",
                plan={"type": "NotificationPlan", "v": 1, "emails": [], "skipped": []},
            )
            unit.books.update_event(retry)
        with storage.transaction() as unit:
            assert unit.books.claim_events("w1", T0 + timedelta(minutes=9), T0, 10) == ()
            [back] = unit.books.claim_events("w1", T0 + timedelta(minutes=10), T0, 10)
        assert (back.attempts, back.last_error) == (1, "451 try later")
        assert back.plan == retry.plan and back.event == TicketCreated(1, JANE)

    def test_the_sent_ledger(self, storage: Storage) -> None:
        record = SentRecord(
            "1/ticket_updated/jane@example.com",
            1,
            "ticket_updated",
            (JANE,),
            DeliveryStatus.SENT,
            T0,
            message_id="<x@acme.test>",
        )
        failed = dataclasses.replace(
            record,
            key="1/ticket_updated/bob@example.com",
            recipients=(BOB,),
            status=DeliveryStatus.FAILED,
            code=550,
            error="no such user",
            message_id=None,
        )
        with storage.transaction() as unit:
            assert unit.books.sent_record(record.key) is None
            unit.books.record_sent(record)
            unit.books.record_sent(failed)
            unit.books.record_sent(dataclasses.replace(record, key="2/x/y", event_id=2))
        with storage.transaction() as unit:
            assert unit.books.sent_record(record.key) == record
            assert list(unit.books.sent_records(1)) == [record, failed]
            assert len(unit.books.sent_records()) == 3
            by_id = [r.key for r in unit.books.sent_with_message_id("<x@acme.test>")]
            assert by_id == [record.key, "2/x/y"]
            assert unit.books.sent_with_message_id("<X@acme.test>") == ()
            assert unit.books.sent_with_message_id("<other@acme.test>") == ()

    # --- suppressions and counts ---

    def test_suppression_expires_and_a_later_expiry_wins(self, storage: Storage) -> None:
        until = T0 + timedelta(days=7)
        self.run(storage, [SuppressRecipients((BOB,), False, "bounce", until)])
        with storage.transaction() as unit:
            unit.books.suppress(BOB, T0 + timedelta(days=1), "shorter")
            assert unit.books.is_suppressed("Bob@Example.com", T0)
            assert unit.books.is_suppressed(BOB, until - timedelta(seconds=1))
            assert not unit.books.is_suppressed(BOB, until)
            assert not unit.books.is_suppressed(JANE, T0)

    def test_counts_per_scope_and_window(self, storage: Storage) -> None:
        with storage.transaction() as unit:
            unit.books.record_notification(["ticket:1", f"to:{JANE}"], T0)
            unit.books.record_notification(["ticket:1"], T0 + timedelta(minutes=5))
        with storage.transaction() as unit:
            assert unit.books.notifications_since("ticket:1", T0) == 2
            assert unit.books.notifications_since("ticket:1", T0 + timedelta(minutes=1)) == 1
            assert unit.books.notifications_since(f"to:{JANE}", T0) == 1
            assert unit.books.notifications_since("ticket:2", T0) == 0

    def test_counts_of_several_scopes_in_one_read(self, storage: Storage) -> None:
        # `notifications_since_each` is optional: without it `count_each` asks one by one
        scopes = [
            "ticket:1",
            f"to:{JANE}",
            "ticket:2",
            *(f"to:u{i}@example.com" for i in range(70)),
        ]
        with storage.transaction() as unit:
            unit.books.record_notification(["ticket:1", f"to:{JANE}"], T0)
            unit.books.record_notification(
                ["ticket:1", "to:u69@example.com"], T0 + timedelta(minutes=5)
            )
        with storage.transaction() as unit:
            queries = [
                (scope, T0 + timedelta(minutes=minutes))
                for minutes in (0, 1, 5, 6)
                for scope in scopes
            ]
            queries.append(("ticket:1", T0))  # a pair asked twice
            expected = tuple(unit.books.notifications_since(s, t) for s, t in queries)
            assert expected[:3] == (2, 1, 0) and sum(expected) == 10
            assert count_each(unit.books, queries) == expected
            assert count_each(unit.books, queries[:1]) == expected[:1]
            assert count_each(unit.books, []) == ()
            if hasattr(unit.books, "notifications_since_each"):
                assert tuple(unit.books.notifications_since_each(queries)) == expected
                assert tuple(unit.books.notifications_since_each([])) == ()

    # --- mailboxes and poison ---

    def test_mailbox_state(self, storage: Storage) -> None:
        state = MailboxState(consecutive_failures=2, last_error="refused", last_polled_at=T0)
        with storage.transaction() as unit:
            assert unit.books.mailbox_state("support") == MailboxState()
            unit.books.save_mailbox_state("support", state)
        with storage.transaction() as unit:
            assert unit.books.mailbox_state("support") == state
            assert unit.books.mailbox_state("other") == MailboxState()

    def test_mailbox_leases(self, storage: Storage) -> None:
        until = T0 + timedelta(minutes=10)
        other = self.second_handle(storage)
        with storage.transaction() as unit:
            assert unit.books.lease_mailbox("support", "w1", T0, until)
        with other.transaction() as unit:
            assert not unit.books.lease_mailbox("support", "w2", T0, until)
            assert unit.books.lease_mailbox("sales", "w2", T0, until)
        with storage.transaction() as unit:  # renewing one's own lease
            assert unit.books.lease_mailbox("support", "w1", T0, until + timedelta(minutes=5))
        later = until + timedelta(minutes=6)
        with other.transaction() as unit:  # an expired lease is taken over
            assert unit.books.lease_mailbox("support", "w2", later, later + timedelta(minutes=10))
        with storage.transaction() as unit:
            unit.books.release_mailbox("support", "w1")  # not w1's any more: nothing
            assert not unit.books.lease_mailbox("support", "w1", later, later)
            unit.books.release_mailbox("sales", "w2")
            assert unit.books.lease_mailbox("sales", "w1", T0, until)

    def test_poison_records(self, storage: Storage) -> None:
        record = PoisonRecord(_key(), "support", "17", b"raw \x00 bytes", "processing: boom", T0)
        with storage.transaction() as unit:
            unit.books.record_poison(record)
        with storage.transaction() as unit:
            assert list(unit.books.poison_records()) == [record]
