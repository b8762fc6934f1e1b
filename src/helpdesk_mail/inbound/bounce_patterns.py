"""The wording of delivery reports: subjects, per-MTA body markers, failure and delay phrases.

The tables the junk filter's bounce rules match (`BOUNCE_SUBJECTS` through
`match_bounce_subject`, `MTA_BODY_FORMATS`, `FAILURE_PHRASE_TABLE` compiled into
`FAILURE_PHRASES`), where the returned message starts in a plain-text report
(`RETURNED_START`), and whether a report without a DSN is only a delay
(`body_is_delay`). Each table's invariants are in the comment on top of it; adding a
format or a language is a row, not code.

Subjects are matched on their first 300 characters; body markers, failure and delay
phrases on the report's text with runs of whitespace collapsed (`bounce_text.flatten`);
`RETURNED_START` on the lines of the text as it is. Every pattern is compiled once,
with bounded quantifiers. Facts come from `shared/reference/bounce-formats.md` (the
per-MTA table in its section 3, delays in section 4, traps in section 6).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re

__all__ = [
    "BOUNCE_SUBJECTS",
    "FAILURE_PHRASES",
    "FAILURE_PHRASE_TABLE",
    "MTA_BODY_FORMATS",
    "RETURNED_START",
    "body_is_delay",
    "match_bounce_subject",
]

# Subjects MTAs give their reports (reference section 3 "Subject" column and the
# SIS Order table, section 4 for delays).  Matched at the start of the decoded
# subject; a human forward or reply ("Fwd: Returned mail") does not match.
BOUNCE_SUBJECTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("undelivered", r"^\W{0,4}(?:undeliver(?:ed|able|iverable)|non[- ]?deliver|not delivered)"),
        (
            "returned",
            r"^\W{0,4}(?:returned (?:mail|message)|mail returned|return(?:ed)? to sender)",
        ),
        (
            "delivery",
            r"^\W{0,4}(?:\[postmaster\]\s*)?(?:e?-?mail |message )?deliver(?:y|ed)[ _-]?"
            r"(?:status|fail|failure|failed|notification|report|problem|error|has failed|delayed)",
        ),
        ("mail_delivery", r"^\W{0,4}mail delivery (?:fail|problem|error|status|notification)"),
        ("failure_notice", r"^\W{0,4}(?:failure notice|failed mail|mail failed|mail failure)"),
        (
            "failure",
            r"^\W{0,4}(?:mail|message) (?:system error|could not be delivered|delivery has failed)",
        ),
        (
            "delay",
            r"^\W{0,4}(?:delayed mail|warning: (?:message|could not send|delayed)|warning--)",
        ),
        ("notice", r"^\W{0,4}(?:notice: mail delivery status|delivery status notification)"),
        ("postmaster_notify", r"^\W{0,4}postmaster notify"),
        ("bounce_notice", r"^\W{0,4}(?:e-?mail )?bounce(?:d)? (?:notification|message|mail)"),
        ("blocked", r"^\W{0,4}(?:\*\*)?message you sent blocked"),
        ("could_not", r"^\W{0,4}(?:sorry, )?your message could not be delivered"),
        ("error_sending", r"^\W{0,4}there was an error sending your mail"),
        ("bounce_tag", r"^\s*\[bounce\]"),
        ("permanent_failure", r"^\W{0,4}permanent delivery failure"),
        # Localized Exchange / Office 365 and other languages (reference section 3).
        (
            "localized",
            r"^\W{0,4}(?:onbestelbaar|n[aã]o[ _]entregue|non remis|non recapitabile|unzustellbar"
            r"|no se puede entregar|no entregado|olevererbar|ikke levert|kan ikke leveres"
            r"|nie dostarczono|nedoručiteľné|nedoručitelné|kézbesíthetetlen"
            r"|недоставленное сообщение|не доставлено|ваше сообщение не доставлено"
            r"|yanıt verilemez|teslim edilemedi)",
        ),
        (
            "cjk",
            # (not 配送: that is also the delivery of goods)
            r"(?:配信(?:でき|に失敗|不能|エラー)|送信(?:でき|エラー)"
            r"|メール(?:配信|送信)|エラー通知|メールエラー|未配達|不達|退信|退回|投递失败|發送失敗|发送失败"
            r"|전송 실패|발송 실패)",
        ),
    )
)


def match_bounce_subject(subject: str) -> str | None:
    """Name of the bounce subject pattern ``subject`` matches, or ``None``."""
    for name, pattern in BOUNCE_SUBJECTS:
        if pattern.search(subject[:300]):
            return name
    return None


# Start-of-report markers of the MTA formats that come without (or before) a DSN
# part, from the reference's per-MTA table (section 3, "Body starts / key
# markers").  Matched case-insensitively on the report text with runs of
# whitespace collapsed to one space (MTAs wrap lines differently).
MTA_BODY_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "postfix",
            r"this is the [\w ./()-]{0,60}?(?:postfix|mail system)[\w ./()-]{0,60}? at host"
            r"|i'm sorry to have to inform you that (?:your|the) message"
            r"|the [\w ./()-]{0,60}postfix program"
            r"|# this is a warning only\. you do not need to resend",
        ),
        (
            "exim",
            r"this message was created automatically by mail delivery software"
            r"|a message that you (?:have )?sent (?:could not be delivered"
            r"|has not yet been delivered|was rejected)"
            r"|the following address(?:\(es\)|es)? failed"
            r"|smtp error from remote (?:mail )?server (?:after|for)"
            r"|this is an automated message created by mail delivery software",
        ),
        (
            "sendmail",
            r"the original message was received at"
            r"|-{3} ?the following addresses? had (?:permanent fatal errors|delivery problems"
            r"|transient non-fatal errors)"
            r"|-{3} ?transcript of session follows ?-{3}"
            r"|-{3} ?unsent message follows ?-{3}"
            r"|message could not be delivered for \d+ (?:hours|days)",
        ),
        (
            "qmail",
            r"hi\. this is the [\w-]{1,40} program at"
            r"|i'm afraid i wasn't able to deliver your message"
            r"|this is a permanent error; i've given up"
            r"|su mensaje no pudo ser entregado"
            r"|we're sorry\. there's a problem with the e-mail address"
            r"|he/her is not |this is the machine generated message from mail service"
            r"|this is the mail delivery agent at"
            r"|unfortunately, your mail was not delivered to the following address"
            r"|your message to the following addresses"
            r"|your mail message to the following address\(es\) could not be delivered"
            r"|--- below (?:this|the next) line is a copy of the message",
        ),
        (
            "yahoo",
            r"sorry,? we were unable to deliver your message to the following address"
            r"|unable to deliver message to the following address",
        ),
        (
            "exchange",
            r"did not reach the following recipient"
            r"|your message did not reach some or all of the intended recipients"
            r"|the following recipient\(s\) could not be reached"
            r"|delivery has failed to these recipients or groups"
            r"|diagnostic information for administrators"
            r"|remote server returned '\d{3}"
            r"|uw bericht kan niet worden bezorgd"
            r"|falha na entrega a estes destinat"
            r"|[eé]chec de remise aux destinataires"
            r"|die zustellung an folgende empf[aä]nger"
            r"|la entrega a estos destinatarios o grupos"
            r"|recapito non riuscito",
        ),
        (
            "gmail",
            r"del[ie]very to the following recipients? (?:failed|was aborted|has been delayed)"
            r"|technical details of (?:permanent|temporary) failure"
            r"|\*\* (?:address not found|message not delivered|message blocked"
            r"|delivery incomplete) \*\*"
            r"|your message wasn't delivered to"
            r"|message will be retried for \d+ more day"
            r"|this is an automatically generated delivery status notification",
        ),
        (
            "notes",
            r"was not delivered to: .{0,200}? because:"
            r"|-{3} failure reasons -{3}"
            r"|-{3} returned message -{3}",
        ),
        (
            "courier",
            r"this is a delivery status notification from .{0,200}? running the courier mail server"
            r"|^(?:\s)*(?:undeliverable mail|delays in delivering your message)",
        ),
        (
            "amazonses",
            r"the following message to <[^>]{1,200}> was undeliverable"
            r"|an error occurred while trying to deliver the mail to the following recipients",
        ),
        (
            "mailru",
            r"это письмо (?:создано автоматически|отправлено почтовым сервером)"
            r"|не может быть доставлено"
            r"|невозможно доставить сообщение",
        ),
        (
            "opensmtpd",
            r"this is the mailer-daemon, please do not reply to this email"
            r"|an error has occurred while attempting to deliver a message for the following",
        ),
        (
            "messagingserver",
            r"this report relates to (?:a|your) message"
            r"|this message was not delivered to the following recipients?",
        ),
        (
            "dragonfly",
            r"this is the dragonfly mail agent|there was an error delivering your mail to",
        ),
        ("gmx", r"--- the header of the original message is following\. ---"),
        ("sendgrid", r"this is an automatically generated message from sendgrid"),
        ("facebook", r"this message was created automatically by facebook"),
        (
            "japanese",
            r"(?:送信|配信)(?:できませんでした|に失敗|エラー)|宛先不明|あて先(?:不明|へのメッセージ)",
        ),
        (
            "chinese_korean",
            r"退信|投递失败|無法投遞|无法投递|无法送达|未能(?:成功)?(?:送达|投递)|邮件被退回|發送失敗"
            r"|发送失败|전송 실패|발송 실패|반송된 메일|배달 실패",
        ),
        (
            "generic",
            r"(?:your|the following|this) (?:e-?mail |mail )?message (?:could not|cannot|can't)"
            r" be delivered"
            r"|(?:could not|unable to) deliver (?:your )?(?:mail|message|e-?mail)"
            r" to the following (?:recipient|address)"
            r"|(?:message|mail) (?:was )?not delivered to the following"
            r"|undeliverable address:|intended recipient:"
            r"|-{3} ?failed recipients ?-{3}"
            r"|delivery failed \d+ attempts"
            r"|each of the following recipients was rejected"
            r"|the following recipients did not receive this message"
            r"|(?:has|have) encountered delivery problems"
            r"|could not be delivered to the following recipients"
            r"|could not deliver (?:the )?message to the following recipient"
            r"|message not delivered to the following"
            r"|the following (?:e-?mail |mail )?(?:message|mail) could not be delivered"
            r"|your mail to the following recipients could not be delivered"
            r"|an error was detected while processing the enclosed message"
            r"|the email you sent to the address specified above has been returned"
            r"|failed addresses follow"
            r"|reject reason:|target mail address:"
            r"|mail delivery (?:failed|failure|problem)"
            r"|your mail sent on: .{0,80}could not be delivered"
            r"|here is your list of failed recipients|message from interscan e-mail viruswall"
            r"|the following addresses did not receive a copy of your message"
            r"|user's mailbox is full|the email below could not be delivered to the following user"
            r"|a message could not be delivered to:|invalid final delivery userid"
            r"|sorry, unable to deliver your message to"
            r"|this is the (?:deliver program|email server) at"
            r"|no such user here|this is an advisory-only email"
            r"|message log follows"
            r"|could not be delivered because of|the following recipients were affected"
            r"|message could not be delivered to mobile"
            r"|unable to deliver message to <|sent <<< rcpt to:|received >>> [245]\d\d"
            r"|error message below: .{0,400}message details:",
        ),
    )
)

# Phrases a delivery failure uses anywhere in its text, per language.
#
# Invariants: a phrase is weaker than the start markers above (a person can write
# it), so the junk filter uses it ONLY together with a header no person's mail
# carries (a null sender, in Return-Path or in From, or a mailer-daemon From); each
# phrase states that a message or an address failed (never words a reply about a
# delivery would use alone, such as "delivery" or "bounce"); matched
# case-insensitively on the report text with runs of whitespace collapsed, in the
# first 8000 characters.  Adding a language is a row.  The wording comes from
# reports of old and unusual servers in public bounce-parser fixtures and pattern
# tables (rjbs/Mail-DeliveryStatus-BounceParser, cfortune/PHP-Bounce-Handler,
# zoonru/PHP-Bounce-Handler; see docs/decisions.md "Unseen mail").
FAILURE_PHRASE_TABLE: tuple[tuple[str, str], ...] = (
    (
        "en",
        r"user unknown|unknown user|no such (?:user|mailbox|recipient)"
        r"|mailbox (?:is )?(?:full|unavailable|not found|disabled)"
        r"|recipient (?:address )?rejected"
        r"|address rejected|does not exist|account (?:has been )?disabled|over quota"
        r"|quota exceeded|host unknown|relay(?:ing)? denied"
        r"|(?:^|\D)5[0-5]\d[ -]5\.\d{1,3}\.\d{1,3}|undeliverable"
        r"|could not be delivered|not be delivered|delivery (?:has )?failed"
        r"|permanent (?:fatal )?error|message (?:was )?rejected|was not delivered",
    ),
    (
        "de",
        r"nicht zugestellt werden|konnte nicht (?:zugestellt|ausgeliefert)|unzustellbar"
        r"|zustellung (?:ist )?fehlgeschlagen|(?:benutzer|empf[aä]nger|adressat) unbekannt"
        r"|(?:benutzer|postfach|empf[aä]nger) (?:existiert nicht|nicht gefunden)",
    ),
    (
        "fr",
        r"n'a pas pu [eê]tre (?:remis|d[eé]livr[eé]|distribu[eé])|non remis|non distribu[eé]"
        r"|(?:destinataire|utilisateur|adresse) (?:inconnu|introuvable|invalide)"
        r"|[eé]chec de (?:la )?(?:remise|distribution|livraison)",
    ),
    (
        "es",
        r"no (?:pudo|ha podido|se ha podido|se pudo) (?:ser )?entregar"
        r"|no pudo ser entregado|no se puede entregar|no entregado"
        r"|(?:usuario|destinatario|buz[oó]n) (?:desconocido|inexistente|no existe)"
        r"|esta casilla ha expirado",
    ),
    (
        "it",
        r"non (?:[eè] stato|e' stato) (?:possibile )?recapitat|impossibile recapitare"
        r"|mancato recapito|non recapitabile"
        r"|(?:destinatario|utente|indirizzo) (?:sconosciuto|inesistente|errato)",
    ),
    (
        "pt",
        r"n[aã]o (?:p[oô]de|foi poss[ií]vel) (?:ser )?(?:entregue|enviada|entregar)"
        r"|n[aã]o entregue|(?:usu[aá]rio|utilizador|destinat[aá]rio) (?:desconhecido|inexistente)",
    ),
    (
        "nl",
        r"(?:kon|kan) niet (?:worden )?(?:afgeleverd|bezorgd)|onbestelbaar"
        r"|onbekende (?:gebruiker|ontvanger|geadresseerde)",
    ),
    (
        "pl",
        r"nie (?:mog[łl]a|mo[żz]na|zosta[łl]a) (?:zosta[ćc] )?dostarcz|nie istnieje"
        r"|nie ma takiego konta|nieznany (?:odbiorca|u[żz]ytkownik)",
    ),
    ("sv/da/nb", r"kunde inte levereras|kunne ikke leveres|kan ikke leveres|ukjent mottaker"),
    (
        "cs/sk",
        r"nelze doru[čc]it|nebylo mo[žz]n[eé] doru[čc]it|nezn[aá]m[yý] (?:u[žz]ivatel|adres)",
    ),
    (
        "ru/uk",
        r"не (?:было |может быть |удалось )?доставлен|не удалось доставить"
        r"|пользовател[ья] не (?:найден|существует)|адресат не найден",
    ),
    (
        "ja/zh/ko",
        r"(?:配送|配信|送信)(?:できませんでした|に失敗)|宛先(?:不明|が見つかりません)"
        r"|无法投递|无法送达|投递失败|退信|전송 실패|배달 실패",
    ),
)
"""Failure phrases per language: (language, regex); see the invariants above."""

FAILURE_PHRASES = re.compile(
    "|".join(f"(?:{pattern})" for _, pattern in FAILURE_PHRASE_TABLE), re.IGNORECASE
)
"""`FAILURE_PHRASE_TABLE` compiled into one pattern."""

# Where the returned message starts in a plain-text report: recipients are looked
# for only before it (reference section 6: skip the returned message).
RETURNED_START = re.compile(
    r"^[ \t]*(?:-{2}.{0,20}(?:below this line is a copy|below the next line is a copy"
    r"|this is a copy of the message|original message|message header follows"
    r"|unsent message follows|returned message|message text follows|the header of the original"
    r"|start of returned message|header and top|attachment is a copy|mensaje original)"
    r"|original message (?:follows|headers:|as received|attached)|original mail as follows"
    r"|message headers follow|included is a copy of the message header"
    r"|below is a copy of the original message|your message reads \(in part\)"
    r"|(?:return-path|received|dkim-signature|x-received|arc-seal|message-id|mime-version"
    r"|authentication-results|x-original-to|delivered-to|x-originating-ip|x-track):\s)",
    re.IGNORECASE | re.MULTILINE,
)

_DELAY_RE = re.compile(
    r"this is a warning (?:message )?only|you do not need to resend"
    r"|no action is required on your part|message will be retried"
    r"|will (?:keep|continue to) (?:try|retry|attempt)|delivery attempts will continue"
    r"|has not yet been delivered|could not send message for past|just a warning"
    r"|delivery (?:to the following recipients? )?has been (?:delayed|postponed)|has been postponed"
    r"|will-retry-until|still being retried|warning: message .{0,40} delayed|delays in delivering"
    r"|delivery status notification \(delay\)|delayed mail|mail delivery delayed",
    re.IGNORECASE,
)
_PERMANENT_RE = re.compile(
    r"permanent (?:fatal )?error|failed permanently|i've given up|giving up|gave up"
    r"|permanent failure|permanently failed|has been returned",
    re.IGNORECASE,
)


def body_is_delay(subject: str, flat_text: str) -> bool:
    """True when a report without a DSN says it is only a delay warning (section 4)."""
    head = flat_text[:8000]
    if _PERMANENT_RE.search(head):
        return False
    return bool(_DELAY_RE.search(subject[:300]) or _DELAY_RE.search(head))
