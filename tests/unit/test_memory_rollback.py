"""InMemoryStorage transactions: a block that raises leaves everything as it was, in
the same order, whatever it wrote; and a transaction remembers only what it writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.events import TicketUpdated
from helpdesk_mail.memory import InMemoryStorage
from helpdesk_mail.model import Attachment, Comment, KBArticle, Ticket, User
from helpdesk_mail.records import (
    DeliveryStatus,
    MailboxState,
    PoisonRecord,
    ReceiptKey,
    SentRecord,
)

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
SMALL = st.integers(min_value=1, max_value=4)


def _apply(storage: InMemoryStorage, op: tuple[Any, ...]) -> None:
    """One write of the storage, chosen by `op` (small ids: writes meet earlier ones)."""
    name, n = op
    at = T0 + timedelta(minutes=n)
    if name == "user":
        storage.add_user(User(f"u{n}@example.com", name=f"User {n}"), password=f"pw{n}")
    elif name == "ticket":
        storage.add_ticket(
            Ticket(
                id=n,
                subject=f"Ticket {n}",
                submitter=f"u{n}@example.com",
                message_ids=(f"<m{n}@example.com>", f"<shared{n % 2}@example.com>"),
                attachments=(Attachment("a.txt", "text/plain", content=b"x" * n),),
            ),
            [Comment(n, f"u{n}@example.com", f"comment {n}", at)],
        )
    elif name == "kb":
        storage.add_kb_article(KBArticle(id=n, title=f"Article {n}", body="printer"))
    elif name == "receipt":
        storage.record_receipt(ReceiptKey("inbox", f"<r{n}@x>", "0" * 64), at)
    elif name == "health":
        storage.save_mailbox_state(f"acct{n}", MailboxState(consecutive_failures=n))
    elif name == "lease":
        storage.lease_mailbox(f"acct{n}", f"w{n % 2}", at, at + timedelta(minutes=5))
    elif name == "release":
        storage.release_mailbox(f"acct{n}", f"w{n % 2}")
    elif name == "poison":
        key = ReceiptKey("inbox", None, f"{n:064d}")
        storage.record_poison(PoisonRecord(key, "inbox", str(n), b"raw", "error", at))
    elif name == "suppress":
        storage.suppress(f"u{n}@example.com", at + timedelta(days=n), f"bounced {n}")
    elif name == "count":
        storage.record_notification([f"ticket:{n}", f"to:u{n}@example.com"], at)
    elif name == "events":
        storage.add_events([TicketUpdated(n, f"u{n}@example.com")], at)
    elif name == "claim":
        storage.claim_events(f"w{n}", at, at + timedelta(minutes=1), n)
    elif name == "update":
        for entry in storage.outbox()[:1]:
            storage.update_event(entry.__class__(**{**entry.__dict__, "attempts": n}))
    elif name == "sent":
        storage.record_sent(
            SentRecord(
                key=f"k{n % 3}",
                event_id=n,
                template="ticket_updated",
                recipients=(f"u{n}@example.com",),
                status=DeliveryStatus.SENT,
                at=at,
                message_id=f"<s{n % 2}@example.com>" if n % 3 else None,
            )
        )


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "user",
                "ticket",
                "kb",
                "receipt",
                "health",
                "lease",
                "release",
                "poison",
                "suppress",
                "count",
                "events",
                "claim",
                "update",
                "sent",
            ]
        ),
        SMALL,
    ),
    max_size=12,
)


def _state(storage: InMemoryStorage) -> dict[str, Any]:
    """Everything stored, dicts as their items in order (order is part of the contract:
    ledger lines and outbox entries come back in the order recorded)."""

    def ordered(value: Any) -> Any:
        if isinstance(value, dict):
            return [(k, ordered(v)) for k, v in value.items()]
        if isinstance(value, list):
            return [ordered(v) for v in value]
        return value

    snapshot = storage.snapshot()
    leases = snapshot.pop("mailbox_leases")  # a map of leases: its order means nothing
    return {"mailbox_leases": leases, **{k: ordered(v) for k, v in snapshot.items()}}


class Boom(Exception):
    pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, OPS)
def test_a_transaction_that_raises_leaves_everything_as_it_was(
    before: list[tuple[Any, ...]], inside: list[tuple[Any, ...]]
) -> None:
    storage = InMemoryStorage()
    for op in before:
        with storage.transaction():
            _apply(storage, op)
    expected = _state(storage)
    try:
        with storage.transaction():
            for op in inside:
                _apply(storage, op)
            raise Boom
    except Boom:
        pass
    assert _state(storage) == expected
    # and the same writes, committed, change what they say
    with storage.transaction():
        for op in inside:
            _apply(storage, op)


def test_a_transaction_remembers_only_the_entries_it_writes() -> None:
    storage = InMemoryStorage()
    with storage.transaction():
        storage.add_events([TicketUpdated(n, "u@example.com") for n in range(1, 1001)], T0)
    entry = storage.outbox()[500]
    with storage.transaction():
        storage.update_event(entry.__class__(**{**entry.__dict__, "attempts": 1}))
        remembered = {name: len(keys) for name, keys in (storage._saved_keys or {}).items()}
        assert remembered == {"outbox_entries": 1}
        assert storage._saved == {}
