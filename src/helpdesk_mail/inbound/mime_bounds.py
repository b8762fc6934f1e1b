"""The raw email bounded before the stdlib parser reads it: header, body runs, nesting.

The stdlib's feed parser keeps far more than the bytes it reads: a string per line,
a name and a value per header field, a message object per part, a stack frame per
nesting level. Before it sees a message, what would cost more than the message is
taken out of the raw bytes, linearly and without parsing:

- the header: at most `MAX_HEADER_FIELDS` fields of at most `MAX_FIELD_BYTES` each
  (`bounded_head`; defect `HeadersCapped`);
- long runs of body lines are cut out and put back into the parsed parts (`Cut`,
  rules in the comment above it);
- a message with more than `MAX_PARTS` parts or nested deeper than `MAX_DEPTH` levels
  is read with its nesting undone (`flattened`; defect `Flattened`).

`mime.parse_bytes` applies them; what a message loses to them is in its defects.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.message
import email.utils
import itertools
import re
from email.message import Message

from .mime_headers import HEADER_END, header_end
from .mime_parts import iter_parts

__all__ = [
    "MAX_DEPTH",
    "MAX_FIELD_BYTES",
    "MAX_HEADER_FIELDS",
    "MAX_PARTS",
    "Cut",
    "Flattened",
    "HeadersCapped",
    "bounded_head",
    "flattened",
    "needs_flattening",
    "shape",
]

# Long runs of body lines are cut out of the raw bytes before the stdlib parser sees them
# and put back into the parsed parts: its feed parser holds the whole message in a
# StringIO (four bytes a character) and keeps every line as a separate string (a 4 MB
# body of blank lines is 100 MB of strings). Which lines are body is decided line by
# line, the way the feed parser reads them, without knowing the structure:
#   - a line starting with `--` may be a boundary: never cut; after it, headers may follow;
#   - where headers may follow, a header line (the feed parser's `headerRE`) keeps it
#     so; a blank line may end a header block, after which the headers of an attached
#     message may follow; a second blank line, or any other line, starts the body (the
#     parser takes a line that is no header for the start of the body, and a message
#     whose header is empty for a text part);
#   - in a body, every line up to the next line starting with `--` is body.
# A run is replaced by one placeholder line, which the parser reads as a body line as
# well (no colon, not blank): the structure it builds is the same. The one part whose
# body is not read that way is message/delivery-status (blocks of headers separated by
# blank lines): nothing is cut after such a part is declared. If a placeholder is not
# found back in a part, the message is parsed again whole.
CUT_MIN_MESSAGE = 64 * 1024
"""Messages shorter than this are parsed as they are."""
CUT_MIN_RUN = 2048
"""Runs of body lines shorter than this stay in place."""
_CUT_TOKEN = b"HELPDESKMAILCUT"
_CUT_PLACEHOLDER = re.compile(r"HELPDESKMAILCUT(\d{8})")
_LINE_START = rb"(?:(?<=\n)|(?<=\r)(?!\n)|\A)"
_HEADER_START = rb"(?:From |[\x21-\x39\x3b-\x7e]*:|[\t ])"  # the feed parser's headerRE
_HEADER_LINE = re.compile(_HEADER_START)
# Where a run of header lines ends: the first line start that begins no header line (or
# begins `--`). A repeated group would do too, but the regular expression engine keeps
# a frame per repetition (200,000 header lines: 14 times their size).
# The patterns below start at a line end (which the search finds fast), not with the
# look-behinds of `_LINE_START` (tried at every position: 75 ns a byte); the line at the
# starting position is checked apart.
_NEXT_LINE = rb"(?:\n|\r(?!\n))"
_HEADER_RUN_END = re.compile(_NEXT_LINE + rb"(?:--|(?!" + _HEADER_START + rb"))")
_HEADER_END_LINE = re.compile(_NEXT_LINE + rb"(?!" + _HEADER_START + rb")")


def _header_run_end(raw: bytes, position: int, stop_at_dashes: bool = True) -> int:
    """Where the run of header lines that starts at `position` (a line start) ends: the
    start of its first line that is no header line (or, `stop_at_dashes`, begins `--`)."""
    if (stop_at_dashes and raw.startswith(b"--", position)) or not _HEADER_LINE.match(
        raw, position
    ):
        return position
    pattern = _HEADER_RUN_END if stop_at_dashes else _HEADER_END_LINE
    found = pattern.search(raw, position)
    return found.start() + 1 if found is not None else len(raw)


def _dashes_line(raw: bytes, start: int, end: int) -> int:
    """The start of the first line from `start` (a line start) that begins with `--`,
    before `end`; `end` when there is none."""
    if raw.startswith(b"--", start):
        return start
    found = _NEXT_DASHES.search(raw, start, end)
    return found.start() + 1 if found is not None else end


_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)?")
_NEXT_DASHES = re.compile(_NEXT_LINE + rb"--")
_DSN = re.compile(rb"(?i)content-type:[ \t\r\n]*message/delivery-status")


def _body_runs(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of the runs of body lines worth cutting out (see above)."""
    runs: list[tuple[int, int]] = []
    dsn = _DSN.search(raw)
    position, length = 0, dsn.start() if dsn is not None else len(raw)
    headers_may_follow, after_blank = True, False
    while position < length:
        if headers_may_follow and not after_blank:
            run_stop = _header_run_end(raw, position)
            if run_stop > position:
                position = run_stop
                continue
        line = _LINE.match(raw, position)
        assert line is not None  # the pattern matches the empty string
        content, end = line[1], line.end()
        start = None
        if content.startswith(b"--"):
            headers_may_follow, after_blank = True, False
        elif not content:
            if after_blank:
                start = end
            after_blank = not after_blank
        elif _HEADER_LINE.match(content):
            headers_may_follow, after_blank = True, False
        else:
            start = position
        position = max(end, position + 1)
        if start is None:
            continue
        stop_at = _dashes_line(raw, start, length)
        if stop_at == length and length < len(raw):
            break  # a run that reaches a message/delivery-status part is not cut
        if stop_at - start >= CUT_MIN_RUN:
            runs.append((start, stop_at))
        position = max(stop_at, position)
        headers_may_follow, after_blank = True, False
    return runs


