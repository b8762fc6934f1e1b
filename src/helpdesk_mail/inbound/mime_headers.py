"""MIME headers: a header value as text, address lists, parameters, raw header blocks.

The one place where an email's header becomes text: `parse` (the `ParsedEmail`), the
junk filter (`junk`, `bounce`) and the poller's receipt keys (`receipts`) all read
through it. Nothing here raises on any input, and every function is linear in its
input: what is read of a header value or a parameter list is capped (the `MAX_*`
constants), and a cap never cuts inside a word or an address.

- Header values: RFC 2047 encoded words, raw UTF-8 (RFC 6532), undeclared 8-bit text
  (guessed, see `charsets`), ISO-2022-JP with Microsoft's extensions; the text is
  unfolded and holds no C0 control characters.
- Address lists are split at commas outside quotes, comments and angle brackets;
  addresses in free text are found by a bounded pattern (`ADDRESS_PATTERN`).
- Parameters: `Part` is the stdlib message class with a linear parameter parser
  (the stdlib's `_parseparam` is quadratic); RFC 2231 values come back decoded.
- Raw header blocks (`split_message`): the fields of a raw email's header without
  parsing it, the blank line that ends it looked for in `MAX_SCANNED_HEAD` bytes.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import binascii
import email
import email.errors
import email.header
import email.message
import email.utils
import itertools
import re
from collections.abc import Iterable
from email.message import Message
from typing import Any

from .charsets import decode_bytes, guess_8bit

__all__ = [
    "ADDRESS_PATTERN",
    "HEADER_END",
    "MAX_HEADERS",
    "MAX_HEADER_CHARS",
    "MAX_PARAMS",
    "MAX_PARAM_CHARS",
    "MAX_SCANNED_HEAD",
    "Part",
    "clean_body",
    "clip",
    "content_type",
    "decode_header_text",
    "decode_raw_text",
    "decoded_headers",
    "decoded_params",
    "find_addresses",
    "header_bytes",
    "header_end",
    "header_fields",
    "param",
    "raw_header_values",
    "split_addresses",
    "split_message",
    "split_params",
    "to_bytes",
]

MAX_HEADER_CHARS = 16_384
"""Characters of one header value that are read (cut at a space or a comma)."""

MAX_HEADERS = 500
"""Headers of a message that are decoded (`ParsedEmail.headers`)."""

MAX_PARAMS = 32
"""Parameters read from one Content-Type or Content-Disposition."""

MAX_PARAM_CHARS = 1024
"""Characters of one parameter value; a longer one is left out, never cut."""

MAX_SCANNED_HEAD = 256 * 1024
"""Bytes in which `split_message` looks for the blank line that ends the header."""

# --------------------------------------------------------------------------- text

_C0 = re.compile(r"[\x00-\x08\x0b-\x1f]+")
_NO_C0 = dict.fromkeys((*range(0x09), *range(0x0B, 0x20)))


def clean_body(text: str) -> str:
    """Body text as stored: line breaks are `\\n`, and no C0 control but tab and newline."""
    if "\r" in text:  # str methods: a regular expression keeps a piece per match
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_NO_C0) if _C0.search(text) else text


def _clean_line(text: str) -> str:
    """One line of header text: unfolded, no control characters but tab, trimmed."""
    return _C0.sub("", re.sub(r"[\r\n]+[ \t]*", " ", text)).strip()


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a space or comma, so that no word or
    address is cut; a single run longer than `limit` is cut at `limit`."""
    if len(text) <= limit:
        return text
    cut = max(text.rfind(sep, 0, limit + 1) for sep in (" ", "\t", "\n", ","))
    return text[:cut] if cut > 0 else text[:limit]


def to_bytes(text: str) -> bytes:
    """The bytes behind a stored string (8-bit bytes kept as surrogate escapes)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a string built by hand with other lone surrogates
        return text.encode("utf-8", "replace")


# --------------------------------------------------------------------------- headers

_ENCODED_WORD = re.compile(rb"=\?([^?\s]{1,60})\?([bBqQ])\?([^?]*?)\?=")
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")


def _decode_word(
    charset: bytes, encoding: bytes, payload: bytes, fallbacks: tuple[str, ...]
) -> str | None:
    """One encoded word's text, or None when its payload is not what it claims to be."""
    if encoding in (b"b", b"B"):
        try:
            data = base64.b64decode(payload + b"=" * (-len(payload) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
    else:  # Q; raw 8-bit bytes inside the word are kept as they are
        data = _QP_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), payload.replace(b"_", b" "))
    name = charset.decode("ascii", "replace").split("*", 1)[0]  # RFC 2231 language suffix
    return decode_bytes(data, name, fallbacks)


def _decode_plain(data: bytes, fallbacks: tuple[str, ...]) -> str:
    """Header bytes outside encoded words: ASCII, raw UTF-8, ISO-2022-JP or a legacy 8-bit set."""
    if data.isascii():
        if b"\x1b$" in data or b"\x1b(" in data:
            return decode_bytes(data, "iso-2022-jp", fallbacks)
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return decode_bytes(data, fallbacks[0] if fallbacks else guess_8bit(data), fallbacks)


