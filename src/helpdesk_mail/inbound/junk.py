"""The junk filter: decide whether an incoming message is human mail or machine junk.

``classify(message, sender=...)`` is a pure function.  It looks only at evidence
that machines produce (report structures, MTA boilerplate, RFC 3834 headers,
system sender addresses, our own addresses and Message-IDs) and checks ONE TABLE
of named rules, :data:`RULES`, in order; the first rule that fires decides and is
reported.  Human mail gets ``kind=None``; when it carries a request not to be
answered automatically (Exchange's ``X-Auto-Response-Suppress``, ``Precedence:
bulk|list|junk``, ``List-Id``/``List-Unsubscribe``, a null Return-Path, another
system's ``X-Loop``) it is still a ticket but ``no_auto_response`` is set.  Junk
verdicts also carry ``no_auto_response=True`` (nothing may answer junk).

Decisions (losing a customer's mail is worse than keeping junk):

* Weak signals never decide alone: a bounce-like subject, an MTA-like From
  (mailer-daemon@, postmaster@, "Mail Delivery System") or MTA boilerplate in the
  body each need a second, machine-only signal.  A person forwarding or pasting a
  bounce ("Fwd: Returned mail", a report attached or inline) stays human.
* Out-of-office subjects are a SUPPORTING signal (see ``AUTO_REPLY_SUBJECT``):
  they need a header a person's mail does not carry.
* ``Auto-Submitted`` with any keyword but ``no`` is an auto-reply, including
  ``auto-generated`` (a host that wants monitoring alerts as tickets can look at
  ``rule == "auto_submitted"`` and the evidence).
* Read receipts (RFC 8098 disposition notifications) are ``auto_reply``.
* System senders: see ``SYSTEM_LOCAL_PARTS``.

Sources of the facts: ``shared/reference/bounce-formats.md`` and
``shared/reference/autoreply-formats.md``.  It never raises: a rule whose
predicate fails on a broken message is skipped, and any other failure gives the
human-mail verdict.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr
from functools import cached_property
from typing import Literal

from ..addresses import SYSTEM_LOCAL_PARTS, normalize_email, system_sender_rule
from . import bounce as _b
from . import bounce_patterns, mime_headers
from .result import ParsedEmail

__all__ = [
    "AUTO_REPLY_SUBJECT",
    "NO_AUTO_RESPONSE_RULES",
    "OOO_WORDS_SUBJECT",
    "RFC3834_SUBJECT",
    "RULES",
    "SYSTEM_LOCAL_PARTS",
    "JunkKind",
    "JunkVerdict",
    "Rule",
    "RuleContext",
    "classify",
]

JunkKind = Literal["bounce", "auto_reply", "system_sender", "loop"]


@dataclass(frozen=True)
class JunkVerdict:
    """What the junk filter decided about one message.

    ``kind`` is ``None`` for human mail (it becomes a ticket or a comment), else the
    kind of junk; ``rule`` names the rule of :data:`RULES` that fired and
    ``evidence`` shows what it saw (one line, at most 200 characters).  Bounces
    carry the failed recipients (lower-cased) and whether the failure is only a
    delay (``temporary``; ``None`` when the report does not say).
    ``no_auto_response`` is set on human mail that nothing automatic may answer
    (with the reason) and on every junk verdict.
    """

    kind: JunkKind | None
    rule: str | None
    evidence: str | None
    bounced_recipients: tuple[str, ...] = ()
    temporary: bool | None = None
    returned_message_ids: tuple[str, ...] = ()
    """A bounce's returned Message-IDs (`bounce.Bounce.message_ids`)."""
    no_auto_response: bool = False
    no_auto_response_reason: str | None = None


Predicate = Callable[["RuleContext"], str | None]


@dataclass(frozen=True)
class Rule:
    """One named rule: ``predicate`` returns the evidence when the rule fires, else ``None``."""

    name: str
    kind: JunkKind
    predicate: Predicate


EVIDENCE_LIMIT = 200
_MAX_HEADER = 2000

# --------------------------------------------------------------------------- data tables