class Cut:
    """The raw message with its long runs of body lines replaced by placeholders."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.runs: list[tuple[int, int]] = []
        if len(raw) >= CUT_MIN_MESSAGE and _CUT_TOKEN not in raw:
            self.runs = _body_runs(raw)

    def skeleton(self) -> bytes:
        pieces: list[bytes] = []
        position = 0
        for index, (start, end) in enumerate(self.runs):
            run_end = self._text_end(start, end)
            pieces += [self.raw[position:start], b"%s%08d" % (_CUT_TOKEN, index)]
            position = run_end  # the run's last line end stays
        pieces.append(self.raw[position:])
        return b"".join(pieces)

    def _text_end(self, start: int, end: int) -> int:
        if self.raw[end - 2 : end] == b"\r\n":
            return end - 2
        return end - 1 if self.raw[end - 1 : end] in (b"\r", b"\n") else end

    def restore(self, msg: Message) -> bool:
        """Put the runs back into the parts; False if one was not found."""
        found = 0

        def text(match: re.Match[str]) -> str:
            nonlocal found
            index = int(match[1])
            if index >= len(self.runs):
                return match[0]
            found += 1
            start, end = self.runs[index]
            return self.raw[start : self._text_end(start, end)].decode("ascii", "surrogateescape")

        token = _CUT_TOKEN.decode()
        for part in iter_parts(msg):
            for name in ("_payload", "preamble", "epilogue"):
                value = getattr(part, name, None)
                if isinstance(value, str) and token in value:
                    setattr(part, name, _CUT_PLACEHOLDER.sub(text, value))
        return found == len(self.runs)


MAX_HEADER_FIELDS = 1000
"""Header fields of a message that are read, in order; the rest are left out (defect
`HeadersCapped`). The stdlib keeps a name and a value per field, eight times their
size: 200,000 fields were 14 times the message. A sender, say, named after them is not
seen (the mail is then held for review, not lost)."""

MAX_FIELD_BYTES = 128 * 1024
"""Bytes of one header field of a message that are read (more than what any reader
reads: `MAX_HEADER_CHARS`, addresses 64 KB); a longer field is cut (defect
`HeadersCapped`)."""


class HeadersCapped(email.errors.MessageDefect):
    """The message's header had more fields than `MAX_HEADER_FIELDS`, or fields longer
    than `MAX_FIELD_BYTES`: those were left out or cut. Its text says how many."""


_CRLF = b"\r\n"
_FIELD_START = re.compile(_LINE_START + rb"[^ \t\r\n]")


def bounded_head(raw: bytes) -> tuple[bytes, HeadersCapped | None]:
    """`raw` with at most `MAX_HEADER_FIELDS` fields in its header, each of at most
    `MAX_FIELD_BYTES` (cut where a line ends, else inside the line); what was done."""
    end = _header_run_end(raw, 0, stop_at_dashes=False)
    if end <= MAX_FIELD_BYTES and raw.count(b"\n", 0, end) <= MAX_HEADER_FIELDS:
        return raw, None  # cheap counts: the header is small
    kept: list[bytes] = []
    fields = long_fields = start = 0
    stops = itertools.chain((m.start() for m in _FIELD_START.finditer(raw, 1, end)), (end,))
    for stop in stops:
        fields += 1
        if stop - start > MAX_FIELD_BYTES:
            long_fields += 1
            if fields <= MAX_HEADER_FIELDS:
                cut = start + MAX_FIELD_BYTES
                line_end = max(raw.rfind(b"\n", start, cut), raw.rfind(b"\r", start, cut))
                kept.append(
                    raw[start : line_end + 1] if line_end > start else raw[start:cut] + _CRLF
                )
        elif fields <= MAX_HEADER_FIELDS:
            kept.append(raw[start:stop])
        start = stop
    if fields <= MAX_HEADER_FIELDS and not long_fields:
        return raw, None
    note = f"{fields} fields, {long_fields} longer than {MAX_FIELD_BYTES} bytes"
    return b"".join(kept) + raw[end:], HeadersCapped(note)


class Flattened(email.errors.MessageDefect):
    """The message was nested too deep (`MAX_DEPTH`, or deeper than the stdlib parser's
    stack) or had too many parts (`MAX_PARTS`): its parts were read side by side, as the
    parts of one multipart/mixed, the first `MAX_PARTS` of them. Its text says how many
    parts and levels there were (`12000 parts, 2 levels`)."""


MAX_PARTS = 1000
"""Parts of one message that are read: a message with more is read flattened (see
`Flattened`), its first `MAX_PARTS` parts. The stdlib keeps a message object for each
part, about 1.5 KB (thirty thousand parts of 130 bytes were 11 times the message)."""

MAX_DEPTH = 400
"""Levels of nested multiparts read as they are; a message nested deeper is read
flattened (see `Flattened`): the stdlib parser's stack ends at about 1,000 levels, and
reaching it costs half a second."""


def shape(raw: bytes) -> tuple[int, int]:
    """(parts, nesting depth) of a raw message, counted from its boundaries, linearly:
    a `boundary=` parameter opens a multipart, a delimiter line of an open one closes
    those opened inside it (`--boundary--` closes it too)."""
    events = sorted(
        [(m.start(), 0, m[1] or m[2]) for m in _BOUNDARY_PARAM.finditer(raw)]
        + [(m.start(), 1, m[1].rstrip(b" \t")) for m in _DELIMITER.finditer(raw)]
    )
    stack: list[bytes] = []
    parts = depth = 0
    for _, kind, name in events:
        if kind == 0:
            stack.append(name)
            depth = max(depth, len(stack))
            continue
        closing = name not in stack and name.endswith(b"--") and name[:-2] in stack
        if closing:
            name = name[:-2]
        if name not in stack:
            continue
        while stack[-1] != name:
            stack.pop()
        if closing:
            stack.pop()
        else:
            parts += 1
    return parts, depth


def needs_flattening(raw: bytes) -> tuple[int, int] | None:
    """(parts, depth) when `raw` has more than `MAX_PARTS` parts or is nested deeper
    than `MAX_DEPTH`, else None (cheap counts first: most messages are not looked at)."""
    declared = raw.count(b"oundary") + raw.count(b"OUNDARY")
    if declared <= MAX_DEPTH and raw.count(b"\n--") + raw.count(b"\r--") <= MAX_PARTS:
        return None
    parts, depth = shape(raw)
    return (parts, depth) if parts > MAX_PARTS or depth > MAX_DEPTH else None


_BOUNDARY_PARAM = re.compile(rb'(?i)boundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')
_DELIMITER = re.compile(_LINE_START + rb"--([^\r\n]*)")
_MULTIPART = re.compile(
    _LINE_START + rb"(?i:content-type:[ \t]*(?:(?:\r\n|\r|\n)[ \t]+)?multipart/)"
)
_BYTES_LINE_END = re.compile(rb"\r\n|\r|\n")
_CONTENT_TYPE_FIELD = re.compile(rb"(?im)^content-type:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*\r?\n?")


def flattened(raw: bytes) -> tuple[bytes, int] | None:
    """`raw` with its nesting undone: the parts that are not multiparts, in order (the
    first `MAX_PARTS`), as the parts of one multipart/mixed under the message's own
    header, and how many such parts there were; None when there is no header or no
    boundary.

    Linear, without parsing: the boundaries are every `boundary=` parameter in the
    message; a line `--boundary` ends a part and starts the next; a part whose header
    says multipart is a container (its preamble is dropped), a part after a closing
    `--boundary--` an epilogue.
    """
    end = header_end(raw)
    boundaries = {m[1] or m[2] for m in _BOUNDARY_PARAM.finditer(raw)}
    if end is None or not boundaries:
        return None
    leaves: list[bytes] = []
    count = 0
    opened: int | None = None  # where the part after the last delimiter starts
    for delimiter in _DELIMITER.finditer(raw, end[1]):
        name = delimiter[1].rstrip(b" \t")
        closing = name not in boundaries and name.endswith(b"--") and name[:-2] in boundaries
        if not closing and name not in boundaries:
            continue
        if opened is not None:
            part_head = HEADER_END.search(raw, opened, delimiter.start())
            head_end = part_head.start() if part_head else delimiter.start()
            if not _MULTIPART.search(raw, opened, head_end):
                count += 1
                if len(leaves) < MAX_PARTS:
                    leaves.append(_without_line_end(raw[opened : delimiter.start()]))
        line_end = _BYTES_LINE_END.search(raw, delimiter.end())
        opened = None if closing or line_end is None else line_end.end()
    fresh = b"=_helpdesk_mail_flat"
    while fresh in raw:
        fresh += b"_"
    head = _CONTENT_TYPE_FIELD.sub(b"", raw[: end[0]] + b"\r\n")
    out = [head, b'Content-Type: multipart/mixed; boundary="', fresh, b'"\r\n\r\n']
    for part in leaves:
        out += [b"--", fresh, b"\r\n", part, b"\r\n"]
    out += [b"--", fresh, b"--\r\n"]
    return b"".join(out), count


def _without_line_end(data: bytes) -> bytes:
    """`data` without the line end before a delimiter (it belongs to the delimiter)."""
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data[-1:] in (b"\r", b"\n") else data
