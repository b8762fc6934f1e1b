"""Unit tests of the junk filter with small hand-written e-mails, one or more per rule,
and the traps where human mail must stay human."""

from __future__ import annotations

import base64
import email
import time
from email.header import Header
from email.message import Message

import pytest

from helpdesk_mail.inbound.junk import RULES, JunkVerdict, classify

HELPDESK = ("support@acme.test",)


def parse(text: str) -> Message:
    return email.message_from_bytes(text.replace("\n", "\r\n").encode("utf-8"))


def run(text: str, sender: str | None = None, **kwargs: object) -> JunkVerdict:
    msg = parse(text)
    if sender is None:
        sender = email.utils.parseaddr(str(msg.get("from", "")))[1].lower()
    return classify(msg, sender=sender, **kwargs)  # type: ignore[arg-type]


HUMAN = """\
From: Jane Customer <jane@example.com>
To: support@acme.test
Subject: Printer on fire
Message-ID: <abc123@example.com>

Hello, the printer on floor 2 is on fire again. Can you help?
Jane
"""


# --------------------------------------------------------------------------- table


def test_rule_names_are_unique_and_kinds_valid() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert {r.kind for r in RULES} <= {"bounce", "auto_reply", "system_sender", "loop"}
    for expected in (
        "own_address",
        "own_message_id",
        "dsn_report",
        "postfix_body",
        "auto_submitted",
        "x_autoreply",
        "system_local_part",
    ):
        assert expected in names


def test_rule_order_invariant() -> None:
    kinds = [r.kind for r in RULES]
    order = ["loop", "bounce", "auto_reply", "system_sender"]
    assert kinds == sorted(kinds, key=order.index)


def test_human_mail() -> None:
    v = run(HUMAN)
    assert v == JunkVerdict(kind=None, rule=None, evidence=None)


# --------------------------------------------------------------------------- loops


def test_own_address_is_loop() -> None:
    v = run(HUMAN.replace("jane@example.com", "Support@ACME.test"), helpdesk_addresses=HELPDESK)
    assert (v.kind, v.rule) == ("loop", "own_address")


def test_own_message_id_is_loop_but_reference_is_not() -> None:
    own = {"<t1234.x@acme.test>"}
    msg = HUMAN.replace("<abc123@example.com>", "<t1234.x@acme.test>")
    v = run(msg, is_own_message_id=lambda mid: mid in own)
    assert (v.kind, v.rule) == ("loop", "own_message_id")
    reply = HUMAN.replace(
        "Message-ID: <abc123@example.com>",
        "Message-ID: <r1@example.com>\nIn-Reply-To: <t1234.x@acme.test>\n"
        "References: <t1234.x@acme.test>",
    )
    assert run(reply, is_own_message_id=lambda mid: mid in own).kind is None


def test_own_message_id_callback_without_brackets_and_raising() -> None:
    msg = HUMAN.replace("<abc123@example.com>", "<t9@acme.test>")
    assert run(msg, is_own_message_id=lambda mid: mid == "t9@acme.test").rule == "own_message_id"

    def boom(mid: str) -> bool:
        raise RuntimeError("host bug")

    assert run(msg, is_own_message_id=boom).kind is None


def test_x_loop_with_own_address() -> None:
    v = run(
        HUMAN.replace("Subject:", "X-Loop: support@acme.test\nSubject:"),
        helpdesk_addresses=HELPDESK,
    )
    assert (v.kind, v.rule) == ("loop", "own_x_loop")


# --------------------------------------------------------------------------- bounces

DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: support@acme.test
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.net.

<Gone.User@example.net>: host mx2.example.net said: 550 5.1.1 User unknown

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; gone.user@example.net
Original-Recipient: rfc822;Gone.User@example.net
Action: {action}
Status: {status}

--B
Content-Type: text/rfc822-headers

