"""The limited HTML that templates allow.

`sanitize_html` reduces any HTML (a ticket body from mail, an admin's template) to an
allow-list of tags and attributes, re-serialised by this module so that the output
is regular: every tag is ``<name attr="value">`` with escaped values, text is escaped,
elements are properly nested and closed, and nothing else survives. The input is read
by `helpdesk_mail.text.scan_html` (one linear pass, the way a browser splits it).

Rules:

- Allowed tags keep their allowed attributes; other attributes are dropped.
- ``script``, ``style``, ``iframe``, ``object``, ``embed``, ``svg``, ``math``, form
  controls and the like are dropped with their content; ``form``, ``html``, ``body``
  and unknown tags are unwrapped (their content is kept). Block elements that are not
  allowed (``section``, ``article``, ``header``, ...) become ``div`` (``menu`` and
  ``dir`` become ``ul``), so their content still starts and ends a line.
- A dropped element that is never closed is dropped alone: it cannot hide the rest
  of the message (``<svg onload=...>`` and then the text).
- Event handlers (``on*``), ``class`` and ``id`` never survive.
- URLs (``href``, ``src``) must be ``http``, ``https``, ``mailto``, ``tel`` or relative
  (``href`` only), or ``cid:`` for images when inline images are allowed. Anything
  else, ``javascript:``, ``vbscript:`` and ``data:`` included, drops the attribute.
  A ``cid:`` reference may be resolved by the caller (`resolve_cid`): to another
  Content-ID, or to nothing, which shows the image's alt text instead.
- ``style`` keeps only allow-listed CSS properties whose values are plain
  (no ``url()``, ``expression()``, escapes or comments).
- Nesting deeper than `MAX_DEPTH` is flattened; input longer than `MAX_INPUT` is cut.
- Nothing raises.

Plain text from HTML is `helpdesk_mail.text.html_to_text` (the ``ALTERNATIVE`` style
for the ``text/plain`` part of every email).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..text.scan import Attrs, scan_html

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT",
    "Removal",
    "clean_text",
    "escape",
    "safe_url",
    "sanitize_html",
]

MAX_INPUT = 500_000
"""Characters of HTML considered; the rest is cut (a notification is no archive)."""
MAX_DEPTH = 64
"""Deepest element nesting kept; deeper tags are dropped (their text is kept)."""

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "big", "blockquote", "br", "caption", "center", "cite", "code",
        "col", "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s",
        "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "tt", "u", "ul",
    }
)  # fmt: skip
VOID_TAGS = frozenset({"br", "col", "hr", "img"})
DROP_WITH_CONTENT = frozenset(
    {
        "applet", "audio", "button", "canvas", "datalist", "embed", "frame", "frameset",
        "head", "iframe", "input", "keygen", "link", "map", "math", "meta", "noembed",
        "noframes", "noscript", "object", "option", "optgroup", "output", "param",
        "plaintext", "progress", "script", "select", "style", "svg", "template",
        "textarea", "title", "video", "xmp", "base", "source", "track", "picture",
    }
)  # fmt: skip
_VOID_DROPPED = frozenset(
    {"input", "keygen", "link", "meta", "param", "base", "source", "track", "embed", "frame"}
)
_DROP_CONTAINERS = DROP_WITH_CONTENT - _VOID_DROPPED
_AS_BLOCK = {
    **dict.fromkeys(
        (
            "address", "article", "aside", "details", "dialog", "fieldset", "figcaption",
            "figure", "footer", "header", "hgroup", "legend", "main", "nav", "search",
            "section", "summary",
        ),
        "div",
    ),
    "menu": "ul",
    "dir": "ul",
}  # fmt: skip
"""Block elements that are not allowed, and the allowed element that takes their place."""
_GLOBAL_ATTRS = frozenset({"style", "title", "dir", "lang", "align"})
_TAG_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "target"}),
    "img": frozenset({"src", "alt", "width", "height", "border", "hspace", "vspace"}),
    "font": frozenset({"color", "face", "size"}),
    "table": frozenset({"width", "border", "cellpadding", "cellspacing", "bgcolor", "summary"}),
    "td": frozenset({"width", "height", "colspan", "rowspan", "valign", "bgcolor", "nowrap"}),
    "th": frozenset({"width", "height", "colspan", "rowspan", "valign", "bgcolor", "nowrap"}),
    "tr": frozenset({"valign", "bgcolor", "height"}),
    "col": frozenset({"width", "span"}),
    "colgroup": frozenset({"width", "span"}),
    "ol": frozenset({"start", "type"}),
    "ul": frozenset({"type"}),
    "li": frozenset({"value"}),
    "hr": frozenset({"width", "size", "noshade"}),
    "div": frozenset({"bgcolor"}),
    "blockquote": frozenset({"type"}),
}
URL_ATTRS = frozenset({"href", "src"})
_PLAIN_VALUE = re.compile(r"^[\w\s#%.,!?/+()'*-]*$")
_CSS_PROPERTIES = frozenset(
    {
        "background-color", "border", "border-bottom", "border-collapse", "border-color",
        "border-left", "border-radius", "border-right", "border-spacing", "border-style",
        "border-top", "border-width", "color", "direction", "display", "font", "font-family",
        "font-size", "font-style", "font-variant", "font-weight", "height", "letter-spacing",
        "line-height", "list-style-type", "margin", "margin-bottom", "margin-left",
        "margin-right", "margin-top", "max-width", "min-width", "padding", "padding-bottom",
        "padding-left", "padding-right", "padding-top", "text-align", "text-decoration",
        "text-indent", "text-transform", "vertical-align", "white-space", "width",
        "word-break", "word-wrap",
    }
)  # fmt: skip
_CSS_VALUE = re.compile(r"^[\w\s#%.,!'\"()+-]*$")
_CSS_BAD = re.compile(r"url\s*\(|expression|javascript|vbscript|behavior|binding|@|\\|/\*|&", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_URL_JUNK = re.compile(r"[\x00-\x20\x7f]+")
_CID = re.compile(r"^cid:[A-Za-z0-9!#$%&'*+./=?^_`{|}~@-]{1,200}$")


def clean_text(text: str) -> str:
    """`text` with lone surrogates replaced and control characters (bar tab, CR, LF) removed."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return _CONTROL.sub("", text)


