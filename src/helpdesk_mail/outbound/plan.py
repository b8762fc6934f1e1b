"""Who gets which email for a helpdesk event: the notification planner.

`plan_notifications(event, settings, storage, clock)` reads the host's data and
returns a `NotificationPlan`: the emails to render and send, and everyone the rules
addressed but who was left out, with the reason. It never writes. Whoever sends the
emails counts each one sent with `storage.record_notification(scopes_for(email), now)`,
which is what the rate limits of the next plans read.

The rules are data (`RULES`, `RESTRICTIONS`, and `addresses` for own and machine
addresses); the code below them only evaluates the tables. `docs/notifications.md`
tells the same in prose.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from ..addresses import is_system_address, normalize_email, own_addresses
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
    Via,
)
from ..kinds import TemplateKind, kinds_where
from ..model import KBArticle, Role, Ticket, User
from ..planned import NotificationPlan, PlannedEmail, Recipient, SkippedRecipient
from ..ports import Clock, PlanReader, count_each
from ..settings import NotificationSettings, RateLimit, Settings

__all__ = [
    "RESTRICTIONS",
    "RULES",
    "Group",
    "Restriction",
    "Rule",
    "SkipReason",
    "When",
    "is_system_address",
    "plan_notifications",
    "scopes_for",
]


class Group(StrEnum):
    """A set of people a rule addresses, resolved against the event and the host's data."""

    SUBMITTER = "submitter"
    """The ticket's creator, unless they unsubscribed (`Ticket.unsubscribed`)."""
    SUBSCRIBERS = "subscribers"
    """The ticket's creator (unless unsubscribed), then its subscribers, in the ticket's order."""
    ASSIGNEE = "assignee"
    """The technician the ticket is assigned to (none when unassigned)."""
    OLD_ASSIGNEE = "old_assignee"
    """Who had the ticket before a technician took it."""
    CATEGORY_TECHS = "category_techs"
    """Technicians (role technician) serving the ticket's category."""
    MOVED_IN_TECHS = "moved_in_techs"
    """Technicians serving a moved ticket's new category but not its old one."""
    ARTICLE_TECHS = "article_techs"
    """Technicians serving the KB article's category."""
    ADMINS = "admins"
    """Every administrator."""
    NEW_USER = "new_user"
    """The user whose account was created."""
    SENDER = "sender"
    """The sender of a message the helpdesk did not accept (too large)."""


class When(StrEnum):
    """A condition on the event (and the ticket) under which a rule or restriction applies."""

    ALWAYS = "always"
    VIA_EMAIL = "via_email"
    """The ticket was submitted by email."""
    BY_CUSTOMER = "by_customer"
    """The actor is not staff (a regular user, or an address without an account)."""
    UNASSIGNED = "unassigned"
    """A customer's update (as BY_CUSTOMER) to a ticket that has no assignee."""
    TECHS_ONLY_NOTE = "techs_only_note"
    """The comment is marked for technicians only."""
    NO_AUTO_RESPONSE = "no_auto_response"
    """The incoming mail must get no automatic answer (bulk, list, auto-response-suppressed)."""


class SkipReason(StrEnum):
    """Why someone the rules addressed gets no email (`SkippedRecipient.reason`)."""

    ACTOR = "actor"
    """They performed the action."""
    TECHS_ONLY = "techs_only"
    """A techs-only comment, and they are not staff."""
    TECHS_ONLY_REPLIES = "customer_reply_to_techs_only"
    """A customer's reply under "only send updates to subscribers when sent by techs"."""
    NO_AUTO_RESPONSE = "auto_response_suppressed"
    """The incoming mail asked for no automatic answer: no confirmation."""
    INVALID_ADDRESS = "invalid_address"
    HELPDESK_ADDRESS = "helpdesk_address"
    """One of the helpdesk's own addresses: mail to it would loop."""
    SYSTEM_ADDRESS = "system_address"
    """A machine's mailbox (noreply@, mailer-daemon@, postmaster@...)."""
    SUPPRESSED = "suppressed"
    """The address bounced recently."""
    RATE_LIMITED = "rate_limited"
    """A flood limit was reached: the ticket's (it sends nothing more for a while) or, for
    someone who is not staff, the recipient's. `SkippedRecipient.detail` names the limit."""
    NO_STAFF = "no_staff"
    """A customer's message reaches no technician or administrator (`email` is empty)."""


