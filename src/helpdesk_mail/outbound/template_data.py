"""What the masks of a planned email show: `TemplateData` from the host's data.

`build` makes the template data of one planned email for one audience (staff, or
customers, who do not see techs-only comments); `build_template_data` is the same for
callers outside rendering. What the masks show comes from tables: per event type
`outbound.per_event` (what the email is about, which message it shows, the sentence),
per kind `kinds.KINDS`; `_ABOUT` and `_SHOWS` here say how each is read from storage.

Rules:

- Each piece of the host's data is read once per planned email (`Reads`): the ticket,
  its comments and each person are read from storage once, and each message of the
  log sanitized once, for both audiences and however many recipients there are.
- A message's text, like its HTML, is shown up to `MAX_INPUT` characters.
- A ``cid:`` reference resolves only to the parts of the message that makes it (never
  another message's, so never a techs-only comment's for a customer): it is rewritten
  to ``cid:<message>.<Content-ID>`` and registered in `Reads.inline`; anything else
  shows its alt text.
- Suggested KB articles are searched only when the template shows them (`KB_MASK`),
  with at most `KB_QUERY_CHARS` characters of the ticket.
- A confirmation to a sender nobody knows echoes nothing they wrote.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

from ..addresses import normalize_email
from ..kinds import TemplateKind, kinds_where
from ..model import Attachment, Comment, Ticket, User
from ..planned import PlannedEmail
from ..ports import Clock, PlanReader
from ..settings import Settings
from ..templating.render import Templates, compile_email, header_text
from ..templating.sanitize import MAX_INPUT, sanitize_html
from ..templating.values import (
    FieldValue,
    FileLink,
    LinkItem,
    Message,
    Person,
    TemplateData,
    text_to_html,
)
from ..text import ALTERNATIVE, html_to_text
from .autologin import ticket_url
from .per_event import About, EventFacts, SentenceFacts, Shows, event_row, what_happened

__all__ = [
    "KB_MASK",
    "Built",
    "Reads",
    "build",
    "build_template_data",
    "helpdesk_name",
]

KB_SUGGESTIONS = 5
KB_QUERY_CHARS = 2000
"""Characters of the ticket (subject, then text) the suggested KB articles are searched
with: a search over a megabyte of text costs the host's search as much as the email."""
_RECENT_KINDS = kinds_where(new_message=True)
KB_MASK = "Suggested_KB_articles"


def helpdesk_name(settings: Settings) -> str:
    """The helpdesk's name as notifications show it: `from_name`, else the From address."""
    out = settings.outgoing
    return header_text(out.from_name or out.from_address, 120)


# --- template data from the host's data ------------------------------------------
#
# `EVENTS[type(event)]` (outbound/per_event.py) says what the email is about and which
# message it shows; `_ABOUT` and `_SHOWS` below say how each is read from storage, and
# `what_happened` writes the sentence. `Reads` reads each piece of the host's data
# once per planned email, however many recipients and audiences it has.


def _person(user: User | None, email: str = "") -> Person:
    if user is None:
        return Person(name=email, email=email)
    return Person(
        name=user.display_name,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        company=user.company,
        department=user.department,
        location=user.location,
    )


def _files(attachments: Sequence[Attachment]) -> tuple[FileLink, ...]:
    return tuple(FileLink(a.filename, a.url or "", a.size) for a in attachments if not a.inline)


def _content_id(attachment: Attachment) -> str:
    """An attachment's Content-ID without angle brackets ("" when it has none)."""
    return (attachment.content_id or "").strip().strip("<>").strip()


# The emails of one event show the same messages, each email rendered on its own, and
# reading HTML is their costly part (a second for a megabyte of nested tags): the last
# two results are kept. What is kept is bounded: `sanitize_html` reads at most
# `MAX_INPUT` characters, and its result is what `html_to_text` reads.
@functools.lru_cache(maxsize=2)
def _sanitized(
    body_html: str, allow_cid: bool, scope: str, resolvable: frozenset[str]
) -> tuple[str, tuple[str, ...]]:
    """The sanitized HTML of a message whose `resolvable` inline parts (by Content-ID)
    are written ``cid:<scope>.<Content-ID>``, and the Content-IDs it refers to."""
    resolved: list[str] = []

    def resolve(cid: str) -> str | None:
        if cid not in resolvable:
            return None
        resolved.append(cid)
        return f"{scope}.{cid}"

    html = sanitize_html(body_html, allow_cid=allow_cid, resolve_cid=resolve)
    return html, tuple(dict.fromkeys(resolved))


@functools.lru_cache(maxsize=2)
def _text_of(html: str) -> str:
    return html_to_text(html, ALTERNATIVE)


