"""The spec's SPF setup check: may the helpdesk's SMTP server send as its From domain?

The spec (SPF-records) tells an administrator whose notifications land in spam
to publish, at the domain of the helpdesk's From address::

    domain.com. IN TXT "v=spf1 a:smtp.example.com ~all"

`check_sender_domain(from_address, sending_hosts, resolver)` looks at that
domain's SPF record as a receiving server would and says whether each sending
host is authorised, what is wrong when it is not, and the one TXT record to
publish. Rules:

- Each host given by name is resolved (A and AAAA) and every address is checked
  with `check_spf` (MAIL FROM = the From address, HELO = the host); an address
  is authorised when the result is ``pass``. A host given as an IP address is
  checked as it is and published as ``ip4:``/``ip6:``.
- No SPF record: publish ``v=spf1 a:<host> ... ~all`` (the spec's form).
- One record that does not authorise a host: the same record with ``a:<host>``
  inserted before its ``all`` (or before its modifiers, or at the end) -- a
  domain must never publish two SPF records (``permerror``). When the record
  already needs so many DNS look-ups that one more ``a:`` would pass the limit
  of 10, the host's addresses go in as ``ip4:``/``ip6:`` instead.
- Two records, or a record with a syntax error: one new record for the
  helpdesk, replacing them (notes say that other senders' terms must be added
  back). Other ``permerror`` causes (too many look-ups, an include of a domain
  without SPF) are reported and not rewritten.
- A DNS failure (``temperror``) is reported as temporary: no suggestion.
- Well-known mail services submit on one host and deliver from others: for
  them the record needs the service's ``include:``, which is checked for (in the
  record and the records it includes or redirects to) instead of an address.
- Warnings that do not make the setup wrong (``+all``, a host with a private or
  loopback address) are notes.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr

from ..ports import Resolver, TemporaryDnsError
from ..settings import OutgoingSettings, Settings
from .check import (
    LOOKUP_LIMIT,
    IPAddress,
    SpfOutcome,
    SpfResult,
    check_spf,
    normalise_domain,
    valid_domain,
)
from .record import SpfRecord, SpfSyntaxError, is_spf_record, parse_record

__all__ = [
    "KNOWN_SERVICES",
    "HostCheck",
    "SpfSetupReport",
    "check_outgoing_settings",
    "check_sender_domain",
    "txt_zone_line",
]

KNOWN_SERVICES: tuple[tuple[str, str], ...] = (
    (
        r"smtp\.office365\.com|smtp-mail\.outlook\.com|.*\.mail\.protection\.outlook\.com",
        "include:spf.protection.outlook.com",
    ),
    (r"smtp(-relay)?\.gmail\.com|smtp\.googlemail\.com", "include:_spf.google.com"),
    (r"smtp\.sendgrid\.net", "include:sendgrid.net"),
    (r"email-smtp\.[a-z0-9-]+\.amazonaws\.com", "include:amazonses.com"),
    (r"smtp\.(eu\.)?mailgun\.org", "include:mailgun.org"),
)
"""(host name pattern, the term that authorises the service): hosts that only accept
submissions while the mail leaves from the service's other servers."""

_MODIFIER_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*=")


@dataclass(frozen=True)
class HostCheck:
    """One sending host (one of its addresses) against the domain's SPF record.

    `term` is what authorises it in a record (``a:smtp.acme.test``,
    ``ip4:192.0.2.25``, ``include:_spf.google.com``); `ip` and `result` are the
    address checked and its `SpfResult` (None for a well-known service, checked
    by its include); `problem` says what is wrong when not `authorised`.
    """

    host: str
    term: str
    authorised: bool
    ip: str | None = None
    result: SpfResult | None = None
    problem: str | None = None


@dataclass(frozen=True)
class SpfSetupReport:
    """What `check_sender_domain` found, and what to publish.

    `records` are the SPF records the domain publishes now. `problems` are what
    is wrong (empty: every host is authorised); `notes` are warnings and advice.
    `suggested_record` is the SPF record to publish instead of the current one
    (None when nothing is to change or no safe rewrite exists), `suggested_txt`
    the same as a zone-file line, like ``acme.test. IN TXT "v=spf1 a:smtp.acme.test
    ~all"``. `temporary` is set when a DNS failure stopped the check: try again.
    """

    from_address: str
    domain: str
    hosts: tuple[str, ...]
    records: tuple[str, ...] = ()
    checks: tuple[HostCheck, ...] = ()
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    suggested_record: str | None = None
    suggested_txt: str | None = None
    temporary: bool = False

    @property
    def ok(self) -> bool:
        """True when the domain's record authorises every sending host."""
        return not self.problems


def txt_zone_line(domain: str, record: str) -> str:
    """``domain. IN TXT "record"``, split in quoted strings of at most 255 characters."""
    chunks = [record[i : i + 255] for i in range(0, len(record), 255)] or [""]
    quoted = " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
    return f"{domain.rstrip('.')}. IN TXT {quoted}"


