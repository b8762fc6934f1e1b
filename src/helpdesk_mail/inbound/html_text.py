"""Readable plain text from HTML mail bodies (stdlib only).

The renderer follows the spirit of a browser's ``innerText``: runs of ASCII
whitespace collapse to one space, block elements start new lines, ``<p>`` and
headings are separated by a blank line, ``<br>`` is a hard line break, list
items get ``-`` / ``1.`` bullets, table cells are separated by spaces, and the
contents of ``<script>``, ``<style>``, ``<head>`` (and similar) are dropped.
Character references are decoded.  ``&nbsp;`` is kept as a space (never
collapsed away, like in a browser) but turned into a plain U+0020 in the output.

HTML is read by a small one-pass tokenizer instead of ``html.parser`` (which
re-scans unterminated constructs and turns quadratic on hostile mail): every
step consumes input, regexes are anchored at the current position, unclosed
comments / tags / quoted attributes run to the end of the input like in a
browser, and at most ``MAX_HTML_CHARS`` characters are read.  Nothing here
raises on any ``str``.

:func:`render_html` and :class:`HtmlRender` serve
:mod:`helpdesk_mail.inbound.quotes`: they render the same text while recording
where in the output chosen start tags (quote markers) occurred, so the caller
can cut the text at the first marker and stop rendering early.
"""

from __future__ import annotations

import contextlib
import html as _html
import re
from collections.abc import Callable

__all__ = [
    "MAX_HTML_CHARS",
    "Attrs",
    "HtmlRender",
    "MarkerCallback",
    "finish_text",
    "html_to_text",
    "render_html",
]

Attrs = dict[str, str]
"""Attributes of a start tag: lower-case names, values ("" when absent)."""

MarkerCallback = Callable[[str, Attrs], str | None]
"""Called for every start tag outside dropped content; returns a marker name or None."""

_BLOCK_1 = frozenset(
    {
        "address",
        "article",
        "aside",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hgroup",
        "hr",
        "legend",
        "li",
        "main",
        "menu",
        "nav",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "caption",
        "body",
        "html",
    }
)
_BLOCK_2 = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol", "xmp", "listing"}
)
_SKIP = frozenset(
    {"script", "style", "title", "template", "noscript", "xml", "svg", "math", "object", "iframe"}
)
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "basefont",
        "frame",
        "keygen",
    }
)
_PRE = frozenset({"pre", "textarea", "xmp", "listing", "plaintext"})
_CELLS = frozenset({"td", "th"})
_WS = re.compile(r"[ \t\n\r\f\v]+")
_TRAILING_WS = re.compile(r"[ \t]+\n")
_MANY_NL = re.compile(r"\n{3,}")

_MAX_DEPTH = 10_000  # caps per-tag bookkeeping on absurdly nested input
_MAX_QUOTE_PREFIX = 10  # deeper nesting is rendered like this depth
MAX_HTML_CHARS = 8_000_000
"""Only this many characters of an HTML body are rendered (bounds time on huge bodies)."""


