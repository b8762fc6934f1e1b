"""Properties of the notification planner over random helpdesks, events and settings.

A small pool of addresses is shared by every role (submitter, subscribers, assignee,
staff, actor, suppressed, system and helpdesk addresses), so that one person often holds
several roles at once: that is where "one email per person" and "the actor never hears
of their own action" can break.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

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
    ACCOUNT_MAIL,
    RECEIPTS,
    is_system_address,
    plan_notifications,
    scopes_for,
)
from helpdesk_mail.planned import NotificationPlan, Recipient
from helpdesk_mail.settings import (
    IncomingSettings,
    NotificationSettings,
    OutgoingSettings,
    RateLimit,
    Settings,
)

HELPDESK = "support@acme.test"
SYSTEM = ("noreply@example.com", "MAILER-DAEMON@example.com", "bounces+x=y@lists.example.org")
PEOPLE = tuple(f"c{i}@example.com" for i in range(4)) + tuple(f"s{i}@acme.test" for i in range(4))
POOL = (*PEOPLE, *SYSTEM, HELPDESK)
CATEGORIES = ("A", "B", "C")

category = st.sampled_from((*CATEGORIES, None))
address = st.sampled_from(POOL)
maybe_address = st.none() | address
subscriber_lists = st.lists(address, max_size=8)
suppressed_sets = st.frozensets(address, max_size=3)


roles = st.sampled_from((None, Role.USER, Role.TECHNICIAN, Role.ADMIN))
served = st.frozensets(st.sampled_from(CATEGORIES))
history = st.lists(
    st.tuples(st.sampled_from(["ticket:1", *(f"to:{a}" for a in POOL)]), st.integers(0, 30))
)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[InMemoryStorage, ManualClock, frozenset[str]]:
    """A storage with random users, one ticket (id 1), one KB article (id 7), and history."""
    storage, clock = InMemoryStorage(), ManualClock()
    for email in POOL:
        role = draw(roles)
        if role is not None:
            storage.add_user(User(email, role=role, categories=draw(served)))
    storage.add_ticket(
        Ticket(
            1,
            subject="s",
            submitter=draw(address),
            category=draw(category),
            assignee=draw(maybe_address),
            subscribers=tuple(draw(subscriber_lists)),
        )
    )
    storage.add_kb_article(KBArticle(7, "kb", category=draw(category)))
    suppressed = draw(suppressed_sets)
    for email in suppressed:
        storage.suppress(email, clock.now() + timedelta(days=1), "bounced")
    for scope, minutes_ago in draw(history):
        storage.record_notification([scope], clock.now() - timedelta(minutes=minutes_ago))
    return storage, clock, frozenset(e.lower() for e in suppressed)


actor = st.one_of(address, st.just("stranger@example.net"), st.just(""))

events: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        TicketCreated,
        st.just(1),
        actor,
        st.sampled_from(Via),
        auto_response_allowed=st.booleans(),
    ),
    st.builds(
        TicketUpdated,
        st.just(1),
        actor,
        techs_only=st.booleans(),
        has_attachments=st.booleans(),
    ),
    st.builds(TicketClosed, st.just(1), actor),
    st.builds(TicketTaken, st.just(1), actor, maybe_address),
    st.builds(TicketMoved, st.just(1), actor, category, category),
    st.builds(KBArticleUpdated, st.just(7), actor),
    st.builds(UserCreated, address, st.just("pw"), actor),
    st.builds(MailboxAccountDisabled, st.just("support"), st.integers(1, 9), st.just("err")),
)

notification_settings = st.builds(
    NotificationSettings,
    # every on/off switch, read from the dataclass so that a new one is covered too
    **{
        f.name: st.booleans()
        for f in dataclasses.fields(NotificationSettings)
        if f.type in ("bool", bool)
    },
    ticket_rate_limits=st.sampled_from([(RateLimit(10, 10),), (RateLimit(100, 600),)]),
    recipient_rate_limits=st.sampled_from([(RateLimit(3, 10),), (RateLimit(100, 600),)]),
)

Case = tuple[Event, NotificationSettings, InMemoryStorage, ManualClock, frozenset[str]]


@st.composite
def cases(draw: st.DrawFn, event: st.SearchStrategy[Event] = events) -> Case:
    """An event, settings and a world to plan it in."""
    storage, clock, suppressed = draw(worlds())
    return draw(event), draw(notification_settings), storage, clock, suppressed


techs_only_notes = st.builds(TicketUpdated, st.just(1), actor, techs_only=st.just(True))
replies = st.builds(TicketUpdated, st.just(1), actor, techs_only=st.booleans())


def run(case: Case) -> NotificationPlan:
    """Plan the case."""
    event, notif, storage, clock, _ = case
    full = Settings(
        incoming=IncomingSettings(helpdesk_addresses=(HELPDESK,)),
        notifications=notif,
        outgoing=OutgoingSettings(from_address=HELPDESK),
    )
    return plan_notifications(event, full, storage, clock)


def received(p: NotificationPlan) -> list[tuple[TemplateKind, Recipient, bool]]:
    """Every (template, recipient, cc_mode) of the plan."""
    return [(e.template, r, e.cc_mode) for e in p.emails for r in (*e.to, *e.cc)]


def is_staff(storage: InMemoryStorage, email: str) -> bool:
    """Whether `email` belongs to a technician or an administrator."""
    user = storage.user(email)
    return user is not None and user.is_staff


props = settings(max_examples=300, deadline=None)


@props
@given(cases())
def test_the_actor_never_receives_but_a_receipt(case: Case) -> None:
    event = case[0]
    actor_email = getattr(event, "actor", "").strip().lower()
    for template, recipient, _ in received(run(case)):
        if recipient.email == actor_email:
            assert template in RECEIPTS


@props
@given(cases(techs_only_notes))
def test_a_techs_only_comment_never_reaches_a_non_technician(case: Case) -> None:
    storage = case[2]
    for _, recipient, _ in received(run(case)):
        assert is_staff(storage, recipient.email)
        assert recipient.role.is_staff


@props
@given(cases(replies))
def test_a_customer_reply_reaches_only_staff_when_so_configured(case: Case) -> None:
    event, notif, storage, _, _ = case
    assert isinstance(event, TicketUpdated)
    if notif.only_tech_updates_to_subscribers and not is_staff(storage, event.actor):
        assert all(is_staff(storage, r.email) for _, r, _ in received(run(case)))


@props
@given(cases())
def test_nobody_gets_two_emails_for_one_event(case: Case) -> None:
    p = run(case)
    addresses = [r.email for _, r, _ in received(p)]
    skipped = [s.email for s in p.skipped]
    assert len(addresses) == len(set(addresses))
    assert len(skipped) == len(set(skipped))
    assert not set(addresses) & set(skipped)


@props
@given(cases())
def test_cc_mode_never_carries_autologin_or_rating_links(case: Case) -> None:
    p = run(case)
    cc_setting = case[1].cc_mode
    for email in p.emails:
        if not email.cc_mode:
            assert len(email.to) == 1 and email.cc == ()
    for _, recipient, cc_mode in received(p):
        if cc_mode or cc_setting:
            assert not recipient.autologin and not recipient.rating_links


@props
@given(cases())
def test_suppressed_system_and_helpdesk_addresses_never_receive(case: Case) -> None:
    suppressed = case[4]
    for _, recipient, _ in received(run(case)):
        assert recipient.email not in suppressed
        assert not is_system_address(recipient.email)
        assert recipient.email != HELPDESK


@props
@given(cases())
def test_autologin_and_rating_links_go_only_where_allowed(case: Case) -> None:
    _, notif, storage, _, _ = case
    ticket = storage.ticket(1)
    assert ticket is not None
    for template, recipient, _ in received(run(case)):
        if recipient.autologin:
            user = storage.user(recipient.email)
            assert notif.autologin_links and user is not None and user.role is Role.USER
            assert template is not TemplateKind.WELCOME
        if recipient.rating_links:
            assert template is TemplateKind.TICKET_CLOSED
            assert recipient.email == ticket.submitter


@props
@given(cases())
def test_master_switch_off_leaves_only_account_mail(case: Case) -> None:
    event, notif, _, _, _ = case
    if not notif.enabled and type(event) not in ACCOUNT_MAIL:
        assert run(case) == NotificationPlan()


@props
@given(cases())
def test_one_email_per_event_counts_for_the_ticket(case: Case) -> None:
    p = run(case)
    ticket_scoped = [e for e in p.emails if "ticket:1" in scopes_for(e)]
    assert len(ticket_scoped) == (1 if p.emails and p.emails[0].ticket_id is not None else 0)


@props
@given(cases())
def test_planning_is_pure_and_repeatable(case: Case) -> None:
    storage = case[2]
    before = storage.snapshot()
    first = run(case)
    assert storage.snapshot() == before
    assert run(case) == first
