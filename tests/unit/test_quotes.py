"""Unit tests for helpdesk_mail.inbound.quotes with hand-written example mails.

Every example here was written for these tests (shapes of real clients, made-up
people and addresses); none is copied from the shared corpus.
"""

from __future__ import annotations

import time

import pytest

from helpdesk_mail.inbound.quote_patterns import HEADER_LABELS
from helpdesk_mail.inbound.quotes import reply_text_from_plain
from helpdesk_mail.inbound.quotes_html import HTML_MARKERS, reply_text_from_html
from helpdesk_mail.inbound.signatures import MOBILE_SIGNATURES, strip_signature
from helpdesk_mail.text import HtmlRender, html_to_text

# --------------------------------------------------------------------------
# Plain text: (id, body, expected new text)
# --------------------------------------------------------------------------

PLAIN_REPLIES = [
    (
        "gmail-en-wrapped-nnbsp",
        "Thanks, the new router works.\n\n"
        "On Tue, Mar 5, 2024 at 9:41\u202fAM Support Team <help@shop.example>\nwrote:\n\n"
        "> Please restart it.\n",
        "Thanks, the new router works.",
    ),
    (
        "gmail-app-no-at",
        "Fine by me\n\nOn Tue, Mar 5, 2024, 09:41 Help <help@shop.example> wrote:\n\n> Monday?\n",
        "Fine by me",
    ),
    (
        "ios-mail-quoted-attribution-and-mobile-boilerplate",
        "Got it, will do.\n\nSent from my iPhone\n\n"
        "> On 5 Mar 2024, at 09:41, Help Desk <help@shop.example> wrote:\n>\n> Restart it.\n",
        # the device line is the message's only sign-off: part of the message (issue 12)
        "Got it, will do.\n\nSent from my iPhone",
    ),
    (
        "ios-mail-mobile-boilerplate-after-a-closing",
        "Got it, will do.\n\nThanks,\nDana\n\nSent from my iPhone\n\n"
        "> On 5 Mar 2024, at 09:41, Help Desk <help@shop.example> wrote:\n>\n> Restart it.\n",
        "Got it, will do.\n\nThanks,\nDana",
    ),
    (
        "outlook-classic-original-message",
        "Yes please cancel it.\n\n-----Original Message-----\n"
        "From: Help Desk [mailto:help@shop.example]\nSent: Tuesday, March 5, 2024 9:41 AM\n"
        "To: Dana Lee\nSubject: RE: Order 5521\n\nShould we cancel?\n",
        "Yes please cancel it.",
    ),
    (
        "outlook-web-underscores-german-labels",
        "Bitte stornieren.\n\n________________________________\n"
        "Von: Help Desk <help@shop.example>\nGesendet: Dienstag, 5. März 2024 09:41\n"
        "An: Dana Lee <dana@mail.example>\nBetreff: AW: Bestellung 5521\n\nSollen wir?\n",
        "Bitte stornieren.",
    ),
    (
        "outlook-french-labels-space-before-colon",
        "Merci, c'est réglé.\n\nDe : Service client <help@shop.example>\n"
        "Envoyé : mardi 5 mars 2024 09:41\nÀ : Dana Lee <dana@mail.example>\n"
        "Objet : RE: Commande 5521\n\nBonjour,\n",
        "Merci, c'est réglé.",
    ),
    (
        "outlook-bold-labels-wrapped-from",
        "See attached.\n\n*From:* Help Desk [mailto:\nhelp@shop.example]\n"
        "*Sent:* Tuesday, March 5, 2024 9:41 AM\n*To:* Dana\n*Subject:* Order\n\nOld text\n",
        "See attached.",
    ),
    (
        "outlook-chinese-labels",
        "收到，谢谢。\n\n发件人: 客服 <help@shop.example>\n发送时间: 2024年3月5日 9:41\n"
        "收件人: 王伟 <wei@mail.example>\n主题: 回复: 订单 5521\n\n请问需要取消吗？\n",
        "收到，谢谢。",
    ),
    (
        "outlook-japanese-labels",
        "承知しました。\n\n差出人: サポート <help@shop.example>\n送信日時: 2024年3月5日 9:41\n"
        "宛先: 山田 <yamada@mail.example>\n件名: RE: 注文\n\n以前の本文\n",
        "承知しました。",
    ),
    (
        "thunderbird-german",
        "Passt, danke!\n\nAm 05.03.2024 um 09:41 schrieb Help Desk:\n> Bitte neu starten.\n",
        "Passt, danke!",
    ),
    (
        "gmail-german-address-wrapped",
        "Erledigt.\n\nAm Di., 5. März 2024 um 09:41 Uhr schrieb Help Desk <\n"
        "help@shop.example>:\n\n> Bitte neu starten.\n",
        "Erledigt.",
    ),
    (
        "gmail-spanish",
        "Perfecto, gracias.\n\nEl mar, 5 mar 2024 a las 9:41, Soporte (<help@shop.example>) "
        "escribió:\n\n> Reinicie el equipo.\n",
        "Perfecto, gracias.",
    ),
    (
        "apple-dutch",
        "Prima, bedankt.\n\nOp 5 mrt. 2024 om 09:41 heeft Helpdesk <help@shop.example> "
        "het volgende geschreven:\n\n> Start het apparaat opnieuw op.\n",
        "Prima, bedankt.",
    ),
    (
        "gmail-portuguese",
        "Obrigado!\n\nEm ter., 5 de mar. de 2024 às 09:41, Suporte <help@shop.example> "
        "escreveu:\n\n> Reinicie o aparelho.\n",
        "Obrigado!",
    ),
    (
        "gmail-italian",
        "Grazie mille.\n\nIl giorno mar 5 mar 2024 alle ore 09:41 Assistenza "
        "<help@shop.example> ha scritto:\n\n> Riavvii il dispositivo.\n",
        "Grazie mille.",
    ),
    (
        "gmail-japanese-verbless",
        "ありがとうございます。\n\n2024年3月5日(火) 9:41 サポート <help@shop.example>:\n\n"
        "> 再起動してください。\n",
        "ありがとうございます。",
    ),
    (
        "russian-verbless",
        "Спасибо, всё работает.\n\nвт, 5 мар. 2024 г. в 09:41, Поддержка <help@shop.example>:\n\n"
        "> Перезагрузите роутер.\n",
        "Спасибо, всё работает.",
    ),
    (
        "russian-verb",
        "Готово.\n\n05.03.2024 09:41 пользователь Поддержка <help@shop.example> написал:\n\n"
        "> Перезагрузите роутер.\n",
        "Готово.",
    ),
    (
        "thunderbird-polish",
        "Dziękuję.\n\nW dniu 5.03.2024 o 09:41, Pomoc pisze:\n> Proszę zrestartować.\n",
        "Dziękuję.",
    ),
    (
        "gmail-swedish",
        "Tack!\n\nDen 5 mars 2024 kl. 09:41 skrev Support <help@shop.example>:\n\n> Starta om.\n",
        "Tack!",
    ),
    (
        "finnish-name-first",
        "Kiitos.\n\nTuki <help@shop.example> kirjoitti 5.3.2024 klo 9.41:\n\n"
        "> Käynnistä uudelleen.\n",
        "Kiitos.",
    ),
    (
        "apple-chinese-fullwidth-colon",
        "好的，谢谢。\n\n在 2024年3月5日，上午9:41，客服 <help@shop.example> 写道：\n\n"
        "> 请重启路由器。\n",
        "好的，谢谢。",
    ),
    (
        "gmail-inbox-style-unquoted-history",
        "Works for me.\n\nOn Tue, Mar 5, 2024 at 9:41 AM Help <help@shop.example> wrote:\n\n"
        "Please restart it.\n\nThanks,\nHelp\n",
        "Works for me.",
    ),
    (
        "attribution-shares-line-with-reply",
        "sounds good On Tue, Mar 5, 2024 at 9:41 AM, help@shop.example wrote:\n> Monday?\n",
        "sounds good",
    ),
    (
        "android-dashed-attribution",
        "Ok\n\n---- Help Desk wrote ----\n\nMonday?\n",
        "Ok",
    ),
    (
        "quoted-printable-left-in-body",
        "Merci\n\nLe mar. 5 mars 2024 =C3=A0 09:41, Help <help@shop.example=\n> a =C3=A9crit :\n\n"
        "> Bonjour\n",
        "Merci",
    ),
    (
        "inline-answers-are-kept",
        "On 5 Mar 2024, at 09:41, Help Desk <help@shop.example> wrote:\n\n"
        "> Does the blue one fit?\n\nYes, it fits.\n\n> And the red one?\n\nToo small.\n",
        "Yes, it fits.\n\nToo small.",
    ),
    (
        "bottom-posted-answer-is-kept",
        "Help Desk wrote:\n> Is it fixed?\n\nYes, since Monday.\n",
        "Yes, since Monday.",
    ),
    (
        "forward-with-comment-is-cut",
        "FYI\n\n---------- Forwarded message ---------\nFrom: Bank <noreply@bank.example>\n"
        "Date: Tue, Mar 5, 2024 at 9:41 AM\nSubject: Statement\nTo: <dana@mail.example>\n\n"
        "Your statement is ready.\n",
        "FYI",
    ),
    (
        "apple-forward-marker",
        "See below.\n\nBegin forwarded message:\n\nFrom: Bank <noreply@bank.example>\n"
        "Subject: Statement\nDate: 5 March 2024 at 09:41:00 CET\n\nReady.\n",
        "See below.",
    ),
    (
        "thunderbird-original-message-italian",
        "Va bene.\n\n-------- Messaggio originale --------\nOggetto: Ordine\nData: 05/03/2024\n",
        "Va bene.",
    ),
    (
        "helpdesk-reply-above-marker",
        "It arrived today.\n\n##- Please type your reply above this line -##\n\nTicket updated.\n",
        "It arrived today.",
    ),
    (
        "crlf-line-ends",
        "Hello\r\n\r\nOn Tue, Mar 5, 2024 at 9:41 AM Help <help@shop.example> wrote:\r\n> old\r\n",
        "Hello",
    ),
    (
        "quote-first-then-reply-drops-leading-blank",
        "\n> Is it fixed?\n\nYes.\n",
        "Yes.",
    ),
    (
        "german-mobile-boilerplate",
        "Bin unterwegs, melde mich.\n\nVon meinem iPhone gesendet\n\n"
        "> Am 05.03.2024 um 09:41 schrieb Help <help@shop.example>:\n> Hallo\n",
        "Bin unterwegs, melde mich.\n\nVon meinem iPhone gesendet",
    ),
    (
        "german-mobile-boilerplate-after-a-closing",
        "Bin unterwegs, melde mich.\n\nViele Grüße\nJens\n\nVon meinem iPhone gesendet\n\n"
        "> Am 05.03.2024 um 09:41 schrieb Help <help@shop.example>:\n> Hallo\n",
        "Bin unterwegs, melde mich.\n\nViele Grüße\nJens",
    ),
    (
        "get-outlook-for-android",
        "Confirmed.\n\nGet Outlook for Android<https://aka.ms/ghei36>\n"
        "________________________________\nFrom: Help <help@shop.example>\n"
        "Sent: Tuesday, March 5, 2024 9:41 AM\nTo: Dana\nSubject: Order\n\nOld\n",
        "Confirmed.\n\nGet Outlook for Android<https://aka.ms/ghei36>",
    ),
    (
        "rfc3676-signature-dropped",
        "Hi,\n\nthe screen stays black.\n\n-- \nDana Lee\n+1 555 0100",
        "Hi,\n\nthe screen stays black.",
    ),
    (
        "double-dash-without-space-is-not-a-delimiter",
        "Hi,\n\nthe screen stays black.\n\n--\nDana Lee",
        "Hi,\n\nthe screen stays black.\n\n--\nDana Lee",
    ),
    (
        "rfc3676-delimiter-first-line-is-text",
        "-- \nDana Lee\n+1 555 0100",
        "-- \nDana Lee\n+1 555 0100",
    ),
]

