"""Reading an email's bytes: charsets, encoded headers, MIME parameters, header blocks.

The one place where the raw email becomes text. `parse` (the `ParsedEmail`), the
junk filter (`junk`, `bounce`) and the poller's receipt keys (`receipts`) all read
through it. Nothing here raises on any input, and every function is linear in its
input: what is read of a header value or a parameter list is capped (the `MAX_*`
constants), and a cap never cuts inside a word or an address.

- Charsets: only real text codecs decode (`text_codec`); an unknown or unusable
  charset (`idna`, `punycode`, `undefined`, `base64`...) falls back to the next
  candidate, then UTF-8, then windows-1252, then UTF-8 with U+FFFD. What a message
  leaves undeclared, or declares wrongly, is guessed once per message by
  `detect_charset` (charset-normalizer, on at most `MAX_DETECT_BYTES`).
- Headers: RFC 2047 encoded words, raw UTF-8 (RFC 6532), undeclared 8-bit text
  (guessed), ISO-2022-JP with Microsoft's extensions; the text is unfolded and
  holds no C0 control characters.
- Parameters: `Part` is the stdlib message class with a linear parameter parser
  (the stdlib's `_parseparam` is quadratic); RFC 2231 values come back decoded.
  `parse_bytes` also rewrites a Content-Type or Content-Disposition too long or
  too odd for other readers (mail-parser copies headers into plain stdlib
  messages) from its first parameters.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import email
import email.errors
import email.header
import email.message
import email.utils
import functools
import itertools
import quopri
import re
import urllib.parse
from collections.abc import Iterable
from email.message import Message
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from charset_normalizer.models import CharsetMatch

__all__ = [
    "ADDRESS_PATTERN",
    "MAX_DEPTH",
    "MAX_DETECT_BYTES",
    "MAX_FIELD_BYTES",
    "MAX_HEADERS",
    "MAX_HEADER_CHARS",
    "MAX_HEADER_FIELDS",
    "MAX_LINE_CHARS",
    "MAX_PARAMS",
    "MAX_PARAM_CHARS",
    "MAX_PARAM_HEADER_CHARS",
    "MAX_PARTS",
    "MAX_SCANNED_HEAD",
    "Flattened",
    "HeadersCapped",
    "Part",
    "Unparseable",
    "body_bytes",
    "clean_body",
    "clip",
    "content_type",
    "decode_base64",
    "decode_bytes",
    "decode_header_text",
    "decode_raw_text",
    "decoded_headers",
    "detect_charset",
    "find_addresses",
    "flatten",
    "header_bytes",
    "header_end",
    "header_fields",
    "iter_parts",
    "param",
    "parse_bytes",
    "payload",
    "raw_header_values",
    "split_addresses",
    "split_message",
    "split_params",
    "text_codec",
]

MAX_HEADER_CHARS = 16_384
"""Characters of one header value that are read (cut at a space or a comma)."""

MAX_HEADERS = 500
"""Headers of a message that are decoded (`ParsedEmail.headers`)."""

MAX_PARAMS = 32
"""Parameters read from one Content-Type or Content-Disposition."""

MAX_PARAM_CHARS = 1024
"""Characters of one parameter value; a longer one is left out, never cut."""

MAX_PARAM_HEADER_CHARS = 4096
"""A Content-Type or Content-Disposition longer than this, or with more than
`MAX_PARAMS` parameters, is rebuilt from its first parameters by `parse_bytes`."""

MAX_LINE_CHARS = 998
"""Longest header line (RFC 5322) of a part inside the message; longer ones are folded
by `parse_bytes`, and values longer than `MAX_HEADER_CHARS` cut."""

MAX_SCANNED_HEAD = 256 * 1024
"""Bytes in which `split_message` looks for the blank line that ends the header."""

MAX_DETECT_BYTES = 16_384
"""Bytes of undeclared or mislabelled text that `detect_charset` looks at."""

# --------------------------------------------------------------------------- charsets

# Tried in order for bytes whose charset is unknown or wrong.
FALLBACK_CHARSETS = ("utf-8", "cp1252")
_CHARSET_ALIASES = {
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-user-defined": "cp1252",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
}
# Python text codecs that are not charsets: they reject or garble mail text.
_NOT_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"})


@functools.lru_cache(maxsize=256)
def text_codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None when it names no usable text codec."""
    if not charset or len(charset) > 64:
        return None
    name = charset.strip().strip("\"'").lower()
    try:
        info = codecs.lookup(_CHARSET_ALIASES.get(name, name))
    except Exception:  # unknown, or not even a valid codec name
        return None
    if not info._is_text_encoding or info.name in _NOT_CHARSETS:
        return None
    return _CHARSET_ALIASES.get(name, info.name)


