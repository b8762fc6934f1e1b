"""Delivery reports (bounces): what marks a message as one, and who it says failed.

`Report(msg)` reads one message as a possible report: its parts, the text of the
report itself, its RFC 3464 delivery-status fields, an Amazon SES notification,
the returned message. `Report.bounce(...)` gives the failed recipients and
whether the failure is only a delay (a `Bounce`). The junk filter's rules use
these, `match_bounce_subject` and the tables `MTA_BODY_FORMATS` and
`FAILURE_PHRASES`.

Everything is pure and never raises on hostile input; decoding goes through
`mime_headers`. Scanning is bounded: at most `TEXT_SCAN_LIMIT` characters of a text part
are decoded, at most `MAX_PARTS` MIME parts are visited, attachments are never
decoded. Facts come from `shared/reference/bounce-formats.md` (RFC 3464/6522
structure, the per-MTA table in its section 3, delays in section 4, traps in
section 6).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from functools import cached_property
from typing import Any

from . import charsets, mime_headers, mime_parts

__all__ = [
    "FAILURE_PHRASES",
    "FAILURE_PHRASE_TABLE",
    "MAX_PARTS",
    "MAX_RECIPIENTS",
    "MTA_BODY_FORMATS",
    "TEXT_SCAN_LIMIT",
    "Bounce",
    "Report",
    "match_bounce_subject",
]

TEXT_SCAN_LIMIT = 64 * 1024
"""Characters of a text part that are decoded and scanned (bounces put their
explanation first; the returned message, which may be huge, comes after)."""

MAX_PARTS = 200
"""MIME parts visited per message (a bounce has 2-4)."""

MAX_RECIPIENTS = 100
"""Bounced recipients reported per message."""

MAX_RETURNED_IDS = 10
"""Message-IDs of returned messages reported per report (a bounce returns one)."""

_MESSAGE_ID_RE = re.compile(r"<[^<>\s@]{1,250}@[^<>\s@]{1,250}>")

_MAX_TEXT_PARTS = 4
_ADDR = mime_headers.ADDRESS_PATTERN
_ADDR_RE = re.compile(_ADDR)
# In DSN fields an address may be UTF-8 (RFC 6531/6533 global delivery status).
_DSN_ADDR_RE = re.compile(
    r"[\w!#$%&'*+/=?^`{|}~.-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+", re.UNICODE
)
_WS_RE = re.compile(r"\s+")
_TAG_RE = re.compile(r"<[^<>]{0,2000}>")
_REPORT_PARTS = frozenset(
    {"message/delivery-status", "message/global-delivery-status", "message/xdelivery-status"}
)
_ATTACHED_MESSAGES = ("message/rfc822", "message/global")


@dataclass(frozen=True)
class Bounce:
    """Who a delivery report says failed (lower-cased, at most `MAX_RECIPIENTS`), and
    whether the failure is only a delay (`None` when the report does not say).

    `message_ids` are the Message-IDs of the message it returns (attached, its headers,
    or quoted inline; at most `MAX_RETURNED_IDS`): what says which mail of ours, if
    any, the report answers."""

    recipients: tuple[str, ...]
    temporary: bool | None
    message_ids: tuple[str, ...] = ()


# --------------------------------------------------------------------------- reading parts


def _iter_parts(msg: Message, max_parts: int = MAX_PARTS) -> Iterator[Message]:
    """Yield `msg` and its MIME parts depth-first, NOT descending into `message/*`.

    A returned or forwarded message (`message/rfc822`) is a leaf: what it contains
    belongs to someone else's mail (a person forwarding a bounce is human mail).
    """
    stack: list[Message] = [msg]
    seen = 0
    while stack and seen < max_parts:
        part = stack.pop()
        seen += 1
        yield part
        if mime_headers.content_type(part).startswith("message/"):
            continue
        children = mime_parts.payload(part)
        if isinstance(children, list):
            stack.extend(reversed(children[:max_parts]))


def _messages_in(part: Message) -> list[Message]:
    """The messages a `message/*` part carries."""
    children = mime_parts.payload(part)
    return children if isinstance(children, list) else []


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _part_text(part: Message, limit: int = TEXT_SCAN_LIMIT) -> str:
    """At most about `limit` characters of a leaf part's text (HTML tags removed)."""
    data = mime_parts.body_bytes(part, limit)
    if not data:
        return ""
    text = charsets.decode_bytes(data[: limit * 4], _charset(part))[:limit]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    subtype = mime_headers.content_type(part).partition("/")[2]
    if subtype == "html" or (subtype != "plain" and "<html" in text[:2000].lower()):
        text = _TAG_RE.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", text))
        text = html.unescape(text)
    return text


