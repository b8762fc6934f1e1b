"""Email templates: the spec's `#Mask#` syntax, safe HTML and the default templates.

    from helpdesk_mail.templating import TemplateData, render_email, validate_template

    problems = validate_template("<p>#What_Happened#</p> #Nope#", "ticket_updated")
    email = render_email("ticket_updated", TemplateData(subject="Printer on fire"))

Templates compile once (cached) into pre-tokenized mustache templates; values come
from `TemplateData` and are escaped for their place in the HTML. See docs/masks.md
and docs/templates.md.
"""

from .compile import CompiledTemplate, Format, compile_template
from .masks import MASKS, MaskRef, MaskSpec, TemplateError, TemplateProblem, validate_template
from .render import (
    RenderedEmail,
    Templates,
    default_template,
    default_templates,
    header_text,
    parse_template_file,
    render_email,
    render_template,
    template_for,
)
from .sanitize import sanitize_html
from .values import (
    FieldValue,
    FileLink,
    LinkItem,
    MaskValues,
    Message,
    Person,
    TemplateData,
)

__all__ = [
    "MASKS",
    "CompiledTemplate",
    "FieldValue",
    "FileLink",
    "Format",
    "LinkItem",
    "MaskRef",
    "MaskSpec",
    "MaskValues",
    "Message",
    "Person",
    "RenderedEmail",
    "TemplateData",
    "TemplateError",
    "TemplateProblem",
    "Templates",
    "compile_template",
    "default_template",
    "default_templates",
    "header_text",
    "parse_template_file",
    "render_email",
    "render_template",
    "sanitize_html",
    "template_for",
    "validate_template",
]