PLAIN_UNCHANGED = [
    (
        "sentences-starting-with-on",
        "On the other hand, the invoice says:\n\n  total 45 EUR\n\nOn average it takes a week.",
    ),
    ("wrote-inside-sentence", "My colleague wrote: it was 40.\nShe wrote back saying it was fine."),
    ("url-containing-wrote", "See https://example.org/on-monday-someone-wrote-this for details."),
    ("sent-from-my-in-a-sentence", "Hi\n\nSent from my desk, which is far easier than my phone."),
    ("timestamps-in-content", "Log:\n2024-03-05 09:41:00 started\n05.03.2024 09:42 done"),
    ("from-in-prose", "The data comes From: our database, not From: the web form."),
    ("ordinary-closing-kept", "Hi,\n\nthe screen stays black.\n\nBest regards,\nDana Lee"),
    ("leading-blank-lines-untouched", "\n\nIndented start\nsecond line"),
    ("single-header-line-is-not-a-block", "Please reply to\nFrom: the address on file"),
]


@pytest.mark.parametrize(
    ("body", "expected"), [c[1:] for c in PLAIN_REPLIES], ids=[c[0] for c in PLAIN_REPLIES]
)
def test_plain_reply(body: str, expected: str) -> None:
    assert reply_text_from_plain(body) == expected


