"""The links of one recipient: `TemplateData` made personal for the email they get.

`recipient_data` adds to the shared template data of a ticket email the links of one
recipient (None: the shared email of CC mode). Rules (the spec's, signed by
`outbound.autologin`):

- Autologin links go only to a customer (`Role.USER`) who allows them, with
  `autologin_links` on and a secret key set; they expire after `autologin_ttl_hours`.
- Rating links (Good, OK, Bad) only in the kinds that ask for a rating (`KINDS`), to a
  recipient who allows them, with a secret key; they expire after `RATING_TTL`.
- The unsubscribe link names its one recipient (nobody in CC mode) and expires after
  `UNSUBSCRIBE_TTL`.
- Emails that are not about a ticket, or without the helpdesk's URL, get no links.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from ..kinds import kinds_where
from ..model import Role
from ..planned import PlannedEmail, Recipient
from ..settings import Settings
from ..templating.values import LinkItem, TemplateData
from .autologin import make_autologin_url, make_rating_url, make_unsubscribe_url

__all__ = [
    "RATING_TTL",
    "UNSUBSCRIBE_TTL",
    "recipient_data",
]

RATING_TTL = timedelta(days=30)
UNSUBSCRIBE_TTL = timedelta(days=365)
_TICKET_KINDS = kinds_where(about_ticket=True)
_RATING_KINDS = kinds_where(rating=True)


def recipient_data(
    data: TemplateData,
    planned: PlannedEmail,
    recipient: Recipient | None,
    settings: Settings,
    now: datetime,
) -> TemplateData:
    """`data` with the links of one recipient (None: the shared CC-mode email)."""
    out = settings.outgoing
    base = out.helpdesk_url
    ticket_id = data.ticket_id
    if ticket_id is None or not base or planned.template not in _TICKET_KINDS:
        return data
    secret = out.secret_key
    personal = recipient if not planned.cc_mode else None
    url = data.url
    rating: tuple[LinkItem, ...] = ()
    if (
        personal is not None
        and personal.autologin
        and personal.role is Role.USER
        and settings.notifications.autologin_links
        and secret
    ):
        ttl = timedelta(hours=settings.notifications.autologin_ttl_hours)
        url = make_autologin_url(base, personal.email, ticket_id, now, ttl, secret)
    if (
        personal is not None
        and personal.rating_links
        and planned.template in _RATING_KINDS
        and secret
    ):
        expires = now + RATING_TTL
        rating = tuple(
            LinkItem(
                label, make_rating_url(base, personal.email, ticket_id, value, expires, secret)
            )
            for label, value in (("Good", "good"), ("OK", "ok"), ("Bad", "bad"))
        )
    unsubscribe = make_unsubscribe_url(
        base, personal.email if personal else None, ticket_id, now + UNSUBSCRIBE_TTL, secret
    )
    return dataclasses.replace(data, url=url, rating_links=rating, unsubscribe_url=unsubscribe)