def _service_term(host: str) -> str | None:
    for pattern, term in KNOWN_SERVICES:
        if re.fullmatch(pattern, host, re.IGNORECASE):
            return term
    return None


def _without_port(host: str) -> str:
    host = host.strip()
    m = re.fullmatch(r"(\[[^\]]*\]|[^:]+):[0-9]+", host)
    return (m.group(1) if m else host).rstrip(".")


def _as_ip(host: str) -> IPAddress | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _ip_term(ip: IPAddress) -> str:
    return f"ip{ip.version}:{ip}"


_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _not_public(ip: IPAddress) -> bool:
    """Loopback, link-local, unspecified, RFC 1918, shared (CGNAT) or unique-local."""
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified:
        return True
    return any(ip.version == n.version and ip in n for n in _NOT_PUBLIC)


class _Checker:
    def __init__(self, from_address: str, domain: str, resolver: Resolver) -> None:
        self.from_address = from_address
        self.domain = domain
        self.resolver = resolver
        self.checks: list[HostCheck] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.temporary = False
        self.max_lookups = 0
        self.permerror: str | None = None

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def addresses(self, host: str) -> list[IPAddress]:
        found: list[IPAddress] = []
        for rdtype in ("A", "AAAA"):
            try:
                values = self.resolver.query(host, rdtype)
            except TemporaryDnsError as exc:
                self.temporary = True
                self.problem(f"DNS look-up of {host} ({rdtype}) failed, try again: {exc}")
                continue
            for value in values:
                try:
                    found.append(ipaddress.ip_address(value.strip()))
                except ValueError:
                    continue
        return found

    def check_address(self, host: str, ip: IPAddress, term: str) -> None:
        if _not_public(ip):
            self.note(
                f"{host} is {ip}, a private or loopback address: receivers see the "
                "public address the mail leaves from; check the host that really sends"
            )
        result = check_spf(ip, self.from_address, host, self.resolver)
        self.max_lookups = max(self.max_lookups, result.lookups)
        authorised = result.result is SpfOutcome.PASS
        problem = None
        if result.result is SpfOutcome.TEMPERROR:
            self.temporary = True
            problem = f"DNS failure while checking {host} ({ip}), try again: {result.reason}"
        elif result.result is SpfOutcome.PERMERROR:
            self.permerror = result.reason
            problem = f"the SPF record of {self.domain} is broken (permerror): {result.reason}"
        elif result.result is SpfOutcome.NONE:
            problem = f"{self.domain} publishes no SPF record"
        elif not authorised:
            matched = (
                f"'{result.mechanism}' matched" if result.mechanism else "no mechanism matched"
            )
            problem = (
                f"{host} ({ip}) is not authorised by the SPF record of {self.domain}: "
                f"the result is {result.result} ({matched})"
            )
        if problem:
            self.problem(problem)
        self.checks.append(HostCheck(host, term, authorised, str(ip), result, problem))

    def check_service(self, host: str, term: str, record: SpfRecord | None) -> None:
        authorised = record is not None and self._reaches(record, term.lower(), 0)
        problem = None
        if not authorised:
            problem = (
                f"{host} sends from its service's servers: the SPF record of "
                f"{self.domain} must contain {term}"
            )
            self.problem(problem)
        self.checks.append(HostCheck(host, term, authorised, problem=problem))

    def _reaches(self, record: SpfRecord, term: str, depth: int) -> bool:
        """Whether `term` is a pass mechanism of `record` or of a record it includes."""
        if depth > LOOKUP_LIMIT:
            return False
        for mech in record.mechanisms:
            if mech.text.lower().lstrip("+") == term and mech.qualifier == "+":
                return True
        targets = [m.text.split(":", 1)[1] for m in record.mechanisms if m.kind == "include"]
        if record.redirect_text:
            targets.append(record.redirect_text)
        for target in targets:
            if "%" in target:
                continue
            sub = self._record(target.rstrip("."))
            if sub is not None and self._reaches(sub, term, depth + 1):
                return True
        return False

    def _record(self, domain: str) -> SpfRecord | None:
        try:
            found = [t for t in self.resolver.query(domain, "TXT") if is_spf_record(t)]
        except TemporaryDnsError:
            return None
        if len(found) != 1:
            return None
        try:
            return parse_record(found[0])
        except SpfSyntaxError:
            return None


def _insert_terms(record: str, terms: Sequence[str]) -> str:
    """`record` with `terms` before its first ``all``, else its modifiers, else at the end."""
    existing = record.split()
    parsed = parse_record(record)
    alls = {m.text for m in parsed.mechanisms if m.kind == "all"}
    position = len(existing)
    for i, term in enumerate(existing[1:], start=1):
        if term in alls or _MODIFIER_TERM.match(term):
            position = i
            break
    new = [t for t in terms if t.lower() not in {e.lower() for e in existing}]
    return " ".join([*existing[:position], *new, *existing[position:]])