@pytest.mark.parametrize(
    "body", [c[1] for c in PLAIN_UNCHANGED], ids=[c[0] for c in PLAIN_UNCHANGED]
)
def test_plain_text_without_history_is_unchanged(body: str) -> None:
    assert reply_text_from_plain(body) == body.rstrip()


def test_forward_without_comment_is_kept_whole() -> None:
    body = (
        "---------- Forwarded message ---------\nFrom: Bank <noreply@bank.example>\n"
        "Date: Tue, Mar 5, 2024 at 9:41 AM\nSubject: Statement\nTo: <dana@mail.example>\n\n"
        "Your statement is ready.\n"
    )
    assert reply_text_from_plain(body) == body.rstrip()


def test_outlook_header_block_at_top_is_kept_but_later_quote_removed() -> None:
    body = (
        "From: Dana <dana@mail.example>\nSent: Tuesday, March 5, 2024 9:41 AM\n"
        "To: Help <help@shop.example>\nSubject: Order\n\nHello, where is my order?\n\n"
        "On Mon, Mar 4, 2024 at 8:00 AM Help <help@shop.example> wrote:\n> Shipped.\n"
    )
    out = reply_text_from_plain(body)
    assert out.endswith("Hello, where is my order?")
    assert "Shipped" not in out


def test_a_lone_device_line_is_the_message() -> None:
    # the only sign-off of the message: part of it (issue 12); an attachment-only reply
    # from a phone keeps the line rather than becoming an empty comment
    assert reply_text_from_plain("Sent from my iPhone") == "Sent from my iPhone"
    assert reply_text_from_plain("\n\nEnviado desde mi iPhone\n") == "\n\nEnviado desde mi iPhone"


