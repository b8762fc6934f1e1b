"""Extract only the NEW text of an email reply: quoted history removed (plain text).

Public API: :func:`reply_text_from_plain`; the HTML path is `quotes_html`
(:func:`reply_text_from_html`), :func:`strip_signature` is in `signatures`.  The
lines that start quoted history are recognised by `quote_patterns` (its tables are
the rules' data: adding a language or a client is a table row, not code); this module
applies them to a whole text.

Plain text is scanned line by line, top to bottom.  For each line, in order:

* our own reply marker (``helpdesk_mail.reply_marker``) cuts the text exactly, before
  any other rule: what is above its top line (without the client's quote intro) and
  below its bottom line is the new text;
* a helpdesk "reply above this line" marker (a line that is the phrase alone, maybe
  decorated: ``-- Please reply above this line --``) cuts the text there;
* lines quoted with ``>`` are dropped; unquoted text *between or after* quote
  blocks is kept, so inline and bottom-posted answers survive;
* an attribution ("On <date>, <name> wrote:" in ~30 languages, wrapped over up
  to four lines, sharing its line with the reply, damaged by undecoded
  quoted-printable, or the verb-less "<date>, <name> <addr>:" form) is dropped
  together with the ``>`` quote below it; when no ``>`` quote follows (Gmail
  "inbox" style, Outlook for Mac, Thunderbird forwards) everything from it on
  is cut;
* an "Original Message" separator, a forwarded-message marker, or an
  Outlook-style header block (From/Sent/To/Subject in ~25 languages: From +
  Date/Sent + one more field, or From + To + Subject) cuts the text there --
  unless nothing was written above it, in which case the message *is* the
  forwarded content and is kept whole.

Output: kept lines with line ends normalised to ``\\n``; the gap left by a
removed block is squeezed to one empty line; trailing whitespace, trailing rule
lines (``____`` / ``----``) and trailing mobile boilerplate are trimmed.  A body
with no history is otherwise returned as is (leading blank lines and
indentation included); when something was removed, leading blank lines go too.

Signatures: the text ends at an RFC 3676 signature delimiter written after something
the sender wrote, and a trailing client sign-off is dropped when the sender also signed
off otherwise (the signature rule, `signatures`).

Everything is pure and total: no function raises on any ``str`` (other input types
give ""), and work is linear in the input: at most ``MAX_REPLY_LINES`` lines are
looked at, and each is tested by the bounded patterns of `quote_patterns`.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re

from ..reply_marker import is_marker_line
from .quote_patterns import (
    MAX_JOIN,
    attribution_at,
    header_block,
    header_kind,
    is_quoted,
    is_reply_above,
    is_rule,
    is_separator,
    is_wrapped_link,
    join,
    line_view,
    may_end_attribution,
    quoted_lines,
    split_lines,
    split_prefix,
)
from .signatures import (
    is_mobile,
    is_signature_delimiter,
    mobile_signoff,
    trim_tail,
)

__all__ = [
    "between_markers",
    "reply_text",
    "reply_text_from_plain",
]


class _Out:
    """Collects kept lines; squeezes the gap left by removed blocks to one empty line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.gap = False

    def drop(self) -> None:
        self.gap = True

    def keep(self, line: str, blank: bool) -> None:
        if self.gap:
            if blank:
                return
            while self.lines and not self.lines[-1].strip():
                self.lines.pop()
            if self.lines:
                self.lines.append("")
            self.gap = False
        self.lines.append(line)