def _as_bytes(value: object, limit: int = MAX_HEADER_CHARS) -> bytes:
    """A stored header value's bytes (compat32 keeps 8-bit bytes as surrogate escapes)."""
    return to_bytes(clip(value if isinstance(value, str) else str(value), limit))


def header_bytes(value: object) -> bytes:
    """The bytes of a stored header value (8-bit ones included), at most about
    `MAX_HEADER_CHARS` of them."""
    return _as_bytes(value)


def decode_header_text(value: object, fallbacks: Iterable[str] = ()) -> str:
    """A header value as text: RFC 2047 words decoded, raw 8-bit bytes guessed, unfolded.

    Lenient where mail is broken: encoded words with raw 8-bit bytes inside, unknown
    charsets, missing whitespace; whitespace between two encoded words is dropped
    (RFC 2047), whitespace next to ordinary text is kept. At most `MAX_HEADER_CHARS`
    of the value are read.
    """
    if value is None:
        return ""
    fallback_list = tuple(fallbacks)
    if isinstance(value, email.header.Header):
        parts: list[str] = []
        try:
            for chunk, charset in email.header.decode_header(value):
                if isinstance(chunk, bytes):
                    parts.append(decode_bytes(chunk, charset, fallback_list))
                else:
                    parts.append(chunk)
        except Exception:  # a Header the stdlib cannot take apart again: read its text
            return decode_header_text(str(value), fallback_list)
        return _clean_line(clip("".join(parts), MAX_HEADER_CHARS))
    data = _as_bytes(value)
    if b"=?" not in data:
        return _clean_line(_decode_plain(data, fallback_list))
    out: list[str] = []
    position = 0
    previous_was_word = False
    for match in _ENCODED_WORD.finditer(data):
        between = data[position : match.start()]
        if not (previous_was_word and not between.strip()):
            out.append(_decode_plain(between, fallback_list))
        word = _decode_word(match[1], match[2], match[3], fallback_list)
        out.append(word if word is not None else _decode_plain(match[0], fallback_list))
        position = match.end()
        previous_was_word = True
    out.append(_decode_plain(data[position:], fallback_list))
    return _clean_line("".join(out))


def decode_raw_text(
    value: object, fallbacks: Iterable[str] = (), limit: int = MAX_HEADER_CHARS
) -> str:
    """A header value as text without RFC 2047 decoding (address lists, report fields),
    of which at most `limit` characters are read (see `clip`)."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        return decode_header_text(value, fallbacks)
    return _clean_line(_decode_plain(_as_bytes(value, limit), tuple(fallbacks)))


def raw_header_values(msg: Message, name: str) -> list[str]:
    """The stored values of a header, before compat32 wraps 8-bit ones in a lossy `Header`."""
    wanted = name.lower()
    values: list[str] = []
    try:
        for key, value in msg.raw_items():
            if str(key).lower() == wanted:
                values.append(value if isinstance(value, str) else str(value))
    except Exception:  # a message built by hand with odd header objects
        return values
    return values


def decoded_headers(msg: Message, fallbacks: Iterable[str] = ()) -> tuple[tuple[str, str], ...]:
    """The first `MAX_HEADERS` headers of `msg` as (name, decoded text) pairs, in order."""
    fallback_list = tuple(fallbacks)
    found: list[tuple[str, str]] = []
    try:
        items = list(itertools.islice(msg.raw_items(), MAX_HEADERS))
    except Exception:
        return ()
    for key, value in items:
        if key is not None:
            found.append((str(key), decode_header_text(value, fallback_list)))
    return tuple(found)


# --------------------------------------------------------------------------- addresses

_ADDRESS_TOKEN = re.compile(r'[^"\\<>(),]+|\\.?|["<>(),]', re.DOTALL)


def split_addresses(value: str) -> list[str]:
    """Split an address list at commas outside quotes, comments and angle brackets."""
    pieces: list[str] = []
    start = 0
    quoted = False
    depth_angle = depth_paren = 0
    for match in _ADDRESS_TOKEN.finditer(value):
        ch = match.group()[0]
        if ch == "\\" or len(match.group()) > 1:
            continue
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "<":
            depth_angle += 1
        elif ch == ">":
            depth_angle = max(0, depth_angle - 1)
        elif ch == "(":
            depth_paren += 1
        elif ch == ")":
            depth_paren = max(0, depth_paren - 1)
        elif ch == "," and not depth_angle and not depth_paren:
            pieces.append(value[start : match.start()])
            start = match.end()
    pieces.append(value[start:])
    return [p for p in (piece.strip() for piece in pieces) if p]


ADDRESS_PATTERN = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
)
"""A regular expression for an ASCII e-mail address (bounded: linear to search)."""
_ADDR_RE = re.compile(ADDRESS_PATTERN)


def find_addresses(text: str) -> list[str]:
    """All e-mail addresses in `text` (lower-cased, in order, without duplicates)."""
    seen: dict[str, None] = {}
    for m in _ADDR_RE.finditer(text):
        seen.setdefault(m.group(0).lower().strip("."), None)
    return list(seen)


# --------------------------------------------------------------------------- parameters

_PARAM_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[^";]+|;', re.DOTALL)
_PARAM_NAME = re.compile(r"[^\s=;\"]{1,80}")


def split_params(value: str) -> list[tuple[str, str]]:
    """The parts of a Content-Type or Content-Disposition value: the main value, then
    (lower-cased name, value as written) for at most `MAX_PARAMS` parameters.

    Linear: quotes are paired once, left to right. A parameter whose name is not a
    token, whose value is longer than `MAX_PARAM_CHARS`, or that is cut by the
    `MAX_HEADER_CHARS` read, is left out.
    """
    text = value[: MAX_HEADER_CHARS + 1]
    pieces: list[str] = []
    current: list[str] = []
    for match in _PARAM_TOKEN.finditer(text):
        if match.group() == ";":
            pieces.append("".join(current))
            current = []
            if len(pieces) > MAX_PARAMS:
                break
        else:
            current.append(match.group())
    else:
        if len(value) <= MAX_HEADER_CHARS:
            pieces.append("".join(current))
    if not pieces:
        return [("", "")]
    main, equals, val = pieces[0].partition("=")
    params = [(main.strip().lower(), val.strip()) if equals else (pieces[0].strip(), "")]
    for piece in pieces[1:]:
        name, equals, val = piece.partition("=")
        name, val = name.strip().lower(), val.strip()
        if not equals or not _PARAM_NAME.fullmatch(name) or len(val) > MAX_PARAM_CHARS:
            continue
        params.append((name, val))
        if len(params) > MAX_PARAMS:
            break
    return params


_CONTINUATION = re.compile(r"(.*?)\*\d+\*?")


def decoded_params(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`email.utils.decode_params`, with each RFC 2231 value decoded to a quoted string."""
    try:
        decoded: list[tuple[str, Any]] = email.utils.decode_params(params)
    except Exception:
        # `name*=` and `name*0=` together cannot be ordered: the whole value wins
        whole = {name.rstrip("*") for name, _ in params[1:]}
        kept = [p for p in params[1:] if not _decoded_apart(p[0], whole)]
        try:
            decoded = email.utils.decode_params(params[:1] + kept)
        except Exception:
            decoded = params[:1] + [p for p in kept if "*" not in p[0]]
    out: list[tuple[str, str]] = []
    for name, val in decoded:
        if isinstance(val, tuple):
            charset, _, text = val
            raw = email.utils.unquote(text).encode("raw-unicode-escape")
            val = f'"{email.utils.quote(decode_bytes(raw, charset or "us-ascii"))}"'
        out.append((name, val))
    return out


