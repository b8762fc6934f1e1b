"""The spec's substitution masks (`#Subject#`, `#10Recent_messages#`, `#CF_1234#`...).

Rules (they are the contract of `scan_masks` and `validate_template`):

- A mask is ``#Name#``: a ``#``, a name of letters, digits and underscores, an optional
  ``(argument)`` (only `#RatingLinks(prompt)#` takes one) and a closing ``#``. Names
  are matched without regard to case (`#subject#` is `#Subject#`).
- Parameterised names: ``#<X>Recent_messages#`` for a number X (1 to 4 digits) and
  ``#CF_<id>#`` for a custom field id (1 to 9 digits).
- The welcome email has its own masks, ``#username``, ``#password`` and ``#URL``, with
  no closing ``#`` (one is consumed if present, so `#URL#` works there too). No other
  mask of the spec is supported in it; `#HelpdeskName#` (not in the spec) works everywhere.
- The text is scanned left to right; where no known mask starts at a ``#`` the scan
  moves on by one character, so ``[##TicketID#]`` gives ``[#1234]`` and ``C#``,
  ``#hashtag`` or ``#1234`` stay as they are.
- A known mask that a kind of email does not support (e.g. `#RatingLinks#` in a
  "ticket updated" email) renders empty, and `validate_template` reports it.
- ``#Word#`` that names no mask is left in the text unchanged, and reported.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass

from ..kinds import MaskGroup, TemplateKind, kinds_where

__all__ = [
    "MASKS",
    "MaskRef",
    "MaskSpec",
    "TemplateError",
    "TemplateProblem",
    "kind_of",
    "scan",
    "scan_masks",
    "validate_template",
]


class TemplateError(ValueError):
    """A template (or a value given to it) cannot be used; the message says why."""


ALL_KINDS = frozenset(TemplateKind)
NOTIFICATIONS = ALL_KINDS - kinds_where(masks=MaskGroup.WELCOME)
TICKET = kinds_where(masks=MaskGroup.TICKET)
TICKET_KB = TICKET | kinds_where(masks=MaskGroup.ARTICLE)
NEW_OR_UPDATED = kinds_where(new_message=True)
WELCOME = kinds_where(masks=MaskGroup.WELCOME)
RATING = kinds_where(rating=True)


@dataclass(frozen=True)
class MaskSpec:
    """One mask of the spec: its syntax, what it shows and the kinds of email it works in."""

    name: str
    """Canonical name (`Subject`, `XRecent_messages`, `CF_n`, `welcome:username`...)."""
    syntax: str
    """How it is written, e.g. `#Subject#`."""
    description: str
    kinds: frozenset[TemplateKind]
    rich: bool = False
    """In HTML emails the value is a fragment of (safe) markup rather than plain text."""


def _m(name: str, description: str, kinds: frozenset[TemplateKind], rich: bool = False) -> MaskSpec:
    return MaskSpec(name, f"#{name}#", description, kinds, rich)


_SPECS = (
    _m(
        "What_Happened",
        'The main notification text, e.g. "The ticket has been closed" or the reply.',
        NOTIFICATIONS,
        rich=True,
    ),
    _m(
        "What_Happened_Short",
        "#What_Happened# as plain text, cut to 100 characters.",
        NOTIFICATIONS,
    ),
    _m("Category", "The ticket category (the article's category in KB emails).", TICKET_KB),
    _m("Subject", "The ticket subject (the article title in KB emails).", TICKET_KB),
    _m("From", "Who submitted the ticket: full name if known, otherwise username.", TICKET),
    _m("FromEmail", "The email address of who submitted the ticket.", TICKET),
    _m("FirstName", "The submitter's first name (if known).", TICKET),
    _m("LastName", "The submitter's last name (if known).", TICKET),
    _m("Username", "The submitter's username (if known).", TICKET),
    _m("Originator", "Who performed the action (commented, closed, took...).", TICKET_KB),
    _m("Priority", "The ticket priority.", TICKET),
    _m("Status", "The ticket status.", TICKET),
    _m("Body", "The ticket body (its first message).", TICKET, rich=True),
    _m(
        "URL",
        "A link to the ticket (an autologin link for regular users when enabled).",
        NOTIFICATIONS,
    ),
    _m("Recipients", "The names of the recipients of this notification.", NOTIFICATIONS),
    _m("Recent_messages", "The 5 most recent replies, newest first.", TICKET, rich=True),
    MaskSpec(
        "XRecent_messages",
        "#XRecent_messages#",
        "The X most recent replies, newest first (e.g. #10Recent_messages#).",
        TICKET,
        rich=True,
    ),
    _m("Most_recent_message", "The most recent reply.", TICKET, rich=True),
    _m("Custom_Fields", "All public custom fields of the ticket.", TICKET, rich=True),
    MaskSpec(
        "CF_n",
        "#CF_1234#",
        "One custom field by id (any visibility), e.g. #CF_1234#.",
        TICKET,
    ),
    _m("Company", "The submitter's company.", TICKET),
    _m("Department", "The submitter's department.", TICKET),
    _m("Location", "The submitter's location.", TICKET),
    _m("Attachments", "All ticket attachments, with download links.", TICKET, rich=True),
    _m("TicketID", "The ticket's id number.", TICKET),
    _m("Technician", "The technician assigned to the ticket.", TICKET),
    _m("TechnicianEmail", "The email of the technician assigned to the ticket.", TICKET),
    _m("Date", "When the ticket was submitted.", TICKET),
    _m("DueDate", "The ticket's due date, if set.", TICKET),
    _m("TimeSpent", "Time spent on the ticket by technicians.", TICKET),
    _m("Via", "Where the ticket came from (email, web, chat...).", TICKET),
    _m(
        "Recent_Attachments",
        "The attachments of the last message (new-ticket and ticket-updated emails only).",
        NEW_OR_UPDATED,
        rich=True,
    ),
    _m(
        "Suggested_KB_articles",
        "Links to knowledge-base articles similar to the ticket (empty if none).",
        TICKET,
        rich=True,
    ),
    _m("Subscribers", "The ticket's subscribers (usernames).", TICKET),
    _m("NonTechSubscribers", "The ticket's subscribers who are not technicians or admins.", TICKET),
    MaskSpec(
        "RatingLinks",
        "#RatingLinks#",
        '"Please rate your experience" and Good/OK/Bad links; #RatingLinks(your prompt)# '
        "sets the prompt. Only in ticket-closed emails to the ticket's creator; never in CC mode.",
        RATING,
        rich=True,
    ),
    _m("Unsubscribe", 'An "unsubscribe from this ticket" link.', TICKET, rich=True),
    _m(
        "HelpdeskName",
        "The helpdesk's name (outgoing.from_name, else the From address); not in the spec.",
        ALL_KINDS,
    ),
    MaskSpec("welcome:username", "#username", "The new user's username.", WELCOME),
    MaskSpec("welcome:password", "#password", "The new user's password.", WELCOME),
    MaskSpec("welcome:URL", "#URL", "A link to the helpdesk.", WELCOME),
)

MASKS: dict[str, MaskSpec] = {spec.name: spec for spec in _SPECS}
"""Every mask by canonical name."""

_FIXED = {
    spec.name.lower(): spec
    for spec in _SPECS
    if spec.name not in ("XRecent_messages", "CF_n") and not spec.name.startswith("welcome:")
}
_CANDIDATE = re.compile(r"#([A-Za-z0-9_]+)(?:\(([^#()\r\n<>]{0,500})\))?#")
_RECENT = re.compile(r"(\d{1,4})recent_messages")
_CF = re.compile(r"cf_(\d{1,9})")
_WELCOME = re.compile(r"#(username|password|url)(?![A-Za-z0-9_])#?", re.IGNORECASE)
_LETTER = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class MaskRef:
    """One mask found in a template: which one, its argument, and where."""

    spec: MaskSpec
    arg: int | str | None
    """X of #XRecent_messages#, the id of #CF_n#, the prompt of #RatingLinks(...)#."""
    start: int
    end: int
    text: str
    """As written in the template."""
    allowed: bool
    """Whether the kind of email being scanned supports it (if not, it renders empty)."""

    @property
    def key(self) -> tuple[str, int | str | None]:
        """What the value depends on: the mask and its argument (not where it is)."""
        return (self.spec.name, self.arg)


