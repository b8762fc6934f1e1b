"""The reply marker: where a reply to one of our notifications is cut, exactly.

Every notification (`outbound.compose`) is framed by two marker lines, in both parts:

- on top, ``##- Reply above this line -##`` (the text is
  `NotificationSettings.reply_marker`; translations in `REPLY_MARKERS`);
- at the bottom, ``##- Acme Support · #1234 -##`` (the helpdesk's name and the ticket).

In the HTML part each line is an element whose ``class`` holds `START_CLASS` (or
`END_CLASS`), and an invisible, zero-size element carrying the same class (and id)
stands right before the top line and right after the bottom one. Clients that quote
HTML keep those attributes, at most prefixed (Gmail writes ``m_<digits>hm-reply-above``,
Outlook on the web ``x_hm-reply-above``), so they are matched as substrings.

Inbound (`inbound.quotes`, `inbound.quotes_html`) cuts a reply at the top marker before
any heuristic, and keeps what follows the bottom marker (a reply written below the
quote); it looks for the HTML elements first, then for the lines. Rules (the contract
of `is_marker_line`):

- A marker line is a line of its own: optional quote marks (``>``) and spaces, ``##-``,
  one to `MAX_MARKER_TEXT` characters of text, ``-##``, nothing else. A customer's
  sentence that merely contains "reply above this line" is never a marker; nobody types
  the decoration by accident.
- The first marker line found is the top one, the last one after it the bottom one.
- The marker text must not contain ``##`` (see `valid_marker_text`), so a configured
  text can never close the decoration early.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "DEFAULT_REPLY_MARKER",
    "END_CLASS",
    "MAX_MARKER_TEXT",
    "REPLY_MARKERS",
    "START_CLASS",
    "end_text",
    "is_marker_line",
    "marker_line",
    "valid_marker_text",
]

REPLY_MARKERS: Mapping[str, str] = {
    "en": "Reply above this line",
    "de": "Bitte oberhalb dieser Zeile antworten",
    "fr": "Répondez au-dessus de cette ligne",
    "es": "Responda por encima de esta línea",
    "it": "Rispondi sopra questa riga",
    "nl": "Antwoord boven deze regel",
    "pt": "Responda acima desta linha",
    "sv": "Svara ovanför den här raden",
    "da": "Svar over denne linje",
    "nb": "Svar over denne linjen",
    "fi": "Vastaa tämän rivin yläpuolelle",
    "pl": "Odpowiedz powyżej tej linii",
    "cs": "Odpovězte nad tímto řádkem",
    "hu": "Válaszoljon e sor fölé",
    "ru": "Ответьте выше этой строки",
    "uk": "Відповідайте над цим рядком",
    "tr": "Bu satırın üstüne yanıt yazın",
    "ja": "この行より上に返信してください",
    "zh": "请在此行上方回复",
    "ko": "이 줄 위에 답장하세요",
}
"""The top marker's text by language (set one as `NotificationSettings.reply_marker`).
Inbound recognises the decoration, whatever the text: any of these, or the host's own."""

DEFAULT_REPLY_MARKER = REPLY_MARKERS["en"]
MAX_MARKER_TEXT = 100
"""Characters of text between the decorations, at most."""
START_CLASS = "hm-reply-above"
"""In the ``class`` (and ``id``) of the top marker's elements."""
END_CLASS = "hm-reply-end"
"""In the ``class`` (and ``id``) of the bottom marker's elements."""

_OPEN = "##-"
_CLOSE = "-##"
_LINE = re.compile(
    rf"[>\s]{{0,40}}##-[ \t\u00a0]*(\S.{{0,{MAX_MARKER_TEXT - 1}}}?)[ \t\u00a0]*-##\s*"
)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+|#{2,}")


def valid_marker_text(text: str) -> bool:
    """Whether `text` can be a marker's text: one line, 1 to `MAX_MARKER_TEXT` characters,
    no ``##``, not starting or ending with ``-``."""
    stripped = text.strip()
    return (
        0 < len(stripped) <= MAX_MARKER_TEXT
        and _UNSAFE.search(stripped) is None
        and not stripped.startswith("-")
        and not stripped.endswith("-")
    )


def marker_line(text: str) -> str:
    """The decorated line for `text` (made safe and cut to `MAX_MARKER_TEXT` characters)."""
    safe = " ".join(_UNSAFE.sub(" ", text).split()).strip("- ") or DEFAULT_REPLY_MARKER
    if len(safe) > MAX_MARKER_TEXT:
        safe = safe[: MAX_MARKER_TEXT - 1].rstrip("- ") + "…"
    return f"{_OPEN} {safe} {_CLOSE}"


def end_text(helpdesk: str, ticket_id: int | None) -> str:
    """The bottom marker's text: the helpdesk's name and, for ticket emails, ``#<id>``."""
    return f"{helpdesk} · #{ticket_id}" if ticket_id is not None else helpdesk


def is_marker_line(line: str) -> bool:
    """Whether `line` is a marker line (maybe quoted with ``>``); see the module's rules."""
    if len(line) > MAX_MARKER_TEXT + 60 or _OPEN not in line:
        return False
    return _LINE.fullmatch(line) is not None
