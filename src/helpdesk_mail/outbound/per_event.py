"""What the outgoing side knows per event type: what an email about it is about and says.

Adding an event type (the checklist; tests/unit/test_tables.py fails until every row
is there, for every type of the `events.Event` union and every `TemplateKind`):

 1. events.py: the frozen dataclass, added to the `Event` union; exported from
    `helpdesk_mail/__init__.py`. An event whose ticket is created in the same commit
    (`ticket_id` None until then) also goes in `events._PENDING_TICKET`.
 2. outbound/plan.py: its `RULES` row (who gets which kind of email), and if needed
    `RESTRICTIONS`, `ACCOUNT_MAIL` (sent with notifications off) and, for an event
    about a ticket or an article, the `isinstance` in `_Context.__init__` that loads it.
 3. Here: its `EVENTS` row (what it is about, which message it shows) and its
    `WHAT_HAPPENED` row (the sentence; every `{name}` in it must be in `NAMES`).
 4. For a new kind of email as well: `kinds.TemplateKind` and its `kinds.KINDS` row
    (the masks it may use follow from `KindFacts.masks`), the default template
    `templating/defaults/<kind>.html`, and the preview sample `samples/preview.py`
    `SAMPLES[<kind>]` (whose golden files tests/golden/<kind>.* the render test writes
    with `UPDATE_GOLDEN=1`).

Invariants of the tables below:
 1. Every event type has exactly one `EVENTS` row and one `WHAT_HAPPENED` row with
    kind None; nothing falls back to a default row (`event_row` raises).
 2. `About` says which fields the event has: TICKET a `ticket_id`, ARTICLE an
    `article_id`, NEW_USER an `email` and a `password`; ACCOUNT none.
 3. `Shows.COMMENT` needs a `comment_id` and an `actor` (the comment shown is the one
    with that id, else the actor's latest, else the latest); it and `Shows.TICKET`
    (the ticket's first message) only make sense for events about a ticket.
 4. A `WHAT_HAPPENED` row for (event, kind) overrides the event's sentence in emails
    of that kind only (the confirmation says "Your ticket has been received.").
 5. Sentences are `str.format` templates filled with plain text (the masks escape
    it); the names they use are read from `NAMES`, only the ones each sentence needs.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..events import (
    Event,
    InboundFlood,
    KBArticleUpdated,
    MailboxAccountDisabled,
    MessageTooLarge,
    StaffAddressSuppressed,
    TicketClosed,
    TicketCreated,
    TicketMoved,
    TicketTaken,
    TicketUpdated,
    UserCreated,
)
from ..kinds import TemplateKind

__all__ = [
    "EVENTS",
    "NAMES",
    "WHAT_HAPPENED",
    "About",
    "EventFacts",
    "SentenceFacts",
    "Shows",
    "event_row",
    "sentence_names",
    "what_happened",
]


class About(StrEnum):
    """What an email about an event is about: which record its masks describe."""

    TICKET = "ticket"
    """A ticket (`ticket_id`): the ticket masks show it, its log and its files."""
    ARTICLE = "article"
    """A knowledge-base article (`article_id`): its title, category and link."""
    ACCOUNT = "account"
    """An incoming mailbox account, or a message it did not accept: only the sentence and
    the helpdesk's link."""
    NEW_USER = "new_user"
    """A new user's account (`email`, `password`): the welcome email's masks."""


class Shows(StrEnum):
    """Which message an email shows under its sentence (`#What_Happened#`)."""

    NOTHING = "nothing"
    TICKET = "ticket"
    """The ticket's first message, and its files as the recent attachments."""
    COMMENT = "comment"
    """The event's comment (not to customers when techs-only), and its files."""


@dataclass(frozen=True)
class EventFacts:
    """One row of `EVENTS`."""

    about: About
    shows: Shows = Shows.NOTHING


_T, _A, _C, _U = About.TICKET, About.ARTICLE, About.ACCOUNT, About.NEW_USER

# fmt: off
EVENTS: Mapping[type[object], EventFacts] = {
    #                        about  shows
    TicketCreated:          EventFacts(_T, Shows.TICKET),
    TicketUpdated:          EventFacts(_T, Shows.COMMENT),
    TicketClosed:           EventFacts(_T),
    TicketTaken:            EventFacts(_T),
    TicketMoved:            EventFacts(_T),
    KBArticleUpdated:       EventFacts(_A),
    UserCreated:            EventFacts(_U),
    MailboxAccountDisabled: EventFacts(_C),
    MessageTooLarge:        EventFacts(_C),
    StaffAddressSuppressed: EventFacts(_C),
    InboundFlood:           EventFacts(_C),
}

