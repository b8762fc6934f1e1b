"""Composing notification emails: a `PlannedEmail` in, stdlib `EmailMessage`s out.

`render_message(planned, templates, settings, storage, clock, random)` renders the
planned email's template once per recipient (one email in CC mode) and returns the
messages, ready for `SendTransport.send`; None when the host's template for that kind
is empty (the notification is skipped).

Each piece of work is done once per planned email: the template is compiled once
(`compile_email`) and that compiled template is rendered for every recipient; the
ticket, its comments and each person are read from storage once, and each message of
the log sanitized once, for both audiences (staff, and customers who do not see
techs-only comments). What the masks show comes from tables: per event type
`outbound.per_event` (what the email is about, which message it shows, the sentence),
per kind `kinds.KINDS`.

Every message has (rules other code relies on):

- ``From``: `OutgoingSettings.from_address`, named `from_name` for system
  notifications; for human-originated mail (a reply, i.e. "ticket updated", and the
  "new ticket" email that carries the customer's message) named after its author,
  unless `from_name_for_all` is on or the author has no name.
- ``Reply-To``: `OutgoingSettings.reply_to`, when set.
- ``Auto-Submitted: auto-generated`` (RFC 3834) and ``X-Auto-Response-Suppress: All``.
- ``List-Unsubscribe`` (RFC 2369) with the unsubscribe link the email shows, whenever
  it shows one (`#Unsubscribe#`), written on one line as it is; and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058) when that link
  works with one click: signed for its one recipient (not in CC mode, a secret key
  set) and ``https``. The host's unsubscribe route then accepts a POST.
- ``Message-ID``: signed (`tokens.new_message_id`) for ticket emails, so that a
  reply finds its ticket; an unsigned random one for other emails or without a secret.
  Domain: `message_id_domain`, else the From address's domain.
- ``In-Reply-To`` (the ticket's latest stored Message-ID) and ``References`` (its first
  and up to nine latest), when the ticket has any; never a Message-ID of another ticket
  (a signed one naming another ticket is left out; the storage keeps a Message-ID with
  the first ticket that stored it).
- A subject that starts with the ticket token ``[#1234]`` (added if the template left
  it out), so that replies thread even without Message-IDs, and carries no email-API
  command (`tokens.without_commands`): a technician's plain reply must not close a
  ticket because a customer's subject said ``#close#``.
- The reply marker (`reply_marker`): a line on top of both parts
  (``##- Reply above this line -##``, `NotificationSettings.reply_marker`) and one at
  the bottom (the helpdesk's name and the ticket); in HTML, elements carrying the
  marker's class around the template's content, in a column at most `MAX_WIDTH_PX`
  wide. Inbound cuts replies there.
- ``multipart/alternative``: the plain text derived from the HTML, then the HTML.
  Files of the new ticket or reply are attached, and inline images of shown messages
  included (``multipart/related``, by Content-ID), only when
  `PlannedEmail.include_attachments` is on; otherwise ``cid:`` images are replaced by
  their alt text. A ``cid:`` reference resolves only to the parts of the message that
  makes it (never another message's, so never a techs-only comment's for a customer):
  it is rewritten to ``cid:<message>.<Content-ID>``, and anything else shows its alt text.
  Files and images are attached in order while they fit in
  `NotificationSettings.max_attached_bytes` (10 MB) and `max_attached_files` (50); the
  others are only listed, with their links (`#Recent_Attachments#`).
- No header carries CR, LF or another control character from user data: names,
  subjects and file names are flattened to one line; invalid addresses are left out.

Messages use `POLICY` (`email.policy.SMTP`, header classes made once). A header whose
value is printable ASCII on one line is stored as it will be written (`_set`): the
email package neither parses it when set nor refolds it when sent, and the fields
read again before sending (recipients, Message-ID, MIME structure) are parsed once.
The text and HTML parts are built directly, their multipart boundary derived from the
Message-ID. Bytes on the wire are those `set_content`/`add_alternative` would give;
the email package's own way is kept for anything else (non-ASCII names and subjects,
long values, attachments).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html as html_lib
import itertools
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import Address, BaseHeader, Group, HeaderRegistry
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from io import BytesIO
from typing import Any, Protocol, cast

from ..addresses import normalize_email
from ..kinds import TemplateKind, kinds_where
from ..model import Attachment, Comment, Role, Ticket, User
from ..planned import PlannedEmail, Recipient
from ..ports import Clock, PlanReader, RandomSource
from ..reply_marker import END_CLASS, START_CLASS, end_text, marker_line
from ..settings import NotificationSettings, Settings
from ..templating.render import (
    EmailTemplate,
    Templates,
    compile_email,
    header_text,
    render_compiled,
)
from ..templating.sanitize import MAX_INPUT, escape, sanitize_html
from ..templating.values import (
    FieldValue,
    FileLink,
    LinkItem,
    MaskValues,
    Message,
    Person,
    TemplateData,
    text_to_html,
)
from ..text import ALTERNATIVE, html_to_text, tidy_pieces
from ..tokens import check_message_id, new_message_id, with_ticket_token, without_commands
from .autologin import make_autologin_url, make_rating_url, make_unsubscribe_url, ticket_url
from .per_event import About, EventFacts, SentenceFacts, Shows, event_row, what_happened

__all__ = [
    "ComposeError",
    "build_template_data",
    "render_message",
]

RATING_TTL = timedelta(days=30)
UNSUBSCRIBE_TTL = timedelta(days=365)
KB_SUGGESTIONS = 5
KB_QUERY_CHARS = 2000
"""Characters of the ticket (subject, then text) the suggested KB articles are searched
with: a search over a megabyte of text costs the host's search as much as the email."""
MAX_REFERENCES = 10
_MESSAGE_ID = re.compile(r"<[^<>\s@\x00-\x1f\x7f]{1,250}@[^<>\s@\x00-\x1f\x7f]{1,250}>")
_CID_REF = re.compile(r'src="cid:([^"]+)"')
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}")
_TICKET_KINDS = kinds_where(about_ticket=True)
_HUMAN_KINDS = kinds_where(human_from=True)
_RECENT_KINDS = kinds_where(new_message=True)
_RATING_KINDS = kinds_where(rating=True)
_KB_MASK = "Suggested_KB_articles"
_UNSUBSCRIBE_MASK = "Unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"
"""The value of ``List-Unsubscribe-Post`` (RFC 8058)."""
_MAX_HEADER_LINE = 998  # RFC 5322 2.1.1, CRLF excluded
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
MAX_WIDTH_PX = 600
"""The width of the column every notification is laid out in, at most (mobile-friendly)."""
_HIDDEN = "display:none;max-height:0;max-width:0;overflow:hidden;font-size:0;line-height:0"
_MARKER_STYLE = "color:#999999;font-size:11px;line-height:1.4"
_HTML_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<style>img{{max-width:100%;height:auto}} table{{max-width:100%}}</style></head>\n"
    '<body style="margin:0;padding:0;background-color:#ffffff">\n'
    f'<div style="max-width:{MAX_WIDTH_PX}px;margin:0 auto;padding:12px 16px">\n'
    f'<div class="{START_CLASS}" id="{START_CLASS}" style="{_HIDDEN}"></div>'
    f'<div class="{START_CLASS}-line" style="{_MARKER_STYLE};margin:0 0 12px 0">{{top}}</div>\n'
    "{body}\n"
    f'<div class="{END_CLASS}-line" style="{_MARKER_STYLE};margin:16px 0 0 0">{{bottom}}</div>'
    f'<div class="{END_CLASS}" id="{END_CLASS}" style="{_HIDDEN}"></div>\n'
    "</div>\n</body></html>\n"
)
"""The page around every notification's HTML: the column, and the reply markers
(`reply_marker`) above and below the template's content."""
_PAGE_HEAD, _PAGE_TAIL = _HTML_PAGE.split("{body}")