def _decoded_apart(name: str, whole: set[str]) -> bool:
    """`name` is a numbered RFC 2231 piece of a parameter that is also given whole."""
    match = _CONTINUATION.fullmatch(name)
    return match is not None and match[1] in whole


class Part(Message):
    """The stdlib's compat32 message with a linear parameter reader.

    `get_param`, `get_params`, `get_filename`, `get_boundary` and
    `get_content_charset` read the parameters through `split_params`; an RFC 2231
    value comes back as a decoded string (never the stdlib's 3-tuple, which
    `get_payload` cannot use as a charset).
    """

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        try:
            value = self.get(header)
        except Exception:
            return failobj
        if value is None:
            return failobj
        return decoded_params(split_params(str(value)))


def content_type(part: Message) -> str:
    """The part's content type (lower case), `text/plain` when it cannot be read."""
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def param(part: Message, name: str, header: str = "content-type") -> str:
    """A parameter's value (RFC 2231 decoded, stripped), `""` when absent or unreadable."""
    try:
        value = part.get_param(name, header=header)
    except Exception:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return str(value or "").strip()


# --------------------------------------------------------------------------- header blocks

HEADER_END = re.compile(rb"\r?\n\r?\n")
"""The blank line that ends a header block."""
_FOLD = re.compile(rb"\r?\n[ \t]+")


def header_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """(lower-cased name, unfolded value) of each `Name: value` line of a header block.

    Lines that are not fields (no colon, a space inside the name) are skipped.
    """
    fields: list[tuple[bytes, bytes]] = []
    for line in _FOLD.sub(b" ", head).split(b"\n"):
        name, colon, value = line.partition(b":")
        if colon and name and b" " not in name.strip():
            fields.append((name.strip().lower(), value.strip()))
    return fields


def header_end(raw: bytes) -> tuple[int, int] | None:
    """Where the blank line that ends the header of a raw email starts and ends, when it
    lies within the first `MAX_SCANNED_HEAD` bytes; else None."""
    end = HEADER_END.search(raw, 0, MAX_SCANNED_HEAD)
    return (end.start(), end.end()) if end is not None else None


def split_message(raw: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header fields (see `header_fields`) and the body of a raw email.

    The header ends at the first blank line within `MAX_SCANNED_HEAD` bytes; without
    one, those bytes are the header and the body is empty.
    """
    end = header_end(raw)
    head = raw[: end[0]] if end is not None else raw[:MAX_SCANNED_HEAD]
    body = raw[end[1] :] if end is not None else b""
    return header_fields(head), body
