"""The deliverability check: SPF, DKIM, DMARC and alignment of the helpdesk's mail.

`check_deliverability(from_address, resolver, sending_hosts=..., envelope_sender=...,
dkim=DkimKey(...))` looks at the DNS as a receiving server does and reports four
checks, each with a status (`pass`, `warn`, `fail`, `temperror`), what is wrong and
the exact records to publish:

- ``spf``: the SPF record of the envelope sender's domain authorises the sending
  hosts (`check_sender_domain`); without hosts, only that one valid record exists
  (``warn``: the hosts were not checked).
- ``dkim``: ``<selector>._domainkey.<d>`` holds one valid DKIM key record whose
  ``p=`` is the helpdesk's public key (given as `DkimKey.public_key`, base64 of the
  DER SubjectPublicKeyInfo; a record holding the bare RSAPublicKey of the same key
  matches too). No DKIM configured is ``fail``: receivers want both SPF and DKIM.
- ``dmarc``: the From domain's DMARC policy, found as DMARCbis does (``_dmarc.<From
  domain>``, else up the tree to the organizational domain, whose ``sp=`` then
  applies). ``p=none`` is ``warn`` (it only monitors), ``quarantine``/``reject``
  ``pass``; none, several or an invalid one is ``fail`` with a starter record
  ``v=DMARC1; p=none; rua=mailto:...`` to publish.
- ``alignment``: DMARC passes only when SPF passes for an envelope domain, or a
  DKIM signature verifies for a ``d=``, that aligns with the From domain (strict:
  the same domain; relaxed, the default: the same organizational domain; the
  record's ``aspf=``/``adkim=`` choose). ``fail`` when DMARC cannot pass or the DKIM
  ``d=`` does not align (forwarding breaks SPF, so DKIM is what DMARC relies on);
  ``warn`` when only one of the two aligns.

Organizational domains come from the DNS tree walk of DMARCbis (the name with the
fewest labels that publishes a DMARC record, ``psd=`` honoured; the domain itself
when none does) instead of a public-suffix list. The walk stops at two labels (it
never asks for ``_dmarc.<tld>``) and asks at most eight names. A DNS failure makes
the affected check ``temperror``; nothing raises for what the DNS holds.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from enum import StrEnum

from ..ports import Resolver, TemporaryDnsError
from ..settings import OutgoingSettings
from .check import normalise_domain, valid_domain
from .record import SpfSyntaxError, is_spf_record, parse_record
from .setup import SpfSetupReport, check_sender_domain, txt_zone_line

__all__ = [
    "CheckStatus",
    "DeliverabilityReport",
    "DkimKey",
    "DmarcRecord",
    "Finding",
    "check_deliverability",
    "check_outgoing_deliverability",
    "organizational_domain",
    "parse_dmarc_record",
    "parse_tag_list",
]

MAX_WALK = 8
"""Names asked at most in one DNS tree walk (DMARCbis 4.10)."""
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_DMARC_START = re.compile(r"\s*v\s*=\s*DMARC1\s*(?:;|$)")
_POLICIES = ("none", "quarantine", "reject")


class CheckStatus(StrEnum):
    """How one check came out."""

    PASS = "pass"  # noqa: S105 (a check status, not a password)
    WARN = "warn"
    """Works, but worth improving (``p=none``, only one of SPF and DKIM aligned)."""
    FAIL = "fail"
    TEMPERROR = "temperror"
    """A DNS failure stopped the check: try again."""


@dataclass(frozen=True)
class DkimKey:
    """The DKIM key the helpdesk signs with, as the check needs it.

    `public_key` is the base64 ``p=`` (DER SubjectPublicKeyInfo) of the key; None
    when it is not known, and then only the record's presence and form are checked.
    """

    selector: str
    domain: str
    public_key: str | None = None

    @property
    def name(self) -> str:
        """``<selector>._domainkey.<domain>``."""
        return f"{self.selector}._domainkey.{self.domain.rstrip('.').lower()}"

    @property
    def record(self) -> str | None:
        """The TXT record to publish, ``v=DKIM1; k=rsa; p=...`` (None without the key)."""
        return f"v=DKIM1; k=rsa; p={self.public_key}" if self.public_key else None

    def zone_line(self, domain: str | None = None) -> str | None:
        """The record as a zone-file line, at `domain` (default: its own) instead."""
        record = self.record
        if record is None:
            return None
        name = DkimKey(self.selector, domain).name if domain else self.name
        return txt_zone_line(name, record)


@dataclass(frozen=True)
class DmarcRecord:
    """A DMARC record (RFC 7489): where it was found and its tags, defaults filled in."""

    domain: str
    """The domain it is published for (the record is at ``_dmarc.<domain>``)."""
    text: str
    policy: str | None
    """``p=``: none, quarantine or reject; None when missing or not one of them."""
    subdomain_policy: str | None
    """``sp=``, when given."""
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100
    rua: tuple[str, ...] = ()
    psd: str | None = None

    def policy_for(self, domain: str) -> str | None:
        """The policy applied to mail from `domain` (``sp=`` for a subdomain, when set)."""
        if domain != self.domain and self.subdomain_policy is not None:
            return self.subdomain_policy
        return self.policy


@dataclass(frozen=True)
class Finding:
    """One check: its status, a one-line summary, problems, notes and what to publish.

    `records` are what the DNS holds now; `publish` are zone-file lines, like
    ``_dmarc.acme.test. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@acme.test"``.
    """

    name: str
    status: CheckStatus
    summary: str
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    records: tuple[str, ...] = ()
    publish: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True for ``pass`` and ``warn``."""
        return self.status in (CheckStatus.PASS, CheckStatus.WARN)