From: support@acme.test
To: Gone.User@example.net
Subject: [#12] Printer

--B--
"""


def test_dsn_failed_is_permanent_bounce_with_recipient() -> None:
    v = run(DSN.format(action="failed", status="5.1.1"))
    assert (v.kind, v.rule) == ("bounce", "dsn_report")
    assert v.bounced_recipients == ("gone.user@example.net",)
    assert v.temporary is False
    assert v.no_auto_response


def test_dsn_delayed_is_temporary() -> None:
    v = run(DSN.format(action="delayed", status="4.4.1"))
    assert v.kind == "bounce" and v.temporary is True


def test_dsn_failed_with_4xx_status_is_still_permanent() -> None:
    assert run(DSN.format(action="failed", status="4.4.7")).temporary is False


def test_dsn_delivered_is_bounce_kind_without_failed_recipients() -> None:
    v = run(DSN.format(action="delivered", status="2.0.0"))
    assert v.kind == "bounce"
    assert v.bounced_recipients == ()
    assert v.temporary is None


def test_bounce_from_mailer_daemon_is_bounce_not_system_sender() -> None:
    v = run(DSN.format(action="failed", status="5.1.1"))
    assert v.kind == "bounce"


def test_forwarded_bounce_attached_is_human() -> None:
    inner = DSN.format(action="failed", status="5.1.1")
    msg = f"""\
From: Jane Customer <jane@example.com>
To: support@acme.test
Subject: Fwd: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="OUTER"

--OUTER
Content-Type: text/plain

Your mail to my colleague bounced, see attached.

--OUTER
Content-Type: message/rfc822

{inner}
--OUTER--
"""
    assert run(msg).kind is None


def test_forwarded_bounce_inline_is_human() -> None:
    msg = """\
From: Jane Customer <jane@example.com>
To: support@acme.test
Subject: Fwd: Returned mail: see transcript for details

Forwarding this, what is wrong?

Begin forwarded message:

> From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
> Subject: Returned mail: see transcript for details
>
>    ----- The following addresses had permanent fatal errors -----
> <bob@example.org>
"""
    assert run(msg).kind is None


def test_customer_complaining_about_delivery_is_human() -> None:
    msg = """\
From: Jane Customer <jane@example.com>
To: support@acme.test
Subject: Mail delivery failed

Hi, when I write to sales@acme.test I get an error that the message could not be
delivered (user unknown). Please check the mailbox.
"""
    assert run(msg).kind is None


def test_arf_feedback_report() -> None:
    msg = """\
From: feedbackloop@isp.example
To: support@acme.test
Subject: Abuse Report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeFBL/1.0
Version: 1
Original-Rcpt-To: <Complainer@isp.example>

--F
Content-Type: text/rfc822-headers

From: support@acme.test
To: complainer@isp.example

--F--
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "arf_report")
    assert v.bounced_recipients == ("complainer@isp.example",)


def test_exim_x_failed_recipients() -> None:
    msg = """\
From: Mail Delivery System <Mailer-Daemon@mail.example.org>
To: support@acme.test
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: Someone@Example.ORG

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  someone@example.org
    SMTP error from remote mail server after RCPT TO:<someone@example.org>:
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

From: support@acme.test
To: someone@example.org
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "x_failed_recipients")
    assert v.bounced_recipients == ("someone@example.org",)
    assert v.temporary is False


def test_exim_delay_warning_without_dsn_is_temporary() -> None:
    msg = """\
From: Mail Delivery System <Mailer-Daemon@mail.example.org>
To: support@acme.test
Subject: Warning: message 1abcD-0001-xy delayed 24 hours

This message was created automatically by mail delivery software.

A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mail.example.org.

The address to which the message has not yet been delivered is:

  slow@example.net

No action is required on your part.
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "exim_body")
    assert v.bounced_recipients == ("slow@example.net",)
    assert v.temporary is True


