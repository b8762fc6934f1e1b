"""What the masks show: `TemplateData`, and each mask's value as text or as safe HTML.

`TemplateData` is built once per email by `outbound.compose` from the host's data
(or by hand, by a host previewing templates). Its fields hold plain text, except
`Message.html` and `body_html`, which must already be sanitized (`sanitize_html`):
`message_from_html` and `TemplateData` builders in compose do that.

`MaskValues` turns a mask into its value, in the form its place in the template
needs: plain text (text emails, subjects), HTML (escaped text or, for the "rich"
masks, a fragment of markup built here from escaped parts), an HTML attribute
value, or a URL. Values are memoized per mask, so a template with both
`#Subject#` and `#Subject#` computes it once.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import html as _html
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import chevron

from ..kinds import TemplateKind
from ..text import ALTERNATIVE, html_to_text
from .masks import MaskRef
from .sanitize import clean_text, escape, safe_url

__all__ = [
    "DEFAULT_RATING_PROMPT",
    "FieldValue",
    "FileLink",
    "LinkItem",
    "MaskValues",
    "Message",
    "Person",
    "TemplateData",
    "format_date",
    "format_duration",
    "format_size",
    "text_to_html",
]

DEFAULT_RATING_PROMPT = "Please rate your experience"
RECENT_DEFAULT = 5
SHORT_LIMIT = 100


@dataclass(frozen=True)
class Person:
    """Someone a mask can name: the submitter, the originator, the technician."""

    name: str = ""
    """Full name if known, otherwise username, otherwise the address."""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    company: str = ""
    department: str = ""
    location: str = ""


@dataclass(frozen=True)
class FileLink:
    """An attachment as templates list it: name, download link, size in bytes."""

    filename: str
    url: str = ""
    size: int = 0


@dataclass(frozen=True)
class LinkItem:
    """A titled link (a KB article, a rating choice)."""

    title: str
    url: str


@dataclass(frozen=True)
class FieldValue:
    """A custom field value; `public` ones are listed by `#Custom_Fields#`."""

    id: int
    name: str
    value: str
    public: bool = True


@dataclass(frozen=True)
class Message:
    """One entry of the ticket log as templates show it (`html` is sanitized)."""

    author: str
    date: datetime | None
    html: str
    text: str
    attachments: tuple[FileLink, ...] = ()
    techs_only: bool = False


@dataclass(frozen=True)
class TemplateData:
    """Everything the masks of one email can show.

    Build it with keyword arguments; every field has an empty default, and a mask
    whose data is missing renders empty. `messages` are newest first and already
    filtered for the audience (no techs-only replies for customers).
    """

    kind: TemplateKind = TemplateKind.TICKET_UPDATED
    what_happened: str = ""
    """The headline, e.g. "The ticket has been updated by Jane Doe"."""
    what_happened_message: Message | None = None
    """The reply (or ticket body) the headline is about, shown under it."""
    ticket_id: int | None = None
    subject: str = ""
    category: str = ""
    priority: str = ""
    status: str = ""
    via: str = ""
    date: datetime | None = None
    due_date: datetime | None = None
    time_spent_minutes: int | None = None
    body_html: str = ""
    """The ticket body, sanitized HTML."""
    body_text: str = ""
    submitter: Person = field(default_factory=Person)
    originator: Person = field(default_factory=Person)
    technician: Person = field(default_factory=Person)
    url: str = ""
    recipients: tuple[str, ...] = ()
    messages: tuple[Message, ...] = ()
    custom_fields: tuple[FieldValue, ...] = ()
    attachments: tuple[FileLink, ...] = ()
    recent_attachments: tuple[FileLink, ...] = ()
    kb_articles: tuple[LinkItem, ...] = ()
    subscribers: tuple[str, ...] = ()
    non_tech_subscribers: tuple[str, ...] = ()
    rating_links: tuple[LinkItem, ...] = ()
    """Good/OK/Bad links for this recipient; empty: `#RatingLinks#` renders empty."""
    unsubscribe_url: str = ""
    username: str = ""
    password: str = ""
    login_url: str = ""
    helpdesk_name: str = ""
    """The helpdesk's name (`#HelpdeskName#`), e.g. "Acme Support"."""


