"""One linear pass over HTML: start tags, end tags and text, the way a browser splits them.

`scan_html` feeds a `HtmlSink`. It is a small tokenizer instead of ``html.parser``,
which re-scans unterminated constructs and turns quadratic on hostile mail. Rules:

- Every step consumes input; regexes are anchored at the current position and have
  no nested quantifiers; a search for the end of raw text (``</style``) is never
  repeated over the same stretch of input. Nothing raises on any ``str``.
- Comments (``<!-- -->``), declarations (``<!...>``, which includes Outlook's
  ``<![if ...]>``) and processing instructions (``<?...>``) produce nothing; an
  unclosed comment runs to the end of the input, as in a browser.
- A ``<`` that does not start a tag name is text. A start tag that is still open at
  the end of the input is text too (it was cut off; nothing after it is lost).
- Character references are decoded in text and attribute values (``html.unescape``).
- ``script``, ``style``, ``noscript`` and the other `RAW_TEXT` elements hold raw
  text up to their end tag (``textarea`` and ``title`` with references decoded). One
  whose end tag never comes is an ordinary start tag: its content is read as HTML.
- Elements named in ``drop`` are removed with their content: the sink hears
  `HtmlSink.dropped` for the start tag and nothing until the matching end tag
  (nested elements of the same name counted; a ``head`` also ends at ``<body``).
  One that is never closed does not hide the rest of the input: the scan goes back
  to just after its start tag and drops that tag alone (each unclosed one, however
  many are nested, found in the same pass: at most two passes over the input).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Callable
from typing import Protocol

__all__ = ["RAW_TEXT", "Attrs", "HtmlSink", "scan_html"]

Attrs = list[tuple[str, str | None]]
"""Attributes of a start tag in order: lower-case name, decoded value (None when bare)."""

RAW_TEXT = frozenset(
    {"script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title"}
)
"""Elements whose content is raw text up to their end tag (``noscript``: scripting on)."""
_ESCAPABLE_RAW = frozenset({"textarea", "title"})
_MAX_ATTRS = 256


class HtmlSink(Protocol):
    """What `scan_html` reports to; ``pos`` is the offset of the tag's ``<``."""

    def start(self, tag: str, attrs: Attrs, self_closing: bool, pos: int) -> None:
        """A start tag outside dropped content (``self_closing``: it ended in ``/>``)."""

    def end(self, tag: str, pos: int) -> None:
        """An end tag outside dropped content."""

    def text(self, data: str) -> None:
        """Text outside dropped content, references decoded (never empty)."""

    def dropped(self, tag: str, attrs: Attrs, pos: int) -> None:
        """The start tag of an element in ``drop``: it is removed with its content."""


_TAG_NAME = re.compile(r"[A-Za-z][^\s/>\x00]*")
_ATTR_SEP = re.compile(r"[\s/]+")
_ATTR_NAME = re.compile(r"[^\s\"'>/=]+|=[^\s\"'>/=]*")
_ATTR_EQ = re.compile(r"\s*=\s*")
_UNQUOTED = re.compile(r"[^\s>]*")
_RAW_END: dict[str, re.Pattern[str]] = {
    name: re.compile(r"</" + name + r"(?=[\s/>]|$)", re.IGNORECASE) for name in RAW_TEXT
}


def _unescape(text: str) -> str:
    return _html.unescape(text) if "&" in text else text


def _parse_attrs(doc: str, pos: int, end: int) -> tuple[Attrs, int, bool]:
    """Attributes from ``pos``; returns (attrs, position after '>', self_closing).

    The position is -1 when the tag is not closed before the end of the input.
    """
    attrs: Attrs = []
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
                    return attrs, -1, False
                value = _unescape(doc[pos + 1 : close])
                pos = close + 1
            else:
                um = _UNQUOTED.match(doc, pos)
                stop = um.end() if um is not None else pos
                value = _unescape(doc[pos:stop])
                pos = stop
        if len(attrs) < _MAX_ATTRS:
            attrs.append((raw_name.lower(), value))
    return attrs, -1, False


