"""`commit`: what one email (or one host action) became, recorded in one transaction.

The library's one way of writing: inside a `UnitOfWork` it

1. records the receipt key (when there is one): a key already recorded means the
   email was committed before, and nothing else happens (`duplicate=True`);
2. hands the actions to the host's `Domain.apply` (which checks the `Require*`
   preconditions first and raises `StaleCommit` if the data changed);
3. keeps `SuppressRecipients` in the library's suppressions;
4. binds the events to the created ticket and added comment (`events.bind_ticket`)
   and records them in the event outbox, from which a `Deliverer` sends their
   notifications.

All of it commits or rolls back with the transaction, so a crash at any point
leaves either everything or nothing: a notification is never lost between the
commit and its delivery, and an email is never committed twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from .actions import Action, CommitOutcome, SuppressRecipients
from .events import Event, bind_ticket
from .ports import UnitOfWork
from .records import ReceiptKey

__all__ = ["commit"]


def commit(
    unit: UnitOfWork,
    actions: Sequence[Action],
    *,
    key: ReceiptKey | None = None,
    events: Sequence[Event] = (),
    at: datetime,
) -> CommitOutcome:
    """Record `actions`, the receipt `key` and `events` in the transaction `unit`.

    Returns the host's `CommitOutcome` with the bound events and their outbox ids, or
    `CommitOutcome(duplicate=True)` when `key` was recorded before. Raises
    `StaleCommit` (nothing applied) when a precondition no longer holds.
    """
    books = unit.books
    if key is not None and not books.record_receipt(key, at):
        return CommitOutcome(duplicate=True)
    outcome = unit.domain.apply(tuple(a for a in actions if not isinstance(a, SuppressRecipients)))
    for suppression in actions:
        if isinstance(suppression, SuppressRecipients):
            for email in suppression.emails:
                books.suppress(email, suppression.until, suppression.reason)
    bound = tuple(bind_ticket(e, outcome.ticket_id, outcome.comment_id) for e in events)
    ids = books.add_events(bound, at) if bound else ()
    return dataclasses.replace(outcome, events=bound, event_ids=ids)
