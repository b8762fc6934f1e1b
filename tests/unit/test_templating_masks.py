"""Every mask of the spec: what it shows, where it works, and text that only looks like one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.templating import (
    MASKS,
    FieldValue,
    FileLink,
    LinkItem,
    Message,
    Person,
    TemplateData,
    TemplateError,
    render_template,
    validate_template,
)
from helpdesk_mail.templating.masks import scan_masks

K = TemplateKind
UPDATED = K.TICKET_UPDATED
WHEN = datetime(2026, 1, 2, 14, 5, tzinfo=UTC)


def msg(n: int, techs_only: bool = False) -> Message:
    return Message(
        author=f"Author {n}",
        date=WHEN,
        html=f"<p>reply <b>{n}</b></p>",
        text=f"reply {n}",
        techs_only=techs_only,
    )


DATA = TemplateData(
    kind=UPDATED,
    what_happened="The ticket has been updated by Tess Tech.",
    what_happened_message=Message("Tess Tech", WHEN, "<p>Try <i>this</i></p>", "Try this"),
    ticket_id=1234,
    subject="Printer on fire",
    category="Hardware",
    priority="High",
    status="Open",
    via="email",
    date=WHEN,
    due_date=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    time_spent_minutes=95,
    body_html="<p>The printer is <b>smoking</b></p>",
    body_text="The printer is smoking",
    submitter=Person(
        name="Jane Doe",
        email="jane@example.com",
        first_name="Jane",
        last_name="Doe",
        username="jane",
        company="Example Corp",
        department="Finance",
        location="Berlin",
    ),
    originator=Person(name="Tess Tech", email="tess@acme.test"),
    technician=Person(name="Tess Tech", email="tess@acme.test"),
    url="https://hd.test/ticket/1234",
    recipients=("Jane Doe", "Bob Roe"),
    messages=tuple(msg(n) for n in range(12, 0, -1)),
    custom_fields=(
        FieldValue(1, "Asset tag", "PR-42"),
        FieldValue(2, "Cost centre", "CC-7", public=False),
    ),
    attachments=(FileLink("log.txt", "https://hd.test/f/1", 2048), FileLink("a.png", "", 10)),
    recent_attachments=(FileLink("new.pdf", "https://hd.test/f/9", 3 * 1024 * 1024),),
    kb_articles=(LinkItem("Printer troubleshooting", "https://hd.test/kb/7"),),
    subscribers=("jane", "bob", "tess"),
    non_tech_subscribers=("jane", "bob"),
    rating_links=(
        LinkItem("Good", "https://hd.test/r/good"),
        LinkItem("OK", "https://hd.test/r/ok"),
        LinkItem("Bad", "https://hd.test/r/bad"),
    ),
    unsubscribe_url="https://hd.test/ticket/1234/unsubscribe?token=t",
    username="bob",
    password="s3cret-pass",
    login_url="https://hd.test",
    helpdesk_name="Acme Support",
)


def text(template: str, kind: TemplateKind = UPDATED, data: TemplateData = DATA) -> str:
    return render_template(template, kind, data, "text")


def html(template: str, kind: TemplateKind = UPDATED, data: TemplateData = DATA) -> str:
    return render_template(template, kind, data, "html")


# --- simple masks: one test each (plain text and HTML forms) -------------------------

SIMPLE = [
    ("#Category#", "Hardware"),
    ("#Subject#", "Printer on fire"),
    ("#From#", "Jane Doe"),
    ("#FromEmail#", "jane@example.com"),
    ("#FirstName#", "Jane"),
    ("#LastName#", "Doe"),
    ("#Username#", "jane"),
    ("#Originator#", "Tess Tech"),
    ("#Priority#", "High"),
    ("#Status#", "Open"),
    ("#URL#", "https://hd.test/ticket/1234"),
    ("#Recipients#", "Jane Doe, Bob Roe"),
    ("#Company#", "Example Corp"),
    ("#Department#", "Finance"),
    ("#Location#", "Berlin"),
    ("#TicketID#", "1234"),
    ("#Technician#", "Tess Tech"),
    ("#TechnicianEmail#", "tess@acme.test"),
    ("#Date#", "2026-01-02 14:05 UTC"),
    ("#DueDate#", "2026-01-05 09:00 UTC"),
    ("#TimeSpent#", "1h 35m"),
    ("#Via#", "email"),
    ("#Subscribers#", "jane, bob, tess"),
    ("#NonTechSubscribers#", "jane, bob"),
    ("#CF_1#", "PR-42"),
    ("#CF_2#", "CC-7"),
    ("#HelpdeskName#", "Acme Support"),
]


@pytest.mark.parametrize(("mask", "expected"), SIMPLE, ids=[m for m, _ in SIMPLE])
def test_simple_mask(mask: str, expected: str) -> None:
    assert text(f"[{mask}]") == f"[{expected}]"
    assert html(f"<p>{mask}</p>") == f"<p>{expected}</p>"


def test_every_simple_mask_of_the_spec_is_tested() -> None:
    tested = {m.strip("#") for m, _ in SIMPLE} | {"CF_n"}
    rich_or_special = {
        s.name for s in MASKS.values() if s.rich or s.name.startswith("welcome:")
    } | {"What_Happened_Short", "XRecent_messages", "CF_1", "CF_2"}
    assert set(MASKS) - rich_or_special <= tested


def test_from_falls_back_to_username_then_address() -> None:
    data = TemplateData(submitter=Person(username="jdoe", email="j@x.test"))
    assert text("#From#", data=data) == "jdoe"
    assert text("#From#", data=TemplateData(submitter=Person(email="j@x.test"))) == "j@x.test"


def test_missing_data_renders_empty() -> None:
    assert text("[#DueDate#][#Technician#][#TimeSpent#][#CF_99#]", data=TemplateData()) == (
        "[][][][]"
    )


# --- What_Happened and What_Happened_Short -------------------------------------------


def test_what_happened_shows_headline_and_reply() -> None:
    assert text("#What_Happened#") == "The ticket has been updated by Tess Tech.\n\nTry this"
    out = html("#What_Happened#")
    assert "<p>The ticket has been updated by Tess Tech.</p>" in out
    assert "<div><p>Try <i>this</i></p></div>" in out


def test_what_happened_short_is_cut_to_100_characters() -> None:
    long = TemplateData(what_happened="x" * 60, what_happened_message=msg(1))
    assert text("#What_Happened_Short#", data=long) == "x" * 60 + " reply 1"
    longer = TemplateData(what_happened="word " * 40)
    out = text("#What_Happened_Short#", data=longer)
    assert len(out) == 100 and out.endswith("…")
    assert "\n" not in text("#What_Happened_Short#")


# --- messages --------------------------------------------------------------------------


def test_recent_messages_shows_five_newest_first() -> None:
    out = text("#Recent_messages#")
    assert [f"reply {n}" in out for n in (12, 11, 10, 9, 8)] == [True] * 5
    assert "reply 7" not in out
    assert out.index("reply 12") < out.index("reply 8")
    assert html("#Recent_messages#").count("<b>Author ") == 5


@pytest.mark.parametrize("count", [1, 3, 10, 12, 50])
def test_x_recent_messages(count: int) -> None:
    out = text(f"#{count}Recent_messages#")
    shown = min(count, 12)
    assert out.count("reply ") == shown
    assert html(f"#{count}Recent_messages#").count("<b>Author ") == shown


def test_zero_recent_messages_is_empty() -> None:
    assert text("[#0Recent_messages#]") == "[]"


def test_most_recent_message() -> None:
    assert text("#Most_recent_message#").endswith("reply 12")
    assert "reply 11" not in text("#Most_recent_message#")
    out = html("#Most_recent_message#")
    assert "<p>reply <b>12</b></p>" in out and "2026-01-02 14:05 UTC" in out


def test_techs_only_messages_are_marked() -> None:
    data = TemplateData(messages=(msg(1, techs_only=True),))
    assert "(techs only)" in text("#Most_recent_message#", data=data)


# --- custom fields ----------------------------------------------------------------------


def test_custom_fields_lists_public_fields_only() -> None:
    assert text("#Custom_Fields#") == "Asset tag: PR-42"
    out = html("#Custom_Fields#")
    assert "<b>Asset tag:</b> PR-42" in out and "CC-7" not in out


def test_cf_mask_shows_any_field_by_id() -> None:
    assert text("#CF_2#") == "CC-7"  # techs-only fields too, as the spec says
    assert text("#cf_1#") == "PR-42"


# --- attachments and KB --------------------------------------------------------------


def test_attachments_lists_every_file_with_links() -> None:
    assert text("#Attachments#") == "- log.txt (2 KB) <https://hd.test/f/1>\n- a.png (10 B)"
    out = html("#Attachments#")
    assert '<li><a href="https://hd.test/f/1">log.txt</a> (2 KB)</li>' in out
    assert "<li>a.png (10 B)</li>" in out


def test_recent_attachments_only_in_new_and_updated_emails() -> None:
    assert text("#Recent_Attachments#") == "- new.pdf (3.0 MB) <https://hd.test/f/9>"
    for kind in (K.NEW_TICKET, K.TICKET_CONFIRMATION):
        assert "new.pdf" in text("#Recent_Attachments#", kind)
    for kind in (K.TICKET_CLOSED, K.TICKET_TAKEN, K.TICKET_MOVED):
        assert text("[#Recent_Attachments#]", kind) == "[]"


def test_suggested_kb_articles() -> None:
    assert text("#Suggested_KB_articles#") == "- Printer troubleshooting <https://hd.test/kb/7>"
    assert '<a href="https://hd.test/kb/7">Printer troubleshooting</a>' in html(
        "#Suggested_KB_articles#"
    )
    assert html("[#Suggested_KB_articles#]", data=TemplateData()) == "[]"


# --- rating and unsubscribe --------------------------------------------------------------


def test_rating_links_in_ticket_closed() -> None:
    out = html("#RatingLinks#", K.TICKET_CLOSED)
    assert out.startswith("<p>Please rate your experience: ")
    for label, value in (("Good", "good"), ("OK", "ok"), ("Bad", "bad")):
        assert f'<a href="https://hd.test/r/{value}">{label}</a>' in out
    assert text("#RatingLinks#", K.TICKET_CLOSED).splitlines()[1] == "Good: https://hd.test/r/good"


def test_rating_links_with_custom_prompt() -> None:
    out = html("#RatingLinks(Please rate our service)#", K.TICKET_CLOSED)
    assert out.startswith("<p>Please rate our service: ")
    out = html("#RatingLinks(Rate <us> & win)#", K.TICKET_CLOSED)  # not a mask: has < >
    assert "#RatingLinks(" in out
    out = html("#RatingLinks(Rate us &amp; win)#", K.TICKET_CLOSED)
    assert out.startswith("<p>Rate us &amp; win: ")


def test_rating_links_empty_elsewhere_or_without_links() -> None:
    assert text("[#RatingLinks#]", UPDATED) == "[]"
    no_links = TemplateData(kind=K.TICKET_CLOSED)
    assert html("[#RatingLinks#]", K.TICKET_CLOSED, no_links) == "[]"


def test_unsubscribe() -> None:
    assert html("#Unsubscribe#") == (
        '<a href="https://hd.test/ticket/1234/unsubscribe?token=t">Unsubscribe from this ticket</a>'
    )
    assert text("#Unsubscribe#") == (
        "Unsubscribe from this ticket: https://hd.test/ticket/1234/unsubscribe?token=t"
    )
    assert text("[#Unsubscribe#]", data=TemplateData()) == "[]"


def test_body() -> None:
    assert html("#Body#") == "<p>The printer is <b>smoking</b></p>"
    assert text("#Body#") == "The printer is smoking"
    plain = TemplateData(body_text="line 1\nline <2>")
    assert html("#Body#", data=plain) == "line 1<br>\nline &lt;2&gt;"


# --- the welcome email --------------------------------------------------------------------


def test_welcome_masks_have_no_closing_hash() -> None:
    out = text("User: #username\nPassword: #password\nGo: #URL", K.WELCOME)
    assert out == "User: bob\nPassword: s3cret-pass\nGo: https://hd.test"


def test_welcome_masks_with_a_closing_hash_and_in_html() -> None:
    assert text("#username# / #URL#", K.WELCOME) == "bob / https://hd.test"
    out = html('<a href="#URL">#URL</a> <b>#password</b>', K.WELCOME)
    assert out == '<a href="https://hd.test">https://hd.test</a> <b>s3cret-pass</b>'


def test_welcome_masks_need_a_word_boundary() -> None:
    assert text("#usernames #URLs #passwords", K.WELCOME) == "#usernames #URLs #passwords"


def test_other_masks_do_not_work_in_the_welcome_email() -> None:
    assert text("[#Subject#][#TicketID#]", K.WELCOME) == "[][]"
    problems = validate_template("#Subject# #username", K.WELCOME)
    assert [p.code for p in problems] == ["mask_not_allowed"]


def test_helpdesk_name_works_in_every_email() -> None:
    """The one mask that is not the spec's: the name on top of the default templates."""
    for kind in K:
        assert text("[#HelpdeskName#]", kind) == "[Acme Support]", kind
        assert not validate_template("<p>#HelpdeskName#</p>", kind), kind