def test_only_quote_gives_empty_text() -> None:
    assert (
        reply_text_from_plain("On Tue, Mar 5, 2024 at 9:41 AM Help <h@x.example> wrote:\n> hi")
        == ""
    )


def test_trailing_whitespace_trimmed_only() -> None:
    assert reply_text_from_plain("  Hello  \n\n\n") == "  Hello"


@pytest.mark.parametrize("bad", ["", "\n", "\x00", ">", ":", "-----", "\ud800", "=\n>", "On:"])
def test_plain_degenerate_inputs(bad: str) -> None:
    assert isinstance(reply_text_from_plain(bad), str)


def test_non_str_input_is_tolerated() -> None:
    assert reply_text_from_plain(None) == ""  # type: ignore[arg-type]
    assert reply_text_from_html(b"<p>x</p>") == ""  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# strip_signature (stricter notion of visible text; not applied by default)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hi,\n\nthe screen stays black.\n\n-- \nDana Lee\nAcme Ltd",
            "Hi,\n\nthe screen stays black.",
        ),
        ("Thanks for the fix.\n\nBest regards,\nDana Lee\nAcme Ltd", "Thanks for the fix."),
        ("Tak for hjælpen.\n\nMed venlig hilsen\nAnders", "Tak for hjælpen."),
        ("Done.\n\n-Dana", "Done."),
        ("Klart.\n\n/Erik", "Klart."),
        ("Question\n\n_______________\nusers mailing list\nusers@lists.example", "Question"),
        ("Here is another email\n\nSent from my BlackBerry", "Here is another email"),
        (
            "Not a signature -- just a dash in a sentence.",
            "Not a signature -- just a dash in a sentence.",
        ),
    ],
)
def test_strip_signature(text: str, expected: str) -> None:
    assert strip_signature(text) == expected


def test_reply_functions_keep_ordinary_signatures() -> None:
    body = (
        "Done.\n\nBest regards,\nDana Lee\n+1 555 0100\n\n"
        "On Tue, Mar 5, 2024 at 9:41 AM H <h@x.example> wrote:\n> ?"
    )
    assert reply_text_from_plain(body) == "Done.\n\nBest regards,\nDana Lee\n+1 555 0100"


# --------------------------------------------------------------------------
# HTML replies
# --------------------------------------------------------------------------