class ComposeError(ValueError):
    """The settings do not allow composing an email (e.g. no From address)."""


def helpdesk_name(settings: Settings) -> str:
    """The helpdesk's name as notifications show it: `from_name`, else the From address."""
    out = settings.outgoing
    return header_text(out.from_name or out.from_address, 120)


# --- template data from the host's data ------------------------------------------
#
# `EVENTS[type(event)]` (outbound/per_event.py) says what the email is about and which
# message it shows; `_ABOUT` and `_SHOWS` below say how each is read from storage, and
# `what_happened` writes the sentence. `_Reads` reads each piece of the host's data
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


def _real_name(user: User | None) -> str:
    if user is None:
        return ""
    full = " ".join(p for p in (user.first_name, user.last_name) if p)
    return user.name or full or user.username


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


class _Reads:
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
        return _person(self.user(email), email)

    def ticket(self, ticket_id: int) -> Ticket | None:
        if ticket_id not in self._tickets:
            self._tickets[ticket_id] = self.storage.ticket(ticket_id)
        return self._tickets[ticket_id]

    def comments(self, ticket: Ticket) -> Sequence[Comment]:
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
    reads: _Reads
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
class _Built:
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
    uses_kb = compile_email(planned.template, templates).uses(_KB_MASK)
    reads = _Reads(storage, planned.include_attachments)
    return _build(planned, settings, reads, staff=staff_audience, uses_kb=uses_kb).data