Switch = Literal[
    "ticket_closed",
    "ticket_confirmation",
    "notify_admins_new_tickets",
    "notify_techs_new_tickets",
    "notify_all_techs_on_customer_update",
    "notify_all_techs_on_take",
    "notify_techs_on_kb_update",
    "only_tech_updates_to_subscribers",
]
"""The `NotificationSettings` switches a table row may depend on."""


@dataclass(frozen=True)
class Rule:
    """One row of `RULES`: `group` gets `template` when `switch` is on and `when` holds."""

    template: TemplateKind
    group: Group
    switch: Switch | None
    when: When


@dataclass(frozen=True)
class Restriction:
    """One row of `RESTRICTIONS`: when `when` holds and `switch` is on, people are left out.

    It applies to every template of the event, or to `template` only; staff (technicians
    and administrators) are exempt when `staff_exempt`.
    """

    when: When
    reason: SkipReason
    switch: Switch | None = None
    template: TemplateKind | None = None
    staff_exempt: bool = True


def _rules(*rows: tuple[TemplateKind, Group, When, Switch | None]) -> tuple[Rule, ...]:
    return tuple(Rule(template, group, switch, when) for template, group, when, switch in rows)


K, G, W, R = TemplateKind, Group, When, SkipReason

# The rules: which group gets which email, for each event and setting.
#
# Invariants (tests/unit/test_plan_matrix.py and tests/property/test_plan_props.py check them):
#  1. The master switch `enabled` off: no email, except account mail (welcome, mailbox
#     disabled), which is not a ticket notification (ACCOUNT_MAIL).
#  2. Rows are tried top to bottom; the first row that addresses a person decides their
#     email. One email per person per event, whatever roles they hold.
#  3. The actor never hears of their own action, except by a receipt addressed to them as
#     such (RECEIPTS: the ticket confirmation, the welcome email).
#  4. RESTRICTIONS then leave people out: a techs-only comment, and a customer's reply
#     under `only_tech_updates_to_subscribers`, reach staff only.
#  5. "Technicians of a category" have the technician role and serve it. Administrators see
#     every category but are not its technicians: they hear of new tickets by their own row,
#     and of the rest as assignee or subscriber.
#  6. CC mode: the SUBMITTER and SUBSCRIBERS of an update or a close share one email
#     (CC_TEMPLATES x CC_GROUPS); in CC mode no email carries autologin or rating links.
#  7. Rating links: only the "ticket closed" email to the ticket's creator (RATING).
#     Autologin: only the ticket's submitter, a regular user with an account, with
#     `autologin_links` on (the spec: "to ticket submitters... only to regular users").
#  8. Protection comes last and spares nobody: invalid, helpdesk-own, system and bounced
#     addresses get nothing; a ticket over its rate limits sends nothing; a non-staff
#     address over its own rate limits is left out.
#  9. The submitter hears of their ticket whether or not the host lists them among its
#     subscribers, until they unsubscribe (`#unsubscribe#`: `Ticket.unsubscribed`); then
#     they get no more updates about it, the "ticket closed" email included.
# fmt: off
RULES: Mapping[type[object], tuple[Rule, ...]] = {
  # event:  template        group             when          switch (a NotificationSettings field)
  TicketCreated: _rules(
    (K.TICKET_CONFIRMATION, G.SUBMITTER,      W.VIA_EMAIL,   "ticket_confirmation"),
    (K.NEW_TICKET,          G.ASSIGNEE,       W.ALWAYS,      None),
    (K.NEW_TICKET,          G.ADMINS,         W.ALWAYS,      "notify_admins_new_tickets"),
    (K.NEW_TICKET,          G.CATEGORY_TECHS, W.ALWAYS,      "notify_techs_new_tickets"),
  ),
  TicketUpdated: _rules(
    (K.TICKET_UPDATED,      G.ASSIGNEE,       W.ALWAYS,      None),
    (K.TICKET_UPDATED,      G.CATEGORY_TECHS, W.BY_CUSTOMER, "notify_all_techs_on_customer_update"),
    (K.TICKET_UPDATED,      G.CATEGORY_TECHS, W.UNASSIGNED,  "notify_techs_new_tickets"),
    (K.TICKET_UPDATED,      G.SUBSCRIBERS,    W.ALWAYS,      None),
  ),
  TicketClosed: _rules(
    (K.TICKET_CLOSED,       G.SUBMITTER,      W.ALWAYS,      "ticket_closed"),
    (K.TICKET_CLOSED,       G.SUBSCRIBERS,    W.ALWAYS,      "ticket_closed"),
    (K.TICKET_CLOSED,       G.ASSIGNEE,       W.ALWAYS,      "ticket_closed"),
  ),
  TicketTaken: _rules(
    (K.TICKET_TAKEN,        G.OLD_ASSIGNEE,   W.ALWAYS,      None),
    (K.TICKET_TAKEN,        G.CATEGORY_TECHS, W.ALWAYS,      "notify_all_techs_on_take"),
  ),
  TicketMoved: _rules(
    (K.TICKET_MOVED,        G.MOVED_IN_TECHS, W.ALWAYS,      "notify_techs_new_tickets"),
  ),
  KBArticleUpdated: _rules(
    (K.KB_ARTICLE_UPDATED,  G.ARTICLE_TECHS,  W.ALWAYS,      "notify_techs_on_kb_update"),
  ),
  UserCreated: _rules(
    (K.WELCOME,             G.NEW_USER,       W.ALWAYS,      None),
  ),
  MailboxAccountDisabled: _rules(
    (K.MAILBOX_DISABLED,    G.ADMINS,         W.ALWAYS,      None),
  ),
  MessageTooLarge: _rules(
    (K.MESSAGE_TOO_LARGE,   G.SENDER,         W.ALWAYS,      None),
  ),
  StaffAddressSuppressed: _rules(
    (K.STAFF_ADDRESS_SUPPRESSED, G.ADMINS,    W.ALWAYS,      None),
  ),
  InboundFlood: _rules(
    (K.INBOUND_FLOOD,       G.ADMINS,         W.ALWAYS,      None),
  ),
}

