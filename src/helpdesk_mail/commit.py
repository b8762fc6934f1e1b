"""`commit`: what one email (or one host action) became, recorded in one transaction.

The library's one way of writing: inside a `UnitOfWork` it

1. records the receipt key (when there is one): a key already recorded means the
   email was committed before, and nothing else happens (`duplicate=True`);
2. hands the actions to the host's `Domain.apply` (which checks the `Require*`
   preconditions first and raises `StaleCommit` if the data changed);
3. keeps `SuppressRecipients` in the library's suppressions: with `proof`, only the
   addresses the sent ledger shows the returned Message-IDs were sent to; a staff
   address with a `StaffAddressSuppressed` event for the administrators;
4. binds the events to the created ticket and added comment (`events.bind_ticket`)
   and records them in the event outbox, from which a `Deliverer` sends their
   notifications.

All of it commits or rolls back with the transaction, so a crash at any point
leaves either everything or nothing: a notification is never lost between the
commit and its delivery, and an email is never committed twice.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime

from .actions import Action, CommitOutcome, SuppressRecipients
from .addresses import normalize_email
from .events import Event, StaffAddressSuppressed, bind_ticket
from .ports import Bookkeeping, UnitOfWork
from .records import DeliveryStatus, ReceiptKey

log = logging.getLogger(__name__)

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
    suppressed: list[str] = []
    notices: list[Event] = []
    for suppression in actions:
        if isinstance(suppression, SuppressRecipients):
            for email in suppression.emails:
                if not _proven(books, email, suppression.proof):
                    log.info("bounce for %s not applied: it returns no mail sent to it", email)
                    continue
                books.suppress(email, suppression.until, suppression.reason)
                suppressed.append(email)
                user = unit.domain.user(normalize_email(email))
                if user is not None and user.is_staff:
                    log.warning(
                        "staff address %s suppressed until %s: %s",
                        email,
                        suppression.until.isoformat(),
                        suppression.reason,
                    )
                    notices.append(
                        StaffAddressSuppressed(
                            email=user.email,
                            reason=suppression.reason,
                            until=suppression.until.isoformat(timespec="minutes"),
                        )
                    )
    bound = tuple(bind_ticket(e, outcome.ticket_id, outcome.comment_id) for e in events)
    bound = (*bound, *notices)
    ids = books.add_events(bound, at) if bound else ()
    return dataclasses.replace(outcome, events=bound, event_ids=ids, suppressed=tuple(suppressed))


def _proven(books: Bookkeeping, email: str, proof: tuple[str, ...] | None) -> bool:
    """Whether the sent ledger shows one of the `proof` Message-IDs was sent to `email`
    (no proof asked: True)."""
    if proof is None:
        return True
    email = normalize_email(email)
    for message_id in proof:
        for record in books.sent_with_message_id(message_id):
            if record.status is DeliveryStatus.SENT and email in record.recipients:
                return True
    return False