@dataclass(frozen=True)
class DeliverabilityReport:
    """What `check_deliverability` found: the four `Finding`s and the facts behind them."""

    from_address: str
    from_domain: str
    envelope_sender: str
    envelope_domain: str
    dkim_selector: str | None
    dkim_domain: str | None
    spf: Finding
    dkim: Finding
    dmarc: Finding
    alignment: Finding
    dmarc_record: DmarcRecord | None = None
    spf_report: SpfSetupReport | None = None

    @property
    def findings(self) -> tuple[Finding, Finding, Finding, Finding]:
        """spf, dkim, dmarc, alignment."""
        return (self.spf, self.dkim, self.dmarc, self.alignment)

    @property
    def ok(self) -> bool:
        """True when no check failed (``warn`` is fine)."""
        return all(f.ok for f in self.findings)

    @property
    def temporary(self) -> bool:
        """True when a DNS failure stopped a check and nothing else failed: try again."""
        statuses = {f.status for f in self.findings}
        return CheckStatus.TEMPERROR in statuses and CheckStatus.FAIL not in statuses

    @property
    def publish(self) -> tuple[str, ...]:
        """Every record to publish, once each, in check order."""
        return tuple(dict.fromkeys(line for f in self.findings for line in f.publish))


# --- tag lists (DKIM key records, DMARC records) ---------------------------------------


def parse_tag_list(text: str) -> dict[str, str] | None:
    """The tags of ``tag=value; tag=value`` (RFC 6376 3.2), or None when it is not one.

    Names are lower-cased; values keep their inner spaces. A repeated tag or a part
    without ``=`` makes the whole list invalid; an empty part (``a=1;;``) is allowed.
    """
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not _TAG_NAME.fullmatch(name):
            return None
        key = name.lower()
        if key in tags:
            return None
        tags[key] = value.strip()
    return tags


def _is_dmarc(text: str) -> bool:
    return _DMARC_START.match(text) is not None


def parse_dmarc_record(domain: str, text: str) -> DmarcRecord | None:
    """The DMARC record `text` published for `domain`; None when it is not a DMARC record.

    Unknown or invalid optional tags take their defaults; a missing or invalid ``p=``
    is ``policy=None``.
    """
    if not _is_dmarc(text):
        return None
    tags = parse_tag_list(text)
    if tags is None:
        return None
    policy = tags.get("p", "").lower()
    sp = tags.get("sp", "").lower()
    pct_text = tags.get("pct", "100")
    pct = int(pct_text) if pct_text.isdigit() and len(pct_text) <= 3 else 100
    rua = tuple(u.strip() for u in tags.get("rua", "").split(",") if u.strip())
    psd = tags.get("psd", "").lower()
    return DmarcRecord(
        domain=domain,
        text=text,
        policy=policy if policy in _POLICIES else None,
        subdomain_policy=sp if sp in _POLICIES else None,
        adkim="s" if tags.get("adkim", "").lower() == "s" else "r",
        aspf="s" if tags.get("aspf", "").lower() == "s" else "r",
        pct=min(pct, 100),
        rua=rua,
        psd=psd if psd in ("y", "n", "u") else None,
    )


