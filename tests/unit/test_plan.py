"""The notification planner: groups, precedence, protection, rate limits and scopes."""

from __future__ import annotations

import dataclasses
import typing
from datetime import timedelta
from typing import Any

import pytest

from helpdesk_mail.actions import RemoveSubscriber
from helpdesk_mail.events import (
    Event,
    KBArticleUpdated,
    MailboxAccountDisabled,
    TicketClosed,
    TicketCreated,
    TicketMoved,
    TicketTaken,
    TicketUpdated,
    UserCreated,
    Via,
)
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import InMemoryStorage, ManualClock
from helpdesk_mail.model import KBArticle, Role, Ticket, User
from helpdesk_mail.outbound.plan import (
    RESTRICTIONS,
    RULES,
    SkipReason,
    is_system_address,
    plan_notifications,
    scopes_for,
)
from helpdesk_mail.planned import NotificationPlan, PlannedEmail
from helpdesk_mail.settings import (
    IncomingSettings,
    NotificationSettings,
    OutgoingSettings,
    RateLimit,
    Settings,
)

JANE = "jane@example.com"
BOB = "bob@example.com"
TOM = "tom@acme.test"
TIA = "tia@acme.test"
ADA = "ada@acme.test"


def make_storage(**ticket: Any) -> InMemoryStorage:
    """An admin, two Hardware technicians, two customers and ticket 1 (assigned to Tom)."""
    storage = InMemoryStorage()
    storage.add_user(User(ADA, name="Ada", role=Role.ADMIN))
    storage.add_user(
        User(TOM, name="Tom", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    )
    storage.add_user(User(TIA, role=Role.TECHNICIAN, categories=frozenset({"Hardware"})))
    storage.add_user(User(JANE, name="Jane Doe"))
    storage.add_user(User(BOB))
    fields: dict[str, Any] = {
        "id": 1,
        "subject": "Printer on fire",
        "submitter": JANE,
        "category": "Hardware",
        "assignee": TOM,
        "subscribers": (JANE, BOB),
    }
    fields.update(ticket)
    storage.add_ticket(Ticket(**fields))
    return storage


def settings(**notifications: Any) -> Settings:
    """Settings with the helpdesk's own address set and these notification settings."""
    return Settings(
        incoming=IncomingSettings(helpdesk_addresses=("support@acme.test",)),
        notifications=NotificationSettings(**notifications),
        outgoing=OutgoingSettings(from_address="help@acme.test", reply_to="reply@acme.test"),
    )


def plan(
    event: Event,
    storage: InMemoryStorage | None = None,
    clock: ManualClock | None = None,
    **notifications: Any,
) -> NotificationPlan:
    """Plan `event` against `storage` (default: `make_storage()`)."""
    return plan_notifications(
        event,
        settings(**notifications),
        storage if storage is not None else make_storage(),
        clock or ManualClock(),
    )


def to(p: NotificationPlan) -> list[str]:
    """Every addressee, To and Cc, in plan order."""
    return [r.email for e in p.emails for r in (*e.to, *e.cc)]


def reasons(p: NotificationPlan) -> dict[str, str]:
    """Skipped address -> reason."""
    return {s.email: str(s.reason) for s in p.skipped}


# --- the tables ---


def test_every_event_type_has_rules() -> None:
    assert set(RULES) == set(typing.get_args(Event))


def test_table_switches_are_notification_settings_fields() -> None:
    fields = {f.name for f in dataclasses.fields(NotificationSettings)}
    for rules in RULES.values():
        for rule in rules:
            assert rule.switch is None or rule.switch in fields
    for restrictions in RESTRICTIONS.values():
        for restriction in restrictions:
            assert restriction.switch is None or restriction.switch in fields


# --- who: groups and precedence ---


def test_emails_come_in_table_order_one_per_person() -> None:
    p = plan(TicketCreated(1, JANE, Via.EMAIL))
    assert [(e.template, e.to[0].email) for e in p.emails] == [
        (TemplateKind.TICKET_CONFIRMATION, JANE),
        (TemplateKind.NEW_TICKET, TOM),  # assignee row, before admins and techs
        (TemplateKind.NEW_TICKET, ADA),
        (TemplateKind.NEW_TICKET, TIA),
    ]
    assert all(len(e.to) == 1 and not e.cc and not e.cc_mode for e in p.emails)


def test_a_person_in_many_groups_gets_one_email() -> None:
    storage = make_storage(assignee=ADA, subscribers=(JANE, ADA, TOM, TOM.upper()))
    p = plan(TicketUpdated(1, JANE), storage, notify_all_techs_on_customer_update=True)
    assert sorted(to(p)) == [ADA, TIA, TOM]


def test_submitter_is_notified_of_updates_even_when_not_listed_as_subscriber() -> None:
    storage = make_storage(subscribers=(BOB,))
    assert JANE in to(plan(TicketUpdated(1, TOM), storage))


def test_administrators_are_not_technicians_of_a_category() -> None:
    storage = make_storage()
    storage.add_user(User("root@acme.test", role=Role.ADMIN, categories=frozenset({"Hardware"})))
    p = plan(TicketUpdated(1, JANE), storage, notify_all_techs_on_customer_update=True)
    assert "root@acme.test" not in to(p)
    assert ADA not in to(p)
    p = plan(TicketCreated(1, JANE), storage, notify_admins_new_tickets=False)
    assert "root@acme.test" not in to(p) and ADA not in to(p)


def test_technicians_of_other_categories_are_not_notified() -> None:
    storage = make_storage()
    storage.add_user(User("net@acme.test", role=Role.TECHNICIAN, categories=frozenset({"Network"})))
    for event in (TicketCreated(1, JANE), TicketUpdated(1, JANE), TicketTaken(1, TIA)):
        p = plan(event, storage, notify_all_techs_on_customer_update=True)
        assert "net@acme.test" not in to(p)


def test_ticket_without_category_reaches_admins_but_no_technicians() -> None:
    p = plan(TicketCreated(1, JANE), make_storage(category=None, assignee=None))
    assert to(p) == [JANE, ADA]


def test_move_notifies_only_technicians_new_to_the_ticket() -> None:
    storage = make_storage()
    storage.add_user(User("sw@acme.test", role=Role.TECHNICIAN, categories=frozenset({"Software"})))
    storage.add_user(
        User("both@acme.test", role=Role.TECHNICIAN, categories=frozenset({"Software", "Hardware"}))
    )
    p = plan(TicketMoved(1, ADA, "Software", "Hardware"), storage)
    assert {e.template for e in p.emails} == {TemplateKind.TICKET_MOVED}
    assert sorted(to(p)) == [TIA, TOM]  # not both@ (saw it), not sw@, not the admins


def test_move_from_no_category_notifies_every_technician_of_the_new_one() -> None:
    p = plan(TicketMoved(1, TIA, None, "Hardware"), make_storage())
    assert to(p) == [TOM]
    assert reasons(p) == {TIA: "actor"}


def test_take_notifies_previous_assignee_and_optionally_the_category() -> None:
    event = TicketTaken(1, TIA, previous_assignee=TOM)
    assert to(plan(event)) == [TOM]
    assert to(plan(TicketTaken(1, TIA))) == []
    p = plan(TicketTaken(1, TIA), notify_all_techs_on_take=True)
    assert to(p) == [TOM] and reasons(p) == {TIA: "actor"}


def test_kb_update_reaches_technicians_of_the_article_category() -> None:
    storage = make_storage()
    storage.add_kb_article(KBArticle(7, "Toner", category="Hardware"))
    storage.add_kb_article(KBArticle(8, "General", category=None))
    p = plan(KBArticleUpdated(7, ADA), storage, notify_techs_on_kb_update=True)
    assert sorted(to(p)) == [TIA, TOM]
    assert all(e.ticket_id is None and not e.include_attachments for e in p.emails)
    assert to(plan(KBArticleUpdated(8, ADA), storage, notify_techs_on_kb_update=True)) == []


def test_welcome_goes_to_the_new_user_even_when_they_are_the_actor() -> None:
    p = plan(UserCreated("new@example.com", "pw", actor="new@example.com"), enabled=False)
    (email,) = p.emails
    assert email.template is TemplateKind.WELCOME
    assert email.to[0].email == "new@example.com"
    assert not email.to[0].autologin and not email.include_attachments


def test_mailbox_disabled_goes_to_every_admin_whatever_the_master_switch() -> None:
    storage = make_storage()
    storage.add_user(User("root@acme.test", role=Role.ADMIN))
    p = plan(MailboxAccountDisabled("support", 5, "timeout"), storage, enabled=False)
    assert to(p) == [ADA, "root@acme.test"]
    assert {e.template for e in p.emails} == {TemplateKind.MAILBOX_DISABLED}


# --- the actor ---


def test_actor_is_matched_case_insensitively() -> None:
    p = plan(TicketUpdated(1, "  <Jane@Example.COM> "))
    assert JANE not in to(p) and reasons(p)[JANE] == "actor"


def test_confirmation_is_a_receipt_for_the_submitter() -> None:
    p = plan(TicketCreated(1, JANE, Via.EMAIL))
    assert p.emails[0].template is TemplateKind.TICKET_CONFIRMATION
    assert p.emails[0].to[0].email == JANE


def test_ticket_forwarded_by_a_technician_confirms_to_the_customer() -> None:
    p = plan(TicketCreated(1, TIA, Via.EMAIL))
    assert p.emails[0].to[0].email == JANE
    assert reasons(p) == {TIA: "actor"}


@pytest.mark.parametrize("via", [Via.WEB, Via.API, Via.CHAT, Via.PHONE])
def test_no_confirmation_for_tickets_not_submitted_by_email(via: Via) -> None:
    p = plan(TicketCreated(1, JANE, via))
    assert TemplateKind.TICKET_CONFIRMATION not in {e.template for e in p.emails}


def test_no_confirmation_for_mail_that_wants_no_automatic_answer() -> None:
    p = plan(TicketCreated(1, JANE, Via.EMAIL, auto_response_allowed=False))
    assert JANE not in to(p)
    assert reasons(p) == {JANE: "auto_response_suppressed"}
    assert TOM in to(p)  # the team still hears of the ticket


def test_submitter_closing_their_own_ticket_gets_nothing() -> None:
    p = plan(TicketClosed(1, JANE))
    assert JANE not in to(p) and reasons(p)[JANE] == "actor"
    assert not any(r.rating_links for e in p.emails for r in e.to)


# --- what: attachments, autologin, ratings, names ---


def test_rating_links_only_to_the_creator_in_ticket_closed() -> None:
    p = plan(TicketClosed(1, TOM))
    flags = {r.email: r.rating_links for e in p.emails for r in e.to}
    assert flags == {JANE: True, BOB: False}
    for event in (TicketUpdated(1, TOM), TicketCreated(1, JANE)):
        assert not any(r.rating_links for e in plan(event).emails for r in e.to)


def test_autologin_only_for_regular_users_with_an_account() -> None:
    storage = make_storage(subscribers=(JANE, BOB, "carl@example.com", ADA))
    p = plan(TicketUpdated(1, TOM), storage)
    flags = {r.email: r.autologin for e in p.emails for r in e.to}
    # the spec sends them "to ticket submitters", regular users only: Bob, a subscriber
    # with an account, gets the plain link
    assert flags == {JANE: True, BOB: False, "carl@example.com": False, ADA: False}


def test_recipient_names_and_roles() -> None:
    storage = make_storage(subscribers=(JANE, "carl@example.com"))
    p = plan(TicketUpdated(1, TIA), storage)
    people = {r.email: (r.name, r.role) for e in p.emails for r in e.to}
    assert people == {
        TOM: ("Tom", Role.TECHNICIAN),
        JANE: ("Jane Doe", Role.USER),
        "carl@example.com": ("", Role.USER),
    }


@pytest.mark.parametrize("include", [True, False])
def test_attachments_follow_the_setting_on_ticket_emails(include: bool) -> None:
    p = plan(TicketUpdated(1, TOM, has_attachments=True), include_attachments=include)
    assert p.emails and all(e.include_attachments is include for e in p.emails)


# --- CC mode ---


def test_cc_mode_sends_one_email_to_the_subscribers_with_the_submitter_in_to() -> None:
    storage = make_storage(subscribers=(BOB, "carl@example.com", JANE))
    p = plan(TicketUpdated(1, TOM), storage, cc_mode=True)
    (email,) = p.emails
    assert email.cc_mode
    assert [r.email for r in email.to] == [JANE]
    assert [r.email for r in email.cc] == [BOB, "carl@example.com"]
    assert not any(r.autologin or r.rating_links for r in (*email.to, *email.cc))


def test_cc_mode_keeps_individual_emails_for_technicians_reached_by_their_own_rule() -> None:
    p = plan(TicketUpdated(1, JANE), cc_mode=True, notify_all_techs_on_customer_update=True)
    singles = [e for e in p.emails if not e.cc_mode]
    shared = [e for e in p.emails if e.cc_mode]
    assert sorted(e.to[0].email for e in singles) == [TIA, TOM]
    assert len(shared) == 1 and [r.email for r in shared[0].to] == [BOB]


def test_cc_mode_closed_email_has_no_rating_links() -> None:
    p = plan(TicketClosed(1, TOM), cc_mode=True)
    (email,) = p.emails
    assert email.template is TemplateKind.TICKET_CLOSED and email.cc_mode
    assert not any(r.rating_links or r.autologin for r in (*email.to, *email.cc))


# --- restrictions ---


def test_techs_only_note_reaches_staff_only() -> None:
    storage = make_storage(subscribers=(JANE, BOB, ADA))
    p = plan(TicketUpdated(1, TIA, techs_only=True), storage, cc_mode=True)
    assert sorted(to(p)) == [ADA, TOM]
    assert reasons(p) == {JANE: "techs_only", BOB: "techs_only"}


def test_customer_reply_goes_to_technicians_only_when_so_configured() -> None:
    storage = make_storage(subscribers=(JANE, BOB, ADA))
    p = plan(TicketUpdated(1, BOB), storage, only_tech_updates_to_subscribers=True)
    assert sorted(to(p)) == [ADA, TOM]
    assert reasons(p) == {JANE: "customer_reply_to_techs_only", BOB: "actor"}
    # a technician's reply still goes to every subscriber
    p = plan(TicketUpdated(1, TOM), storage, only_tech_updates_to_subscribers=True)
    assert sorted(to(p)) == [ADA, BOB, JANE]


def test_an_unknown_actor_counts_as_a_customer() -> None:
    p = plan(
        TicketUpdated(1, "stranger@example.net"),
        make_storage(assignee=None),
        only_tech_updates_to_subscribers=True,
    )
    assert sorted(to(p)) == [TIA, TOM]


# --- loop and flood protection ---


@pytest.mark.parametrize(
    "address",
    [
        "noreply@example.com",
        "no-reply@example.com",
        "No_Reply@example.com",
        "noreply+ticket-12@example.com",
        "do-not-reply@example.com",
        "donotreply@example.com",
        "MAILER-DAEMON@mx.example.com",
        "postmaster@example.com",
        "mail-delivery-subsystem@example.com",
        "bounce@example.com",
        "bounces+jane=example.com@lists.example.org",
    ],
)
def test_system_addresses(address: str) -> None:
    assert is_system_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "jane@example.com",
        "bounce.smith@example.com",
        "postmaster.general@example.com",
        "support@example.com",
        "reply@example.com",
        "not-an-address",
    ],
)
def test_people_are_not_system_addresses(address: str) -> None:
    assert not is_system_address(address)


