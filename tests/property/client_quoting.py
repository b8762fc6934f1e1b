"""How mail clients quote a message when their user replies: simulators for the tests.

Each simulator takes the notification being answered (`Original`: its plain text, its
HTML page, who sent it when) and the new text the user typed (paragraphs of lines),
and returns the reply's body the way that client writes it, top-posted (new text above
the quote) or bottom-posted (below). The structures are those of
/work/shared/reference/reply-formats.md (section 1):

- Gmail: plain ``On <date> <name> <addr> wrote:`` and ``> `` lines (long lines
  re-wrapped); HTML ``div.gmail_quote`` > ``div.gmail_attr`` + ``blockquote.gmail_quote``;
  class names of the quoted message prefixed ``m_<digits>``, ids dropped.
- Outlook desktop: plain From/Sent/To/Subject block above the unquoted original (or
  the older ``-----Original Message-----``); HTML ``div.WordSection1`` with
  ``p.MsoNormal`` paragraphs and the ``border-top`` div holding the bold header block;
  ids of the quoted message dropped.
- Outlook on the web: plain 32 underscores and the header block; HTML
  ``div#appendonsend``, ``hr``, ``div#divRplyFwdMsg``; ids and classes of the quoted
  message prefixed ``x_``.
- Apple Mail: plain ``On <date>, at <time>, <name> <addr> wrote:`` (prefixed ``> `` on
  iOS) and ``> `` lines; HTML ``blockquote type="cite"`` with the attribution inside.
- Thunderbird: plain ``On <date> <time>, <name> wrote:`` and ``> `` lines; HTML
  ``div.moz-cite-prefix`` then ``blockquote type="cite"``.

`strip_attributes` removes every class and id of the quoted message (a client that
keeps none): only the marker lines are left to find it by.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "HTML_CLIENTS",
    "PLAIN_CLIENTS",
    "Original",
    "new_html_divs",
    "new_plain",
]

Paragraphs = tuple[tuple[str, ...], ...]
"""What the user typed: paragraphs, each a few lines."""


@dataclass(frozen=True)
class Original:
    """The notification replied to."""

    text: str
    html: str
    sender_name: str = "Acme Support"
    sender: str = "support@acme.test"
    to: str = "Jane Doe <jane@example.com>"
    subject: str = "[#1234] Printer on fire"

    @property
    def body(self) -> str:
        """The content of the HTML page's body (what clients quote: head and body go)."""
        m = re.search(r"<body[^>]*>(.*)</body>", self.html, re.S | re.I)
        return m[1] if m else self.html


def new_plain(paragraphs: Paragraphs) -> str:
    """The new text as typed: lines, and an empty line between paragraphs."""
    return "\n\n".join("\n".join(lines) for lines in paragraphs)


def new_html_divs(paragraphs: Paragraphs, tag: str = "div", attrs: str = "") -> str:
    """Gmail / Apple / Outlook web style: one block per line, an empty one between
    paragraphs."""
    blocks = []
    for n, lines in enumerate(paragraphs):
        if n:
            blocks.append(f"<{tag}{attrs}><br></{tag}>")
        blocks.extend(f"<{tag}{attrs}>{html.escape(line)}</{tag}>" for line in lines)
    return "".join(blocks)


def _new_html_paragraphs(paragraphs: Paragraphs, attrs: str = "") -> str:
    """Thunderbird / Outlook desktop style: one paragraph each, lines split by <br>."""
    return "".join(
        f"<p{attrs}>" + "<br>".join(html.escape(line) for line in lines) + "</p>"
        for lines in paragraphs
    )


# --- plain text ----------------------------------------------------------------------


def _quote(text: str, width: int | None = None) -> str:
    out = []
    for line in text.rstrip("\n").split("\n"):
        pieces = textwrap.wrap(line, width, break_long_words=False) if width and line else [line]
        out.extend(f"> {p}" if p else ">" for p in pieces or [""])
    return "\n".join(out)


def _headers(o: Original, date: str = "Monday, January 5, 2026 9:30 AM") -> str:
    return f"From: {o.sender_name} <{o.sender}>\nSent: {date}\nTo: {o.to}\nSubject: {o.subject}"