# fmt: on

# Who is then left out of what the rules address, whatever row addressed them: when `when`
# holds and `switch` is on, recipients of `template` (None: of every template) are left
# out for `reason`; staff (technicians and administrators) too unless `staff_exempt`.
RESTRICTIONS: Mapping[type[object], tuple[Restriction, ...]] = {
    TicketCreated: (
        Restriction(
            W.NO_AUTO_RESPONSE,
            template=K.TICKET_CONFIRMATION,
            staff_exempt=False,
            reason=R.NO_AUTO_RESPONSE,
        ),
    ),
    TicketUpdated: (
        Restriction(W.TECHS_ONLY_NOTE, reason=R.TECHS_ONLY),
        Restriction(
            W.BY_CUSTOMER, switch="only_tech_updates_to_subscribers", reason=R.TECHS_ONLY_REPLIES
        ),
    ),
}

# A customer's message must reach someone who can answer it. When the rules (with the
# host's settings) leave no technician or administrator in a plan for a customer's
# event, the first group of its row that has a staff member who may be mailed gets the
# email; when none has, or the row is None, the plan says so (`NO_STAFF`, empty email).
#
# Invariants (tests/unit/test_plan.py checks them):
#  1. Only for events of a customer (the actor is not staff), and only when no staff
#     member is in the plan after protection.
#  2. The fallback never mails a customer, and protection (bounces, own and system
#     addresses, the ticket's rate limits) applies to it like to any rule.
#  3. New tickets get no fallback email: "notify administrators/technicians of new
#     tickets" are explicit switches; a plan that reaches no staff just says so.
STAFF_FALLBACK: Mapping[type[object], tuple[TemplateKind, tuple[Group, ...]] | None] = {
    TicketUpdated: (K.TICKET_UPDATED, (G.ASSIGNEE, G.CATEGORY_TECHS, G.ADMINS)),
    TicketCreated: None,
}