def test_every_system_sender_the_junk_filter_discards_is_never_mailed() -> None:
    # One table for the library: what inbound discards as a system sender, outbound never mails.
    from helpdesk_mail.addresses import system_sender_rule

    for address in ("shop-noreply@x.test", "ne-pas-repondre@x.test", "no_response@x.test"):
        assert system_sender_rule(address) is not None
        assert is_system_address(address)


def test_system_helpdesk_invalid_and_suppressed_addresses_get_nothing() -> None:
    storage = make_storage(
        subscribers=(
            JANE,
            BOB,
            "noreply@vendor.example",
            "SUPPORT@acme.test",
            "help@acme.test",
            "reply@acme.test",
            "not-an-address",
        )
    )
    clock = ManualClock()
    storage.suppress(BOB, clock.now() + timedelta(days=7), "5.1.1 user unknown")
    p = plan(TicketUpdated(1, TOM), storage, clock)
    assert to(p) == [JANE]
    assert reasons(p) == {
        TOM: "actor",
        BOB: "suppressed",
        "noreply@vendor.example": "system_address",
        "support@acme.test": "helpdesk_address",
        "help@acme.test": "helpdesk_address",
        "reply@acme.test": "helpdesk_address",
        "not-an-address": "invalid_address",
    }
    assert all(isinstance(s.reason, SkipReason) for s in p.skipped)


