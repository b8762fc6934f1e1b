"""Every event type and every kind of email has its row in every table: no silent fallback.

The checklist of the rows a new event type needs is at the top of
src/helpdesk_mail/outbound/per_event.py; these tests fail until each is there.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping

import pytest

from helpdesk_mail import events
from helpdesk_mail.events import TicketCreated
from helpdesk_mail.kinds import KINDS, MaskGroup, TemplateKind
from helpdesk_mail.outbound import per_event
from helpdesk_mail.outbound.compose import build_template_data
from helpdesk_mail.outbound.per_event import (
    EVENTS,
    NAMES,
    WHAT_HAPPENED,
    About,
    SentenceFacts,
    Shows,
    event_row,
    sentence_names,
    what_happened,
)
from helpdesk_mail.outbound.plan import RULES, plan_notifications
from helpdesk_mail.samples import preview
from helpdesk_mail.samples.preview import (
    SAMPLES,
    sample_clock,
    sample_planned,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.templating.render import default_template

EVENT_TYPES: tuple[type[object], ...] = typing.get_args(events.Event)
KIND_LIST = tuple(TemplateKind)
SAMPLE_EVENTS: Mapping[type[object], events.Event] = {
    type(p.event): p.event for p in SAMPLES.values()
}
ABOUT_FIELDS = {
    About.TICKET: {"ticket_id"},
    About.ARTICLE: {"article_id"},
    About.NEW_USER: {"email", "password"},
    About.ACCOUNT: set(),
}
SHOWS_FIELDS = {Shows.NOTHING: set(), Shows.TICKET: set(), Shows.COMMENT: {"comment_id", "actor"}}


def _name(t: type[object]) -> str:
    return t.__name__


def test_the_event_union_is_what_the_tables_are_checked_against() -> None:
    assert len(EVENT_TYPES) >= 8
    assert all(dataclasses.is_dataclass(t) for t in EVENT_TYPES)


# --- per event type ------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=_name)
def test_every_event_type_has_its_planner_rules(event_type: type[object]) -> None:
    assert RULES.get(event_type), f"outbound/plan.py RULES has no row for {event_type.__name__}"


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=_name)
def test_every_event_type_has_its_template_data_row(event_type: type[object]) -> None:
    row = EVENTS.get(event_type)
    assert row is not None, f"outbound/per_event.py EVENTS has no row for {event_type.__name__}"
    fields = {f.name for f in dataclasses.fields(event_type)}  # type: ignore[arg-type]
    assert ABOUT_FIELDS[row.about] <= fields
    assert SHOWS_FIELDS[row.shows] <= fields
    if row.shows is not Shows.NOTHING:
        assert row.about is About.TICKET


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=_name)
def test_every_event_type_has_its_sentence(event_type: type[object]) -> None:
    assert (event_type, None) in WHAT_HAPPENED, (
        f"outbound/per_event.py WHAT_HAPPENED has no (event, None) row for {event_type.__name__}"
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=_name)
def test_every_event_type_has_a_preview_sample(event_type: type[object]) -> None:
    assert event_type in SAMPLE_EVENTS, (
        f"samples/preview.py SAMPLES shows no {event_type.__name__}: give a kind it plans "
        "a sample of it"
    )


def test_the_tables_have_no_rows_for_unknown_event_types() -> None:
    known = set(EVENT_TYPES)
    assert set(RULES) <= known
    assert set(EVENTS) <= known
    assert {event_type for event_type, _ in WHAT_HAPPENED} <= known
    assert {kind for _, kind in WHAT_HAPPENED} - {None} <= set(TemplateKind)


@pytest.mark.parametrize(
    "key", list(WHAT_HAPPENED), ids=lambda k: f"{k[0].__name__}-{k[1] or 'any kind'}"
)
def test_every_sentence_uses_only_known_names_and_fills_them_from_its_event(
    key: tuple[type[object], TemplateKind | None],
) -> None:
    event_type, kind = key
    sentence = WHAT_HAPPENED[key]
    assert set(sentence_names(sentence)) <= set(NAMES)
    facts = SentenceFacts(SAMPLE_EVENTS[event_type], "Jane Doe", "An article")
    text = what_happened(kind or TemplateKind.TICKET_UPDATED, facts)
    assert "{" not in text and "}" not in text
    assert ("Jane Doe" in text) == ("who" in sentence_names(sentence))


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=_name)
def test_the_planner_loads_what_every_event_is_about(event_type: type[object]) -> None:
    # The planner's own list of ticket and article events (plan._Context) must agree with
    # EVENTS: an event about a missing ticket or article is an error, not an empty plan.
    event = SAMPLE_EVENTS[event_type]
    about = event_row(event).about
    if about is About.TICKET:
        missing = dataclasses.replace(event, ticket_id=999_999)  # type: ignore[type-var]
    elif about is About.ARTICLE:
        missing = dataclasses.replace(event, article_id=999_999)  # type: ignore[type-var]
    else:
        plan = plan_notifications(event, sample_settings(), sample_storage(), sample_clock())
        assert plan.emails
        return
    with pytest.raises(LookupError):
        plan_notifications(missing, sample_settings(), sample_storage(), sample_clock())


def test_an_event_type_without_rows_is_an_error_not_a_default() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unheard:
        actor: str = "x@y.test"

    event = typing.cast(events.Event, Unheard())
    with pytest.raises(LookupError, match="EVENTS"):
        event_row(event)
    with pytest.raises(LookupError, match="WHAT_HAPPENED"):
        what_happened(TemplateKind.TICKET_UPDATED, SentenceFacts(event))
    planned = dataclasses.replace(sample_planned(TemplateKind.TICKET_UPDATED), event=event)
    with pytest.raises(LookupError, match="EVENTS"):
        build_template_data(planned, sample_settings(), sample_storage(), sample_clock())


def test_a_kind_specific_sentence_applies_to_that_kind_only() -> None:
    facts = SentenceFacts(TicketCreated(1, "jane@example.com"), "Jane Doe")
    assert what_happened(TemplateKind.TICKET_CONFIRMATION, facts) == (
        "Your ticket has been received."
    )
    assert what_happened(TemplateKind.NEW_TICKET, facts) == (
        "A new ticket has been submitted by Jane Doe."
    )


# --- per kind of email ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_LIST, ids=str)
def test_every_kind_has_its_facts(kind: TemplateKind) -> None:
    assert kind in KINDS, f"kinds.py KINDS has no row for {kind.value}"


@pytest.mark.parametrize("kind", KIND_LIST, ids=str)
def test_the_facts_of_every_kind_imply_what_kinds_py_says(kind: TemplateKind) -> None:
    row = KINDS[kind]
    assert not row.new_message or row.about_ticket
    assert not row.human_from or row.new_message
    assert not row.rating or row.about_ticket
    assert row.about_ticket == (row.masks is MaskGroup.TICKET)


@pytest.mark.parametrize("kind", KIND_LIST, ids=str)
def test_every_kind_has_a_default_template(kind: TemplateKind) -> None:
    subject, body = default_template(kind)
    assert subject.strip() and body.strip()


@pytest.mark.parametrize("kind", KIND_LIST, ids=str)
def test_every_kind_has_a_preview_sample_the_planner_could_make(kind: TemplateKind) -> None:
    planned = sample_planned(kind)
    assert planned.template is kind
    rules = RULES[type(planned.event)]
    assert kind in {rule.template for rule in rules}


@pytest.mark.parametrize("kind", KIND_LIST, ids=str)
def test_every_kind_is_planned_by_some_rule(kind: TemplateKind) -> None:
    assert any(rule.template is kind for rows in RULES.values() for rule in rows)


def test_sample_planned_raises_for_a_kind_it_does_not_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError):
        sample_planned("no_such_kind")
    fewer = {k: v for k, v in SAMPLES.items() if k is not TemplateKind.MAILBOX_DISABLED}
    monkeypatch.setattr(preview, "SAMPLES", fewer)
    with pytest.raises(LookupError, match="mailbox_disabled"):
        sample_planned(TemplateKind.MAILBOX_DISABLED)


def test_the_checklist_names_every_table() -> None:
    doc = per_event.__doc__ or ""
    for table in ("Event", "RULES", "EVENTS", "WHAT_HAPPENED", "KINDS", "defaults", "SAMPLES"):
        assert table in doc