def test_welcome_masks_are_not_masks_elsewhere() -> None:
    assert text("#password and #username", UPDATED) == "#password and #username"


# --- syntax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal",
    [
        "#hashtag",
        "C# and F# are languages",
        "#1234",
        "ticket #1234#",
        "#",
        "##",
        "# Subject #",
        "#Subject",
        "Subject#",
        "#Sub ject#",
        "#NotAMask#",
        "#CF_#",
        "#CF_x#",
        "#Recent_messages5#",
        "#12345Recent_messages#",
        "color:#ff0000;",
        "&#35;Subject&#35;",
    ],
)
def test_text_that_only_looks_like_a_mask_is_left_alone(literal: str) -> None:
    assert text(literal) == literal


def test_entity_written_hashes_are_literal_in_html() -> None:
    assert html("<p>&#35;Subject&#35;</p>") == "<p>#Subject#</p>"


def test_masks_are_case_insensitive() -> None:
    assert text("#subject# #SUBJECT# #ticketid#") == "Printer on fire Printer on fire 1234"


def test_a_hash_before_a_mask_stays() -> None:
    assert text("[##TicketID#]") == "[#1234]"
    assert text("##Subject##") == "#Printer on fire#"
    assert text("#foo#Subject#") == "#fooPrinter on fire"