def test_suppression_expires() -> None:
    storage, clock = make_storage(), ManualClock()
    storage.suppress(BOB, clock.now() + timedelta(days=1), "bounced")
    assert BOB not in to(plan(TicketUpdated(1, TOM), storage, clock))
    clock.advance(days=1, seconds=1)
    assert BOB in to(plan(TicketUpdated(1, TOM), storage, clock))


def test_system_and_suppressed_staff_get_nothing_either() -> None:
    storage, clock = make_storage(), ManualClock()
    storage.suppress(TOM, clock.now() + timedelta(days=1), "mailbox full")
    p = plan(TicketUpdated(1, JANE), storage, clock)
    assert TOM not in to(p) and reasons(p)[TOM] == "suppressed"


def send(p: NotificationPlan, storage: InMemoryStorage, clock: ManualClock) -> None:
    """What a sender does after each email: count it in its scopes."""
    for email in p.emails:
        storage.record_notification(scopes_for(email), clock.now())


def test_scopes_count_the_ticket_once_per_event_and_every_addressee() -> None:
    p = plan(TicketUpdated(1, TOM))
    assert [scopes_for(e) for e in p.emails] == [
        ("ticket:1", f"to:{JANE}"),
        (f"to:{BOB}",),
    ]
    (shared,) = plan(TicketUpdated(1, TOM), cc_mode=True).emails
    assert scopes_for(shared) == ("ticket:1", f"to:{JANE}", f"to:{BOB}")
    (welcome,) = plan(UserCreated("new@example.com", "pw")).emails
    assert scopes_for(welcome) == ("to:new@example.com",)