def _arrange(new: str, intro: str, quoted: str, bottom: bool) -> str:
    if bottom:
        return f"{intro}\n\n{quoted}\n\n{new}\n"
    return f"{new}\n\n{intro}\n\n{quoted}\n"


def gmail_plain(o: Original, new: str, bottom: bool) -> str:
    intro = f"On Mon, Jan 5, 2026 at 9:30\u202fAM {o.sender_name} <{o.sender}> wrote:"
    return _arrange(new, intro, _quote(o.text, 76), bottom)


def outlook_desktop_plain(o: Original, new: str, bottom: bool) -> str:
    return _arrange(new, _headers(o), o.text.rstrip("\n"), bottom)


def outlook_desktop_2007_plain(o: Original, new: str, bottom: bool) -> str:
    intro = "-----Original Message-----\n" + _headers(o)
    return _arrange(new, intro, o.text.rstrip("\n"), bottom)


def outlook_web_plain(o: Original, new: str, bottom: bool) -> str:
    intro = "_" * 32 + "\n" + _headers(o, "Monday, January 5, 2026 09:30")
    return _arrange(new, intro, o.text.rstrip("\n"), bottom)


def apple_mac_plain(o: Original, new: str, bottom: bool) -> str:
    intro = f"On 5 Jan 2026, at 09:30, {o.sender_name} <{o.sender}> wrote:"
    return _arrange(new, intro, _quote(o.text), bottom)


def apple_ios_plain(o: Original, new: str, bottom: bool) -> str:
    intro = f"> On 5 Jan 2026, at 09:30, {o.sender_name} <{o.sender}> wrote:\n>"
    quoted = _quote(o.text)
    if bottom:
        return f"{intro}\n{quoted}\n\n{new}\n"
    return f"{new}\n\n{intro}\n{quoted}\n"


def thunderbird_plain(o: Original, new: str, bottom: bool) -> str:
    intro = f"On 1/5/26 9:30 AM, {o.sender_name} wrote:"
    quoted = _quote(o.text, 72)
    if bottom:
        return f"{intro}\n{quoted}\n\n{new}\n"
    return f"{new}\n\n{intro}\n{quoted}\n"


PLAIN_CLIENTS: dict[str, Callable[[Original, str, bool], str]] = {
    "gmail": gmail_plain,
    "outlook_desktop": outlook_desktop_plain,
    "outlook_desktop_2007": outlook_desktop_2007_plain,
    "outlook_web": outlook_web_plain,
    "apple_mac": apple_mac_plain,
    "apple_ios": apple_ios_plain,
    "thunderbird": thunderbird_plain,
}


# --- HTML ----------------------------------------------------------------------------

_CLASS = re.compile(r'\sclass="([^"]*)"')
_ID = re.compile(r'\sid="([^"]*)"')


def _prefix(body: str, prefix: str, ids: bool) -> str:
    def classes(m: re.Match[str]) -> str:
        return ' class="' + " ".join(prefix + c for c in m[1].split()) + '"'

    body = _CLASS.sub(classes, body)
    if ids:
        body = _ID.sub(lambda m: f' id="{prefix}{m[1]}"', body)
    return body


def _quoted_body(o: Original, strip: bool, client: str) -> str:
    body = o.body
    if strip:
        return _ID.sub("", _CLASS.sub("", body))
    if client == "gmail":
        return _ID.sub("", _prefix(body, "m_-8102936417710492734", ids=False))
    if client == "outlook_web":
        return _prefix(body, "x_", ids=True)
    if client == "outlook_desktop":
        return _ID.sub("", body)
    return body