def decode_bytes(data: bytes, charset: str | None, fallbacks: Iterable[str] = ()) -> str:
    """Bytes to text: the declared charset, else each fallback, else UTF-8, else windows-1252."""
    candidates = [text_codec(name) for name in (charset, *fallbacks, *FALLBACK_CHARSETS)]
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            return data.decode(candidate)
        except Exception:  # any codec failure: try the next candidate
            if candidate.startswith("iso2022_jp") and b"\x1b" in data:
                return _iso2022jp_as_cp932(data)
    return data.decode("utf-8", "replace")


def _iso2022jp_as_cp932(data: bytes) -> str:
    """ISO-2022-JP read as Microsoft's CP50220: JIS X 0208 plus the NEC and IBM extensions.

    Outlook writes characters such as № and ① into ISO-2022-JP, which the stdlib codec
    rejects; each double-byte pair is moved to Shift_JIS and decoded as cp932.
    """
    out = bytearray()
    mode = "ascii"
    i = 0
    while i < len(data):
        if data[i] == 0x1B and i + 2 < len(data):
            seq = data[i + 1 : i + 3]
            mode = {b"$B": "jis", b"$@": "jis", b"(I": "kana"}.get(bytes(seq), "ascii")
            i += 3
            continue
        byte = data[i]
        if mode == "jis" and 0x21 <= byte <= 0x7E and i + 1 < len(data):
            c1, c2 = byte, data[i + 1]
            s2 = c2 + (0x1F if c1 % 2 else 0x7E)
            if c1 % 2 and s2 >= 0x7F:
                s2 += 1
            s1 = (c1 + 1) // 2 + 0x70
            out += bytes([s1 + 0x40 if s1 >= 0xA0 else s1, s2])
            i += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        i += 1
    return bytes(out).decode("cp932", "replace")


# The bytes that are Cyrillic letters in both KOI8-R and windows-1251, and Ё/ё.
_CYRILLIC_LETTER = frozenset(range(0xC0, 0x100)) | {0xA3, 0xB3, 0xA8, 0xB8}


def _reads_as_cyrillic(data: bytes) -> bool:
    """Every 8-bit byte of `data` is a Cyrillic letter in KOI8-R and windows-1251, and
    there are more of them than ASCII letters (words in Cyrillic, not accents)."""
    high = [b for b in data if b >= 0x80]
    return all(b in _CYRILLIC_LETTER for b in high) and _guess_8bit(data) != "cp1252"


def _guess_8bit(data: bytes) -> str:
    """A legacy charset for undeclared 8-bit text: Cyrillic (KOI8-R or windows-1251) or cp1252.

    In Cyrillic text nearly every letter is an 8-bit byte, while accented Latin text
    has a few among ASCII letters; most Russian letters are lower case, which KOI8-R
    puts at 0xC0-0xDF and windows-1251 at 0xE0-0xFF.
    """
    high = sum(1 for b in data if b >= 0x80)
    ascii_letters = sum(1 for b in data if 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A)
    if high < 2 * max(ascii_letters, 1):
        return "cp1252"
    koi_lower = sum(1 for b in data if 0xC0 <= b <= 0xDF)
    cp1251_lower = sum(1 for b in data if 0xE0 <= b <= 0xFF)
    return "koi8_r" if koi_lower > cp1251_lower else "cp1251"


