"""RFC 7208 ``check_host()``: is this IP address allowed to send mail for this domain?

Pure: every DNS look-up goes through the `Resolver` protocol (``query(name,
rdtype)`` returning text, ``[]`` for no data or NXDOMAIN, `TemporaryDnsError` on
time-outs and server failures) and ``%{t}`` takes its time from a parameter.

Rules this module owns (section numbers of RFC 7208):

- 4.3 A sender domain that is malformed (empty or over-long label, a single
  label, a domain literal, over 253 characters) gives ``none``; an empty
  MAIL FROM is replaced by ``postmaster@<helo>``, an empty local part by
  ``postmaster``.
- 4.4/4.5 Only TXT records are read; none with ``v=spf1`` is ``none``, more than
  one is ``permerror``, a DNS error is ``temperror``.
- 4.6.4 At most 10 terms that query DNS (include, a, mx, ptr, exists,
  redirect) per check, across includes and redirects: the 11th is ``permerror``.
  At most 2 "void" look-ups (no data or NXDOMAIN) by those terms: the 3rd is
  ``permerror``. An mx with more than 10 MX records is ``permerror``; ptr and
  ``%{p}`` look at the first 10 PTR names only. exp= is looked up after the
  result and counts toward neither limit.
- 5 Mechanisms in order, the first match decides with its qualifier; no match
  and no redirect= is ``neutral``. A DNS error is ``temperror`` except in ptr
  and ``%{p}`` (a name that cannot be validated is skipped) and exp=.
- 5.2 include: the included domain's ``pass`` matches; ``fail``, ``softfail``,
  ``neutral`` do not; ``temperror`` stays ``temperror``; ``permerror`` and
  ``none`` are ``permerror``. Its exp= is never used.
- 6.1 redirect=: applies only when no mechanism matched; its result (and its
  record's exp=) is the result, ``none`` becoming ``permerror``.
- 6.2 exp=: only for ``fail``; ignored (default explanation) when its domain
  gives no TXT, several, a DNS error, non-ASCII text or a macro syntax error.
- 5/9/2 An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is IPv4.
- 7.3 ``%{i}`` of an IPv6 address is its 32 nibbles, dot-separated, upper-case
  hex (what the conformance suite expects; DNS ignores case).
- 7.3 A target name longer than 253 characters after macro expansion loses
  labels on the left until it fits; one with an empty label or a label over 63
  characters cannot exist: its mechanism does not match (an include or
  redirect to it is ``permerror``).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from ..ports import Resolver, TemporaryDnsError
from .record import (
    EXPLANATION_MACRO_LETTERS,
    Macro,
    MacroToken,
    Mechanism,
    Qualifier,
    SpfRecord,
    SpfSyntaxError,
    is_spf_record,
    parse_macro_string,
    parse_record,
)

__all__ = [
    "DEFAULT_EXPLANATION",
    "LOOKUP_LIMIT",
    "MAX_DEPTH",
    "MX_LIMIT",
    "PTR_LIMIT",
    "VOID_LOOKUP_LIMIT",
    "IPAddress",
    "SpfOutcome",
    "SpfResult",
    "check_host",
    "check_spf",
    "normalise_domain",
    "parse_ip",
    "valid_domain",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
"""A client address."""

LOOKUP_LIMIT = 10
"""Terms that query DNS allowed in one check (RFC 7208 4.6.4)."""
VOID_LOOKUP_LIMIT = 2
"""DNS look-ups with no answer allowed in one check (RFC 7208 4.6.4)."""
MX_LIMIT = 10
"""MX records an ``mx`` mechanism may look at; more is ``permerror`` (RFC 7208 4.6.4)."""
PTR_LIMIT = 10
"""PTR names that ``ptr`` and ``%{p}`` look at; the rest are ignored (RFC 7208 4.6.4)."""
MAX_DEPTH = 64
"""Nested include/redirect levels, whatever `lookup_limit` allows (Python's stack is finite)."""
DEFAULT_EXPLANATION = "%{o} does not designate %{c} as a permitted sender"
"""The explanation of a ``fail`` when the record has no usable exp= (macros expanded)."""


class SpfOutcome(StrEnum):
    """The seven results of RFC 7208 section 2.6."""

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"  # noqa: S105 (an SPF result, not a password)
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


_QUALIFIER_RESULT = {
    Qualifier.PASS: SpfOutcome.PASS,
    Qualifier.FAIL: SpfOutcome.FAIL,
    Qualifier.SOFTFAIL: SpfOutcome.SOFTFAIL,
    Qualifier.NEUTRAL: SpfOutcome.NEUTRAL,
}


@dataclass(frozen=True)
class SpfResult:
    """The result of one check, with what decided it.

    `mechanism` is the term that matched (``"-all"``, ``"include:_spf.example.com"``)
    in the record of `mechanism_domain`, None when none did. `explanation` is set
    for ``fail`` only. `reason` says in one sentence why (for ``none``,
    ``permerror`` and ``temperror``: what is wrong). `record` is the SPF record of
    `domain`, if one was found. `lookups` and `void_lookups` are the counts
    against the limits of 10 and 2.
    """

    result: SpfOutcome
    domain: str
    sender: str
    mechanism: str | None = None
    mechanism_domain: str | None = None
    explanation: str | None = None
    reason: str = ""
    record: str | None = None
    lookups: int = 0
    void_lookups: int = 0


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


@dataclass(frozen=True)
class _Eval:
    result: SpfOutcome
    domain: str
    mechanism: str | None = None
    explanation: str | None = None
    reason: str = ""


@dataclass
class _Context:
    ip: IPAddress
    sender: str
    local: str
    sender_domain: str
    helo: str
    resolver: Resolver
    now: datetime | None
    receiver: str
    default_explanation: str
    lookup_limit: int
    void_limit: int
    lookups: int = 0
    voids: int = 0
    top_record: str | None = None
    depth: int = 0
    _validated: list[str] | None = field(default=None, repr=False)

    # --- counting ---------------------------------------------------------------

    def count_lookup(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > self.lookup_limit:
            raise _PermError(
                f"more than {self.lookup_limit} DNS-querying terms (at {term!r}): "
                "the record needs too many look-ups"
            )

    def count_void(self, name: str) -> None:
        self.voids += 1
        if self.voids > self.void_limit:
            raise _PermError(
                f"more than {self.void_limit} look-ups found nothing (the last: {name!r})"
            )

    def query(self, name: str, rdtype: str) -> Sequence[str]:
        try:
            return self.resolver.query(name, rdtype)
        except TemporaryDnsError as exc:
            raise _TempError(f"DNS {rdtype} look-up of {name!r} failed: {exc}") from None

    def addresses(self, name: str) -> list[IPAddress]:
        """The A (IPv4 client) or AAAA (IPv6 client) addresses of `name`; temperror on errors."""
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        return _parse_addresses(self.query(name, rdtype), self.ip.version)

    # --- PTR ----------------------------------------------------------------------

    def ptr_names(self) -> list[str] | None:
        """The PTR names of the client address (first 10); None on a DNS error."""
        try:
            ptrs = self.resolver.query(_reverse_name(self.ip), "PTR")
        except TemporaryDnsError:
            return None
        return [raw.strip().rstrip(".") for raw in list(ptrs)[:PTR_LIMIT]]

    def validated_names(self, names: Sequence[str], suffix: str | None = None) -> list[str]:
        """Those of `names` whose A/AAAA records give back the client address.

        With `suffix`, only names equal to it or under it are validated. A DNS
        error skips the name; nothing raises.
        """
        valid: list[str] = []
        for name in names:
            if not valid_domain(name, multi_label=False):
                continue
            if suffix is not None and not _is_under(name, suffix):
                continue
            try:
                addrs = self.addresses(name)
            except _TempError:
                continue
            if self.ip in addrs:
                valid.append(name)
        return valid

    def p_macro(self, domain: str) -> str:
        if self._validated is None:
            self._validated = self.validated_names(self.ptr_names() or [])
        names = self._validated
        for name in names:
            if name.lower() == domain.lower():
                return name
        for name in names:
            if _is_under(name, domain):
                return name
        return names[0] if names else "unknown"

    # --- macros -------------------------------------------------------------------

    def expand(self, tokens: Sequence[MacroToken], domain: str) -> str:
        out: list[str] = []
        for token in tokens:
            if isinstance(token, str):
                out.append(token)
            else:
                out.append(self._expand_macro(token, domain))
        return "".join(out)

    def _expand_macro(self, macro: Macro, domain: str) -> str:
        letter = macro.letter
        if letter == "s":
            value = self.sender
        elif letter == "l":
            value = self.local
        elif letter == "o":
            value = self.sender_domain
        elif letter == "d":
            value = domain
        elif letter == "i":
            value = _dotted(self.ip)
        elif letter == "p":
            value = self.p_macro(domain)
        elif letter == "v":
            value = "in-addr" if self.ip.version == 4 else "ip6"
        elif letter == "h":
            value = self.helo
        elif letter == "c":
            value = str(self.ip)
        elif letter == "r":
            value = self.receiver
        else:  # "t"
            value = str(int(self.now.timestamp())) if self.now is not None else "0"
        parts = _split(value, macro.delimiters)
        if macro.reverse:
            parts.reverse()
        if macro.keep is not None:
            parts = parts[-macro.keep :]
        value = ".".join(parts)
        if macro.url_escape:
            value = quote(value, safe="")
        return value

    def target(self, tokens: Sequence[MacroToken] | None, domain: str) -> str | None:
        """The expanded target name, None if it cannot be a DNS name (empty/long label)."""
        if tokens is None:
            return domain
        name = _truncate(self.expand(tokens, domain))
        name = name[:-1] if name.endswith(".") else name
        return name if valid_domain(name, multi_label=False) else None


def _split(value: str, delimiters: str) -> list[str]:
    parts = [value]
    for d in delimiters:
        parts = [piece for part in parts for piece in part.split(d)]
    return parts


def _truncate(name: str) -> str:
    """RFC 7208 7.3: drop labels on the left until the name is at most 253 characters."""
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name


def _dotted(ip: IPAddress) -> str:
    if ip.version == 4:
        return str(ip)
    return ".".join(ip.exploded.replace(":", "").upper())


def _reverse_name(ip: IPAddress) -> str:
    parts = _dotted(ip).split(".")
    return ".".join(reversed(parts)) + (".in-addr.arpa" if ip.version == 4 else ".ip6.arpa")


def _is_under(name: str, domain: str) -> bool:
    n, d = name.lower().rstrip("."), domain.lower().rstrip(".")
    return n == d or n.endswith("." + d)


def _parse_addresses(values: Sequence[str], version: int) -> list[IPAddress]:
    out: list[IPAddress] = []
    for value in values:
        try:
            addr = ipaddress.ip_address(value.strip())
        except ValueError:
            continue
        if addr.version == version:
            out.append(addr)
    return out


def _in_network(ip: IPAddress, network: IPAddress, prefix: int) -> bool:
    if ip.version != network.version:
        return False
    bits = ip.max_prefixlen - prefix
    return (int(ip) >> bits) == (int(network) >> bits)


def valid_domain(name: str, *, multi_label: bool = True) -> bool:
    """True if `name` (without a trailing dot) can be a DNS name: labels of 1 to 63 characters.

    With `multi_label` (RFC 7208 4.3, the sender domain) it must also be printable
    ASCII with two labels or more, not a domain literal, and its top label not all
    digits. Without it, any character goes (a macro can expand to spaces).
    """
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if any(not 0 < len(label) <= 63 for label in labels):
        return False
    if multi_label:
        if any(not ("!" <= ch <= "~") for ch in name):
            return False
        if len(labels) < 2 or name.startswith("[") or labels[-1].isdigit():
            return False
    return True


def parse_ip(ip: str | IPAddress) -> IPAddress:
    """The client address, an IPv4-mapped IPv6 address as IPv4; ValueError if not an address."""
    addr = ip if not isinstance(ip, str) else ipaddress.ip_address(ip.strip().split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _split_sender(sender: str, helo: str) -> tuple[str, str, str]:
    """(sender, local part, domain) after the RFC 7208 4.3 substitutions."""
    sender = sender.strip()
    if sender.startswith("<") and sender.endswith(">"):
        sender = sender[1:-1]
    if not sender:
        sender = f"postmaster@{helo}"
    local, at, domain = sender.rpartition("@")
    if not at:
        local, domain = "", sender
    if not local:
        local = "postmaster"
        sender = f"{local}@{domain}"
    return sender, local, domain


def normalise_domain(domain: str) -> str:
    """``domain`` without its trailing dot, a non-ASCII name as IDNA (kept if it fails)."""
    domain = domain[:-1] if domain.endswith(".") else domain
    if domain and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return domain
    return domain


# --- check_host ------------------------------------------------------------------------


def _find_record(ctx: _Context, domain: str) -> str | None:
    txts = ctx.query(domain, "TXT")
    records = [t for t in txts if is_spf_record(t)]
    if len(records) > 1:
        raise _PermError(f"{domain} publishes {len(records)} SPF records (at most one allowed)")
    return records[0] if records else None


def _check_host(ctx: _Context, domain: str) -> _Eval:
    if ctx.depth >= MAX_DEPTH:
        raise _PermError(f"more than {MAX_DEPTH} nested include/redirect levels (at {domain})")
    ctx.depth += 1
    try:
        return _check_host_record(ctx, domain)
    finally:
        ctx.depth -= 1


def _check_host_record(ctx: _Context, domain: str) -> _Eval:
    if not valid_domain(domain):
        return _Eval(SpfOutcome.NONE, domain, reason=f"{domain!r} is not a valid domain name")
    text = _find_record(ctx, domain)
    if text is None:
        return _Eval(SpfOutcome.NONE, domain, reason=f"{domain} publishes no SPF record")
    if ctx.top_record is None:
        ctx.top_record = text
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:
        raise _PermError(f"syntax error in the SPF record of {domain}: {exc}") from None
    for mech in record.mechanisms:
        if _matches(ctx, mech, domain):
            result = _QUALIFIER_RESULT[mech.qualifier]
            explanation = _explain(ctx, record, domain) if result is SpfOutcome.FAIL else None
            return _Eval(
                result,
                domain,
                mech.text,
                explanation,
                f"{mech.text!r} matched in the SPF record of {domain}",
            )
    if record.redirect is not None:
        term = f"redirect={record.redirect_text}"
        ctx.count_lookup(term)
        target = ctx.target(record.redirect, domain)
        if target is None:
            raise _PermError(f"{term} in the record of {domain}: not a valid domain")
        sub = _check_host(ctx, target)
        if sub.result is SpfOutcome.NONE:
            raise _PermError(f"{term} in the record of {domain}: {sub.reason}")
        return sub
    return _Eval(
        SpfOutcome.NEUTRAL, domain, reason=f"no mechanism matched in the SPF record of {domain}"
    )


def _matches(ctx: _Context, mech: Mechanism, domain: str) -> bool:
    kind = mech.kind
    if kind == "all":
        return True
    if kind in ("ip4", "ip6"):
        assert mech.network is not None
        prefix = mech.cidr4 if kind == "ip4" else mech.cidr6
        return _in_network(ctx.ip, mech.network, prefix)
    ctx.count_lookup(mech.text)
    target = ctx.target(mech.domain_spec, domain)
    prefix = mech.cidr4 if ctx.ip.version == 4 else mech.cidr6
    if kind == "include":
        if target is None:
            raise _PermError(f"{mech.text!r} in the record of {domain}: not a valid domain")
        sub = _check_host(ctx, target)
        if sub.result is SpfOutcome.NONE:
            raise _PermError(f"{mech.text!r} in the record of {domain}: {sub.reason}")
        return sub.result is SpfOutcome.PASS
    if target is None:
        return False
    if kind == "a":
        addrs = ctx.addresses(target)
        if not addrs:
            ctx.count_void(target)
        return any(_in_network(ctx.ip, a, prefix) for a in addrs)
    if kind == "mx":
        hosts = _mx_hosts(ctx.query(target, "MX"))
        if not hosts:
            ctx.count_void(target)
        if len(hosts) > MX_LIMIT:
            raise _PermError(f"{mech.text!r}: {target} has more than {MX_LIMIT} MX records")
        for host in hosts:
            if valid_domain(host, multi_label=False) and any(
                _in_network(ctx.ip, a, prefix) for a in ctx.addresses(host)
            ):
                return True
        return False
    if kind == "exists":
        found = _parse_addresses(ctx.query(target, "A"), 4)
        if not found:
            ctx.count_void(target)
        return bool(found)
    # ptr
    names = ctx.ptr_names()
    if names is None:
        return False
    if not names:
        ctx.count_void(_reverse_name(ctx.ip))
        return False
    return bool(ctx.validated_names(names, target))


def _mx_hosts(values: Sequence[str]) -> list[str]:
    hosts: list[str] = []
    for value in values:
        fields = value.split()
        if len(fields) == 2 and fields[0].isdigit():
            host = fields[1]
        elif len(fields) == 1:
            host = fields[0]
        else:
            continue
        host = host.rstrip(".")
        if host:  # "0 ." is a null MX: no mail at all
            hosts.append(host)
    return hosts


def _explain(ctx: _Context, record: SpfRecord, domain: str) -> str:
    default = _default_explanation(ctx, domain)
    if record.exp is None:
        return default
    try:
        target = ctx.target(record.exp, domain)
        if target is None:
            return default
        txts = ctx.resolver.query(target, "TXT")
    except (TemporaryDnsError, _TempError):
        return default
    if len(txts) != 1:
        return default
    try:
        return ctx.expand(parse_macro_string(txts[0], spaces=True), domain)
    except SpfSyntaxError:
        return default


def _default_explanation(ctx: _Context, domain: str) -> str:
    try:
        tokens = parse_macro_string(ctx.default_explanation, EXPLANATION_MACRO_LETTERS, spaces=True)
    except SpfSyntaxError:
        return ctx.default_explanation
    return ctx.expand(tokens, domain)


def check_host(
    ip: str | IPAddress,
    domain: str,
    sender: str,
    resolver: Resolver,
    *,
    helo: str = "",
    now: datetime | None = None,
    receiver: str = "unknown",
    default_explanation: str = DEFAULT_EXPLANATION,
    lookup_limit: int = LOOKUP_LIMIT,
    void_lookup_limit: int = VOID_LOOKUP_LIMIT,
) -> SpfResult:
    """RFC 7208 ``check_host(<ip>, <domain>, <sender>)``: the SPF result for `domain`.

    `sender` is the full identity (``local@domain``; empty local part: ``postmaster``).
    `now` gives ``%{t}`` (``0`` without it), `receiver` gives ``%{r}``.
    `default_explanation` is the ``fail`` explanation when exp= gives none (a
    macro-string). Never raises for anything the records or the resolver hold;
    ValueError if `ip` is not an IP address.
    """
    address = parse_ip(ip)
    full_sender, local, sender_domain = _split_sender(sender or f"postmaster@{domain}", helo)
    domain = normalise_domain(domain)
    ctx = _Context(
        ip=address,
        sender=full_sender,
        local=local,
        sender_domain=normalise_domain(sender_domain),
        helo=helo,
        resolver=resolver,
        now=now,
        receiver=receiver,
        default_explanation=default_explanation,
        lookup_limit=lookup_limit,
        void_limit=void_lookup_limit,
    )
    try:
        ev = _check_host(ctx, domain)
    except _PermError as exc:
        ev = _Eval(SpfOutcome.PERMERROR, domain, reason=str(exc))
    except _TempError as exc:
        ev = _Eval(SpfOutcome.TEMPERROR, domain, reason=str(exc))
    return SpfResult(
        result=ev.result,
        domain=domain,
        sender=full_sender,
        mechanism=ev.mechanism,
        mechanism_domain=ev.domain if ev.mechanism is not None else None,
        explanation=ev.explanation,
        reason=ev.reason,
        record=ctx.top_record,
        lookups=ctx.lookups,
        void_lookups=ctx.voids,
    )


def check_spf(
    ip: str | IPAddress,
    mail_from: str,
    helo: str,
    resolver: Resolver,
    *,
    now: datetime | None = None,
    receiver: str = "unknown",
    default_explanation: str = DEFAULT_EXPLANATION,
    lookup_limit: int = LOOKUP_LIMIT,
    void_lookup_limit: int = VOID_LOOKUP_LIMIT,
) -> SpfResult:
    """The SPF result for a message from `ip` with envelope sender `mail_from` after HELO `helo`.

    An empty `mail_from` (a bounce) checks ``postmaster@<helo>``. All DNS goes
    through `resolver`; `now` gives ``%{t}``. Never raises for anything the
    records or the resolver hold; ValueError if `ip` is not an IP address.
    """
    sender, _local, domain = _split_sender(mail_from, helo)
    return check_host(
        ip,
        domain,
        sender,
        resolver,
        helo=helo,
        now=now,
        receiver=receiver,
        default_explanation=default_explanation,
        lookup_limit=lookup_limit,
        void_lookup_limit=void_lookup_limit,
    )