def escape(text: str) -> str:
    """HTML-escape `text` for element content and double- or single-quoted attributes."""
    return html.escape(text, quote=True)


def safe_url(url: str, *, image: bool = False, allow_cid: bool = True) -> str | None:
    """`url` if it is safe to put in a link (or an image, with `image`), else None.

    Links may be http(s), mailto, tel or relative; images http(s) or (with
    `allow_cid`) ``cid:``. Control characters and whitespace that browsers ignore
    inside a scheme are ignored when checking it, so ``java\\tscript:`` is caught.
    """
    value = clean_text(url).strip()
    if len(value) > 4096:
        return None
    compact = _URL_JUNK.sub("", value).lower()
    scheme, colon, _ = compact.partition(":")
    if colon and not any(c in scheme for c in "/?#"):
        if image:
            if scheme in ("http", "https"):
                return value
            if scheme == "cid" and allow_cid and _CID.match(value):
                return value
            return None
        return value if scheme in ("http", "https", "mailto", "tel") else None
    if image:
        return None
    # relative URL: no scheme before the first / ? #
    return value


def _clean_style(value: str) -> str | None:
    kept: list[str] = []
    for declaration in value.split(";"):
        name, colon, val = declaration.partition(":")
        name = name.strip().lower()
        val = val.strip()
        if not colon or name not in _CSS_PROPERTIES or not val:
            continue
        if _CSS_BAD.search(val) or not _CSS_VALUE.match(val):
            continue
        kept.append(f"{name}:{val}")
    return ";".join(kept) or None


@dataclass(frozen=True)
class Removal:
    """Something `sanitize_html` removed: a tag or attribute, where it started (1-based)."""

    what: str
    line: int
    column: int