# Local parts MTAs send reports from (reference section 2 "From local part"); only
# ever combined with another signal.  _MTA_LOCAL are the reporting addresses
# proper; _MACHINE_LOCAL also matches gateway/scanner names (a person at
# mailadmin@ may write about delivery problems, so those need the report text).
_MTA_LOCAL = re.compile(
    r"^(?:mailer[-_.]?daemon|mail[-_.]?daemon|mdaemon|post[-_.]?master"
    r"|mail[-_.]delivery[-_.]system|bounces?)(?:$|\+)",
    re.IGNORECASE,
)
_MACHINE_LOCAL = re.compile(
    r"daemon|postmaster|smtp|mailer|mail[-_.]?(?:adm|admin|router|gateway|gw|service|system)"
    r"|antivirus|^mta$|^bounces?",
    re.IGNORECASE,
)
# The null address in a From header: "<>" with nothing but spaces inside.
_NULL_ADDRESS = re.compile(r"<\s*>")
_BOUNCE_DISPLAY = re.compile(
    r"mail delivery|mailer[- ]?daemon|postmaster|mail (?:system|administrator|service)"
    r"|delivery (?:subsystem|system|service|status)|system administrator|mail deliver"
    r"|internet mail|interscan|antivirus|smtp|mail gateway|mail router|mail server"
    r"|automated response",
    re.IGNORECASE,
)

# Out-of-office subject prefixes (autoreply reference section 5, all languages of
# its table).  A SUPPORTING signal only: a person can type it, so the ooo_subject
# rule also needs a header that a person's own mail does not carry (section 5, last
# paragraph).  Matched at the start, after optional "[tag]" prefixes, so a reply or
# forward of an out-of-office ("Re: Automatic reply: ...") never matches.
#  * AUTO_REPLY_SUBJECT: "<automatic reply / out of office>:" in some language --
#    with a null Return-Path, X-Auto-Response-Suppress, an Exchange rule header,
#    Precedence bulk/junk or In-Reply-To/References.
#  * RFC3834_SUBJECT: "Auto: <subject>" (RFC 3834 / Sieve default; also a German
#    word for car) -- with a null Return-Path or In-Reply-To/References, which RFC
#    3834 responses carry.
#  * OOO_WORDS_SUBJECT: looser wording ("Vacation ...", "Name is out of the
#    office") that newsletters and people also use -- only with a null Return-Path.
_TAGS = r"^(?:\s*\[[^\]]{0,40}\])*\s*"
AUTO_REPLY_SUBJECT = re.compile(
    _TAGS + r"(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response|respons|answer|responder)"
    r"|autoreply|autoresponse|out of (?:the )?office(?: autoreply| reply| alert)?"
    r"|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|absence du bureau"
    r"|respuesta autom[aá]tica|fuera de la oficina|risposta automatica|risposta non al computer"
    r"|automatisch antwoord|resposta autom[aá]tica|automatiskt svar|autosvar"
    r"|automatisk svar|automaattinen vastaus|odpowied[źz] automatyczna"
    r"|automatick[áa] odpov[ěe][dď]|automatikus v[áa]lasz|r[ăa]spuns automat"
    r"|αυτόματη απάντηση|автоматический ответ|автоматична відповідь|otomatik yan[ıi]t"
    r"|תשובה אוטומטית|رد تلقائي|自動応答|自动回复|自動回覆|자동 회신|자동 응답)\s*[:：]",
    re.IGNORECASE,
)
RFC3834_SUBJECT = re.compile(_TAGS + r"auto\s*:", re.IGNORECASE)
OOO_WORDS_SUBJECT = re.compile(
    _TAGS + r"(?:out of (?:the )?office\b|.{0,80}\bis out of (?:the )?office\b"
    r"|(?:on )?vacation\b|away from (?:the|my) office|abwesend|afwezig|fuori sede|fr[åa]nvaro"
    r"|fravær|不在|отсутству)",
    re.IGNORECASE,
)

# --------------------------------------------------------------------------- helpers


