"""Raw bytes to a `ParsedEmail`: headers, addresses, bodies and attachments, decoded.

The bytes are read once, by `mime.parse_bytes`; headers and bodies are decoded by
`mime_headers`, `mime_parts` and `charsets` (a fallback chain for wrong, unknown or
missing charsets). mail-parser
finds the attachments (RFC 2183 disposition rules, epilogue recovery); it is
shown the parts and only the Content-* headers it reads, since it parses
and decodes every header it is given. Addresses are split before their display
names are decoded, so that an encoded comma stays inside its name. Nothing here
raises on any input: what cannot be read becomes a defect string and an empty
value. Stored text holds no C0 control characters but tab and newline.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import contextvars
import email.utils
import logging
import mimetypes
import quopri
import re
from collections.abc import Iterable
from datetime import datetime
from email.message import Message
from typing import Any

import mailparser

from ..addresses import normalize_email
from ..model import Attachment
from . import mime, mime_bounds, mime_headers, mime_parts
from .charsets import MAX_DETECT_BYTES, decode_bytes, detect_charset, text_codec
from .mime_headers import decode_header_text
from .result import Address, ParsedEmail

__all__ = [
    "ADDRESSES_CAPPED",
    "FLATTENED",
    "HEADERS_CAPPED",
    "MAX_ADDRESSES",
    "MAX_ADDRESS_HEADER_CHARS",
    "parse_email",
]

# mail-parser logs every unhandled part at WARNING. Its warnings about our own calls are
# dropped (a library must not spam the host's logs); the host's own use of mail-parser, and
# its logging configuration, are left as they are.
_PARSING = contextvars.ContextVar("helpdesk_mail_parsing", default=False)


class _QuietWhileWeParse(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not _PARSING.get()


for _name in ("mailparser.core", "mailparser.utils"):
    logging.getLogger(_name).addFilter(_QuietWhileWeParse())

# Where the sender is read from, in order: a message without a usable From is
# still a customer's mail when another header names who sent it.
SENDER_HEADERS = ("from", "sender", "reply-to", "return-path")
_MSGID_RE = re.compile(r"<[^<>\s]{1,998}>")

MAX_ADDRESSES = 1000
"""Addresses taken from one address field (To, Cc, Reply-To...); when there are more,
the rest are left out and the email's defects (and the result's detail) say so."""

MAX_ADDRESS_HEADER_CHARS = 65_536
"""Characters of one address header that are read. The cut falls between two
addresses (the one it would split is left out), and the defects say so."""

# A mailbox piece without an angle address longer than this is not given to the
# stdlib's address parser (slow on long input): only a bare address is looked for.
_MAX_PIECE_FOR_STDLIB = 1024
_ANGLE_ADDR = re.compile(r"<\s*([^<>\s@]{1,256}@[^<>\s]{1,255}?)\s*>")
_ADDRESS_CHAR = r"[^\s<>()\",;:]"
_BARE_ADDR = re.compile(
    rf"(?<!{_ADDRESS_CHAR}){_ADDRESS_CHAR}{{1,256}}@{_ADDRESS_CHAR}{{1,255}}(?!{_ADDRESS_CHAR})"
)


def _one_address(piece: str) -> tuple[str, str]:
    """(display name, address) of one mailbox; an angle address wins over anything else."""
    match = _ANGLE_ADDR.search(piece)
    if match:
        name = (piece[: match.start()] + piece[match.end() :]).strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        return name.strip(), match[1]
    pairs: list[tuple[str, str]] = []
    if len(piece) <= _MAX_PIECE_FOR_STDLIB:
        try:
            pairs = email.utils.getaddresses([piece])
        except Exception:  # the stdlib's address parser has raised on odd input before
            pairs = []
    if pairs and "@" in pairs[0][1] and not any(c.isspace() for c in pairs[0][1]):
        return pairs[0]
    # "Big Bug bb@bug.com": a display name and a bare address without brackets
    bare = _BARE_ADDR.search(piece)
    if bare is None:
        return ("", "")
    name = (piece[: bare.start()] + piece[bare.end() :]).strip().strip('"').strip()
    return (name, bare.group(0))


def _addresses(
    msg: Message, name: str, fallbacks: tuple[str, ...], defects: list[str]
) -> tuple[Address, ...]:
    found: list[Address] = []
    seen: set[str] = set()
    capped: set[str] = set()
    for value in mime_headers.raw_header_values(msg, name):
        pieces = mime_headers.split_addresses(
            mime_headers.decode_raw_text(value, fallbacks, limit=MAX_ADDRESS_HEADER_CHARS)
        )
        if len(value) > MAX_ADDRESS_HEADER_CHARS:
            pieces = pieces[:-1]  # the last piece may be cut
            capped.add(f"only the first {MAX_ADDRESS_HEADER_CHARS} characters read")
        for piece in pieces:
            display, addr = _one_address(piece)
            addr = normalize_email(addr)
            if "@" not in addr or addr in seen or any(c.isspace() for c in addr):
                continue
            if len(found) == MAX_ADDRESSES:
                capped.add(f"only the first {MAX_ADDRESSES} addresses read")
                break
            seen.add(addr)
            found.append(Address(email=addr, name=decode_header_text(display, fallbacks)))
    defects.extend(f"{ADDRESSES_CAPPED}: {name}: {why}" for why in sorted(capped))
    return tuple(found)


ADDRESSES_CAPPED = "AddressesCapped"
"""The defect that says an address field had more than could be read."""

FLATTENED = "Flattened"
"""The defect that says the message was read flattened, with how many parts it had
(`mime_bounds.Flattened`: nested too deep or too many parts)."""

HEADERS_CAPPED = "HeadersCapped"
"""The defect that says header fields were left out or cut (`mime_bounds.HeadersCapped`)."""


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
    for part in mime_parts.iter_parts(msg):
        charset = part.get_content_charset()
        if charset and charset.lower() not in ("us-ascii", "ascii") and charset not in found:
            found.append(charset.lower())
        if len(found) >= 2:
            break
    return tuple(found)


# Headers whose raw 8-bit text goes into the charset guess (with the bodies).
_GUESSED_HEADERS = ("subject", "from", "sender", "reply-to", "to", "cc")


def _undecodable(msg: Message, declared: tuple[str, ...]) -> Iterable[bytes]:
    """The raw 8-bit text of the message that no declared charset, nor UTF-8, decodes:
    body parts first (the longest text, the best sample), then the address and
    subject headers; about `charsets.MAX_DETECT_BYTES` of each at most."""
    candidates = [c for c in (*declared, "utf-8") if text_codec(c)]
    stack = [msg]
    while stack:
        part = stack.pop()
        ctype = mime_headers.content_type(part)
        children = mime_parts.payload(part)
        if isinstance(children, list):
            if not ctype.startswith("message/"):  # an attached message has its own charsets
                stack.extend(reversed(children))
            continue
        if ctype not in ("text/plain", "text/html") or _Bodies._is_file(part):
            continue
        data = mime_parts.body_bytes(part, limit=MAX_DETECT_BYTES)
        if not data.isascii() and not _decodes(data, (part.get_content_charset(), *candidates)):
            yield data
    for name in _GUESSED_HEADERS:
        for value in mime_headers.raw_header_values(msg, name):
            raw = mime_headers.header_bytes(value)
            if not raw.isascii() and not _decodes(raw, candidates):
                yield raw


def _decodes(data: bytes, charsets: Iterable[str | None]) -> bool:
    """Whether one of `charsets` decodes `data` (which may end inside a character)."""
    for charset in charsets:
        codec = text_codec(charset)
        if codec is None:
            continue
        with contextlib.suppress(Exception):  # any codec failure: not this one
            codecs.getincrementaldecoder(codec)().decode(data, final=False)
            return True
    return False


def _attachment_content(item: dict[str, Any], blobs: _Blobs) -> bytes:
    payload = item.get("payload") or ""
    if item.get("binary"):
        if _BLOB_TOKEN.decode() in payload:
            restored = blobs.decode(payload.encode("ascii", "replace"))
            if restored is not None:
                return restored
        return mime_parts.decode_base64(str(payload).encode("ascii", "replace"))
    charset = text_codec(item.get("charset")) or "utf-8"
    try:
        return str(payload).encode(charset)
    except Exception:  # a codec that cannot write these characters
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
_MESSAGE_FILES = frozenset((*ATTACHED_MESSAGE_TYPES, *REPORT_PART_NAMES))


def _clean_filename(name: str) -> str:
    # A backslash cannot appear in a MIME token, so it came from a quoted-string,
    # where it is a quoted-pair (RFC 2045, RFC 5322): "C:\\TEMP\\a.png" means C:TEMPa.png.
    return re.sub(r"\\(.)", r"\1", name).strip()


def _attachments(parser: Any, msg: Message, view: _View, blobs: _Blobs) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    reported: set[int] = set()  # the parts mail-parser reported (by id)
    named: set[str] | None = None  # the parts' real file names, read only when needed
    for item in parser.attachments:
        part = view.part_of(item)
        if part is not None:
            reported.add(id(part))
        content_id = (item.get("content-id") or "").strip().strip("<>") or None
        content_type = (item.get("mail_content_type") or "application/octet-stream").lower()
        filename = _clean_filename(decode_header_text(item.get("filename") or ""))
        disposition = (item.get("content-disposition") or "").lower()
        inline = disposition.startswith("inline") or (bool(content_id) and not disposition)
        if part is not None and mime_headers.content_type(part).startswith("message/"):
            # an attached message: its real file name, else named after its subject
            if named is None:
                named = _part_filenames(msg)
            if filename not in named:
                filename = _message_name(part)
            inline = disposition.startswith("inline")
        elif content_id and filename.strip("<>") == content_id:
            filename = _name_for(content_id, content_type)
        elif _INVENTED_NAME.fullmatch(filename):
            if named is None:
                named = _part_filenames(msg)
            if filename not in named:
                # mail-parser invents a random name for an unnamed part; ours is stable
                filename = _unnamed(len(found) + 1, content_type)
        content = _part_content(part, blobs) if part is not None else None
        if content is None:
            content = _attachment_content(item, blobs)
        found.append(
            Attachment(
                filename=filename,
                content_type=content_type,
                size=len(content),
                content=content,
                inline=inline,
                content_id=content_id,
            )
        )
    return (*found, *_unnamed_message_parts(msg, reported, blobs))


def _message_name(part: Message) -> str:
    """The file name of an attached message or report that carries none (Zammad's)."""
    ctype = mime_headers.content_type(part)
    if ctype in REPORT_PART_NAMES:
        return REPORT_PART_NAMES[ctype]
    inner = mime_parts.payload(part)
    first = inner[0] if isinstance(inner, list) and inner else None
    subject = decode_header_text(first.get("subject")) if isinstance(first, Message) else ""
    return f"{subject or 'message'}.eml"


def _unnamed_message_parts(msg: Message, reported: set[int], blobs: _Blobs) -> list[Attachment]:
    """Attached messages and delivery reports that mail-parser did not report (it takes
    them for body text when they carry no file name).

    An attached message is one attachment, its whole text: what it contains (its own
    attachments, the messages attached to it) is not looked into.
    """
    found: list[Attachment] = []
    for part in mime_parts.iter_parts(msg, into_messages=False):
        ctype = mime_headers.content_type(part)
        if id(part) in reported or (
            ctype not in REPORT_PART_NAMES and ctype not in ATTACHED_MESSAGE_TYPES
        ):
            continue
        name = _message_name(part)
        with contextlib.suppress(Exception):  # a malformed RFC 2231 parameter
            name = _clean_filename(decode_header_text(part.get_filename() or "")) or name
        try:
            content = _part_content(part, blobs) or b""
        except Exception:  # a broken inner message: keep the attachment, empty
            content = b""
        found.append(
            Attachment(filename=name, content_type=ctype, size=len(content), content=content)
        )
    return found


def _part_content(part: Message, blobs: _Blobs) -> bytes | None:
    """The bytes of a file part: transfer-decoded (base64 leniently), an attached
    message written back whole; None for a part that is not a leaf."""
    ctype = mime_headers.content_type(part)
    stored = mime_parts.payload(part)
    if ctype in ATTACHED_MESSAGE_TYPES:
        return _message_bytes(part, blobs)
    if ctype.startswith("message/") or ctype in REPORT_PART_NAMES:
        return _part_bytes(part)
    if not isinstance(stored, str):
        return None
    if _BLOB_TOKEN.decode() in stored[:64]:
        restored = blobs.decode(stored.encode("ascii", "replace"))
        if restored is not None:
            return restored
    return mime_parts.body_bytes(part)


def _message_bytes(part: Message, blobs: _Blobs) -> bytes:
    """An attached message as a file: the message it carries, written back once."""
    inner = mime_parts.payload(part)
    if isinstance(inner, str):
        data = mime_parts.body_bytes(part)
    else:
        data = blobs.restore(b"\n".join(mime_parts.flatten(m) for m in inner))
        if len(inner) == 1 and not inner[0].keys():  # no header: the text as received
            data = data[1:]
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64":  # not allowed for message/rfc822 (RFC 2046), but seen
        return mime_parts.decode_base64(data)
    if cte == "quoted-printable":
        return quopri.decodestring(data)
    return data


def _part_bytes(part: Message) -> bytes:
    payload = mime_parts.payload(part)
    if isinstance(payload, list):
        return b"\n".join(p.as_bytes() for p in payload)
    return mime_parts.body_bytes(part)


# The shape of the names mail-parser invents (`random_string()` + ".rtf" or ".txt").
_INVENTED_NAME = re.compile(r"[a-z]{10}\.(?:rtf|txt)")


def _part_filenames(msg: Message) -> set[str]:
    """The file names the parts of `msg` really carry (as mail-parser reports them)."""
    names: set[str] = set()
    for part in mime_parts.iter_parts(msg):
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
    defects: list[str] = [
        f"{type(d).__name__}: {d}"
        if isinstance(d, mime_bounds.Flattened | mime_bounds.HeadersCapped)
        else type(d).__name__
        for d in getattr(msg, "defects", ())
    ]
    fallbacks = _body_charsets(msg)
    guess = detect_charset(_undecodable(msg, fallbacks))
    if guess is not None:  # after what the message declares, and after UTF-8
        fallbacks = (*fallbacks, "utf-8", guess)
    quiet = _PARSING.set(True)
    try:
        view = _View(msg)
        parser: Any = mailparser.MailParser(view.root)
        attachments = _attachments(parser, msg, view, blobs)
    except Exception as exc:  # mail-parser failed on this structure: use the stdlib alone
        defects.append(f"MailParserError: {type(exc).__name__}")
        attachments = _stdlib_attachments(msg, blobs)
    finally:
        _PARSING.reset(quiet)
    bodies = _Bodies(blobs, fallbacks)
    bodies.visit(msg)
    senders = next(
        (found for name in SENDER_HEADERS if (found := _addresses(msg, name, fallbacks, defects))),
        (),
    )
    subject = next(iter(mime_headers.raw_header_values(msg, "subject")), None)
    return ParsedEmail(
        message_id=_message_id(msg.get("message-id")),
        in_reply_to=_message_ids(msg.get_all("in-reply-to") or ()),
        references=_message_ids(msg.get_all("references") or ()),
        sender=senders[0] if senders else Address(email=""),
        to=_addresses(msg, "to", fallbacks, defects),
        cc=_addresses(msg, "cc", fallbacks, defects),
        reply_to=_addresses(msg, "reply-to", fallbacks, defects),
        subject=decode_header_text(subject, fallbacks),
        date=_date(msg.get("date")),
        text=mime_headers.clean_body("\n".join(bodies.plain)),
        html=mime_headers.clean_body("\n".join(bodies.html)) if bodies.html else None,
        attachments=attachments,
        defects=tuple(defects),
        headers=mime_headers.decoded_headers(msg, fallbacks),
    )


# The headers of a part that mail-parser reads to find attachments (its mime_header_view).
_MAILPARSER_HEADERS = frozenset(
    {"content-type", "content-disposition", "content-id", "content-transfer-encoding"}
)


MAX_VIEW_DEPTH = 32
"""Nesting levels of multiparts mail-parser is shown; deeper parts are shown as the
parts of the container at that level (its recursive walk would exhaust the stack)."""

_PART_MARKER = "HELPDESKMAILPART"
_PART_MARKER_RE = re.compile(r"HELPDESKMAILPART(\d{8})")


def _view_of(part: Message) -> Message:
    """A part as mail-parser is shown it: of its headers only the four Content-* headers
    mail-parser reads (each cut at `mime_headers.MAX_HEADER_CHARS`), no payload yet."""
    view = mime_headers.Part()
    for key, value in part.raw_items():
        if str(key).lower() in _MAILPARSER_HEADERS:
            view[key] = (
                mime_headers.clip(value, mime_headers.MAX_HEADER_CHARS)
                if isinstance(value, str)
                else value
            )
    view.set_default_type(part.get_default_type())
    view.preamble, view.epilogue = part.preamble, part.epilogue
    view.defects = part.defects
    return view


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


class _View:
    """The message as mail-parser is shown it, to find the attachments.

    mail-parser parses and decodes every header of the message it is given
    (addresses, dates, Received, all of them twice over), and copies and decodes
    every body (twice the message in memory); only its attachments are used here,
    which depend on the parts and their Content-* headers alone. So it is shown the
    same tree of parts with those headers only, each leaf holding a short marker
    instead of its body: the marker in an attachment mail-parser reports names the
    part, whose bytes are then read from the message itself. An attached message
    (`message/*`) is a leaf: what it carries is not looked into. A multipart
    attached as a file is shown as it is (mail-parser writes its parts out).
    """

    def __init__(self, msg: Message) -> None:
        self.parts: list[Message] = []
        self.root = _view_of(msg)
        stack: list[tuple[Message, Message, int]] = [(msg, self.root, 0)]
        while stack:
            part, view, depth = stack.pop()
            body = mime_parts.payload(part)
            ctype = mime_headers.content_type(part)
            if ctype.startswith("message/") and ctype not in _MESSAGE_FILES:
                view.set_payload([])  # message/partial, message/external-body: no file
                continue
            if not isinstance(body, list) or ctype.startswith("message/"):
                view.set_payload(f"{_PART_MARKER}{len(self.parts):08d}")
                self.parts.append(part)
                continue
            if _disposition(part) == "attachment":
                view.set_payload([*body])
                continue
            children = body if depth < MAX_VIEW_DEPTH else _leaves(part)
            views = [_view_of(child) for child in children]
            view.set_payload(list[Message | str](views))
            stack.extend((child, v, depth + 1) for child, v in zip(children, views, strict=True))

    def part_of(self, item: dict[str, Any]) -> Message | None:
        """The part an attachment mail-parser reports was read from (None: not a marker)."""
        payload = item.get("payload")
        if not isinstance(payload, str) or len(payload) > 64:
            return None
        match = _PART_MARKER_RE.fullmatch(payload.strip())
        if match is None and item.get("binary"):
            with contextlib.suppress(binascii.Error, ValueError, UnicodeDecodeError):
                decoded = base64.b64decode(payload, validate=True).decode("ascii")
                match = _PART_MARKER_RE.fullmatch(decoded)
        if match is None or int(match[1]) >= len(self.parts):
            return None
        return self.parts[int(match[1])]


def _leaves(part: Message) -> list[Message]:
    """The parts under `part` that are not multiparts (attached messages are leaves)."""
    return [
        p
        for p in mime_parts.iter_parts(part, into_messages=False)
        if p is not part
        and (
            not isinstance(mime_parts.payload(p), list)
            or mime_headers.content_type(p).startswith("message/")
        )
    ]


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

    def visit(self, msg: Message) -> None:
        """Collect the bodies of `msg`, in order, at any depth (without recursion)."""
        # Work items: a part to visit and the bodies it adds to, or the alternatives of
        # a multipart/alternative to choose from once they are all visited.
        stack: list[tuple[Message, _Bodies] | tuple[list[_Bodies], _Bodies]] = [(msg, self)]
        while stack:
            what, into = stack.pop()
            if isinstance(what, list):
                into._choose(what)
                continue
            part = what
            ctype = part.get_content_type()
            if ctype.startswith("message/"):
                continue
            children = mime_parts.payload(part)
            if isinstance(children, list):
                if ctype == "multipart/alternative":
                    subs = [_Bodies(self.blobs, self.fallbacks) for _ in children]
                    stack.append((subs, into))
                    stack.extend(reversed(list(zip(children, subs, strict=True))))
                else:
                    stack.extend((child, into) for child in reversed(children))
                continue
            if ctype not in ("text/plain", "text/html") or self._is_file(part):
                continue
            text = self._text(part)
            if text.strip():
                (into.plain if ctype == "text/plain" else into.html).append(text)

    def _choose(self, alternatives: list[_Bodies]) -> None:
        """The last plain and the last HTML version among the visited alternatives."""
        found: dict[str, list[str]] = {}
        for sub in alternatives:
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
        stored = mime_parts.payload(part)
        stored = stored if isinstance(stored, str) else ""
        if not isinstance(data, bytes):
            data = stored.encode("utf-8", "surrogateescape")
        elif _BLOB_TOKEN in data[:64] or _BLOB_TOKEN.decode() in stored[:64]:
            restored = self.blobs.decode(stored.encode("ascii", "replace"))
            data = restored if restored is not None else data
        return decode_bytes(data, part.get_content_charset(), self.fallbacks)


def _stdlib_attachments(msg: Message, blobs: _Blobs) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in mime_parts.iter_parts(msg, into_messages=False):
        if not isinstance(mime_parts.payload(part), str) or not _Bodies._is_file(part):
            continue
        try:
            data = _part_content(part, blobs) or b""
        except Exception:
            data = b""
        found.append(
            Attachment(
                filename=_clean_filename(decode_header_text(part.get_filename() or "")),
                content_type=part.get_content_type(),
                size=len(data),
                content=data,
            )
        )
    return (*found, *_unnamed_message_parts(msg, set(), blobs))


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
    msg = mime.parse_bytes(blobs.cut())
    try:
        return parse_message(msg, blobs), msg
    except RecursionError:
        empty = mime_headers.Part()
        return parse_message(empty, _Blobs(b"")), empty