HTML_REPLIES = [
    (
        "gmail",
        '<div dir="ltr">Works now, thanks!<div><br></div><div>Dana</div></div><br>'
        '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
        "On Tue, Mar 5, 2024 at 9:41\u202fAM Help &lt;help@shop.example&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
        'rgb(204,204,204);padding-left:1ex"><div>Please restart it.</div></blockquote></div>',
        "Works now, thanks!\n\nDana",
    ),
    (
        "apple-mail",
        '<html><body dir="auto"><div dir="ltr">Will try tonight.</div><div dir="ltr"><br>'
        '<blockquote type="cite">On 5 Mar 2024, at 09:41, Help &lt;help@shop.example&gt; wrote:'
        '<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">Restart it.</div>'
        "</blockquote></body></html>",
        "Will try tonight.",
    ),
    (
        "thunderbird",
        '<html><body><p>Thanks, done.</p><div class="moz-cite-prefix">On 3/5/24 9:41 AM, Help '
        'Desk wrote:<br></div><blockquote type="cite" cite="mid:abc@shop.example">'
        '<pre class="moz-quote-pre">Please restart it.</pre></blockquote></body></html>',
        "Thanks, done.",
    ),
    (
        "outlook-web-french",
        '<div class="elementToProof">C\'est bon.</div><div id="appendonsend"></div>'
        '<hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" '
        'dir="ltr"><font face="Calibri, sans-serif"><b>De :</b> Service &lt;help@shop.example&gt;'
        "<br><b>Envoyé :</b> mardi 5 mars 2024 09:41<br><b>À :</b> Dana<br><b>Objet :</b> "
        "Commande</font></div><div>Bonjour</div>",
        "C'est bon.",
    ),
    (
        "outlook-desktop-border-div",
        "<div class=WordSection1><p class=MsoNormal>Please cancel.<o:p></o:p></p>"
        "<p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style='border:none;border-top:solid "
        "#E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in'><p class=MsoNormal><b>From:</b> Help "
        "&lt;help@shop.example&gt;<br><b>Sent:</b> Tuesday, March 5, 2024 9:41 AM<br><b>To:</b> "
        "Dana<br><b>Subject:</b> Order</p></div></div><p class=MsoNormal>Cancel?</p></div>",
        "Please cancel.",
    ),
    (
        "yahoo",
        '<div class="ydp1a2b3c4dyahoo-style-wrap"><div>Sounds good.</div></div>'
        '<div id="ydp5e6f7a8byahoo_quoted_1234567890" class="ydp5e6f7a8byahoo_quoted">'
        '<div style="color:#26282a;">On Tuesday, March 5, 2024, 09:41:00 AM GMT, Help '
        "&lt;help@shop.example&gt; wrote:</div><div>Please restart it.</div></div>",
        "Sounds good.",
    ),
    (
        "zimbra",
        '<div>Merci.</div><br><hr id="zwchr" data-marker="__DIVIDER__"><div data-marker='
        '"__HEADERS__"><b>De: </b>Help<br><b>Envoyé: </b>mardi 5 mars 2024<br><b>Objet: </b>'
        'Commande</div><div data-marker="__QUOTED_TEXT__">Bonjour</div>',
        "Merci.",
    ),
    (
        "protonmail",
        '<div>Ok.</div><div class="protonmail_quote">------- Original Message -------<br>'
        "On Tuesday, March 5th, 2024 at 09:41, Help wrote:<br>"
        "<blockquote>Restart</blockquote></div>",
        "Ok.",
    ),
    (
        "bare-blockquote-with-attribution-outside",
        '<div>Спасибо!</div><div><br></div><div>05.03.2024, 09:41, "Поддержка" '
        "&lt;help@shop.example&gt;:</div><blockquote><div>Перезагрузите роутер.</div></blockquote>",
        "Спасибо!",
    ),
    (
        "hr-then-header-block",
        "<div>Hi there<div>Dana</div><hr><b>From: </b>help@shop.example<br><b>Sent: </b>"
        "Tuesday, March 5, 2024 9:41 AM<br><b>To: </b>dana@mail.example<br><b>Subject: </b>"
        "Order<br><p>Old</p></div>",
        "Hi there\nDana",
    ),
    (
        "short-attribution-outside-cite-blockquote",
        '<div>Thanks</div><div>Help Desk wrote:</div><blockquote type="cite">old</blockquote>',
        "Thanks",
    ),
    (
        "gmail-quote-button-blockquote-then-answer",
        '<div>See</div><blockquote class="gmail_quote">quoted bit</blockquote><div>my answer</div>',
        "See\n\nmy answer",
    ),
    (
        "modern-border-top-shorthand",
        '<p>Bye</p><div style="border-top: 1px solid #ccc"><b>From:</b> a@b.example<br>'
        "<b>Sent:</b> Monday<br><b>Subject:</b> x</div><p>old</p>",
        "Bye",
    ),
    (
        "freescout-style-reply-above-marker",
        '<div>Thanks</div><div class="fsReplyAbove1a2b3c4d">-- Please reply above this line --'
        "</div><div>Ticket text</div>",
        "Thanks",
    ),
]

