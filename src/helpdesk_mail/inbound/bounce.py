"""Delivery reports (bounces): one message read as a report, and who it says failed.

`Report(msg)` reads one message as a possible report: its parts, the text of the
report itself, its RFC 3464 delivery-status fields, an Amazon SES notification,
the returned message, each computed once, on demand. `Report.bounce(...)` gives
the failed recipients and whether the failure is only a delay (a `Bounce`). The
junk filter's rules use these and the wording tables of `bounce_patterns`.

The readers it applies, one job each: `bounce_text` (parts and their text, and the
caps), `bounce_dsn` (DSN and feedback fields), `bounce_ses` (SES notifications),
`bounce_recipients` (addresses named in a plain-text report), `bounce_returned`
(the returned message). The order of evidence is in `Report._failed`: DSN fields and
X-Failed-Recipients first; a feedback report or a JMRP complaint names its own;
SES; a DSN that names recipients, none failed, is trusted; then a report a relay
wrapped whole, the report's text, the returned message's sole recipient.

Everything is pure and never raises on hostile input; decoding goes through
`mime_headers`. Facts come from `shared/reference/bounce-formats.md` (RFC 3464/6522
structure, the per-MTA table in its section 3, delays in section 4, traps in
section 6).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from functools import cached_property

from . import bounce_dsn, bounce_returned, mime_headers, mime_parts
from .bounce_dsn import REPORT_PARTS, DsnRecipient, dsn_recipients, field_blocks
from .bounce_patterns import body_is_delay
from .bounce_recipients import text_recipients
from .bounce_returned import MAX_RETURNED_IDS, message_ids_in, returned_header_lines, sole_recipient
from .bounce_ses import ses_notification
from .bounce_text import (
    MAX_RECIPIENTS,
    TEXT_SCAN_LIMIT,
    flatten,
    iter_parts,
    messages_in,
    part_text,
)

__all__ = ["Bounce", "Report"]

_MAX_TEXT_PARTS = 4
_ATTACHED_MESSAGES = ("message/rfc822", "message/global")


@dataclass(frozen=True)
class Bounce:
    """Who a delivery report says failed (lower-cased, at most `MAX_RECIPIENTS`), and
    whether the failure is only a delay (`None` when the report does not say).

    `message_ids` are the Message-IDs of the message it returns (attached, its headers,
    or quoted inline; at most `MAX_RETURNED_IDS`): what says which mail of ours, if
    any, the report answers."""

    recipients: tuple[str, ...]
    temporary: bool | None
    message_ids: tuple[str, ...] = ()


class Report:
    """One message read as a possible delivery report; each feature computed once, on demand."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg

    @cached_property
    def parts(self) -> list[Message]:
        """The message and its parts (see `MAX_PARTS`), attached messages as leaves."""
        try:
            return list(iter_parts(self.msg))
        except Exception:
            return [self.msg]

    def report_type(self, part: Message) -> str:
        """The `report-type` parameter of a part (lower case)."""
        return mime_headers.param(part, "report-type").lower()

    @cached_property
    def text_parts(self) -> list[str]:
        """Text of the report itself: text parts outside any attached message."""
        texts: list[str] = []
        for part in self.parts:
            if len(texts) >= _MAX_TEXT_PARTS:
                break
            ctype = mime_headers.content_type(part)
            if not isinstance(mime_parts.payload(part), str):
                continue
            if ctype.startswith("message/") or ctype == "text/rfc822-headers":
                continue
            main = ctype.partition("/")[0]
            if main not in ("text", "multipart") and part is not self.msg:
                continue
            if main not in ("text", "multipart") and ctype != "application/octet-stream":
                continue
            try:
                disposition = (part.get_content_disposition() or "").lower()
            except Exception:
                disposition = ""
            if disposition == "attachment" and texts:
                continue
            text = part_text(part)
            if text.strip():
                texts.append(text)
        return texts

    @cached_property
    def text(self) -> str:
        """The report's text (its text parts joined, at most twice `TEXT_SCAN_LIMIT`)."""
        return "\n".join(self.text_parts)[: TEXT_SCAN_LIMIT * 2]

    @cached_property
    def flat(self) -> str:
        """`text` with runs of whitespace collapsed to one space."""
        return flatten(self.text)

    @cached_property
    def returned_text(self) -> str:
        """The returned message quoted in the report's text, if any."""
        return bounce_returned.returned_text(self.text)

    @cached_property
    def report_parts(self) -> list[Message]:
        """Delivery-status parts, and parts declared `report-type=delivery-status`."""
        return [
            p
            for p in self.parts
            if mime_headers.content_type(p) in REPORT_PARTS
            or self.report_type(p) in ("delivery-status", "global-delivery-status")
        ]

    @cached_property
    def feedback_parts(self) -> list[Message]:
        """Feedback reports (ARF, RFC 5965): the report parts and their containers."""
        return [
            p
            for p in self.parts
            if mime_headers.content_type(p) == "message/feedback-report"
            or (
                mime_headers.content_type(p) == "multipart/report"
                and self.report_type(p) == "feedback-report"
            )
        ]

    def feedback_type(self, part: Message) -> str:
        """The Feedback-Type a feedback part states, `""` if none."""
        if not mime_headers.content_type(part).startswith("message/"):
            return ""
        blocks = bounce_dsn.dsn_blocks(part)
        return blocks[0].get("feedback-type", "") if blocks else ""

    @cached_property
    def attached_messages(self) -> list[Message]:
        """The messages attached as `message/rfc822` parts."""
        return [
            sub
            for part in self.parts
            if mime_headers.content_type(part) == "message/rfc822"
            for sub in messages_in(part)
        ]

    @cached_property
    def dsn_blocks(self) -> list[dict[str, str]]:
        """The delivery-status fields (also when a text part carries them inline)."""
        blocks: list[dict[str, str]] = []
        for part in self.report_parts:
            if mime_headers.content_type(part).startswith("message/"):
                blocks.extend(bounce_dsn.dsn_blocks(part))
        if not blocks and ("final-recipient" in self.flat.lower()):
            # DSN fields inline in a text part (broken MIME, SES/WorkMail "Technical report").
            blocks = field_blocks(self.text)
        return blocks

    @cached_property
    def dsn(self) -> tuple[list[DsnRecipient], bool | None]:
        """The failed recipients of the DSN, and whether the failure is temporary."""
        return dsn_recipients(self.dsn_blocks)

    @cached_property
    def ses(self) -> tuple[str, list[str], bool | None] | None:
        """An Amazon SES notification in the text: (type, recipients, temporary)."""
        return ses_notification(self.text)

    @cached_property
    def returned_sole_recipient(self) -> str | None:
        """The single To/Cc address of the returned message (attached or inline)."""
        for part in self.parts:
            ctype = mime_headers.content_type(part)
            if ctype in _ATTACHED_MESSAGES:
                for sub in messages_in(part):
                    return sole_recipient(
                        (str(n), mime_headers.decode_header_text(v)) for n, v in sub.raw_items()
                    )
            if ctype == "text/rfc822-headers":
                return sole_recipient(returned_header_lines(part_text(part)))
        inline = self.returned_text
        return sole_recipient(returned_header_lines(inline)) if inline else None

    @cached_property
    def returned_message_ids(self) -> tuple[str, ...]:
        """The Message-IDs of the returned message (attached, its headers, or inline)."""
        found: dict[str, None] = {}
        for part in self.parts:
            ctype = mime_headers.content_type(part)
            if ctype in _ATTACHED_MESSAGES:
                for sub in messages_in(part):
                    fields = [
                        (str(n), mime_headers.decode_header_text(v)) for n, v in sub.raw_items()
                    ]
                    found.update(dict.fromkeys(message_ids_in(fields)))
            elif ctype == "text/rfc822-headers":
                lines = returned_header_lines(part_text(part))
                found.update(dict.fromkeys(message_ids_in(lines)))
        if not found and self.returned_text:
            found.update(dict.fromkeys(message_ids_in(returned_header_lines(self.returned_text))))
        return tuple(found)[:MAX_RETURNED_IDS]

    def bounce(
        self,
        rule: str,
        *,
        subject: str,
        failed: Iterable[str],
        excluded: frozenset[str],
        reporter: str,
        ses: bool,
    ) -> Bounce:
        """Who failed, for a message the junk rule `rule` found to be a report.

        `failed` are the message's X-Failed-Recipients values; `excluded` the
        addresses of its own headers (the sender, the reporting postmaster), never a
        failed recipient; `reporter` the reporting host's domain, which completes a
        recipient named without one; `ses` whether the message comes from Amazon SES.
        """
        found = self._failed(rule, subject, failed, excluded, reporter, ses)
        try:
            returned = self.returned_message_ids
        except Exception:  # never raise: a report whose returned message cannot be read
            returned = ()
        return Bounce(found.recipients, found.temporary, returned)

    def _failed(
        self,
        rule: str,
        subject: str,
        failed: Iterable[str],
        excluded: frozenset[str],
        reporter: str,
        ses: bool,
    ) -> Bounce:
        recipients: dict[str, None] = {}
        dsn_recips, temporary = self.dsn
        for r in dsn_recips:
            for addr in (r.original, r.final):
                if addr:
                    recipients.setdefault(addr, None)
        for value in failed:
            for addr in mime_headers.find_addresses(value):
                recipients.setdefault(addr, None)
        if self.feedback_parts:
            return Bounce(self._complaint_recipients(recipients, excluded), None)
        if rule == "jmrp_complaint":
            for sub in self.attached_messages:
                for value in mime_headers.raw_header_values(sub, "x-hmxmroriginalrecipient"):
                    for addr in mime_headers.find_addresses(mime_headers.decode_raw_text(value)):
                        recipients.setdefault(addr, None)
            return Bounce(tuple(recipients), None)
        if ses and self.ses is not None:
            _, ses_recips, ses_temp = self.ses
            for addr in ses_recips:
                recipients.setdefault(addr, None)
            return Bounce(tuple(recipients)[:MAX_RECIPIENTS], ses_temp)
        if not recipients and any(
            "final-recipient" in b or "original-recipient" in b for b in self.dsn_blocks
        ):
            return Bounce((), temporary)  # the DSN names its recipients; none failed
        if not recipients:
            recipients.update(dict.fromkeys(self._wrapped_dsn_recipients()))
        if not recipients:
            for addr in text_recipients(self.text, excluded, reporter):
                recipients.setdefault(addr, None)
        if not recipients:
            sole = self.returned_sole_recipient
            if sole and sole not in excluded:
                recipients[sole] = None
        if temporary is None and (self.dsn[0] or not self.report_parts or self.text_parts):
            temporary = body_is_delay(subject, self.flat)
        return Bounce(tuple(recipients)[:MAX_RECIPIENTS], temporary)

    def _complaint_recipients(
        self, recipients: dict[str, None], excluded: frozenset[str]
    ) -> tuple[str, ...]:
        for part in self.feedback_parts:
            if not mime_headers.content_type(part).startswith("message/"):
                continue
            for block in bounce_dsn.dsn_blocks(part):
                for field in ("original-rcpt-to", "removal-recipient"):
                    for addr in mime_headers.find_addresses(block.get(field, "")):
                        recipients.setdefault(addr, None)
        sole = self.returned_sole_recipient
        if not recipients and sole and sole not in excluded:
            recipients[sole] = None
        return tuple(recipients)[:MAX_RECIPIENTS]

    def _wrapped_dsn_recipients(self) -> list[str]:
        """Recipients of a report a relay wrapped whole into message/rfc822 (flufl dsn_15)."""
        blocks: list[dict[str, str]] = []
        for sub in self.attached_messages:
            for inner in iter_parts(sub, 20):
                if mime_headers.content_type(inner) in REPORT_PARTS:
                    blocks.extend(bounce_dsn.dsn_blocks(inner))
        found: list[str] = []
        for r in dsn_recipients(blocks)[0]:
            found.extend(addr for addr in (r.original, r.final) if addr)
        return found
