"""Properties of templates: nothing but TemplateError, no markup from values, valid UTF-8."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import chevron
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.templating import (
    FieldValue,
    FileLink,
    LinkItem,
    Message,
    Person,
    TemplateData,
    TemplateError,
    compile_template,
    render_email,
    render_template,
    sanitize_html,
    validate_template,
)
from helpdesk_mail.templating.compile import SlotContext
from helpdesk_mail.templating.render import render_compiled
from helpdesk_mail.templating.sanitize import ALLOWED_TAGS, safe_url
from helpdesk_mail.templating.values import MaskValues
from helpdesk_mail.text import ALTERNATIVE, html_to_text

PIECES = [
    "#Subject#", "#What_Happened#", "#What_Happened_Short#", "#Body#", "#URL#", "#From#",
    "#10Recent_messages#", "#Recent_messages#", "#Most_recent_message#", "#CF_1#",
    "#Custom_Fields#", "#RatingLinks#", "#RatingLinks(", ")#", "#Unsubscribe#", "#username",
    "#password", "#URL", "#Attachments#", "#Recent_Attachments#", "#Suggested_KB_articles#",
    "#", "##", "{{", "}}", "{{{", "}}}", "{{=<% %>=}}", "{{#a}}", "{{/a}}", "{{>p}}", "<p>",
    "</p>", "<a href=\"", "<img src=\"", "\"", "'", ">", "<", "<script>", "</script>",
    "<style>", "<!--", "-->", " onclick=", "javascript:", "&amp;", "&", "\n", "\r\n", " ",
    "\x00", "\ud800", "\ufdd0", "\ufdd1", "0", "é", "中", "<div title=\"", "<table><tr><td>",
]  # fmt: skip
TEMPLATES = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=30).map(
    "".join
)
VALUES = st.text(max_size=40) | st.sampled_from(
    [
        "<script>alert(1)</script>",
        '" onmouseover="alert(1)',
        "' onclick='x",
        "javascript:alert(1)",
        "{{x}}",
        "{{{x}}}",
        "#Subject#",
        "\ufdd00\ufdd1",
        "</a><a href=javascript:x>",
        "\r\nBcc: x@evil.test",
        "\ud800",
    ]
)
KINDS = st.sampled_from(list(TemplateKind))
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def template_data(draw: st.DrawFn) -> TemplateData:
    v = lambda: draw(VALUES)  # noqa: E731
    message = Message(v(), WHEN, sanitize_html(v()), v(), (FileLink(v(), v(), 10),), False)
    return TemplateData(
        kind=draw(KINDS),
        what_happened=v(),
        what_happened_message=message,
        ticket_id=draw(st.none() | st.integers(0, 10**9)),
        subject=v(),
        category=v(),
        priority=v(),
        status=v(),
        via=v(),
        body_html=sanitize_html(v()),
        body_text=v(),
        submitter=Person(v(), v(), v(), v(), v(), v(), v(), v()),
        originator=Person(v(), v()),
        technician=Person(v(), v()),
        url=v(),
        recipients=(v(), v()),
        messages=(message, message),
        custom_fields=(FieldValue(1, v(), v()), FieldValue(2, v(), v(), public=False)),
        attachments=(FileLink(v(), v(), 5),),
        recent_attachments=(FileLink(v(), v(), 0),),
        kb_articles=(LinkItem(v(), v()),),
        subscribers=(v(),),
        non_tech_subscribers=(v(),),
        rating_links=(LinkItem("Good", v()),),
        unsubscribe_url=v(),
        username=v(),
        password=v(),
        login_url=v(),
    )


class _Structure(HTMLParser):
    """Records tags and attribute names, and checks attributes for active content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, tuple[str, ...]]] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.items.append((tag, tuple(sorted(name for name, _ in attrs))))
        if tag not in ALLOWED_TAGS:
            self.bad.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.bad.append(name)
            if name in ("href", "src") and value and safe_url(value, image=tag == "img") is None:
                self.bad.append(f"{name}={value}")

    def handle_endtag(self, tag: str) -> None:
        self.items.append((f"/{tag}", ()))