def _clip(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    line = re.sub(r"[\x00-\x1f\x7f\s]+", " ", text).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _first_token(value: str) -> str:
    """First keyword of a header value, ignoring parameters and comments."""
    value = re.sub(r"\([^)]*\)", " ", value)
    return (re.split(r"[\s;,(]", value.strip(), maxsplit=1) or [""])[0].strip().lower()


def _local_part(addr: str) -> str:
    return addr.rpartition("@")[0] if "@" in addr else addr


class RuleContext:
    """What every rule's predicate is given: features of one message, computed lazily
    and at most once.

    Header values come decoded (`mime_headers.decoded_headers`, or the `ParsedEmail`'s);
    the report structure and text are read by `bounce.Report`.
    """

    def __init__(
        self,
        msg: Message,
        headers: Iterable[tuple[str, str]],
        sender: str,
        helpdesk_addresses: Collection[str],
        is_own_message_id: Callable[[str], bool],
    ) -> None:
        self.msg = msg
        self.report = _b.Report(msg)
        self.values: dict[str, list[str]] = {}
        for name, value in headers:
            self.values.setdefault(name.lower(), []).append(value)
        self.sender = normalize_email(sender or "")
        self.helpdesk = frozenset(
            normalize_email(a) for a in helpdesk_addresses if isinstance(a, str)
        )
        self.is_own_message_id = is_own_message_id

    # headers ---------------------------------------------------------------
    def header(self, name: str) -> str | None:
        """First value of header `name`, at most 2000 characters."""
        values = self.values.get(name)
        return mime_headers.clip(values[0], _MAX_HEADER) if values else None

    def has(self, name: str) -> bool:
        return name in self.values

    def headers(self, name: str) -> list[str]:
        return [mime_headers.clip(v, _MAX_HEADER) for v in self.values.get(name, [])[:20]]

    @cached_property
    def subject(self) -> str:
        return re.sub(r"\s+", " ", self.header("subject") or "").strip()

    @cached_property
    def from_header(self) -> tuple[str, str]:
        name, addr = "", ""
        raw = self.header("from") or ""
        with contextlib.suppress(Exception):
            name, addr = parseaddr(raw)
        if not addr and raw and "@" not in raw:
            name = raw
        return name.strip(), normalize_email(addr or self.sender)

    @cached_property
    def from_local(self) -> str:
        return _local_part(self.from_header[1] or self.sender)

    @cached_property
    def return_path(self) -> str | None:
        """Return-Path address, ``""`` for the null sender ``<>``, ``None`` when absent."""
        value = self.header("return-path")
        if value is None:
            return None
        value = value.strip()
        m = re.search(r"<([^<>]*)>", value)
        return (m.group(1) if m else value).strip().lower()

    @cached_property
    def header_addresses(self) -> frozenset[str]:
        """Addresses of the report's sender and of us (its own headers, our addresses)."""
        values: list[str] = []
        for name in ("from", "to", "cc", "reply-to", "sender", "return-path", "errors-to"):
            values.extend(self.headers(name))
        found = set(mime_headers.find_addresses(" ".join(values))) | self.helpdesk
        if self.sender:
            found.add(self.sender)
        return frozenset(found)

    @cached_property
    def machine_sender(self) -> bool:
        """From looks like an MTA, gateway or scanner (local part or display name)."""
        name = self.from_header[0]
        if _MACHINE_LOCAL.search(self.from_local):
            return True
        return bool(name and _BOUNCE_DISPLAY.search(name))

    @cached_property
    def strict_bounce_sender(self) -> bool:
        """From local part is mailer-daemon / postmaster (or the like)."""
        return bool(_MTA_LOCAL.match(self.from_local))

    @cached_property
    def null_from(self) -> bool:
        """From names the null address ``<>`` (``"Mail System" <>``, ``<>``).

        MTAs write the null reverse-path of a report into From when the report has
        none (Exim: ``Remote Mail Delivery System <>``); no person's client can send
        from ``<>``, so this is as strong as a null Return-Path.
        """
        raw = self.header("from") or ""
        return "@" not in raw and _NULL_ADDRESS.search(raw) is not None

    @cached_property
    def null_sender(self) -> bool:
        """The null sender: in Return-Path (RFC 5321 requires it on reports) or in From."""
        rp = self.return_path
        # <> or <MAILER-DAEMON> (not bounces@: newsletters use that as their return path)
        return self.null_from or (
            rp is not None
            and (rp == "" or re.match(r"(?:mailer|mail)[-_.]?daemon(?:$|@)", rp) is not None)
        )

    @cached_property
    def auto_submitted(self) -> str | None:
        value = self.header("auto-submitted")
        if value is None:
            return None
        token = _first_token(value)
        return None if token in ("", "no") else value

    @cached_property
    def bounce_subject(self) -> str | None:
        return bounce_patterns.match_bounce_subject(self.subject)

    @cached_property
    def machine_signal(self) -> str | None:
        """A header no person's mail client sets on mail it sends."""
        if self.strict_bounce_sender or system_sender_rule(self.from_header[1] or self.sender):
            return f"From {self.from_header[1] or self.from_header[0]}"
        if self.null_from:
            return _clip(f"From: {self.header('from')}")
        if self.null_sender:
            return f"Return-Path <{self.return_path}>"
        if self.auto_submitted:
            return f"Auto-Submitted: {self.auto_submitted}"
        if self.machine_sender:
            return f"From {self.from_header[0] or self.from_header[1] or '(none)'}"
        for received in self.headers("received")[:3]:
            # qmail-send writes the bounce itself: "(qmail 123 invoked for bounce)".
            if "invoked for bounce" in received:
                return _clip(f"Received: {received}")
        return None

    @cached_property
    def ses(self) -> tuple[str, list[str], bool | None] | None:
        """An Amazon SES notification, from SES (or about it, by its subject)."""
        addr = self.from_header[1]
        if not (
            addr.endswith("amazonaws.com")
            or self.has("x-amz-sns-message-id")
            or self.subject.lower().startswith("aws notification message")
        ):
            return None
        return self.report.ses

    def bounce(self, rule: str) -> _b.Bounce:
        """The failed recipients of the report that rule `rule` recognised."""
        return self.report.bounce(
            rule,
            subject=self.subject,
            failed=self.headers("x-failed-recipients"),
            excluded=self.header_addresses,
            reporter=(self.from_header[1] or self.sender).rpartition("@")[2],
            ses=self.ses is not None,
        )


# --------------------------------------------------------------------------- predicates


def _own_address(c: RuleContext) -> str | None:
    for addr in (c.sender, c.from_header[1]):
        if addr and addr in c.helpdesk:
            return f"From {addr}"
    return None


def _own_message_id(c: RuleContext) -> str | None:
    value = (c.header("message-id") or "").strip()
    if not value:
        return None
    bare = value.strip("<>").strip()
    for candidate in dict.fromkeys((value, f"<{bare}>", bare)):
        try:
            if c.is_own_message_id(candidate):
                return f"Message-ID {value}"
        except Exception:
            return None
    return None


def _own_x_loop(c: RuleContext) -> str | None:
    for value in c.headers("x-loop"):
        for addr in mime_headers.find_addresses(value):
            if addr in c.helpdesk:
                return f"X-Loop: {value}"
    return None


def _dsn_report(c: RuleContext) -> str | None:
    top = mime_headers.content_type(c.msg)
    report_type = c.report.report_type(c.msg)
    if report_type in ("delivery-status", "global-delivery-status"):
        return f"Content-Type: {top}; report-type={report_type}"
    if not c.report.report_parts:
        return None
    # A delivery-status part deeper down: a person may have forwarded a report
    # "inline" (reference section 6), so the outer headers must look machine-made.
    if c.machine_signal is None and c.bounce_subject is None:
        return None
    part = c.report.report_parts[0]
    kind = c.report.report_type(part)
    return f"{mime_headers.content_type(part)} part" + (f" (report-type={kind})" if kind else "")


def _arf_report(c: RuleContext) -> str | None:
    for part in c.report.feedback_parts:
        nested = part is not c.msg and c.report.report_type(c.msg) != "feedback-report"
        # nested deeper: as for DSNs, a forwarded report is a person's mail
        if (
            nested
            and c.machine_signal is None
            and not re.search(
                r"^\W{0,4}(?:abuse|complaint|feedback|fbl|spam report)", c.subject, re.IGNORECASE
            )
        ):
            return None
        kind = c.report.feedback_type(part)
        return f"{mime_headers.content_type(part)}" + (f" Feedback-Type: {kind}" if kind else "")
    return None


def _jmrp_complaint(c: RuleContext) -> str | None:
    # Microsoft JMRP: multipart/mixed with the complained-about message attached; the
    # complaining recipient is in X-HmXmrOriginalRecipient (reference section 5).
    if not re.match(r"(?:fw:\s*)?complaint about message from", c.subject, re.IGNORECASE):
        return None
    for sub in c.report.attached_messages:
        if mime_headers.raw_header_values(sub, "x-hmxmroriginalrecipient"):
            return f"Subject: {c.subject}"
    return None


def _x_failed_recipients(c: RuleContext) -> str | None:
    value = c.header("x-failed-recipients")
    return f"X-Failed-Recipients: {value}" if value is not None else None


def _exchange_ndr(c: RuleContext) -> str | None:
    for name in ("x-ms-exchange-message-is-ndr", "x-ms-embedded-report"):
        if c.has(name):
            return f"{name} header"
    return None


def _ses_notification(c: RuleContext) -> str | None:
    ses = c.ses
    if ses is None:
        return None
    return f"Amazon SES notificationType {ses[0]}"


def _body_rule(name: str, pattern: re.Pattern[str]) -> Predicate:
    def predicate(c: RuleContext) -> str | None:
        # The report text of an MTA plus a header only a machine sets; or, when the
        # only outer signal is the report subject, the marker must open the text
        # (a customer pasting a bounce into a new mail writes something first).
        signal = c.machine_signal
        if signal is None and c.bounce_subject is None:
            return None
        m = pattern.search(c.report.flat)
        if m is None:
            return None
        if signal is None and m.start() > 600:
            return None
        return _clip(f"{signal or 'Subject: ' + c.subject}; body: {m.group(0)}")

    predicate.__name__ = f"_{name}_body"
    return predicate


def _bounce_sender_subject(c: RuleContext) -> str | None:
    # "Mailer-daemon senders with a bounce-like subject are bounces."
    if c.strict_bounce_sender and c.bounce_subject:
        return _clip(f"From {c.from_header[1]}; Subject: {c.subject}")
    return None


def _mta_returned_message(c: RuleContext) -> str | None:
    # mailer-daemon@/postmaster@ sending back a message (attached, or its headers):
    # the structure of a report even when its wording is unknown.
    if not c.strict_bounce_sender:
        return None
    for part in c.report.parts:
        ctype = mime_headers.content_type(part)
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/global"):
            return _clip(f"From {c.from_header[1]}; returned message ({ctype})")
    if c.report.returned_text:
        return _clip(f"From {c.from_header[1]}; returned message inline")
    return None


def _machine_failure_text(c: RuleContext) -> str | None:
    # A machine sender (mailer-daemon@, null Return-Path, Auto-Submitted...) whose text
    # states a delivery failure in words no MTA table above knows.
    if not (c.strict_bounce_sender or c.null_sender) or c.report.flat == "":
        return None
    if not (c.bounce_subject or c.machine_sender or c.null_from):
        return None
    m = bounce_patterns.FAILURE_PHRASES.search(c.report.flat[:8000])
    if m is None:
        return None
    return _clip(f"{c.machine_signal}; body: {m.group(0)}")


def _list_server_error(c: RuleContext) -> str | None:
    # fml mailing-list server reporting that it refused our message (SIS Fml):
    # X-MLServer header, From <list>-admin@, error words.
    server = c.header("x-mlserver")
    if server is None or not c.from_local.endswith("-admin"):
        return None
    m = re.search(
        r"not (?:a )?member|duplicated message-id|loop alert|reject|error|not allowed|denied",
        f"{c.subject} {c.report.flat[:4000]}",
        re.IGNORECASE,
    )
    return _clip(f"X-MLServer: {server}; {m.group(0)}") if m else None


def _read_receipt(c: RuleContext) -> str | None:
    top_report = c.report.report_type(c.msg) == "disposition-notification"
    for part in c.report.parts:
        ctype = mime_headers.content_type(part)
        if ctype == "message/disposition-notification" or (
            ctype == "multipart/report" and c.report.report_type(part) == "disposition-notification"
        ):
            if not top_report and c.machine_signal is None:
                return None  # a read receipt forwarded inside a person's mail
            return f"{ctype} (read receipt, RFC 8098)"
    return None


def _auto_submitted(c: RuleContext) -> str | None:
    value = c.auto_submitted
    return f"Auto-Submitted: {value}" if value else None


def _header_present(*names: str, values: tuple[str, ...] = ()) -> Predicate:
    def predicate(c: RuleContext) -> str | None:
        for name in names:
            for value in c.headers(name):
                token = _first_token(value)
                if values and token not in values:
                    continue
                if not values and token in ("no", "false", "0", "off"):
                    continue
                return f"{name}: {value}"
        return None

    return predicate


def _exchange_oof(c: RuleContext) -> str | None:
    # X-MS-Exchange-Inbox-Rules-Loop is set on out-of-office replies AND on mail an
    # inbox rule forwarded (human content); the OOF subject tells them apart.
    loop = c.header("x-ms-exchange-inbox-rules-loop")
    if loop is None or not AUTO_REPLY_SUBJECT.search(c.subject):
        return None
    return _clip(f"X-MS-Exchange-Inbox-Rules-Loop: {loop}; Subject: {c.subject}")


def _ooo_support(c: RuleContext) -> dict[str, str]:
    """Headers that support an out-of-office subject, by kind."""
    found: dict[str, str] = {}
    if c.return_path == "":
        found["null_return_path"] = "Return-Path <>"
    for name in (
        "x-auto-response-suppress",
        "x-ms-exchange-generated-message-source",
        "x-ms-exchange-inbox-rules-loop",
    ):
        value = c.header(name)
        if value is not None:
            found.setdefault("exchange", f"{name}: {value}")
    precedence = _first_token(c.header("precedence") or c.header("x-precedence") or "")
    if precedence in ("bulk", "junk"):
        found["precedence"] = f"Precedence: {precedence}"
    if c.has("in-reply-to") or c.has("references"):
        found["in_reply_to"] = "In-Reply-To/References"
    return found


# (subject pattern, supporting headers it needs: any one of them)
_OOO_SUBJECTS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (AUTO_REPLY_SUBJECT, ("null_return_path", "exchange", "precedence", "in_reply_to")),
    (RFC3834_SUBJECT, ("null_return_path", "in_reply_to")),
    (OOO_WORDS_SUBJECT, ("null_return_path",)),
)