def _flatten(text: str) -> str:
    """Collapse runs of whitespace to one space (MTAs wrap their sentences differently)."""
    return _WS_RE.sub(" ", text)


# --------------------------------------------------------------------------- DSN fields


@dataclass(frozen=True)
class _DsnRecipient:
    """One per-recipient block of a `message/delivery-status` part."""

    final: str | None
    original: str | None
    action: str
    status: str


def _fields(text: str) -> dict[str, str]:
    """`Name: value` lines of one block (lower-case names, the first of each wins)."""
    block: dict[str, str] = {}
    for name, value in mime_headers.header_fields(text.encode("utf-8", "surrogateescape")):
        key = name.decode("utf-8", "replace")
        block.setdefault(key, value.decode("utf-8", "replace"))
    return block


def _field_blocks(text: str) -> list[dict[str, str]]:
    """RFC 3464 field blocks of a text, separated by blank lines."""
    blocks = (_fields(chunk) for chunk in re.split(r"\n\s*\n", text[:TEXT_SCAN_LIMIT]))
    return [block for block in blocks if block]


def _dsn_blocks(part: Message) -> list[dict[str, str]]:
    """Field blocks of a `message/*delivery-status` or feedback part."""
    children = mime_parts.payload(part)
    if isinstance(children, str):
        return _field_blocks(_part_text(part))
    blocks: list[dict[str, str]] = []
    for sub in children[:MAX_PARTS]:
        # DSN fields are not RFC 2047 text: "=?utf-8?...?=@x" is kept as sent.
        block: dict[str, str] = {}
        for name, value in sub.raw_items():
            block.setdefault(str(name).lower(), mime_headers.decode_raw_text(value))
        if block:
            blocks.append(block)
        body = mime_parts.payload(sub)
        if isinstance(body, str) and body:
            blocks.extend(_field_blocks(body))
    return blocks


def _dsn_address(value: str | None) -> str | None:
    if not value:
        return None
    _, _, addr = value.rpartition(";")
    m = _DSN_ADDR_RE.search(addr or value)
    return m.group(0).lower().strip(".") if m else None


_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded", "deliverable"})


def _dsn_recipients(blocks: Iterable[dict[str, str]]) -> tuple[list[_DsnRecipient], bool | None]:
    """Failed/delayed recipients of DSN blocks and whether the failure is temporary.

    Recipients whose ``Action`` is a success (delivered, relayed, expanded) are left
    out.  ``Action`` decides temporary (``delayed``) vs permanent (``failed``,
    non-standard ``expired``); the ``Status`` class is used only when ``Action`` is
    missing (a 4.4.7 inside ``Action: failed`` is a final failure).
    """
    out: list[_DsnRecipient] = []
    for block in blocks:
        final = _dsn_address(block.get("final-recipient") or block.get("x-actual-recipient"))
        original = _dsn_address(block.get("original-recipient"))
        if not final and not original:
            continue
        action = (block.get("action", "").strip().lower().split() or [""])[0].strip(";,()")
        status_m = re.search(r"[245]\.\d{1,3}\.\d{1,3}", block.get("status", ""))
        status = status_m.group(0) if status_m else ""
        if action in _SUCCESS_ACTIONS:
            continue
        out.append(_DsnRecipient(final, original, action, status))
    temporary: bool | None = None
    if out:
        actions = {r.action for r in out}
        if actions & {"failed", "expired", "failure"}:
            temporary = False
        elif any(a.startswith("delay") for a in actions):
            temporary = True
        elif any(r.status.startswith("5") for r in out):
            temporary = False
        elif any(r.status.startswith("4") for r in out):
            temporary = True
    return out[:MAX_RECIPIENTS], temporary


