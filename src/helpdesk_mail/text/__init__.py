"""Text from HTML: the one HTML-to-text renderer, the tokenizer it shares, tidy text.

Pure and linear in its input; it imports nothing else from helpdesk_mail.

- `html_to_text(html, style)`: readable plain text; the styles `READING` (incoming
  mail), `REPLY` / `REPLY_MARKED` (reply detection) and `ALTERNATIVE` / `TEMPLATE_ALTERNATIVE` (the
  ``text/plain`` part of notifications) are where callers differ (`text.render`).
- `HtmlRender`: the same rendering, incremental and with quote markers (`inbound.quotes_html`).
- `scan_html`: the one-pass HTML tokenizer, also used by `templating.sanitize`.
- `tidy_lines`: trailing blanks and runs of empty lines removed, in linear time.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from .render import (
    ALTERNATIVE,
    DROPPED,
    MAX_HTML_CHARS,
    READING,
    REPLY,
    REPLY_MARKED,
    TEMPLATE_ALTERNATIVE,
    AttrMap,
    HtmlRender,
    MarkerCallback,
    TextStyle,
    finish_text,
    html_to_text,
)
from .scan import RAW_TEXT, Attrs, HtmlSink, scan_html
from .tidy import tidy_lines, tidy_pieces

__all__ = [
    "ALTERNATIVE",
    "DROPPED",
    "MAX_HTML_CHARS",
    "RAW_TEXT",
    "READING",
    "REPLY",
    "REPLY_MARKED",
    "TEMPLATE_ALTERNATIVE",
    "AttrMap",
    "Attrs",
    "HtmlRender",
    "HtmlSink",
    "MarkerCallback",
    "TextStyle",
    "finish_text",
    "html_to_text",
    "scan_html",
    "tidy_lines",
    "tidy_pieces",
]