def test_hand_made_email_counts_for_its_ticket() -> None:
    email = PlannedEmail(TemplateKind.TICKET_UPDATED, TicketUpdated(3, TOM), to=(), ticket_id=3)
    assert scopes_for(email) == ("ticket:3",)


@pytest.mark.parametrize(("limit", "minutes"), [(10, 10), (15, 30), (25, 60), (50, 180)])
def test_default_ticket_limits(limit: int, minutes: int) -> None:
    storage, clock = make_storage(), ManualClock()
    start = clock.now()
    # `limit` events spread over the window, the first just inside it
    for i in range(limit):
        storage.record_notification(["ticket:1"], start + timedelta(seconds=i))
    clock.set(start + timedelta(minutes=minutes) - timedelta(seconds=1))
    p = plan(TicketUpdated(1, TOM), storage, clock)
    assert p.emails == () and set(reasons(p).values()) == {"actor", "rate_limited"}
    details = {s.detail for s in p.skipped if s.reason == "rate_limited"}
    assert details == {f"ticket 1: {limit} notifications in {minutes} minutes"}
    clock.set(start + timedelta(minutes=minutes, seconds=1))  # the oldest left the window
    assert plan(TicketUpdated(1, TOM), storage, clock).emails


def test_a_mail_loop_on_one_ticket_stops_after_ten_events_in_ten_minutes() -> None:
    storage, clock = make_storage(subscribers=(JANE, BOB, "c@example.com")), ManualClock()
    sent_events = 0
    for _ in range(30):  # an autoresponder answering every notification, every 20 s
        p = plan(TicketUpdated(1, JANE), storage, clock)
        if p.emails:
            sent_events += 1
        send(p, storage, clock)
        clock.advance(seconds=20)
    assert sent_events == 10


