"""Readable plain text from HTML: the one renderer, with a `TextStyle` per kind of caller.

The text follows the spirit of a browser's ``innerText``: runs of ASCII whitespace
collapse to one space; block elements end lines (``div``, ``li``, ``tr``, ``dt``,
``section`` and the like: one line break; ``p``, headings, ``blockquote``, ``pre``
and top-level lists: an empty line); ``<br>`` is a hard line break; list items get
``-`` / ``1.`` bullets (nested lists indented); table cells on a row are separated
by `TextStyle.cell_gap`; ``script``, ``style``, ``head``, ``svg`` and the like are
dropped with their content; character references are decoded; ``&nbsp;`` is kept
as a space (never collapsed away) and written as a plain U+0020. Lines end without
spaces and at most one empty line separates blocks.

What differs between callers is data, the presets below:

- `READING`: incoming mail read for its words (reply detection, search queries):
  no link targets, no image text, quotes unmarked.
- `REPLY`: like `READING`, but ``<blockquote>`` content is marked with ``>`` like a
  plain-text quote (except ``type="cite"``, which quote detection cuts at), so the
  plain-text reply rules can judge it.
- `REPLY_MARKED`: like `REPLY`, but only blockquotes marked as quotations (a
  ``cite`` attribute, a class naming a quote, a left border) get ``>``; a bare or
  indenting blockquote (the indent button) is a plain block.
- `ALTERNATIVE`: the ``text/plain`` part of our own notifications, from sanitized
  HTML: link targets after the link text (``text <https://...>``), images as
  ``[alt]``, every blockquote marked with ``>``, ``<hr>`` as a line of dashes, two
  spaces between table cells.
- `TEMPLATE_ALTERNATIVE`: `ALTERNATIVE` for a template being compiled, where a
  link's target may still be a mask placeholder (it starts with U+FDD0).

Work is linear in the input: `scan_html` makes one pass and text goes straight into
the output in final order. At most `MAX_HTML_CHARS` characters are read.

`HtmlRender` serves reply detection (`inbound.quotes_html`): it renders while recording
where in the output chosen start tags (quote markers) occurred, so the caller can
cut the text at the first marker and stop rendering early.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from .scan import Attrs, scan_html
from .tidy import tidy_lines

__all__ = [
    "ALTERNATIVE",
    "DROPPED",
    "MAX_HTML_CHARS",
    "READING",
    "REPLY",
    "TEMPLATE_ALTERNATIVE",
    "AttrMap",
    "HtmlRender",
    "MarkerCallback",
    "TextStyle",
    "finish_text",
    "html_to_text",
]

AttrMap = dict[str, str]
"""Attributes of a start tag for a marker callback: lower-case names, values ("" when bare)."""

MarkerCallback = Callable[[str, AttrMap], str | None]
"""Called for every start tag outside dropped content; returns a marker name or None."""


@dataclass(frozen=True)
class TextStyle:
    """How one kind of caller wants HTML as text (see the presets)."""

    quote: Literal["none", "all", "uncited", "marked"] = "none"
    """``<blockquote>`` content as ``>`` lines: never, always, unless ``type="cite"``, or
    (``marked``) only when not ``type="cite"`` and marked as a quotation (a ``cite``
    attribute, a class naming a quote, a left border: the quote bar clients draw)."""
    links: tuple[str, ...] = ()
    """Link targets starting with one of these (lower case) are written after the link
    text as ``<target>`` (or instead of an empty link text); none when empty."""
    rules: bool = False
    """``<hr>`` as a line of dashes right under the block before it (else a line break)."""
    image_alt: bool = False
    """Images as ``[alt text]`` (else nothing)."""
    cell_gap: str = " "
    """Written between the cells of a table row."""


READING = TextStyle()
REPLY = TextStyle(quote="uncited")
REPLY_MARKED = TextStyle(quote="marked")
ALTERNATIVE = TextStyle(
    quote="all",
    links=("http:", "https:", "mailto:", "tel:"),
    rules=True,
    image_alt=True,
    cell_gap="  ",
)
TEMPLATE_ALTERNATIVE = replace(ALTERNATIVE, links=(*ALTERNATIVE.links, "\ufdd0"))

MAX_HTML_CHARS = 8_000_000
"""Only this many characters of HTML are rendered (bounds time on huge bodies)."""

DROPPED = frozenset(
    {
        "head", "script", "style", "title", "template", "noscript", "xml", "svg", "math",
        "object", "iframe", "noembed", "noframes",
    }
)  # fmt: skip
"""Elements rendered as nothing, content included."""

_LINE = frozenset(
    {
        "address", "article", "aside", "body", "caption", "center", "dd", "details", "dialog",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header",
        "hgroup", "html", "legend", "li", "main", "nav", "search", "section", "summary",
        "table", "tbody", "tfoot", "thead", "tr",
    }
)  # fmt: skip
"""Block elements that start and end a line."""
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "xmp", "listing"}
)
"""Block elements set off by an empty line."""
_LISTS = frozenset({"ul", "ol", "menu", "dir"})
_VOID = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr", "basefont", "frame", "keygen",
    }
)  # fmt: skip
_PRE = frozenset({"pre", "textarea", "xmp", "listing", "plaintext"})
_CELLS = frozenset({"td", "th"})
_WS_CHARS = " \t\n\r\f\v"
_WS = re.compile(r"[ \t\n\r\f\v]+")
_WS_TO_COLLAPSE = re.compile(r"[\t\n\r\f\v]|  ")
_COLLAPSE_CHUNK = 1 << 16


def _collapse(text: str) -> str:
    """Runs of whitespace as one space, a slice at a time: a regular expression keeps a
    piece per match (hundreds of thousands of short words: ten times the text)."""
    if not _WS_TO_COLLAPSE.search(text):
        return text
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + _COLLAPSE_CHUNK, len(text))
        if end < len(text) and text[end - 1] in _WS_CHARS:
            run = _WS.match(text, end)  # a run of whitespace is not cut
            end = run.end() if run is not None else end
        pieces.append(_WS.sub(" ", text[start:end]))
        start = end
    return "".join(pieces)


_MAX_DEPTH = 10_000  # caps per-tag bookkeeping on absurdly nested input
_MAX_LINKS = 64  # open links whose targets are tracked
_MAX_QUOTE_PREFIX = 10  # deeper nesting is rendered like this depth
_RULE = "-" * 40


class _Renderer:
    """Streaming renderer: text goes straight into ``self.out`` in final order."""

    def __init__(self, style: TextStyle, marker: MarkerCallback | None) -> None:
        self.out: list[str] = []
        self.size = 0  # total characters in self.out
        self.marks: list[tuple[str, int]] = []
        self.mark_pieces: list[int] = []  # index into ``out`` where each mark starts
        self.mark_visible: list[bool] = []  # visible text already emitted at each mark?
        self.mark_sources: list[int] = []  # offset in the HTML where each mark's tag starts
        self.visible = False  # visible (non-space) characters emitted so far
        self._style = style
        self._marker = marker
        self._pre = 0
        self._quote_depth = 0
        self._quote_stack: list[bool] = []  # per open blockquote: rendered with ">"?
        self._lists: list[list[int]] = []  # per open list: [ordered(0/1), next number]
        self._links: list[tuple[str, int]] = []  # per open link: (target, index into out)
        self._need_nl = 0  # line breaks required before the next text
        self._gap = ""  # collapsible space pending before the next text
        self._line_start = True  # output is at the start of a line
        self._nl_run = 0  # newlines emitted since the last text character
        self._started = False  # any text emitted yet

    # -- output helpers -------------------------------------------------

    def _emit(self, s: str) -> None:
        self.out.append(s)
        self.size += len(s)

    def _newline(self) -> None:
        self._emit("\n")
        self._line_start = True
        self._nl_run += 1
        self._gap = ""

    def _flush_breaks(self) -> None:
        if not self._started:
            self._need_nl = 0
            return
        while self._nl_run < self._need_nl:
            self._newline()
        self._need_nl = 0

    def _require(self, n: int) -> None:
        if n > self._need_nl:
            self._need_nl = n

    def _space(self, gap: str = " ") -> None:
        if not self._line_start and len(gap) > len(self._gap):
            self._gap = gap

    def _text(self, s: str) -> None:
        """Emit visible text that has no collapsible whitespace at its ends."""
        self._flush_breaks()
        if self._line_start:
            if self._quote_depth:
                self._emit(">" * min(self._quote_depth, _MAX_QUOTE_PREFIX) + " ")
        elif self._gap:
            self._emit(self._gap)
        self._emit(s)
        if not self.visible and s.strip():
            self.visible = True
        self._gap = ""
        self._line_start = False
        self._nl_run = 0
        self._started = True

    # -- scanner callbacks ----------------------------------------------

    def start(self, tag: str, attrs: Attrs, self_closing: bool, pos: int) -> None:
        if self._marker is not None:
            name = self._marker(tag, {k: (v or "") for k, v in attrs})
            if name is not None:
                self.marks.append((name, self.size))
                self.mark_pieces.append(len(self.out))
                self.mark_visible.append(self.visible)
                self.mark_sources.append(pos)
        self._open(tag, attrs)
        if self_closing and tag not in _VOID:
            self.end(tag, pos)

    def dropped(self, tag: str, attrs: Attrs, pos: int) -> None:
        pass

    def _open(self, tag: str, attrs: Attrs) -> None:
        style = self._style
        if tag == "br":
            self._flush_breaks()
            self._started = True  # a leading <br> is a visible empty line
            self._newline()
            return
        if tag in _PARAGRAPH:
            self._require(2)
        elif tag in _LINE:
            self._require(1)
        elif tag in _CELLS:
            self._space(style.cell_gap)
        if tag in _PRE:
            self._pre += 1
        elif tag == "blockquote":
            uncited = _attr(attrs, "type").strip().lower() != "cite"
            quoted = (
                style.quote == "all"
                or (style.quote == "uncited" and uncited)
                or (style.quote == "marked" and uncited and _quotation_marked(attrs))
            )
            self._quote_stack.append(quoted)
            if quoted:
                self._quote_depth += 1
        elif tag in _LISTS:
            self._require(1 if self._lists else 2)
            if len(self._lists) < _MAX_DEPTH:
                start = _attr(attrs, "start").strip() if tag == "ol" else ""
                first = int(start) if start.isdigit() and len(start) < 6 else 1
                self._lists.append([1 if tag == "ol" else 0, first])
        elif tag == "li":
            indent = "  " * min(max(0, len(self._lists) - 1), _MAX_QUOTE_PREFIX)
            if self._lists and self._lists[-1][0]:
                bullet = f"{self._lists[-1][1]}."
                self._lists[-1][1] += 1
            else:
                bullet = "-"
            self._text(indent + bullet)
            self._gap = " "
        elif tag == "hr":
            if style.rules:
                pending, self._need_nl = self._need_nl, 1
                self._text(_RULE)
                self._require(max(pending, 1))
            else:
                self._require(1)
        elif tag == "img":
            if style.image_alt:
                alt = _WS.sub(" ", _attr(attrs, "alt")).strip()
                if alt:
                    self._text(f"[{alt}]")
        elif tag == "a" and style.links and len(self._links) < _MAX_LINKS:
            self._links.append((_attr(attrs, "href"), len(self.out)))

    def end(self, tag: str, pos: int) -> None:
        if tag in _PARAGRAPH:
            self._require(2)
        elif tag in _LINE:
            self._require(1)
        elif tag in _CELLS:
            self._space()
        if tag in _PRE:
            self._pre = max(0, self._pre - 1)
        elif tag == "blockquote":
            if self._quote_stack and self._quote_stack.pop():
                self._quote_depth -= 1
        elif tag in _LISTS:
            if self._lists:
                self._lists.pop()
            self._require(1 if self._lists else 2)
        elif tag == "a" and self._links:
            self._close_link()

    def _close_link(self) -> None:
        href, index = self._links.pop()
        href = href.strip()
        if not href.lower().startswith(self._style.links):
            return
        shown = "".join(self.out[index:]).strip()
        if href == shown or href in shown:
            return
        if shown:
            self._space()
            self._text(f"<{href}>")
        else:
            self._text(href)

    def text(self, data: str) -> None:
        if self._pre:
            self._pre_text(data)
            return
        core = data.strip(_WS_CHARS)
        if not core:
            self._space()
            return
        if data[0] in _WS_CHARS:
            self._space()
        self._text(_collapse(core))
        if data[-1] in _WS_CHARS:
            self._gap = " "

    def _pre_text(self, data: str) -> None:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
        for n, piece in enumerate(data.split("\n")):
            if n:
                self._flush_breaks()
                self._started = True
                self._newline()
            if piece:
                self._text(piece)

    def result(self) -> str:
        return "".join(self.out)


_QUOTE_BAR = re.compile(
    r"border-left\s*:\s*(?!none|0(?:px)?\s*(?:;|$))|border-left-style\s*:\s*(?!none)"
)


def _quotation_marked(attrs: Attrs) -> bool:
    """Does a ``<blockquote>`` say it quotes something (not indentation)?"""
    if any(k == "cite" for k, _ in attrs):
        return True
    for name in _attr(attrs, "class").lower().split()[:50]:
        if "quot" in name and "indent" not in name:  # gmail_quote, not webkit-indent-blockquote
            return True
    return _QUOTE_BAR.search(_attr(attrs, "style")[:2000].lower()) is not None


def _attr(attrs: Attrs, name: str) -> str:
    for k, v in attrs:
        if k == name:
            return v or ""
    return ""


def finish_text(raw: str) -> str:
    """Rendered text in its final form: no-break spaces as spaces, no trailing blanks, at
    most one empty line in a row, no empty lines at either end."""
    if "\u00a0" in raw or "\u202f" in raw:
        raw = raw.replace("\u00a0", " ").replace("\u202f", " ")
    return tidy_lines(raw).rstrip()


class HtmlRender:
    """Incremental rendering handle used by reply detection (`inbound.quotes_html`)."""

    def __init__(
        self,
        html: str,
        marker: MarkerCallback | None = None,
        *,
        style: TextStyle = REPLY,
    ) -> None:
        self._r = _Renderer(style, marker)
        self._doc = html[:MAX_HTML_CHARS]

    @property
    def marks(self) -> list[tuple[str, int]]:
        """``(marker name, offset in the raw text)`` pairs in document order."""
        return self._r.marks

    @property
    def size(self) -> int:
        """Characters of raw text rendered so far."""
        return self._r.size

    def text_after(self, index: int, limit: int) -> str:
        """Roughly the first ``limit`` raw characters rendered after mark ``index``."""
        pieces = self._r.out
        got: list[str] = []
        total = 0
        for k in range(self._r.mark_pieces[index], len(pieces)):
            got.append(pieces[k])
            total += len(pieces[k])
            if total >= limit:
                break
        return "".join(got)[:limit]

    def source_offset(self, index: int) -> int:
        """Where the tag of mark ``index`` starts in the HTML (an offset into its source)."""
        return self._r.mark_sources[index]

    def visible_before(self, index: int) -> bool:
        """Was any visible text rendered before mark ``index``?"""
        return self._r.mark_visible[index]

    def run(self, should_stop: Callable[[], bool] | None = None) -> None:
        """Render the document, stopping early when ``should_stop()`` says so."""
        with contextlib.suppress(ValueError, IndexError, RecursionError, MemoryError):
            scan_html(self._doc, self._r, drop=DROPPED, should_stop=should_stop)

    def raw(self) -> str:
        """All raw text rendered so far (use `finish_text` on slices of it)."""
        return self._r.result()

    def take(self) -> str:
        """All raw text rendered, taken out: the render is done and keeps none of it."""
        text = self._r.result()
        self._r.out.clear()
        return text


def html_to_text(html: str, style: TextStyle = READING) -> str:
    """Readable plain text of ``html`` in ``style`` (see the module rules); never raises."""
    if not isinstance(html, str) or not html:
        return ""
    job = HtmlRender(html, style=style)
    job.run()
    return finish_text(job.raw())
