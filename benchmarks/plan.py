"""Speed of `plan_notifications` per recipient, from 100 to 10,000 recipients.

The helpdesk holds 200 technicians (all serving the ticket's category), 3 admins and
10,000 subscribers: two thirds with an account, one third without; 1 % of them bounced
recently (suppressed), 0.5 % are system addresses, every 20th has a recent
notification history (rate limits are read for every customer), and every 50th
subscriber is one of the technicians.

- scaling: a technician's reply to a ticket with N subscribers, N = 100, 1,000 and
  10,000; everyone the rules address (planned or skipped) counts as a recipient.
  Planning time per recipient must stay flat: the ratio 10,000 / 100 should be near 1.
- all techs: a customer's reply to the 10,000-subscriber ticket with "notify ALL
  technicians in a category when a customer updates a ticket" on (10,000 + 200 people),
  and the same in CC mode.

- storage calls: planning and rendering one notification to one person reads the
  storage a small, constant number of times, whatever the ticket's size (comments,
  attachments, Message-IDs): `storage_calls_per_email`, for a ticket with 50 comments,
  50 attachments and 100 Message-IDs (the same as for a ticket with none).

Each figure is the best of several rounds. Run from the repository root with no
arguments; the last line is JSON.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from datetime import timedelta

from helpdesk_mail.events import Event, TicketClosed, TicketUpdated
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.model import Attachment, Comment, Role, Ticket, User
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.outbound.plan import plan_notifications
from helpdesk_mail.planned import NotificationPlan
from helpdesk_mail.settings import (
    IncomingSettings,
    NotificationSettings,
    OutgoingSettings,
    Settings,
)

TECHS = 200
SUBSCRIBERS = 10_000
SIZES = (100, 1_000, 10_000)
BUDGET_S = 1.5  # time spent measuring each figure
MIN_ROUNDS = 7


def build() -> tuple[InMemoryStorage, ManualClock, list[str]]:
    """The helpdesk described in the module docstring, and its subscriber addresses."""
    storage, clock = InMemoryStorage(), ManualClock()
    techs = [f"tech{i}@acme.test" for i in range(TECHS)]
    for email in techs:
        storage.add_user(
            User(email, role=Role.TECHNICIAN, categories=frozenset({"Hardware", "Other"}))
        )
    for i in range(3):
        storage.add_user(User(f"admin{i}@acme.test", role=Role.ADMIN))
    subscribers: list[str] = []
    for i in range(SUBSCRIBERS):
        if i % 50 == 25:
            email = techs[(i // 50) % TECHS]
        elif i % 200 == 7:
            email = f"noreply-{i}@vendor.example"
        else:
            email = f"customer{i}@example.com"
        if i % 3 != 0 and email.startswith("customer"):
            storage.add_user(User(email, name=f"Customer {i}"))
        if i % 100 == 11:
            storage.suppress(email, clock.now() + timedelta(days=3), "5.1.1 unknown user")
        if i % 20 == 3:
            for minutes in (2, 30, 300):
                storage.record_notification(
                    [f"to:{email}"], clock.now() - timedelta(minutes=minutes)
                )
        subscribers.append(email)
    return storage, clock, subscribers


def addressed(plan: NotificationPlan) -> int:
    """Everyone the rules addressed: planned recipients and skipped people."""
    return sum(len(e.to) + len(e.cc) for e in plan.emails) + len(plan.skipped)


def best_time(run: Callable[[], object]) -> float:
    """The best wall time of `run()` over as many rounds as fit in the budget (at least 7)."""
    gc.collect()
    times: list[float] = []
    deadline = time.perf_counter() + BUDGET_S
    while len(times) < MIN_ROUNDS or time.perf_counter() < deadline:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(
    event: Event, settings: Settings, storage: InMemoryStorage, clock: ManualClock
) -> tuple[float, int, NotificationPlan]:
    """(microseconds per recipient, recipients, plan) for one event."""
    plan = plan_notifications(event, settings, storage, clock)
    people = addressed(plan)
    seconds = best_time(lambda: plan_notifications(event, settings, storage, clock))
    return seconds / people * 1e6, people, plan


def storage_calls_per_email(comments: int = 50, message_ids: int = 100) -> int:
    """Storage reads to plan and render one notification (the closed ticket, to its submitter)."""
    clock = ManualClock()
    storage = InMemoryStorage(clock=clock)
    storage.add_user(User("tess@acme.test", "Tess", Role.TECHNICIAN, categories=frozenset({"HW"})))
    storage.add_user(User("jane@example.com", "Jane Doe"))
    log = [
        Comment(
            1,
            "jane@example.com" if n % 2 else "tess@acme.test",
            f"reply {n}",
            clock.now(),
            attachments=(Attachment(f"shot{n}.png", "image/png", 3, b"png"),),
        )
        for n in range(comments)
    ]
    storage.add_ticket(
        Ticket(
            1,
            "Printer on fire",
            "jane@example.com",
            category="HW",
            assignee="tess@acme.test",
            subscribers=("jane@example.com",),
            message_ids=tuple(f"<m{n}@example.com>" for n in range(message_ids)),
        ),
        log,
    )
    settings = Settings(
        incoming=IncomingSettings(helpdesk_addresses=("support@acme.test",)),
        outgoing=OutgoingSettings(from_address="support@acme.test", secret_key="k"),
    )
    storage.calls.clear()
    plan = plan_notifications(TicketClosed(1, "tess@acme.test"), settings, storage, clock)
    [planned] = plan.emails
    messages = render_message(planned, None, settings, storage, clock, SeededRandom(0))
    assert messages is not None and len(messages) == 1
    return sum(storage.calls.values())


def main() -> int:
    storage, clock, subscribers = build()
    base = Settings(incoming=IncomingSettings(helpdesk_addresses=("support@acme.test",)))
    figures: dict[str, float | int] = {}
    print(f"helpdesk: {TECHS} technicians, {SUBSCRIBERS:,} subscribers")
    print("scaling: a technician's reply to a ticket with N subscribers")
    for size in SIZES:
        ticket_id = size
        storage.add_ticket(
            Ticket(
                ticket_id,
                subject="Printer on fire",
                submitter=subscribers[1],
                category="Hardware",
                assignee="tech0@acme.test",
                subscribers=tuple(subscribers[:size]),
            )
        )
        us, people, plan = measure(
            TicketUpdated(ticket_id, "tech0@acme.test"), base, storage, clock
        )
        figures[f"us_per_recipient_{size}"] = round(us, 3)
        figures[f"recipients_{size}"] = people
        print(
            f"  N={size:>6,}: {people:>6,} recipients ({len(plan.emails):,} emails, "
            f"{len(plan.skipped):,} skipped), {us:.2f} us/recipient, "
            f"{us * people / 1000:.2f} ms/plan"
        )
    ratio = figures["us_per_recipient_10000"] / figures["us_per_recipient_100"]
    figures["ratio_10000_to_100"] = round(ratio, 3)
    print(f"  per-recipient ratio 10,000 / 100 = {ratio:.2f} (flat: close to 1, target <= 1.5)")

    customer_reply = TicketUpdated(SUBSCRIBERS, subscribers[1])
    all_techs = Settings(
        incoming=base.incoming,
        notifications=NotificationSettings(notify_all_techs_on_customer_update=True),
    )
    cc = Settings(
        incoming=base.incoming,
        notifications=NotificationSettings(notify_all_techs_on_customer_update=True, cc_mode=True),
    )
    print("a customer's reply to the 10,000-subscriber ticket, all 200 technicians notified")
    for name, settings in (("all_techs", all_techs), ("all_techs_cc_mode", cc)):
        us, people, plan = measure(customer_reply, settings, storage, clock)
        figures[f"us_per_recipient_{name}"] = round(us, 3)
        figures[f"recipients_{name}"] = people
        print(
            f"  {name}: {people:,} recipients in {len(plan.emails):,} emails, "
            f"{us:.2f} us/recipient, {us * people / 1000:.1f} ms/plan"
        )
    calls = storage_calls_per_email()
    print(f"storage calls to plan and render one email (50 comments, 100 Message-IDs): {calls}")
    figures["storage_calls_per_email"] = calls
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