HTML_KEPT = [
    (
        "signature-with-border-is-not-a-quote",
        '<div>Regards,</div><div style="border-top:solid #cccccc 1.0pt;padding-top:4pt">'
        "Dana Lee<br>Acme Ltd</div>",
        "Regards,\nDana Lee\nAcme Ltd",
    ),
    (
        "gmail-forward-without-comment-is-content",
        '<div dir="ltr"><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "---------- Forwarded message ---------<br>From: <b>Bank</b> &lt;noreply@bank.example&gt;"
        "<br>Date: Tue, Mar 5, 2024 at 9:41 AM<br>Subject: Statement<br>To: &lt;dana@mail.example"
        "&gt;<br></div><br><div>Your statement is ready.</div></div></div>",
        "---------- Forwarded message ---------\nFrom: Bank <noreply@bank.example>\n"
        "Date: Tue, Mar 5, 2024 at 9:41 AM\nSubject: Statement\nTo: <dana@mail.example>\n\n"
        "Your statement is ready.",
    ),
    ("no-markers", "<p>Hello</p><p>World</p>", "Hello\n\nWorld"),
]


@pytest.mark.parametrize(
    ("html", "expected"), [c[1:] for c in HTML_REPLIES], ids=[c[0] for c in HTML_REPLIES]
)
def test_html_reply(html: str, expected: str) -> None:
    assert reply_text_from_html(html) == expected


@pytest.mark.parametrize(
    ("html", "expected"), [c[1:] for c in HTML_KEPT], ids=[c[0] for c in HTML_KEPT]
)
def test_html_without_quote_is_kept(html: str, expected: str) -> None:
    assert reply_text_from_html(html) == expected


def test_html_formatting_blockquote_without_history_is_content() -> None:
    html = "<p>As the manual says:</p><blockquote>Never open it.</blockquote><p>So I did not.</p>"
    assert reply_text_from_html(html) == "As the manual says:\n\nNever open it.\n\nSo I did not."


def test_html_bare_blockquote_after_an_attribution_is_history() -> None:
    html = "<div>Thanks</div><div>Help Desk wrote:</div><blockquote>old</blockquote>"
    assert reply_text_from_html(html) == "Thanks"


def test_html_quote_button_blockquote_stays_a_quote_without_attribution() -> None:
    html = '<div>See</div><blockquote class="gmail_quote" style="border-left:1px solid #ccc">'
    html += "bit</blockquote><div>and my answer</div>"
    assert reply_text_from_html(html) == "See\n\nand my answer"


def test_html_signature_delimiter_ends_the_text() -> None:
    html = "<div>Done.</div><div>-- <br>Dana Lee<br>ACME</div>"
    assert reply_text_from_html(html) == "Done."