ACCOUNT_MAIL: frozenset[type[object]] = frozenset(
    {UserCreated, MailboxAccountDisabled, StaffAddressSuppressed, InboundFlood}
)
"""Events whose mail is sent even with the master switch off."""
RECEIPTS: frozenset[TemplateKind] = frozenset({K.TICKET_CONFIRMATION, K.WELCOME})
"""Templates that acknowledge the actor's own action: the actor rule does not apply."""
CC_TEMPLATES: frozenset[TemplateKind] = frozenset({K.TICKET_UPDATED, K.TICKET_CLOSED})
CC_GROUPS: frozenset[Group] = frozenset({G.SUBMITTER, G.SUBSCRIBERS})
"""In CC mode, these groups of these templates share one email."""
RATING: tuple[TemplateKind, Group] = (K.TICKET_CLOSED, G.SUBMITTER)
"""The only (template, group) whose email may carry `#RatingLinks#`."""
TICKET_TEMPLATES: frozenset[TemplateKind] = kinds_where(about_ticket=True)
"""Templates about a ticket: they may carry attachments and autologin links."""

_ADDRESS_RE = re.compile(r'[^@\s<>()\[\],;:"]+@[^@\s<>()\[\],;:"]+')
"""One bare address: no display name, no list, no whitespace or line break."""


def scopes_for(planned: PlannedEmail) -> tuple[str, ...]:
    """The rate-limit scopes to count when `planned` is sent: `ticket:<id>` and `to:<email>`.

    `ticket:<id>` is included only for the email of the event that counts for the ticket
    (`PlannedEmail.counts_for_ticket`), so the per-ticket limits count events; `to:<email>`
    once for each addressee, To and Cc.
    """
    scopes: list[str] = []
    if planned.ticket_id is not None and planned.counts_for_ticket:
        scopes.append(f"ticket:{planned.ticket_id}")
    scopes.extend(f"to:{r.email}" for r in (*planned.to, *planned.cc))
    return tuple(scopes)


def plan_notifications(
    event: Event, settings: Settings, storage: PlanReader, clock: Clock
) -> NotificationPlan:
    """The emails to send for `event` under `settings`, and who was left out and why.

    Pure: it reads `storage` and `clock.now()` and writes nothing. Raises `ValueError`
    for a ticket event whose ticket id is still unbound (see `events.bind_ticket`) and
    `LookupError` when the ticket or KB article it names is not in `storage`.
    """
    notif = settings.notifications
    kind = type(event)
    if not notif.enabled and kind not in ACCOUNT_MAIL:
        return NotificationPlan()
    ctx = _Context(event, notif, storage)
    claimed = _address(ctx)
    return _protect(ctx, claimed, settings, clock.now())


# --- evaluating the tables ---


@dataclass(frozen=True)
class _Claim:
    """A person addressed by a rule (the first one that addressed them)."""

    email: str
    rule: Rule
    user: User | None