def _ooo_subject(c: RuleContext) -> str | None:
    # Subject is a supporting signal only (autoreply reference section 5): it needs a
    # header that a person's own mail does not carry.
    support: dict[str, str] | None = None
    for pattern, needs in _OOO_SUBJECTS:
        if pattern.search(c.subject) is None:
            continue
        support = _ooo_support(c) if support is None else support
        for kind in needs:
            if kind in support:
                return _clip(f"Subject: {c.subject}; {support[kind]}")
    return None


def _system_local_part(c: RuleContext) -> str | None:
    addr = c.sender or c.from_header[1]
    name = system_sender_rule(addr)
    if name is None:
        return None
    # A Reply-To naming someone else (contact forms) means replies are wanted.
    for _, reply_to in getaddresses(c.headers("reply-to")):
        reply_to = normalize_email(reply_to)
        if (
            reply_to
            and reply_to != addr
            and "@" in reply_to
            and system_sender_rule(reply_to) is None
        ):
            return None
    return f"From {addr} ({name})"


# --------------------------------------------------------------------------- the table

# RULES -- checked in this order, the first that fires decides.
#
# Invariant: a more specific identification comes before a less specific one
# whose evidence it also carries:
#   loop  (our own address / Message-ID: certain, and cheap)
#   > bounce  (delivery reports also carry Auto-Submitted: auto-replied and come
#              from mailer-daemon@ / postmaster@ / no-reply@: reported as bounce
#              with their recipients, never as auto_reply or system_sender)
#   > auto_reply  (out-of-office mail may come from noreply@: reported as auto_reply)
#   > system_sender  (weakest: the From local part alone).
# Within the bounce group, structural rules (a report part, an MTA-only header)
# come before the body-text rules, which need a machine header besides the text.
RULES: tuple[Rule, ...] = (
    Rule("own_address", "loop", _own_address),
    Rule("own_message_id", "loop", _own_message_id),
    Rule("own_x_loop", "loop", _own_x_loop),
    Rule("dsn_report", "bounce", _dsn_report),
    Rule("arf_report", "bounce", _arf_report),
    Rule("jmrp_complaint", "bounce", _jmrp_complaint),
    Rule("x_failed_recipients", "bounce", _x_failed_recipients),
    Rule("exchange_ndr", "bounce", _exchange_ndr),
    Rule("ses_notification", "bounce", _ses_notification),
    *(
        Rule(f"{name}_body", "bounce", _body_rule(name, pattern))
        for name, pattern in bounce_patterns.MTA_BODY_FORMATS
    ),
    Rule("bounce_sender_subject", "bounce", _bounce_sender_subject),
    Rule("mta_returned_message", "bounce", _mta_returned_message),
    Rule("machine_failure_text", "bounce", _machine_failure_text),
    Rule("list_server_error", "bounce", _list_server_error),
    Rule("read_receipt", "auto_reply", _read_receipt),
    Rule("auto_submitted", "auto_reply", _auto_submitted),
    Rule("x_autoreply", "auto_reply", _header_present("x-autoreply")),
    Rule(
        "x_autorespond",
        "auto_reply",
        _header_present(
            "x-autorespond",
            "x-autoresponder",
            "x-autoresponse",
            "x-autoreply-from",
            "x-mail-autoreply",
        ),
    ),
    Rule(
        "precedence_auto_reply",
        "auto_reply",
        _header_present("precedence", "x-precedence", values=("auto_reply",)),
    ),
    Rule(
        "x_autogenerated_reply", "auto_reply", _header_present("x-autogenerated", values=("reply",))
    ),
    Rule("apple_vacation", "auto_reply", _header_present("x-apple-action", values=("vacation",))),
    Rule(
        "delivered_to_autoresponder",
        "auto_reply",
        _header_present("delivered-to", values=("autoresponder",)),
    ),
    Rule(
        "mailtraq_autoresponder",
        "auto_reply",
        lambda c: next(
            (
                f"X-POST-MessageClass: {v}"
                for v in c.headers("x-post-messageclass")
                if "autoresponder" in v.lower()
            ),
            None,
        ),
    ),
    Rule(
        "firstclass_machine_generated",
        "auto_reply",
        _header_present("x-fc-machinegenerated", values=("true",)),
    ),
    Rule("exchange_oof", "auto_reply", _exchange_oof),
    Rule("ooo_subject", "auto_reply", _ooo_subject),
    Rule("system_local_part", "system_sender", _system_local_part),
)


