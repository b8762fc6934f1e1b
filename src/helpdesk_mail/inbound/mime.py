"""Parsing an email's bytes: the stdlib message of raw bytes, safe for every reader.

`parse_bytes` is the one parse of the raw email: `parse` (the `ParsedEmail`), the junk
filter (`junk`, `bounce`) read the message it returns (their header text through
`mime_headers`, their parts through `mime_parts`). It never raises, and is linear in
its input whatever the message's shape: the raw bytes are bounded before the stdlib
parser reads them (`mime_bounds`), and the parsed message is tamed after: a
Content-Type or Content-Disposition too long or too odd for other readers (mail-parser
copies headers into plain stdlib messages) is rewritten from its first parameters
(`MAX_PARAM_HEADER_CHARS`), and the headers of the parts inside the message are cut
and folded (`MAX_LINE_CHARS`) so that writing them back is not quadratic.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import contextlib
import email
import email.errors
import email.header
import email.message
import email.utils
import re
import urllib.parse
from email.message import Message
from typing import Any

from . import mime_bounds
from .charsets import text_codec
from .mime_bounds import Cut, Flattened, bounded_head, needs_flattening
from .mime_headers import (
    MAX_HEADER_CHARS,
    MAX_PARAMS,
    Part,
    clip,
    decoded_params,
    raw_header_values,
    split_params,
)
from .mime_parts import payload

__all__ = [
    "MAX_LINE_CHARS",
    "MAX_PARAM_HEADER_CHARS",
    "Unparseable",
    "parse_bytes",
]

MAX_PARAM_HEADER_CHARS = 4096
"""A Content-Type or Content-Disposition longer than this, or with more than
`MAX_PARAMS` parameters, is rebuilt from its first parameters by `parse_bytes`."""

MAX_LINE_CHARS = 998
"""Longest header line (RFC 5322) of a part inside the message; longer ones are folded
by `parse_bytes`, and values longer than `MAX_HEADER_CHARS` cut."""


def parse_bytes(raw: bytes) -> Message:
    """The stdlib message (compat32, of `Part`s) of raw bytes; never raises."""
    raw, capped = bounded_head(raw)
    flattened: Flattened | None = None
    shape = needs_flattening(raw)
    if shape is not None:
        flat = mime_bounds.flattened(raw)
        if flat is not None:
            raw, flattened = flat[0], Flattened(f"{flat[1]} parts, {shape[1]} levels")
    cut = Cut(raw)
    msg = _parse(cut.skeleton() if cut.runs else raw)
    if cut.runs and not cut.restore(msg):
        msg = _parse(raw)
    msg.defects.extend(d for d in (capped, flattened) if d is not None)
    try:
        _tame(msg)
    except Exception as exc:  # a part that cannot be rewritten keeps its header
        msg.defects.append(email.errors.MessageDefect(f"untamed: {type(exc).__name__}"))
    return msg


class Unparseable(email.errors.MessageDefect):
    """The stdlib parser failed on the message: it is read as an empty message."""


def _parse(raw: bytes) -> Message:
    try:
        msg: Message = email.message_from_bytes(raw, _class=Part)
    except RecursionError:  # nested deeper than the stack: read its parts side by side
        return _parse_flattened(raw)
    except Exception as exc:  # the stdlib parser has raised on odd input before
        msg = Part()
        msg.defects.append(Unparseable(f"unparseable: {type(exc).__name__}"))
    return msg


def _parse_flattened(raw: bytes) -> Message:
    flat = mime_bounds.flattened(raw)
    with contextlib.suppress(Exception):  # one level of nesting left: not expected
        if flat is not None:
            msg: Message = email.message_from_bytes(flat[0], _class=Part)
            msg.defects.append(Flattened(f"{flat[1]} parts, {mime_bounds.shape(raw)[1]} levels"))
            return msg
    msg = Part()
    msg.defects.append(Unparseable("unparseable: RecursionError"))
    return msg


class HeaderRebuilt(email.errors.MessageDefect):
    """A Content-Type or Content-Disposition was rebuilt from its first parameters."""


class HeaderCut(email.errors.MessageDefect):
    """A header of a part inside the message was cut at `MAX_HEADER_CHARS`."""


_SAFE_VALUE = re.compile(r"[\x20-\x7e]*")


def _rebuilt(value: str) -> str:
    """A parameter header rewritten from what `split_params` reads, ASCII and short."""
    params = decoded_params(split_params(value))
    out = params[0][0][:200]
    for name, quoted in params[1:]:
        text = email.utils.unquote(quoted)
        if _SAFE_VALUE.fullmatch(text) and ";" not in text:
            piece = f'; {name}="{email.utils.quote(text)}"'
        else:
            piece = f"; {name}*=utf-8''{urllib.parse.quote(text, safe='')}"
        if len(out) + len(piece) > MAX_PARAM_HEADER_CHARS:
            break
        out += piece
    return out


def _needs_rebuilding(value: str) -> bool:
    """Too long, too many parameters, or RFC 2231 values the stdlib cannot decode."""
    if len(value) > MAX_PARAM_HEADER_CHARS or value.count(";") > MAX_PARAMS:
        return True
    if "*" not in value:
        return False
    params = split_params(value)
    try:
        decoded = email.utils.decode_params(params)
    except Exception:
        return True
    for _, val in decoded[1:]:
        if isinstance(val, tuple) and val[0] and text_codec(val[0]) is None:
            return True
    return False


def _fold(name: str, value: str) -> str:
    """`value` folded at spaces so that no line of `name: value` is longer than
    `MAX_LINE_CHARS` (a word longer than a line stays whole)."""
    out: list[str] = []
    width = max(MAX_LINE_CHARS - len(name) - 2, 78)  # the first line holds "Name: "
    for line in re.split(r"\r?\n", value):
        start = 0
        while len(line) - start > width:
            cut = line.rfind(" ", start + 1, start + width + 1)
            if cut == -1:  # one word longer than a line: fold after it
                cut = line.find(" ", start + width)
                if cut == -1:
                    break
            out.append(line[start:cut])
            start = cut
            width = MAX_LINE_CHARS
        out.append(line[start:])
        width = MAX_LINE_CHARS
    return "\n".join(out)


def _bounded(part: Part) -> None:
    """Cut the part's header values at `MAX_HEADER_CHARS` and fold their long lines.

    The stdlib writes a part back (`as_bytes`, `as_string`: mail-parser does, for
    attached messages) through `email.header.Header`, whose folding is quadratic
    in the length of a line.
    """
    items: list[tuple[str, Any]] = part.__dict__.get("_headers", [])
    if not any(_too_long(value) for _, value in items):
        return
    bounded: list[tuple[str, Any]] = []
    for name, value in items:
        if _too_long(value):
            if len(value) > MAX_HEADER_CHARS:
                value = clip(value, MAX_HEADER_CHARS)
                part.defects.append(HeaderCut(name))
            value = _fold(name, value)
        bounded.append((name, value))
    part.__dict__["_headers"] = bounded


_LONG_LINE = re.compile(rf"[^\r\n]{{{MAX_LINE_CHARS + 1}}}")


def _too_long(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) > MAX_LINE_CHARS
        and (len(value) > MAX_HEADER_CHARS or _LONG_LINE.search(value) is not None)
    )


def _tame(msg: Message) -> None:
    """Make every part safe for other readers: parameter headers rebuilt when they would
    choke the stdlib's parameter parser, and the headers of the parts inside the message
    bounded (`_bounded`)."""
    stack = [msg]
    while stack:
        part = stack.pop()
        for name in ("content-type", "content-disposition"):
            values = raw_header_values(part, name)
            if values and _needs_rebuilding(values[0]):
                part.replace_header(name, _rebuilt(values[0]))
                part.defects.append(HeaderRebuilt(name))
        if part is not msg and isinstance(part, Part):
            _bounded(part)
        children = payload(part)
        if isinstance(children, list):
            stack.extend(reversed(children))
