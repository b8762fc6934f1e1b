"""Raw bytes to a `ParsedEmail`: headers, addresses, bodies and attachments, decoded.

mail-parser does the MIME walk (charset recovery for bodies, attachment discovery
with RFC 2183 disposition rules, epilogue recovery); the stdlib fills the gaps:
headers are decoded here with a fallback chain for wrong, unknown or missing
charsets (RFC 2047 words with a bogus charset, raw 8-bit headers), and addresses
are split before their display names are decoded so that an encoded comma stays
inside its name. Nothing here raises on any input: what cannot be read becomes a
defect string and an empty value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import email
import email.header
import email.utils
import logging
import mimetypes
import re
from collections.abc import Iterable
from datetime import datetime
from email.message import Message
from typing import Any

import mailparser

from ..addresses import normalize_email
from ..model import Attachment
from .result import Address, ParsedEmail

__all__ = ["decode_header_text", "parse_email", "parse_message"]

# mail-parser logs every unhandled part at WARNING. Its warnings about our own calls are
# dropped (a library must not spam the host's logs); the host's own use of mail-parser, and
# its logging configuration, are left as they are.
_PARSING = contextvars.ContextVar("helpdesk_mail_parsing", default=False)


class _QuietWhileWeParse(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not _PARSING.get()


for _name in ("mailparser.core", "mailparser.utils"):
    logging.getLogger(_name).addFilter(_QuietWhileWeParse())

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
# Where the sender is read from, in order: a message without a usable From is
# still a customer's mail when another header names who sent it.
SENDER_HEADERS = ("from", "sender", "reply-to", "return-path")
_MSGID_RE = re.compile(r"<[^<>\s]{1,998}>")
_ADDRESS_HEADERS = ("to", "cc", "reply-to")
_MAX_HEADER_CHARS = 16_384


def _bytes_of(text: str) -> bytes:
    """The original bytes of a header that the compat32 parser kept as surrogate escapes."""
    return text.encode("ascii", "surrogateescape")


def decode_bytes(data: bytes, charset: str | None, fallbacks: Iterable[str] = ()) -> str:
    """Bytes to text: the declared charset, else each fallback, else UTF-8 with U+FFFD."""
    candidates: list[str] = []
    if charset:
        name = charset.strip().strip('"').lower()
        candidates.append(_CHARSET_ALIASES.get(name, name))
    candidates.extend(fallbacks)
    candidates.extend(FALLBACK_CHARSETS)
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeError, ValueError):
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


def decode_header_text(value: object, fallbacks: Iterable[str] = ()) -> str:
    """A header value as text: RFC 2047 words decoded, raw 8-bit bytes guessed, unfolded.

    Lenient where mail is broken: encoded words with raw 8-bit bytes inside, unknown
    charsets, missing whitespace; whitespace between two encoded words is dropped
    (RFC 2047), whitespace next to ordinary text is kept.
    """
    if value is None:
        return ""
    fallback_list = tuple(fallbacks)
    if isinstance(value, email.header.Header):
        parts: list[str] = []
        for chunk, charset in email.header.decode_header(value):
            if isinstance(chunk, bytes):
                parts.append(decode_bytes(chunk, charset, fallback_list))
            else:
                parts.append(chunk)
        return _unfold("".join(parts))
    text = (value if isinstance(value, str) else str(value))[:_MAX_HEADER_CHARS]
    data = text.encode("utf-8", "surrogateescape")
    if b"=?" not in data:
        return _unfold(_decode_plain(data, fallback_list))
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
    return _unfold("".join(out))


def _unfold(text: str) -> str:
    return re.sub(r"[\r\n]+[ \t]*", " ", text).strip()


_ANGLE_ADDR = re.compile(r"<\s*([^<>\s]+@[^<>\s]+?)\s*>")


def _split_addresses(value: str) -> list[str]:
    """Split an address list at commas outside quotes, comments and angle brackets."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    depth_angle = depth_paren = 0
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch == "<":
                depth_angle += 1
            elif ch == ">":
                depth_angle = max(0, depth_angle - 1)
            elif ch == "(":
                depth_paren += 1
            elif ch == ")":
                depth_paren = max(0, depth_paren - 1)
            elif ch == "," and not depth_angle and not depth_paren:
                pieces.append("".join(current))
                current = []
                continue
        current.append(ch)
    pieces.append("".join(current))
    return [p for p in (piece.strip() for piece in pieces) if p]