def _new_lines(lines: list[str], cut_below: bool = False, html: bool = False) -> list[str]:
    """Kept lines of ``lines``; ``cut_below``: quoted history was cut off after the end;
    ``html``: the lines are rendered HTML (its rendering drops trailing spaces)."""
    views = [line_view(line) for line in lines]
    kinds_of = [header_kind(v) for v in views]
    quoted = quoted_lines(lines, views)
    out = _Out()
    n = len(lines)
    next_end = [n] * (n + 1)  # next line where an attribution could end
    for k in range(n - 1, -1, -1):
        next_end[k] = k if may_end_attribution(views[k]) else next_end[k + 1]
    content = False  # something the sender wrote has been kept
    i = 0
    while i < n:
        line, v = lines[i], views[i]
        if not v:
            out.keep(line, True)
            i += 1
            continue
        if not quoted[i] and is_reply_above(v):
            break
        if content and is_signature_delimiter(line, v, html):
            break  # the signature and what is under it (a list footer) are not the message
        if quoted[i] or (
            i > 0 and quoted[i - 1] and i + 1 < n and quoted[i + 1] and is_wrapped_link(v)
        ):
            out.drop()
            i += 1
            continue
        if next_end[i] - i < MAX_JOIN:
            start, end, strength = attribution_at(views, quoted, i)
        else:
            start, end, strength = i, i, 0
        if strength and start == i:  # (an attribution starting further down is met later)
            k = end
            while k < n and not views[k]:
                k += 1
            # a weak "Name wrote:" needs a real quote below it; a strong one also ends
            # the text (everything below it is history, e.g. after an HTML cut)
            followed_by_quote = (k < n and quoted[k]) or (k >= n and cut_below)
            if followed_by_quote or strength == 2:
                prefix = split_prefix(line, " " + join(views, i + 1, end))
                if prefix and is_reply_above(line_view(prefix)):
                    break
                if prefix:
                    out.keep(prefix, False)
                    content = True
                if not followed_by_quote:
                    break
                out.drop()
                i = end
                continue
        if is_separator(v):
            if content:
                break
            out.keep(line, False)  # forwarded without comment: keep it all
            i += 1
            continue
        block_end = header_block(views, kinds_of, i) if kinds_of[i] else -1
        if block_end > 0:
            if content:
                break
            for k in range(i, block_end):
                if quoted[k]:
                    out.drop()
                else:
                    out.keep(lines[k], not views[k])
            i = block_end
            continue
        out.keep(line, False)
        if not is_mobile(v):
            content = True
        i += 1
    return out.lines


def reply_text_from_plain(text: str) -> str:
    """The new text of a plain-text message body.

    Quoted history, reply attribution lines ("On ... wrote:" in many languages),
    Outlook-style header blocks (From:/Sent:/To:/Subject: in many languages),
    "-----Original Message-----" separators and forwarded-history markers are
    removed; a trailing mobile sign-off ("Sent from my iPhone") is dropped when the
    sender also signed off otherwise; trailing whitespace is trimmed.  Never raises.
    """
    if not isinstance(text, str) or not text:
        return ""
    if "##-" not in text:  # no marker line: no list of every line (50 bytes a line)
        return reply_text(text, cut_below=False)
    lines = split_lines(text)
    start, end = _marker_lines(lines)
    if start < 0:  # none, or quoted with ">": the quote rules drop it
        return reply_text(text, cut_below=False)
    return between_markers(lines[:start], lines[end + 1 :] if end > start else [])


MAX_REPLY_LINES = 10_000
"""Lines of a body (after its leading blank lines) in which quoted history is looked for.
Further lines are kept as they are when the lines looked at end in new text, dropped
when they end in history or a quote: the rules keep several objects per line (a body
of two million blank lines took 25 times its size)."""
_GOES_ON = "HELPDESKMAILTEXTGOESON"  # an ordinary line standing for the lines not looked at
_NOT_SPACE = re.compile(r"\S")