def _message(
    author: str,
    date: datetime | None,
    body_html: str | None,
    body_text: str,
    attachments: tuple[FileLink, ...] = (),
    techs_only: bool = False,
    allow_cid: bool = True,
    *,
    parts: Sequence[Attachment] = (),
    scope: str = "",
    inline: dict[str, Attachment] | None = None,
) -> Message:
    """One message of the log as templates show it. Its ``cid:`` images resolve only to
    its own inline `parts`: each becomes ``cid:<scope>.<Content-ID>`` and is registered in
    `inline` for the composer to attach; any other ``cid:`` reference (another message's
    image, a techs-only comment's) is replaced by its alt text. Text, like HTML, is
    shown up to `MAX_INPUT` characters: a notification is no archive."""
    body_text = body_text[:MAX_INPUT]
    if body_html:
        own = {cid: a for a in parts if a.inline and (cid := _content_id(a))}
        resolvable = frozenset(own) if inline is not None else frozenset()
        html, resolved = _sanitized(body_html[:MAX_INPUT], allow_cid, scope, resolvable)
        if inline is not None:
            inline.update((f"{scope}.{cid}", own[cid]) for cid in resolved)
        text = body_text or _text_of(html)
    else:
        html = text_to_html(body_text.strip())
        text = body_text
    return Message(author, date, html, text, attachments, techs_only)


class Reads:
    """The host's data one planned email reads, each piece read (and sanitized) once."""

    def __init__(self, storage: PlanReader, allow_cid: bool) -> None:
        self.storage = storage
        self.allow_cid = allow_cid
        self._users: dict[str, User | None] = {}
        self._tickets: dict[int, Ticket | None] = {}
        self._comments: dict[int, Sequence[Comment]] = {}
        self._messages: dict[tuple[int, int], Message] = {}
        self._kb: dict[int, tuple[LinkItem, ...]] = {}
        self._files: dict[tuple[str | None, str, int, str | None], bytes] = {}
        self.inline: dict[str, Attachment] = {}
        """The inline images the shown messages refer to, by their scoped Content-ID."""

    def user(self, email: str) -> User | None:
        """The account of `email` (None: nobody has it), read once."""
        if email not in self._users:
            self._users[email] = self.storage.user(email)
        return self._users[email]

    def _prefetch(self, emails: Iterable[str | None]) -> None:
        """Read the accounts of many people in one call (the ticket's people, commenters)."""
        wanted = {e for e in emails if e and e not in self._users}
        if wanted:
            found = self.storage.users(tuple(sorted(wanted)))
            self._users.update({e: found.get(e) for e in wanted})

    def content(self, attachment: Attachment) -> bytes:
        """A file's bytes: carried by the read, else asked of the storage once."""
        if attachment.content:
            return attachment.content
        key = (attachment.id, attachment.filename, attachment.size, attachment.content_id)
        if key not in self._files:
            self._files[key] = self.storage.attachment_content(attachment)
        return self._files[key]

    def person(self, email: str) -> Person:
        """The person of `email` as templates show them."""
        return _person(self.user(email), email)

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket (None: the storage has none), read once."""
        if ticket_id not in self._tickets:
            self._tickets[ticket_id] = self.storage.ticket(ticket_id)
        return self._tickets[ticket_id]

    def comments(self, ticket: Ticket) -> Sequence[Comment]:
        """The ticket's comments, oldest first, read once (with their authors' accounts)."""
        if ticket.id not in self._comments:
            comments = list(self.storage.comments(ticket.id))
            self._comments[ticket.id] = comments
            self._prefetch(
                (
                    ticket.submitter,
                    ticket.assignee,
                    *ticket.subscribers,
                    *(c.author for c in comments),
                )
            )
        return self._comments[ticket.id]

    def ticket_message(self, t: Ticket) -> Message:
        """The ticket's first message (its body) as templates show it."""
        key = (t.id, -1)
        if key not in self._messages:
            self._messages[key] = _message(
                self.person(t.submitter).name,
                t.created_at,
                t.body_html,
                t.body_text,
                attachments=_files(t.attachments),
                allow_cid=self.allow_cid,
                parts=t.attachments,
                scope=f"t{t.id}",
                inline=self.inline,
            )
        return self._messages[key]

    def comment_message(self, t: Ticket, index: int) -> Message:
        """The ticket's comment number `index` (oldest first) as templates show it."""
        key = (t.id, index)
        if key not in self._messages:
            c = self.comments(t)[index]
            self._messages[key] = _message(
                self.person(c.author).name,
                c.created_at,
                c.body_html,
                c.body_text,
                attachments=_files(c.attachments),
                techs_only=c.techs_only,
                allow_cid=self.allow_cid,
                parts=c.attachments,
                scope=f"c{t.id}.{index}",
                inline=self.inline,
            )
        return self._messages[key]

    def kb_suggestions(self, t: Ticket) -> tuple[LinkItem, ...]:
        """KB articles similar to the ticket, for `#Suggested_KB_articles#`."""
        if t.id not in self._kb:
            text = t.body_text[:KB_QUERY_CHARS] or html_to_text(
                (t.body_html or "")[: 8 * KB_QUERY_CHARS]
            )
            query = f"{t.subject} {text}"
            if len(query) > KB_QUERY_CHARS:  # not inside a word
                cut = query.rfind(" ", 0, KB_QUERY_CHARS)
                query = query[: cut if cut > 0 else KB_QUERY_CHARS]
            found = self.storage.search_kb(query, KB_SUGGESTIONS)
            self._kb[t.id] = tuple(LinkItem(a.title, a.url) for a in found)
        return self._kb[t.id]