def test_one_event_to_many_people_counts_once_for_the_ticket() -> None:
    many = tuple(f"user{i}@example.com" for i in range(50))
    storage, clock = make_storage(subscribers=many), ManualClock()
    p = plan(TicketUpdated(1, TOM), storage, clock)
    assert len(p.emails) == 51
    send(p, storage, clock)
    assert storage.notifications_since("ticket:1", clock.now()) == 1
    assert len(plan(TicketUpdated(1, TOM), storage, clock).emails) == 51


def test_recipient_limit_leaves_out_a_flooded_customer_but_not_staff() -> None:
    storage, clock = make_storage(), ManualClock()
    for _ in range(20):
        storage.record_notification([f"to:{BOB}", f"to:{TOM}"], clock.now())
    p = plan(TicketUpdated(1, JANE), storage, clock)
    assert reasons(p) == {JANE: "actor", BOB: "rate_limited"}
    [flooded] = [s for s in p.skipped if s.email == BOB]
    assert flooded.detail == "recipient: 20 notifications in 10 minutes"
    assert TOM in to(p)


def test_custom_rate_limits_apply() -> None:
    storage, clock = make_storage(), ManualClock()
    storage.record_notification(["ticket:1"], clock.now())
    p = plan(TicketUpdated(1, TOM), storage, clock, ticket_rate_limits=(RateLimit(1, 5),))
    assert p.emails == ()
    storage.record_notification([f"to:{JANE}"], clock.now())
    p = plan(TicketUpdated(1, TOM), storage, clock, recipient_rate_limits=(RateLimit(1, 5),))
    assert to(p) == [BOB]


