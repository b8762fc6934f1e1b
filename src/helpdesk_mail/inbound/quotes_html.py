"""Extract only the NEW text of an HTML email reply: cut at its first quote marker.

Public API: :func:`reply_text_from_html`, :func:`reply_html` and
:func:`reply_text_and_html` (both from one rendering).  The markers are data
(``HTML_MARKERS``): adding a client is a table row, not code.

HTML is rendered to text while the first quote marker is located (Gmail
``div.gmail_quote``, Apple/Thunderbird ``blockquote type=cite``, Thunderbird
``moz-cite-prefix``, Outlook ``divRplyFwdMsg`` / ``appendonsend`` / border-top
separator div / ``OLK_SRC_BODY_SECTION``, ``<hr>`` followed by a header block,
Yahoo ``yahoo_quoted``, Zimbra, Roundcube, ProtonMail, ...); the text before it
is kept and the plain-text rules are applied to it.  Other ``<blockquote>``
elements are rendered as ``> `` lines, so the plain rules decide about them.
The plain-text rules are those of `quotes` (attributions, header blocks, our own
reply markers, signatures).

HTML blockquotes.  A ``<blockquote>`` without a client quote marker is judged as a
``>`` quote only when the text shows history (an attribution line or a
forward/original separator); in a message without any (a new ticket), blockquotes
are the writer's formatting (the indent button) and their text is kept, except
ones marked as quotations (a ``cite`` attribute, a quote class, a left quote bar).

Everything is pure and total: no function raises on any ``str`` (other input types
give ""), and work is linear in the input: HTML is tokenized in one pass (at most
``MAX_HTML_CHARS``) and at most ``_MAX_MARKS_JUDGED`` markers are examined.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..reply_marker import END_CLASS, START_CLASS, is_marker_line
from ..text import REPLY, REPLY_MARKED, AttrMap, HtmlRender, finish_text, html_to_text
from .quote_patterns import (
    MAX_JOIN,
    attribution_at,
    header_block,
    header_kind,
    is_separator,
    line_view,
    may_end_attribution,
    quoted_lines,
    split_lines,
)
from .quotes import between_markers, reply_text

__all__ = [
    "HTML_MARKERS",
    "HtmlMarker",
    "reply_html",
    "reply_text_and_html",
    "reply_text_from_html",
]


@dataclass(frozen=True)
class HtmlMarker:
    """One HTML quote marker: a start tag whose attribute matches ``pattern``."""

    name: str
    tag: str  # "*" = any element
    attribute: str  # "" = the tag alone is the marker
    pattern: str  # regex searched in the attribute value (case-insensitive)
    needs_header: bool = False  # only a boundary when a quoted header block follows


HTML_MARKERS: tuple[HtmlMarker, ...] = (
    # div only: a lone blockquote.gmail_quote is Gmail's "quote" button (rendered as "> ")
    HtmlMarker("gmail_quote", "div", "class", r"(?:^|\s)gmail_quote(?:_container)?(?:\s|$)"),
    HtmlMarker("apple_thunderbird_cite", "blockquote", "type", r"^\s*cite\s*$"),
    HtmlMarker("thunderbird_cite_prefix", "*", "class", r"(?:^|\s)moz-cite-prefix(?:\s|$)"),
    HtmlMarker("outlook_web_reply", "*", "id", r"^(?:x_)*divRplyFwdMsg$"),
    HtmlMarker("outlook_web_append", "*", "id", r"^(?:x_)*appendonsend$"),
    HtmlMarker("outlook_mac", "*", "id", r"OLK_SRC_BODY_SECTION"),
    HtmlMarker("outlook_2003_header", "*", "class", r"(?:^|\s)OutlookMessageHeader(?:\s|$)"),
    # Outlook desktop (border:none;border-top:solid #E1E1E1 1.0pt), Windows Mail
    # (border-top-color: rgb(229, 229, 229)) and the like: any top border, confirmed
    # by a quoted header block right after it
    HtmlMarker("border_top_separator", "*", "style", r"border-top", needs_header=True),
    HtmlMarker("hotmail_stop_spelling", "*", "id", r"^stopSpelling$"),
    HtmlMarker("hr_before_header", "hr", "", r"", needs_header=True),
    HtmlMarker("yahoo_quoted", "*", "class", r"yahoo_quoted|yahoo-quoted-begin"),
    HtmlMarker("yahoo_quoted_id", "*", "id", r"yahoo_quoted"),
    HtmlMarker("zimbra_divider", "*", "id", r"^zwchr$"),
    HtmlMarker("zimbra_marker", "*", "data-marker", r"^__(?:DIVIDER|HEADERS|QUOTED_TEXT)__$"),
    HtmlMarker("roundcube_intro", "*", "id", r"^reply-intro$"),
    HtmlMarker("protonmail_quote", "*", "class", r"(?:^|\s)protonmail_quote(?:\s|$)"),
    HtmlMarker("div_name_quote", "div", "name", r"^quote$"),
    HtmlMarker("outlook_reference", "*", "id", r"^mail-editor-reference-message-container$"),
    HtmlMarker("front_blockquote", "*", "class", r"front-blockquote"),
    HtmlMarker("freescout_reply_above", "*", "class", r"fsReplyAbove"),
    HtmlMarker("freescout_reply_above_id", "*", "id", r"fsReplyAbove"),
)
"""HTML quote markers; the text is cut at the first one (in document order) that applies."""

_ALWAYS_CUT_HTML = frozenset({"freescout_reply_above", "freescout_reply_above_id"})

# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_HTML_RULES: tuple[tuple[HtmlMarker, re.Pattern[str]], ...] = tuple(
    (m, re.compile(m.pattern, re.I)) for m in HTML_MARKERS
)
_MARKER_BY_NAME = {m.name: m for m in HTML_MARKERS}
_LOOKAHEAD = 4000  # characters of text after a marker used to judge it
_MAX_MARKS_JUDGED = 200  # markers examined per message (bounds work on hostile HTML)


_MARKER_ATTRIBUTES = frozenset(m.attribute for m in HTML_MARKERS if m.attribute)
_BARE_MARKER_TAGS = frozenset(m.tag for m in HTML_MARKERS if not m.attribute)


_OUR_START = "helpdesk_mail_reply_above"
_OUR_END = "helpdesk_mail_reply_end"
_OURS = frozenset({_OUR_START, _OUR_END})
_INTRO_CHARS = 600  # text between a client's quote wrapper and our top marker, at most


def _our_marker(attrs: AttrMap) -> str | None:
    """Our top or bottom marker element (class or id, maybe prefixed by the client)."""
    for name in ("class", "id"):
        value = attrs.get(name)
        if value and "hm-reply-" in value:
            value = value[:2000]
            if END_CLASS in value:
                return _OUR_END
            if START_CLASS in value:
                return _OUR_START
    return None


def _html_marker(tag: str, attrs: AttrMap) -> str | None:
    if tag not in _BARE_MARKER_TAGS and _MARKER_ATTRIBUTES.isdisjoint(attrs):
        return None  # no rule can match (most tags): skip the table
    ours = _our_marker(attrs)
    if ours is not None:
        return ours
    for marker, rx in _HTML_RULES:
        if marker.tag != "*" and marker.tag != tag:
            continue
        if not marker.attribute:
            return marker.name
        value = attrs.get(marker.attribute)
        if value is None:
            continue
        if marker.attribute == "style":
            value = value.replace("\n", " ")
        if rx.search(value[:2000]):
            return marker.name
    return None


def _starts_history(text: str) -> bool:
    """Does ``text`` begin (within its first lines) with quoted headers or a forward marker?"""
    views = [line_view(line) for line in split_lines(text)[:40]]
    kinds_of = [header_kind(v) for v in views]
    seen = 0
    for i, v in enumerate(views):
        if not v:
            continue
        if is_separator(v):
            return True
        if kinds_of[i] and header_block(views, kinds_of, i, loose=True) > 0:
            return True
        seen += 1
        if seen >= 3:
            break
    return False


def reply_text_from_html(html: str) -> str:
    """The new text of an HTML body, as plain text.

    The HTML is cut at the first quote marker (``div.gmail_quote``,
    ``blockquote type=cite``, Outlook ``divRplyFwdMsg`` / border-top separator
    div, Apple Mail, Thunderbird ``moz-cite-prefix``, Yahoo, Zimbra, ...; see
    ``HTML_MARKERS``), what precedes it is rendered as readable text (other
    ``<blockquote>`` contents as ``> `` lines) and the plain-text rules of
    :func:`reply_text_from_plain` are applied too.  Never raises.
    """
    return reply_text_and_html(html)[0]


def reply_html(html: str) -> str:
    """The HTML of the new message: `html` cut where `reply_text_from_html` cuts its text
    (the first quote marker that starts the quoted history), or all of it when nothing is
    cut or nothing visible would be left above the cut. Never raises."""
    return reply_text_and_html(html)[1]


def reply_text_and_html(html: str) -> tuple[str, str]:
    """`reply_text_from_html(html)` and `reply_html(html)` from one rendering of `html`
    (a megabyte of HTML takes a second to render)."""
    if not isinstance(html, str) or not html:
        return "", ""
    job, cut, source = _html_cut(html)
    raw = job.take()  # the render keeps no piece of it: the text is held once less
    above = finish_text(raw[:cut]) if cut >= 0 else ""
    new_html = html if cut < 0 or source <= 0 or not above.strip() else html[:source]
    if _has_our_markers(html):  # our own notification quoted: cut exactly at its markers
        region = _our_region(job.marks, raw)
        if region is not None:
            return _around_our_notification(job.marks, raw, *region), new_html
    text = above if cut >= 0 else finish_text(raw)
    del raw
    if cut < 0 and "\n>" in "\n" + text and not _introduces_history(text):
        # no quote marker and no attribution: the blockquotes were the writer's own
        # formatting (an indented passage), only quote-marked ones are judged as quotes
        text = html_to_text(html, REPLY_MARKED)
    return reply_text(text, cut_below=cut >= 0, html=True), new_html


def _html_cut(html: str) -> tuple[HtmlRender, int, int]:
    """The rendering of `html` and where its quoted history starts: the offset in the
    rendered text and in the HTML (both -1 when nothing is cut)."""
    job = HtmlRender(html, _html_marker, style=REPLY)
    state = {"judged": 0, "cut": -1, "source": -1}

    def judge(final: bool) -> bool:
        marks = job.marks
        while state["judged"] < len(marks):
            index = state["judged"]
            name, off = marks[index]
            if not final and job.size - off < _LOOKAHEAD:
                return False
            if index >= _MAX_MARKS_JUDGED:
                return False  # stop looking (no cut), keep rendering
            state["judged"] += 1
            if name in _OURS:
                continue
            marker = _MARKER_BY_NAME[name]
            history = _starts_history(finish_text(job.text_after(index, _LOOKAHEAD)))
            if marker.needs_header and not history:
                continue
            if name in _ALWAYS_CUT_HTML or not history or job.visible_before(index):
                state["cut"] = off
                state["source"] = job.source_offset(index)
                return True
            # a forward / history block with nothing above it: it is the content
        return False

    # with our markers (their elements or their lines) the whole document is read
    job.run(None if _has_our_markers(html) else lambda: judge(False))
    if state["cut"] < 0:
        judge(True)
    return job, state["cut"], state["source"]


def _introduces_history(text: str) -> bool:
    """Does ``text`` hold an attribution ("On ... wrote:") or a forward/original separator?"""
    lines = split_lines(text)
    views = [line_view(line) for line in lines]
    quoted = quoted_lines(lines, views)
    n = len(lines)
    next_end = n
    for i in range(n - 1, -1, -1):
        if may_end_attribution(views[i]):
            next_end = i
        if not views[i] or quoted[i]:
            continue
        if is_separator(views[i]):
            return True
        if next_end - i < MAX_JOIN and attribution_at(views, quoted, i)[2]:
            return True
    return False


def _has_our_markers(html: str) -> bool:
    """Whether `html` may hold our reply markers (their lines or their elements)."""
    return "##-" in html or "hm-reply-" in html


def _marker_line_spans(raw: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the marker lines of rendered text (quoted or not)."""
    spans: list[tuple[int, int]] = []
    hit = raw.find("##-")
    while hit >= 0:
        start = raw.rfind("\n", 0, hit) + 1
        end = raw.find("\n", hit)
        end = len(raw) if end < 0 else end
        if is_marker_line(raw[start:end]):
            spans.append((start, end))
        hit = raw.find("##-", end)
    return spans