# The headline of each email (`TemplateData.what_happened`), per event type; a row with
# a kind overrides the event's row (kind None) in emails of that kind.
WHAT_HAPPENED: Mapping[tuple[type[object], TemplateKind | None], str] = {
    (TicketCreated, TemplateKind.TICKET_CONFIRMATION):
        "Your ticket has been received.",
    (TicketCreated, None):
        "A new ticket has been submitted by {who}.",
    (TicketUpdated, None):
        "The ticket has been updated by {who}.",
    (TicketClosed, None):
        "The ticket has been closed by {who}.",
    (TicketTaken, None):
        "The ticket has been taken by {who}.",
    (TicketMoved, None):
        'The ticket has been moved from "{old_category}" to "{new_category}" by {who}.',
    (KBArticleUpdated, None):
        'The knowledge-base article "{article}" has been updated by {who}.',
    (UserCreated, None):
        "",
    (MailboxAccountDisabled, None):
        'The incoming mailbox account "{account}" has been disabled after {failures} '
        "failed attempts in a row. Last error: {last_error}",
    (MessageTooLarge, None):
        'Your message "{subject}" was not accepted: it is {size}, and messages to this '
        "helpdesk may be at most {limit}.",
    (StaffAddressSuppressed, None):
        "Notifications to the staff address {email} are suspended until {until} UTC: "
        "a delivery report proved that mail sent to it bounced ({reason}).",
    (InboundFlood, None):
        "Mail from {flood_source} went over the limit of {count} emails in {minutes} "
        'minutes (mailbox account "{account}"). Until it stays under the limit, its mail '
        "is kept for review in the account's quarantine instead of becoming tickets, "
        "and this is the only notice about it for {minutes} minutes.",
}
# fmt: on


@dataclass(frozen=True)
class SentenceFacts:
    """What the names of a sentence are read from."""

    event: Event
    originator: str = ""
    """The actor's name (full name, else username, else address); empty if none."""
    article: str = ""
    """The KB article's title (`#<id>` when it is gone)."""


def _megabytes(size: int) -> str:
    """A size in bytes for people: `25.0 MB` (of 1024 x 1024 bytes), `512 KB` below 1 MB."""
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _event_field(name: str, empty: str = "") -> Callable[[SentenceFacts], str]:
    """A name read from the event's field `name`; `empty` when it is None or ""."""

    def get(facts: SentenceFacts) -> str:
        value = getattr(facts.event, name)
        return empty if value is None or value == "" else str(value)

    return get


NAMES: Mapping[str, Callable[[SentenceFacts], str]] = {
    "who": lambda f: f.originator or "someone",
    "article": lambda f: f.article,
    "old_category": _event_field("old_category", "no category"),
    "new_category": _event_field("new_category", "no category"),
    "account": _event_field("account"),
    "failures": _event_field("failures"),
    "last_error": _event_field("last_error"),
    "subject": _event_field("subject", "(no subject)"),
    "size": lambda f: _megabytes(getattr(f.event, "size", 0)),
    "limit": lambda f: _megabytes(getattr(f.event, "limit", 0)),
    "email": _event_field("email"),
    "until": lambda f: _event_field("until")(f).replace("T", " ").removesuffix("+00:00"),
    "reason": _event_field("reason"),
    "count": _event_field("count"),
    "minutes": _event_field("minutes"),
    "flood_source": lambda f: _flood_source(str(getattr(f.event, "scope", ""))),
}
"""Every name a sentence may use, and how to read it."""


def _flood_source(scope: str) -> str:
    kind, _, value = scope.partition(":")
    return f"the domain {value}" if kind == "domain" else value


def sentence_names(sentence: str) -> tuple[str, ...]:
    """The `{name}`s a sentence uses, in order, each once."""
    found = (name for _, name, _, _ in string.Formatter().parse(sentence) if name is not None)
    return tuple(dict.fromkeys(found))


_NEEDS: Mapping[tuple[type[object], TemplateKind | None], tuple[str, ...]] = {
    key: sentence_names(sentence) for key, sentence in WHAT_HAPPENED.items()
}


def event_row(event: Event) -> EventFacts:
    """The `EVENTS` row of `event`'s type; `LookupError` for a type without one."""
    row = EVENTS.get(type(event))
    if row is None:
        raise LookupError(f"no EVENTS row for {type(event).__name__} in outbound.per_event")
    return row


def what_happened(kind: TemplateKind, facts: SentenceFacts) -> str:
    """The sentence of `facts.event` in an email of `kind`, its names filled in."""
    key: tuple[type[object], TemplateKind | None] = (type(facts.event), kind)
    if key not in WHAT_HAPPENED:
        key = (type(facts.event), None)
        if key not in WHAT_HAPPENED:
            raise LookupError(
                f"no WHAT_HAPPENED row for {type(facts.event).__name__} in outbound.per_event"
            )
    return WHAT_HAPPENED[key].format_map({name: NAMES[name](facts) for name in _NEEDS[key]})
