"""The limited HTML that templates allow, and plain text from it (stdlib ``html.parser`` only).

`sanitize_html` reduces any HTML (a ticket body from mail, an admin's template) to an
allow-list of tags and attributes, re-serialised by this module so that the output
is regular: every tag is ``<name attr="value">`` with escaped values, text is escaped,
elements are properly nested and closed, and nothing else survives.

Rules:

- Allowed tags keep their allowed attributes; other attributes are dropped.
- ``script``, ``style``, ``iframe``, ``object``, ``embed``, ``svg``, ``math``, form
  controls and the like are dropped with their content; ``form``, ``html``, ``body``
  and unknown tags are unwrapped (their content is kept).
- Event handlers (``on*``), ``class`` and ``id`` never survive.
- URLs (``href``, ``src``) must be ``http``, ``https``, ``mailto``, ``tel`` or relative
  (``href`` only), or ``cid:`` for images when inline images are allowed. Anything
  else, ``javascript:``, ``vbscript:`` and ``data:`` included, drops the attribute.
- ``style`` keeps only allow-listed CSS properties whose values are plain
  (no ``url()``, ``expression()``, escapes or comments).
- Nesting deeper than `MAX_DEPTH` is flattened; input longer than `MAX_INPUT` is cut.
- Nothing raises: should the parser fail, the input is reduced to escaped text.

`html_to_text` renders such sanitized HTML as readable plain text, for the
``text/plain`` alternative of every email.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT",
    "Removal",
    "clean_text",
    "escape",
    "html_to_text",
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


class _Sanitizer(HTMLParser):
    def __init__(self, allow_cid: bool, report: list[Removal] | None) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.drop: list[str] = []
        self.allow_cid = allow_cid
        self.report = report

    def _removed(self, what: str) -> None:
        if self.report is not None:
            line, col = self.getpos()
            self.report.append(Removal(what, line, col + 1))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        if self.drop:
            if tag == "body" and "head" in self.drop:
                self.drop.clear()  # an unclosed <head> ends where <body> starts
            elif tag == self.drop[-1] and not self_closing:
                self.drop.append(tag)
            return
        if tag in DROP_WITH_CONTENT:
            if tag not in ("head", "title", "meta"):
                self._removed(f"<{tag}>")
            if not self_closing and tag not in _VOID_DROPPED:
                self.drop.append(tag)
            return
        if tag not in ALLOWED_TAGS:
            if tag not in ("html", "body", "form", "font-face"):
                self._removed(f"<{tag}>")
            elif tag == "form":
                self._removed("<form>")
            return
        if len(self.stack) >= MAX_DEPTH:
            return
        kept = self._attrs(tag, attrs)
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

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> dict[str, str]:
        allowed = _TAG_ATTRS.get(tag, frozenset())
        kept: dict[str, str] = {}
        seen: set[str] = set()
        for name, raw in attrs:
            value = clean_text(raw or "")
            if name in seen:
                continue
            seen.add(name)
            if name not in _GLOBAL_ATTRS and name not in allowed:
                self._removed(f"{name}=")
                continue
            checked: str | None
            if name in URL_ATTRS:
                checked = safe_url(value, image=tag == "img", allow_cid=self.allow_cid)
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
                    self._removed(f"{name}=")
                continue
            kept[name] = checked
        return kept

    def handle_endtag(self, tag: str) -> None:
        if self.drop:
            if tag == self.drop[-1]:
                self.drop.pop()
            return
        if tag not in self.stack:
            return
        while self.stack:
            open_tag = self.stack.pop()
            self.out.append(f"</{open_tag}>")
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.drop:
            self.out.append(html.escape(clean_text(data), quote=False))

    def handle_comment(self, data: str) -> None:
        pass

    def handle_decl(self, decl: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass

    def result(self) -> str:
        self.out.extend(f"</{t}>" for t in reversed(self.stack))
        self.stack.clear()
        return "".join(self.out)


_COMMENT_CLOSE = re.compile(r"--\s*>")
_CONDITIONAL = re.compile(r"<!\[[^<>\[\]]{0,200}\]\s*>")


def _defuse(source: str) -> str:
    """Neutralise what would make ``html.parser`` scan to the end of the input again and
    again (quadratic time on hostile input), in one linear pass, the way browsers read it:

    - a ``<`` after the last ``>`` cannot open a tag: it is text;
    - a comment that is never closed hides the rest of the document: cut it there;
    - marked sections: Outlook's ``<![if ...]>``/``<![endif]>`` go, others become text.
    """
    limit = -1
    for match in _COMMENT_CLOSE.finditer(source):
        limit = match.start()
    cut = source.find("<!--", max(limit - 3, 0))
    while cut != -1 and cut + 4 <= limit:
        cut = source.find("<!--", cut + 1)
    if cut != -1:
        source = source[:cut]
    if "<![" in source:
        source = _CONDITIONAL.sub("", source).replace("<![", "&lt;![")
    last_gt = source.rfind(">")
    if source.find("<", last_gt + 1) != -1:
        source = source[: last_gt + 1] + source[last_gt + 1 :].replace("<", "&lt;")
    return source


def sanitize_html(
    source: str, *, allow_cid: bool = True, report: list[Removal] | None = None
) -> str:
    """`source` reduced to the limited HTML that templates allow (see the module rules).

    With `allow_cid` off, images that refer to inline parts (``cid:``) are replaced
    by their alt text. `report`, when given, collects what was removed and where.
    """
    source = _defuse(clean_text(source[:MAX_INPUT]))
    parser = _Sanitizer(allow_cid, report)
    try:
        parser.feed(source)
        parser.close()
    except Exception:  # html.parser is lenient, but never let hostile input escape
        return html.escape(re.sub(r"<[^>]*>?", "", source), quote=False)
    return parser.result()


# --- plain text from sanitized HTML -------------------------------------------------

_BLOCK = frozenset(
    {"div", "center", "dl", "dt", "dd", "table", "tr", "caption", "thead", "tbody", "tfoot",
     "ul", "ol", "li", "pre"}
)  # fmt: skip
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "pre"})
_WS = re.compile(r"[ \t\r\n\f\v]+")


class _TextRenderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.blank_wanted = False
        self.pre = 0
        self.quote = 0
        self.lists: list[list[int]] = []  # per open list: [counter] (-1 for bullets)
        self.links: list[str | None] = []
        self.link_text: list[list[str]] = []
        self.drop = 0
        self.cell = 0
        self.indent = ""

    # line management
    def _flush(self) -> None:
        text = "".join(self.line)
        self.line = []
        indent, self.indent = self.indent, ""
        parts = re.split("[\n\x00]", text)
        if not self.pre:
            parts = [p.strip(" ") for p in parts]
            while parts and not parts[0]:
                parts.pop(0)
            while parts and not parts[-1]:
                parts.pop()
        if not parts or not any(parts):
            return
        if self.blank_wanted and self.lines and self.lines[-1] != "":
            self.lines.append("")
        self.blank_wanted = False
        prefix = "> " * self.quote
        for i, part in enumerate(parts):
            self.lines.append((prefix + (indent if i == 0 else "") + part).rstrip())

    def _block(self, blank: bool) -> None:
        self._flush()
        if blank:
            self.blank_wanted = True

    def _emit(self, text: str) -> None:
        if self.link_text:
            self.link_text[-1].append(text)
        self.line.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "style", "head", "title"):
            self.drop += 1
            return
        if tag in _PARAGRAPH:
            self._block(True)
        elif tag in _BLOCK:
            self._block(False)
        if tag == "br":
            self._emit("\n" if self.pre else "\x00")
        elif tag == "hr":
            self._block(False)
            self.lines.append("-" * 40)
        elif tag == "img":
            alt = a.get("alt", "").strip()
            if alt:
                self._emit(f"[{alt}]")
        elif tag in ("ul", "ol"):
            self._block(not self.lists)
            start = a.get("start", "1")
            self.lists.append([int(start) if start.isdigit() and len(start) < 6 else 1])
            if tag == "ul":
                self.lists[-1][0] = -1
        elif tag == "li":
            self._block(False)
            counter = self.lists[-1] if self.lists else [-1]
            indent = "  " * max(len(self.lists) - 1, 0)
            self.indent = indent
            if counter[0] < 0:
                self._emit("- ")
            else:
                self._emit(f"{counter[0]}. ")
                counter[0] += 1
        elif tag == "a":
            self.links.append(a.get("href"))
            self.link_text.append([])
        elif tag in ("td", "th"):
            if self.cell:
                self._emit("  ")
            self.cell += 1
        elif tag == "tr":
            self.cell = 0
        if tag == "pre":
            self.pre += 1
        elif tag == "blockquote":
            self.quote += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.drop = max(self.drop - 1, 0)
            return
        if tag == "a" and self.links:
            href = self.links.pop()
            text = "".join(self.link_text.pop()).strip()
            if self.link_text:
                self.link_text[-1].append(text)
            if href and _is_shown_url(href) and href != text and href not in text:
                self._emit(f" <{href}>" if text else href)
            return
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._block(not self.lists)
            return
        if tag == "pre":
            self._flush()
            self.pre = max(self.pre - 1, 0)
        if tag == "blockquote":
            self._flush()
            self.quote = max(self.quote - 1, 0)
        if tag in _PARAGRAPH:
            self._block(True)
        elif tag in _BLOCK:
            self._block(False)

    def handle_data(self, data: str) -> None:
        if self.drop:
            return
        if not self.pre:
            data = _WS.sub(" ", data)
            if data == " " and (not self.line or self.line[-1].endswith((" ", "\x00"))):
                return
        self._emit(data)

    def result(self) -> str:
        self._flush()
        text = "\n".join(self.lines)
        text = re.sub(r"\n{3,}", "\n\n", text)
        return text.strip("\n")


def _is_shown_url(href: str) -> bool:
    # "\ufdd0" starts a mask placeholder of a template being compiled (`compile.py`)
    return href.lower().startswith(("http:", "https:", "mailto:", "tel:", "\ufdd0"))


def html_to_text(source: str) -> str:
    """Readable plain text of (sanitized) HTML: paragraphs, line breaks, lists, link targets."""
    renderer = _TextRenderer()
    try:
        renderer.feed(_defuse(clean_text(source[:MAX_INPUT])))
        renderer.close()
    except Exception:
        return html.unescape(re.sub(r"<[^>]*>?", "", source))
    return renderer.result()
