"""A notification's MIME bytes: its text parts, boundaries and writer.

The text and HTML parts are built directly (`text_part`), their multipart boundary
derived from the Message-ID (`multipart_boundary`), and the message written by a
writer that holds less of it in memory (`Notification`, `_Generator`).

Rules:

- The bytes on the wire are those ``set_content``/``add_alternative`` and the email
  package's writer would give: `_quoted_printable` is `email.quoprimime.body_encode`
  line for line.
- Every path is linear in the text and holds it only a few times: bodies are encoded
  and written a slice of whole lines at a time (`_line_slices`, `_SLICE`).
- Boundaries start with ``==``, which no quoted-printable body contains; every
  multipart has one before it is written (`set_boundaries`), so that the writer need
  not search the parts for a string they do not hold.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import Policy
from io import BytesIO
from typing import Any

from .headers import FOLDED_LINE, POLICY, set_constant

__all__ = [
    "Notification",
    "multipart_boundary",
    "set_boundaries",
    "text_part",
]


def multipart_boundary(message_id: str) -> str:
    """The multipart boundary of a message: unique as its Message-ID, and starting with
    ``==``, which no quoted-printable body contains."""
    # 20 hex digits: the Content-Type field stays on one line (see `headers.set_header`)
    return "==hm_" + hashlib.sha256(message_id.encode()).hexdigest()[:20] + "=="


def text_part(texts: Iterable[str], subtype: str) -> EmailMessage:
    """A UTF-8, quoted-printable text part of `texts` one after the other, as
    ``set_content("".join(texts), subtype=..., charset="utf-8", cte="quoted-printable")``
    makes it, its headers set as they are written.

    The body is encoded a slice of whole lines at a time: the email package's encoder
    holds the whole text five times over (bytes, lines, joined, decoded, encoded), and
    the same bytes come out of it slice by slice (it encodes each line alone).
    """
    part = EmailMessage(policy=POLICY)
    set_constant(part, "Content-Type", f'text/{subtype}; charset="utf-8"')
    set_constant(part, "Content-Transfer-Encoding", "quoted-printable")
    encoded: list[str] = []
    for piece in _line_slices(texts):
        # what set_content encodes: the text's UTF-8 bytes, as Latin-1 characters, each
        # line ending in LF, a line end at the end
        if "\r" in piece:
            piece = piece.replace("\r\n", "\n").replace("\r", "\n")
        if not piece.endswith("\n"):
            piece += "\n"
        if not piece.isascii():
            piece = piece.encode("utf-8").decode("latin-1")
        encoded.extend(_quoted_printable(piece))
    part.set_payload("".join(encoded) if encoded else "\n")
    return part


# `email.quoprimime.body_encode(body, 78)`, the encoder set_content uses, line for line,
# with its output gathered in strings of many lines: it keeps a string per 77 characters
# of output (a 4 MB line of spaces: 8 times its size).
_QP_MAP = [f"={c:02X}" for c in range(256)]
for _c in (
    b" !\"#$%&'()*+,-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
    b"abcdefghijklmnopqrstuvwxyz{|}~\t\r\n"
):
    _QP_MAP[_c] = chr(_c)
_QP_GROUP = 4096  # output lines gathered into one string


def _quoted_printable(body: str) -> Iterator[str]:
    """`quoprimime.body_encode(body, 78)` (line ends LF), in pieces to concatenate.
    `body`: characters below 256, ending in a line end."""
    body = body.translate(_QP_MAP)
    width = FOLDED_LINE - 1  # room for the "=" of a soft break
    out: list[str] = []
    append = out.append
    for line in body.splitlines():
        start = 0
        last = len(line) - 1 - FOLDED_LINE
        while start <= last:
            stop = start + width
            if line[stop - 2] == "=":  # never split an escape
                append(line[start : stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                append(line[start:stop])
                start = stop - 1
            else:
                append(line[start:stop] + "=")
                start = stop
            if len(out) >= _QP_GROUP:
                yield "\n".join(out) + "\n"
                out.clear()
        if line and line[-1] in " \t":
            room = start - last
            quoted = f"={ord(line[-1]):02X}"
            if room >= 3:
                end = quoted
            elif room == 2:
                end = line[-1] + "=\n"
            else:
                end = "=\n" + quoted
            append(line[start:-1] + end)
        else:
            append(line[start:])
        if len(out) >= _QP_GROUP:
            yield "\n".join(out) + "\n"
            out.clear()
    append("")  # the body ends in a line end
    yield "\n".join(out)


_SLICE = 1 << 16


def _line_slices(texts: Iterable[str]) -> Iterator[str]:
    """The text of `texts` one after the other, in slices that end where a line ends
    (``\\n``), of about `_SLICE` characters; the last one may end otherwise."""
    carry = ""
    for text in texts:
        start = 0
        while start < len(text):
            end = text.find("\n", start + max(_SLICE - len(carry), 0))
            if end == -1:
                carry += text[start:]
                break
            yield carry + text[start : end + 1]
            carry, start = "", end + 1
    if carry:
        yield carry


def set_boundaries(msg: EmailMessage, boundary: str) -> None:
    """A boundary for each multipart that has none (attachments and inline images wrap
    the parts), so that the writer does not make one: it joins the whole text of the
    parts to find a string they do not hold. They start like `multipart_boundary`'s, with
    ``==``, which no quoted-printable body holds (nor base64 but at a line's end)."""
    stack: list[tuple[EmailMessage, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if part.is_multipart():
            if not part.get_boundary():
                part.set_boundary(f"{boundary[:-2]}_{depth}==")
            stack.extend(
                (child, depth + 1) for child in part.iter_parts() if isinstance(child, EmailMessage)
            )


class _Generator(BytesGenerator):
    """The email package's writer, writing the same bytes in less memory: it splits a
    body into a list of lines (50 bytes a line more than the text), and writes each part
    to a buffer of its own before its headers (a copy of the body per level), so that it
    may still change them (a boundary it makes, a transfer encoding it changes). A part
    with its boundary set and an ASCII body needs neither: it is written straight out."""

    def _write(self, msg: Any) -> None:
        stored = getattr(msg, "_payload", None)
        if (isinstance(stored, str) and not stored.isascii()) or (
            msg.is_multipart() and not msg.get_boundary()
        ):
            super()._write(msg)  # type: ignore[misc]
            return
        self._write_headers(msg)  # type: ignore[attr-defined]
        self._dispatch(msg)  # type: ignore[attr-defined]

    def _handle_multipart(self, msg: Any) -> None:
        boundary = msg.get_boundary()
        parts = msg.get_payload()
        if (
            not boundary
            or not isinstance(parts, list)
            or msg.preamble is not None
            or msg.epilogue is not None
        ):
            super()._handle_multipart(msg)  # type: ignore[misc]
            return
        line_end: str = getattr(self, "_NL", "\n")
        out = self._fp  # type: ignore[attr-defined]
        for i, part in enumerate(parts):
            self.write(("" if i == 0 else line_end) + f"--{boundary}{line_end}")
            self.clone(out).flatten(part, unixfrom=False, linesep=line_end)
        self.write(f"{line_end}--{boundary}--{line_end}")

    def _write_lines(self, lines: str) -> None:
        start = 0
        while start < len(lines):
            end = lines.find("\n", start + _SLICE)
            end = len(lines) if end == -1 else end + 1
            piece = lines[start:end]
            if "\r" in piece:
                piece = piece.replace("\r\n", "\n").replace("\r", "\n")
            line_end: str = getattr(self, "_NL", "\n")  # the policy's, set by flatten
            self.write(piece.replace("\n", line_end) if line_end != "\n" else piece)
            start = end


class Notification(EmailMessage):
    """A notification: written as the email package writes an `EmailMessage`, in less
    memory (see `_Generator`)."""

    def as_bytes(self, unixfrom: bool = False, policy: Policy | None = None) -> bytes:
        """The message as bytes (see `email.message.Message.as_bytes`)."""
        out = BytesIO()
        writer = _Generator(
            out, mangle_from_=False, policy=self.policy if policy is None else policy
        )
        writer.flatten(self, unixfrom=unixfrom)
        return out.getvalue()