class _RawEnds:
    """Where raw text ends: each search result is reused while it still applies."""

    def __init__(self, doc: str) -> None:
        self._doc = doc
        self._cache: dict[str, tuple[int, int]] = {}  # tag -> (searched from, found at or -1)

    def find(self, tag: str, pos: int) -> int:
        cached = self._cache.get(tag)
        if cached is not None:
            start, found = cached
            if start <= pos and (found < 0 or found >= pos):
                return found
        m = _RAW_END[tag].search(self._doc, pos)
        found = -1 if m is None else m.start()
        self._cache[tag] = (pos, found)
        return found


def scan_html(
    doc: str,
    sink: HtmlSink,
    *,
    drop: frozenset[str] = frozenset(),
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Feed ``doc`` to ``sink`` (see the module rules); ``should_stop`` is asked now and
    then and ends the scan early when it returns True."""
    raw_ends = _RawEnds(doc)
    unclosed: set[int] = set()
    pos = 0
    while True:
        resume = _scan(doc, pos, sink, drop, unclosed, raw_ends, should_stop)
        if resume < 0:
            return
        pos = resume


def _scan(
    doc: str,
    pos: int,
    sink: HtmlSink,
    drop: frozenset[str],
    unclosed: set[int],
    raw_ends: _RawEnds,
    should_stop: Callable[[], bool] | None,
) -> int:
    """Scan from ``pos``; returns -1 when done, or where to resume when a dropped element
    was never closed (its position and every other unclosed one are added to
    ``unclosed``)."""
    end = len(doc)
    find = doc.find
    steps = 0
    text: list[str] = []  # pending character data, flushed before each tag
    # the dropped element being skipped: name, nesting depth, where to resume if unclosed
    region = ""
    depth = 0
    resume = 0
    # open dropped elements per name (start positions), to know which are never closed
    opened: dict[str, list[int]] = {}

    def flush() -> None:
        if text:
            data = _unescape("".join(text))
            text.clear()
            if data:
                sink.text(data)

    while pos < end:
        lt = find("<", pos)
        if lt < 0:
            if not region:
                text.append(doc[pos:])
            break
        if lt > pos and not region:
            text.append(doc[pos:lt])
        pos = lt
        nxt = doc[lt + 1 : lt + 2]
        if nxt == "!":
            if doc.startswith("<!--", lt):
                if doc.startswith(">", lt + 4):
                    pos = lt + 5  # <!-->
                elif doc.startswith("->", lt + 4):
                    pos = lt + 6  # <!--->
                else:
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
            if m is None:
                if doc.startswith("</>", lt):
                    pos = lt + 3
                continue
            tag = m.group(0).lower()
            if drop and tag in drop:
                stack = opened.get(tag)
                if stack:
                    stack.pop()
            if region:
                if tag == region:
                    depth -= 1
                    if depth == 0:
                        region = ""
                continue
            flush()
            sink.end(tag, lt)
            continue
        m = _TAG_NAME.match(doc, lt + 1)
        if m is None:  # a lone "<" is text
            if not region:
                text.append("<")
            pos = lt + 1
            continue
        tag = m.group(0).lower()
        attrs, after, self_closing = _parse_attrs(doc, m.end(), end)
        if after < 0:  # cut off: the rest is text
            if not region:
                text.append(doc[lt:])
            pos = end
            break
        pos = after
        if tag == "body" and region == "head":
            region = ""  # an unclosed <head> ends where <body> starts
        if drop and tag == "body" and "head" in opened:
            opened["head"].clear()
        if region:
            if tag == region and not self_closing:
                depth += 1
            if tag in drop and not self_closing:
                opened.setdefault(tag, []).append(lt)
        elif tag in drop:
            flush()
            sink.dropped(tag, attrs, lt)
            if not self_closing and lt not in unclosed:
                opened.setdefault(tag, []).append(lt)
                region, depth, resume = tag, 1, pos
        else:
            flush()
            sink.start(tag, attrs, self_closing, lt)
        if tag in RAW_TEXT and not self_closing:
            stop = raw_ends.find(tag, pos)
            if stop >= 0:
                if not region and stop > pos:
                    data = doc[pos:stop]
                    sink.text(_unescape(data) if tag in _ESCAPABLE_RAW else data)
                pos = stop
        steps += 1
        if should_stop is not None and steps % 256 == 0 and should_stop():
            return -1
    if region:
        for stack in opened.values():
            unclosed.update(stack)
        return resume
    flush()
    return -1