class _TicketEvent(Protocol):
    @property
    def ticket_id(self) -> int | None: ...


class _ArticleEvent(Protocol):
    @property
    def article_id(self) -> int: ...


class _NewUserEvent(Protocol):
    @property
    def email(self) -> str: ...
    @property
    def password(self) -> str: ...


class _CommentEvent(Protocol):
    @property
    def comment_id(self) -> int | None: ...
    @property
    def actor(self) -> str: ...


@dataclass(frozen=True)
class _Build:
    """What building the template data of one planned email for one audience reads."""

    planned: PlannedEmail
    row: EventFacts
    reads: Reads
    base: str
    """The helpdesk's URL."""
    staff: bool
    """Whether the audience is staff (customers do not see techs-only comments)."""
    uses_kb: bool
    """Whether the template shows `#Suggested_KB_articles#` (only then is the KB searched)."""
    data: TemplateData
    """What every kind of email has: the kind, the originator, the recipients."""
    sentence: SentenceFacts


@dataclass(frozen=True)
class Built:
    """The template data of one audience, and the files its emails attach."""

    data: TemplateData
    files: Sequence[Attachment] = ()


def build_template_data(
    planned: PlannedEmail,
    settings: Settings,
    storage: PlanReader,
    clock: Clock,
    *,
    templates: Templates | None = None,
    staff_audience: bool = True,
) -> TemplateData:
    """What the masks of `planned` show, shared by its recipients (links are per recipient).

    `staff_audience` off leaves techs-only replies out. Suggested KB articles are
    looked up only when the template uses `#Suggested_KB_articles#`.
    """
    uses_kb = compile_email(planned.template, templates).uses(KB_MASK)
    reads = Reads(storage, planned.include_attachments)
    return build(planned, settings, reads, staff=staff_audience, uses_kb=uses_kb).data


def build(
    planned: PlannedEmail, settings: Settings, reads: Reads, *, staff: bool, uses_kb: bool
) -> Built:
    """The template data of `planned` for one audience (`staff` or customers), from `reads`."""
    event = planned.event
    row = event_row(event)
    actor = getattr(event, "actor", "")
    originator = reads.person(actor) if actor else Person()
    data = TemplateData(
        kind=planned.template,
        originator=originator,
        login_url=settings.outgoing.helpdesk_url,
        helpdesk_name=helpdesk_name(settings),
        recipients=tuple(r.name or r.email for r in (*planned.to, *planned.cc)),
    )
    sentence = SentenceFacts(event, originator.name)
    build = _Build(
        planned, row, reads, settings.outgoing.helpdesk_url, staff, uses_kb, data, sentence
    )
    return _ABOUT[row.about](build)


def _about_new_user(b: _Build) -> Built:
    event = cast(_NewUserEvent, b.planned.event)
    user = b.reads.user(event.email)
    return Built(
        dataclasses.replace(
            b.data,
            what_happened=what_happened(b.planned.template, b.sentence),
            username=(user.username if user is not None else "") or event.email,
            password=event.password,
        )
    )


def _about_account(b: _Build) -> Built:
    what = what_happened(b.planned.template, b.sentence)
    return Built(dataclasses.replace(b.data, what_happened=what, url=b.base))


def _about_article(b: _Build) -> Built:
    article_id = cast(_ArticleEvent, b.planned.event).article_id
    article = b.reads.storage.kb_article(article_id)
    title = article.title if article is not None else f"#{article_id}"
    url = (article.url if article is not None else "") or (
        f"{b.base.rstrip('/')}/kb/{article_id}" if b.base else ""
    )
    sentence = dataclasses.replace(b.sentence, article=title)
    return Built(
        dataclasses.replace(
            b.data,
            what_happened=what_happened(b.planned.template, sentence),
            subject=title,
            category=(article.category or "") if article is not None else "",
            url=url,
        )
    )


