"""The notification rules as a matrix: every event, every boolean setting on and off.

One small helpdesk (`world()`), one event per scenario. `BASELINE` is what each scenario
plans with the default settings; `FLIPS` lists, for each (scenario, setting) whose
flipped value changes anything, the whole expected plan. Every (scenario, setting) pair
that is not in `FLIPS` must plan exactly the baseline, so the test below runs each
scenario under every boolean setting of `NotificationSettings`, on and off.

An email is written `"<template> <address>[ +login][ +rating][ -att]"` (`+login`: an
autologin link; `+rating`: rating links; `-att`: a ticket email without attachments);
a CC-mode email `"<template> cc <to> | <cc>,<cc>..."`; a skipped person
`"<address> <reason>"`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

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
from helpdesk_mail.memory import InMemoryStorage, ManualClock
from helpdesk_mail.model import KBArticle, Role, Ticket, User
from helpdesk_mail.outbound.plan import TICKET_TEMPLATES, plan_notifications
from helpdesk_mail.planned import NotificationPlan, PlannedEmail, Recipient
from helpdesk_mail.settings import IncomingSettings, NotificationSettings, Settings

SUBSCRIBERS = ("jane@example.com", "bob@example.com", "carl@example.com", "sam@acme.test")


def world() -> InMemoryStorage:
    """Two admins, four technicians, two customers with accounts, one without, two tickets."""
    storage = InMemoryStorage()
    for user in (
        User("ada@acme.test", name="Ada Admin", role=Role.ADMIN),
        User("abe@acme.test", name="Abe Admin", role=Role.ADMIN),
        User("tom@acme.test", name="Tom", role=Role.TECHNICIAN, categories=frozenset({"Hardware"})),
        User("hal@acme.test", name="Hal", role=Role.TECHNICIAN, categories=frozenset({"Hardware"})),
        User("tia@acme.test", role=Role.TECHNICIAN, categories=frozenset({"Hardware", "Software"})),
        User("sam@acme.test", role=Role.TECHNICIAN, categories=frozenset({"Software"})),
        User("nat@acme.test", role=Role.TECHNICIAN, categories=frozenset({"Network"})),
        User("jane@example.com", name="Jane Doe"),
        User("bob@example.com"),
    ):
        storage.add_user(user)
    # carl@example.com is subscribed but has no account.
    common: dict[str, Any] = {
        "subject": "Printer on fire",
        "submitter": "jane@example.com",
        "category": "Hardware",
        "subscribers": SUBSCRIBERS,
    }
    storage.add_ticket(Ticket(1, assignee="tom@acme.test", **common))
    storage.add_ticket(Ticket(2, **common))
    storage.add_kb_article(KBArticle(7, "Resetting the print spooler", category="Software"))
    return storage


SCENARIOS: dict[str, Event] = {
    "created_by_email": TicketCreated(1, "jane@example.com", Via.EMAIL),
    "created_on_web_by_tech": TicketCreated(2, "tia@acme.test", Via.WEB),
    "customer_reply": TicketUpdated(1, "jane@example.com"),
    "customer_reply_unassigned": TicketUpdated(2, "jane@example.com"),
    "tech_reply": TicketUpdated(1, "tom@acme.test"),
    "techs_only_note": TicketUpdated(1, "tia@acme.test", techs_only=True),
    "closed_by_tech": TicketClosed(1, "tom@acme.test"),
    "taken": TicketTaken(1, "tia@acme.test", previous_assignee="tom@acme.test"),
    "moved": TicketMoved(1, "ada@acme.test", old_category="Software", new_category="Hardware"),
    "kb_updated": KBArticleUpdated(7, "sam@acme.test"),
    "user_created": UserCreated("newbie@example.com", "s3cret"),
    "mailbox_disabled": MailboxAccountDisabled("support", 5, "AUTHENTICATIONFAILED"),
}

Expect = tuple[set[str], set[str]]  # (emails, skipped)

BASELINE: dict[str, Expect] = {
    "created_by_email": (
        {
            "ticket_confirmation jane@example.com +login",
            "new_ticket tom@acme.test",  # the assignee
            "new_ticket ada@acme.test",
            "new_ticket abe@acme.test",
            "new_ticket hal@acme.test",
            "new_ticket tia@acme.test",
        },
        set(),
    ),
    "created_on_web_by_tech": (
        {
            "new_ticket ada@acme.test",
            "new_ticket abe@acme.test",
            "new_ticket hal@acme.test",
            "new_ticket tom@acme.test",
        },
        {"tia@acme.test actor"},
    ),
    "customer_reply": (
        {
            "ticket_updated tom@acme.test",
            "ticket_updated bob@example.com +login",
            "ticket_updated carl@example.com",
            "ticket_updated sam@acme.test",
        },
        {"jane@example.com actor"},
    ),
    "customer_reply_unassigned": (
        {
            "ticket_updated hal@acme.test",
            "ticket_updated tia@acme.test",
            "ticket_updated tom@acme.test",
            "ticket_updated bob@example.com +login",
            "ticket_updated carl@example.com",
            "ticket_updated sam@acme.test",
        },
        {"jane@example.com actor"},
    ),
    "tech_reply": (
        {
            "ticket_updated jane@example.com +login",
            "ticket_updated bob@example.com +login",
            "ticket_updated carl@example.com",
            "ticket_updated sam@acme.test",
        },
        {"tom@acme.test actor"},
    ),
    "techs_only_note": (
        {"ticket_updated tom@acme.test", "ticket_updated sam@acme.test"},
        {
            "jane@example.com techs_only",
            "bob@example.com techs_only",
            "carl@example.com techs_only",
        },
    ),
    "closed_by_tech": (
        {
            "ticket_closed jane@example.com +login +rating",
            "ticket_closed bob@example.com +login",
            "ticket_closed carl@example.com",
            "ticket_closed sam@acme.test",
        },
        {"tom@acme.test actor"},
    ),
    "taken": ({"ticket_taken tom@acme.test"}, set()),
    "moved": ({"ticket_moved hal@acme.test", "ticket_moved tom@acme.test"}, set()),
    "kb_updated": (set(), set()),
    "user_created": ({"welcome newbie@example.com"}, set()),
    "mailbox_disabled": (
        {"mailbox_disabled ada@acme.test", "mailbox_disabled abe@acme.test"},
        set(),
    ),
}


def _without(expect: Expect, suffix: str) -> Expect:
    emails, skipped = expect
    return {e.replace(suffix, "") for e in emails}, skipped


def _no_attachments(expect: Expect) -> Expect:
    emails, skipped = expect
    out = set()
    for e in emails:
        ticket_email = e.split(" ")[0] in {str(t) for t in TICKET_TEMPLATES}
        out.add(f"{e} -att" if ticket_email and " cc " not in e else e)
    return out, skipped


EMPTY: Expect = (set(), set())
B = BASELINE

FLIPS: dict[tuple[str, str], Expect] = {
    # --- the master switch: ticket mail stops, account mail does not ---
    **{
        (name, "enabled"): EMPTY
        for name in SCENARIOS
        if name not in {"user_created", "mailbox_disabled"}
    },
    # --- "Ticket closed" notification ---
    ("closed_by_tech", "ticket_closed"): EMPTY,
    # --- ticket confirmation: only for tickets by email ---
    ("created_by_email", "ticket_confirmation"): (
        B["created_by_email"][0] - {"ticket_confirmation jane@example.com +login"},
        set(),
    ),
    # --- all administrators of new tickets ---
    ("created_by_email", "notify_admins_new_tickets"): (
        B["created_by_email"][0] - {"new_ticket ada@acme.test", "new_ticket abe@acme.test"},
        set(),
    ),
    ("created_on_web_by_tech", "notify_admins_new_tickets"): (
        {"new_ticket hal@acme.test", "new_ticket tom@acme.test"},
        {"tia@acme.test actor"},
    ),
    # --- technicians of the category: new tickets, moves, unassigned customer replies ---
    ("created_by_email", "notify_techs_new_tickets"): (
        B["created_by_email"][0] - {"new_ticket hal@acme.test", "new_ticket tia@acme.test"},
        set(),
    ),
    ("created_on_web_by_tech", "notify_techs_new_tickets"): (
        {"new_ticket ada@acme.test", "new_ticket abe@acme.test"},
        set(),
    ),
    ("customer_reply_unassigned", "notify_techs_new_tickets"): (
        {
            "ticket_updated bob@example.com +login",
            "ticket_updated carl@example.com",
            "ticket_updated sam@acme.test",
        },
        {"jane@example.com actor"},
    ),
    ("moved", "notify_techs_new_tickets"): EMPTY,
    # --- ALL technicians of the category on a customer's update ---
    ("customer_reply", "notify_all_techs_on_customer_update"): (
        B["customer_reply"][0] | {"ticket_updated hal@acme.test", "ticket_updated tia@acme.test"},
        {"jane@example.com actor"},
    ),
    # --- ALL technicians of the category when another technician takes a ticket ---
    ("taken", "notify_all_techs_on_take"): (
        {"ticket_taken tom@acme.test", "ticket_taken hal@acme.test"},
        {"tia@acme.test actor"},
    ),
    # --- technicians of the article's category on KB updates ---
    ("kb_updated", "notify_techs_on_kb_update"): (
        {"kb_article_updated tia@acme.test"},
        {"sam@acme.test actor"},
    ),
    # --- attachments ---
    **{
        (name, "include_attachments"): _no_attachments(B[name])
        for name in SCENARIOS
        if any(e.split(" ")[0] in {str(t) for t in TICKET_TEMPLATES} for e in B[name][0])
    },
    # --- autologin links ---
    **{
        (name, "autologin_links"): _without(B[name], " +login")
        for name in SCENARIOS
        if any("+login" in e for e in B[name][0])
    },
    # --- CC mode: one email to the subscribers; no autologin, no rating links ---
    ("created_by_email", "cc_mode"): _without(B["created_by_email"], " +login"),
    ("customer_reply", "cc_mode"): (
        {
            "ticket_updated tom@acme.test",
            "ticket_updated cc bob@example.com | carl@example.com,sam@acme.test",
        },
        {"jane@example.com actor"},
    ),
    ("customer_reply_unassigned", "cc_mode"): (
        {
            "ticket_updated hal@acme.test",
            "ticket_updated tia@acme.test",
            "ticket_updated tom@acme.test",
            "ticket_updated cc bob@example.com | carl@example.com,sam@acme.test",
        },
        {"jane@example.com actor"},
    ),
    ("tech_reply", "cc_mode"): (
        {
            "ticket_updated cc jane@example.com | bob@example.com,carl@example.com,sam@acme.test",
        },
        {"tom@acme.test actor"},
    ),
    ("techs_only_note", "cc_mode"): (
        {"ticket_updated tom@acme.test", "ticket_updated cc sam@acme.test | "},
        B["techs_only_note"][1],
    ),
    ("closed_by_tech", "cc_mode"): (
        {"ticket_closed cc jane@example.com | bob@example.com,carl@example.com,sam@acme.test"},
        {"tom@acme.test actor"},
    ),
    # --- only send updates to subscribers when sent by techs ---
    ("customer_reply", "only_tech_updates_to_subscribers"): (
        {"ticket_updated tom@acme.test", "ticket_updated sam@acme.test"},
        {
            "jane@example.com actor",
            "bob@example.com customer_reply_to_techs_only",
            "carl@example.com customer_reply_to_techs_only",
        },
    ),
    ("customer_reply_unassigned", "only_tech_updates_to_subscribers"): (
        {
            "ticket_updated hal@acme.test",
            "ticket_updated tia@acme.test",
            "ticket_updated tom@acme.test",
            "ticket_updated sam@acme.test",
        },
        {
            "jane@example.com actor",
            "bob@example.com customer_reply_to_techs_only",
            "carl@example.com customer_reply_to_techs_only",
        },
    ),
}

BOOL_SETTINGS = [
    f.name for f in dataclasses.fields(NotificationSettings) if f.type in ("bool", bool)
]
DEFAULTS = NotificationSettings()


def describe_recipient(r: Recipient) -> str:
    """An address with its flags."""
    return r.email + (" +login" if r.autologin else "") + (" +rating" if r.rating_links else "")


def describe_email(e: PlannedEmail) -> str:
    """One planned email in the notation of the module docstring."""
    if e.cc_mode:
        to = ",".join(describe_recipient(r) for r in e.to)
        cc = ",".join(describe_recipient(r) for r in e.cc)
        return f"{e.template} cc {to} | {cc}"
    (recipient,) = e.to
    att = " -att" if e.template in TICKET_TEMPLATES and not e.include_attachments else ""
    return f"{e.template} {describe_recipient(recipient)}{att}"


def describe(plan: NotificationPlan) -> Expect:
    """The plan as (emails, skipped) sets, after checking nobody appears twice."""
    emails = [describe_email(e) for e in plan.emails]
    assert len(emails) == len(set(emails))
    return set(emails), {f"{s.email} {s.reason}" for s in plan.skipped}


def run(scenario: str, **notifications: Any) -> Expect:
    """Plan a scenario in a fresh world under the given notification settings."""
    settings = Settings(
        incoming=IncomingSettings(helpdesk_addresses=("support@acme.test",)),
        notifications=NotificationSettings(**notifications),
    )
    return describe(plan_notifications(SCENARIOS[scenario], settings, world(), ManualClock()))


def test_every_boolean_setting_is_in_the_matrix() -> None:
    assert set(BOOL_SETTINGS) >= {
        "enabled",
        "ticket_closed",
        "ticket_confirmation",
        "notify_admins_new_tickets",
        "notify_techs_new_tickets",
        "notify_all_techs_on_customer_update",
        "notify_all_techs_on_take",
        "notify_techs_on_kb_update",
        "include_attachments",
        "autologin_links",
        "cc_mode",
        "only_tech_updates_to_subscribers",
    }
    assert set(BASELINE) == set(SCENARIOS)
    for scenario, setting in FLIPS:
        assert scenario in SCENARIOS and setting in BOOL_SETTINGS


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_baseline_with_default_settings(scenario: str) -> None:
    assert run(scenario) == BASELINE[scenario]


@pytest.mark.parametrize("setting", BOOL_SETTINGS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("value", [True, False], ids=["on", "off"])
def test_every_setting_on_and_off(scenario: str, setting: str, value: bool) -> None:
    flipped = value != getattr(DEFAULTS, setting)
    expected = FLIPS.get((scenario, setting), BASELINE[scenario]) if flipped else BASELINE[scenario]
    assert run(scenario, **{setting: value}) == expected