def test_postfix_without_dsn_part() -> None:
    msg = """\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: support@acme.test
Subject: Undelivered Mail Returned to Sender

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

For further assistance, please send mail to postmaster.

                   The mail system

<alias@example.net> (expanded from <Real@Example.net>): user unknown
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "postfix_body")
    assert set(v.bounced_recipients) == {"alias@example.net", "real@example.net"}


def test_qmail() -> None:
    msg = """\
From: MAILER-DAEMON@mx.example.jp
To: support@acme.test
Subject: failure notice

Hi. This is the qmail-send program at mx.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nobody.here@example.jp>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <support@acme.test>
To: nobody.here@example.jp
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "qmail_body")
    assert v.bounced_recipients == ("nobody.here@example.jp",)


def test_office365_without_dsn_localized_subject() -> None:
    msg = """\
From: Microsoft Outlook <postmaster@contoso.onmicrosoft.com>
To: support@acme.test
Subject: Onbestelbaar: [#12] Printer

Delivery has failed to these recipients or groups:

piet@contoso.nl<mailto:piet@contoso.nl>
The email address you entered couldn't be found.

Diagnostic information for administrators:

Generating server: AM0PR01MB1234.eurprd01.prod.exchangelabs.com
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "exchange_body")
    assert v.bounced_recipients == ("piet@contoso.nl",)


def test_exchange_ndr_header() -> None:
    msg = """\
From: postmaster@contoso.com
To: support@acme.test
Subject: Undeliverable: hello
X-MS-Exchange-Message-Is-Ndr:

Delivery has failed to these recipients or groups:

a.b@contoso.com
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "exchange_ndr")
    assert v.bounced_recipients == ("a.b@contoso.com",)


def test_gmail_legacy_delay() -> None:
    msg = """\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: support@acme.test
Subject: Delivery Status Notification (Delay)

This is an automatically generated Delivery Status Notification

THIS IS A WARNING MESSAGE ONLY.

YOU DO NOT NEED TO RESEND YOUR MESSAGE.

Delivery to the following recipient has been delayed:

     late@example.com

Message will be retried for 2 more day(s)
"""
    v = run(msg)
    assert v.kind == "bounce"
    assert v.bounced_recipients == ("late@example.com",)
    assert v.temporary is True


def test_mailer_daemon_with_bounce_subject_only() -> None:
    msg = """\
From: MAILER-DAEMON@relay.example.com
To: support@acme.test
Subject: Returned mail: Host unknown

(no explanation)
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "bounce_sender_subject")


def test_russian_mailru_style_body() -> None:
    msg = """\
From: Mail Delivery System <mailer-daemon@corp.example.ru>
To: support@acme.test
Subject: =?utf-8?b?0JLQsNGI0LUg0YHQvtC+0LHRidC10L3QuNC1INC90LUg0LTQvtGB0YLQsNCy0LvQtdC90L4=?=
Content-Type: text/plain; charset=utf-8

К сожалению, Ваше письмо не может быть доставлено одному или нескольким получателям:

  ivan@example.ru
"""
    v = run(msg)
    assert v.kind == "bounce"
    assert "ivan@example.ru" in v.bounced_recipients


def test_amazon_ses_sns_json() -> None:
    msg = """\
From: AWS Notifications <no-reply@sns.amazonaws.com>
To: support@acme.test
Subject: AWS Notification Message

{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bouncedRecipients":[{"emailAddress":"Full@Example.com"}]},"mail":{"source":"support@acme.test"}}
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "ses_notification")
    assert v.bounced_recipients == ("full@example.com",)
    assert v.temporary is True


def test_bare_local_part_gets_reporting_domain() -> None:
    msg = """\
From: "Mail Delivery Subsystem" <MAILER-DAEMON@mx.aol.example>
To: support@acme.test
Subject: Mail Delivery Problem

Your mail to the following recipients could not be delivered:
\tscreenname
"""
    v = run(msg)
    assert v.kind == "bounce"
    assert "screenname@aol.example" in v.bounced_recipients