def test_recipient_limit_in_cc_mode_drops_only_that_address() -> None:
    storage, clock = make_storage(subscribers=(JANE, BOB, "c@example.com")), ManualClock()
    for _ in range(20):
        storage.record_notification([f"to:{JANE}"], clock.now())
    (email,) = plan(TicketUpdated(1, TOM), storage, clock, cc_mode=True).emails
    assert [r.email for r in email.to] == [BOB] and [r.email for r in email.cc] == ["c@example.com"]


class CountsOneByOne(InMemoryStorage):
    """A reader written before `notifications_since_each`: its counts are read one by one."""

    def __getattribute__(self, name: str) -> Any:
        if name == "notifications_since_each":
            raise AttributeError(name)
        return super().__getattribute__(name)


def test_a_plan_reads_its_counts_in_one_call() -> None:
    many = tuple(f"user{i}@example.com" for i in range(30))
    storage, clock = make_storage(subscribers=many), ManualClock()
    storage.record_notification([f"to:{many[0]}"], clock.now())
    storage.calls.clear()
    p = plan(TicketUpdated(1, JANE), storage, clock)
    assert len(p.emails) == 31  # the 30 and Tom
    assert storage.calls["notifications_since_each"] == 1
    assert storage.calls["notifications_since"] == 0


def scenarios() -> list[tuple[InMemoryStorage, ManualClock, Event, dict[str, Any]]]:
    """Plans near and over each rate limit, on a storage with `notifications_since_each`."""
    found: list[tuple[InMemoryStorage, ManualClock, Event, dict[str, Any]]] = []
    for storage_type in (InMemoryStorage, CountsOneByOne):
        clock = ManualClock()
        storage = storage_type()
        for user in make_storage().users_by_email.values():
            storage.add_user(user)
        storage.add_ticket(make_storage(subscribers=(JANE, BOB, "c@example.com")).tickets[1])
        for i in range(45):  # over the limits of the last 10 and 60 minutes
            at = clock.now() - timedelta(seconds=30 * i)
            storage.record_notification([f"to:{BOB}", "ticket:1"], at)
            storage.record_notification([f"from:{JANE}", "domain:many.example"], at)
        for event, notifications in [
            (TicketUpdated(1, TOM), {}),
            (TicketUpdated(1, JANE), {"ticket_rate_limits": ()}),
            (TicketUpdated(1, JANE), {"ticket_rate_limits": (), "recipient_rate_limits": ()}),
            (TicketCreated(1, JANE), {"ticket_rate_limits": ()}),
            (TicketCreated(1, "c@many.example"), {}),
        ]:
            found.append((storage, clock, event, notifications))
    return found


def test_a_reader_without_notifications_since_each_gets_the_same_plans() -> None:
    plans = [plan(event, s, clock, **notif) for s, clock, event, notif in scenarios()]
    half = len(plans) // 2
    assert plans[:half] == plans[half:]
    details = {d.detail for p in plans for d in p.skipped if d.reason == "rate_limited"}
    assert len(details) == 3, details  # the ticket, a recipient, a sender's flood


# --- the master switch, purity, errors ---


@pytest.mark.parametrize(
    "event",
    [
        TicketCreated(1, JANE),
        TicketUpdated(1, JANE),
        TicketClosed(1, TOM),
        TicketTaken(1, TIA, TOM),
        TicketMoved(1, ADA, None, "Hardware"),
    ],
)
def test_master_switch_off_plans_nothing_for_tickets(event: Event) -> None:
    assert plan(event, enabled=False, notify_all_techs_on_take=True) == NotificationPlan()


def test_planning_writes_nothing() -> None:
    storage, clock = make_storage(), ManualClock()
    storage.record_notification(["ticket:1"], clock.now())
    before = storage.snapshot()
    for event in (TicketCreated(1, JANE), TicketUpdated(1, JANE), TicketClosed(1, TOM)):
        plan(event, storage, clock)
    assert storage.snapshot() == before
    assert clock.now() == ManualClock().now()