def _our_region(marks: list[tuple[str, int]], raw: str) -> tuple[int, int] | None:
    """Where our quoted notification starts and ends in the rendered text (end -1: its
    bottom marker is gone); None when it is not there.

    The marker elements say it exactly; their lines are the fallback (a client that
    drops classes and ids). The first top marker is the start, the last bottom marker
    after it the end.
    """
    lines = _marker_line_spans(raw)
    start = next((off for name, off in marks if name == _OUR_START), -1)
    if start < 0:
        if not lines:
            return None
        start = lines[0][0]
    end = -1
    for name, off in marks:
        if name == _OUR_END and off >= start:
            end = off
    if end < 0:
        after = [span for span in lines if span[0] >= start]
        if len(after) >= 2:  # the first one is the top line itself
            end = after[-1][1]
    return start, end


def _around_our_notification(marks: list[tuple[str, int]], raw: str, start: int, end: int) -> str:
    """The text written above and below our notification, cut exactly at its markers."""
    top = start
    # a client's quote wrapper (div.gmail_quote, blockquote type=cite...) right above
    # our top marker, with no more than a quote intro in between: cut there
    for name, off in marks:
        if off > start:
            break
        if name in _OURS:
            continue
        between = finish_text(raw[off:start])
        if len(between) <= _INTRO_CHARS and between.count("\n") < 8:
            top = off
            break
    above = split_lines(finish_text(raw[:top]))
    below: list[str] = []
    if end >= 0:
        below = split_lines(finish_text(raw[end:]))
        first = 0
        while first < len(below) and not below[first].strip():
            first += 1
        if first < len(below) and is_marker_line(below[first]):
            first += 1
        below = below[first:]
    if above == [""]:
        above = []
    return between_markers(above, below)
