"""The real `Resolver` (see `helpdesk_mail.ports`) on dnspython.

    resolver = DnsResolver()                                   # the system's resolvers
    resolver = DnsResolver.from_address("127.0.0.1:5353")      # one server, e.g. a test NSD
    resolver.query("example.com", "TXT")   # ['v=spf1 -all', ...] (strings joined, no spaces)

Answers are text: TXT records with their character-strings joined with nothing
between them (RFC 7208 3.3), A/AAAA addresses, MX as ``"10 mail.example.com."``,
PTR names with their trailing dot. No data and NXDOMAIN are ``[]``; so is a
name that cannot exist (an empty or over-long label). Time-outs, SERVFAIL,
REFUSED and every other DNS failure raise `TemporaryDnsError`. CNAME chains
are followed; answers too big for UDP are fetched again over TCP.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.txtbase import TXTBase

from ..ports import TemporaryDnsError

__all__ = ["DnsResolver", "parse_nameserver"]


def parse_nameserver(text: str, default_port: int = 53) -> tuple[str, int]:
    """``"127.0.0.1:5353"``, ``"[::1]:53"``, ``"::1"`` or ``"192.0.2.53"`` as (host, port).

    ValueError for a bad port.
    """
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host:
        raise ValueError(f"no host in nameserver {text!r}")
    number = int(port) if port else default_port
    if not 0 < number < 65536:
        raise ValueError(f"bad port in nameserver {text!r}")
    return host, number


class DnsResolver:
    """A `Resolver` asking real DNS servers through dnspython.

    `nameservers` (IP addresses; None: the system's, from /etc/resolv.conf) on
    `port`; `timeout` seconds for the whole of one query, retries included.
    """

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        *,
        port: int = 53,
        timeout: float = 5.0,
    ) -> None:
        if nameservers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = list(nameservers)
        else:
            self._resolver = dns.resolver.Resolver(configure=True)
        self._resolver.port = port
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        self._resolver.cache = None

    @classmethod
    def from_address(cls, address: str, *, timeout: float = 5.0) -> DnsResolver:
        """One server given as ``host[:port]`` (``[v6]:port`` for IPv6 with a port)."""
        host, port = parse_nameserver(address)
        return cls([host], port=port, timeout=timeout)

    @property
    def nameservers(self) -> list[str]:
        """The servers asked, in order."""
        return [str(ns) for ns in self._resolver.nameservers]

    @property
    def port(self) -> int:
        """Their port."""
        return int(self._resolver.port)

    def query(self, name: str, rdtype: str) -> Sequence[str]:
        """Records of `rdtype` for `name` as text; [] if none or NXDOMAIN.

        Raises `TemporaryDnsError` on time-outs and server failures.
        """
        try:
            qname = dns.name.from_text(name.rstrip(".") + ".")
        except (dns.exception.DNSException, UnicodeError, ValueError):
            return []  # empty or over-long label: that name cannot exist
        try:
            qtype = dns.rdatatype.from_text(rdtype)
        except dns.exception.DNSException as exc:
            raise ValueError(f"unknown record type {rdtype!r}") from exc
        try:
            answer = self._resolver.resolve(qname, qtype, search=False, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.LifetimeTimeout as exc:
            raise TemporaryDnsError(f"{name} {rdtype}: timed out ({exc})") from None
        except dns.exception.DNSException as exc:
            raise TemporaryDnsError(f"{name} {rdtype}: {exc}") from None
        if answer.rrset is None:
            return []
        return [_text(rdata) for rdata in answer.rrset]


def _text(rdata: dns.rdata.Rdata) -> str:
    if isinstance(rdata, TXTBase):
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    if isinstance(rdata, A | AAAA):
        return str(rdata.address)
    if isinstance(rdata, MX):
        return f"{rdata.preference} {rdata.exchange}"
    if isinstance(rdata, PTR):
        return str(rdata.target)
    return str(rdata.to_text())
