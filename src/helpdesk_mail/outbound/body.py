"""A notification's body: its text and HTML parts, and what it attaches.

`set_body` renders the compiled template's HTML and text, one body at a time, each
encoded as soon as it is rendered, and makes them the message's
``multipart/alternative`` (the plain text derived from the HTML, then the HTML).

Rules:

- The reply marker (`reply_marker`): a line on top of both parts and one at the
  bottom; in HTML, elements carrying the marker's class around the template's content,
  in a column at most `MAX_WIDTH_PX` wide (`_HTML_PAGE`). Inbound cuts replies there.
- Files of the new ticket or reply are attached, and inline images of shown messages
  included (``multipart/related``, by Content-ID), only when
  `PlannedEmail.include_attachments` is on; only the images the shown messages own
  (`template_data.Reads.inline`).
- Files and images are attached in order while they fit in
  `NotificationSettings.max_attached_bytes` and `max_attached_files` (`_Budget`); the
  others are only listed, with their links.
- File names are flattened to one line; a content type that is not a plain
  ``type/subtype`` (or is a multipart or message) is sent as
  ``application/octet-stream``.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import html as html_lib
import itertools
import re
from collections.abc import Iterator, Sequence
from email.message import EmailMessage

from ..model import Attachment, Ticket
from ..planned import PlannedEmail
from ..reply_marker import END_CLASS, START_CLASS
from ..settings import NotificationSettings
from ..templating.render import EmailTemplate, header_text, render_compiled
from ..templating.sanitize import escape
from ..templating.values import MaskValues, TemplateData
from ..text import tidy_pieces
from .headers import set_constant, set_header
from .mime_writer import text_part
from .template_data import Reads

__all__ = [
    "MAX_WIDTH_PX",
    "set_body",
]

_CID_REF = re.compile(r'src="cid:([^"]+)"')
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}")
MAX_WIDTH_PX = 600
"""The width of the column every notification is laid out in, at most (mobile-friendly)."""
_HIDDEN = "display:none;max-height:0;max-width:0;overflow:hidden;font-size:0;line-height:0"
_MARKER_STYLE = "color:#999999;font-size:11px;line-height:1.4"
_HTML_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<style>img{{max-width:100%;height:auto}} table{{max-width:100%}}</style></head>\n"
    '<body style="margin:0;padding:0;background-color:#ffffff">\n'
    f'<div style="max-width:{MAX_WIDTH_PX}px;margin:0 auto;padding:12px 16px">\n'
    f'<div class="{START_CLASS}" id="{START_CLASS}" style="{_HIDDEN}"></div>'
    f'<div class="{START_CLASS}-line" style="{_MARKER_STYLE};margin:0 0 12px 0">{{top}}</div>\n'
    "{body}\n"
    f'<div class="{END_CLASS}-line" style="{_MARKER_STYLE};margin:16px 0 0 0">{{bottom}}</div>'
    f'<div class="{END_CLASS}" id="{END_CLASS}" style="{_HIDDEN}"></div>\n'
    "</div>\n</body></html>\n"
)
"""The page around every notification's HTML: the column, and the reply markers
(`reply_marker`) above and below the template's content."""
_PAGE_HEAD, _PAGE_TAIL = _HTML_PAGE.split("{body}")


def _safe_filename(name: str) -> str:
    cleaned = header_text(name, 150).replace("/", "_").replace("\\", "_").replace('"', "'")
    return cleaned.strip(". ") or "attachment"


def _content_type(value: str) -> tuple[str, str]:
    value = value.strip().lower()
    if not _CONTENT_TYPE.fullmatch(value):
        return "application", "octet-stream"
    maintype, subtype = value.split("/")
    if maintype in ("multipart", "message"):
        return "application", "octet-stream"
    return maintype, subtype


def _drained(pieces: list[str]) -> Iterator[str]:
    """The pieces of `tidy_pieces`, each with its line end, each let go once taken: as
    `tidy_text` ends the text."""
    for i, piece in enumerate(pieces):
        pieces[i] = ""
        yield piece + "\n"
    if not pieces:
        yield "\n"


def set_body(
    msg: EmailMessage,
    template: EmailTemplate,
    data: TemplateData,
    markers: tuple[str, str],
    boundary: str,
    planned: PlannedEmail,
    ticket: Ticket | None,
    reads: Reads,
    files: Sequence[Attachment],
    notifications: NotificationSettings,
) -> None:
    """The text and HTML parts (``multipart/alternative``, separated by `boundary`),
    between the reply markers (`markers`: the top and bottom lines); with attachments on,
    the inline images the HTML shows and the files of the message the email shows
    (`files`), in order while they fit in `max_attached_bytes` and `max_attached_files`
    (the others are only listed).

    What `render_compiled_email` renders, one body at a time, each encoded as soon as
    it is rendered (a message of megabytes was held in each body, each mask value and
    each intermediate at once): the HTML, then the plain text (`tidy_text` of the
    template's text version).
    """
    top, bottom = markers
    html = render_compiled(template.body, MaskValues(data))
    attach = planned.include_attachments and ticket is not None
    wanted = dict.fromkeys(html_lib.unescape(c) for c in _CID_REF.findall(html)) if attach else {}
    head = _PAGE_HEAD.format(top=escape(top))
    html_part = text_part((head, html, _PAGE_TAIL.format(bottom=escape(bottom))), "html")
    del html
    text_version = template.body.text_version
    text = render_compiled(text_version, MaskValues(data)) if text_version else ""
    pieces = tidy_pieces(text)
    del text
    plain = text_part(
        itertools.chain((f"{top}\n\n",), _drained(pieces), (f"\n{bottom}\n",)), "plain"
    )
    set_constant(msg, "MIME-Version", "1.0")
    set_header(msg, "Content-Type", f'multipart/alternative; boundary="{boundary}"', read=True)
    msg.set_payload([plain, html_part])
    if not attach:
        return
    budget = _Budget(notifications.max_attached_bytes, notifications.max_attached_files)
    for cid in wanted:
        # only the parts of the message that refers to them (see `template_data._message`)
        a = reads.inline.get(cid)
        if a is None or not budget.fits(a):
            continue
        content = reads.content(a)
        if content and budget.take(content):
            maintype, subtype = _content_type(a.content_type)
            html_part.add_related(
                content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{cid}>",
                filename=_safe_filename(a.filename),
                disposition="inline",
            )
    for a in files:
        if not budget.fits(a):
            continue
        content = reads.content(a)
        if not content or not budget.take(content):  # no bytes: a file the host keeps apart
            continue
        maintype, subtype = _content_type(a.content_type)
        msg.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=_safe_filename(a.filename)
        )


class _Budget:
    """What one notification may still attach: bytes and files."""

    def __init__(self, size: int, files: int) -> None:
        self.bytes = size
        self.files = files

    def fits(self, attachment: Attachment) -> bool:
        """Whether a file of this (stated) size may still be attached."""
        return self.files > 0 and attachment.size <= self.bytes

    def take(self, content: bytes) -> bool:
        """Count these bytes as attached, if they fit."""
        if self.files <= 0 or len(content) > self.bytes:
            return False
        self.files -= 1
        self.bytes -= len(content)
        return True