# --------------------------------------------------------------------------
# html_to_text
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<div>a</div><div>b</div>", "a\nb"),
        ("<div>a</div><div><br></div><div>b</div>", "a\n\nb"),
        ("a<br>b<br><br>c", "a\nb\n\nc"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("<ol><li>one</li><li>two</li></ol>", "1. one\n2. two"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("x &amp; y &lt;z&gt; &#233;&eacute;", "x & y <z> éé"),
        ("a\n   b\t\tc", "a b c"),
        ("a&nbsp;&nbsp;b", "a  b"),
        ("<pre>  x\n    y</pre>", "  x\n    y"),
        ("<head><title>T</title><style>p{}</style></head><body>v</body>", "v"),
        ("<script>alert(1)</script>ok<style>.a{}</style>", "ok"),
        ("<!-- hidden -->shown<!--[if mso]>x<![endif]-->", "shown"),
        ("<b>bold</b> <i>it</i>alic", "bold italic"),
        ("<h1>T</h1>body", "T\n\nbody"),
        ("<p>unclosed <b>tags<p>next", "unclosed tags\n\nnext"),
        ("a < b and c > d", "a < b and c > d"),
        ("<textarea>&lt;kept&gt;</textarea>", "<kept>"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "<",
        "<a",
        "<a href='",
        '<div class="',
        "<!--",
        "<![CDATA[",
        "</",
        "<script>",
        "<svg><svg></svg>",
        "</div></div>",
        "&#xffffffff;&#0;&#55296;",
        "<" * 1000,
        "<blockquote>" * 500 + "x",
        "<ol>" + "<li>" * 300 + "x",
    ],
)
def test_html_hostile_inputs_do_not_raise(hostile: str) -> None:
    assert isinstance(html_to_text(hostile), str)
    assert isinstance(reply_text_from_html(hostile), str)


def test_render_html_reports_marker_offsets() -> None:
    job = HtmlRender("<p>a</p><hr><p>b</p>", lambda tag, attrs: "hr" if tag == "hr" else None)
    job.run()
    raw, marks = job.raw(), job.marks
    assert marks and marks[0][0] == "hr"
    assert raw[: marks[0][1]].strip() == "a"


# --------------------------------------------------------------------------
# Data tables and speed
# --------------------------------------------------------------------------


def test_tables_are_data() -> None:
    assert {"from", "date", "to", "cc", "subject"} <= set(HEADER_LABELS)
    assert all(name and pattern for name, pattern in MOBILE_SIGNATURES)
    assert len({m.name for m in HTML_MARKERS}) == len(HTML_MARKERS)


def test_large_inputs_are_linear() -> None:
    plain = "Hello there, this is an ordinary line of text.\n" * 100_000  # ~4.7 MB
    html = "<div><p>Hello <b>world</b> &amp; friends</p></div>\n" * 60_000
    hostile = ("On x wrote " * 40 + ":\n") * 5_000 + ("-" * 400 + "x\n") * 5_000
    start = time.perf_counter()
    assert reply_text_from_plain(plain) == plain.rstrip()
    reply_text_from_html(html)
    reply_text_from_plain(hostile)
    assert time.perf_counter() - start < 10


# --------------------------------------------------------------------------
# Our own reply marker (helpdesk_mail.reply_marker): cut exactly, before the rules
# --------------------------------------------------------------------------

OUTLOOK_HEADERS = "From: Acme <help@acme.test>\nSent: Monday\nTo: Dana\nSubject: x"
GMAIL_ATTRIBUTION = "On Mon, Jan 5, 2026 at 9:30 AM Acme &lt;a@acme.test&gt; wrote:"
NOTIFICATION = (
    "##- Reply above this line -##\n\nAcme Support\n\nThe ticket has been updated.\n\n"
    "From: Tess Tech <tess@acme.test>\nTicket #7\n\n##- Acme Support · #7 -##\n"
)


def test_plain_reply_is_cut_at_our_top_marker() -> None:
    body = f"Works now.\n\n{OUTLOOK_HEADERS}\n\n{NOTIFICATION}"
    assert reply_text_from_plain(body) == "Works now."


def test_plain_text_below_our_bottom_marker_is_kept() -> None:
    """Outlook-style unquoted original with the answer written below it."""
    body = f"{OUTLOOK_HEADERS}\n\n{NOTIFICATION}\nBelow it."
    assert reply_text_from_plain(body) == "Below it."
    both = f"Above.\n\n{NOTIFICATION}\nBelow."
    assert reply_text_from_plain(both) == "Above.\n\nBelow."


def test_customer_words_are_never_our_marker() -> None:
    """Only the decorated line of its own is a marker, and only a line that is the phrase
    alone is another helpdesk's: a sentence with the words is the customer's."""
    quoted = "\n".join(f"> {line}" if line else ">" for line in NOTIFICATION.split("\n"))
    for text in (
        "I did reply above this line, as the email said.",
        "Where should I reply? Above this line?",
        "Text ##- Reply above this line -## in a sentence",
    ):
        attribution = GMAIL_ATTRIBUTION.replace("&lt;", "<").replace("&gt;", ">")
        body = f"Hello,\n{text}\nDana\n\n{attribution}\n{quoted}\n"
        assert reply_text_from_plain(body) == f"Hello,\n{text}\nDana"
        top = f"Hello,\n{text}\nDana\n\n{NOTIFICATION}"
        assert reply_text_from_plain(top) == f"Hello,\n{text}\nDana"


def test_a_quoted_reply_above_line_does_not_eat_a_bottom_posted_answer() -> None:
    """Before the marker, a quoted "reply above this line" cut everything below it."""
    body = (
        "On Mon, Jan 5, 2026 at 9:30 AM Help <help@shop.example> wrote:\n"
        "> -- Please reply above this line --\n> Your ticket was updated.\n\nMy answer below.\n"
    )
    assert reply_text_from_plain(body) == "My answer below."


def test_without_our_marker_the_rules_are_unchanged() -> None:
    body = (
        "It arrived today.\n\n##- Please type your reply above this line -##\n\nTicket updated.\n"
    )
    assert reply_text_from_plain(body) == "It arrived today."
    assert reply_text_from_plain("Fine.\n\nPlease reply above this line\nold") == "Fine."


HTML_NOTIFICATION = (
    '<div class="{p}hm-reply-above" style="display:none"></div>'
    '<div class="{p}hm-reply-above-line">##- Reply above this line -##</div>'
    "<div><p>The ticket has been updated.</p><p>From: Tess Tech</p></div>"
    '<div class="{p}hm-reply-end-line">##- Acme Support · #7 -##</div>'
    '<div class="{p}hm-reply-end" style="display:none"></div>'
)


@pytest.mark.parametrize("prefix", ["", "m_-8102936417710492734", "x_"])
def test_html_reply_is_cut_at_our_marker_elements(prefix: str) -> None:
    quoted = HTML_NOTIFICATION.format(p=prefix)
    top = (
        "<div>Done, thanks.</div><blockquote type=cite><div>On Monday, Acme wrote:</div>"
        f"{quoted}</blockquote>"
    )
    assert reply_text_from_html(top) == "Done, thanks."
    bottom = (
        f'<div class="gmail_quote"><div class="gmail_attr">{GMAIL_ATTRIBUTION}</div>'
        f'<blockquote class="gmail_quote">{quoted}</blockquote></div><div>Below.</div>'
    )
    assert reply_text_from_html(bottom) == "Below."


def test_html_marker_lines_alone_find_our_notification() -> None:
    """A client that keeps no class or id: the decorated lines say where it is."""
    quoted = HTML_NOTIFICATION.format(p="").replace(' class="hm-reply-above"', "")
    quoted = quoted.replace(' class="hm-reply-above-line"', "").replace(
        ' class="hm-reply-end-line"', ""
    )
    quoted = quoted.replace(' class="hm-reply-end"', "")
    assert "hm-reply" not in quoted
    body = (
        '<p class="MsoNormal">Above.</p><div style="border:none;border-top:solid #E1E1E1 1.0pt">'
        "<p><b>From:</b> Acme<br><b>Sent:</b> Monday<br><b>To:</b> Dana<br><b>Subject:</b> x"
        f"</p></div>{quoted}<p>Below.</p>"
    )
    assert reply_text_from_html(body) == "Above.\n\nBelow."


def test_html_customer_words_are_kept_when_our_marker_cuts() -> None:
    quoted = HTML_NOTIFICATION.format(p="")
    said = "I did reply above this line, as the email said."
    body = f"<div>{said}</div><div>ok</div><blockquote type=cite>{quoted}</blockquote>"
    assert reply_text_from_html(body) == f"{said}\nok"


def test_many_marker_lines_are_linear() -> None:
    plain = "##- Reply above this line -##\n" * 100_000 + "text\n" * 100_000
    html = '<div class="hm-reply-above">##- x -##</div>' * 50_000
    start = time.perf_counter()
    reply_text_from_plain(plain)
    reply_text_from_plain("> ##- a -##\n" * 200_000)
    reply_text_from_html(html)
    assert time.perf_counter() - start < 10


def test_a_quote_inside_a_header_block_counts_as_the_empty_line_it_leaves() -> None:
    """Idempotence: the quote's removal leaves one empty line, which a header block may
    contain; the block is judged the same on the input as on the output."""
    for body in ("0\nTO:\n>\nFROM:\nSENT:", "0\nTO:\n>\n>\n\nFROM:\nSENT:"):
        once = reply_text_from_plain(body)
        assert once == "0" and reply_text_from_plain(once) == once