class _Sanitizer:
    """Re-serialises what `scan_html` reports, keeping only the allow-list."""

    def __init__(
        self,
        doc: str,
        allow_cid: bool,
        report: list[Removal] | None,
        resolve_cid: Callable[[str], str | None] | None = None,
    ) -> None:
        self.out: list[str] = []
        self.stack: list[str] = []
        self.allow_cid = allow_cid
        self.resolve_cid = resolve_cid
        self.report = report
        self._doc = doc
        self._at = (0, 1, 0)  # (offset, its line, offset where that line starts)

    def _removed(self, what: str, pos: int) -> None:
        if self.report is None:
            return
        offset, line, line_start = self._at
        if pos < offset:
            offset, line, line_start = 0, 1, 0
        newlines = self._doc.count("\n", offset, pos)
        if newlines:
            line += newlines
            line_start = self._doc.rfind("\n", offset, pos) + 1
        self._at = (pos, line, line_start)
        self.report.append(Removal(what, line, pos - line_start + 1))

    def dropped(self, tag: str, attrs: Attrs, pos: int) -> None:
        if tag not in ("head", "title"):
            self._removed(f"<{tag}>", pos)

    def start(self, tag: str, attrs: Attrs, self_closing: bool, pos: int) -> None:
        if tag in DROP_WITH_CONTENT:  # void ones (meta, link, input...)
            if tag != "meta":
                self._removed(f"<{tag}>", pos)
            return
        tag = _AS_BLOCK.get(tag, tag)
        if tag not in ALLOWED_TAGS:
            if tag not in ("html", "body", "font-face"):
                self._removed(f"<{tag}>", pos)
            return
        if len(self.stack) >= MAX_DEPTH:
            return
        kept = self._attrs(tag, attrs, pos)
        if tag == "img" and "src" not in kept:
            alt = kept.get("alt", "")
            if alt:
                self.out.append(escape(f"[{alt}]"))
            return
        rendered = "".join(f' {k}="{escape(v)}"' for k, v in kept.items())
        self.out.append(f"<{tag}{rendered}>")
        if tag not in VOID_TAGS:
            if self_closing:
                self.out.append(f"</{tag}>")
            else:
                self.stack.append(tag)

    def _attrs(self, tag: str, attrs: Attrs, pos: int) -> dict[str, str]:
        allowed = _TAG_ATTRS.get(tag, frozenset())
        kept: dict[str, str] = {}
        seen: set[str] = set()
        for name, raw in attrs:
            value = clean_text(raw or "")
            if name in seen:
                continue
            seen.add(name)
            if name not in _GLOBAL_ATTRS and name not in allowed:
                self._removed(f"{name}=", pos)
                continue
            checked: str | None
            if name in URL_ATTRS:
                checked = safe_url(value, image=tag == "img", allow_cid=self.allow_cid)
                if checked is not None and self.resolve_cid is not None and tag == "img":
                    checked = self._cid(checked)
            elif name == "style":
                checked = _clean_style(value)
            elif name == "target":
                checked = "_blank" if value.lower() == "_blank" else None
            elif name in ("alt", "title", "summary"):
                checked = value[:1000]
            else:
                checked = value if len(value) <= 200 and _PLAIN_VALUE.match(value) else None
            if checked is None:
                if name != "style" or value.strip():
                    self._removed(f"{name}=", pos)
                continue
            kept[name] = checked
        return kept

    def _cid(self, url: str) -> str | None:
        """An image URL with its ``cid:`` reference resolved by the caller (None: gone)."""
        if self.resolve_cid is None or url[:4].lower() != "cid:":
            return url
        resolved = self.resolve_cid(url[4:].strip().strip("<>"))
        return None if resolved is None else f"cid:{resolved}"

    def end(self, tag: str, pos: int) -> None:
        tag = _AS_BLOCK.get(tag, tag)
        if tag not in self.stack:
            return
        while self.stack:
            open_tag = self.stack.pop()
            self.out.append(f"</{open_tag}>")
            if open_tag == tag:
                break

    def text(self, data: str) -> None:
        self.out.append(html.escape(clean_text(data), quote=False))

    def result(self) -> str:
        self.out.extend(f"</{t}>" for t in reversed(self.stack))
        self.stack.clear()
        return "".join(self.out)


def sanitize_html(
    source: str,
    *,
    allow_cid: bool = True,
    report: list[Removal] | None = None,
    resolve_cid: Callable[[str], str | None] | None = None,
) -> str:
    """`source` reduced to the limited HTML that templates allow (see the module rules).

    With `allow_cid` off, images that refer to inline parts (``cid:``) are replaced
    by their alt text. `resolve_cid`, when given, maps each ``cid:`` reference (its
    Content-ID, without angle brackets) to the one to write instead, or to None to
    replace the image by its alt text. `report`, when given, collects what was removed
    and where.
    """
    source = clean_text(source[:MAX_INPUT])
    sanitizer = _Sanitizer(source, allow_cid, report, resolve_cid)
    try:
        scan_html(source, sanitizer, drop=_DROP_CONTAINERS)
    except Exception:  # the scanner never raises on a str; never let hostile input escape
        return html.escape(source, quote=False)
    return sanitizer.result()
