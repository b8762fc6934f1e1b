"""The default notifications' layout is mobile-friendly, in ways a test can check.

- a viewport meta tag (``width=device-width``), so phones do not zoom out;
- everything in one column whose width is a ``max-width`` of at most 600 px;
- no fixed width (``width``, ``min-width``, a ``width`` attribute) over 600 px anywhere;
- the helpdesk's name on top, the new message set apart (a tinted box), a footer with
  the ticket link; the reply marker lines above and below it all.

What it looks like is checked by tests/integration/test_layout_chromium.py (PNGs).
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from helpdesk_mail.kinds import TemplateKind, kinds_where
from helpdesk_mail.outbound.body import MAX_WIDTH_PX
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.samples.preview import (
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.templating import default_template

K = TemplateKind
TICKET_KINDS = kinds_where(about_ticket=True)
_WIDTHS = re.compile(r"(?<![\w-])(?:min-)?width\s*:\s*(\d+(?:\.\d+)?)\s*px", re.IGNORECASE)
_WIDTH_ATTRS = re.compile(r"\swidth\s*=\s*\"?(\d+)", re.IGNORECASE)
_MAX_WIDTH = re.compile(r"max-width\s*:\s*(\d+)px")


def _message(kind: K) -> EmailMessage:
    messages = render_message(
        sample_planned(kind),
        None,
        sample_settings(),
        sample_storage(),
        sample_clock(),
        sample_random(),
    )
    assert messages
    return messages[0]


def _html(kind: K) -> str:
    part = _message(kind).get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _text(kind: K) -> str:
    part = _message(kind).get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


KINDS = pytest.mark.parametrize("kind", list(K), ids=[k.value for k in K])


@KINDS
def test_viewport_meta(kind: K) -> None:
    head = _html(kind).split("</head>")[0]
    meta = re.search(r'<meta name="viewport" content="([^"]*)"', head)
    assert meta is not None and "width=device-width" in meta[1]


@KINDS
def test_one_column_of_at_most_600px(kind: K) -> None:
    body = _html(kind).split("<body", 1)[1]
    first = re.search(r"<div style=\"([^\"]*)\"", body)
    assert first is not None  # the column: the first element of the body
    m = _MAX_WIDTH.search(first[1])
    assert m is not None and int(m[1]) == MAX_WIDTH_PX <= 600
    assert "margin:0 auto" in first[1]


@KINDS
def test_no_fixed_width_over_600px(kind: K) -> None:
    for source in (_html(kind), default_template(kind)[1]):
        for m in _WIDTHS.finditer(source):
            before = source[max(0, m.start() - 4) : m.start() + 1]
            if "max-" in before:
                continue
            assert float(m[1]) <= 600, m[0]
        for m in _WIDTH_ATTRS.finditer(source):
            assert int(m[1]) <= 600, m[0]
    assert "<table" not in default_template(kind)[1]  # no layout tables: blocks reflow


@KINDS
def test_name_on_top_between_the_markers(kind: K) -> None:
    lines = [line for line in _text(kind).splitlines() if line.strip()]
    assert lines[0] == "##- Reply above this line -##"
    assert lines[1] == "Acme Support"
    assert lines[-1].startswith("##- Acme Support") and lines[-1].endswith(" -##")
    html = _html(kind)
    name = html.index(">Acme Support</div>")
    assert html.index("##- Reply above this line -##") < name < html.index("##- Acme Support")


@KINDS
def test_new_message_set_apart_and_a_footer_with_the_ticket_link(kind: K) -> None:
    template = default_template(kind)[1]
    box = "background-color:#f3f6fa;border-left:4px solid #1f4e79"
    assert box in template
    if kind in (K.NEW_TICKET, K.TICKET_UPDATED):
        assert f'<div style="margin:0 0 16px 0;padding:12px 14px;{box}">#What_Happened#' in template
    footer = template[template.index("border-top:1px solid #dddddd") :]
    if kind in TICKET_KINDS:
        assert '<a href="#URL#">Ticket ##TicketID#</a>' in footer
        html = _html(kind)
        tail = html[html.index("border-top:1px solid #dddddd") :]
        assert re.search(r'<a href="https://helpdesk\.acme\.test/[^"]*">Ticket #1234</a>', tail)
    else:
        assert "#URL" in footer
