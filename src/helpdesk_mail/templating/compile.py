"""Compiling a `#Mask#` template, once, into a pre-tokenized mustache template.

`compile_template(text, kind, fmt)` (cached on text, kind and format):

1. cleans the text (no lone surrogates, no control characters);
2. finds the masks (`masks.scan_masks`) and puts a placeholder where each one is;
3. for HTML: turns a template without any HTML tag into HTML (escaped, line breaks
   kept), reduces it to the limited HTML templates allow (`sanitize_html`), and
   looks at where each placeholder ended up: element content, an attribute, the
   start of a link, or further inside a link. Each place gets its own form of the
   value (`MaskValues.html/attr/url/url_part`). The plain-text alternative is a
   second template, derived from the sanitized HTML (`html_to_text`);
4. writes a mustache source where every value is a `{{&sN}}` tag (values are
   escaped by `MaskValues`, so chevron must not escape them again) and every ``{``
   of the template's own text is written as `{{&lb}}`: the admin's text can never
   open a mustache tag. The chevron tokens of that source are kept (with the `lb`
   tags folded back into text), so rendering never re-tokenizes.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from ..kinds import TemplateKind
from ..text import TEMPLATE_ALTERNATIVE, html_to_text
from .masks import MaskRef, TemplateError, kind_of, scan
from .sanitize import (
    ALLOWED_TAGS,
    DROP_WITH_CONTENT,
    URL_ATTRS,
    clean_text,
    escape,
    sanitize_html,
)

__all__ = [
    "MAX_TEMPLATE",
    "CompiledTemplate",
    "Format",
    "Slot",
    "SlotContext",
    "compile_template",
]

MAX_TEMPLATE = 256_000
"""The longest template accepted, in characters."""


class Format(StrEnum):
    """What a template produces: HTML (bodies) or plain text (subjects, text bodies)."""

    HTML = "html"
    TEXT = "text"


class SlotContext(StrEnum):
    """Where a mask sits in the output, which decides the form of its value."""

    TEXT = "text"
    HTML = "html"
    ATTR = "attr"
    URL = "url"
    URL_PART = "url_part"


@dataclass(frozen=True)
class Slot:
    """One value in a compiled template: which mask, and in which context."""

    key: str
    """The mustache variable name (`s0`, `s1`...)."""
    ref: MaskRef
    context: SlotContext


Token = tuple[str, str]


@dataclass(frozen=True)
class CompiledTemplate:
    """A template ready to render: mustache `source`, its chevron `tokens`, the `slots`."""

    kind: TemplateKind
    format: Format
    source: str
    tokens: tuple[Token, ...]
    slots: tuple[Slot, ...]
    text_version: CompiledTemplate | None = None
    """For HTML templates: the plain-text alternative, derived from the HTML."""

    @property
    def is_empty(self) -> bool:
        """True when the template shows nothing: no mask and no visible text (an HTML
        template "emptied" in a rich-text editor, `<p><br></p>`, is empty too, unless it
        shows an image). The notification is then skipped."""
        if self.slots:
            return False
        literal = "".join(v for t, v in self.tokens if t == "literal")
        if self.format is not Format.HTML:
            return not literal.strip()
        return not _IMAGE.search(literal) and not html_to_text(literal).strip()


BLOCK_MASKS = frozenset(
    {
        "What_Happened", "Body", "Recent_messages", "XRecent_messages", "Most_recent_message",
        "Custom_Fields", "Attachments", "Recent_Attachments", "Suggested_KB_articles",
        "RatingLinks",
    }
)  # fmt: skip
"""Masks whose value is a block (paragraphs, lists): own lines in the plain-text version."""
_IMAGE = re.compile(r"<img\b", re.IGNORECASE)
_NONCHAR = re.compile("[\ufdd0-\ufdef]")
_PLACEHOLDER = re.compile("\ufdd0(\\d+)\ufdd1")
_TAG_NAMES = "|".join(sorted(ALLOWED_TAGS | DROP_WITH_CONTENT | {"html", "body", "form"}))
_LOOKS_LIKE_HTML = re.compile(rf"<!--|<!doctype|</?(?:{_TAG_NAMES})(?=[\s/>])", re.IGNORECASE)
_TAG_OR_TEXT = re.compile(r"<[^>]*>|[^<]+")
_ATTR = re.compile(r'\s([a-z][a-z0-9-]*)="([^"]*)"')


def compile_template(
    text: str, kind: TemplateKind | str, fmt: Format | str = Format.HTML
) -> CompiledTemplate:
    """`text` compiled for an email of `kind` in format `fmt` (cached).

    Raises `TemplateError` for a non-string or over-long template, an unknown kind
    or format; any other text compiles.
    """
    if not isinstance(text, str):
        raise TemplateError(f"a template must be text, not {type(text).__name__}")
    if len(text) > MAX_TEMPLATE:
        raise TemplateError(f"a template may have at most {MAX_TEMPLATE} characters")
    try:
        f = Format(fmt)
    except ValueError:
        raise TemplateError(f"unknown template format {fmt!r} (html or text)") from None
    return _compile(text, kind_of(kind), f)


@functools.lru_cache(maxsize=512)
def _compile(text: str, kind: TemplateKind, fmt: Format) -> CompiledTemplate:
    text = _NONCHAR.sub("", clean_text(text))
    found, _ = scan(text, kind)
    refs: list[MaskRef] = []
    ids: dict[tuple[str, int | str | None], int] = {}
    pieces: list[str] = []
    pos = 0
    for ref in found:
        index = ids.setdefault(ref.key, len(refs))
        if index == len(refs):
            refs.append(ref)
        pieces.append(text[pos : ref.start])
        pieces.append(f"\ufdd0{index}\ufdd1")
        pos = ref.end
    pieces.append(text[pos:])
    marked = "".join(pieces)
    if fmt is Format.TEXT:
        return _build(kind, fmt, _split(marked, SlotContext.TEXT), refs)
    if not _LOOKS_LIKE_HTML.search(marked):
        marked = escape(marked).replace("\n", "<br>\n")
    sanitized = sanitize_html(marked)
    html_parts: list[tuple[str, int | None, SlotContext]] = []
    for m in _TAG_OR_TEXT.finditer(sanitized):
        segment = m.group()
        if segment.startswith("<"):
            html_parts.extend(_split_tag(segment))
        else:
            html_parts.extend(_split(segment, SlotContext.HTML))
    text_version = _build(
        kind,
        Format.TEXT,
        _split(html_to_text(_blocks(sanitized, refs), TEMPLATE_ALTERNATIVE), SlotContext.TEXT),
        refs,
    )
    return _build(kind, fmt, html_parts, refs, text_version)


def _blocks(sanitized: str, refs: list[MaskRef]) -> str:
    """For the plain-text version: block masks (messages, lists...) on lines of their own."""

    def wrap(m: re.Match[str]) -> str:
        return f"<p>{m[0]}</p>" if refs[int(m[1])].spec.name in BLOCK_MASKS else m[0]

    return "".join(
        seg if seg.startswith("<") else _PLACEHOLDER.sub(wrap, seg)
        for seg in _TAG_OR_TEXT.findall(sanitized)
    )


def _split(segment: str, context: SlotContext) -> list[tuple[str, int | None, SlotContext]]:
    parts: list[tuple[str, int | None, SlotContext]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(segment):
        parts.append((segment[pos : m.start()], None, context))
        parts.append(("", int(m[1]), context))
        pos = m.end()
    parts.append((segment[pos:], None, context))
    return parts


def _split_tag(tag: str) -> list[tuple[str, int | None, SlotContext]]:
    if "\ufdd0" not in tag:
        return [(tag, None, SlotContext.HTML)]
    parts: list[tuple[str, int | None, SlotContext]] = []
    pos = 0
    for attr in _ATTR.finditer(tag):
        name, value_start = attr[1], attr.start(2)
        for m in _PLACEHOLDER.finditer(attr[2]):
            start = value_start + m.start()
            if name in URL_ATTRS:
                context = SlotContext.URL if m.start() == 0 else SlotContext.URL_PART
            else:
                context = SlotContext.ATTR
            parts.append((tag[pos:start], None, context))
            parts.append(("", int(m[1]), context))
            pos = value_start + m.end()
    parts.append((tag[pos:], None, SlotContext.HTML))
    return parts


def _build(
    kind: TemplateKind,
    fmt: Format,
    parts: list[tuple[str, int | None, SlotContext]],
    refs: list[MaskRef],
    text_version: CompiledTemplate | None = None,
) -> CompiledTemplate:
    tokens: list[Token] = []
    source: list[str] = []
    slots: list[Slot] = []
    slot_keys: dict[tuple[int, SlotContext], str] = {}
    literal: list[str] = []
    for text, index, context in parts:
        if index is None:
            if text:
                literal.append(text)
                source.append(text.replace("{", "{{&lb}}"))
            continue
        if literal:
            tokens.append(("literal", "".join(literal)))
            literal = []
        key = slot_keys.get((index, context))
        if key is None:
            key = slot_keys[(index, context)] = f"s{len(slots)}"
            slots.append(Slot(key, refs[index], context))
        tokens.append(("no escape", key))
        source.append(f"{{{{&{key}}}}}")
    if literal:
        tokens.append(("literal", "".join(literal)))
    return CompiledTemplate(
        kind=kind,
        format=fmt,
        source="".join(source),
        tokens=tuple(tokens),
        slots=tuple(slots),
        text_version=text_version,
    )
