"""Compiling and rendering: mustache safety, value contexts, defaults, golden files.

Golden files: tests/golden/<kind>.html and <kind>.txt hold the subject and the HTML
and plain-text parts of each default template rendered with the sample data of
`templating.preview`. Regenerate with `UPDATE_GOLDEN=1 pytest tests/unit/test_templating_render.py`
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import chevron
import pytest
from chevron.tokenizer import tokenize

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.samples.preview import (
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.templating import (
    Person,
    TemplateData,
    TemplateError,
    compile_template,
    default_template,
    default_templates,
    parse_template_file,
    render_email,
    render_template,
    template_for,
)
from helpdesk_mail.templating.compile import MAX_TEMPLATE, SlotContext

K = TemplateKind
GOLDEN = Path(__file__).resolve().parent.parent / "golden"
EVIL = '<script>alert("x")</script>" onmouseover="x" \'{{x}}{{{y}}}{{=<% %>=}}<%z%>&amp;'
DATA = TemplateData(
    subject=EVIL,
    ticket_id=7,
    url="https://hd.test/ticket/7",
    submitter=Person(name=EVIL, email="e@x.test"),
)


def html(template: str, data: TemplateData = DATA, kind: K = K.TICKET_UPDATED) -> str:
    return render_template(template, kind, data, "html")


# --- compile: mustache tags can never come from template text or values ------------


def test_template_text_cannot_open_mustache_tags() -> None:
    template = "{{Subject}} {{{x}}} {{#a}}b{{/a}} {{>partial}} {{=<% %>=}} <%x%> #Subject#"
    compiled = compile_template(template, K.TICKET_UPDATED, "text")
    out = render_template(template, K.TICKET_UPDATED, TemplateData(subject="S"), "text")
    assert out == template.replace("#Subject#", "S")
    assert [t for t, _ in compiled.tokens] == ["literal", "no escape"]


def test_source_is_a_mustache_template_equivalent_to_the_tokens() -> None:
    template = "<p>{{a}} { } {{{b}}} #Subject# {</p>"
    compiled = compile_template(template, K.TICKET_UPDATED)
    tokens = list(tokenize(compiled.source))
    assert ("no escape", "lb") in tokens
    data = {"lb": "{", **{s.key: f"<{s.key}>" for s in compiled.slots}}
    assert chevron.render(compiled.source, data) == chevron.render(compiled.tokens, data)


def test_values_cannot_add_mustache_tags_or_markup() -> None:
    out = html("<p>#Subject#</p><p title='#From#'>#From#</p>")
    assert "<script" not in out and 'onmouseover="' not in out
    assert "{{x}}" in out  # shown as text: values are never re-parsed
    assert out.count("<p") == 2


def test_compile_is_cached() -> None:
    a = compile_template("<p>#Subject#</p>", K.TICKET_UPDATED)
    b = compile_template("<p>#Subject#</p>", "ticket_updated", "html")
    assert a is b
    assert compile_template("<p>#Subject#</p>", K.TICKET_UPDATED, "text") is not a


def test_too_long_template_raises_template_error() -> None:
    with pytest.raises(TemplateError):
        compile_template("x" * (MAX_TEMPLATE + 1), K.TICKET_UPDATED)
    with pytest.raises(TemplateError):
        compile_template(None, K.TICKET_UPDATED)  # type: ignore[arg-type]


# --- value contexts ---------------------------------------------------------------------


def test_contexts_of_masks() -> None:
    template = (
        '<a href="#URL#" title="#Subject#">#Subject#</a><a href="https://s.test/?q=#Subject#">s</a>'
    )
    compiled = compile_template(template, K.TICKET_UPDATED)
    assert [s.context for s in compiled.slots] == [
        SlotContext.URL,
        SlotContext.ATTR,
        SlotContext.HTML,
        SlotContext.URL_PART,
    ]


def test_value_in_link_start_must_be_a_safe_url() -> None:
    data = TemplateData(subject="javascript:alert(1)", url="https://hd.test/t/1?a=1&b=2")
    assert html('<a href="#Subject#">x</a>', data) == '<a href="">x</a>'
    assert html('<a href="#URL#">x</a>', data) == '<a href="https://hd.test/t/1?a=1&amp;b=2">x</a>'


def test_value_inside_link_is_percent_encoded() -> None:
    data = TemplateData(subject='a b&c"<d>')
    assert html('<a href="https://s.test/?q=#Subject#">x</a>', data) == (
        '<a href="https://s.test/?q=a%20b%26c%22%3Cd%3E">x</a>'
    )
    data = TemplateData(subject="script:alert(1)")
    assert (
        html('<a href="java#Subject#">x</a>', data) == '<a href="javascript%3Aalert%281%29">x</a>'
    )


def test_rich_mask_in_attribute_is_flattened_text() -> None:
    data = TemplateData(body_html='<p>a <b>"b"</b></p>', body_text='a "b"')
    assert html('<p title="#Body#">x</p>', data) == '<p title="a &quot;b&quot;">x</p>'


def test_template_without_markup_keeps_its_lines() -> None:
    out = html("Hello #From#,\nline 2 <not a tag", TemplateData(submitter=Person(name="J")))
    assert out == "Hello J,<br>\nline 2 &lt;not a tag"


def test_admin_template_is_reduced_to_limited_html() -> None:
    out = html('<p onclick="x">#TicketID#</p><script>steal()</script><style>p{}</style>')
    assert out == "<p>7</p>"


# --- templates mapping, defaults, skipping ----------------------------------------------


def test_every_kind_has_a_default_template() -> None:
    templates = default_templates()
    assert set(templates) == set(TemplateKind)
    for kind, (subject, body) in templates.items():
        assert subject.strip() and body.strip(), kind


def test_host_overrides_one_kind_and_keeps_the_other_defaults() -> None:
    templates = {K.TICKET_CLOSED: ("Done: #Subject#", "<p>Closed #TicketID#</p>")}
    out = render_email(K.TICKET_CLOSED, DATA, templates)
    assert out is not None and out.html == "<p>Closed 7</p>" and out.text == "Closed 7\n"
    assert out.subject.startswith("Done: ")
    assert template_for(K.TICKET_UPDATED, templates) == default_template(K.TICKET_UPDATED)


def test_empty_template_skips_the_email() -> None:
    for body in ("", "   \n", "<script>x</script>"):
        assert render_email(K.TICKET_UPDATED, DATA, {K.TICKET_UPDATED: ("S", body)}) is None


def test_empty_subject_falls_back_to_the_default() -> None:
    out = render_email(K.TICKET_CLOSED, DATA, {K.TICKET_CLOSED: ("", "<p>x</p>")})
    assert out is not None and out.subject.startswith("[#7] Closed: ")


def test_bad_templates_mapping_raises_template_error() -> None:
    with pytest.raises(TemplateError):
        render_email(K.TICKET_CLOSED, DATA, {K.TICKET_CLOSED: ("only one",)})  # type: ignore[dict-item]
    with pytest.raises(TemplateError):
        render_email(K.TICKET_CLOSED, DATA, {K.TICKET_CLOSED: (1, 2)})  # type: ignore[dict-item]


def test_subject_is_one_safe_line() -> None:
    data = TemplateData(subject="a\r\nBcc: victim@x.test\n\tb\x00c\u2028d", ticket_id=1)
    out = render_email(K.TICKET_UPDATED, data)
    assert out is not None
    assert out.subject == "[#1] a Bcc: victim@x.test bc d"


def test_parse_template_file() -> None:
    assert parse_template_file("Subject: Hi #From#\n\n<p>b</p>\n") == ("Hi #From#", "<p>b</p>\n")
    assert parse_template_file("<p>b</p>") == ("", "<p>b</p>")
    assert parse_template_file("subject: x\r\n\r\nbody") == ("x", "body")


# --- golden files ---------------------------------------------------------------------------


def _rendered(kind: K) -> tuple[str, str]:
    messages = render_message(
        sample_planned(kind),
        None,
        sample_settings(),
        sample_storage(),
        sample_clock(),
        sample_random(),
    )
    assert messages
    msg = messages[0]
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    head = f"Subject: {msg['Subject']}\nFrom: {msg['From']}\nTo: {msg['To']}\n\n"
    return head + html_part.get_content(), head + text_part.get_content()


@pytest.mark.parametrize("kind", list(TemplateKind), ids=[k.value for k in TemplateKind])
def test_default_template_golden(kind: K) -> None:
    html_out, text_out = _rendered(kind)
    for suffix, actual in ((".html", html_out), (".txt", text_out)):
        path = GOLDEN / f"{kind.value}{suffix}"
        if os.environ.get("UPDATE_GOLDEN"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
        assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs"