def test_adjacent_masks() -> None:
    assert text("#FirstName##LastName#") == "JaneDoe"


def test_scan_reports_positions_and_arguments() -> None:
    refs = scan_masks("Hi #From#, #10Recent_messages# #CF_77# #RatingLinks(x)#", UPDATED)
    assert [(r.spec.name, r.arg, r.start) for r in refs] == [
        ("From", None, 3),
        ("XRecent_messages", 10, 11),
        ("CF_n", 77, 31),
        ("RatingLinks", "x", 39),
    ]
    assert [r.allowed for r in refs] == [True, True, True, False]


# --- validation --------------------------------------------------------------------------------


def test_validate_reports_unknown_masks_with_positions() -> None:
    template = "Hello #From#,\n  see #Subjet# and #Foo_Bar#"
    problems = validate_template(template, UPDATED)
    assert [(p.code, p.text, p.offset, p.line, p.column) for p in problems] == [
        ("unknown_mask", "#Subjet#", 20, 2, 7),
        ("unknown_mask", "#Foo_Bar#", 33, 2, 20),
    ]
    assert "did you mean #Subject#?" in problems[0].message


def test_validate_reports_masks_not_allowed_for_the_kind() -> None:
    problems = validate_template("<p>#RatingLinks#</p>\n#Recent_Attachments#", K.TICKET_TAKEN)
    assert [(p.code, p.line, p.column) for p in problems] == [
        ("mask_not_allowed", 1, 4),
        ("mask_not_allowed", 2, 1),
    ]
    assert validate_template("#RatingLinks(Rate us)#", K.TICKET_CLOSED) == []