# --------------------------------------------------------------------------- subjects

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


# --------------------------------------------------------------------------- body formats

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
_RETURNED_START = re.compile(
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


def _body_is_delay(subject: str, flat_text: str) -> bool:
    """True when a report without a DSN says it is only a delay warning (section 4)."""
    head = flat_text[:8000]
    if _PERMANENT_RE.search(head):
        return False
    return bool(_DELAY_RE.search(subject[:300]) or _DELAY_RE.search(head))


# --------------------------------------------------------------------------- recipients


# An address that a report line is about: alone on its line (optionally in <> or
# quotes, after ">>>" or an indent), followed by ':' / '...' / ' on <date>' /
# '(expanded from' / '<mailto:' (Postfix, qmail, Yahoo, Sendmail, Exchange, Exim).
_LINE_ADDR = re.compile(
    r"^[\s>|*\-]{0,12}(?:[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?)?"
    r"(?:rcpt to:\s*|to:\s*<|recipient:\s*|failed recipient:\s*|error-for:\s*"
    r"|undeliverable address:\s*|unknown user:\s*|original-recipient:\s*(?:rfc822;)?\s*"
    r"|final-recipient:\s*(?:rfc822;)?\s*|x-failed-recipients:\s*|address:\s*|smtp=)?"
    r"[<\"'(\[]?(?<![\w.+-])(" + _ADDR + r")[>\"')\]]?"
    r"(?:\s*$|\s*[:;]|\s*\.\.\.|\s+on\s|\s*\(|\s*<mailto:|\s*\[|\s+\w*\s*(?:user|mailbox|address)"
    r"|\s*-\s|(?<=>))",
    re.IGNORECASE | re.MULTILINE,
)
# Phrases naming the failed address inside a sentence.
_PHRASE_ADDR = re.compile(
    r"\b(?:deliver(?:ed|ing)?|sent|addressed|message|mail|undeliverable|failed|rejected"
    r"|attempts|recipient|rcpt to|mailbox|address|account|user|expanded from|generated from"
    r"|originally addressed to)\W{0,3}(?:to|for|:)?\W{0,3}"
    r"['\"<]?(?<![\w.+-])(" + _ADDR + r")",
    re.IGNORECASE,
)
# "<label ...>: address" on one line (SMTP32/IMail "Delivery failed 20 attempts: a@b",
# "User mailbox exceeds allowed size: a@b", "Unknown user: a@b").
_LABEL_ADDR = re.compile(
    r"\b(?:mailbox|failed|user|userid|recipient|address(?:ee)?)\b[^:\n]{0,60}:[ \t]*<?"
    r"(?<![\w.+-])(" + _ADDR + r")",
    re.IGNORECASE,
)
_NOT_RECIPIENT = re.compile(
    r"(?:mail from|envelope-from|sender|(?<!expanded )(?<!generated )from|reply-to|errors-to"
    r"|return-path|message-id"
    r"|contact|please contact|postmaster at)\W{0,4}$",
    re.IGNORECASE,
)


def _text_recipients(text: str, exclude: Iterable[str], reporter: str = "") -> list[str]:
    """Bounced addresses named in a plain-text report (the part before the returned message).

    Addresses in ``exclude`` (the report's own header addresses: the original
    sender, the reporting postmaster) and system local parts are skipped.  A
    recipient named without a domain is completed with the reporting host's
    organisation domain ``reporter`` (and its subdomains the report mentions).
    """
    excluded = {a.lower() for a in exclude}
    cut = _RETURNED_START.search(text)
    report = text[: cut.start()] if cut else text
    report = report[:TEXT_SCAN_LIMIT]

    def keep(addr: str, strict: bool = False) -> bool:
        local = addr.partition("@")[0]
        if addr in excluded or re.match(r"mailer[-_]?daemon$", local):
            return False
        return not strict or not re.match(
            r"(?:postmaster|post_master|abuse|root|nobody|noreply|no-reply|hostmaster|webmaster)$",
            local,
        )

    found: dict[str, None] = {}
    for regex in (_LINE_ADDR, _PHRASE_ADDR, _LABEL_ADDR):
        for m in regex.finditer(report):
            addr = m.group(1).lower().strip(".")
            before = report[max(0, m.start(1) - 30) : m.start(1)]
            if _NOT_RECIPIENT.search(before.rstrip("<'\" \t:")):
                continue
            if keep(addr):
                found.setdefault(addr, None)
    if not found and reporter:
        for addr in _bare_recipients(report, reporter, returned=text[len(report) :]):
            if keep(addr):
                found.setdefault(addr, None)
    if not found:
        for m in _ADDR_RE.finditer(report):
            addr = m.group(0).lower().strip(".")
            before = report[max(0, m.start() - 30) : m.start()]
            if keep(addr, strict=True) and not _NOT_RECIPIENT.search(before.rstrip("<'\" \t:")):
                found.setdefault(addr, None)
    return list(found)[:MAX_RECIPIENTS]


# A recipient named without a domain (AOL screen names, Exim local users, directory
# look-ups) on the line(s) after "the following recipients/addresses".
_BARE_AFTER = re.compile(
    r"\b(?:following|these)\b[^\n]{0,120}\n(?:[ \t]*\n)?[ \t]*"
    r"([A-Za-z0-9][\w.+-]{0,63})(?:[ \t]|$)",
    re.IGNORECASE | re.MULTILINE,
)
_SECOND_LEVEL = frozenset(
    {"co", "com", "ne", "net", "or", "org", "ac", "ad", "ed", "edu", "go", "gov", "gr", "lg"}
)


def _registered_domain(domain: str) -> str:
    """Organisation domain of a host name without a public-suffix list (``mr2.its.yale.edu`` ->
    ``yale.edu``, ``mx.example.co.jp`` -> ``example.co.jp``)."""
    labels = [x for x in domain.lower().strip(".").split(".") if x]
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _bare_recipients(report: str, reporter: str, returned: str) -> list[str]:
    """Complete bare local parts with the domains the report or the returned message gives."""
    out: list[str] = []
    org = _registered_domain(reporter)
    for m in _BARE_AFTER.finditer(report):
        local = m.group(1).lower().strip(".")
        if "@" in local or local in ("the", "an", "a", "to", "for", "your", "this"):
            continue
        candidates: list[str] = []
        for addr in mime_headers.find_addresses(returned[:TEXT_SCAN_LIMIT]):
            if addr.partition("@")[0] == local:
                candidates.append(addr)
        domains = [org] + [
            a.partition("@")[2]
            for a in mime_headers.find_addresses(report)
            if _registered_domain(a.partition("@")[2]) == org
        ]
        candidates.extend(f"{local}@{d}" for d in domains if d)
        out.extend(dict.fromkeys(candidates))
    return out


# --------------------------------------------------------------------------- Amazon SES


def _json_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:TEXT_SCAN_LIMIT])
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _ses_notification(text: str) -> tuple[str, list[str], bool | None] | None:
    """Amazon SES bounce/complaint/delivery notification sent as SNS JSON e-mail.

    Returns ``(notificationType, recipients, temporary)`` or ``None``.
    """
    obj = _json_object(text) or _json_object(re.sub(r"\r?\n", "", text[:TEXT_SCAN_LIMIT]))
    if obj is None:
        return _ses_by_regex(text)
    inner = obj.get("Message")
    if isinstance(inner, str) and "notificationType" in inner:
        obj = _json_object(inner) or {}
    kind = obj.get("notificationType") or obj.get("eventType")
    if not isinstance(kind, str) or kind not in ("Bounce", "Complaint", "Delivery"):
        return _ses_by_regex(text)
    recipients: list[str] = []
    temporary: bool | None = None
    section = obj.get(kind.lower())
    if isinstance(section, dict):
        key = {"Bounce": "bouncedRecipients", "Complaint": "complainedRecipients"}.get(kind)
        entries = section.get(key, []) if key else []
        if isinstance(entries, list):
            for entry in entries[:MAX_RECIPIENTS]:
                if isinstance(entry, dict) and isinstance(entry.get("emailAddress"), str):
                    recipients.extend(mime_headers.find_addresses(entry["emailAddress"]))
        bounce_type = section.get("bounceType")
        if bounce_type == "Transient":
            temporary = True
        elif bounce_type == "Permanent":
            temporary = False
    return kind, recipients, temporary