def test_unbound_ticket_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="bind_ticket"):
        plan(TicketUpdated(None, JANE))


@pytest.mark.parametrize("event", [TicketUpdated(99, JANE), KBArticleUpdated(99, ADA)])
def test_unknown_ticket_or_article_is_an_error(event: Event) -> None:
    with pytest.raises(LookupError, match="99"):
        plan(event)


def test_same_input_same_plan() -> None:
    event = TicketUpdated(1, JANE)
    assert plan(event, notify_all_techs_on_customer_update=True) == plan(
        event, notify_all_techs_on_customer_update=True
    )


# --- issue 12: the submitter can unsubscribe; autologin for submitters; nobody lost ---


def test_an_unsubscribed_submitter_gets_no_further_updates_nor_the_closed_email() -> None:
    """#unsubscribe# from the submitter, end to end: process, commit, plan."""
    from helpdesk_mail import process_email
    from helpdesk_mail.memory import SeededRandom

    storage = make_storage(message_ids=("<t1@example.com>",))
    raw = (
        f"From: {JANE}\r\nTo: support@acme.test\r\nSubject: Re: Printer on fire #unsubscribe#\r\n"
        "In-Reply-To: <t1@example.com>\r\nMessage-ID: <u1@example.com>\r\n\r\n\r\n"
    ).encode()
    result = process_email(raw, settings(), storage, ManualClock(), random=SeededRandom(0))
    storage.commit(result.actions, events=result.events)
    ticket = storage.ticket(1)
    assert ticket is not None and JANE in ticket.unsubscribed and JANE not in ticket.subscribers
    assert JANE not in to(plan(TicketUpdated(1, TOM), storage))
    closed = plan(TicketClosed(1, TOM), storage)
    assert JANE not in to(closed) and to(closed) == [BOB]


def test_a_submitter_not_listed_as_subscriber_can_still_unsubscribe() -> None:
    storage = make_storage(subscribers=(BOB,), message_ids=("<t1@example.com>",))
    assert JANE in to(plan(TicketUpdated(1, TOM), storage))  # notified though not listed
    storage.commit([RemoveSubscriber(1, JANE)])
    assert JANE not in to(plan(TicketUpdated(1, TOM), storage))


def test_a_customers_reply_on_an_unassigned_uncategorised_ticket_reaches_the_admins() -> None:
    storage = make_storage(assignee=None, category=None)
    p = plan(TicketUpdated(1, JANE), storage)
    assert ADA in to(p)  # the only administrator: nobody else would hear of the reply
    assert all(s.reason != "no_staff" for s in p.skipped)


def test_the_fallback_goes_to_the_technicians_of_the_category_before_the_admins() -> None:
    storage = make_storage(assignee=None)
    p = plan(TicketUpdated(1, JANE), storage, notify_techs_new_tickets=False)
    assert sorted(e for e in to(p) if e in (TOM, TIA, ADA)) == [TIA, TOM]


def test_a_customers_reply_that_reaches_no_staff_says_so() -> None:
    storage = InMemoryStorage()
    storage.add_user(User(JANE, name="Jane Doe"))
    storage.add_ticket(Ticket(1, "Printer on fire", JANE, subscribers=(JANE, BOB)))
    p = plan(TicketUpdated(1, JANE), storage)
    assert ("", "no_staff") in {(s.email, s.reason) for s in p.skipped}
    assert to(p) == [BOB]


def test_no_fallback_for_a_technicians_reply_nor_for_new_tickets_switched_off() -> None:
    storage = make_storage(assignee=None, category=None)
    assert ADA not in to(plan(TicketUpdated(1, TOM), storage))
    p = plan(TicketCreated(1, JANE), storage, notify_admins_new_tickets=False)
    assert ADA not in to(p)
    assert ("", "no_staff") in {(s.email, s.reason) for s in p.skipped}


def test_twelve_quick_updates_send_ten_and_report_the_rest_as_rate_limited() -> None:
    storage, clock = make_storage(subscribers=(JANE,)), ManualClock()
    dropped = []
    for _ in range(12):
        p = plan(TicketUpdated(1, TOM), storage, clock)
        send(p, storage, clock)
        dropped.extend(s for s in p.skipped if s.reason == "rate_limited")
        clock.advance(seconds=10)
    assert [s.email for s in dropped] == [JANE, JANE]
    assert {s.detail for s in dropped} == {"ticket 1: 10 notifications in 10 minutes"}