class _Context:
    """The event, its ticket or article, and lazily the staff: what the tables are read against."""

    def __init__(self, event: Event, notif: NotificationSettings, storage: PlanReader) -> None:
        self.event = event
        self.notif = notif
        self.storage = storage
        self.actor = normalize_email(getattr(event, "actor", ""))
        self.ticket: Ticket | None = None
        self.article: KBArticle | None = None
        if isinstance(
            event, TicketCreated | TicketUpdated | TicketClosed | TicketTaken | TicketMoved
        ):
            if event.ticket_id is None:
                raise ValueError(f"{_kind_name(event)} has no ticket id: call bind_ticket first")
            self.ticket = storage.ticket(event.ticket_id)
            if self.ticket is None:
                raise LookupError(f"{_kind_name(event)}: no ticket {event.ticket_id} in storage")
        elif isinstance(event, KBArticleUpdated):
            self.article = storage.kb_article(event.article_id)
            if self.article is None:
                raise LookupError(f"{_kind_name(event)}: no KB article {event.article_id}")
        self._staff: list[User] | None = None
        self._users: dict[str, User | None] = {}
        actor_user = self.user(self.actor) if self.actor else None
        self.actor_is_staff = actor_user is not None and actor_user.is_staff

    @property
    def staff(self) -> list[User]:
        """Technicians and administrators, by address (read from storage once)."""
        if self._staff is None:
            self._staff = sorted(self.storage.staff(), key=lambda u: u.email)
            for u in self._staff:
                self._users.setdefault(u.email, u)
        return self._staff

    def user(self, email: str) -> User | None:
        """The account of `email`, if any (each address is looked up once)."""
        if email not in self._users:
            self._users[email] = self.storage.user(email)
        return self._users[email]

    @property
    def ticket_id(self) -> int | None:
        """The ticket the event is about, if any."""
        return self.ticket.id if self.ticket is not None else None

    def holds(self, when: When) -> bool:
        """Whether a table condition holds for this event."""
        event = self.event
        match when:
            case When.ALWAYS:
                return True
            case When.VIA_EMAIL:
                return isinstance(event, TicketCreated) and event.via is Via.EMAIL
            case When.BY_CUSTOMER:
                return not self.actor_is_staff
            case When.UNASSIGNED:
                return not (self.actor_is_staff or self.ticket is None or self.ticket.assignee)
            case When.TECHS_ONLY_NOTE:
                return isinstance(event, TicketUpdated) and event.techs_only
            case When.NO_AUTO_RESPONSE:
                return isinstance(event, TicketCreated) and not event.auto_response_allowed
        raise AssertionError(when)  # pragma: no cover

    def switched_on(self, switch: Switch | None) -> bool:
        """Whether a table row's setting is on (a row without one always is)."""
        return switch is None or bool(getattr(self.notif, switch))

    def members(self, group: Group) -> Iterator[tuple[str, User | None]]:
        """The addresses (with their account when already known) a group stands for."""
        ticket, event = self.ticket, self.event
        match group:
            case Group.SUBMITTER:
                if ticket is not None and ticket.submitter not in ticket.unsubscribed:
                    yield ticket.submitter, None
            case Group.SUBSCRIBERS:
                if ticket is not None:
                    if ticket.submitter not in ticket.unsubscribed:
                        yield ticket.submitter, None
                    for email in ticket.subscribers:
                        yield email, None
            case Group.ASSIGNEE:
                if ticket is not None and ticket.assignee:
                    yield ticket.assignee, None
            case Group.OLD_ASSIGNEE:
                if isinstance(event, TicketTaken) and event.previous_assignee:
                    yield normalize_email(event.previous_assignee), None
            case Group.CATEGORY_TECHS:
                if ticket is not None:
                    yield from self._techs_serving(ticket.category)
            case Group.MOVED_IN_TECHS:
                if isinstance(event, TicketMoved):
                    for email, user in self._techs_serving(event.new_category):
                        if user is not None and not user.serves(event.old_category):
                            yield email, user
            case Group.ARTICLE_TECHS:
                if self.article is not None:
                    yield from self._techs_serving(self.article.category)
            case Group.ADMINS:
                yield from ((u.email, u) for u in self.staff if u.role is Role.ADMIN)
            case Group.NEW_USER:
                if isinstance(event, UserCreated):
                    yield normalize_email(event.email), None
            case Group.SENDER:
                if isinstance(event, MessageTooLarge):
                    yield normalize_email(event.sender), None

    def _techs_serving(self, category: str | None) -> Iterable[tuple[str, User | None]]:
        return (
            (u.email, u) for u in self.staff if u.role is Role.TECHNICIAN and u.serves(category)
        )