# Human mail that nothing automatic may answer (it still becomes a ticket): each
# of these also sits on ordinary human mail (autoreply reference sections 2, 3).
NO_AUTO_RESPONSE_RULES: tuple[tuple[str, Predicate], ...] = (
    (
        "x_auto_response_suppress",
        lambda c: next(
            (
                f"X-Auto-Response-Suppress: {v}"
                for v in c.headers("x-auto-response-suppress")
                if _first_token(v) not in ("", "none")
            ),
            None,
        ),
    ),
    (
        "precedence",
        _header_present("precedence", "x-precedence", values=("bulk", "list", "junk")),
    ),
    ("list_headers", _header_present("list-id", "list-unsubscribe", "list-post")),
    ("null_return_path", lambda c: "Return-Path <>" if c.return_path == "" else None),
    ("x_loop", _header_present("x-loop")),
)


def _run(predicate: Predicate, ctx: RuleContext) -> str | None:
    try:
        result = predicate(ctx)
    except Exception:
        return None
    return _clip(result) if result else None


def classify(
    message: Message,
    *,
    sender: str,
    helpdesk_addresses: Collection[str] = (),
    is_own_message_id: Callable[[str], bool] = lambda mid: False,
    parsed: ParsedEmail | None = None,
) -> JunkVerdict:
    """Classify ``message`` as human mail (``kind=None``) or junk; never raises.

    ``sender`` is the decoded, lower-cased From address (``""`` if none);
    ``helpdesk_addresses`` are the helpdesk's own addresses (mail from them is a
    loop); ``is_own_message_id`` is asked about this message's own Message-ID
    (with and without angle brackets) and must say whether the helpdesk generated it.
    ``parsed`` is what `parse_email` made of ``message``: its decoded headers are
    used instead of decoding them again.
    """
    try:
        headers = parsed.headers if parsed is not None else mime_headers.decoded_headers(message)
        ctx = RuleContext(message, headers, sender, helpdesk_addresses, is_own_message_id)
        for rule in RULES:
            evidence = _run(rule.predicate, ctx)
            if evidence is None:
                continue
            bounce = _b.Bounce((), None)
            if rule.kind == "bounce":
                with contextlib.suppress(Exception):
                    bounce = ctx.bounce(rule.name)
            return JunkVerdict(
                kind=rule.kind,
                rule=rule.name,
                evidence=evidence,
                bounced_recipients=bounce.recipients,
                temporary=bounce.temporary,
                returned_message_ids=bounce.message_ids,
                no_auto_response=True,
                no_auto_response_reason=f"{rule.kind}: {rule.name}",
            )
        for name, predicate in NO_AUTO_RESPONSE_RULES:
            evidence = _run(predicate, ctx)
            if evidence is not None:
                return JunkVerdict(
                    kind=None,
                    rule=None,
                    evidence=None,
                    no_auto_response=True,
                    no_auto_response_reason=_clip(f"{name}: {evidence}"),
                )
    except Exception:  # noqa: S110 -- never raise: unknown failure = keep the mail
        pass
    return JunkVerdict(kind=None, rule=None, evidence=None)