def _about_ticket(b: _Build) -> Built:
    planned, reads, kind = b.planned, b.reads, b.planned.template
    ticket_id = planned.ticket_id
    if ticket_id is None:
        ticket_id = cast(_TicketEvent, planned.event).ticket_id
    ticket = reads.ticket(ticket_id) if ticket_id is not None else None
    if ticket is None:
        return Built(dataclasses.replace(b.data, ticket_id=ticket_id))

    comments = reads.comments(ticket)
    visible = [i for i, c in enumerate(comments) if b.staff or not c.techs_only]
    log = [reads.ticket_message(ticket), *(reads.comment_message(ticket, i) for i in visible)]
    all_files = [*ticket.attachments, *(a for i in visible for a in comments[i].attachments)]
    subscriber_users = [(e, reads.user(e)) for e in ticket.subscribers]
    shown, shown_files = _SHOWS[b.row.shows](b, ticket)
    if kind not in _RECENT_KINDS:
        shown_files = ()
    data = dataclasses.replace(
        b.data,
        what_happened=what_happened(kind, b.sentence),
        what_happened_message=shown,
        ticket_id=ticket.id,
        subject=ticket.subject,
        category=ticket.category or "",
        priority=ticket.priority,
        status=ticket.status.value.capitalize(),
        via=ticket.via,
        date=ticket.created_at,
        due_date=ticket.due_date,
        time_spent_minutes=ticket.time_spent_minutes,
        body_html=log[0].html,
        body_text=log[0].text,
        submitter=reads.person(ticket.submitter),
        technician=reads.person(ticket.assignee) if ticket.assignee else Person(),
        url=ticket_url(b.base, ticket.id) if b.base else "",
        messages=tuple(reversed(log)),
        custom_fields=tuple(
            FieldValue(f.id, f.name, f.value, f.visibility.value == "public")
            for f in ticket.custom_fields
        ),
        attachments=_files(all_files),
        recent_attachments=_files(shown_files),
        kb_articles=reads.kb_suggestions(ticket) if b.uses_kb else (),
        subscribers=tuple(_username(u, e) for e, u in subscriber_users),
        non_tech_subscribers=tuple(
            _username(u, e) for e, u in subscriber_users if u is None or not u.is_staff
        ),
    )
    if kind is K_CONFIRMATION and not getattr(planned.event, "sender_known", True):
        return Built(_without_content(data))
    return Built(data, [a for a in shown_files if not a.inline])


K_CONFIRMATION = TemplateKind.TICKET_CONFIRMATION


def _without_content(data: TemplateData) -> TemplateData:
    """A confirmation to a sender nobody knows: nothing they wrote is echoed back (not
    the subject, the text, the files, the names they gave), since the From address
    may be forged and the confirmation would carry an attacker's words to a stranger."""
    return dataclasses.replace(
        data,
        what_happened_message=None,
        subject="",
        body_html="",
        body_text="",
        messages=(),
        custom_fields=(),
        attachments=(),
        recent_attachments=(),
        kb_articles=(),
        submitter=Person(name=data.submitter.email, email=data.submitter.email),
        originator=Person(name=data.originator.email, email=data.originator.email),
        recipients=(),
        subscribers=(),
        non_tech_subscribers=(),
    )


def _shows_nothing(b: _Build, ticket: Ticket) -> tuple[Message | None, Sequence[Attachment]]:
    return None, ()


def _shows_ticket(b: _Build, ticket: Ticket) -> tuple[Message | None, Sequence[Attachment]]:
    return b.reads.ticket_message(ticket), ticket.attachments


def _shows_comment(b: _Build, ticket: Ticket) -> tuple[Message | None, Sequence[Attachment]]:
    comments = b.reads.comments(ticket)
    i = _event_comment(cast(_CommentEvent, b.planned.event), comments)
    if i is None or (comments[i].techs_only and not b.staff):
        return None, ()
    return b.reads.comment_message(ticket, i), comments[i].attachments


def _event_comment(event: _CommentEvent, comments: Sequence[Comment]) -> int | None:
    """The index of the event's comment: by id, else the actor's latest, else the latest."""
    if event.comment_id is not None:
        for i, c in enumerate(comments):
            if c.id == event.comment_id:
                return i
    actor = normalize_email(event.actor)
    for i in range(len(comments) - 1, -1, -1):
        if comments[i].author == actor:
            return i
    return len(comments) - 1 if comments else None


_ABOUT: Mapping[About, Callable[[_Build], Built]] = {
    About.TICKET: _about_ticket,
    About.ARTICLE: _about_article,
    About.ACCOUNT: _about_account,
    About.NEW_USER: _about_new_user,
}
_SHOWS: Mapping[Shows, Callable[[_Build, Ticket], tuple[Message | None, Sequence[Attachment]]]] = {
    Shows.NOTHING: _shows_nothing,
    Shows.TICKET: _shows_ticket,
    Shows.COMMENT: _shows_comment,
}


def _username(user: User | None, email: str) -> str:
    if user is None:
        return email
    return user.username or user.name or user.email