def _ses_by_regex(text: str) -> tuple[str, list[str], bool | None] | None:
    """Fallback for SNS JSON that a mail system wrapped into invalid JSON."""
    head = text[:TEXT_SCAN_LIMIT]
    m = re.search(r'\\?"notificationType\\?"\s*:\s*\\?"(Bounce|Complaint|Delivery)', head)
    if m is None:
        return None
    kind = m.group(1)
    recipients: list[str] = []
    if kind != "Delivery":
        for addr in re.findall(r'\\?"emailAddress\\?"\s*:\s*\\?"([^"\\]{1,300})', head):
            recipients.extend(mime_headers.find_addresses(addr))
    bounce_type = re.search(r'\\?"bounceType\\?"\s*:\s*\\?"(\w+)', head)
    temporary = None
    if bounce_type and bounce_type.group(1) in ("Transient", "Permanent"):
        temporary = bounce_type.group(1) == "Transient"
    return kind, list(dict.fromkeys(recipients))[:MAX_RECIPIENTS], temporary


# --------------------------------------------------------------------------- returned message


def _sole_recipient(headers: Iterable[tuple[str, str]]) -> str | None:
    """The one address a returned message was sent to (To/Cc), or `None` if not exactly one.

    A report that names nobody is still about that message; when it had a single
    recipient, that recipient is the one that failed.
    """
    found: dict[str, None] = {}
    for name, value in headers:
        if name.lower() in ("to", "cc", "bcc"):
            for addr in mime_headers.find_addresses(value):
                found.setdefault(addr, None)
    return next(iter(found)) if len(found) == 1 else None