# Code pages never seen in mail as raw 8-bit text, which charset-normalizer would
# otherwise offer for short samples: UTF-16/32 and UTF-7 (an 8-bit body has no BOM),
# EBCDIC, DOS and Mac code pages, and a few rare national sets.
_NEVER_DETECTED = [
    *("utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le", "utf_7"),
    *("cp037", "cp273", "cp424", "cp500", "cp875", "cp1026", "cp1140"),
    *("cp437", "cp737", "cp775", "cp850", "cp852", "cp855", "cp856", "cp857", "cp858"),
    *("cp860", "cp861", "cp862", "cp863", "cp864", "cp865", "cp869", "cp1125"),
    *("mac_arabic", "mac_cyrillic", "mac_greek", "mac_iceland", "mac_latin2"),
    *("mac_roman", "mac_turkish", "hp_roman8", "cp1006", "kz1048", "ptcp154"),
    *("big5hkscs", "shift_jis_2004", "shift_jisx0213", "euc_jis_2004", "euc_jisx0213", "hz"),
]


def detect_charset(samples: Iterable[bytes]) -> str | None:
    """The codec of 8-bit text that declares no charset, or a wrong one; None when
    there is nothing to guess (ASCII or UTF-8) or no charset fits.

    The samples (raw header values, body parts) are read together, up to
    `MAX_DETECT_BYTES` (cut between two characters where a byte shows where): headers
    alone are too short to tell one legacy charset from another, with the body they
    are not. charset-normalizer decides (pure Python; its compiled wheels only run
    faster); it takes about 0.2 s at most on this many bytes.
    """
    budget = MAX_DETECT_BYTES
    pieces: list[bytes] = []
    blind = False  # the last piece may end inside a character
    for data in samples:
        if budget <= 0:
            break
        if len(data) > budget:
            data, blind = _cut_between_characters(data, budget)
        pieces.append(data)
        budget -= len(data) + 1
    sample = b"\n".join(pieces)
    if sample.isascii() or _is_utf8(sample):
        return None
    matches = _matches(sample)
    # a multi-byte character is at most 4 bytes (GB18030): one of the cuts ends before it
    for drop in range(1, 4) if blind and not matches else ():
        matches = _matches(sample[:-drop])
        if matches:
            break
    if not matches:
        return None
    best = matches[0]
    if best.coherence == 0 and _reads_as_cyrillic(sample):
        # The detector recognised no language (a subject, a name): its pick is one of
        # many that fit. Russian mail was the commonest to go out unlabelled (KOI8-R),
        # and a sample of nothing but Cyrillic letters is read as such.
        return text_codec(_guess_8bit(sample))
    # Several code pages often fit a sample equally well: windows-1252, the commonest
    # charset of undeclared mail, wins such a tie.
    tied = [m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    codec = text_codec("cp1252" if "cp1252" in tied else best.encoding)
    return codec if codec not in (None, "ascii", "utf-8") else None


def _matches(sample: bytes) -> list[CharsetMatch]:
    """charset-normalizer's matches for `sample`, best first (none when it fails)."""
    try:
        import charset_normalizer  # imported on first use: it takes 0.1 s to load

        return list(charset_normalizer.from_bytes(sample, cp_exclusion=_NEVER_DETECTED))
    except Exception:  # a detector failure only means no guess
        return []


# A byte below 0x40 is never the second byte of a character in the multi-byte
# charsets (Shift_JIS, EUC-*, GBK, Big5 trail bytes are 0x40 and up), nor a first byte.
_BELOW_0X40 = re.compile(rb"[\x00-\x3f]")


def _cut_between_characters(data: bytes, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of `data`, ending after its last byte below 0x40 there;
    and whether there is none (the cut may fall inside a character)."""
    window = data[:limit]
    found = _BELOW_0X40.search(window[::-1])
    return (window, True) if found is None else (window[: limit - found.start()], False)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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


def _to_bytes(text: str) -> bytes:
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
    return decode_bytes(data, fallbacks[0] if fallbacks else _guess_8bit(data), fallbacks)


def _as_bytes(value: object, limit: int = MAX_HEADER_CHARS) -> bytes:
    """A stored header value's bytes (compat32 keeps 8-bit bytes as surrogate escapes)."""
    return _to_bytes(clip(value if isinstance(value, str) else str(value), limit))


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


def _decoded_params(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
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
        return _decoded_params(split_params(str(value)))


class HeaderRebuilt(email.errors.MessageDefect):
    """A Content-Type or Content-Disposition was rebuilt from its first parameters."""


class HeaderCut(email.errors.MessageDefect):
    """A header of a part inside the message was cut at `MAX_HEADER_CHARS`."""


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


_SAFE_VALUE = re.compile(r"[\x20-\x7e]*")


def _rebuilt(value: str) -> str:
    """A parameter header rewritten from what `split_params` reads, ASCII and short."""
    params = _decoded_params(split_params(value))
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


class _Cut:
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


def _bounded_head(raw: bytes) -> tuple[bytes, HeadersCapped | None]:
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


def parse_bytes(raw: bytes) -> Message:
    """The stdlib message (compat32, of `Part`s) of raw bytes; never raises."""
    raw, capped = _bounded_head(raw)
    flattened: Flattened | None = None
    shape = _needs_flattening(raw)
    if shape is not None:
        flat = _flattened(raw)
        if flat is not None:
            raw, flattened = flat[0], Flattened(f"{flat[1]} parts, {shape[1]} levels")
    cut = _Cut(raw)
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


class Flattened(email.errors.MessageDefect):
    """The message was nested too deep (`MAX_DEPTH`, or deeper than the stdlib parser's
    stack) or had too many parts (`MAX_PARTS`): its parts were read side by side, as the
    parts of one multipart/mixed, the first `MAX_PARTS` of them. Its text says how many
    parts and levels there were (`12000 parts, 2 levels`)."""


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
    flat = _flattened(raw)
    with contextlib.suppress(Exception):  # one level of nesting left: not expected
        if flat is not None:
            msg: Message = email.message_from_bytes(flat[0], _class=Part)
            msg.defects.append(Flattened(f"{flat[1]} parts, {_shape(raw)[1]} levels"))
            return msg
    msg = Part()
    msg.defects.append(Unparseable("unparseable: RecursionError"))
    return msg


MAX_PARTS = 1000
"""Parts of one message that are read: a message with more is read flattened (see
`Flattened`), its first `MAX_PARTS` parts. The stdlib keeps a message object for each
part, about 1.5 KB (thirty thousand parts of 130 bytes were 11 times the message)."""

MAX_DEPTH = 400
"""Levels of nested multiparts read as they are; a message nested deeper is read
flattened (see `Flattened`): the stdlib parser's stack ends at about 1,000 levels, and
reaching it costs half a second."""


def _shape(raw: bytes) -> tuple[int, int]:
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


def _needs_flattening(raw: bytes) -> tuple[int, int] | None:
    """(parts, depth) when `raw` has more than `MAX_PARTS` parts or is nested deeper
    than `MAX_DEPTH`, else None (cheap counts first: most messages are not looked at)."""
    declared = raw.count(b"oundary") + raw.count(b"OUNDARY")
    if declared <= MAX_DEPTH and raw.count(b"\n--") + raw.count(b"\r--") <= MAX_PARTS:
        return None
    parts, depth = _shape(raw)
    return (parts, depth) if parts > MAX_PARTS or depth > MAX_DEPTH else None


_BOUNDARY_PARAM = re.compile(rb'(?i)boundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')
_DELIMITER = re.compile(_LINE_START + rb"--([^\r\n]*)")
_MULTIPART = re.compile(
    _LINE_START + rb"(?i:content-type:[ \t]*(?:(?:\r\n|\r|\n)[ \t]+)?multipart/)"
)
_BYTES_LINE_END = re.compile(rb"\r\n|\r|\n")
_CONTENT_TYPE_FIELD = re.compile(rb"(?im)^content-type:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*\r?\n?")


def _flattened(raw: bytes) -> tuple[bytes, int] | None:
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
            part_head = _HEADER_END.search(raw, opened, delimiter.start())
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
            return decode_base64(_to_bytes(raw))
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        return data if isinstance(data, bytes) else _to_bytes(raw)
    try:
        if cte == "base64":
            chunk = re.sub(r"[^A-Za-z0-9+/]", "", raw[: limit * 2])
            return base64.b64decode(chunk[: len(chunk) - len(chunk) % 4])
        if cte == "quoted-printable":
            return quopri.decodestring(_to_bytes(raw[: limit * 2]))
    except (binascii.Error, ValueError):
        pass
    return _to_bytes(raw[:limit])


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


# --------------------------------------------------------------------------- header blocks

_HEADER_END = re.compile(rb"\r?\n\r?\n")
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
    end = _HEADER_END.search(raw, 0, MAX_SCANNED_HEAD)
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