def _kind_name(event: Event) -> str:
    """The event's class name, for messages."""
    return type(event).__name__


def _address(ctx: _Context) -> list[_Claim]:
    """Everyone the rules address, once each, with the first rule that addressed them."""
    claimed: dict[str, _Claim] = {}
    for rule in RULES.get(type(ctx.event), ()):
        if not (ctx.switched_on(rule.switch) and ctx.holds(rule.when)):
            continue
        for email, user in ctx.members(rule.group):
            if email not in claimed:
                claimed[email] = _Claim(email, rule, user)
    return list(claimed.values())


class _Counts:
    """The notification counts one plan reads: those it will likely need read together in
    one storage call (`read`, through `PlanReader.notifications_since_each`), and each
    (scope, since) read at most once: the plan is made from one look at the counts."""

    def __init__(self, storage: PlanReader) -> None:
        self.storage = storage
        self._known: dict[tuple[str, datetime], int] = {}

    def read(self, queries: Iterable[tuple[str, datetime]]) -> None:
        """Read the counts of these (scope, since) pairs now, in one call."""
        wanted = [q for q in dict.fromkeys(queries) if q not in self._known]
        self._known.update(zip(wanted, count_each(self.storage, wanted), strict=True))

    def since(self, scope: str, since: datetime) -> int:
        """Notifications counted in `scope` at or after `since`."""
        key = (scope, since)
        if key not in self._known:
            self._known[key] = self.storage.notifications_since(scope, since)
        return self._known[key]


def _widest(limits: Iterable[RateLimit], now: datetime) -> datetime | None:
    """The start of the widest window of `limits` (which the limits read first), if any."""
    minutes = [limit.minutes for limit in limits]
    return now - timedelta(minutes=max(minutes)) if minutes else None


def _limit_reached(
    counts: _Counts, scope: str, limits: Iterable[RateLimit], now: datetime
) -> RateLimit | None:
    """The first of `limits` (at most `count` in `minutes`) that `scope` already reached.

    The widest window is read first: when even it holds fewer than the smallest count,
    no window can be over (one storage call instead of one per window).
    """
    limits = tuple(limits)
    if not limits:
        return None
    widest = max(limit.minutes for limit in limits)
    total = counts.since(scope, now - timedelta(minutes=widest))
    if total < min(limit.count for limit in limits):
        return None
    return next(
        (
            limit
            for limit in limits
            if counts.since(scope, now - timedelta(minutes=limit.minutes)) >= limit.count
        ),
        None,
    )