def test_returned_message_single_recipient_when_report_names_nobody() -> None:
    msg = """\
From: Mail Delivery Subsystem <MAILER-DAEMON@old.example.com>
To: support@acme.test
Subject: Returned mail: Cannot send message for 5 days
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="X"

--X
Content-Type: text/plain

   ----- Transcript of session follows -----
421 example.com (smtp)... Deferred: Connection timed out

--X
Content-Type: message/rfc822

From: support@acme.test
To: Only.One@example.com
Subject: [#5] hi

hi
--X--
"""
    v = run(msg)
    assert v.kind == "bounce"
    assert v.bounced_recipients == ("only.one@example.com",)


# --------------------------------------------------------------------------- auto-replies


def auto(
    extra_headers: str, subject: str = "Re: [#12] Printer", sender: str = "bob@example.com"
) -> JunkVerdict:
    msg = f"""\
From: Bob <{sender}>
To: support@acme.test
Subject: {subject}
{extra_headers}
I am out of the office until Monday.
"""
    return run(msg)


@pytest.mark.parametrize(
    ("header", "rule"),
    [
        ("Auto-Submitted: auto-replied\n", "auto_submitted"),
        (
            'Auto-Submitted: Auto-Replied (vacation); owner-email="bob@example.com"\n',
            "auto_submitted",
        ),
        ("Auto-Submitted: auto-generated (failure)\n", "auto_submitted"),
        ("X-Autoreply: yes\n", "x_autoreply"),
        ("X-Autorespond: on\n", "x_autorespond"),
        ("X-Autoresponder: 1\n", "x_autorespond"),
        ("Precedence: auto_reply\n", "precedence_auto_reply"),
        ("X-Autogenerated: Reply\n", "x_autogenerated_reply"),
        ("X-Apple-Action: VACATION\n", "apple_vacation"),
        ("Delivered-To: Autoresponder\n", "delivered_to_autoresponder"),
    ],
)
def test_auto_reply_headers(header: str, rule: str) -> None:
    v = auto(header)
    assert (v.kind, v.rule) == ("auto_reply", rule)


def test_auto_submitted_no_is_human() -> None:
    assert auto("Auto-Submitted: no\n").kind is None
    assert auto("Auto-Submitted: No (human)\n").kind is None


def test_x_autogenerated_forward_is_human() -> None:
    assert auto("X-Autogenerated: Forward\n").kind is None


def test_exchange_oof() -> None:
    v = auto(
        "X-MS-Exchange-Inbox-Rules-Loop: bob@example.com\nX-Auto-Response-Suppress: All\n",
        subject="Automatic reply: [#12] Printer",
    )
    assert (v.kind, v.rule) == ("auto_reply", "exchange_oof")


def test_rule_forwarded_human_mail_is_human() -> None:
    v = auto("X-MS-Exchange-Inbox-Rules-Loop: bob@example.com\n", subject="FW: new order")
    assert v.kind is None


def test_ooo_subject_needs_a_supporting_header() -> None:
    assert auto("", subject="Out of Office: back on Monday").kind is None
    v = auto("X-Auto-Response-Suppress: All\n", subject="Automatische Antwort: [#12] Printer")
    assert (v.kind, v.rule) == ("auto_reply", "ooo_subject")
    v = auto("In-Reply-To: <n1@acme.test>\n", subject="Réponse automatique : [#12] Printer")
    assert (v.kind, v.rule) == ("auto_reply", "ooo_subject")


def test_reply_to_an_out_of_office_is_human() -> None:
    v = auto("In-Reply-To: <x@example.com>\n", subject="Re: Automatic reply: [#12] Printer")
    assert v.kind is None


