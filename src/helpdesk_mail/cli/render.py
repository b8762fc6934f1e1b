"""Preview an email template with sample data (ticket #1234, "Printer on fire").

    helpdesk-mail render --kind ticket_updated
    helpdesk-mail render --kind ticket_closed --template closed.html --format text
    helpdesk-mail render --kind welcome --format eml > welcome.eml

A template file holds the HTML body, optionally after a first line
`Subject: ...` and a blank line (the default subject is used otherwise). Problems
found by `validate_template` (unknown masks, masks the kind does not support,
markup that will be removed) are printed to standard error; with `--strict` they
make the exit status 1. An empty template prints nothing: that email is skipped.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..kinds import TemplateKind
from ..outbound.compose import render_message
from ..samples.preview import (
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from ..settings import SettingsError, load_settings
from ..templating.masks import TemplateError, validate_template
from ..templating.render import parse_template_file, template_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `helpdesk-mail render`."""
    parser.add_argument(
        "--kind",
        required=True,
        choices=[k.value for k in TemplateKind],
        help="which notification to render",
    )
    parser.add_argument(
        "--template",
        metavar="FILE",
        help="a template file (HTML body, optionally after 'Subject: ...'); default: built-in",
    )
    parser.add_argument(
        "--format",
        choices=["html", "text", "eml"],
        default="html",
        help="print the HTML part, the plain-text part or the whole message (default: html)",
    )
    parser.add_argument(
        "--settings", metavar="FILE", help="settings (JSON or TOML) instead of the sample ones"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 if the template has problems"
    )


def run(args: argparse.Namespace) -> int:
    """Render the template; 0 on success, 1 for template problems with --strict, 2 on errors."""
    kind = TemplateKind(args.kind)
    templates: dict[TemplateKind, tuple[str, str]] | None = None
    problems: list[tuple[int, int, str, str]] = []
    if args.template:
        try:
            content = Path(args.template).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"helpdesk-mail render: cannot read {args.template}: {exc}", file=sys.stderr)
            return 2
        subject, body = parse_template_file(content)
        templates = {kind: (subject, body)}
        # positions in the file: the subject sits on line 1, the body after it
        subject_column = content.find(subject) if subject else 0
        body_line = content.count("\n", 0, len(content) - len(body))
        for p in validate_template(subject, kind, html=False):
            problems.append((1, p.column + subject_column, p.code, p.message))
        for p in validate_template(body, kind):
            problems.append((p.line + body_line, p.column, p.code, p.message))
    for line, column, code, text in problems:
        print(f"{args.template}:{line}:{column}: {code}: {text}", file=sys.stderr)
    settings = sample_settings()
    if args.settings:
        try:
            settings = load_settings(args.settings)
        except (OSError, SettingsError) as exc:
            print(f"helpdesk-mail render: {exc}", file=sys.stderr)
            return 2
    try:
        if not template_for(kind, templates)[1].strip():
            print(f"(the {kind.value} template is empty: this email is not sent)", file=sys.stderr)
            return 0
        messages = render_message(
            sample_planned(kind),
            templates,
            settings,
            sample_storage(),
            sample_clock(),
            sample_random(),
        )
    except (TemplateError, ValueError) as exc:
        print(f"helpdesk-mail render: {exc}", file=sys.stderr)
        return 2
    if not messages:
        print(f"(no {kind.value} email to show)", file=sys.stderr)
        return 0
    message = messages[0]
    if args.format == "eml":
        sys.stdout.write(message.as_string())
    else:
        part = message.get_body(preferencelist=(args.format if args.format == "html" else "plain",))
        if part is None:  # pragma: no cover - every message has both parts
            return 2
        sys.stdout.write(part.get_content())
    return 1 if problems and args.strict else 0
