"""Speed of rendering the default "ticket updated" template, against bare chevron.

- renders/s of the default "ticket updated" HTML body with 5 recent messages: each
  render computes every mask value from the same `TemplateData` (escaping, dates,
  the message fragments) and runs chevron over the pre-tokenized template;
- the same output from a bare `chevron.render` of the equivalent hand-written
  mustache template, with the data already prepared as plain dicts (chevron
  re-tokenizes the template on every call, as its users do). Both produce the same
  HTML, which is checked before timing.

Rounds alternate between the two to cancel machine noise; the ratio is the median
of the per-round ratios (engine time / chevron time). Target: <= 1.3.

Also shown, for context (not in the ratio): the whole email (`render_email`: subject,
HTML and plain text), and `render_message` (template data from storage, links,
MIME message with attachments) per recipient.

Run from the repository root with no arguments; the last line is JSON.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import chevron

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.model import Comment
from helpdesk_mail.outbound.compose import build_template_data, render_message
from helpdesk_mail.outbound.recipient_links import recipient_data
from helpdesk_mail.samples.preview import (
    CUSTOMER,
    TECH,
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.templating import compile_template, default_template, render_email
from helpdesk_mail.templating.render import render_compiled
from helpdesk_mail.templating.values import MaskValues, TemplateData, format_date, format_size

ROUNDS = 15
TARGET_SECONDS = 0.15

STYLE = "font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.5;color:#222222"
NAME = (
    "font-size:18px;font-weight:bold;color:#1f4e79;margin:0 0 16px 0;padding:0 0 8px 0;"
    "border-bottom:2px solid #1f4e79"
)
BOX = "margin:0 0 16px 0;padding:12px 14px;background-color:#f3f6fa;border-left:4px solid #1f4e79"
BUTTON = (
    "display:inline-block;padding:8px 14px;background-color:#1f4e79;color:#ffffff;"
    "text-decoration:none;border-radius:4px"
)
HISTORY = (
    "margin:24px 0 8px 0;color:#555555;font-size:12px;font-weight:bold;text-transform:uppercase"
)
FOOTER = (
    "margin:24px 0 0 0;padding:12px 0 0 0;border-top:1px solid #dddddd;color:#666666;font-size:12px"
)
MSG_DIV = "margin:0 0 12px 0;padding:0 0 8px 0;border-bottom:1px solid #dddddd"
MSG_HEAD = "margin:0 0 6px 0;color:#555555;font-size:12px"
FILES = (
    '{{#has_files}}<ul>{{#files}}<li>{{#url}}<a href="{{url}}">{{name}}</a>{{/url}}'
    "{{^url}}{{name}}{{/url}}{{#size}} ({{size}}){{/size}}</li>{{/files}}</ul>\n{{/has_files}}"
)
HANDWRITTEN = (
    f'<div style="{STYLE}">\n'
    f'<div style="{NAME}">{{{{helpdesk}}}}</div>\n'
    f'<div style="{BOX}">'
    "{{#what}}<p>{{what}}</p>{{/what}}{{#reply}}<div>{{{html}}}</div>{{/reply}}</div>\n"
    "{{#recent}}" + FILES + "{{/recent}}\n"
    f'<p style="margin:0 0 16px 0"><a href="{{{{url}}}}" style="{BUTTON}">View the ticket</a></p>\n'
    f'<p style="{HISTORY}">Recent messages</p>\n'
    "{{#messages}}"
    f'<div style="{MSG_DIV}"><p style="{MSG_HEAD}"><b>{{{{author}}}}</b>'
    "{{#date}}, {{date}}{{/date}}{{#techs_only}} (techs only){{/techs_only}}</p>"
    "<div>{{{html}}}</div>" + FILES + "</div>\n"
    "{{/messages}}\n\n"
    f'<div style="{FOOTER}">\n'
    '<a href="{{url}}">Ticket #{{ticket_id}}</a> \u00b7 {{status}} \u00b7 Priority: {{priority}}'
    " \u00b7 {{category}}<br>\n"
    '{{#unsubscribe}}<a href="{{unsubscribe}}">Unsubscribe from this ticket</a>{{/unsubscribe}}\n'
    "</div>\n</div>\n"
)


def _files(files: Any) -> dict[str, Any]:
    items = [{"name": f.filename, "url": f.url, "size": format_size(f.size)} for f in files]
    return {"has_files": bool(items), "files": items}


def chevron_data(d: TemplateData) -> dict[str, Any]:
    """The same data as plain dicts, prepared once (outside the timed loop)."""
    reply = d.what_happened_message
    return {
        "helpdesk": d.helpdesk_name,
        "what": d.what_happened,
        "reply": {"html": reply.html} if reply else False,
        "recent": _files(d.recent_attachments),
        "url": d.url,
        "ticket_id": d.ticket_id,
        "status": d.status,
        "priority": d.priority,
        "category": d.category,
        "messages": [
            {
                "author": m.author,
                "date": format_date(m.date),
                "techs_only": m.techs_only,
                "html": m.html,
                **_files(m.attachments),
            }
            for m in d.messages[:5]
        ],
        "unsubscribe": d.unsubscribe_url,
    }


def sample_data() -> TemplateData:
    storage = sample_storage()
    base = storage.ticket_comments[1234][-1].created_at
    for i in range(3):
        storage.ticket_comments[1234].append(
            Comment(
                1234,
                TECH if i % 2 else CUSTOMER,
                f"Follow-up {i}: the replacement part arrives on Tuesday.",
                base + timedelta(hours=i + 1),
                id=10 + i,
                body_html=f"<p>Follow-up {i}: the <b>replacement part</b> arrives on Tuesday.</p>",
            )
        )
    planned = sample_planned(TemplateKind.TICKET_UPDATED)
    settings = sample_settings()
    data = build_template_data(planned, settings, storage, sample_clock())
    data = recipient_data(data, planned, planned.to[0], settings, sample_clock().now())
    assert len(data.messages) >= 5
    return data


def timed(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def main() -> int:
    data = sample_data()
    _, body = default_template(TemplateKind.TICKET_UPDATED)
    compiled = compile_template(body, TemplateKind.TICKET_UPDATED)
    prepared = chevron_data(data)

    def engine() -> str:
        return render_compiled(compiled, MaskValues(data))

    def bare() -> str:
        return chevron.render(HANDWRITTEN, prepared)

    ours, theirs = engine(), bare()
    if ours != theirs:
        import difflib

        sys.stdout.writelines(difflib.unified_diff(theirs.splitlines(True), ours.splitlines(True)))
        print("the two templates do not render the same HTML", file=sys.stderr)
        return 1

    # calibrate: about TARGET_SECONDS per batch
    n = 50
    while timed(bare, n) < TARGET_SECONDS / 2:
        n *= 2
    ratios: list[float] = []
    engine_rates: list[float] = []
    chevron_rates: list[float] = []
    for r in range(ROUNDS):
        order = (engine, bare) if r % 2 == 0 else (bare, engine)
        times = {fn: timed(fn, n) for fn in order}
        ratios.append(times[engine] / times[bare])
        engine_rates.append(n / times[engine])
        chevron_rates.append(n / times[bare])

    full_n = max(n // 4, 20)
    email_rate = full_n / timed(lambda: render_email(TemplateKind.TICKET_UPDATED, data), full_n)
    planned = sample_planned(TemplateKind.TICKET_UPDATED)
    planned = dataclasses.replace(planned, to=planned.to * 10)
    settings, storage = sample_settings(), sample_storage()
    clock, rnd = sample_clock(), sample_random()
    msg_n = max(full_n // 10, 5)
    message_s = timed(
        lambda: render_message(planned, None, settings, storage, clock, rnd), msg_n
    ) / (msg_n * 10)

    result = {
        "renders_per_s": round(statistics.median(engine_rates)),
        "chevron_renders_per_s": round(statistics.median(chevron_rates)),
        "ratio_to_chevron": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "rounds": ROUNDS,
        "renders_per_round": n,
        "render_email_per_s": round(email_rate),
        "render_message_per_recipient_per_s": round(1 / message_s),
        "html_bytes": len(ours.encode()),
        "target_ratio": 1.3,
    }
    print("default 'ticket updated' template, 5 recent messages")
    print(f"  engine (pre-tokenized, values per render): {result['renders_per_s']:>8} renders/s")
    print(
        "  bare chevron.render, hand-written:          "
        f"{result['chevron_renders_per_s']:>8} renders/s"
    )
    print(
        f"  ratio engine/chevron: median {result['ratio_to_chevron']} "
        f"(min {result['ratio_min']}, max {result['ratio_max']}; target <= 1.3)"
    )
    print(f"  whole email (subject + HTML + text):        {result['render_email_per_s']:>8} /s")
    print(
        "  render_message (storage -> MIME), per recipient: "
        f"{result['render_message_per_recipient_per_s']} /s"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
