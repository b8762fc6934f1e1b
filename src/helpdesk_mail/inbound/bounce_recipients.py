"""Who a plain-text delivery report says failed: the addresses it names before the returned message.

For a report without DSN fields or an SES notification: `text_recipients` reads the
report's text up to where the returned message starts (`bounce_patterns.RETURNED_START`)
and takes, in this order of trust, the addresses that a line is about (`_LINE_ADDR`),
that a sentence names as failed (`_PHRASE_ADDR`), that follow a label
(`_LABEL_ADDR`); failing those, a recipient named without a domain, completed with
the reporting host's organisation domain (`_bare_recipients`); failing that, any
address not preceded by a sender's label (`_NOT_RECIPIENT`). Never the report's own
header addresses nor a mailer-daemon; never a system address (postmaster, abuse,
noreply, ...) on the last resort. Patterns are bounded and run on at most
`TEXT_SCAN_LIMIT` characters; at most `MAX_RECIPIENTS` are returned.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import mime_headers
from .bounce_patterns import RETURNED_START
from .bounce_text import MAX_RECIPIENTS, TEXT_SCAN_LIMIT

__all__ = ["text_recipients"]

_ADDR = mime_headers.ADDRESS_PATTERN
_ADDR_RE = re.compile(_ADDR)


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


def text_recipients(text: str, exclude: Iterable[str], reporter: str = "") -> list[str]:
    """Bounced addresses named in a plain-text report (the part before the returned message).

    Addresses in ``exclude`` (the report's own header addresses: the original
    sender, the reporting postmaster) and system local parts are skipped.  A
    recipient named without a domain is completed with the reporting host's
    organisation domain ``reporter`` (and its subdomains the report mentions).
    """
    excluded = {a.lower() for a in exclude}
    cut = RETURNED_START.search(text)
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