def test_read_receipt() -> None:
    msg = """\
From: bob@example.com
To: support@acme.test
Subject: Read: [#12] Printer
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="R"

--R
Content-Type: text/plain

Your message was read.

--R
Content-Type: message/disposition-notification

Final-Recipient: rfc822; bob@example.com
Disposition: manual-action/MDN-sent-manually; displayed

--R--
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("auto_reply", "read_receipt")


def test_auto_reply_from_noreply_is_auto_reply() -> None:
    v = auto("Auto-Submitted: auto-replied\n", sender="noreply@example.com")
    assert v.kind == "auto_reply"


# --------------------------------------------------------------------------- system senders


@pytest.mark.parametrize(
    "addr",
    [
        "noreply@example.com",
        "no-reply@example.com",
        "No_Reply@example.com",
        "do-not-reply@example.com",
        "donotreply@example.com",
        "noreply-dmarc-support@example.com",
        "info.noreply@example.com",
        "postmaster@example.com",
        "mailer-daemon@example.com",
        "ne-pas-repondre@example.fr",
    ],
)
def test_system_local_parts(addr: str) -> None:
    v = run(HUMAN.replace("jane@example.com", addr))
    assert (v.kind, v.rule) == ("system_sender", "system_local_part")


@pytest.mark.parametrize(
    "addr",
    [
        "notifications@github.example",
        "bounces@example.com",
        "reply@example.com",
        "norena@example.com",
    ],
)
def test_not_system_local_parts(addr: str) -> None:
    assert run(HUMAN.replace("jane@example.com", addr)).kind is None


def test_noreply_with_customer_reply_to_is_human() -> None:
    msg = HUMAN.replace("jane@example.com", "noreply@webform.example").replace(
        "Subject:", "Reply-To: Jane <jane@example.com>\nSubject:"
    )
    assert run(msg).kind is None


# ---------------------------------------------------------------- not junk, no auto-response


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("X-Auto-Response-Suppress: All\n", "x_auto_response_suppress"),
        ("X-Auto-Response-Suppress: DR, OOF, AutoReply\n", "x_auto_response_suppress"),
        ("Precedence: bulk\n", "precedence"),
        ("Precedence: list\n", "precedence"),
        ("Precedence: junk\n", "precedence"),
        ("List-Id: Customers <customers.example.com>\n", "list_headers"),
        ("List-Unsubscribe: <mailto:leave@example.com>\n", "list_headers"),
        ("Return-Path: <>\n", "null_return_path"),
    ],
)
def test_human_mail_without_auto_response(header: str, reason: str) -> None:
    v = run(HUMAN.replace("Subject:", header + "Subject:"))
    assert v.kind is None and v.rule is None
    assert v.no_auto_response is True
    assert v.no_auto_response_reason is not None and v.no_auto_response_reason.startswith(reason)


def test_x_auto_response_suppress_none_value_allows_response() -> None:
    v = run(HUMAN.replace("Subject:", "X-Auto-Response-Suppress: None\nSubject:"))
    assert v.no_auto_response is False


def test_newsletter_is_a_ticket() -> None:
    msg = """\
From: "Vitamins Shop" <service@shop.example>
To: support@acme.test
Subject: Up to $30 Off Multivitamins!
Precedence: bulk
List-Unsubscribe: <https://shop.example/unsub?u=1>
Feedback-ID: 123:shop

Big sale today!
"""
    v = run(msg)
    assert v.kind is None and v.no_auto_response


# --------------------------------------------------------------------------- robustness


def test_evidence_is_single_short_line() -> None:
    long_subject = "Returned mail: " + "x " * 400
    msg = f"From: MAILER-DAEMON@relay.example.com\nTo: a@b.c\nSubject: {long_subject}\n\nbody\n"
    v = run(msg)
    assert v.evidence is not None
    assert len(v.evidence) <= 200 and "\n" not in v.evidence


def test_header_objects_and_bad_charsets() -> None:
    msg = Message()
    msg["From"] = Header("M\u00e4iler <MAILER-DAEMON@x.example>", "utf-8")  # type: ignore[assignment]
    msg["Subject"] = Header("Undelivered Mail Returned to Sender", "utf-8")  # type: ignore[assignment]
    msg["Content-Type"] = 'text/plain; charset="x-unknown-charset"'
    msg.set_payload("I'm sorry to have to inform you that your message could not be delivered.")
    v = classify(msg, sender="mailer-daemon@x.example")
    assert v.kind == "bounce"
    msg2 = email.message_from_bytes(
        b"From: \xff\xfe <a@b.c>\r\nSubject: =?bogus?q?x?=\r\n"
        b"Content-Type: text/plain; charset=zlib\r\n\r\n\xff\x00"
    )
    assert isinstance(classify(msg2, sender="a@b.c"), JunkVerdict)


def test_broken_multipart_report_still_a_bounce() -> None:
    msg = """\
