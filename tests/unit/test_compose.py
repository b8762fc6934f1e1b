"""render_message: headers, recipients, links, parts, attachments and header safety."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.events import TicketClosed, TicketCreated, TicketUpdated
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import InMemoryStorage
from helpdesk_mail.model import Attachment, Comment, Role, Ticket, User
from helpdesk_mail.outbound.autologin import verify_autologin_token, verify_link_token
from helpdesk_mail.outbound.compose import ComposeError, build_template_data, render_message
from helpdesk_mail.planned import PlannedEmail, Recipient
from helpdesk_mail.samples.preview import (
    SAMPLE_NOW,
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.settings import NotificationSettings, OutgoingSettings, Settings
from helpdesk_mail.tokens import check_message_id

K = TemplateKind
SECRET = "sample-secret-key"
JANE = Recipient("jane@example.com", "Jane Doe", Role.USER, autologin=True)
BOB = Recipient("bob@example.com", "Bob Roe", Role.USER, autologin=True)
TESS = Recipient("tess@acme.test", "Tess Tech", Role.TECHNICIAN)


def compose(
    planned: PlannedEmail,
    settings_: Settings | None = None,
    storage: InMemoryStorage | None = None,
    templates: dict[K, tuple[str, str]] | None = None,
) -> list[EmailMessage]:
    out = render_message(
        planned,
        templates,
        settings_ or sample_settings(),
        storage or sample_storage(),
        sample_clock(),
        sample_random(),
    )
    assert out is not None
    return out


def one(planned: PlannedEmail, **kw: object) -> EmailMessage:
    messages = compose(planned, **kw)  # type: ignore[arg-type]
    assert len(messages) == 1
    return messages[0]


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def with_outgoing(**changes: object) -> Settings:
    base = sample_settings()
    return dataclasses.replace(base, outgoing=dataclasses.replace(base.outgoing, **changes))  # type: ignore[arg-type]


# --- recipients ---------------------------------------------------------------------


def test_one_message_per_recipient() -> None:
    planned = dataclasses.replace(sample_planned(K.TICKET_UPDATED), to=(JANE, BOB, TESS))
    messages = compose(planned)
    assert [str(m["To"]) for m in messages] == [
        "Jane Doe <jane@example.com>",
        "Bob Roe <bob@example.com>",
        "Tess Tech <tess@acme.test>",
    ]
    assert all(m["Cc"] is None for m in messages)
    assert len({m["Message-ID"] for m in messages}) == 3


def test_cc_mode_sends_one_message_without_personal_links() -> None:
    planned = PlannedEmail(
        K.TICKET_CLOSED,
        TicketClosed(1234, "tess@acme.test"),
        to=(dataclasses.replace(JANE, rating_links=True),),
        cc=(BOB,),
        cc_mode=True,
        ticket_id=1234,
    )
    msg = one(planned)
    assert str(msg["To"]) == "Jane Doe <jane@example.com>"
    assert str(msg["Cc"]) == "Bob Roe <bob@example.com>"
    body = html_of(msg)
    assert "autologin" not in body and "/rate/" not in body
    assert 'https://helpdesk.acme.test/ticket/1234/unsubscribe"' in body  # no personal token
    assert "Jane Doe, Bob Roe" in text_of(
        one(planned, templates={K.TICKET_CLOSED: ("x", "<p>#Recipients#</p>")})
    )


def test_invalid_addresses_are_left_out() -> None:
    bad = Recipient("not an address\r\nBcc: x@evil.test", "Evil")
    planned = dataclasses.replace(sample_planned(K.TICKET_UPDATED), to=(bad, TESS))
    messages = compose(planned)
    assert [str(m["To"]) for m in messages] == ["Tess Tech <tess@acme.test>"]


# --- From, Reply-To and the RFC 3834 header ------------------------------------------------


def test_system_notifications_use_the_from_name() -> None:
    msg = one(sample_planned(K.TICKET_CLOSED))
    assert str(msg["From"]) == "Acme Support <support@acme.test>"
    assert str(msg["Reply-To"]) == "support@acme.test"


def test_replies_carry_the_authors_name() -> None:
    msg = one(sample_planned(K.TICKET_UPDATED))
    assert str(msg["From"]) == "Jane Doe <support@acme.test>"
    msg = one(sample_planned(K.TICKET_UPDATED), settings_=with_outgoing(from_name_for_all=True))
    assert str(msg["From"]) == "Acme Support <support@acme.test>"


def test_reply_by_unknown_author_uses_the_from_name() -> None:
    planned = dataclasses.replace(
        sample_planned(K.TICKET_UPDATED), event=TicketUpdated(1234, "stranger@x.test")
    )
    assert str(one(planned)["From"]) == "Acme Support <support@acme.test>"


def test_every_message_is_auto_submitted() -> None:
    for kind in TemplateKind:
        for msg in compose(sample_planned(kind)):
            assert msg["Auto-Submitted"] == "auto-generated"
            assert msg["X-Auto-Response-Suppress"] == "All"
            assert msg["Date"] is not None


def test_no_from_address_is_an_error() -> None:
    with pytest.raises(ComposeError):
        compose(sample_planned(K.TICKET_UPDATED), settings_=with_outgoing(from_address=""))


# --- Message-ID, threading and the subject token --------------------------------------------


def test_message_id_is_signed_for_the_ticket() -> None:
    msg = one(sample_planned(K.TICKET_UPDATED))
    mid = str(msg["Message-ID"])
    assert mid.endswith("@acme.test>")
    assert check_message_id(mid, SECRET).ticket_id == 1234
    msg = one(
        sample_planned(K.TICKET_UPDATED),
        settings_=with_outgoing(message_id_domain="mail.acme.test"),
    )
    assert str(msg["Message-ID"]).endswith("@mail.acme.test>")


def test_message_id_of_non_ticket_mail_names_no_ticket() -> None:
    msg = one(sample_planned(K.WELCOME))
    check = check_message_id(str(msg["Message-ID"]), SECRET)
    assert check.ticket_id is None and not check.forged


def test_without_secret_message_ids_are_unsigned_and_links_plain() -> None:
    msg = one(sample_planned(K.TICKET_CLOSED), settings_=with_outgoing(secret_key=""))
    check = check_message_id(str(msg["Message-ID"]), SECRET)
    assert check.ticket_id is None and not check.forged
    body = html_of(msg)
    assert "autologin" not in body and "/rate/" not in body and "token=" not in body


def test_in_reply_to_and_references() -> None:
    storage = sample_storage()
    ticket = storage.tickets[1234]
    ids = tuple(f"<m{i}@x.test>" for i in range(15))
    storage.tickets[1234] = dataclasses.replace(ticket, message_ids=(*ids, "bad id\r\nX: y"))
    msg = one(sample_planned(K.TICKET_UPDATED), storage=storage)
    assert msg["In-Reply-To"] == "<m14@x.test>"
    refs = str(msg["References"]).split()
    assert refs[0] == "<m0@x.test>" and refs[-1] == "<m14@x.test>" and len(refs) == 10


def test_no_threading_headers_without_stored_ids() -> None:
    storage = sample_storage()
    storage.tickets[1234] = dataclasses.replace(storage.tickets[1234], message_ids=())
    msg = one(sample_planned(K.TICKET_UPDATED), storage=storage)
    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_subject_carries_the_ticket_token() -> None:
    assert str(one(sample_planned(K.TICKET_UPDATED))["Subject"]).startswith("[#1234] ")
    templates = {K.TICKET_UPDATED: ("Update: #Subject#", "<p>x</p>")}
    msg = one(sample_planned(K.TICKET_UPDATED), templates=templates)
    assert str(msg["Subject"]) == "[#1234] Update: Printer on fire"
    templates = {K.TICKET_UPDATED: ("#Subject# [##TicketID#]", "<p>x</p>")}
    msg = one(sample_planned(K.TICKET_UPDATED), templates=templates)
    assert str(msg["Subject"]) == "Printer on fire [#1234]"
    storage = sample_storage()
    storage.tickets[1234] = dataclasses.replace(storage.tickets[1234], subject="About [#99]")
    msg = one(sample_planned(K.TICKET_UPDATED), storage=storage, templates=templates)
    assert str(msg["Subject"]) == "[#1234] About [#99] [#1234]"


# --- parts and attachments -------------------------------------------------------------------


def test_multipart_alternative_text_then_html() -> None:
    msg = one(sample_planned(K.TICKET_CLOSED))
    assert msg.get_content_type() == "multipart/alternative"
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "text/html"]
    assert "<!DOCTYPE html>" in html_of(msg)
    assert "The ticket has been closed by Tess Tech." in text_of(msg)


def test_attachments_and_inline_images_when_included() -> None:
    msg = one(sample_planned(K.TICKET_CONFIRMATION))
    assert msg.get_content_type() == "multipart/mixed"
    files = [(p.get_filename(), p.get_content_type()) for p in msg.iter_attachments()]
    assert files == [("error-log.txt", "text/plain")]
    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    # scoped to the message that shows it (`_message`): another message cannot name it
    image = [p for p in msg.walk() if p.get("Content-ID") == "<t1234.photo1@example.com>"]
    assert len(image) == 1 and image[0].get_content_type() == "image/png"
    assert 'src="cid:t1234.photo1@example.com"' in html_of(msg)


def test_reply_attachments_go_with_ticket_updated() -> None:
    msg = one(sample_planned(K.TICKET_UPDATED))
    assert [p.get_filename() for p in msg.iter_attachments()] == ["label.jpg"]


def test_no_attachments_and_no_inline_images_when_excluded() -> None:
    planned = dataclasses.replace(sample_planned(K.TICKET_CONFIRMATION), include_attachments=False)
    msg = one(planned)
    assert msg.get_content_type() == "multipart/alternative"
    assert list(msg.iter_attachments()) == []
    body = html_of(msg)
    assert "cid:" not in body and "[photo]" in body


def test_closed_ticket_email_has_no_files() -> None:
    msg = one(sample_planned(K.TICKET_CLOSED))
    assert list(msg.iter_attachments()) == []


@pytest.mark.parametrize("event_kind", list(K), ids=str)
@pytest.mark.parametrize("kind", list(K), ids=str)
def test_the_files_attached_are_the_recent_attachments(event_kind: K, kind: K) -> None:
    # Whatever event and kind a host pairs: the email attaches exactly the files that
    # #Recent_Attachments# lists (those of the message it shows, in new-message kinds).
    # Before, a "new ticket" email about an update listed the reply's files but did
    # not attach them.
    planned = dataclasses.replace(sample_planned(event_kind), template=kind, to=(TESS,))
    if planned.ticket_id is None:
        planned = dataclasses.replace(planned, include_attachments=True, ticket_id=1234)
    data = build_template_data(planned, sample_settings(), sample_storage(), sample_clock())
    attached = [p.get_filename() for p in one(planned).iter_attachments()]
    assert attached == [f.filename for f in data.recent_attachments]


# --- links: autologin, rating, unsubscribe --------------------------------------------------


def test_autologin_link_for_regular_users_only() -> None:
    msg = one(sample_planned(K.TICKET_CONFIRMATION))
    body = html_of(msg)
    start = body.index("https://helpdesk.acme.test/autologin?token=")
    url = body[start : body.index('"', start)]
    token = url.split("token=")[1]
    claims = verify_autologin_token(token, SAMPLE_NOW, SECRET)
    assert claims is not None and claims.email == "jane@example.com" and claims.ticket_id == 1234
    staff_copy = dataclasses.replace(
        sample_planned(K.TICKET_CONFIRMATION),
        to=(dataclasses.replace(JANE, role=Role.TECHNICIAN),),
    )
    assert "autologin" not in html_of(one(staff_copy))
    not_flagged = dataclasses.replace(
        sample_planned(K.TICKET_CONFIRMATION), to=(dataclasses.replace(JANE, autologin=False),)
    )
    assert "autologin" not in html_of(one(not_flagged))


def test_autologin_respects_the_setting_and_ttl() -> None:
    base = sample_settings()
    off = dataclasses.replace(
        base, notifications=dataclasses.replace(base.notifications, autologin_links=False)
    )
    assert "autologin" not in html_of(one(sample_planned(K.TICKET_CONFIRMATION), settings_=off))
    short = dataclasses.replace(base, notifications=NotificationSettings(autologin_ttl_hours=1))
    body = html_of(one(sample_planned(K.TICKET_CONFIRMATION), settings_=short))
    start = body.index("autologin?token=") + len("autologin?token=")
    token = body[start : body.index('"', start)]
    claims = verify_autologin_token(token, SAMPLE_NOW, SECRET)
    assert claims is not None and claims.expires_at == SAMPLE_NOW.replace(hour=10)


def test_rating_links_only_for_the_flagged_recipient_of_closed() -> None:
    body = html_of(one(sample_planned(K.TICKET_CLOSED)))
    assert "Please rate your experience" in body
    for value in ("good", "ok", "bad"):
        assert f"/ticket/1234/rate/{value}?token=" in body
    start = body.index("/rate/good?token=") + len("/rate/good?token=")
    token = body[start : body.index('"', start)]
    assert verify_link_token("rate", token, SAMPLE_NOW, SECRET) is not None
    unflagged = dataclasses.replace(sample_planned(K.TICKET_CLOSED), to=(JANE,))
    assert "/rate/" not in html_of(one(unflagged))


def test_unsubscribe_link_is_personal() -> None:
    body = html_of(one(sample_planned(K.TICKET_UPDATED)))
    start = body.index("/unsubscribe?token=") + len("/unsubscribe?token=")
    token = body[start : body.index('"', start)]
    claims = verify_link_token("unsubscribe", token, SAMPLE_NOW, SECRET)
    assert claims is not None and claims.email == "tess@acme.test"


def _shown_unsubscribe(msg: EmailMessage) -> str | None:
    body = html_of(msg)
    end = body.find('">Unsubscribe from this ticket</a>')
    if end < 0:
        return None
    return body[body.rindex('href="', 0, end) + len('href="') : end].replace("&amp;", "&")


@pytest.mark.parametrize("kind", list(TemplateKind), ids=[k.value for k in TemplateKind])
def test_list_unsubscribe_goes_with_every_unsubscribe_link(kind: K) -> None:
    """RFC 2369 and RFC 8058: the header carries the link the email shows, signed, and
    the one-click POST; an email without the link has neither header."""
    for msg in compose(sample_planned(kind)):
        shown = _shown_unsubscribe(msg)
        if shown is None:
            assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
            continue
        assert "?token=" in shown
        assert msg["List-Unsubscribe"] == f"<{shown}>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        token = shown.partition("?token=")[2]
        claims = verify_link_token("unsubscribe", token, SAMPLE_NOW, SECRET)
        assert claims is not None and (claims.email,) == tuple(
            a.addr_spec for a in msg["To"].addresses
        )


def test_list_unsubscribe_is_one_unencoded_line_on_the_wire() -> None:
    msg = one(sample_planned(K.TICKET_UPDATED))
    shown = _shown_unsubscribe(msg)
    assert shown is not None
    for wire_policy in (email.policy.SMTP, email.policy.SMTPUTF8):
        wire = msg.as_bytes(policy=wire_policy)
        [line] = [x for x in wire.split(b"\r\n") if x.startswith(b"List-Unsubscribe:")]
        assert line == b"List-Unsubscribe: <" + shown.encode() + b">"
        assert b"=?" not in line and len(line) <= 998
        assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in wire
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == msg["List-Unsubscribe"]


def test_no_one_click_without_a_signed_https_link() -> None:
    """A link the host cannot act on without a sign-in is no one-click link: CC mode
    (unsigned), no secret key, or plain http."""
    cc = PlannedEmail(
        K.TICKET_UPDATED,
        TicketUpdated(1234, "tess@acme.test"),
        to=(JANE,),
        cc=(BOB,),
        cc_mode=True,
        ticket_id=1234,
    )
    msg = one(cc)
    assert msg["List-Unsubscribe"] == "<https://helpdesk.acme.test/ticket/1234/unsubscribe>"
    assert msg["List-Unsubscribe-Post"] is None
    unsigned = one(sample_planned(K.TICKET_UPDATED), settings_=with_outgoing(secret_key=""))
    assert unsigned["List-Unsubscribe"] == "<https://helpdesk.acme.test/ticket/1234/unsubscribe>"
    assert unsigned["List-Unsubscribe-Post"] is None
    http = one(
        sample_planned(K.TICKET_UPDATED),
        settings_=with_outgoing(helpdesk_url="http://helpdesk.acme.test"),
    )
    assert str(http["List-Unsubscribe"]).startswith("<http://helpdesk.acme.test/ticket/1234/")
    assert http["List-Unsubscribe-Post"] is None


def test_no_list_unsubscribe_when_the_template_shows_no_link() -> None:
    templates = {K.TICKET_UPDATED: ("x", "<p>#What_Happened#</p>")}
    msg = one(sample_planned(K.TICKET_UPDATED), templates=templates)
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    no_url = one(sample_planned(K.TICKET_UPDATED), settings_=with_outgoing(helpdesk_url=""))
    assert no_url["List-Unsubscribe"] is None


def test_list_unsubscribe_of_a_non_ascii_helpdesk_url_is_percent_encoded() -> None:
    msg = one(
        sample_planned(K.TICKET_UPDATED),
        settings_=with_outgoing(helpdesk_url="https://hilfe.bücher.test/service"),
    )
    value = str(msg["List-Unsubscribe"])
    assert value.startswith(
        "<https://hilfe.b%C3%BCcher.test/service/ticket/1234/unsubscribe?token="
    )
    assert value.isascii() and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_links_without_helpdesk_url() -> None:
    msg = one(sample_planned(K.TICKET_CLOSED), settings_=with_outgoing(helpdesk_url=""))
    body = html_of(msg)
    assert "https://" not in body.replace("https://helpdesk.acme.test/files", "")


# --- what the masks see ------------------------------------------------------------------------


def test_techs_only_replies_are_hidden_from_customers() -> None:
    customer = dataclasses.replace(sample_planned(K.TICKET_UPDATED), to=(JANE,))
    assert "Fuser unit" not in text_of(one(customer))
    assert "Fuser unit" in text_of(one(sample_planned(K.TICKET_UPDATED)))


def test_techs_only_update_shows_no_reply_to_customers() -> None:
    storage = sample_storage()
    planned = PlannedEmail(
        K.TICKET_UPDATED,
        TicketUpdated(1234, "tess@acme.test", comment_id=2, techs_only=True),
        to=(JANE,),
        ticket_id=1234,
    )
    msg = one(planned, storage=storage)
    assert "Fuser unit" not in text_of(msg)
    assert list(msg.iter_attachments()) == []


def test_ticket_body_from_mail_is_sanitized() -> None:
    storage = sample_storage()
    storage.tickets[1234] = dataclasses.replace(
        storage.tickets[1234],
        body_html='<p onclick="x">Hi<script>alert(1)</script><a href="javascript:x">l</a></p>',
    )
    body = html_of(one(sample_planned(K.TICKET_CONFIRMATION), storage=storage))
    assert "<script" not in body and "onclick" not in body and "javascript:" not in body
    assert "<p>Hi<a>l</a></p>" in body


def test_suggested_kb_articles_are_searched_only_when_used() -> None:
    storage = sample_storage()
    searches: list[str] = []
    real = storage.search_kb

    def spy(text: str, limit: int):  # type: ignore[no-untyped-def]
        searches.append(text)
        return real(text, limit)

    storage.search_kb = spy  # type: ignore[method-assign]
    body = html_of(one(sample_planned(K.TICKET_CONFIRMATION), storage=storage))
    assert searches and "Printer troubleshooting" in body
    searches.clear()
    one(sample_planned(K.TICKET_CLOSED), storage=storage)
    assert searches == []


def test_empty_template_skips_the_notification() -> None:
    out = render_message(
        sample_planned(K.TICKET_UPDATED),
        {K.TICKET_UPDATED: ("subject", "  ")},
        sample_settings(),
        sample_storage(),
        sample_clock(),
        sample_random(),
    )
    assert out is None


def test_a_template_that_renders_nothing_skips_the_notification_whatever_the_recipients() -> None:
    # A body the sanitizer empties skips the email like a blank one, whatever the
    # recipients; before, it gave [] when no recipient's address was usable.
    planned = dataclasses.replace(
        sample_planned(K.TICKET_UPDATED), to=(Recipient("not an address", "X"),)
    )
    templates = {K.TICKET_UPDATED: ("subject", "<script>alert(1)</script>")}
    out = render_message(
        planned, templates, sample_settings(), sample_storage(), sample_clock(), sample_random()
    )
    assert out is None


def test_unknown_ticket_still_renders() -> None:
    planned = PlannedEmail(K.TICKET_CLOSED, TicketClosed(999, "x@y.test"), (JANE,), ticket_id=999)
    msg = one(planned)
    assert str(msg["Subject"]).startswith("[#999] ")


def test_welcome_email() -> None:
    msg = one(sample_planned(K.WELCOME))
    body = text_of(msg)
    assert "Username: bob" in body and "Password: k7Q-p2Zx-9fLm" in body
    assert "https://helpdesk.acme.test" in body


def test_build_template_data_for_new_ticket() -> None:
    data = build_template_data(
        sample_planned(K.NEW_TICKET), sample_settings(), sample_storage(), sample_clock()
    )
    assert data.what_happened == "A new ticket has been submitted by Jane Doe."
    assert [f.filename for f in data.recent_attachments] == ["error-log.txt"]
    assert data.subscribers == ("jane", "bob", "Tess Tech")
    assert data.non_tech_subscribers == ("jane", "bob")
    assert data.messages[0].author == "Jane Doe" and data.messages[-1].author == "Jane Doe"
    assert len(data.messages) == 4


def test_composes_what_the_planner_plans() -> None:
    from helpdesk_mail.outbound.plan import plan_notifications

    storage = sample_storage()
    s = sample_settings()
    for event in (
        TicketCreated(1234, "jane@example.com"),
        TicketUpdated(1234, "tess@acme.test", comment_id=1),
        TicketClosed(1234, "tess@acme.test"),
    ):
        plan = plan_notifications(event, s, storage, sample_clock())
        for planned in plan.emails:
            for msg in compose(planned, storage=storage):
                assert msg["To"] is not None and msg["Message-ID"] is not None


# --- header safety (hypothesis) -----------------------------------------------------------------

HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab c\r\n\t:;<>\"'@\x00\x0b\x0c\x1c\x85\u2028\u2029=?é中")),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=HOSTILE, name=HOSTILE, filename=HOSTILE, from_name=HOSTILE)
def test_no_cr_or_lf_from_user_data_in_any_header(
    subject: str, name: str, filename: str, from_name: str
) -> None:
    storage = InMemoryStorage()
    storage.add_user(User("jane@example.com", name=name, role=Role.USER))
    storage.add_ticket(
        Ticket(
            id=5,
            subject=subject,
            submitter="jane@example.com",
            attachments=(Attachment(filename, "text/plain", 3, b"abc"),),
            message_ids=(f"<{subject}@x.test>",),
        ),
        [Comment(5, "jane@example.com", "hi", SAMPLE_NOW, id=1)],
    )
    s = Settings(
        outgoing=OutgoingSettings(
            from_address="support@acme.test",
            from_name="".join(c for c in from_name if c.isprintable()),
            secret_key=SECRET,
            helpdesk_url="https://hd.test",
        )
    )
    planned = PlannedEmail(
        K.TICKET_CONFIRMATION,
        TicketCreated(5, "jane@example.com"),
        (Recipient("jane@example.com", name),),
        ticket_id=5,
    )
    messages = render_message(planned, None, s, storage, sample_clock(), sample_random())
    assert messages is not None and len(messages) == 1
    raw = messages[0].as_bytes(policy=email.policy.SMTP)
    head = raw.split(b"\r\n\r\n", 1)[0]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    names = [k.lower() for k in parsed if k.lower() not in ("in-reply-to", "references")]
    assert names == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "auto-submitted",
        "x-auto-response-suppress",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
    ]
    for line in head.split(b"\r\n"):
        assert b"\n" not in line and b"\r" not in line
        assert line[:1] in (b" ", b"\t") or b":" in line  # a header or a folded continuation
    for part in parsed.walk():
        for key, value in part.items():
            assert "\r" not in str(value) and "\n" not in str(value), key
    assert str(parsed["Subject"]).startswith("[#5]")


# --- the bytes on the wire -------------------------------------------------------------


def test_parts_are_those_set_content_makes() -> None:
    """The parts are built directly (no content manager): the same bytes all the same,
    but for the MIME-Version the email package repeats in the second part (RFC 2045
    wants it on the message only)."""
    planned = dataclasses.replace(sample_planned(K.TICKET_UPDATED), include_attachments=False)
    msg = one(planned)
    reference = EmailMessage(policy=email.policy.SMTP)
    reference.set_content(text_of(msg), subtype="plain", charset="utf-8", cte="quoted-printable")
    reference.add_alternative(html_of(msg), subtype="html", charset="utf-8", cte="quoted-printable")
    ours, theirs = list(msg.iter_parts()), list(reference.iter_parts())
    assert len(ours) == len(theirs) == 2
    del theirs[1]["MIME-Version"]
    for a, b in zip(ours, theirs, strict=True):
        assert a.as_bytes(policy=email.policy.SMTP) == b.as_bytes(policy=email.policy.SMTP)
    assert msg.get_content_type() == "multipart/alternative"
    wire = msg.as_bytes(policy=email.policy.SMTP)
    assert b'\r\nContent-Type: multipart/alternative; boundary="==' in wire  # one line
    boundary = msg.get_boundary()
    assert boundary is not None and boundary.startswith("==")
    two = compose(dataclasses.replace(planned, to=(JANE, BOB)))
    assert len({m.get_boundary() for m in two}) == 2  # each message its own


def test_headers_read_back_as_the_email_package_parses_them() -> None:
    msg = one(sample_planned(K.TICKET_UPDATED))
    assert [a.addr_spec for a in msg["To"].addresses] == ["tess@acme.test"]
    assert msg["From"].addresses[0].display_name == "Jane Doe"
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To"):
        assert str(parsed[name]) == str(msg[name]), name


def test_non_ascii_names_and_subjects_are_encoded_words() -> None:
    storage = sample_storage()
    storage.add_user(User("jose@example.com", name="José Müller", role=Role.USER))
    planned = dataclasses.replace(
        sample_planned(K.TICKET_UPDATED),
        to=(Recipient("jose@example.com", "José Müller", Role.USER),),
    )
    templates = {K.TICKET_UPDATED: ("Réponse : #Subject#", "<p>#What_Happened#</p>")}
    msg = one(planned, storage=storage, templates=templates)
    wire = msg.as_bytes(policy=email.policy.SMTP)
    head = wire.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert str(parsed["To"]) == "José Müller <jose@example.com>"
    assert str(parsed["Subject"]) == "[#1234] Réponse : Printer on fire"
