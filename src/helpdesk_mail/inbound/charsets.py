"""Charsets: bytes of mail text to `str`, whatever the message declares.

Only real text codecs decode (`text_codec`); an unknown or unusable charset (`idna`,
`punycode`, `undefined`, `base64`...) falls back to the next candidate, then UTF-8,
then windows-1252, then UTF-8 with U+FFFD (`decode_bytes`). What a message leaves
undeclared, or declares wrongly, is guessed once per message by `detect_charset`
(charset-normalizer, on at most `MAX_DETECT_BYTES`). ISO-2022-JP is read with
Microsoft's extensions. Nothing here raises on any input, and every function is
linear in its input.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from charset_normalizer.models import CharsetMatch

__all__ = [
    "MAX_DETECT_BYTES",
    "decode_bytes",
    "detect_charset",
    "guess_8bit",
    "text_codec",
]

MAX_DETECT_BYTES = 16_384
"""Bytes of undeclared or mislabelled text that `detect_charset` looks at."""

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
    return all(b in _CYRILLIC_LETTER for b in high) and guess_8bit(data) != "cp1252"


def guess_8bit(data: bytes) -> str:
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
        return text_codec(guess_8bit(sample))
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