From: postmaster@example.com.br
To: support@acme.test
Subject: Delivery failure (abh@example.com.br)
Content-Type: multipart/report; report-type=delivery-status; boundary="missing"

no boundary here
Final-Recipient: rfc822; abh@example.com.br
Action: failed
Status: 5.1.1
"""
    v = run(msg)
    assert v.kind == "bounce"
    assert v.bounced_recipients == ("abh@example.com.br",)


def test_huge_message_is_fast() -> None:
    text_part = "Hello, this is a long text line for the helpdesk.\n" * 400_000  # ~20 MB
    attachment = base64.encodebytes(b"\x00\xff" * 3_000_000).decode("ascii")
    raw = (
        "From: Jane <jane@example.com>\nTo: support@acme.test\nSubject: big\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="Z"\n\n--Z\nContent-Type: text/plain\n\n'
        f"{text_part}\n--Z\nContent-Type: application/octet-stream\n"
        f"Content-Transfer-Encoding: base64\n\n{attachment}\n--Z--\n"
    )
    msg = email.message_from_string(raw)
    start = time.perf_counter()
    v = classify(msg, sender="jane@example.com")
    assert v.kind is None
    assert time.perf_counter() - start < 1.0


def test_deeply_nested_multipart_does_not_raise() -> None:
    depth = 300
    head = "From: a@example.com\nTo: b@example.com\nSubject: nest\nMIME-Version: 1.0\n"
    body = ""
    for i in range(depth):
        body += f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'
    body += "Content-Type: text/plain\n\nhello\n"
    for i in reversed(range(depth)):
        body += f"--b{i}--\n"
    v = run(head + body)
    assert isinstance(v, JunkVerdict)


def test_loose_ooo_words_need_null_return_path() -> None:
    # newsletters and list posts use such subjects too
    assert (
        auto("Precedence: bulk\nX-Auto-Response-Suppress: All\n", subject="Vacation deals!").kind
        is None
    )
    assert auto("Precedence: list\nIn-Reply-To: <a@b>\n", subject="Vacation planning").kind is None
    v = auto("Return-Path: <>\n", subject="Bob Smith is out of the office")
    assert (v.kind, v.rule) == ("auto_reply", "ooo_subject")


def test_rfc3834_auto_prefix() -> None:
    assert auto("Precedence: bulk\n", subject="Auto: Angebote der Woche").kind is None
    v = auto("In-Reply-To: <n1@acme.test>\n", subject="Auto: [#12] Printer")
    assert (v.kind, v.rule) == ("auto_reply", "ooo_subject")


def test_person_at_mailadmin_writing_about_delivery_is_human() -> None:
    msg = """\
From: Mail Admin <mailadmin@customer.example>
To: support@acme.test
Subject: Delivery failure to your domain

Hello, since yesterday our users get "user unknown" when writing to sales@acme.test.
Could you check your MX? Thanks.
"""
    assert run(msg).kind is None


def test_qmail_bounce_from_unusual_sender_via_received_header() -> None:
    msg = """\
Received: (qmail 2222 invoked for bounce); 29 Apr 2017 23:34:45 +0900
From: someone@mx.example.jp
To: support@acme.test
Subject: failure notice

Hi. This is the qmail-send program at mx.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.