def structure(html: str) -> _Structure:
    parser = _Structure()
    parser.feed(html)
    parser.close()
    return parser


PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(TEMPLATES, KINDS, st.sampled_from(["html", "text"]), template_data())
def test_any_template_and_values_render_or_raise_template_error(
    template: str, kind: TemplateKind, fmt: str, data: TemplateData
) -> None:
    try:
        out = render_template(template, kind, data, fmt)
        problems = validate_template(template, kind, html=fmt == "html")
    except TemplateError:
        return
    out.encode("utf-8")  # valid UTF-8: no lone surrogates
    assert all(p.offset <= len(template) for p in problems)


@PROPS
@given(TEMPLATES, KINDS, template_data())
def test_rendered_html_is_always_limited_html(
    template: str, kind: TemplateKind, data: TemplateData
) -> None:
    out = render_template(template, kind, data, "html")
    assert structure(out).bad == []


@PROPS
@given(TEMPLATES, KINDS, template_data())
def test_whole_emails_are_utf8_with_one_line_subjects(
    body: str, kind: TemplateKind, data: TemplateData
) -> None:
    rendered = render_email(kind, data, {kind: ("#Subject# #What_Happened_Short# " + body, body)})
    if rendered is None:
        return
    for part in (rendered.subject, rendered.html, rendered.text):
        part.encode("utf-8")
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


# A template with a simple mask in every context: values may change text, never structure.
CONTEXTS = (
    '<p title="#Subject#">#Subject# <b>#From#</b></p>'
    '<a href="#URL#">#Category#</a><a href="https://s.test/?q=#Priority#&x=1">s</a>'
    '<img src="#URL#" alt="#Status#"><div title="#Body#">#TicketID#</div>'
)


@PROPS
@given(template_data())
def test_no_value_can_add_markup(data: TemplateData) -> None:
    plain = TemplateData(
        subject="x", submitter=Person("x"), url="https://x.test", category="x", priority="x"
    )
    expected = structure(render_template(CONTEXTS, TemplateKind.TICKET_UPDATED, plain)).items
    actual = structure(render_template(CONTEXTS, TemplateKind.TICKET_UPDATED, data))
    assert actual.items == expected
    assert actual.bad == []


@PROPS
@given(st.text(max_size=200) | TEMPLATES)
def test_sanitizer_output_is_limited_stable_and_utf8(source: str) -> None:
    once = sanitize_html(source)
    once.encode("utf-8")
    assert structure(once).bad == []
    assert sanitize_html(once) == once
    html_to_text(once, ALTERNATIVE).encode("utf-8")


@PROPS
@given(TEMPLATES, KINDS)
def test_compiled_tokens_are_only_text_and_our_values(template: str, kind: TemplateKind) -> None:
    compiled = compile_template(template, kind)
    keys = {s.key for s in compiled.slots}
    for token_type, value in compiled.tokens:
        assert token_type in ("literal", "no escape")
        if token_type == "no escape":
            assert value in keys


@PROPS
@given(TEMPLATES, KINDS, st.sampled_from(["html", "text"]), template_data())
def test_rendering_a_compiled_template_is_what_chevron_renders(
    template: str, kind: TemplateKind, fmt: str, data: TemplateData
) -> None:
    """`render_compiled` joins the tokens' text and values itself: chevron, given the same
    tokens and values, renders the same text."""
    try:
        compiled = compile_template(template, kind, fmt)
    except TemplateError:
        return
    values = MaskValues(data)
    ours = render_compiled(compiled, values)
    by_key = {}
    for slot in compiled.slots:
        form = {
            SlotContext.HTML: values.html,
            SlotContext.TEXT: values.text,
            SlotContext.ATTR: values.attr,
            SlotContext.URL: values.url,
        }.get(slot.context, values.url_part)
        by_key[slot.key] = form(slot.ref)
    assert ours == chevron.render(list(compiled.tokens), by_key)
