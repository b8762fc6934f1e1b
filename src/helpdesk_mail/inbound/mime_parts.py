"""The parts of a parsed message: stored payloads, walking, transfer decoding, writing back.

What the stdlib's own methods do badly on hostile mail is done here without them:
`payload` reads what was received (8-bit bytes as surrogate escapes) where
`get_payload()` applies the declared charset (lossy, raising for charsets such as
`idna`); `iter_parts` and `flatten` walk any depth without recursion, and `flatten`
writes headers as stored, without the stdlib's refolding (quadratic in a line's
length); `decode_base64` keeps what decodes of broken base64. Nothing here raises on
any input, and every function is linear in its input.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Iterable
from email.message import Message

from .mime_headers import content_type, param, to_bytes

__all__ = [
    "body_bytes",
    "decode_base64",
    "flatten",
    "iter_parts",
    "payload",
]


def payload(part: Message) -> str | list[Message]:
    """A part's payload as stored: its child parts, or its undecoded text.

    The stdlib's `get_payload()` applies the declared charset to 8-bit text (lossy,
    and raising for charsets such as `idna`); this reads what was received, 8-bit
    bytes as surrogate escapes. Never raises.
    """
    stored = getattr(part, "_payload", None)
    if isinstance(stored, list):
        return [p for p in stored if isinstance(p, Message)]
    if isinstance(stored, str):
        return stored
    if isinstance(stored, bytes | bytearray):
        return bytes(stored).decode("ascii", "surrogateescape")
    return ""


def body_bytes(part: Message, limit: int | None = None) -> bytes:
    """The transfer-decoded bytes of a leaf part; with `limit`, only about its first bytes.

    Never raises: a broken transfer encoding gives the bytes as received.
    """
    raw = payload(part)
    if not isinstance(raw, str):
        return b""
    try:
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    except Exception:
        cte = ""
    if limit is None:
        if cte == "base64":
            return decode_base64(to_bytes(raw))
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        return data if isinstance(data, bytes) else to_bytes(raw)
    try:
        if cte == "base64":
            chunk = re.sub(r"[^A-Za-z0-9+/]", "", raw[: limit * 2])
            return base64.b64decode(chunk[: len(chunk) - len(chunk) % 4])
        if cte == "quoted-printable":
            return quopri.decodestring(to_bytes(raw[: limit * 2]))
    except (binascii.Error, ValueError):
        pass
    return to_bytes(raw[:limit])


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=\r\n]")
_BASE64_ALPHABET = re.compile(rb"[A-Za-z0-9+/]")
_NOT_BASE64_OR_PAD = bytes(c for c in range(256) if not _BASE64_ALPHABET.fullmatch(bytes([c])))


def decode_base64(data: bytes) -> bytes:
    """Base64 to bytes, leniently: what decodes is kept. Never raises.

    A character that is not base64 in a line whose length is a multiple of four
    stands for one that was garbled on the way: it is read as `A` (zero bits), so
    that only the byte or two it held are wrong and everything after it decodes. In
    any other line it was added on the way and is dropped. Missing or broken
    padding at the end is repaired (a last lone character is dropped).
    """
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        pass
    pieces: list[bytes] = []
    position = 0
    for bad in _NOT_BASE64.finditer(data):
        if bad.start() < position:
            continue
        start = max(data.rfind(b"\n", 0, bad.start()), data.rfind(b"\r", 0, bad.start())) + 1
        ends = [i for i in (data.find(b"\r", bad.start()), data.find(b"\n", bad.start())) if i >= 0]
        end = min(ends) if ends else len(data)
        line = data[start:end]
        fill = b"A" if len(line) % 4 == 0 else b""
        pieces += [data[position:start], _NOT_BASE64.sub(fill, line)]
        position = end
    pieces.append(data[position:])
    repaired = b"".join(pieces)
    try:
        return binascii.a2b_base64(repaired)
    except (binascii.Error, ValueError):
        pass
    core = repaired.translate(None, _NOT_BASE64_OR_PAD)
    core = core[: len(core) - 1] if len(core) % 4 == 1 else core
    try:
        return binascii.a2b_base64(core + b"=" * (-len(core) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - only alphabet characters left
        return b""


def iter_parts(msg: Message, *, into_messages: bool = True) -> Iterable[Message]:
    """`msg` and its parts depth-first, in order, without recursion (any depth);
    with `into_messages` off, an attached message (`message/*`) is a leaf."""
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        yield part
        if not into_messages and content_type(part).startswith("message/"):
            continue
        children = payload(part)
        if isinstance(children, list):
            stack.extend(reversed(children))


_ANY_LINE_END = re.compile(r"\r\n|\r|\n")


def _lf(text: str) -> str:
    return _ANY_LINE_END.sub("\n", text) if "\r" in text else text


def flatten(msg: Message) -> bytes:
    """A parsed message written back as bytes, lines ending in LF, without recursion.

    Headers are written as stored (as received, folding included): the stdlib's
    writer refolds them (`email.header.Header`, quadratic in a line's length) and
    recurses once per nesting level (a few hundred levels exhaust the stack).
    """
    out: list[str] = []
    stack: list[Message | str] = [msg]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        try:
            items = list(item.raw_items())
        except Exception:  # a message built by hand with odd header objects
            items = []
        out.extend(f"{name}: {_lf(str(value))}\n" for name, value in items)
        out.append("\n")
        body = payload(item)
        if isinstance(body, str):
            out.append(_lf(body))
            continue
        pieces: list[Message | str] = []
        if content_type(item).startswith("message/"):
            for i, inner in enumerate(body):
                pieces += ["\n"] if i else []
                pieces.append(inner)
        else:
            boundary = param(item, "boundary")
            if item.preamble is not None:
                pieces.append(_lf(item.preamble) + "\n")
            for i, child in enumerate(body):
                pieces += [("\n" if i else "") + f"--{boundary}\n", child]
            pieces.append(f"\n--{boundary}--\n")
            if item.epilogue is not None:
                pieces.append(_lf(item.epilogue))
        stack.extend(reversed(pieces))
    return "".join(out).encode("utf-8", "surrogateescape")