<gone@example.jp>:
Sorry, no mailbox here by that name. (#5.1.1)
"""
    v = run(msg)
    assert v.kind == "bounce"
    assert v.bounced_recipients == ("gone@example.jp",)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # IMail / SMTP32: "<label>: address"
        (
            "Delivery failed 20 attempts: Lists@Mail.example.com\nOriginal message follows.\n",
            "lists@mail.example.com",
        ),
        ("User mailbox exceeds allowed size: big@example.net\n", "big@example.net"),
        # Exchange 5.5: "SMTP=addr; on <date>"
        (
            "did not reach the following recipient(s):\n\n"
            "SMTP=jo@example.org; on Mon, 1 Jan 2001\n",
            "jo@example.org",
        ),
        # MDaemon: "> addr"
        (
            "The following addresses did NOT receive a copy of your message:\n\n"
            "> bob@example.com\n",
            "bob@example.com",
        ),
        # a bracketed address opening a line, followed by the reason
        (
            "Your message could not be delivered.\n<ann@example.cn> mailbox unavailable\n",
            "ann@example.cn",
        ),
    ],
)
def test_text_recipient_formats(body: str, expected: str) -> None:
    head = "From: MAILER-DAEMON@mx.example\nTo: support@acme.test\nSubject: Undeliverable Mail\n"
    msg = f"{head}\n{body}"
    v = run(msg)
    assert v.kind == "bounce"
    assert expected in v.bounced_recipients


def test_utf8_address_in_global_dsn() -> None:
    v = run(
        DSN.format(action="failed", status="5.1.1").replace(
            "Final-Recipient: rfc822; gone.user@example.net\n"
            "Original-Recipient: rfc822;Gone.User@example.net",
            "Final-Recipient: utf-8; δοκιμή@παράδειγμα.δοκιμή",
        )
    )
    assert v.bounced_recipients == ("δοκιμή@παράδειγμα.δοκιμή",)


def test_report_forwarded_inline_by_a_person_is_human() -> None:
    msg = """\
From: Jane Customer <jane@example.com>
To: support@acme.test
Subject: Fwd: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="M"

--M
Content-Type: text/plain

See below, why does this fail?

--M
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; x@example.net
Action: failed
Status: 5.1.1

--M--
"""
    assert run(msg).kind is None
    # the same structure sent by the MTA itself is a bounce
    v = run(msg.replace("Jane Customer <jane@example.com>", "MAILER-DAEMON@mx.example.net"))
    assert v.kind == "bounce"
    assert v.bounced_recipients == ("x@example.net",)


def test_mailer_daemon_returning_a_message_in_unknown_wording() -> None:
    msg = """\
From: mailer-daemon@mx.example.cn
To: support@acme.test
Subject: =?utf-8?b?6YKu5Lu26YCa55+l?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="S"

--S
Content-Type: text/plain; charset=utf-8

<li.lei@example.cn> mailbox unavailable

--S
Content-Type: message/rfc822

From: support@acme.test
To: li.lei@example.cn
Subject: [#7] hello

hello
--S--
"""
    v = run(msg)
    assert (v.kind, v.rule) == ("bounce", "mta_returned_message")
    assert v.bounced_recipients == ("li.lei@example.cn",)


def test_chinese_bounce_wording() -> None:
    msg = """\
From: Postmaster <postmaster@mail.example.cn>
To: support@acme.test
Subject: =?utf-8?b?57O757uf6YCA5L+h?=
Content-Type: text/plain; charset=utf-8

很抱歉，您的邮件被退回。收件人 wang@example.cn 不存在。
"""
    v = run(msg)
    assert v.kind == "bounce"
    assert "wang@example.cn" in v.bounced_recipients


def test_newsletter_with_bounces_return_path_is_a_ticket() -> None:
    msg = """\
Return-Path: <bounces+123@mailer.shop.example>
From: "Shop" <news@shop.example>
To: support@acme.test
Subject: Your order could not be delivered? Track it here
List-Unsubscribe: <https://shop.example/u>

Undeliverable parcels are returned to sender. Delivery failed? Contact us.
"""
    v = run(msg)
    assert v.kind is None and v.no_auto_response