def _one_address(piece: str) -> tuple[str, str]:
    """(display name, address) of one mailbox; an angle address wins over anything else."""
    match = _ANGLE_ADDR.search(piece)
    if match:
        name = (piece[: match.start()] + piece[match.end() :]).strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        return name.strip(), match[1]
    try:
        pairs = email.utils.getaddresses([piece])
    except Exception:  # the stdlib's address parser has raised on odd input before
        pairs = []
    if pairs and "@" in pairs[0][1] and not any(c.isspace() for c in pairs[0][1]):
        return pairs[0]
    # "Big Bug bb@bug.com": a display name and a bare address without brackets
    bare = re.search(r"[^\s<>()\",;:]+@[^\s<>()\",;:]+", piece)
    if bare is None:
        return ("", "")
    name = (piece[: bare.start()] + piece[bare.end() :]).strip().strip('"').strip()
    return (name, bare.group(0))


def _addresses(msg: Message, name: str, fallbacks: tuple[str, ...]) -> tuple[Address, ...]:
    found: list[Address] = []
    seen: set[str] = set()
    for value in _raw_headers(msg, name):
        text = value[:_MAX_HEADER_CHARS]
        if any("\udc80" <= ch <= "\udcff" for ch in text):
            text = decode_bytes(_bytes_of(text), None, fallbacks)
        for piece in _split_addresses(_unfold(text)):
            display, addr = _one_address(piece)
            addr = normalize_email(addr)
            if "@" not in addr or addr in seen or any(c.isspace() for c in addr):
                continue
            seen.add(addr)
            found.append(Address(email=addr, name=decode_header_text(display, fallbacks)))
    return tuple(found)


def _raw_headers(msg: Message, name: str) -> list[str]:
    """The stored values of a header, before compat32 wraps 8-bit ones in a lossy `Header`."""
    wanted = name.lower()
    values: list[str] = []
    for key, value in msg.raw_items():
        if str(key).lower() == wanted:
            values.append(value if isinstance(value, str) else str(value))
    return values


def _raw_header(msg: Message, name: str) -> str | None:
    values = _raw_headers(msg, name)
    return values[0] if values else None


def _message_id(value: object) -> str | None:
    text = decode_header_text(value)
    match = _MSGID_RE.search(text)
    if match:
        return match.group(0)
    text = text.strip()
    if text and " " not in text and len(text) < 998:
        return f"<{text.strip('<>')}>"
    return None