class _Renderer:
    """Streaming renderer: text goes straight into ``self.out`` in final order."""

    def __init__(self, marker: MarkerCallback | None, quote_blockquotes: bool) -> None:
        self.out: list[str] = []
        self.size = 0  # total characters in self.out
        self.marks: list[tuple[str, int]] = []
        self.mark_pieces: list[int] = []  # index into ``out`` where each mark starts
        self.mark_visible: list[bool] = []  # visible text already emitted at each mark?
        self.visible = 0  # visible (non-space) characters emitted so far
        self._marker = marker
        self._quote_blockquotes = quote_blockquotes
        self._skip = 0  # number of open dropped elements (script, style, ...)
        self._skip_open: dict[str, int] = {}
        self._in_head = False
        self._pre = 0
        self._quote_depth = 0
        self._quote_stack: list[bool] = []  # per open blockquote: rendered with "> "?
        self._lists: list[list[int]] = []  # per open list: [ordered(0/1), counter]
        self._need_nl = 0  # line breaks required before the next text
        self._space = False  # a collapsible space is pending
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
        self._space = False

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

    def _text(self, s: str) -> None:
        """Emit visible text that contains no collapsible whitespace at its ends."""
        self._flush_breaks()
        if self._line_start:
            if self._quote_depth:
                self._emit(">" * min(self._quote_depth, _MAX_QUOTE_PREFIX) + " ")
        elif self._space:
            self._emit(" ")
        self._emit(s)
        if not self.visible and s.strip():
            self.visible = 1
        self._space = False
        self._line_start = False
        self._nl_run = 0
        self._started = True

    # -- parser callbacks -----------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
            self._skip_open[tag] = self._skip_open.get(tag, 0) + 1
            return
        if self._skip:
            return
        if tag == "head":
            self._in_head = True
            return
        if tag == "body":
            self._in_head = False
        if self._in_head:
            return
        if self._marker is not None:
            amap = {k.lower(): (v or "") for k, v in attrs}
            name = self._marker(tag, amap)
            if name is not None:
                self.marks.append((name, self.size))
                self.mark_pieces.append(len(self.out))
                self.mark_visible.append(self.visible > 0)
        self._open(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def _open(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._flush_breaks()
            if not self._started:
                self._started = True  # a leading <br> is a visible empty line
            self._newline()
            return
        if tag in _BLOCK_2:
            self._require(2)
        elif tag in _BLOCK_1:
            self._require(1)
        elif tag in _CELLS:
            self._space = not self._line_start
        if tag in _PRE:
            self._pre += 1
        elif tag == "blockquote":
            quoted = self._quote_blockquotes and not _has_attr(attrs, "type", "cite")
            self._quote_stack.append(quoted)
            if quoted:
                self._quote_depth += 1
        elif tag in ("ul", "ol", "menu", "dir"):
            if len(self._lists) < _MAX_DEPTH:
                self._lists.append([1 if tag == "ol" else 0, 0])
        elif tag == "li":
            self._require(1)
            indent = "  " * min(max(0, len(self._lists) - 1), _MAX_QUOTE_PREFIX)
            if self._lists and self._lists[-1][0]:
                self._lists[-1][1] += 1
                bullet = f"{self._lists[-1][1]}."
            else:
                bullet = "-"
            self._text(indent + bullet)
            self._space = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            if self._skip_open.get(tag, 0) > 0:
                self._skip_open[tag] -= 1
                self._skip -= 1
            return
        if self._skip:
            return
        if tag == "head":
            self._in_head = False
            return
        if self._in_head:
            return
        if tag in _BLOCK_2:
            self._require(2)
        elif tag in _BLOCK_1 or tag == "li":
            self._require(1)
        elif tag in _CELLS:
            self._space = not self._line_start
        if tag in _PRE:
            self._pre = max(0, self._pre - 1)
        elif tag == "blockquote":
            if self._quote_stack and self._quote_stack.pop():
                self._quote_depth -= 1
        elif tag in ("ul", "ol", "menu", "dir") and self._lists:
            self._lists.pop()

    def handle_data(self, data: str) -> None:
        if self._skip or self._in_head or not data:
            return
        if self._pre:
            self._pre_text(data)
            return
        if not _WS.sub("", data):
            if not self._line_start:
                self._space = True
            return
        lead = data[0] in " \t\n\r\f\v"
        trail = data[-1] in " \t\n\r\f\v"
        core = _WS.sub(" ", data.strip(" \t\n\r\f\v"))
        if lead and not self._line_start:
            self._space = True
        self._text(core)
        if trail:
            self._space = True

    def _pre_text(self, data: str) -> None:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
        pieces = data.split("\n")
        for n, piece in enumerate(pieces):
            if n:
                self._flush_breaks()
                self._started = True
                self._newline()
            if piece:
                self._text(piece)

    def result(self) -> str:
        return "".join(self.out)


def _has_attr(attrs: list[tuple[str, str | None]], name: str, value: str) -> bool:
    return any(k.lower() == name and (v or "").strip().lower() == value for k, v in attrs)


# -- a small linear tokenizer ------------------------------------------------
#
# ``html.parser`` re-scans unterminated constructs on every feed and degrades
# badly on hostile input (e.g. a megabyte of ``<a``).  This tokenizer makes one
# pass: every step consumes at least one character and each regex is anchored
# at the current position with no nested quantifiers.

_TAG_NAME = re.compile(r"[A-Za-z][^\s/>\x00]*")
_ATTR_SEP = re.compile(r"[\s/]+")
_ATTR_NAME = re.compile(r"[^\s\"'>/=]+|=[^\s\"'>/=]*")
_ATTR_EQ = re.compile(r"\s*=\s*")
_UNQUOTED = re.compile(r"[^\s>]*")
_RAW_TEXT = frozenset(
    {"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title"}
)
_RAW_END: dict[str, re.Pattern[str]] = {
    name: re.compile(r"</" + name + r"(?=[\s/>]|$)", re.IGNORECASE) for name in _RAW_TEXT
}


def _unescape(text: str) -> str:
    return _html.unescape(text) if "&" in text else text


def _parse_attrs(doc: str, pos: int, end: int) -> tuple[list[tuple[str, str | None]], int, bool]:
    """Attributes from ``pos``; returns (attrs, position after '>', self_closing)."""
    attrs: list[tuple[str, str | None]] = []
    while pos < end:
        sep = _ATTR_SEP.match(doc, pos)
        if sep is not None:
            pos = sep.end()
            if pos >= end:
                break
        if doc[pos] == ">":
            return attrs, pos + 1, doc[pos - 1] == "/"
        m = _ATTR_NAME.match(doc, pos)
        if m is None:  # a stray quote character
            pos += 1
            continue
        raw_name = m.group(0)
        pos = m.end()
        value: str | None = None
        eq = _ATTR_EQ.match(doc, pos)
        if eq is not None and not raw_name.startswith("="):
            pos = eq.end()
            if pos < end and doc[pos] in "\"'":
                close = doc.find(doc[pos], pos + 1)
                if close < 0:
                    close = end
                value = _unescape(doc[pos + 1 : close])
                pos = close + 1
            else:
                um = _UNQUOTED.match(doc, pos)
                stop = um.end() if um is not None else pos
                value = _unescape(doc[pos:stop])
                pos = stop
        if len(attrs) < 256:
            attrs.append((raw_name.lower(), value))
    return attrs, end, False


def _tokenize(doc: str, r: _Renderer, should_stop: Callable[[], bool] | None = None) -> None:
    """Feed ``doc`` to the renderer as start tags, end tags and text."""
    pos = 0
    end = len(doc)
    find = doc.find
    steps = 0
    text: list[str] = []  # pending character data, flushed before each tag

    def flush() -> None:
        if text:
            r.handle_data(_unescape("".join(text)))
            text.clear()

    while pos < end:
        lt = find("<", pos)
        if lt < 0:
            text.append(doc[pos:])
            break
        if lt > pos:
            text.append(doc[pos:lt])
        pos = lt
        nxt = doc[lt + 1 : lt + 2]
        if nxt == "!":
            if doc.startswith("<!--", lt):
                close = find("-->", lt + 4)
                pos = end if close < 0 else close + 3
            else:
                close = find(">", lt + 2)
                pos = end if close < 0 else close + 1
            continue
        if nxt == "?":
            close = find(">", lt + 2)
            pos = end if close < 0 else close + 1
            continue
        if nxt == "/":
            m = _TAG_NAME.match(doc, lt + 2)
            close = find(">", lt + 2)
            pos = end if close < 0 else close + 1
            if m is not None:
                flush()
                r.handle_endtag(m.group(0).lower())
            elif doc.startswith("</>", lt):
                pos = lt + 3
            continue
        m = _TAG_NAME.match(doc, lt + 1)
        if m is None:  # a lone "<" is text
            text.append("<")
            pos = lt + 1
            continue
        flush()
        tag = m.group(0).lower()
        attrs, pos, self_closing = _parse_attrs(doc, m.end(), end)
        if self_closing:
            r.handle_startendtag(tag, attrs)
        else:
            r.handle_starttag(tag, attrs)
        if tag in _RAW_TEXT and not self_closing:
            em = _RAW_END[tag].search(doc, pos)
            stop = end if em is None else em.start()
            if tag in ("textarea", "title"):
                r.handle_data(_unescape(doc[pos:stop]))
            else:
                r.handle_data(doc[pos:stop])
            pos = stop
        steps += 1
        if should_stop is not None and steps % 256 == 0 and should_stop():
            return
    flush()


def _finish(raw: str) -> str:
    """Final clean-up of rendered text: nbsp to space, trim line ends, squeeze blank runs."""
    text = raw.replace("\u00a0", " ").replace("\u202f", " ")
    text = _TRAILING_WS.sub("\n", text + "\n")
    text = _MANY_NL.sub("\n\n", text)
    return text.strip("\n").rstrip()


class HtmlRender:
    """Incremental rendering handle used by :mod:`helpdesk_mail.inbound.quotes`."""

    def __init__(
        self,
        html: str,
        marker: MarkerCallback | None = None,
        *,
        quote_blockquotes: bool = False,
    ) -> None:
        self._r = _Renderer(marker, quote_blockquotes)
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

    def visible_before(self, index: int) -> bool:
        """Was any visible text rendered before mark ``index``?"""
        return self._r.mark_visible[index]

    def run(self, should_stop: Callable[[], bool] | None = None) -> None:
        """Render the document, stopping early when ``should_stop()`` says so."""
        with contextlib.suppress(ValueError, IndexError, RecursionError, MemoryError):
            _tokenize(self._doc, self._r, should_stop)

    def raw(self) -> str:
        """All raw text rendered so far (use :func:`finish_text` on slices of it)."""
        return self._r.result()


def render_html(
    html: str,
    marker: MarkerCallback | None = None,
    *,
    quote_blockquotes: bool = False,
) -> tuple[str, list[tuple[str, int]]]:
    """Render ``html`` and return the raw text plus ``(marker, offset)`` pairs.

    ``marker`` is called for each start tag outside dropped content; when it
    returns a name, the current offset into the raw text is recorded.  With
    ``quote_blockquotes`` the content of ``<blockquote>`` elements that are not
    ``type="cite"`` is prefixed with ``> `` like a plain-text quote.  Pass slices
    of the raw text to :func:`finish_text` for the final form.
    """
    job = HtmlRender(html, marker, quote_blockquotes=quote_blockquotes)
    job.run()
    return job.raw(), job.marks


def finish_text(raw: str) -> str:
    """Normalise rendered text: nbsp to spaces, no trailing blanks, at most one empty line."""
    return _finish(raw)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: blocks become lines, entities decoded, scripts dropped."""
    if not isinstance(html, str) or not html:
        return ""
    raw, _ = render_html(html)
    return _finish(raw)