# --- formatting helpers ------------------------------------------------------------


def format_date(when: datetime | None) -> str:
    """`2026-01-01 09:00 UTC` (aware times are shown in UTC); empty for None."""
    if when is None:
        return ""
    if when.tzinfo is not None:
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M")


def format_duration(minutes: int | None) -> str:
    """`1h 30m`, `45m`, `0m`; empty for None."""
    if minutes is None:
        return ""
    minutes = max(int(minutes), 0)
    hours, rest = divmod(minutes, 60)
    return f"{hours}h {rest}m" if hours else f"{rest}m"


def format_size(size: int) -> str:
    """`512 B`, `12 KB`, `1.5 MB`; empty for 0."""
    if size <= 0:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def text_to_html(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept."""
    return escape(_nl(text)).replace("\n", "<br>\n")


_WS = re.compile(r"\s+")


def _nl(text: str) -> str:
    return clean_text(text).replace("\r\n", "\n").replace("\r", "\n")


def _one_line(text: str) -> str:
    return _WS.sub(" ", _nl(text)).strip()


def _shorten(text: str, limit: int) -> str:
    text = _one_line(text)
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _compile_fragment(source: str) -> tuple[tuple[str, str], ...]:
    from chevron.tokenizer import tokenize

    return tuple(tokenize(source))


# Internal fragments: every value is escaped (or built from escaped parts) before it
# goes in, hence the `{{& }}` tags. Pre-tokenized once.
_MESSAGE_HTML = _compile_fragment(
    '<div style="margin:0 0 12px 0;padding:0 0 8px 0;border-bottom:1px solid #dddddd">'
    '<p style="margin:0 0 6px 0;color:#555555;font-size:12px"><b>{{&author}}</b>'
    "{{&date}}{{&private}}</p>"
    "<div>{{&body}}</div>{{&files}}</div>\n"
)
_LINK_LIST_HTML = _compile_fragment("<ul>{{#items}}<li>{{&item}}</li>{{/items}}</ul>\n")


def _link_html(title: str, url: str) -> str:
    checked = safe_url(url) if url else None
    if not checked:
        return escape(title)
    return f'<a href="{escape(checked)}">{escape(title)}</a>'


def _files_html(files: tuple[FileLink, ...]) -> str:
    if not files:
        return ""
    items = []
    for f in files:
        size = format_size(f.size)
        items.append({"item": _link_html(f.filename, f.url) + (f" ({size})" if size else "")})
    return chevron.render(_LINK_LIST_HTML, {"items": items})


def _files_text(files: tuple[FileLink, ...]) -> str:
    lines = []
    for f in files:
        size = format_size(f.size)
        line = f"- {_one_line(f.filename)}" + (f" ({size})" if size else "")
        checked = safe_url(f.url) if f.url else None
        lines.append(line + (f" <{checked}>" if checked else ""))
    return "\n".join(lines)


def _message_html(m: Message) -> str:
    date = format_date(m.date)
    return chevron.render(
        _MESSAGE_HTML,
        {
            "author": escape(_one_line(m.author)),
            "date": f", {escape(date)}" if date else "",
            "private": " (techs only)" if m.techs_only else "",
            "body": m.html,
            "files": _files_html(m.attachments),
        },
    )


def _message_text(m: Message) -> str:
    date = format_date(m.date)
    head = _one_line(m.author) + (f", {date}" if date else "")
    if m.techs_only:
        head += " (techs only)"
    parts = [head + ":", _nl(m.text).strip()]
    files = _files_text(m.attachments)
    if files:
        parts.append(files)
    return "\n".join(p for p in parts if p)


_SEPARATOR = "\n\n" + "-" * 40 + "\n\n"


class MaskValues:
    """The values of masks for one `TemplateData`, memoized, in every form a template needs."""

    def __init__(self, data: TemplateData) -> None:
        self.data = data
        self._text: dict[tuple[str, int | str | None], str] = {}
        self._html: dict[tuple[str, int | str | None], str] = {}

    # the forms

    def text(self, ref: MaskRef) -> str:
        """The value as plain text."""
        if not ref.allowed:
            return ""
        key = ref.key
        value = self._text.get(key)
        if value is None:
            value = self._text[key] = clean_text(self._compute_text(ref))
        return value

    def html(self, ref: MaskRef) -> str:
        """The value as HTML content: escaped text, or (rich masks) a fragment built here."""
        if not ref.allowed:
            return ""
        key = ref.key
        value = self._html.get(key)
        if value is None:
            # plain values are escaped, nothing more: no markup (not even <br>)
            rich = ref.spec.rich
            value = clean_text(self._compute_html(ref)) if rich else escape(self.text(ref))
            self._html[key] = value
        return value

    def attr(self, ref: MaskRef) -> str:
        """The value inside an HTML attribute: its plain text on one line, escaped."""
        return escape(_one_line(self.text(ref)))

    def url(self, ref: MaskRef) -> str:
        """The value at the start of a link (`href="#URL#"`): a safe URL, escaped, or empty."""
        return escape(safe_url(_one_line(self.text(ref))) or "")

    def url_part(self, ref: MaskRef) -> str:
        """The value inside a link after its start: percent-encoded, escaped."""
        return escape(urllib.parse.quote(_one_line(self.text(ref)), safe=""))

    # text values

    def _compute_text(self, ref: MaskRef) -> str:
        d = self.data
        name = ref.spec.name
        simple = _SIMPLE.get(name)
        if simple is not None:
            return simple(d)
        if name == "What_Happened":
            m = d.what_happened_message
            body = _nl(m.text).strip() if m is not None else ""
            return "\n\n".join(p for p in (_nl(d.what_happened).strip(), body) if p)
        if name == "What_Happened_Short":
            return _shorten(self.text(_ref("What_Happened")), SHORT_LIMIT)
        if name == "Body":
            return _nl(d.body_text or html_to_text(d.body_html, ALTERNATIVE)).strip()
        if name in ("Recent_messages", "XRecent_messages", "Most_recent_message"):
            count = _count(ref)
            return _SEPARATOR.join(_message_text(m) for m in d.messages[:count])
        if name == "Custom_Fields":
            return "\n".join(
                f"{_one_line(f.name)}: {_one_line(f.value)}" for f in d.custom_fields if f.public
            )
        if name == "CF_n":
            for f in d.custom_fields:
                if f.id == ref.arg:
                    return f.value
            return ""
        if name == "Attachments":
            return _files_text(d.attachments)
        if name == "Recent_Attachments":
            return _files_text(d.recent_attachments)
        if name == "Suggested_KB_articles":
            return "\n".join(
                f"- {_one_line(a.title)}" + (f" <{u}>" if (u := safe_url(a.url)) else "")
                for a in d.kb_articles
            )
        if name == "RatingLinks":
            if not d.rating_links:
                return ""
            prompt = _prompt(ref)
            lines = [f"{_one_line(r.title)}: {r.url}" for r in d.rating_links]
            return "\n".join([prompt + ":", *lines])
        if name == "Unsubscribe":
            if not d.unsubscribe_url:
                return ""
            return f"Unsubscribe from this ticket: {d.unsubscribe_url}"
        return ""  # pragma: no cover - every mask is handled above

    # rich HTML values

    def _compute_html(self, ref: MaskRef) -> str:
        d = self.data
        name = ref.spec.name
        if name == "What_Happened":
            head = f"<p>{text_to_html(d.what_happened.strip())}</p>" if d.what_happened else ""
            m = d.what_happened_message
            body = f"<div>{m.html}</div>" if m is not None else ""
            return head + body
        if name == "Body":
            return d.body_html or text_to_html(d.body_text.strip())
        if name in ("Recent_messages", "XRecent_messages", "Most_recent_message"):
            return "".join(_message_html(m) for m in d.messages[: _count(ref)])
        if name == "Custom_Fields":
            rows = [
                f"<b>{escape(_one_line(f.name))}:</b> {escape(_one_line(f.value))}"
                for f in d.custom_fields
                if f.public
            ]
            return f"<p>{'<br>'.join(rows)}</p>" if rows else ""
        if name == "Attachments":
            return _files_html(d.attachments)
        if name == "Recent_Attachments":
            return _files_html(d.recent_attachments)
        if name == "Suggested_KB_articles":
            if not d.kb_articles:
                return ""
            items = [{"item": _link_html(a.title, a.url)} for a in d.kb_articles]
            return chevron.render(_LINK_LIST_HTML, {"items": items})
        if name == "RatingLinks":
            if not d.rating_links:
                return ""
            links = " | ".join(_link_html(r.title, r.url) for r in d.rating_links)
            return f"<p>{escape(_prompt(ref))}: {links}</p>"
        if name == "Unsubscribe":
            if not d.unsubscribe_url:
                return ""
            return _link_html("Unsubscribe from this ticket", d.unsubscribe_url)
        return text_to_html(self.text(ref))  # pragma: no cover


def _count(ref: MaskRef) -> int:
    if ref.spec.name == "Most_recent_message":
        return 1
    if ref.spec.name == "XRecent_messages" and isinstance(ref.arg, int):
        return ref.arg
    return RECENT_DEFAULT


def _prompt(ref: MaskRef) -> str:
    if isinstance(ref.arg, str) and ref.arg.strip():
        return _one_line(_html.unescape(ref.arg))
    return DEFAULT_RATING_PROMPT


def _ref(name: str) -> MaskRef:
    from .masks import MASKS

    spec = MASKS[name]
    return MaskRef(spec, None, 0, 0, spec.syntax, True)


def _person_name(p: Person) -> str:
    return p.name or p.username or p.email


_SIMPLE: dict[str, Callable[[TemplateData], str]] = {
    "Category": lambda d: d.category,
    "Subject": lambda d: d.subject,
    "From": lambda d: _person_name(d.submitter),
    "FromEmail": lambda d: d.submitter.email,
    "FirstName": lambda d: d.submitter.first_name,
    "LastName": lambda d: d.submitter.last_name,
    "Username": lambda d: d.submitter.username,
    "Originator": lambda d: _person_name(d.originator),
    "Priority": lambda d: d.priority,
    "Status": lambda d: d.status,
    "URL": lambda d: d.url,
    "Recipients": lambda d: ", ".join(d.recipients),
    "Company": lambda d: d.submitter.company,
    "Department": lambda d: d.submitter.department,
    "Location": lambda d: d.submitter.location,
    "TicketID": lambda d: "" if d.ticket_id is None else str(d.ticket_id),
    "Technician": lambda d: _person_name(d.technician),
    "TechnicianEmail": lambda d: d.technician.email,
    "Date": lambda d: format_date(d.date),
    "DueDate": lambda d: format_date(d.due_date),
    "TimeSpent": lambda d: format_duration(d.time_spent_minutes),
    "Via": lambda d: d.via,
    "Subscribers": lambda d: ", ".join(d.subscribers),
    "NonTechSubscribers": lambda d: ", ".join(d.non_tech_subscribers),
    "HelpdeskName": lambda d: d.helpdesk_name,
    "welcome:username": lambda d: d.username,
    "welcome:password": lambda d: d.password,
    "welcome:URL": lambda d: d.login_url,
}