def test_validate_reports_removed_html() -> None:
    problems = validate_template('<p onclick="x()">Hi</p>\n<script>alert(1)</script>', UPDATED)
    assert [(p.code, p.text, p.line) for p in problems] == [
        ("html_removed", "onclick=", 1),
        ("html_removed", "<script>", 2),
    ]
    assert validate_template("<script>x</script>", UPDATED, html=False) == []


def test_validate_accepts_every_default_template() -> None:
    from helpdesk_mail.templating import default_templates

    for kind, (subject, body) in default_templates().items():
        assert validate_template(subject, kind, html=False) == [], kind
        assert validate_template(body, kind) == [], kind


def test_validate_ignores_what_only_looks_like_a_mask() -> None:
    assert validate_template("C# #1234 #hashtag color:#fff; [##TicketID#]", UPDATED) == []


def test_bad_kind_and_template_types_raise_template_error() -> None:
    with pytest.raises(TemplateError):
        validate_template("#Subject#", "no_such_kind")
    with pytest.raises(TemplateError):
        validate_template(b"#Subject#", UPDATED)  # type: ignore[arg-type]
    with pytest.raises(TemplateError):
        render_template("x", UPDATED, DATA, "pdf")


def test_mask_table_covers_the_spec() -> None:
    spec_masks = {
        "What_Happened", "What_Happened_Short", "Category", "Subject", "From", "FromEmail",
        "FirstName", "LastName", "Username", "Originator", "Priority", "Status", "Body", "URL",
        "Recipients", "Recent_messages", "XRecent_messages", "Most_recent_message",
        "Custom_Fields", "CF_n", "Company", "Department", "Location", "Attachments",
        "TicketID", "Technician", "TechnicianEmail", "Date", "DueDate", "TimeSpent", "Via",
        "Recent_Attachments", "Suggested_KB_articles", "Subscribers", "NonTechSubscribers",
        "RatingLinks", "Unsubscribe", "welcome:username", "welcome:password", "welcome:URL",
    }  # fmt: skip
    extensions = {"HelpdeskName"}  # the library's own (docs/masks.md says so)
    assert set(MASKS) == spec_masks | extensions