def _message_ids(values: Iterable[object]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        found.extend(_MSGID_RE.findall(decode_header_text(value)))
    return tuple(dict.fromkeys(found))


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(decode_header_text(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _body_charsets(msg: Message) -> tuple[str, ...]:
    """Charsets declared by the body parts: the best guess for undeclared 8-bit headers."""
    found: list[str] = []
    for part in msg.walk():
        charset = part.get_content_charset()
        if charset and charset.lower() not in ("us-ascii", "ascii") and charset not in found:
            found.append(charset.lower())
        if len(found) >= 2:
            break
    return tuple(found)


def _attachment_content(item: dict[str, Any], blobs: _Blobs) -> bytes:
    payload = item.get("payload") or ""
    if item.get("binary"):
        if _BLOB_TOKEN.decode() in payload:
            restored = blobs.decode(payload.encode("ascii", "replace"))
            if restored is not None:
                return restored
        try:
            return base64.b64decode(payload)
        except (binascii.Error, ValueError):
            return b""
    charset = item.get("charset") or "utf-8"
    try:
        return str(payload).encode(charset)
    except (LookupError, UnicodeError):
        return str(payload).encode("utf-8", "surrogateescape")


# Names for attached reports and messages that carry no file name (Zammad's convention).
REPORT_PART_NAMES = {
    "message/delivery-status": "Delivery report.txt",
    "message/global-delivery-status": "Delivery report.txt",
    "message/disposition-notification": "Disposition notification.txt",
    "message/feedback-report": "Feedback report.txt",
    "text/rfc822-headers": "Returned headers.txt",
}
ATTACHED_MESSAGE_TYPES = ("message/rfc822", "message/global")


def _clean_filename(name: str) -> str:
    # A backslash cannot appear in a MIME token, so it came from a quoted-string,
    # where it is a quoted-pair (RFC 2045, RFC 5322): "C:\\TEMP\\a.png" means C:TEMPa.png.
    return re.sub(r"\\(.)", r"\1", name).strip()


def _attachments(parser: Any, msg: Message, blobs: _Blobs) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    named: set[str] | None = None  # the parts' real file names, read only when needed
    for item in parser.attachments:
        content_id = (item.get("content-id") or "").strip().strip("<>") or None
        content_type = (item.get("mail_content_type") or "application/octet-stream").lower()
        filename = _clean_filename(decode_header_text(item.get("filename") or ""))
        if content_id and filename.strip("<>") == content_id:
            filename = _name_for(content_id, content_type)
        elif _INVENTED_NAME.fullmatch(filename):
            if named is None:
                named = _part_filenames(msg)
            if filename not in named:
                # mail-parser invents a random name for an unnamed part; ours is stable
                filename = _unnamed(len(found) + 1, content_type)
        disposition = (item.get("content-disposition") or "").lower()
        content = _attachment_content(item, blobs)
        found.append(
            Attachment(
                filename=filename,
                content_type=(item.get("mail_content_type") or "application/octet-stream").lower(),
                size=len(content),
                content=content,
                inline=disposition.startswith("inline") or (bool(content_id) and not disposition),
                content_id=content_id,
            )
        )
    return (*found, *_unnamed_message_parts(msg, {a.filename for a in found}, blobs))


def _unnamed_message_parts(msg: Message, known: set[str], blobs: _Blobs) -> list[Attachment]:
    """Attached messages and delivery reports that mail-parser leaves without a name."""
    found: list[Attachment] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.get_filename() or (
            ctype not in REPORT_PART_NAMES and ctype not in ATTACHED_MESSAGE_TYPES
        ):
            continue
        if ctype in REPORT_PART_NAMES:
            name = REPORT_PART_NAMES[ctype]
        else:
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            subject = decode_header_text(first.get("subject")) if isinstance(first, Message) else ""
            name = f"{subject or 'message'}.eml"
        if name in known:
            continue
        try:
            content = (
                blobs.restore(part.as_bytes())
                if ctype in ATTACHED_MESSAGE_TYPES
                else _part_bytes(part)
            )
        except Exception:  # a broken inner message: keep the attachment, empty
            content = b""
        if ctype in ATTACHED_MESSAGE_TYPES:
            content = content.split(b"\n\n", 1)[-1] if content else content
        found.append(
            Attachment(filename=name, content_type=ctype, size=len(content), content=content)
        )
    return found


def _part_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list):
        return b"\n".join(p.as_bytes() for p in payload if isinstance(p, Message))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


# The shape of the names mail-parser invents (`random_string()` + ".rtf" or ".txt").
_INVENTED_NAME = re.compile(r"[a-z]{10}\.(?:rtf|txt)")


def _part_filenames(msg: Message) -> set[str]:
    """The file names the parts of `msg` really carry (as mail-parser reports them)."""
    names: set[str] = set()
    for part in msg.walk():
        raw_name: str | None = None
        with contextlib.suppress(Exception):  # a malformed RFC 2231 parameter
            raw_name = part.get_filename()
        if raw_name:
            decoded = decode_header_text(raw_name)
            names.update((raw_name, decoded, _clean_filename(decoded)))
    return names


def _unnamed(position: int, content_type: str) -> str:
    """A stable name for an attachment that has none: `attachment-2.pdf`."""
    extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"attachment-{position}{extension}"


def _name_for(content_id: str, content_type: str) -> str:
    """A file name for an inline part that has only a Content-ID."""
    local = content_id.split("@", 1)[0]
    if "." in local[-6:]:
        return local
    subtype = content_type.rsplit("/", 1)[-1] or "bin"
    return f"{local or 'inline'}.{subtype}"


def parse_message(msg: Message, blobs: _Blobs | None = None) -> ParsedEmail:
    """A `ParsedEmail` from a stdlib message (compat32 policy), never raising."""
    blobs = blobs or _Blobs(b"")
    defects: list[str] = [type(d).__name__ for d in getattr(msg, "defects", ())]
    fallbacks = _body_charsets(msg)
    quiet = _PARSING.set(True)
    try:
        parser: Any = mailparser.MailParser(msg)
        attachments = _attachments(parser, msg, blobs)
    except Exception as exc:  # mail-parser failed on this structure: use the stdlib alone
        defects.append(f"MailParserError: {type(exc).__name__}")
        attachments = _stdlib_attachments(msg)
    finally:
        _PARSING.reset(quiet)
    bodies = _Bodies(blobs, fallbacks)
    try:
        bodies.visit(msg)
    except RecursionError:
        defects.append("BodyTooDeep")
    text_plain, text_html = bodies.plain, bodies.html
    senders = next(
        (found for name in SENDER_HEADERS if (found := _addresses(msg, name, fallbacks))), ()
    )
    headers = tuple(
        (str(k), decode_header_text(v, fallbacks))
        for k, v in list(msg.raw_items())[:500]
        if k is not None
    )
    html = "\n".join(text_html) if text_html else None
    return ParsedEmail(
        message_id=_message_id(msg.get("message-id")),
        in_reply_to=_message_ids(msg.get_all("in-reply-to") or ()),
        references=_message_ids(msg.get_all("references") or ()),
        sender=senders[0] if senders else Address(email=""),
        to=_addresses(msg, "to", fallbacks),
        cc=_addresses(msg, "cc", fallbacks),
        reply_to=_addresses(msg, "reply-to", fallbacks),
        subject=decode_header_text(_raw_header(msg, "subject"), fallbacks),
        date=_date(msg.get("date")),
        text="\n".join(text_plain),
        html=html,
        attachments=attachments,
        defects=tuple(defects),
        headers=headers,
    )


class _Bodies:
    """The message's own text and HTML bodies, as a mail client would show them.

    Attached messages (message/rfc822) are attachments, not body; of a
    multipart/alternative only the plain and the HTML version are taken (the last
    of each, the sender's preferred); text parts that are files (disposition
    attachment, or any file name, even shown inline) are attachments.
    """

    def __init__(self, blobs: _Blobs, fallbacks: tuple[str, ...]) -> None:
        self.blobs = blobs
        self.fallbacks = fallbacks
        self.plain: list[str] = []
        self.html: list[str] = []

    def visit(self, part: Message) -> None:
        ctype = part.get_content_type()
        if ctype.startswith("message/"):
            return
        if part.is_multipart():
            children = [p for p in part.get_payload() if isinstance(p, Message)]
            if ctype == "multipart/alternative":
                self._alternative(children)
            else:
                for child in children:
                    self.visit(child)
            return
        if ctype not in ("text/plain", "text/html") or self._is_file(part):
            return
        text = self._text(part)
        if text.strip():
            (self.plain if ctype == "text/plain" else self.html).append(text)

    def _alternative(self, children: list[Message]) -> None:
        found: dict[str, list[str]] = {}
        for child in children:
            sub = _Bodies(self.blobs, self.fallbacks)
            sub.visit(child)
            if sub.plain:
                found["plain"] = sub.plain
            if sub.html:
                found["html"] = sub.html
        self.plain.extend(found.get("plain", ()))
        self.html.extend(found.get("html", ()))

    @staticmethod
    def _is_file(part: Message) -> bool:
        disposition = (part.get_content_disposition() or "").lower()
        return disposition == "attachment" or bool(part.get_param("name") or part.get_filename())

    def _text(self, part: Message) -> str:
        try:
            data = part.get_payload(decode=True)
        except Exception:  # a broken transfer encoding: read what is there
            data = None
        if not isinstance(data, bytes):
            raw = part.get_payload()
            data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
        elif _BLOB_TOKEN in data[:64] or _BLOB_TOKEN.decode() in str(part.get_payload())[:64]:
            restored = self.blobs.decode(str(part.get_payload()).encode("ascii", "replace"))
            data = restored if restored is not None else data
        return decode_bytes(data, part.get_content_charset(), self.fallbacks)


def _stdlib_attachments(msg: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart() or not _Bodies._is_file(part):
            continue
        try:
            payload = part.get_payload(decode=True)
        except Exception:
            payload = None
        data = payload if isinstance(payload, bytes) else b""
        found.append(
            Attachment(
                filename=_clean_filename(decode_header_text(part.get_filename() or "")),
                content_type=part.get_content_type(),
                size=len(data),
                content=data,
            )
        )
    return tuple(found)


# Large base64 bodies are cut out of the raw bytes before the stdlib parser sees them:
# its feed parser keeps every line as a separate string, 7-8x the message in memory.
# The body of a part declared base64 that is longer than BLOB_MIN_BYTES and holds
# nothing but base64 characters becomes a placeholder token; it is decoded straight
# from the raw bytes, chunk by chunk, when the attachment is built.
BLOB_THRESHOLD = 1 << 20
BLOB_MIN_BYTES = 1 << 18
_BASE64_CTE = re.compile(rb"(?im)^content-transfer-encoding:[ \t]*base64[ \t]*\r?$")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=\r\n]")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_BLOB_TOKEN = b"HELPDESKMAILBLOB"
_BLOB_PLACEHOLDER = re.compile(rb"HELPDESKMAILBLOB(\d{8})")
_BLOB_CHUNK = 1 << 20


class _Blobs:
    """The base64 bodies cut out of one message, and how to get them back."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.spans: list[tuple[int, int]] = []

    def _find(self) -> None:
        raw = self.raw
        position = 0
        for match in _BASE64_CTE.finditer(raw):
            if match.start() < position:
                continue
            blank = _BLANK_LINE.search(raw, match.end())
            if blank is None:
                break
            body = blank.end()
            boundary = raw.find(b"\n--", body)
            end = boundary if boundary != -1 else len(raw)
            if end > 0 and raw[end - 1 : end] == b"\r":
                end -= 1
            if end - body >= BLOB_MIN_BYTES and not _NOT_BASE64.search(raw, body, end):
                self.spans.append((body, end))
            position = end

    def cut(self) -> bytes:
        """The message with large base64 bodies replaced by placeholders."""
        if len(self.raw) < BLOB_THRESHOLD:
            return self.raw
        self._find()
        if not self.spans:
            return self.raw
        pieces: list[bytes] = []
        position = 0
        for index, (start, end) in enumerate(self.spans):
            pieces.append(self.raw[position:start])
            pieces.append(b"%s%08d" % (_BLOB_TOKEN, index))
            position = end
        pieces.append(self.raw[position:])
        return b"".join(pieces)

    def decode(self, payload: bytes) -> bytes | None:
        """The decoded bytes of a base64 payload that holds a placeholder, else None."""
        match = _BLOB_PLACEHOLDER.search(payload)
        if match is None or int(match[1]) >= len(self.spans):
            return None
        start, end = self.spans[int(match[1])]
        view = memoryview(self.raw)
        chunks: list[bytes] = []
        carry = payload[: match.start()].strip()
        while start < end:
            stop = min(start + _BLOB_CHUNK, end)
            data = carry + bytes(view[start:stop]).replace(b"\r", b"").replace(b"\n", b"")
            usable = len(data) - len(data) % 4
            chunks.append(binascii.a2b_base64(data[:usable]))
            carry = data[usable:]
            start = stop
        chunks.append(_b64(carry + payload[match.end() :].strip()))
        return b"".join(chunks)

    def restore(self, data: bytes) -> bytes:
        """`data` (a serialised part) with every placeholder replaced by its original body."""
        if not self.spans or _BLOB_TOKEN not in data:
            return data
        return _BLOB_PLACEHOLDER.sub(lambda m: self.raw[slice(*self.spans[int(m[1])])], data)


def _b64(data: bytes) -> bytes:
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        return b""


def parse_email(raw: bytes) -> tuple[ParsedEmail, Message]:
    """Parse raw bytes; returns the summary and the stdlib message it came from."""
    blobs = _Blobs(raw)
    try:
        msg = email.message_from_bytes(blobs.cut())
    except Exception as exc:  # RecursionError on absurd nesting, and the like
        msg = email.message.Message()
        msg.defects.append(email.errors.MessageDefect(f"unparseable: {type(exc).__name__}"))
    try:
        return parse_message(msg, blobs), msg
    except RecursionError:
        empty = email.message.Message()
        return parse_message(empty, _Blobs(b"")), empty