def kind_of(kind: TemplateKind | str) -> TemplateKind:
    """`kind` as a `TemplateKind`; raises `TemplateError` for an unknown one."""
    try:
        return TemplateKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in TemplateKind)
        raise TemplateError(f"unknown template kind {kind!r} (one of: {choices})") from None


def _resolve(name: str, arg: str | None) -> tuple[MaskSpec, int | str | None] | None:
    lower = name.lower()
    if arg is not None:
        return (MASKS["RatingLinks"], arg) if lower == "ratinglinks" else None
    spec = _FIXED.get(lower)
    if spec is not None:
        return spec, None
    match = _RECENT.fullmatch(lower)
    if match:
        return MASKS["XRecent_messages"], int(match[1])
    match = _CF.fullmatch(lower)
    if match:
        return MASKS["CF_n"], int(match[1])
    return None


def scan(text: str, kind: TemplateKind) -> tuple[list[MaskRef], list[tuple[int, int, str]]]:
    """The masks in `text` for an email of `kind`, in order, and the `#name#` candidates
    that name no mask, as (start, end, text)."""
    found: list[MaskRef] = []
    unknown: list[tuple[int, int, str]] = []
    welcome = kind is TemplateKind.WELCOME
    pos = text.find("#")
    while pos != -1:
        if welcome:
            w = _WELCOME.match(text, pos)
            if w:
                spec = MASKS[f"welcome:{'URL' if w[1].lower() == 'url' else w[1].lower()}"]
                found.append(MaskRef(spec, None, pos, w.end(), w[0], True))
                pos = text.find("#", w.end())
                continue
        m = _CANDIDATE.match(text, pos)
        if m:
            resolved = _resolve(m[1], m[2])
            if resolved is not None:
                spec, arg = resolved
                found.append(MaskRef(spec, arg, pos, m.end(), m[0], kind in spec.kinds))
                pos = text.find("#", m.end())
                continue
            if _LETTER.search(m[1]):
                unknown.append((pos, m.end(), m[0]))
        pos = text.find("#", pos + 1)
    return found, unknown


