"""The dnspython resolver, check_spf, the setup check and `helpdesk-mail spf` against a real NSD.

The NSD is the `dns_server` fixture of conftest.py (tests/services/dnsserver.sh).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpdesk_mail.ports import TemporaryDnsError
from helpdesk_mail.spf import SpfOutcome, check_sender_domain, check_spf
from helpdesk_mail.transports.dns import DnsResolver

pytestmark = pytest.mark.integration


@pytest.fixture
def resolver(dns_server: tuple[str, int]) -> DnsResolver:
    host, port = dns_server
    return DnsResolver([host], port=port, timeout=3)


# --- the resolver ----------------------------------------------------------------------


def test_txt_records(resolver: DnsResolver) -> None:
    assert sorted(resolver.query("acme.test", "TXT")) == [
        "acme-site-verification=abc123",
        "v=spf1 mx a:smtp.acme.test include:_spf.partner.test -all",
    ]


def test_txt_strings_are_joined_without_spaces(resolver: DnsResolver) -> None:
    [record] = resolver.query("long.acme.test", "TXT")
    assert len(record) > 255
    assert "ip4:198.51.100.28 " in record  # split inside "...100.2" "8 ip4..." in the zone
    assert record.endswith("include:_spf.partner.test -all")
    assert resolver.query("emptytxt.acme.test", "TXT") == [""]


def test_a_aaaa_mx(resolver: DnsResolver) -> None:
    assert resolver.query("mail.acme.test", "A") == ["192.0.2.25"]
    assert resolver.query("mail.acme.test", "AAAA") == ["2001:db8::25"]
    # the answer may take the case of the question (name compression): compare lower-cased
    assert sorted(mx.lower() for mx in resolver.query("ACME.test.", "MX")) == [
        "10 mail.acme.test.",
        "20 backup-mx.acme.test.",
    ]


def test_ptr(resolver: DnsResolver) -> None:
    assert resolver.query("25.2.0.192.in-addr.arpa", "PTR") == ["mail.acme.test."]
    v6 = "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.2.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    assert resolver.query(v6.upper(), "PTR") == ["smtp.acme.test."]


def test_nxdomain_and_nodata_are_empty(resolver: DnsResolver) -> None:
    assert resolver.query("does-not-exist.acme.test", "A") == []
    assert resolver.query("does-not-exist.acme.test", "TXT") == []
    assert resolver.query("notxt.acme.test", "TXT") == []  # NODATA: it has an A record
    assert resolver.query("notxt.acme.test", "A") == ["192.0.2.31"]


def test_cname_wildcard_type99_and_tcp_fallback(resolver: DnsResolver) -> None:
    assert resolver.query("alias.acme.test", "TXT") == [
        "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:1::/48 ~all"
    ]
    assert resolver.query("anything.wild.acme.test", "TXT") == ["v=spf1 ip4:203.0.113.77 -all"]
    assert resolver.query("oldtype.acme.test", "TXT") == ["v=spf1 ip4:192.0.2.98 -all"]
    big = resolver.query("big.acme.test", "TXT")
    assert len(big) == 12 and sum(map(len, big)) > 2000


def test_refused_zone_is_a_temporary_error(resolver: DnsResolver) -> None:
    with pytest.raises(TemporaryDnsError):
        resolver.query("example.com", "TXT")  # not served here: REFUSED


# --- check_spf end to end --------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "mail_from", "result", "mechanism"),
    [
        ("203.0.113.25", "support@acme.test", "pass", "a:smtp.acme.test"),
        ("2001:db8:25::25", "support@acme.test", "pass", "a:smtp.acme.test"),
        ("192.0.2.26", "support@acme.test", "pass", "mx"),
        ("203.0.113.7", "support@acme.test", "pass", "include:_spf.partner.test"),
        ("198.51.100.99", "support@acme.test", "fail", "-all"),
        ("198.51.100.7", "x@redirect.acme.test", "pass", "ip4:198.51.100.0/24"),
        ("192.0.2.7", "x@redirect.acme.test", "softfail", "~all"),
        ("198.51.100.29", "x@long.acme.test", "pass", "ip4:198.51.100.29"),
        ("198.51.100.31", "x@long.acme.test", "fail", "-all"),
        ("192.0.2.1", "x@two.acme.test", "permerror", None),
        ("192.0.2.1", "x@nospf.acme.test", "none", None),
        ("192.0.2.1", "x@notxt.acme.test", "none", None),
        ("192.0.2.25", "x@mech.acme.test", "pass", "a:mail.acme.test"),
        ("198.51.100.200", "x@mech.acme.test", "pass", "exists:%{i}.allow.acme.test"),
        ("192.0.2.25", "x@ptronly.acme.test", "pass", "ptr:acme.test"),
        ("2001:db8::25", "x@ptronly.acme.test", "pass", "ptr:acme.test"),
        ("192.0.2.99", "x@ptronly.acme.test", "fail", "-all"),
        ("203.0.113.200", "x@macro.acme.test", "pass", "include:%{d}.partner.test"),
        ("192.0.2.1", "x@voidinc.acme.test", "permerror", None),
        ("192.0.2.1", "x@loop.acme.test", "permerror", None),
        ("192.0.2.1", "x@toomany.acme.test", "permerror", None),
        ("192.0.2.1", "x@badsyntax.acme.test", "permerror", None),
        ("192.0.2.1", "x@upper.acme.test", "pass", "IP4:192.0.2.0/24"),
        ("198.51.100.5", "x@alias.acme.test", "pass", "ip4:198.51.100.0/24"),
        ("203.0.113.77", "x@mx1.wild.acme.test", "pass", "ip4:203.0.113.77"),
        ("192.0.2.98", "x@oldtype.acme.test", "pass", "ip4:192.0.2.98"),
        ("192.0.2.99", "x@oldtype.acme.test", "fail", "-all"),
        ("192.0.2.1", "x@example.com", "temperror", None),
    ],
)
def test_check_spf_end_to_end(
    resolver: DnsResolver, ip: str, mail_from: str, result: str, mechanism: str | None
) -> None:
    res = check_spf(ip, mail_from, "mail.example.org", resolver)
    assert (res.result, res.mechanism) == (result, mechanism), res.reason


def test_explanation_from_dns(resolver: DnsResolver) -> None:
    res = check_spf("198.51.100.1", "x@exp.acme.test", "h", resolver)
    assert res.result is SpfOutcome.FAIL
    assert (
        res.explanation == "198.51.100.1 may not send mail as exp.acme.test (SPF of exp.acme.test)"
    )


def test_limits_are_counted_on_real_answers(resolver: DnsResolver) -> None:
    res = check_spf("192.0.2.1", "x@toomany.acme.test", "h", resolver)
    assert res.lookups == 11 and "more than 10" in res.reason


# --- the setup check and the command ---------------------------------------------------


def test_setup_check_against_real_dns(resolver: DnsResolver) -> None:
    ok = check_sender_domain("Acme Support <support@acme.test>", ["smtp.acme.test"], resolver)
    assert ok.ok, ok.problems
    assert {c.ip for c in ok.checks} == {"203.0.113.25", "2001:db8:25::25"}
    missing = check_sender_domain("support@nospf.acme.test", ["smtp.acme.test"], resolver)
    assert missing.suggested_txt == 'nospf.acme.test. IN TXT "v=spf1 a:smtp.acme.test ~all"'
    other = check_sender_domain("support@acme.test", ["smtp2.acme.test"], resolver)
    assert other.suggested_record == (
        "v=spf1 mx a:smtp.acme.test include:_spf.partner.test a:smtp2.acme.test -all"
    )


def _cli(*args: str, server: tuple[str, int]) -> subprocess.CompletedProcess[str]:
    host, port = server
    return subprocess.run(
        [sys.executable, "-m", "helpdesk_mail", "spf", *args, "--nameserver", f"{host}:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_cli_against_real_dns(dns_server: tuple[str, int]) -> None:
    ok = _cli(
        "setup", "--from", "support@acme.test", "--smtp-host", "smtp.acme.test", server=dns_server
    )
    assert (ok.returncode, ok.stdout.splitlines()[0]) == (0, "acme.test: OK"), ok.stderr
    bad = _cli(
        "setup", "--from", "x@nospf.acme.test", "--smtp-host", "smtp.acme.test", server=dns_server
    )
    assert bad.returncode == 1
    assert 'nospf.acme.test. IN TXT "v=spf1 a:smtp.acme.test ~all"' in bad.stdout
    check = _cli("check", "--ip", "203.0.113.7", "--mail-from", "a@acme.test", server=dns_server)
    assert check.returncode == 0 and check.stdout.startswith("pass:"), check.stdout
    temp = _cli("check", "--ip", "192.0.2.1", "--mail-from", "a@example.com", server=dns_server)
    assert temp.returncode == 3 and temp.stdout.startswith("temperror:")