def _protect(
    ctx: _Context, claims: list[_Claim], settings: Settings, now: datetime
) -> NotificationPlan:
    """Apply the actor rule, the restrictions and protection; group the rest into emails."""
    notif, storage = ctx.notif, ctx.storage
    own = own_addresses(settings)
    restrictions = [
        r
        for r in RESTRICTIONS.get(type(ctx.event), ())
        if ctx.switched_on(r.switch) and ctx.holds(r.when)
    ]
    ticket_scope = f"ticket:{ctx.ticket_id}" if ctx.ticket_id is not None else None
    ticket_limit: list[RateLimit | None] = []  # asked of storage once, only if needed
    counts = _Counts(storage)
    counts.read(_likely_counts(ctx, claims, settings, now))

    def limited(email: str, staff: bool) -> str | None:
        """The flood limit `email` is over, described; None when it may be mailed."""
        if ticket_scope is not None:
            if not ticket_limit:
                ticket_limit.append(
                    _limit_reached(counts, ticket_scope, notif.ticket_rate_limits, now)
                )
            if ticket_limit[0] is not None:
                return f"ticket {ctx.ticket_id}: {_describe(ticket_limit[0])}"
        if not staff:
            hit = _limit_reached(counts, f"to:{email}", notif.recipient_rate_limits, now)
            if hit is not None:
                return f"recipient: {_describe(hit)}"
        return None

    kept: list[tuple[_Claim, User | None]] = []
    skipped: list[SkippedRecipient] = []

    def judge(claim: _Claim) -> None:
        email, rule = claim.email, claim.rule
        user = claim.user if claim.user is not None else ctx.user(email) if email else None
        staff = user is not None and user.is_staff
        reason: SkipReason | None = None
        if ctx.actor and email == ctx.actor and rule.template not in RECEIPTS:
            reason = R.ACTOR
        else:
            for restriction in restrictions:
                if restriction.template not in (None, rule.template):
                    continue
                if not (restriction.staff_exempt and staff):
                    reason = restriction.reason
                    break
        if reason is None:
            reason = _protection(email, own, storage, now)
        if reason is None:
            detail = limited(email, staff)
            if detail is None and rule.template is K.TICKET_CONFIRMATION:
                detail = _inbound_flood(counts, email, settings, now)
            if detail is not None:
                skipped.append(SkippedRecipient(email, R.RATE_LIMITED, detail))
                return
        if reason is None:
            kept.append((claim, user))
        else:
            skipped.append(SkippedRecipient(email, reason))

    for claim in claims:
        judge(claim)
    _staff_fallback(ctx, {c.email for c in claims}, kept, skipped, judge)
    return NotificationPlan(_emails(ctx, kept), tuple(skipped))


def _inbound_scopes(
    email: str, settings: Settings
) -> tuple[tuple[str, tuple[RateLimit, ...]], ...]:
    """The inbound flood scopes of a sender (their address, their domain) and their limits."""
    incoming = settings.incoming
    return (
        (f"from:{email}", tuple(incoming.sender_rate_limits)),
        (f"domain:{email.rpartition('@')[2]}", tuple(incoming.domain_rate_limits)),
    )


def _likely_counts(
    ctx: _Context, claims: Iterable[_Claim], settings: Settings, now: datetime
) -> Iterator[tuple[str, datetime]]:
    """The counts judging `claims` reads unless a limit is near (the widest window of each
    scope), so that they are read in one storage call: some may go unused (the actor,
    a suppressed address), which costs nothing but a line of the one read."""
    notif = ctx.notif
    ticket = _widest(notif.ticket_rate_limits, now)
    if ctx.ticket_id is not None and ticket is not None:
        yield f"ticket:{ctx.ticket_id}", ticket
    recipient = _widest(notif.recipient_rate_limits, now)
    inbound = (
        _widest(settings.incoming.sender_rate_limits, now),
        _widest(settings.incoming.domain_rate_limits, now),
    )
    for claim in claims:
        if not claim.email:
            continue
        if recipient is not None and not (claim.user is not None and claim.user.is_staff):
            yield f"to:{claim.email}", recipient
        if claim.rule.template is K.TICKET_CONFIRMATION:
            for (scope, _), since in zip(
                _inbound_scopes(claim.email, settings), inbound, strict=True
            ):
                if since is not None:
                    yield scope, since


def _inbound_flood(counts: _Counts, email: str, settings: Settings, now: datetime) -> str | None:
    """The inbound flood limit the address (or its domain) is over, described, if any: a
    confirmation answers no sender while their mail (or their domain's) floods in. The
    counts include the email confirmed, so over means more than the limit."""
    for scope, limits in _inbound_scopes(email, settings):
        if not limits:
            continue
        # the widest window first, as `_limit_reached` does: when even it holds no more
        # than the smallest count, no window is over (one storage call, not one a window)
        widest = max(limit.minutes for limit in limits)
        total = counts.since(scope, now - timedelta(minutes=widest))
        if total <= min(limit.count for limit in limits):
            continue
        for limit in limits:
            since = now - timedelta(minutes=limit.minutes)
            if counts.since(scope, since) > limit.count:
                return f"sender flood: {scope} over {limit.count} emails in {limit.minutes} minutes"
    return None