def scan_masks(text: str, kind: TemplateKind | str) -> list[MaskRef]:
    """The known masks in `text`, in order, for an email of `kind`."""
    return scan(text, kind_of(kind))[0]


@dataclass(frozen=True)
class TemplateProblem:
    """Something wrong with a template, and where: `offset` (0-based), `line` and `column`
    (1-based).

    `code` is `unknown_mask`, `mask_not_allowed` or `html_removed` (markup that the
    limited HTML of templates does not allow and that will be dropped).
    """

    code: str
    text: str
    message: str
    offset: int
    line: int
    column: int


class _Lines:
    """Offset <-> (line, column) conversions for one text, in logarithmic time."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.length = len(text)

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def offset(self, line: int, column: int) -> int:
        if line > len(self.starts):
            return self.length
        return min(self.starts[line - 1] + column - 1, self.length)


def _suggest(word: str) -> str:
    names = [s.syntax for s in _SPECS if not s.name.startswith("welcome:")]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.75)
    if not close:
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.75)
        close = [lowered[c] for c in close]
    return f"; did you mean {close[0]}?" if close else ""


def validate_template(
    text: str, kind: TemplateKind | str, *, html: bool = True
) -> list[TemplateProblem]:
    """Problems of a template of `kind`, in order of position, for a host to show an admin.

    Reports masks the spec does not know (`unknown_mask`), masks this kind of email
    does not support (`mask_not_allowed`) and, for HTML templates, markup that will be
    removed because templates allow only limited HTML (`html_removed`).
    """
    if not isinstance(text, str):
        raise TemplateError(f"a template must be text, not {type(text).__name__}")
    k = kind_of(kind)
    found, unknown = scan(text, k)
    problems: list[TemplateProblem] = []
    lines = _Lines(text)
    spans = [(r.start, r.end) for r in found]
    for ref in found:
        if not ref.allowed:
            where = (
                "the welcome email supports only #username, #password, #URL and #HelpdeskName#"
                if k is TemplateKind.WELCOME
                else f"{ref.spec.syntax} does not work in {k.value} emails"
            )
            problems.append(_problem(lines, "mask_not_allowed", ref.start, ref.text, where))
    starts = [s for s, _ in spans]
    for start, end, word in unknown:
        i = bisect.bisect_left(starts, end) - 1  # the last known mask starting before `end`
        if i >= 0 and spans[i][1] > start:
            continue
        message = f"{word} is not a known mask and will be left as it is{_suggest(word)}"
        problems.append(_problem(lines, "unknown_mask", start, word, message))
    if html:
        from .sanitize import Removal, sanitize_html

        removed: list[Removal] = []
        sanitize_html(text, report=removed)
        for r in removed:
            problems.append(
                TemplateProblem(
                    "html_removed",
                    r.what,
                    f"{r.what} is not allowed in email templates and will be removed",
                    lines.offset(r.line, r.column),
                    r.line,
                    r.column,
                )
            )
    problems.sort(key=lambda p: p.offset)
    return problems


def _problem(lines: _Lines, code: str, offset: int, word: str, message: str) -> TemplateProblem:
    line, column = lines.position(offset)
    return TemplateProblem(code, word, message, offset, line, column)