def _page(content: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body>{content}</body></html>"


def gmail_html(o: Original, new: Paragraphs, bottom: bool, strip: bool = False) -> str:
    quote = (
        '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
        f"On Mon, Jan 5, 2026 at 9:30\u202fAM {html.escape(o.sender_name)} &lt;"
        f'<a href="mailto:{o.sender}">{o.sender}</a>&gt; wrote:<br></div>'
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
        'border-left:1px solid rgb(204,204,204);padding-left:1ex">'
        f"{_quoted_body(o, strip, 'gmail')}</blockquote></div>"
    )
    typed = new_html_divs(new)
    if bottom:
        return _page(f'<div dir="ltr"><br>{quote}<div><br></div>{typed}</div>')
    return _page(f'<div dir="ltr">{typed}</div><br>{quote}')


def outlook_desktop_html(o: Original, new: Paragraphs, bottom: bool, strip: bool = False) -> str:
    header = (
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">'
        f'<p class="MsoNormal"><b>From:</b> {html.escape(o.sender_name)} &lt;{o.sender}&gt; '
        "<br><b>Sent:</b> Monday, January 5, 2026 9:30 AM<br>"
        f"<b>To:</b> {html.escape(o.to)}<br><b>Subject:</b> {html.escape(o.subject)}"
        "<o:p></o:p></p></div>"
    )
    spacer = '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
    typed = _new_html_paragraphs(new, ' class="MsoNormal"')
    quoted = _quoted_body(o, strip, "outlook_desktop")
    head = '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">'
    if bottom:
        inner = f"{spacer}{header}{spacer}{quoted}{spacer}{typed}"
    else:
        inner = f"{typed}{spacer}{header}{spacer}{quoted}"
    return _page(f'<div class="WordSection1">{inner}</div>', head)


def outlook_web_html(o: Original, new: Paragraphs, bottom: bool, strip: bool = False) -> str:
    header = (
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" '
        'style="font-size:11pt" color="#000000">'
        f"<b>From:</b> {html.escape(o.sender_name)} &lt;{o.sender}&gt;<br>"
        "<b>Sent:</b> Monday, January 5, 2026 09:30<br>"
        f"<b>To:</b> {html.escape(o.to)}<br><b>Subject:</b> {html.escape(o.subject)}</font>"
        "<div>&nbsp;</div></div>"
    )
    typed = new_html_divs(new, attrs=' class="elementToProof"')
    quoted = f"<div>{_quoted_body(o, strip, 'outlook_web')}</div>"
    if bottom:
        return _page(f'<div class="elementToProof"><br></div>{header}{quoted}{typed}')
    return _page(f'{typed}<div class="elementToProof"><br></div>{header}{quoted}')


def apple_mac_html(o: Original, new: Paragraphs, bottom: bool, strip: bool = False) -> str:
    quote = (
        '<blockquote type="cite"><div>On 5 Jan 2026, at 09:30, '
        f"{html.escape(o.sender_name)} &lt;{o.sender}&gt; wrote:</div>"
        '<br class="Apple-interchange-newline">'
        f"<div>{_quoted_body(o, strip, 'apple')}</div></blockquote>"
    )
    typed = new_html_divs(new)
    if bottom:
        return _page(f"<div><br>{quote}</div><div><br></div>{typed}<div><br></div>")
    return _page(f"{typed}<div><br>{quote}</div>")


def apple_ios_html(o: Original, new: Paragraphs, bottom: bool, strip: bool = False) -> str:
    attribution = (
        '<div dir="ltr"><br><blockquote type="cite">On 5 Jan 2026, at 09:30, '
        f"{html.escape(o.sender_name)} &lt;{o.sender}&gt; wrote:<br><br></blockquote></div>"
    )
    body = _quoted_body(o, strip, "apple")
    quote = f'<blockquote type="cite"><div dir="ltr">{body}</div></blockquote>'
    typed = f'<div dir="ltr">{new_html_divs(new)}</div>'
    if bottom:
        return _page(f"{attribution}{quote}{typed}")
    return _page(f"{typed}{attribution}{quote}")


def thunderbird_html(o: Original, new: Paragraphs, bottom: bool, strip: bool = False) -> str:
    quote = (
        f'<div class="moz-cite-prefix">On 1/5/26 9:30 AM, {html.escape(o.sender_name)} wrote:<br>'
        '</div><blockquote type="cite" cite="mid:20260105093000.abc@acme.test">'
        f"{_quoted_body(o, strip, 'thunderbird')}</blockquote>"
    )
    typed = _new_html_paragraphs(new)
    if bottom:
        return _page(f"{quote}{typed}")
    return _page(f"{typed}{quote}")


HTML_CLIENTS: dict[str, Callable[[Original, Paragraphs, bool, bool], str]] = {
    "gmail": gmail_html,
    "outlook_desktop": outlook_desktop_html,
    "outlook_web": outlook_web_html,
    "apple_mac": apple_mac_html,
    "apple_ios": apple_ios_html,
    "thunderbird": thunderbird_html,
}