def _describe(limit: RateLimit) -> str:
    return f"{limit.count} notifications in {limit.minutes} minutes"


def _staff_fallback(
    ctx: _Context,
    claimed: set[str],
    kept: list[tuple[_Claim, User | None]],
    skipped: list[SkippedRecipient],
    judge: Callable[[_Claim], None],
) -> None:
    """A customer's message that reaches no staff member: `STAFF_FALLBACK` (see its rules)."""
    if type(ctx.event) not in STAFF_FALLBACK or ctx.actor_is_staff:
        return
    if any(user is not None and user.is_staff for _, user in kept):
        return
    fallback = STAFF_FALLBACK[type(ctx.event)]
    if fallback is not None:
        template, groups = fallback
        for group in groups:
            rule = Rule(template, group, None, W.ALWAYS)
            for email, user in ctx.members(group):
                user = user if user is not None else ctx.user(email)
                if email in claimed or user is None or not user.is_staff:
                    continue
                claimed.add(email)
                judge(_Claim(email, rule, user))
            if any(u is not None and u.is_staff for _, u in kept):
                return
    skipped.append(SkippedRecipient("", R.NO_STAFF))


def _protection(
    email: str, own: frozenset[str], storage: PlanReader, now: datetime
) -> SkipReason | None:
    """Loop protection for one address: invalid, the helpdesk's own, a machine's, bounced."""
    if not _ADDRESS_RE.fullmatch(email):
        return R.INVALID_ADDRESS
    if email in own:
        return R.HELPDESK_ADDRESS
    if is_system_address(email):
        return R.SYSTEM_ADDRESS
    if storage.is_suppressed(email, now):
        return R.SUPPRESSED
    return None


def _emails(ctx: _Context, kept: list[tuple[_Claim, User | None]]) -> tuple[PlannedEmail, ...]:
    """One email per person, except that CC mode merges the CC groups into one email."""
    notif = ctx.notif
    cc_mode = notif.cc_mode
    slots: list[TemplateKind | tuple[TemplateKind, Recipient]] = []
    shared: dict[TemplateKind, list[Recipient]] = {}
    for claim, user in kept:
        template = claim.rule.template
        regular = user is not None and user.role is Role.USER
        name = user.display_name if user is not None else ""
        recipient = Recipient(
            email=claim.email,
            name="" if name == claim.email else name,
            role=user.role if user is not None else Role.USER,
            autologin=(
                notif.autologin_links
                and not cc_mode
                and regular
                and template in TICKET_TEMPLATES
                and ctx.ticket is not None
                and claim.email == ctx.ticket.submitter
            ),
            rating_links=not cc_mode and (template, claim.rule.group) == RATING,
        )
        if cc_mode and template in CC_TEMPLATES and claim.rule.group in CC_GROUPS:
            if template not in shared:
                shared[template] = []
                slots.append(template)
            shared[template].append(recipient)
        else:
            slots.append((template, recipient))
    emails: list[PlannedEmail] = []
    for slot in slots:
        to: tuple[Recipient, ...]
        cc: tuple[Recipient, ...] = ()
        if isinstance(slot, tuple):
            template, recipient = slot
            to, merged = (recipient,), False
        else:
            template, members = slot, shared[slot]
            to, cc, merged = (members[0],), tuple(members[1:]), True
        emails.append(
            PlannedEmail(
                template=template,
                event=ctx.event,
                to=to,
                cc=cc,
                cc_mode=merged,
                ticket_id=ctx.ticket_id,
                include_attachments=notif.include_attachments and template in TICKET_TEMPLATES,
                counts_for_ticket=not emails,
            )
        )
    return tuple(emails)