def _returned_header_lines(text: str) -> list[tuple[str, str]]:
    """The header fields of a returned message given as text (headers only)."""
    if not text.lstrip()[:1]:
        return []
    head = text[:TEXT_SCAN_LIMIT].split("\n\n", 1)[0].encode("utf-8", "surrogateescape")
    return [
        (name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
        for name, value in mime_headers.header_fields(head)
    ]


def _message_ids_in(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The Message-IDs of the returned message's header fields."""
    found: list[str] = []
    for name, value in headers:
        if name.strip().lower() == "message-id":
            found.extend(_MESSAGE_ID_RE.findall(value[:1000]))
    return found


def _returned_text(text: str) -> str:
    """The returned message of a plain-text report (what follows its start marker), if any."""
    cut = _RETURNED_START.search(text)
    if cut is None:
        return ""
    rest = text[cut.start() :]
    if not re.match(
        r"\s*(?:return-path|received|dkim-signature|x-received|arc-seal|message-id"
        r"|mime-version|authentication-results|x-original-to|delivered-to"
        r"|x-originating-ip|x-track):",
        rest,
        re.IGNORECASE,
    ):
        rest = rest.split("\n", 1)[1] if "\n" in rest else ""
    return rest.lstrip("\r\n")


# --------------------------------------------------------------------------- the report


class Report:
    """One message read as a possible delivery report; each feature computed once, on demand."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg

    @cached_property
    def parts(self) -> list[Message]:
        """The message and its parts (see `MAX_PARTS`), attached messages as leaves."""
        try:
            return list(_iter_parts(self.msg))
        except Exception:
            return [self.msg]

    def report_type(self, part: Message) -> str:
        """The `report-type` parameter of a part (lower case)."""
        return mime_headers.param(part, "report-type").lower()

    @cached_property
    def text_parts(self) -> list[str]:
        """Text of the report itself: text parts outside any attached message."""
        texts: list[str] = []
        for part in self.parts:
            if len(texts) >= _MAX_TEXT_PARTS:
                break
            ctype = mime_headers.content_type(part)
            if not isinstance(mime_parts.payload(part), str):
                continue
            if ctype.startswith("message/") or ctype == "text/rfc822-headers":
                continue
            main = ctype.partition("/")[0]
            if main not in ("text", "multipart") and part is not self.msg:
                continue
            if main not in ("text", "multipart") and ctype != "application/octet-stream":
                continue
            try:
                disposition = (part.get_content_disposition() or "").lower()
            except Exception:
                disposition = ""
            if disposition == "attachment" and texts:
                continue
            text = _part_text(part)
            if text.strip():
                texts.append(text)
        return texts

    @cached_property
    def text(self) -> str:
        """The report's text (its text parts joined, at most twice `TEXT_SCAN_LIMIT`)."""
        return "\n".join(self.text_parts)[: TEXT_SCAN_LIMIT * 2]

    @cached_property
    def flat(self) -> str:
        """`text` with runs of whitespace collapsed to one space."""
        return _flatten(self.text)

    @cached_property
    def returned_text(self) -> str:
        """The returned message quoted in the report's text, if any."""
        return _returned_text(self.text)

    @cached_property
    def report_parts(self) -> list[Message]:
        """Delivery-status parts, and parts declared `report-type=delivery-status`."""
        return [
            p
            for p in self.parts
            if mime_headers.content_type(p) in _REPORT_PARTS
            or self.report_type(p) in ("delivery-status", "global-delivery-status")
        ]

    @cached_property
    def feedback_parts(self) -> list[Message]:
        """Feedback reports (ARF, RFC 5965): the report parts and their containers."""
        return [
            p
            for p in self.parts
            if mime_headers.content_type(p) == "message/feedback-report"
            or (
                mime_headers.content_type(p) == "multipart/report"
                and self.report_type(p) == "feedback-report"
            )
        ]

    def feedback_type(self, part: Message) -> str:
        """The Feedback-Type a feedback part states, `""` if none."""
        if not mime_headers.content_type(part).startswith("message/"):
            return ""
        blocks = _dsn_blocks(part)
        return blocks[0].get("feedback-type", "") if blocks else ""

    @cached_property
    def attached_messages(self) -> list[Message]:
        """The messages attached as `message/rfc822` parts."""
        return [
            sub
            for part in self.parts
            if mime_headers.content_type(part) == "message/rfc822"
            for sub in _messages_in(part)
        ]

    @cached_property
    def dsn_blocks(self) -> list[dict[str, str]]:
        """The delivery-status fields (also when a text part carries them inline)."""
        blocks: list[dict[str, str]] = []
        for part in self.report_parts:
            if mime_headers.content_type(part).startswith("message/"):
                blocks.extend(_dsn_blocks(part))
        if not blocks and ("final-recipient" in self.flat.lower()):
            # DSN fields inline in a text part (broken MIME, SES/WorkMail "Technical report").
            blocks = _field_blocks(self.text)
        return blocks

    @cached_property
    def dsn(self) -> tuple[list[_DsnRecipient], bool | None]:
        """The failed recipients of the DSN, and whether the failure is temporary."""
        return _dsn_recipients(self.dsn_blocks)

    @cached_property
    def ses(self) -> tuple[str, list[str], bool | None] | None:
        """An Amazon SES notification in the text: (type, recipients, temporary)."""
        return _ses_notification(self.text)

    @cached_property
    def returned_sole_recipient(self) -> str | None:
        """The single To/Cc address of the returned message (attached or inline)."""
        for part in self.parts:
            ctype = mime_headers.content_type(part)
            if ctype in _ATTACHED_MESSAGES:
                for sub in _messages_in(part):
                    return _sole_recipient(
                        (str(n), mime_headers.decode_header_text(v)) for n, v in sub.raw_items()
                    )
            if ctype == "text/rfc822-headers":
                return _sole_recipient(_returned_header_lines(_part_text(part)))
        inline = self.returned_text
        return _sole_recipient(_returned_header_lines(inline)) if inline else None

    @cached_property
    def returned_message_ids(self) -> tuple[str, ...]:
        """The Message-IDs of the returned message (attached, its headers, or inline)."""
        found: dict[str, None] = {}
        for part in self.parts:
            ctype = mime_headers.content_type(part)
            if ctype in _ATTACHED_MESSAGES:
                for sub in _messages_in(part):
                    fields = [
                        (str(n), mime_headers.decode_header_text(v)) for n, v in sub.raw_items()
                    ]
                    found.update(dict.fromkeys(_message_ids_in(fields)))
            elif ctype == "text/rfc822-headers":
                lines = _returned_header_lines(_part_text(part))
                found.update(dict.fromkeys(_message_ids_in(lines)))
        if not found and self.returned_text:
            found.update(dict.fromkeys(_message_ids_in(_returned_header_lines(self.returned_text))))
        return tuple(found)[:MAX_RETURNED_IDS]

    def bounce(
        self,
        rule: str,
        *,
        subject: str,
        failed: Iterable[str],
        excluded: frozenset[str],
        reporter: str,
        ses: bool,
    ) -> Bounce:
        """Who failed, for a message the junk rule `rule` found to be a report.

        `failed` are the message's X-Failed-Recipients values; `excluded` the
        addresses of its own headers (the sender, the reporting postmaster), never a
        failed recipient; `reporter` the reporting host's domain, which completes a
        recipient named without one; `ses` whether the message comes from Amazon SES.
        """
        found = self._failed(rule, subject, failed, excluded, reporter, ses)
        try:
            returned = self.returned_message_ids
        except Exception:  # never raise: a report whose returned message cannot be read
            returned = ()
        return Bounce(found.recipients, found.temporary, returned)

    def _failed(
        self,
        rule: str,
        subject: str,
        failed: Iterable[str],
        excluded: frozenset[str],
        reporter: str,
        ses: bool,
    ) -> Bounce:
        recipients: dict[str, None] = {}
        dsn_recips, temporary = self.dsn
        for r in dsn_recips:
            for addr in (r.original, r.final):
                if addr:
                    recipients.setdefault(addr, None)
        for value in failed:
            for addr in mime_headers.find_addresses(value):
                recipients.setdefault(addr, None)
        if self.feedback_parts:
            return Bounce(self._complaint_recipients(recipients, excluded), None)
        if rule == "jmrp_complaint":
            for sub in self.attached_messages:
                for value in mime_headers.raw_header_values(sub, "x-hmxmroriginalrecipient"):
                    for addr in mime_headers.find_addresses(mime_headers.decode_raw_text(value)):
                        recipients.setdefault(addr, None)
            return Bounce(tuple(recipients), None)
        if ses and self.ses is not None:
            _, ses_recips, ses_temp = self.ses
            for addr in ses_recips:
                recipients.setdefault(addr, None)
            return Bounce(tuple(recipients)[:MAX_RECIPIENTS], ses_temp)
        if not recipients and any(
            "final-recipient" in b or "original-recipient" in b for b in self.dsn_blocks
        ):
            return Bounce((), temporary)  # the DSN names its recipients; none failed
        if not recipients:
            recipients.update(dict.fromkeys(self._wrapped_dsn_recipients()))
        if not recipients:
            for addr in _text_recipients(self.text, excluded, reporter):
                recipients.setdefault(addr, None)
        if not recipients:
            sole = self.returned_sole_recipient
            if sole and sole not in excluded:
                recipients[sole] = None
        if temporary is None and (self.dsn[0] or not self.report_parts or self.text_parts):
            temporary = _body_is_delay(subject, self.flat)
        return Bounce(tuple(recipients)[:MAX_RECIPIENTS], temporary)

    def _complaint_recipients(
        self, recipients: dict[str, None], excluded: frozenset[str]
    ) -> tuple[str, ...]:
        for part in self.feedback_parts:
            if not mime_headers.content_type(part).startswith("message/"):
                continue
            for block in _dsn_blocks(part):
                for field in ("original-rcpt-to", "removal-recipient"):
                    for addr in mime_headers.find_addresses(block.get(field, "")):
                        recipients.setdefault(addr, None)
        sole = self.returned_sole_recipient
        if not recipients and sole and sole not in excluded:
            recipients[sole] = None
        return tuple(recipients)[:MAX_RECIPIENTS]

    def _wrapped_dsn_recipients(self) -> list[str]:
        """Recipients of a report a relay wrapped whole into message/rfc822 (flufl dsn_15)."""
        blocks: list[dict[str, str]] = []
        for sub in self.attached_messages:
            for inner in _iter_parts(sub, 20):
                if mime_headers.content_type(inner) in _REPORT_PARTS:
                    blocks.extend(_dsn_blocks(inner))
        found: list[str] = []
        for r in _dsn_recipients(blocks)[0]:
            found.extend(addr for addr in (r.original, r.final) if addr)
        return found
