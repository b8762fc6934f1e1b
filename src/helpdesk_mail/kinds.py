"""Every kind of notification email, and one table of what each kind is.

`TemplateKind` names a notification email (each has a default template a host may
override). `KINDS` says, per kind, the facts the planner, the masks and the
composer read instead of keeping their own lists:

Invariants (tests/unit/test_tables.py checks them):
 1. Every `TemplateKind` has exactly one row; nothing falls back to a default row.
 2. `about_ticket`: the email is about one ticket. Only these may carry the
    ticket's attachments, autologin, rating and unsubscribe links, the `[#id]`
    subject token and a signed Message-ID, and only these see the ticket masks.
 3. `new_message`: the email shows the message that caused it (the new ticket or
    the reply): `#Recent_Attachments#` works and the message's files are attached.
    Implies `about_ticket`.
 4. `human_from`: the email carries a person's words, so its From is named after
    that person (unless `from_name_for_all`). Implies `new_message`.
 5. `masks` says which group of masks the kind's template may use: the ticket
    masks, the KB article masks, the account masks (a mailbox disabled, a message
    too large) or the
    welcome email's own three (`#username`, `#password`, `#URL`).
 6. `rating`: the email may carry `#RatingLinks#` (the planner decides to whom: the
    ticket's creator, never in CC mode). Implies `about_ticket`.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["KINDS", "KindFacts", "MaskGroup", "TemplateKind", "facts", "kinds_where"]


class TemplateKind(StrEnum):
    """Every kind of notification email; each has a default template the host may override."""

    TICKET_CONFIRMATION = "ticket_confirmation"
    """To the submitter of a ticket made by email: "we received your ticket"."""
    NEW_TICKET = "new_ticket"
    """To administrators and technicians: a new ticket."""
    TICKET_UPDATED = "ticket_updated"
    """To subscribers and technicians: a new comment."""
    TICKET_CLOSED = "ticket_closed"
    """To the submitter (and subscribers): the ticket was closed."""
    TICKET_TAKEN = "ticket_taken"
    """To the technicians of the category: another technician took the ticket."""
    TICKET_MOVED = "ticket_moved"
    """To the technicians of the new category who could not see the ticket before."""
    KB_ARTICLE_UPDATED = "kb_article_updated"
    """To the technicians of the article's category."""
    WELCOME = "welcome"
    """To a new user: the username, password and URL."""
    MAILBOX_DISABLED = "mailbox_disabled"
    """To the administrators: an incoming mailbox was disabled after repeated failures."""
    MESSAGE_TOO_LARGE = "message_too_large"
    """To the sender of a message over `incoming.max_message_bytes`: it was not accepted."""
    STAFF_ADDRESS_SUPPRESSED = "staff_address_suppressed"
    """To the administrators: a staff address bounced and gets no notifications for a while."""
    INBOUND_FLOOD = "inbound_flood"
    """To the administrators: a sender or domain went over the inbound flood limits."""


class MaskGroup(StrEnum):
    """Which masks a kind's template may use (see `templating.masks.MASKS`)."""

    TICKET = "ticket"
    ARTICLE = "article"
    ACCOUNT = "account"
    WELCOME = "welcome"


@dataclass(frozen=True)
class KindFacts:
    """What one kind of email is (see the module's invariants)."""

    about_ticket: bool
    new_message: bool
    human_from: bool
    masks: MaskGroup
    rating: bool = False


_T, _A, _C, _W = MaskGroup.TICKET, MaskGroup.ARTICLE, MaskGroup.ACCOUNT, MaskGroup.WELCOME
K = TemplateKind

# fmt: off
KINDS: Mapping[TemplateKind, KindFacts] = {
    #                                 about_ticket new_message human_from masks rating
    K.TICKET_CONFIRMATION: KindFacts(True,        True,       False,     _T,   False),
    K.NEW_TICKET:          KindFacts(True,        True,       True,      _T,   False),
    K.TICKET_UPDATED:      KindFacts(True,        True,       True,      _T,   False),
    K.TICKET_CLOSED:       KindFacts(True,        False,      False,     _T,   True),
    K.TICKET_TAKEN:        KindFacts(True,        False,      False,     _T,   False),
    K.TICKET_MOVED:        KindFacts(True,        False,      False,     _T,   False),
    K.KB_ARTICLE_UPDATED:  KindFacts(False,       False,      False,     _A,   False),
    K.WELCOME:             KindFacts(False,       False,      False,     _W,   False),
    K.MAILBOX_DISABLED:    KindFacts(False,       False,      False,     _C,   False),
    K.MESSAGE_TOO_LARGE:   KindFacts(False,       False,      False,     _C,   False),
    K.STAFF_ADDRESS_SUPPRESSED: KindFacts(False,  False,      False,     _C,   False),
    K.INBOUND_FLOOD:       KindFacts(False,       False,      False,     _C,   False),
}
# fmt: on


def facts(kind: TemplateKind | str) -> KindFacts:
    """The facts of `kind` (a `TemplateKind` or its value); `ValueError` for an unknown one."""
    return KINDS[TemplateKind(kind)]


def kinds_where(**wanted: object) -> frozenset[TemplateKind]:
    """The kinds whose facts have every given value, e.g. `kinds_where(about_ticket=True)`."""
    return frozenset(
        kind
        for kind, row in KINDS.items()
        if all(getattr(row, name) == value for name, value in wanted.items())
    )