def reply_text(text: str, cut_below: bool, html: bool = False) -> str:
    """The new text of ``text`` by the plain-text reply rules (no marker handling).

    ``cut_below``: quoted history was cut off after the end; ``html``: the text is
    rendered HTML. At most `MAX_REPLY_LINES` lines are looked at."""
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    # Leading blank lines are set aside (kept when nothing is removed, dropped otherwise).
    visible = _NOT_SPACE.search(normal)
    start = normal.rfind("\n", 0, visible.start()) + 1 if visible is not None else len(normal)
    original = normal[start:].split("\n", MAX_REPLY_LINES)
    rest = original.pop() if len(original) > MAX_REPLY_LINES else None
    goes_on = _GOES_ON
    if rest is not None:  # the lines not looked at go on as the last one looked at
        last = next((line for line in reversed(original) if line.strip()), "")
        goes_on = "> " + _GOES_ON if is_quoted(last) else _GOES_ON
        original.append(goes_on)
    try:
        lines = mobile_signoff(trim_tail(_new_lines(original, cut_below, html), False))
    except (RecursionError, MemoryError):  # pragma: no cover - defensive
        return text.rstrip()
    if rest is not None:
        if lines and lines[-1] == goes_on:  # new text up to the lines not looked at
            lines[-1] = original[-1] = rest
        else:
            original.pop()
    removed = len(lines) != len(trim_tail(original, drop_mobile=False))
    if removed:
        # something was removed: the leading blank lines go too (sliced off at once:
        # deleting them one by one from the front is quadratic)
        first = 0
        while first < len(lines) and not lines[first].strip():
            first += 1
        lines = lines[first:]
    kept = "\n".join(lines).rstrip()
    return normal[:start] + kept if kept and not removed else kept


# ---------------------------------------------------------------------------
# Our own reply markers (helpdesk_mail.reply_marker)
# ---------------------------------------------------------------------------

_INTRO_LINES = 16  # lines above our top marker examined for the client's quote intro


def _marker_lines(lines: list[str]) -> tuple[int, int]:
    """The first unquoted marker line and the last one after it (-1, -1: none).

    Quoted marker lines (``> ##- ... -##``) are left to the quote rules: the quote is
    dropped and what is written around it kept, inline answers included.
    """
    start = end = -1
    for k, line in enumerate(lines):
        if "##-" not in line or is_quoted(line) or not is_marker_line(line):
            continue
        if start < 0:
            start = k
        end = k
    return start, end


def _strip_intro(lines: list[str]) -> list[str]:
    """``lines`` without what a mail client writes right above a quote: an attribution
    ("On <date>, <name> wrote:"), a header block (From:/Sent:/To:/Subject:), an
    "Original Message" separator, a rule of underscores, blank lines.

    Used only above our top marker, where a quote surely follows: no text is needed
    above these for them to count, and a weak "Name wrote:" counts too.
    """
    lines = list(lines)
    for _ in range(6):
        while lines and (not line_view(lines[-1]) or is_rule(line_view(lines[-1]))):
            lines.pop()
        if not lines:
            break
        if is_separator(line_view(lines[-1])):
            lines.pop()
            continue
        first = max(0, len(lines) - _INTRO_LINES)
        views = [line_view(line) for line in lines[first:]]
        kinds_of = [header_kind(v) for v in views]
        quoted = [False] * len(views)
        n = len(views)
        cut = -1
        for k in range(n):
            if kinds_of[k] and header_block(views, kinds_of, k, loose=True) >= n:
                cut = k
                break
            if n - k <= MAX_JOIN and may_end_attribution(views[-1]):
                begin, stop, strength = attribution_at(views, quoted, k)
                if strength and stop == n:
                    cut = begin
                    break
        if cut < 0:
            break
        lines = lines[: first + cut]
    return lines


def between_markers(above: list[str], below: list[str]) -> str:
    """The new text of a reply around our quoted notification: what was written above
    its top marker (without the client's quote intro) and below its bottom marker."""
    parts = []
    top = _strip_intro(above)
    if top:
        parts.append(reply_text("\n".join(top), cut_below=True))
    if below:
        parts.append(reply_text("\n".join(below), cut_below=False))
    return "\n\n".join(kept for p in parts if (kept := p.lstrip("\n")))