def check_sender_domain(
    from_address: str, sending_hosts: Sequence[str], resolver: Resolver
) -> SpfSetupReport:
    """Does the From address's domain publish an SPF record that authorises `sending_hosts`?

    `sending_hosts` are the helpdesk's SMTP server(s), by name or IP address.
    Returns a report with the problems and the TXT record to publish; never
    raises for anything the DNS holds.
    """
    hosts = tuple(_without_port(h) for h in sending_hosts if h.strip())
    address = parseaddr(from_address)[1] or from_address.strip()
    local, at, raw_domain = address.rpartition("@")
    domain = normalise_domain(raw_domain.strip().lower())
    if not at or not local or not valid_domain(domain):
        return SpfSetupReport(
            from_address,
            domain,
            hosts,
            problems=(f"{from_address!r} is not an email address with a domain",),
        )
    checker = _Checker(address, domain, resolver)
    if not hosts:
        checker.problem("no sending host given: name the helpdesk's SMTP server")
    try:
        records = tuple(t for t in resolver.query(domain, "TXT") if is_spf_record(t))
    except TemporaryDnsError as exc:
        return SpfSetupReport(
            from_address,
            domain,
            hosts,
            problems=(f"DNS look-up of the TXT records of {domain} failed, try again: {exc}",),
            temporary=True,
        )
    parsed: SpfRecord | None = None
    syntax_error: str | None = None
    if len(records) == 1:
        try:
            parsed = parse_record(records[0])
        except SpfSyntaxError as exc:
            syntax_error = str(exc)

    wanted: list[str] = []  # terms authorising the hosts not yet authorised
    for host in hosts:
        service = _service_term(host)
        if service is not None:
            checker.check_service(host, service, parsed)
            if not checker.checks[-1].authorised:
                wanted.append(service)
            continue
        literal = _as_ip(host)
        if literal is not None:
            ips, term = [literal], _ip_term(literal)
        else:
            if not valid_domain(host):
                checker.problem(f"{host!r} is not a host name or IP address")
                continue
            ips, term = checker.addresses(host), f"a:{host}"
            if not ips and not checker.temporary:
                checker.problem(f"{host} has no A or AAAA record: receivers cannot match it")
                continue
        before = len(checker.checks)
        for ip in ips:
            checker.check_address(host, ip, term)
        if not all(c.authorised for c in checker.checks[before:]):
            if term.startswith("a:") and parsed is not None:
                ip_terms = [_ip_term(ip) for ip in ips]
                if checker.max_lookups + 1 > LOOKUP_LIMIT or term.lower() in records[0].lower():
                    wanted.extend(ip_terms)
                    continue
            wanted.append(term)

    if parsed is not None and any(
        m.kind == "all" and m.qualifier == "+" for m in parsed.mechanisms
    ):
        checker.note(f"the record of {domain} ends in '+all': any server may send as {domain}")

    suggested: str | None = None
    if checker.temporary or not wanted:
        suggested = None
    elif not records:
        suggested = " ".join(["v=spf1", *dict.fromkeys(wanted), "~all"])
    elif len(records) > 1 or syntax_error is not None:
        why = (
            f"{domain} publishes {len(records)} SPF records; a domain may publish only one"
            if len(records) > 1
            else f"the SPF record of {domain} has a syntax error: {syntax_error}"
        )
        if checker.permerror is None:
            checker.problem(why)
        suggested = " ".join(["v=spf1", *dict.fromkeys(wanted), "~all"])
        checker.note(
            "the suggested record replaces every current SPF record of "
            f"{domain}: add back the terms of the other servers that send as {domain}"
        )
    elif checker.permerror is None:
        suggested = _insert_terms(records[0], list(dict.fromkeys(wanted)))
        if checker.max_lookups + sum(1 for t in wanted if t.startswith(("a:", "include:"))) > (
            LOOKUP_LIMIT
        ):
            checker.note("the suggested record may need more than 10 DNS look-ups: check it")
    if len(records) == 1 and suggested is not None:
        checker.note(f"replace the current record, do not add a second one: {records[0]}")
    return SpfSetupReport(
        from_address=from_address,
        domain=domain,
        hosts=hosts,
        records=records,
        checks=tuple(checker.checks),
        problems=tuple(checker.problems),
        notes=tuple(checker.notes),
        suggested_record=suggested,
        suggested_txt=txt_zone_line(domain, suggested) if suggested else None,
        temporary=checker.temporary,
    )


def check_outgoing_settings(
    settings: OutgoingSettings | Settings,
    resolver: Resolver,
    *,
    extra_hosts: Sequence[str] = (),
) -> SpfSetupReport:
    """`check_sender_domain` for the settings' From address and SMTP host (plus `extra_hosts`)."""
    outgoing = settings.outgoing if isinstance(settings, Settings) else settings
    return check_sender_domain(outgoing.from_address, [outgoing.smtp_host, *extra_hosts], resolver)