def _build(
    planned: PlannedEmail, settings: Settings, reads: _Reads, *, staff: bool, uses_kb: bool
) -> _Built:
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


def _about_new_user(b: _Build) -> _Built:
    event = cast(_NewUserEvent, b.planned.event)
    user = b.reads.user(event.email)
    return _Built(
        dataclasses.replace(
            b.data,
            what_happened=what_happened(b.planned.template, b.sentence),
            username=(user.username if user is not None else "") or event.email,
            password=event.password,
        )
    )


def _about_account(b: _Build) -> _Built:
    what = what_happened(b.planned.template, b.sentence)
    return _Built(dataclasses.replace(b.data, what_happened=what, url=b.base))


def _about_article(b: _Build) -> _Built:
    article_id = cast(_ArticleEvent, b.planned.event).article_id
    article = b.reads.storage.kb_article(article_id)
    title = article.title if article is not None else f"#{article_id}"
    url = (article.url if article is not None else "") or (
        f"{b.base.rstrip('/')}/kb/{article_id}" if b.base else ""
    )
    sentence = dataclasses.replace(b.sentence, article=title)
    return _Built(
        dataclasses.replace(
            b.data,
            what_happened=what_happened(b.planned.template, sentence),
            subject=title,
            category=(article.category or "") if article is not None else "",
            url=url,
        )
    )


def _about_ticket(b: _Build) -> _Built:
    planned, reads, kind = b.planned, b.reads, b.planned.template
    ticket_id = planned.ticket_id
    if ticket_id is None:
        ticket_id = cast(_TicketEvent, planned.event).ticket_id
    ticket = reads.ticket(ticket_id) if ticket_id is not None else None
    if ticket is None:
        return _Built(dataclasses.replace(b.data, ticket_id=ticket_id))

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
        return _Built(_without_content(data))
    return _Built(data, [a for a in shown_files if not a.inline])


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


