"""Composing notification emails: a `PlannedEmail` in, stdlib `EmailMessage`s out.

`render_message(planned, templates, settings, storage, clock, random)` renders the
planned email's template once per recipient (one email in CC mode) and returns the
messages, ready for `SendTransport.send`; None when the host's template for that kind
is empty (the notification is skipped).

Every message has (rules other code relies on):

- ``From``: `OutgoingSettings.from_address`, named `from_name` for system
  notifications; for human-originated mail (a reply, i.e. "ticket updated", and the
  "new ticket" email that carries the customer's message) named after its author,
  unless `from_name_for_all` is on or the author has no name.
- ``Reply-To``: `OutgoingSettings.reply_to`, when set.
- ``Auto-Submitted: auto-generated`` (RFC 3834) and ``X-Auto-Response-Suppress: All``.
- ``Message-ID``: signed (`tokens.new_message_id`) for ticket emails, so that a
  reply finds its ticket; an unsigned random one for other emails or without a secret.
  Domain: `message_id_domain`, else the From address's domain.
- ``In-Reply-To`` (the ticket's latest stored Message-ID) and ``References`` (its first
  and up to nine latest), when the ticket has any.
- A subject that starts with the ticket token ``[#1234]`` (added if the template left
  it out), so that replies thread even without Message-IDs.
- ``multipart/alternative``: the plain text derived from the HTML, then the HTML.
  Files of the new ticket or reply are attached, and inline images of shown messages
  included (``multipart/related``, by Content-ID), only when
  `PlannedEmail.include_attachments` is on; otherwise ``cid:`` images are replaced by
  their alt text.
- No header carries CR, LF or another control character from user data: names,
  subjects and file names are flattened to one line; invalid addresses are left out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from ..addresses import normalize_email
from ..events import (
    KBArticleUpdated,
    MailboxAccountDisabled,
    TicketClosed,
    TicketCreated,
    TicketMoved,
    TicketTaken,
    TicketUpdated,
    UserCreated,
)
from ..kinds import TemplateKind, kinds_where
from ..model import Attachment, Comment, Role, Ticket, User
from ..ports import Clock, RandomSource, StorageReader
from ..settings import Settings
from ..templating.compile import Format, compile_template
from ..templating.render import Templates, header_text, render_email, template_for
from ..templating.sanitize import sanitize_html
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
from ..text import ALTERNATIVE, html_to_text
from ..tokens import new_message_id, with_ticket_token
from .autologin import make_autologin_url, make_rating_url, make_unsubscribe_url, ticket_url
from .planned import PlannedEmail, Recipient

__all__ = [
    "ComposeError",
    "build_template_data",
    "render_message",
]

RATING_TTL = timedelta(days=30)
UNSUBSCRIBE_TTL = timedelta(days=365)
KB_SUGGESTIONS = 5
MAX_REFERENCES = 10
_MESSAGE_ID = re.compile(r"<[^<>\s@\x00-\x1f\x7f]{1,250}@[^<>\s@\x00-\x1f\x7f]{1,250}>")
_CID_REF = re.compile(r'src="cid:([^"]+)"')
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}")
_TICKET_KINDS = kinds_where(about_ticket=True)
_HUMAN_KINDS = kinds_where(human_from=True)
_RECENT_KINDS = kinds_where(new_message=True)
_HTML_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width"></head>\n<body>\n{}\n</body></html>\n'
)


class ComposeError(ValueError):
    """The settings do not allow composing an email (e.g. no From address)."""


# --- template data from the host's data ------------------------------------------


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


def _message(
    author: str,
    date: datetime | None,
    body_html: str | None,
    body_text: str,
    attachments: tuple[FileLink, ...] = (),
    techs_only: bool = False,
    allow_cid: bool = True,
) -> Message:
    if body_html:
        html = sanitize_html(body_html, allow_cid=allow_cid)
        text = body_text or html_to_text(html, ALTERNATIVE)
    else:
        html = text_to_html(body_text.strip())
        text = body_text
    return Message(author, date, html, text, attachments, techs_only)


def _originator(storage: StorageReader, actor: str) -> tuple[User | None, Person]:
    if not actor:
        return None, Person()
    user = storage.user(actor)
    return user, _person(user, actor)


def _comment_message(storage: StorageReader, c: Comment, allow_cid: bool) -> Message:
    author = storage.user(c.author)
    return _message(
        _person(author, c.author).name,
        c.created_at,
        c.body_html,
        c.body_text,
        attachments=_files(c.attachments),
        techs_only=c.techs_only,
        allow_cid=allow_cid,
    )


def _ticket_message(storage: StorageReader, t: Ticket, allow_cid: bool) -> Message:
    return _message(
        _person(storage.user(t.submitter), t.submitter).name,
        t.created_at,
        t.body_html,
        t.body_text,
        attachments=_files(t.attachments),
        allow_cid=allow_cid,
    )


def _event_comment(event: TicketUpdated, comments: Sequence[Comment]) -> Comment | None:
    if event.comment_id is not None:
        for c in comments:
            if c.id == event.comment_id:
                return c
    mine = [c for c in comments if c.author == normalize_email(event.actor)]
    if mine:
        return mine[-1]
    return comments[-1] if comments else None


def _uses(planned: PlannedEmail, templates: Templates | None, name: str) -> bool:
    subject, body = template_for(planned.template, templates)
    for text, fmt in ((subject, Format.TEXT), (body, Format.HTML)):
        compiled = compile_template(text, planned.template, fmt)
        if any(s.ref.spec.name == name and s.ref.allowed for s in compiled.slots):
            return True
    return False


def build_template_data(
    planned: PlannedEmail,
    settings: Settings,
    storage: StorageReader,
    clock: Clock,
    *,
    templates: Templates | None = None,
    staff_audience: bool = True,
) -> TemplateData:
    """What the masks of `planned` show, shared by its recipients (links are per recipient).

    `staff_audience` off leaves techs-only replies out. Suggested KB articles are
    looked up only when the template uses `#Suggested_KB_articles#`.
    """
    kind = planned.template
    event = planned.event
    base = settings.outgoing.helpdesk_url
    allow_cid = planned.include_attachments
    actor = getattr(event, "actor", "")
    _, originator = _originator(storage, actor)
    data = TemplateData(kind=kind, originator=originator, login_url=base)
    recipients = tuple(r.name or r.email for r in (*planned.to, *planned.cc))
    data = dataclasses.replace(data, recipients=recipients)
    who = originator.name or "someone"

    if isinstance(event, UserCreated):
        user = storage.user(event.email)
        username = (user.username if user is not None else "") or event.email
        return dataclasses.replace(data, username=username, password=event.password)
    if isinstance(event, MailboxAccountDisabled):
        text = (
            f'The incoming mailbox account "{event.account}" has been disabled after '
            f"{event.failures} failed attempts in a row. Last error: {event.last_error}"
        )
        return dataclasses.replace(data, what_happened=text, url=base)
    if isinstance(event, KBArticleUpdated):
        article = storage.kb_article(event.article_id)
        title = article.title if article is not None else f"#{event.article_id}"
        url = (article.url if article is not None else "") or (
            f"{base.rstrip('/')}/kb/{event.article_id}" if base else ""
        )
        return dataclasses.replace(
            data,
            what_happened=f'The knowledge-base article "{title}" has been updated by {who}.',
            subject=title,
            category=(article.category or "") if article is not None else "",
            url=url,
        )

    ticket_id = planned.ticket_id
    if ticket_id is None:
        ticket_id = getattr(event, "ticket_id", None)
    ticket = storage.ticket(ticket_id) if ticket_id is not None else None
    if ticket is None:
        return dataclasses.replace(data, ticket_id=ticket_id)

    comments = list(storage.comments(ticket.id))
    log: list[Message] = [_ticket_message(storage, ticket, allow_cid)]
    log.extend(
        _comment_message(storage, c, allow_cid)
        for c in comments
        if staff_audience or not c.techs_only
    )
    submitter = _person(storage.user(ticket.submitter), ticket.submitter)
    technician = (
        _person(storage.user(ticket.assignee), ticket.assignee) if ticket.assignee else Person()
    )
    subscriber_users = [(e, storage.user(e)) for e in ticket.subscribers]
    all_files = list(ticket.attachments)
    for c in comments:
        if staff_audience or not c.techs_only:
            all_files.extend(c.attachments)

    what = ""
    what_message: Message | None = None
    recent: tuple[FileLink, ...] = ()
    if isinstance(event, TicketCreated):
        what_message = log[0]
        recent = _files(ticket.attachments)
        if kind is TemplateKind.TICKET_CONFIRMATION:
            what = "Your ticket has been received."
        else:
            what = f"A new ticket has been submitted by {who}."
    elif isinstance(event, TicketUpdated):
        comment = _event_comment(event, comments)
        what = f"The ticket has been updated by {who}."
        if comment is not None and (staff_audience or not comment.techs_only):
            what_message = _comment_message(storage, comment, allow_cid)
            recent = _files(comment.attachments)
    elif isinstance(event, TicketClosed):
        what = f"The ticket has been closed by {who}."
    elif isinstance(event, TicketTaken):
        what = f"The ticket has been taken by {who}."
    elif isinstance(event, TicketMoved):
        old = event.old_category or "no category"
        new = event.new_category or "no category"
        what = f'The ticket has been moved from "{old}" to "{new}" by {who}.'
    if kind not in _RECENT_KINDS:
        recent = ()

    kb: tuple[LinkItem, ...] = ()
    if _uses(planned, None if templates is None else templates, "Suggested_KB_articles"):
        query = f"{ticket.subject} {ticket.body_text or html_to_text(ticket.body_html or '')}"
        kb = tuple(LinkItem(a.title, a.url) for a in storage.search_kb(query, KB_SUGGESTIONS))

    return dataclasses.replace(
        data,
        what_happened=what,
        what_happened_message=what_message,
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
        submitter=submitter,
        technician=technician,
        url=ticket_url(base, ticket.id) if base else "",
        messages=tuple(reversed(log)),
        custom_fields=tuple(
            FieldValue(f.id, f.name, f.value, f.visibility.value == "public")
            for f in ticket.custom_fields
        ),
        attachments=_files(all_files),
        recent_attachments=recent,
        kb_articles=kb,
        subscribers=tuple(_username(u, e) for e, u in subscriber_users),
        non_tech_subscribers=tuple(
            _username(u, e) for e, u in subscriber_users if u is None or not u.is_staff
        ),
    )


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
    if ticket_id is None or not base or planned.template is TemplateKind.KB_ARTICLE_UPDATED:
        return data
    if planned.template not in _TICKET_KINDS:
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
        and planned.template is TemplateKind.TICKET_CLOSED
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


def _human_name(planned: PlannedEmail, storage: StorageReader, settings: Settings) -> str:
    if settings.outgoing.from_name_for_all or planned.template not in _HUMAN_KINDS:
        return ""
    actor = getattr(planned.event, "actor", "")
    return _real_name(storage.user(actor)) if actor else ""


# --- the messages -----------------------------------------------------------------


def render_message(
    planned: PlannedEmail,
    templates: Templates | None,
    settings: Settings,
    storage: StorageReader,
    clock: Clock,
    random: RandomSource,
) -> list[EmailMessage] | None:
    """The emails of `planned`: one per recipient (one in CC mode); None when skipped.

    Raises `ComposeError` when `OutgoingSettings.from_address` is not set and
    `TemplateError` for an unusable template mapping. Recipients whose address cannot
    be put in a header are left out (the list may then be empty).
    """
    out = settings.outgoing
    if not out.from_address:
        raise ComposeError("outgoing.from_address must be set to send notifications")
    kind = planned.template
    if not template_for(kind, templates)[1].strip():
        return None
    now = clock.now()
    sender = _address(out.from_address, _human_name(planned, storage, settings) or out.from_name)
    if sender is None:
        raise ComposeError(f"outgoing.from_address {out.from_address!r} is not usable")
    domain = out.message_id_domain or sender.domain

    ticket = storage.ticket(planned.ticket_id) if planned.ticket_id is not None else None
    shared: dict[bool, TemplateData] = {}

    def data_for(staff: bool) -> TemplateData:
        if staff not in shared:
            shared[staff] = build_template_data(
                planned, settings, storage, clock, templates=templates, staff_audience=staff
            )
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
        staff = all(r.role.is_staff for r in (*to, *cc))
        data = _recipient_data(data_for(staff), planned, personal, settings, now)
        rendered = render_email(kind, data, templates, MaskValues(data))
        if rendered is None:
            return None
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = sender
        if to_addrs:
            msg["To"] = to_addrs
        if cc_addrs:
            msg["Cc"] = cc_addrs
        if out.reply_to:
            reply_to = _address(out.reply_to)
            if reply_to is not None:
                msg["Reply-To"] = reply_to
        msg["Subject"] = header_text(with_ticket_token(rendered.subject, data.ticket_id))
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = new_message_id(
            data.ticket_id, domain, out.secret_key, random.token_bytes
        )
        _thread_headers(msg, ticket)
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        _body(msg, rendered.text, rendered.html, planned, ticket, storage, data)
        messages.append(msg)
    return messages


def _thread_headers(msg: EmailMessage, ticket: Ticket | None) -> None:
    if ticket is None:
        return
    ids = list(
        dict.fromkeys(m.strip() for m in ticket.message_ids if _MESSAGE_ID.fullmatch(m.strip()))
    )
    if not ids:
        return
    msg["In-Reply-To"] = ids[-1]
    refs = ids if len(ids) <= MAX_REFERENCES else [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    msg["References"] = " ".join(refs)


def _body(
    msg: EmailMessage,
    text: str,
    html: str,
    planned: PlannedEmail,
    ticket: Ticket | None,
    storage: StorageReader,
    data: TemplateData,
) -> None:
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(
        _HTML_PAGE.format(html), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    if not planned.include_attachments or ticket is None:
        return
    comments = storage.comments(ticket.id)
    pool = list(ticket.attachments)
    for c in comments:
        pool.extend(c.attachments)
    wanted = dict.fromkeys(_CID_REF.findall(html))
    if wanted:
        html_part = msg.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        done: set[str] = set()
        for a in pool:
            cid = (a.content_id or "").strip("<> ")
            if a.inline and a.content and cid in wanted and cid not in done:
                done.add(cid)
                maintype, subtype = _content_type(a.content_type)
                html_part.add_related(
                    a.content,
                    maintype=maintype,
                    subtype=subtype,
                    cid=f"<{cid}>",
                    filename=_safe_filename(a.filename),
                    disposition="inline",
                )
    for a in _attached_files(planned, ticket, comments, data):
        maintype, subtype = _content_type(a.content_type)
        msg.add_attachment(
            a.content, maintype=maintype, subtype=subtype, filename=_safe_filename(a.filename)
        )


def _attached_files(
    planned: PlannedEmail, ticket: Ticket, comments: Sequence[Comment], data: TemplateData
) -> list[Attachment]:
    """The files of the new ticket or of the reply (not inline, with content)."""
    event = planned.event
    files: Sequence[Attachment] = ()
    if isinstance(event, TicketCreated) and planned.template in _RECENT_KINDS:
        files = ticket.attachments
    elif isinstance(event, TicketUpdated) and planned.template is TemplateKind.TICKET_UPDATED:
        comment = _event_comment(event, comments)
        if comment is not None and data.what_happened_message is not None:
            files = comment.attachments
    return [a for a in files if a.content and not a.inline]
