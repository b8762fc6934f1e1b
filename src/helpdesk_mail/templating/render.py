"""Rendering compiled templates: one kind of email, its subject, HTML and plain text.

A host's templates are a mapping kind -> (subject, body), e.g.
``{TemplateKind.TICKET_CLOSED: ("Closed: #Subject#", "<p>#What_Happened#</p>")}``.
Kinds it leaves out use the defaults (`default_templates()`); a kind mapped to an
empty body is skipped: `render_email` returns None and no email is sent. An empty
subject with a body falls back to the default subject.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from ..kinds import TemplateKind
from ..text import tidy_lines
from .compile import CompiledTemplate, Format, SlotContext, compile_template
from .masks import TemplateError, kind_of
from .values import MaskValues, TemplateData

__all__ = [
    "EmailTemplate",
    "RenderedEmail",
    "Templates",
    "compile_email",
    "default_template",
    "default_templates",
    "header_text",
    "parse_template_file",
    "render_compiled",
    "render_compiled_email",
    "render_email",
    "render_template",
    "template_for",
    "tidy_text",
]

Templates = Mapping[TemplateKind, tuple[str, str]]
"""A host's templates: kind of email -> (subject, HTML body)."""

MAX_SUBJECT = 250
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


@dataclass(frozen=True)
class RenderedEmail:
    """A rendered template: one-line subject, HTML body and its plain-text alternative."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class EmailTemplate:
    """One kind's subject and body, compiled: what each email of a planned email renders."""

    kind: TemplateKind
    subject: CompiledTemplate
    body: CompiledTemplate
    """The HTML body; a blank body is compiled as the empty template."""

    @property
    def skipped(self) -> bool:
        """True when the body is blank or renders nothing: no email is sent."""
        return self.body.is_empty

    def uses(self, mask: str) -> bool:
        """Whether the subject or the body shows the mask named `mask` (e.g. `Subject`)."""
        return any(
            s.ref.spec.name == mask and s.ref.allowed
            for compiled in (self.subject, self.body)
            for s in compiled.slots
        )


def parse_template_file(content: str) -> tuple[str, str]:
    """(subject, body) from a template file: an optional first line `Subject: ...`, then
    the body (a blank line after the subject line is dropped)."""
    first, _, rest = content.partition("\n")
    if first.lower().startswith("subject:"):
        if rest.startswith("\r\n"):
            rest = rest[2:]
        elif rest.startswith("\n"):
            rest = rest[1:]
        return first[len("subject:") :].strip(), rest
    return "", content


@functools.cache
def default_template(kind: TemplateKind | str) -> tuple[str, str]:
    """The built-in (subject, body) for `kind` (from `templating/defaults/<kind>.html`)."""
    k = kind_of(kind)
    content = resources.files(__package__).joinpath("defaults", f"{k.value}.html")
    return parse_template_file(content.read_text(encoding="utf-8"))


def default_templates() -> dict[TemplateKind, tuple[str, str]]:
    """A fresh mapping of every kind to its built-in (subject, body)."""
    return {k: default_template(k) for k in TemplateKind}


def template_for(kind: TemplateKind | str, templates: Templates | None) -> tuple[str, str]:
    """The host's template for `kind`, else the default (an empty subject takes the default)."""
    k = kind_of(kind)
    chosen = templates.get(k) if templates is not None else None
    if chosen is None:
        return default_template(k)
    if not isinstance(chosen, tuple | list) or len(chosen) != 2:
        raise TemplateError(f"the template for {k.value} must be a (subject, body) pair")
    subject, body = chosen
    if not isinstance(subject, str) or not isinstance(body, str):
        raise TemplateError(f"the subject and body of {k.value} must be text")
    if not subject.strip() and body.strip():
        subject = default_template(k)[0]
    return subject, body


def header_text(value: str, limit: int = MAX_SUBJECT) -> str:
    """`value` made safe for a header: no CR, LF or other control characters, one line,
    whitespace collapsed, at most `limit` characters."""
    value = " ".join(_HEADER_BREAKS.sub(" ", value).split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def render_compiled(compiled: CompiledTemplate, values: MaskValues) -> str:
    """Render a compiled template: its text with each slot's value, in the form its place
    needs (values are escaped by `MaskValues`, never again here).

    A compiled template holds only ``literal`` and ``no escape`` tokens (`compile._build`
    makes no other), which chevron renders as their text and the slot's value joined:
    that join is done here directly (chevron's loop looks each key up through its scope
    stack and grows one string token by token; a test holds both to the same output)."""
    data: dict[str, str] = {}
    for slot in compiled.slots:
        ref = slot.ref
        ctx = slot.context
        if ctx is SlotContext.HTML:
            data[slot.key] = values.html(ref)
        elif ctx is SlotContext.TEXT:
            data[slot.key] = values.text(ref)
        elif ctx is SlotContext.ATTR:
            data[slot.key] = values.attr(ref)
        elif ctx is SlotContext.URL:
            data[slot.key] = values.url(ref)
        else:
            data[slot.key] = values.url_part(ref)
    try:
        return "".join(text if tag == "literal" else data[text] for tag, text in compiled.tokens)
    except KeyError as exc:  # pragma: no cover - the tokens and slots are made together
        raise TemplateError(f"rendering failed: no value for slot {exc}") from exc


def render_template(
    text: str,
    kind: TemplateKind | str,
    data: TemplateData,
    fmt: Format | str = Format.HTML,
) -> str:
    """Render one template text (HTML or plain text) for an email of `kind`."""
    return render_compiled(compile_template(text, kind, fmt), MaskValues(data))


def compile_email(kind: TemplateKind | str, templates: Templates | None) -> EmailTemplate:
    """The host's template for `kind` (else the default), subject and body compiled."""
    k = kind_of(kind)
    subject_text, body_text = template_for(k, templates)
    body = compile_template(body_text if body_text.strip() else "", k, Format.HTML)
    return EmailTemplate(k, compile_template(subject_text, k, Format.TEXT), body)


def render_compiled_email(template: EmailTemplate, values: MaskValues) -> RenderedEmail:
    """The subject, HTML and plain text of a compiled email (check `skipped` first)."""
    body = template.body
    html = render_compiled(body, values)
    text = render_compiled(body.text_version, values) if body.text_version else ""
    return RenderedEmail(
        subject=header_text(render_compiled(template.subject, values)),
        html=html,
        text=tidy_text(text),
    )


def render_email(
    kind: TemplateKind | str,
    data: TemplateData,
    templates: Templates | None = None,
    values: MaskValues | None = None,
) -> RenderedEmail | None:
    """The subject, HTML and plain text of an email of `kind`; None when its template is
    empty (the notification is skipped)."""
    template = compile_email(kind, templates)
    if template.skipped:
        return None
    return render_compiled_email(template, values if values is not None else MaskValues(data))


def tidy_text(text: str) -> str:
    """Plain text with trailing spaces and runs of blank lines removed, ending in a newline."""
    return tidy_lines(text) + "\n"