_ABOUT: Mapping[About, Callable[[_Build], _Built]] = {
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


# --- per recipient ---------------------------------------------------------------


def _recipient_data(
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


# --- headers ----------------------------------------------------------------------


class _Headers(HeaderRegistry):
    """The email package's header registry, its header classes made once.

    `HeaderRegistry` builds a new class for every header it parses (``type(...)`` on
    each ``__getitem__``), which is most of the cost of setting a header; the classes
    depend on the name only, so they are kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        made = self._made.get(name.lower())
        if made is None:
            made = self._made[name.lower()] = super().__getitem__(name)
        return made


POLICY = policy.SMTP.clone(header_factory=_Headers())
"""The policy of every message composed here: `email.policy.SMTP`, with header classes
made once (see `_Headers`)."""
_FOLDED_LINE = 78  # policy.SMTP.max_line_length


def _one_line(name: str, value: str) -> bool:
    """Whether the field is written as ``name: value`` on one line, as it is."""
    return (
        value.isascii()
        and value.isprintable()
        and len(name) + 2 + len(value) <= _FOLDED_LINE
        and value == value.strip()
    )


def _fold_as_is(self: BaseHeader, *, policy: policy.Policy) -> str:
    return f"{self.name}: {self}{policy.linesep}"


_PARSED: dict[str, type[BaseHeader]] = {}
_CONSTANT: dict[tuple[str, str], BaseHeader] = {}


def _parsed(name: str, value: str) -> BaseHeader:
    """The header object of a one-line field (`_one_line`), written as it is."""
    cls = _PARSED.get(name.lower())
    if cls is None:
        base = POLICY.header_factory[name]  # type: ignore[index]
        cls = type(f"_OneLine{base.__name__}", (base,), {"fold": _fold_as_is})
        _PARSED[name.lower()] = cls
    header: BaseHeader = cls(name, value)
    return header


# What a header's parse sets (`BaseHeader.init` and its subclasses'): a `_verbatim`
# header parses itself when one of them is first read.
_PARSED_ATTRIBUTES = frozenset(
    {
        "_parse_tree",
        "_defects",
        "_groups",
        "_addresses",
        "_params",
        "_maintype",
        "_subtype",
        "_datetime",
        "_version",
        "_major",
        "_minor",
        "_cte",
        "_content_disposition",
    }
)


def _new_verbatim(cls: type[BaseHeader], name: str, value: str) -> BaseHeader:
    header: BaseHeader = str.__new__(cls, value)
    header.__dict__["_name"] = name
    return header


def _parse_on_read(self: BaseHeader, attribute: str) -> Any:
    """`__getattr__` of a `_verbatim` header: parse it the email package's way when what
    the parse sets is first read (a value that is not there otherwise: AttributeError)."""
    state = self.__dict__
    if attribute not in _PARSED_ATTRIBUTES or state.get("_parsed_now"):
        raise AttributeError(attribute)
    state["_parsed_now"] = True
    base = type(self).__mro__[1]  # the registry's class of the field
    kwds: dict[str, Any] = {"defects": []}
    base.parse(str(self), kwds)  # type: ignore[attr-defined]
    del kwds["decoded"]
    prefilled = {k: v for k, v in state.items() if k in _PARSED_ATTRIBUTES}
    base.init(self, state["_name"], **kwds)  # type: ignore[attr-defined]
    state.update(prefilled)
    return object.__getattribute__(self, attribute)


_VERBATIM: dict[str, type[BaseHeader]] = {}


def _verbatim(name: str, value: str) -> BaseHeader:
    """The header object of a one-line field written as it is, not parsed until what the
    parse gives (its addresses, its parameters) is read. For values the email package
    reads back as they are (`_lossless`): its parse keeps the text of these."""
    cls = _VERBATIM.get(name.lower())
    if cls is None:
        base = POLICY.header_factory[name]  # type: ignore[index]
        cls = type(
            f"_Verbatim{base.__name__}",
            (base,),
            {"fold": _fold_as_is, "__new__": _new_verbatim, "__getattr__": _parse_on_read},
        )
        _VERBATIM[name.lower()] = cls
    return cls(name, value)


# Values whose parse by the email package gives back the same text (its `decoded`), so
# that a `_verbatim` header is the one `_parsed` makes: a Message-ID of dot-atoms (as
# `tokens.new_message_id` makes them) and a Content-Type with a token boundary.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_LOSSLESS = {
    "message-id": re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>"),
    "content-type": re.compile(r'multipart/[a-z]+; boundary="[A-Za-z0-9=_]+"'),
}


def _lossless(name: str, value: str) -> bool:
    pattern = _LOSSLESS.get(name.lower())
    return pattern is not None and "=?" not in value and pattern.fullmatch(value) is not None


def _set(msg: EmailMessage, name: str, value: str, *, read: bool = False) -> None:
    """``msg[name] = value``, but a one-line value is stored as it will be written.

    The email package parses a header when it is set, again each time it is read if it
    was stored raw, and refolds it when it is written. A one-line value (`_one_line`)
    comes out of all that unchanged: it is stored raw (parsed only if someone reads it)
    or, for the fields read again before the message leaves (`read`: its recipients,
    its MIME structure), as a header written as it is: parsed once, or (`_lossless`
    values) only when what the parse gives is read. Anything else takes the usual way
    (encoded words, folding).
    """
    if not _one_line(name, value):
        msg[name] = value
    elif read:
        header = _verbatim(name, value) if _lossless(name, value) else _parsed(name, value)
        msg.set_raw(name, header)
    else:
        msg.set_raw(name, value)


def _set_constant(msg: EmailMessage, name: str, value: str) -> None:
    """A field whose value is the same in every message (parsed once in all)."""
    header = _CONSTANT.get((name, value))
    if header is None:
        header = _CONSTANT[(name, value)] = _parsed(name, value)
    msg.set_raw(name, header)


# An address the email package writes and reads back as it is: a display name of atoms
# (nothing quoted, no encoded word) and an addr-spec of dot-atoms.
_SIMPLE_NAME = re.compile(rf"(?:{_ATEXT}+(?: {_ATEXT}+)*)?")
_SIMPLE_SPEC = re.compile(_DOT_ATOM)


def _simple(address: Address) -> bool:
    return (
        _SIMPLE_NAME.fullmatch(address.display_name) is not None
        and _SIMPLE_SPEC.fullmatch(address.username) is not None
        and _SIMPLE_SPEC.fullmatch(address.domain) is not None
        and "=?" not in address.display_name
        and "=?" not in address.username
        and "=?" not in address.domain
    )


def _set_addresses(
    msg: EmailMessage, name: str, addresses: Sequence[Address], *, read: bool = False
) -> None:
    """An address header; ASCII names and addresses as `_set` stores them. Read again
    (`read`), simple addresses (`_simple`) are not parsed at all: the header gets the
    addresses the email package would parse from their text, these."""
    text = ", ".join(str(a) for a in addresses)
    if not (text.isascii() and all(a.display_name.isascii() for a in addresses)):
        msg[name] = addresses
    elif read and _one_line(name, text) and all(_simple(a) for a in addresses):
        header = _verbatim(name, text)
        header.__dict__.update(
            _groups=tuple(Group(None, [a]) for a in addresses),
            _addresses=tuple(addresses),
            _defects=[],
        )
        msg.set_raw(name, header)
    else:
        _set(msg, name, text, read=read)


class _OneLine(str):
    """A header value the email package writes on one line, as it is.

    A ``List-Unsubscribe`` URL is longer than a folded line and has no space to fold at:
    the email package would write it as RFC 2047 encoded words, which no mail client
    reads as a URL. Values given here are printable ASCII without white space.
    """

    name: str

    def __new__(cls, name: str, value: str) -> _OneLine:
        self = super().__new__(cls, value)
        self.name = name
        return self

    def fold(self, *, policy: policy.Policy) -> str:
        """The whole field, one line (the email package calls this to write it)."""
        return f"{self.name}: {self}{policy.linesep}"


def _list_unsubscribe(url: str) -> _OneLine | None:
    """``<url>`` for the List-Unsubscribe field, or None when it cannot be one line of ASCII."""
    value = f"<{urllib.parse.quote(url, safe=_URL_SAFE)}>"  # printable ASCII, no space
    if len("List-Unsubscribe: ") + len(value) > _MAX_HEADER_LINE:
        return None
    return _OneLine("List-Unsubscribe", value)


def _unsubscribe_headers(msg: EmailMessage, url: str, one_click: bool) -> None:
    """List-Unsubscribe (RFC 2369) and, for a link that works with one click, its POST
    (RFC 8058)."""
    value = _list_unsubscribe(url)
    if value is None:
        return
    msg.set_raw("List-Unsubscribe", value)
    if one_click and url.startswith("https://"):
        _set_constant(msg, "List-Unsubscribe-Post", ONE_CLICK)


def _address(email: str, name: str = "") -> Address | None:
    """An address for a header, or None if `email` is not a plain valid address."""
    email = email.strip()
    if not email or any(ord(c) < 33 or c in '<>(),;:"[]\\' for c in email):
        return None
    if email.count("@") != 1:
        return None
    local, domain = email.split("@")
    if not local or not domain:
        return None
    try:
        return Address(display_name=header_text(name, 120), username=local, domain=domain)
    except Exception:  # the email package rejects what it cannot serialise
        return None


def _safe_filename(name: str) -> str:
    cleaned = header_text(name, 150).replace("/", "_").replace("\\", "_").replace('"', "'")
    return cleaned.strip(". ") or "attachment"


def _content_type(value: str) -> tuple[str, str]:
    value = value.strip().lower()
    if not _CONTENT_TYPE.fullmatch(value):
        return "application", "octet-stream"
    maintype, subtype = value.split("/")
    if maintype in ("multipart", "message"):
        return "application", "octet-stream"
    return maintype, subtype


def _human_name(planned: PlannedEmail, reads: _Reads, settings: Settings) -> str:
    if settings.outgoing.from_name_for_all or planned.template not in _HUMAN_KINDS:
        return ""
    actor = getattr(planned.event, "actor", "")
    return _real_name(reads.user(actor)) if actor else ""


# --- the messages -----------------------------------------------------------------


def render_message(
    planned: PlannedEmail,
    templates: Templates | None,
    settings: Settings,
    storage: PlanReader,
    clock: Clock,
    random: RandomSource,
) -> list[EmailMessage] | None:
    """The emails of `planned`: one per recipient (one in CC mode); None when skipped.

    Raises `ComposeError` when `OutgoingSettings.from_address` is not set and
    `TemplateError` for an unusable template mapping. Recipients whose address cannot
    be put in a header are left out (the list may then be empty).

    The template is compiled once, and the host's data read once, for all recipients.
    """
    out = settings.outgoing
    if not out.from_address:
        raise ComposeError("outgoing.from_address must be set to send notifications")
    kind = planned.template
    template = compile_email(kind, templates)
    if template.skipped:
        return None
    uses_kb = template.uses(_KB_MASK)
    uses_unsubscribe = template.uses(_UNSUBSCRIBE_MASK)
    now = clock.now()
    reads = _Reads(storage, planned.include_attachments)
    sender = _address(out.from_address, _human_name(planned, reads, settings) or out.from_name)
    if sender is None:
        raise ComposeError(f"outgoing.from_address {out.from_address!r} is not usable")
    domain = out.message_id_domain or sender.domain

    ticket = reads.ticket(planned.ticket_id) if planned.ticket_id is not None else None
    shared: dict[bool, _Built] = {}

    def built_for(staff: bool) -> _Built:
        if staff not in shared:
            shared[staff] = _build(planned, settings, reads, staff=staff, uses_kb=uses_kb)
        return shared[staff]

    groups: list[tuple[tuple[Recipient, ...], tuple[Recipient, ...], Recipient | None]]
    if planned.cc_mode:
        groups = [(planned.to, planned.cc, None)]
    else:
        groups = [((r,), (), r) for r in (*planned.to, *planned.cc)]

    messages: list[EmailMessage] = []
    for to, cc, personal in groups:
        to_addrs = [a for r in to if (a := _address(r.email, r.name)) is not None]
        cc_addrs = [a for r in cc if (a := _address(r.email, r.name)) is not None]
        if not to_addrs and not cc_addrs:
            continue
        built = built_for(all(r.role.is_staff for r in (*to, *cc)))
        data = _recipient_data(built.data, planned, personal, settings, now)
        subject = header_text(render_compiled(template.subject, MaskValues(data)))
        msg = _Notification(policy=POLICY)
        _set_addresses(msg, "From", [sender])
        if to_addrs:
            _set_addresses(msg, "To", to_addrs, read=True)
        if cc_addrs:
            _set_addresses(msg, "Cc", cc_addrs, read=True)
        if out.reply_to:
            reply_to = _address(out.reply_to)
            if reply_to is not None:
                _set_addresses(msg, "Reply-To", [reply_to])
        subject = without_commands(subject)  # a reply runs only what its sender typed
        _set(msg, "Subject", header_text(with_ticket_token(subject, data.ticket_id)))
        _set(msg, "Date", format_datetime(now))
        message_id = new_message_id(data.ticket_id, domain, out.secret_key, random.token_bytes)
        _set(msg, "Message-ID", message_id, read=True)
        _thread_headers(msg, ticket, out.secret_key)
        _set_constant(msg, "Auto-Submitted", "auto-generated")
        _set_constant(msg, "X-Auto-Response-Suppress", "All")
        if uses_unsubscribe and data.unsubscribe_url:
            signed = personal is not None and bool(out.secret_key)
            _unsubscribe_headers(msg, data.unsubscribe_url, one_click=signed)
        top = marker_line(settings.notifications.reply_marker)
        bottom = marker_line(end_text(helpdesk_name(settings), data.ticket_id))
        boundary = _boundary(message_id)
        _body(
            msg,
            template,
            data,
            (top, bottom),
            boundary,
            planned,
            ticket,
            reads,
            built.files,
            settings.notifications,
        )
        _set_boundaries(msg, boundary)
        messages.append(msg)
    return messages


def _thread_headers(msg: EmailMessage, ticket: Ticket | None, secret: str) -> None:
    """In-Reply-To and References from the ticket's stored Message-IDs, never one that
    names another ticket: a signed one of ours for another ticket is left out (a host
    that stored it anyway must not route this ticket's replies there)."""
    if ticket is None:
        return
    ids = list(
        dict.fromkeys(
            m.strip()
            for m in ticket.message_ids
            if _MESSAGE_ID.fullmatch(m.strip())
            and check_message_id(m, secret).ticket_id in (None, ticket.id)
        )
    )
    if not ids:
        return
    _set(msg, "In-Reply-To", ids[-1])
    refs = ids if len(ids) <= MAX_REFERENCES else [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    _set(msg, "References", " ".join(refs))


def _boundary(message_id: str) -> str:
    """The multipart boundary of a message: unique as its Message-ID, and starting with
    ``==``, which no quoted-printable body contains."""
    # 20 hex digits: the Content-Type field stays on one line (see `_set`)
    return "==hm_" + hashlib.sha256(message_id.encode()).hexdigest()[:20] + "=="


def _text_part(texts: Iterable[str], subtype: str) -> EmailMessage:
    """A UTF-8, quoted-printable text part of `texts` one after the other, as
    ``set_content("".join(texts), subtype=..., charset="utf-8", cte="quoted-printable")``
    makes it, its headers set as they are written.

    The body is encoded a slice of whole lines at a time: the email package's encoder
    holds the whole text five times over (bytes, lines, joined, decoded, encoded), and
    the same bytes come out of it slice by slice (it encodes each line alone).
    """
    part = EmailMessage(policy=POLICY)
    _set_constant(part, "Content-Type", f'text/{subtype}; charset="utf-8"')
    _set_constant(part, "Content-Transfer-Encoding", "quoted-printable")
    encoded: list[str] = []
    for piece in _line_slices(texts):
        # what set_content encodes: the text's UTF-8 bytes, as Latin-1 characters, each
        # line ending in LF, a line end at the end
        if "\r" in piece:
            piece = piece.replace("\r\n", "\n").replace("\r", "\n")
        if not piece.endswith("\n"):
            piece += "\n"
        if not piece.isascii():
            piece = piece.encode("utf-8").decode("latin-1")
        encoded.extend(_quoted_printable(piece))
    part.set_payload("".join(encoded) if encoded else "\n")
    return part


# `email.quoprimime.body_encode(body, 78)`, the encoder set_content uses, line for line,
# with its output gathered in strings of many lines: it keeps a string per 77 characters
# of output (a 4 MB line of spaces: 8 times its size).
_QP_MAP = [f"={c:02X}" for c in range(256)]
for _c in (
    b" !\"#$%&'()*+,-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
    b"abcdefghijklmnopqrstuvwxyz{|}~\t\r\n"
):
    _QP_MAP[_c] = chr(_c)
_QP_GROUP = 4096  # output lines gathered into one string


def _quoted_printable(body: str) -> Iterator[str]:
    """`quoprimime.body_encode(body, 78)` (line ends LF), in pieces to concatenate.
    `body`: characters below 256, ending in a line end."""
    body = body.translate(_QP_MAP)
    width = _FOLDED_LINE - 1  # room for the "=" of a soft break
    out: list[str] = []
    append = out.append
    for line in body.splitlines():
        start = 0
        last = len(line) - 1 - _FOLDED_LINE
        while start <= last:
            stop = start + width
            if line[stop - 2] == "=":  # never split an escape
                append(line[start : stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                append(line[start:stop])
                start = stop - 1
            else:
                append(line[start:stop] + "=")
                start = stop
            if len(out) >= _QP_GROUP:
                yield "\n".join(out) + "\n"
                out.clear()
        if line and line[-1] in " \t":
            room = start - last
            quoted = f"={ord(line[-1]):02X}"
            if room >= 3:
                end = quoted
            elif room == 2:
                end = line[-1] + "=\n"
            else:
                end = "=\n" + quoted
            append(line[start:-1] + end)
        else:
            append(line[start:])
        if len(out) >= _QP_GROUP:
            yield "\n".join(out) + "\n"
            out.clear()
    append("")  # the body ends in a line end
    yield "\n".join(out)


_SLICE = 1 << 16


def _line_slices(texts: Iterable[str]) -> Iterator[str]:
    """The text of `texts` one after the other, in slices that end where a line ends
    (``\\n``), of about `_SLICE` characters; the last one may end otherwise."""
    carry = ""
    for text in texts:
        start = 0
        while start < len(text):
            end = text.find("\n", start + max(_SLICE - len(carry), 0))
            if end == -1:
                carry += text[start:]
                break
            yield carry + text[start : end + 1]
            carry, start = "", end + 1
    if carry:
        yield carry


def _drained(pieces: list[str]) -> Iterator[str]:
    """The pieces of `tidy_pieces`, each with its line end, each let go once taken: as
    `tidy_text` ends the text."""
    for i, piece in enumerate(pieces):
        pieces[i] = ""
        yield piece + "\n"
    if not pieces:
        yield "\n"


def _body(
    msg: EmailMessage,
    template: EmailTemplate,
    data: TemplateData,
    markers: tuple[str, str],
    boundary: str,
    planned: PlannedEmail,
    ticket: Ticket | None,
    reads: _Reads,
    files: Sequence[Attachment],
    notifications: NotificationSettings,
) -> None:
    """The text and HTML parts (``multipart/alternative``, separated by `boundary`),
    between the reply markers (`markers`: the top and bottom lines); with attachments on,
    the inline images the HTML shows and the files of the message the email shows
    (`files`), in order while they fit in `max_attached_bytes` and `max_attached_files`
    (the others are only listed).

    What `render_compiled_email` renders, one body at a time, each encoded as soon as
    it is rendered (a message of megabytes was held in each body, each mask value and
    each intermediate at once): the HTML, then the plain text (`tidy_text` of the
    template's text version).
    """
    top, bottom = markers
    html = render_compiled(template.body, MaskValues(data))
    attach = planned.include_attachments and ticket is not None
    wanted = dict.fromkeys(html_lib.unescape(c) for c in _CID_REF.findall(html)) if attach else {}
    head = _PAGE_HEAD.format(top=escape(top))
    html_part = _text_part((head, html, _PAGE_TAIL.format(bottom=escape(bottom))), "html")
    del html
    text_version = template.body.text_version
    text = render_compiled(text_version, MaskValues(data)) if text_version else ""
    pieces = tidy_pieces(text)
    del text
    plain = _text_part(
        itertools.chain((f"{top}\n\n",), _drained(pieces), (f"\n{bottom}\n",)), "plain"
    )
    _set_constant(msg, "MIME-Version", "1.0")
    _set(msg, "Content-Type", f'multipart/alternative; boundary="{boundary}"', read=True)
    msg.set_payload([plain, html_part])
    if not attach:
        return
    budget = _Budget(notifications.max_attached_bytes, notifications.max_attached_files)
    for cid in wanted:
        # only the parts of the message that refers to them (see `_message`)
        a = reads.inline.get(cid)
        if a is None or not budget.fits(a):
            continue
        content = reads.content(a)
        if content and budget.take(content):
            maintype, subtype = _content_type(a.content_type)
            html_part.add_related(
                content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{cid}>",
                filename=_safe_filename(a.filename),
                disposition="inline",
            )
    for a in files:
        if not budget.fits(a):
            continue
        content = reads.content(a)
        if not content or not budget.take(content):  # no bytes: a file the host keeps apart
            continue
        maintype, subtype = _content_type(a.content_type)
        msg.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=_safe_filename(a.filename)
        )


class _Budget:
    """What one notification may still attach: bytes and files."""

    def __init__(self, size: int, files: int) -> None:
        self.bytes = size
        self.files = files

    def fits(self, attachment: Attachment) -> bool:
        """Whether a file of this (stated) size may still be attached."""
        return self.files > 0 and attachment.size <= self.bytes

    def take(self, content: bytes) -> bool:
        """Count these bytes as attached, if they fit."""
        if self.files <= 0 or len(content) > self.bytes:
            return False
        self.files -= 1
        self.bytes -= len(content)
        return True


def _set_boundaries(msg: EmailMessage, boundary: str) -> None:
    """A boundary for each multipart that has none (attachments and inline images wrap
    the parts), so that the writer does not make one: it joins the whole text of the
    parts to find a string they do not hold. They start like `_boundary`'s, with
    ``==``, which no quoted-printable body holds (nor base64 but at a line's end)."""
    stack: list[tuple[EmailMessage, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if part.is_multipart():
            if not part.get_boundary():
                part.set_boundary(f"{boundary[:-2]}_{depth}==")
            stack.extend(
                (child, depth + 1) for child in part.iter_parts() if isinstance(child, EmailMessage)
            )


class _Generator(BytesGenerator):
    """The email package's writer, writing the same bytes in less memory: it splits a
    body into a list of lines (50 bytes a line more than the text), and writes each part
    to a buffer of its own before its headers (a copy of the body per level), so that it
    may still change them (a boundary it makes, a transfer encoding it changes). A part
    with its boundary set and an ASCII body needs neither: it is written straight out."""

    def _write(self, msg: Any) -> None:
        stored = getattr(msg, "_payload", None)
        if (isinstance(stored, str) and not stored.isascii()) or (
            msg.is_multipart() and not msg.get_boundary()
        ):
            super()._write(msg)  # type: ignore[misc]
            return
        self._write_headers(msg)  # type: ignore[attr-defined]
        self._dispatch(msg)  # type: ignore[attr-defined]

    def _handle_multipart(self, msg: Any) -> None:
        boundary = msg.get_boundary()
        parts = msg.get_payload()
        if (
            not boundary
            or not isinstance(parts, list)
            or msg.preamble is not None
            or msg.epilogue is not None
        ):
            super()._handle_multipart(msg)  # type: ignore[misc]
            return
        line_end: str = getattr(self, "_NL", "\n")
        out = self._fp  # type: ignore[attr-defined]
        for i, part in enumerate(parts):
            self.write(("" if i == 0 else line_end) + f"--{boundary}{line_end}")
            self.clone(out).flatten(part, unixfrom=False, linesep=line_end)
        self.write(f"{line_end}--{boundary}--{line_end}")

    def _write_lines(self, lines: str) -> None:
        start = 0
        while start < len(lines):
            end = lines.find("\n", start + _SLICE)
            end = len(lines) if end == -1 else end + 1
            piece = lines[start:end]
            if "\r" in piece:
                piece = piece.replace("\r\n", "\n").replace("\r", "\n")
            line_end: str = getattr(self, "_NL", "\n")  # the policy's, set by flatten
            self.write(piece.replace("\n", line_end) if line_end != "\n" else piece)
            start = end


class _Notification(EmailMessage):
    """A notification: written as the email package writes an `EmailMessage`, in less
    memory (see `_Generator`)."""

    def as_bytes(self, unixfrom: bool = False, policy: Policy | None = None) -> bytes:
        """The message as bytes (see `email.message.Message.as_bytes`)."""
        out = BytesIO()
        writer = _Generator(
            out, mangle_from_=False, policy=self.policy if policy is None else policy
        )
        writer.flatten(self, unixfrom=unixfrom)
        return out.getvalue()