# --- the walk up the DNS tree ------------------------------------------------------------


def _walk(domain: str) -> list[str]:
    """`domain` and its parents down to two labels, at most `MAX_WALK` names (DMARCbis)."""
    labels = domain.split(".")
    names = [".".join(labels[i:]) for i in range(len(labels) - 1)] or [domain]
    if len(names) > MAX_WALK:
        names = [names[0], *names[-(MAX_WALK - 1) :]]
    return names


class _Dns:
    """The look-ups of one check, each asked once."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._txt: dict[str, tuple[str, ...]] = {}

    def txt(self, name: str) -> tuple[str, ...]:
        key = name.lower().rstrip(".")
        if key not in self._txt:
            self._txt[key] = tuple(self.resolver.query(key, "TXT"))
        return self._txt[key]

    def dmarc(self, domain: str) -> tuple[str, ...]:
        return tuple(t for t in self.txt(f"_dmarc.{domain}") if _is_dmarc(t))

    def policy_record(self, domain: str) -> tuple[str, tuple[str, ...]] | None:
        """(the domain, its DMARC records) first found walking up from `domain`."""
        for name in _walk(domain):
            found = self.dmarc(name)
            if found:
                return name, found
        return None

    def organizational(self, domain: str) -> str:
        names = _walk(domain)
        found: list[tuple[str, DmarcRecord | None]] = []
        for name in names:
            records = self.dmarc(name)
            if len(records) == 1:
                found.append((name, parse_dmarc_record(name, records[0])))
            elif records:
                found.append((name, None))
        for name, record in found:
            if record is not None and record.psd == "n":
                return name
            if record is not None and record.psd == "y":  # a public suffix: one label below
                index = names.index(name)
                return names[index - 1] if index > 0 else name
        return found[-1][0] if found else domain


def organizational_domain(domain: str, resolver: Resolver) -> str:
    """The organizational domain of `domain` by the DMARCbis DNS tree walk.

    Raises `TemporaryDnsError` when a look-up fails.
    """
    return _Dns(resolver).organizational(normalise_domain(domain.strip().lower()))


# --- the four checks ----------------------------------------------------------------------


def _domain_of(address: str, what: str) -> tuple[str, str]:
    spec = parseaddr(address)[1] or address.strip()
    local, at, raw = spec.rpartition("@")
    domain = normalise_domain(raw.strip().lower())
    if not at or not local or not valid_domain(domain):
        raise ValueError(f"{what} {address!r} is not an email address with a domain")
    return spec, domain


def _check_spf(
    envelope_sender: str, domain: str, hosts: Sequence[str], dns: _Dns
) -> tuple[Finding, SpfSetupReport | None]:
    if hosts:
        report = check_sender_domain(envelope_sender, hosts, dns.resolver)
        names = ", ".join(report.hosts)
        if report.temporary:
            status, summary = CheckStatus.TEMPERROR, f"DNS failure while checking {domain}"
        elif report.ok:
            status, summary = CheckStatus.PASS, f"{domain} authorises {names}"
        else:
            status, summary = CheckStatus.FAIL, f"{domain} does not authorise {names}"
        publish = (report.suggested_txt,) if report.suggested_txt else ()
        finding = Finding(
            "spf", status, summary, report.problems, report.notes, report.records, publish
        )
        return finding, report
    try:
        records = tuple(t for t in dns.txt(domain) if is_spf_record(t))
    except TemporaryDnsError as exc:
        return Finding(
            "spf",
            CheckStatus.TEMPERROR,
            f"DNS failure while reading the TXT records of {domain}",
            (f"DNS look-up of the TXT records of {domain} failed, try again: {exc}",),
        ), None
    if not records:
        problem = (
            f"{domain} publishes no SPF record: publish 'v=spf1 a:<your SMTP server> ~all' "
            "(name the SMTP server to get the exact record)"
        )
        return Finding("spf", CheckStatus.FAIL, f"{domain}: no SPF record", (problem,)), None
    if len(records) > 1:
        problem = f"{domain} publishes {len(records)} SPF records; a domain may publish only one"
        return Finding(
            "spf", CheckStatus.FAIL, f"{domain}: several SPF records", (problem,), (), records
        ), None
    try:
        parse_record(records[0])
    except SpfSyntaxError as exc:
        problem = f"the SPF record of {domain} has a syntax error: {exc}"
        return Finding(
            "spf", CheckStatus.FAIL, f"{domain}: SPF syntax error", (problem,), (), records
        ), None
    note = "no sending host given: whether the record authorises the SMTP server was not checked"
    return Finding(
        "spf", CheckStatus.WARN, f"{domain} publishes an SPF record", (), (note,), records
    ), None


def _same_key(published: str, expected: str) -> bool:
    published = "".join(published.split())
    if published == expected:
        return True
    try:
        ours = base64.b64decode(expected, validate=True)
        theirs = base64.b64decode(published, validate=True)
    except (binascii.Error, ValueError):
        return False
    # a bare RSAPublicKey is the tail of the SubjectPublicKeyInfo that wraps it
    return len(theirs) > 64 and ours.endswith(theirs)


def _check_dkim(key: DkimKey | None, dns: _Dns) -> Finding:
    if key is None:
        problem = (
            "notifications are not DKIM-signed: set outgoing.dkim_selector and "
            "outgoing.dkim_private_key_file (or dkim_private_key_env)"
        )
        return Finding("dkim", CheckStatus.FAIL, "not configured", (problem,))
    name = key.name
    line = key.zone_line()
    publish = (line,) if line else ()
    try:
        txts = dns.txt(name)
    except TemporaryDnsError as exc:
        return Finding(
            "dkim",
            CheckStatus.TEMPERROR,
            f"DNS failure while reading {name}",
            (f"DNS look-up of {name} failed, try again: {exc}",),
        )
    if not txts:
        how = "" if line else " (the public key of the signing key)"
        problem = f"no DKIM key record at {name}: publish one{how}"
        return Finding("dkim", CheckStatus.FAIL, f"{name}: no record", (problem,), (), (), publish)
    problems: list[str] = []
    notes: list[str] = []
    if len(txts) > 1:
        problems.append(
            f"{name} holds {len(txts)} TXT records; receivers read only one: keep only the key"
        )
    text = txts[0]
    tags = parse_tag_list(text)
    if tags is None or "p" not in tags:
        problems.append(f"the record at {name} is not a DKIM key record (v=DKIM1; k=rsa; p=...)")
    else:
        if "v" in tags and tags["v"] != "DKIM1":
            problems.append(f"the record at {name} has v={tags['v']}; only v=DKIM1 is valid")
        k = tags.get("k", "rsa").lower()
        hashes = [h.strip().lower() for h in tags.get("h", "sha256").split(":")]
        services = [s.strip().lower() for s in tags.get("s", "*").split(":")]
        flags = [t.strip().lower() for t in tags.get("t", "").split(":")]
        if k != "rsa":
            problems.append(f"the record at {name} is a k={k} key; the helpdesk signs with RSA")
        elif not tags["p"]:
            problems.append(f"the key at {name} is revoked (empty p=)")
        elif key.public_key and not _same_key(tags["p"], key.public_key):
            problems.append(
                f"the key at {name} is not the key the helpdesk signs with: "
                "receivers will reject every signature; publish the record below instead"
            )
        if "sha256" not in hashes:
            problems.append(f"the record at {name} does not allow sha256 (h={tags['h']})")
        if "*" not in services and "email" not in services:
            problems.append(f"the record at {name} is not for email (s={tags['s']})")
        if "y" in flags:
            notes.append(
                f"{name} has t=y (testing): receivers may treat signed mail as unsigned; "
                "remove it once signing works"
            )
        if not key.public_key and not problems:
            notes.append("the signing key was not given: the record's key was not compared")
    if problems:
        return Finding(
            "dkim",
            CheckStatus.FAIL,
            f"{name}: wrong record",
            tuple(problems),
            tuple(notes),
            txts,
            publish,
        )
    matched = "publishes the helpdesk's key" if key.public_key else "publishes a DKIM key"
    return Finding("dkim", CheckStatus.PASS, f"{name} {matched}", (), tuple(notes), txts)


def _starter_dmarc(domain: str, reports: str | None) -> str:
    return txt_zone_line(
        f"_dmarc.{domain}", f"v=DMARC1; p=none; rua=mailto:{reports or f'postmaster@{domain}'}"
    )


def _check_dmarc(
    from_domain: str, reports: str | None, dns: _Dns
) -> tuple[Finding, DmarcRecord | None]:
    starter = (_starter_dmarc(from_domain, reports),)
    try:
        found = dns.policy_record(from_domain)
    except TemporaryDnsError as exc:
        return Finding(
            "dmarc",
            CheckStatus.TEMPERROR,
            f"DNS failure while looking for the DMARC record of {from_domain}",
            (f"DNS look-up failed, try again: {exc}",),
        ), None
    if found is None:
        problem = (
            f"{from_domain} publishes no DMARC record: receivers (Gmail, Yahoo, Microsoft) "
            "want one from every domain that sends in bulk"
        )
        note = (
            "start with p=none and read the reports sent to rua=; "
            "published at your organizational domain instead, it covers its subdomains too"
        )
        return Finding(
            "dmarc",
            CheckStatus.FAIL,
            f"_dmarc.{from_domain}: no record",
            (problem,),
            (note,),
            (),
            starter,
        ), None
    where, records = found
    if len(records) > 1:
        problem = f"_dmarc.{where} holds {len(records)} DMARC records; receivers then apply none"
        return Finding(
            "dmarc",
            CheckStatus.FAIL,
            f"_dmarc.{where}: several records",
            (problem,),
            (),
            records,
            (_starter_dmarc(where, reports),),
        ), None
    record = parse_dmarc_record(where, records[0])
    if record is None or record.policy is None:
        problem = (
            f"the DMARC record at _dmarc.{where} is not valid "
            "(it needs p=none, p=quarantine or p=reject)"
        )
        return Finding(
            "dmarc",
            CheckStatus.FAIL,
            f"_dmarc.{where}: invalid record",
            (problem,),
            (),
            records,
            (_starter_dmarc(where, reports),),
        ), record
    policy = record.policy_for(from_domain)
    inherited = "" if where == from_domain else f" (inherited from {where})"
    summary = f"p={policy} at _dmarc.{where}{inherited}"
    notes: list[str] = []
    if not record.rua:
        notes.append(
            "no rua=: nobody receives the aggregate reports that show which mail fails DMARC"
        )
    if record.pct < 100 and policy != "none":
        notes.append(f"pct={record.pct}: the policy applies to {record.pct}% of failing mail")
    if policy == "none":
        notes.insert(
            0,
            "p=none only monitors: receivers deliver mail that fails DMARC as usual; once the "
            "reports show that all your mail passes, move to p=quarantine, then p=reject",
        )
        return Finding("dmarc", CheckStatus.WARN, summary, (), tuple(notes), records), record
    verdict = "quarantined (spam folder)" if policy == "quarantine" else "rejected"
    notes.insert(0, f"mail from {from_domain} that fails DMARC is {verdict}")
    return Finding("dmarc", CheckStatus.PASS, summary, (), tuple(notes), records), record


def _check_alignment(
    from_domain: str,
    envelope_domain: str,
    dkim_domain: str | None,
    spf: Finding,
    dkim: Finding,
    dkim_key: DkimKey | None,
    record: DmarcRecord | None,
    dns: _Dns,
) -> Finding:
    aspf = record.aspf if record else "r"
    adkim = record.adkim if record else "r"

    def aligned(domain: str, mode: str) -> bool:
        if domain == from_domain:
            return True
        return mode == "r" and dns.organizational(domain) == dns.organizational(from_domain)

    try:
        spf_aligned = aligned(envelope_domain, aspf)
        dkim_aligned = dkim_domain is not None and aligned(dkim_domain, adkim)
    except TemporaryDnsError as exc:
        return Finding(
            "alignment",
            CheckStatus.TEMPERROR,
            "DNS failure while finding organizational domains",
            (f"DNS look-up failed, try again: {exc}",),
        )
    mode = {"r": "relaxed", "s": "strict"}
    problems: list[str] = []
    notes: list[str] = []
    publish: list[str] = []
    if dkim_domain is not None and not dkim_aligned:
        problems.append(
            f"the DKIM signing domain d={dkim_domain} does not align with the From domain "
            f"{from_domain} ({mode[adkim]}): sign with d={from_domain} (leave "
            "outgoing.dkim_domain empty) and publish its key there"
        )
        if dkim_key is not None:
            line = dkim_key.zone_line(from_domain)
            if line:
                publish.append(line)
    if not spf_aligned:
        text = (
            f"the envelope sender's domain {envelope_domain} (SMTP MAIL FROM; SmtpTransport "
            f"uses outgoing.from_address) does not align with the From domain {from_domain} "
            f"({mode[aspf]}): SPF cannot make DMARC pass; have the relay use a bounce "
            f"domain under {from_domain}"
        )
        (notes if dkim_aligned and dkim.status is CheckStatus.PASS else problems).append(text)
    via = [
        name
        for name, ok in (
            ("DKIM", dkim_aligned and dkim.status is CheckStatus.PASS),
            ("SPF", spf_aligned and spf.ok),
        )
        if ok
    ]
    if not via:
        problems.append(
            f"DMARC fails for mail from {from_domain}: neither an SPF pass nor a DKIM "
            "signature aligns with it"
        )
        summary = "DMARC cannot pass"
    else:
        summary = f"DMARC passes through {' and '.join(via)}"
    if via == ["SPF"] and dkim_domain is None:
        notes.append(
            "only SPF aligns: forwarded mail fails SPF, so it then fails DMARC; sign with DKIM"
        )
    if problems:
        status = CheckStatus.FAIL
    elif len(via) < 2:
        status = CheckStatus.WARN
    else:
        status = CheckStatus.PASS
    return Finding("alignment", status, summary, tuple(problems), tuple(notes), (), tuple(publish))


def check_deliverability(
    from_address: str,
    resolver: Resolver,
    *,
    sending_hosts: Sequence[str] = (),
    envelope_sender: str | None = None,
    dkim: DkimKey | None = None,
    dmarc_reports: str | None = None,
) -> DeliverabilityReport:
    """Will receivers trust mail from `from_address`? SPF, DKIM, DMARC and alignment.

    `sending_hosts`: the SMTP server(s) (by name or IP) the SPF record must authorise;
    `envelope_sender`: the SMTP MAIL FROM (default `from_address`, as `SmtpTransport`
    sends it); `dkim`: the signing key (None: mail is not signed); `dmarc_reports`:
    the address in the suggested DMARC record's ``rua=`` (default
    ``postmaster@<From domain>``). Raises ValueError when `from_address` or
    `envelope_sender` is not an address with a domain.
    """
    from_spec, from_domain = _domain_of(from_address, "the From address")
    envelope, envelope_domain = _domain_of(envelope_sender or from_spec, "the envelope sender")
    dns = _Dns(resolver)
    spf, spf_report = _check_spf(envelope, envelope_domain, sending_hosts, dns)
    dkim_finding = _check_dkim(dkim, dns)
    dmarc, record = _check_dmarc(from_domain, dmarc_reports, dns)
    dkim_domain = normalise_domain(dkim.domain.lower()) if dkim is not None else None
    alignment = _check_alignment(
        from_domain, envelope_domain, dkim_domain, spf, dkim_finding, dkim, record, dns
    )
    return DeliverabilityReport(
        from_address=from_address,
        from_domain=from_domain,
        envelope_sender=envelope,
        envelope_domain=envelope_domain,
        dkim_selector=dkim.selector if dkim is not None else None,
        dkim_domain=dkim_domain,
        spf=spf,
        dkim=dkim_finding,
        dmarc=dmarc,
        alignment=alignment,
        dmarc_record=record,
        spf_report=spf_report,
    )


def check_outgoing_deliverability(
    outgoing: OutgoingSettings,
    resolver: Resolver,
    *,
    dkim_public_key: str | None = None,
    extra_hosts: Sequence[str] = (),
    envelope_sender: str | None = None,
    dmarc_reports: str | None = None,
) -> DeliverabilityReport:
    """`check_deliverability` for the settings' From address, SMTP host and DKIM selector.

    `dkim_public_key` is the base64 ``p=`` of the configured key (the transports'
    `DkimSigner.public_key`: reading the key file is I/O, which this check does not do).
    """
    domain = outgoing.dkim_signing_domain
    key = (
        DkimKey(outgoing.dkim_selector, domain, dkim_public_key)
        if outgoing.dkim_selector is not None and domain is not None
        else None
    )
    return check_deliverability(
        outgoing.from_address,
        resolver,
        sending_hosts=[outgoing.smtp_host, *extra_hosts],
        envelope_sender=envelope_sender,
        dkim=key,
        dmarc_reports=dmarc_reports,
    )
