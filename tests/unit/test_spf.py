"""SPF: record syntax, the macro language, processing limits, results, the setup check,
the `helpdesk-mail spf` command, the dnspython resolver's offline behaviour, the
docs/spf.md example, and hypothesis properties (never an exception)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import shlex
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.cli import main
from helpdesk_mail.cli import spf as cli_spf
from helpdesk_mail.memory import InMemoryResolver
from helpdesk_mail.ports import Resolver, TemporaryDnsError
from helpdesk_mail.settings import OutgoingSettings, Settings
from helpdesk_mail.spf import (
    SpfOutcome,
    SpfRecord,
    SpfResult,
    SpfSetupReport,
    SpfSyntaxError,
    check_host,
    check_outgoing_settings,
    check_sender_domain,
    check_spf,
    is_spf_record,
    parse_record,
    txt_zone_line,
)
from helpdesk_mail.transports.dns import DnsResolver, parse_nameserver

ROOT = Path(__file__).resolve().parents[2]
IP = "192.0.2.3"
IP6 = "2001:db8::cb01"


def zone(**names: str | list[str]) -> InMemoryResolver:
    """A resolver from keywords: `example_com__TXT="v=spf1 -all"`; `_spf_x_com` is `_spf.x.com`."""
    r = InMemoryResolver()
    for key, values in names.items():
        name, rdtype = key.rsplit("__", 1)
        lead = "_" if name.startswith("_") else ""
        r.add(lead + name.removeprefix("_").replace("_", "."), rdtype, *_listify(values))
    return r


def _listify(values: str | list[str]) -> list[str]:
    return [values] if isinstance(values, str) else values


def spf(record: str, ip: str = IP, **more: str | list[str]) -> SpfResult:
    """check_spf for strong-bad@email.example.com, whose record is `record`."""
    r = zone(**more)
    r.add("email.example.com", "TXT", record)
    return check_spf(ip, "strong-bad@email.example.com", "mx.example.org", r)


# --- record syntax -------------------------------------------------------------------


def test_parse_record_reads_every_mechanism_and_modifier() -> None:
    rec = parse_record(
        "v=spf1 +a -mx:mail.example.com/24//64 ~ptr ?ip4:192.0.2.0/24 ip6:2001:db8::/32 "
        "exists:%{ir}.bl.example.com include:_spf.example.com all "
        "redirect=_spf.example.com exp=why.%{d} foo=bar"
    )
    assert [m.kind for m in rec.mechanisms] == [
        "a", "mx", "ptr", "ip4", "ip6", "exists", "include", "all",
    ]  # fmt: skip
    assert [m.qualifier.value for m in rec.mechanisms] == ["+", "-", "~", "?", "+", "+", "+", "+"]
    mx = rec.mechanisms[1]
    assert (mx.cidr4, mx.cidr6, mx.text) == (24, 64, "-mx:mail.example.com/24//64")
    assert rec.redirect_text == "_spf.example.com"
    assert rec.exp_text == "why.%{d}"
    assert rec.unknown_modifiers == ("foo=bar",)
    assert rec.dns_terms == 6  # a mx ptr exists include + redirect


@pytest.mark.parametrize(
    "text",
    [
        "v=spf1",
        "V=SPF1 -ALL",
        "v=spf1 ",
        "v=spf1  a  -all ",
        "v=spf1 a:foo.example.xn--zckzah",
        "v=spf1 a:%{d}",
        "v=spf1 a:foo:bar/baz.example.com",
        "v=spf1 include:o.spf.example.com.",
        "v=spf1 ip6:::ffff:1.2.3.4/128",
        "v=spf1 default=+",
        "v=spf1 moo.cow-far_out=man:dog/cat",
        "v=spf1 a:macro%%percent%_%_space%-url-space.example.com",
    ],
)
def test_valid_records(text: str) -> None:
    assert isinstance(parse_record(text), SpfRecord)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("v=spf1 -all moo", "unknown mechanism"),
        ("v=spf1 a:foo.example.com\x00", "not allowed"),
        ("v=spf1 a\tmx", "not allowed"),
        ("v=spf1 a:caf\u00e9.example.com", "not allowed"),
        ("v=spf1 -all.", "unknown mechanism"),
        ("v=spf1 -all:foo", "no arguments"),
        ("v=spf1 a/33", "out of range"),
        ("v=spf1 a//129", "out of range"),
        ("v=spf1 a/24/64", "bad domain or CIDR"),
        ("v=spf1 a:", "empty domain-spec"),
        ("v=spf1 a:museum", "top label"),
        ("v=spf1 a:museum.", "top label"),
        ("v=spf1 a:111.222.33.44", "top label"),
        ("v=spf1 a:example.-com", "top label"),
        ("v=spf1 a:example.com:8080", "top label"),
        ("v=spf1 include", "needs ':'"),
        ("v=spf1 include:x.example.com/24", "top label"),
        ("v=spf1 exists", "needs ':'"),
        ("v=spf1 ptr/0", "only ':'"),
        ("v=spf1 ip4", "expected ip4"),
        ("v=spf1 ip4:1.2.3", "expected ip4"),
        ("v=spf1 ip4:1.2.3.4/032", "expected ip4"),
        ("v=spf1 ip4:1.2.3.4/33", "above 32"),
        ("v=spf1 ip4:01.2.3.4", "expected ip4"),
        ("v=spf1 ip6::CAFE::BABE", "bad IPv6"),
        ("v=spf1 ip6:::1/129", "above 128"),
        ("v=spf1 ip6:::1//64", "expected ip6"),
        ("v=spf1 redirect=a.example.com redirect=b.example.com", "more than once"),
        ("v=spf1 exp=", "empty domain-spec"),
        ("v=spf1 exp=-all", "top label"),
        ("v=spf1 redirect:x.example.com", "unknown mechanism"),
        ("v=spf1 1up=foo", "unknown mechanism"),
        ("v=spf1 =all", "unknown mechanism"),
        ("v=spf1 foo=%abc", "bad macro"),
        ("v=spf1 exists:%(ir).example.com", "bad macro"),
        ("v=spf1 exists:%{a}.example.com", "not allowed here"),
        ("v=spf1 exists:%{c}.example.com", "not allowed here"),
        ("v=spf1 exists:%{d0}.example.com", "not 0"),
        ("v=spf10", "not an SPF record"),
    ],
)
def test_syntax_errors_name_the_problem(text: str, why: str) -> None:
    with pytest.raises(SpfSyntaxError, match=re.escape(why)):
        parse_record(text)


def test_is_spf_record() -> None:
    assert is_spf_record("v=spf1")
    assert is_spf_record("V=Spf1 -all")
    assert not is_spf_record("v=spf10")
    assert not is_spf_record("v=spf1mx")
    assert not is_spf_record("spf2.0/pra -all")


def test_a_syntax_error_anywhere_is_permerror_even_after_a_match() -> None:
    res = spf(f"v=spf1 ip4:{IP} -all moo")
    assert res.result is SpfOutcome.PERMERROR
    assert "moo" in res.reason


# --- results -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qualifier", "outcome"),
    [("", "pass"), ("+", "pass"), ("-", "fail"), ("~", "softfail"), ("?", "neutral")],
)
def test_qualifiers(qualifier: str, outcome: str) -> None:
    res = spf(f"v=spf1 {qualifier}ip4:192.0.2.0/24 -all")
    assert res.result == outcome
    assert res.mechanism == f"{qualifier}ip4:192.0.2.0/24"
    assert res.mechanism_domain == "email.example.com"


def test_no_match_and_no_redirect_is_neutral() -> None:
    res = spf("v=spf1 ip4:198.51.100.1")
    assert (res.result, res.mechanism) == (SpfOutcome.NEUTRAL, None)


def test_none_when_no_record_or_no_valid_domain() -> None:
    assert spf("some-verification=abc").result is SpfOutcome.NONE
    r = InMemoryResolver()
    for mail_from, helo in [
        ("a@localhost", "x"),
        ("a@[192.0.2.1]", "x"),
        ("a@" + "x" * 64 + ".example.com", "x"),
        ("a@foo..example.com", "x"),
        ("", "OEMCOMPUTER"),
        ("a@1.2.3.4", "x"),
    ]:
        assert check_spf(IP, mail_from, helo, r).result is SpfOutcome.NONE, mail_from


def test_multiple_records_are_permerror_other_txt_is_ignored() -> None:
    r = zone(example_com__TXT=["v=spf1 -all", "V=SPF1 +all", "google-site-verification=x"])
    res = check_spf(IP, "a@example.com", "h", r)
    assert res.result is SpfOutcome.PERMERROR
    assert "2 SPF records" in res.reason
    r = zone(example_com__TXT=["v=spf1 +all", "google-site-verification=x"])
    assert check_spf(IP, "a@example.com", "h", r).result is SpfOutcome.PASS


def test_case_insensitive_everywhere() -> None:
    r = zone(example_com__TXT="V=SpF1 A:MAIL.Example.COM IP4:198.51.100.0/24 -ALL")
    r.add("mail.example.com", "A", IP)
    res = check_spf(IP, "Someone@EXAMPLE.com.", "h", r)
    assert res.result is SpfOutcome.PASS
    assert res.domain == "EXAMPLE.com"


def test_temperror_when_the_record_cannot_be_read() -> None:
    r = InMemoryResolver()
    r.temporary_failures.add(("example.com", "TXT"))
    res = check_spf(IP, "a@example.com", "h", r)
    assert res.result is SpfOutcome.TEMPERROR
    assert "TXT" in res.reason


def test_temperror_in_a_mechanism_lookup() -> None:
    r = zone(example_com__TXT="v=spf1 a:mail.example.net -all")
    r.temporary_failures.add(("mail.example.net", "A"))
    assert check_spf(IP, "a@example.com", "h", r).result is SpfOutcome.TEMPERROR


@pytest.mark.parametrize(
    ("included", "outcome"),
    [
        ("v=spf1 +all", "pass"),  # include matches: the outer "+include" passes
        ("v=spf1 -all", "softfail"),  # no match: falls through to ~all
        ("v=spf1 ~all", "softfail"),
        ("v=spf1 ?all", "softfail"),
        ("v=spf1 foo", "permerror"),
        (None, "permerror"),  # none -> permerror
    ],
)
def test_include_results(included: str | None, outcome: str) -> None:
    r = zone(example_com__TXT="v=spf1 include:other.example.net ~all")
    if included:
        r.add("other.example.net", "TXT", included)
    res = check_spf(IP, "a@example.com", "h", r)
    assert res.result == outcome
    if outcome == "pass":
        assert res.mechanism == "include:other.example.net"


def test_include_temperror_propagates() -> None:
    r = zone(example_com__TXT="v=spf1 include:other.example.net -all")
    r.temporary_failures.add(("other.example.net", "TXT"))
    assert check_spf(IP, "a@example.com", "h", r).result is SpfOutcome.TEMPERROR


def test_redirect_takes_the_target_result_and_its_mechanism() -> None:
    r = zone(
        example_com__TXT="v=spf1 ip4:198.51.100.1 redirect=_spf.example.com",
        _spf_example_com__TXT="v=spf1 ip4:192.0.2.0/24 -all",
    )
    res = check_spf(IP, "a@example.com", "h", r)
    assert (res.result, res.mechanism, res.mechanism_domain) == (
        SpfOutcome.PASS,
        "ip4:192.0.2.0/24",
        "_spf.example.com",
    )
    assert res.lookups == 1
    r = zone(example_com__TXT="v=spf1 redirect=nothing.example.com")
    assert check_spf(IP, "a@example.com", "h", r).result is SpfOutcome.PERMERROR


def test_redirect_is_ignored_when_a_mechanism_matches() -> None:
    res = spf("v=spf1 redirect=loop.example.com ~all")
    assert res.result is SpfOutcome.SOFTFAIL


def test_ipv4_mapped_ipv6_is_ipv4() -> None:
    res = spf("v=spf1 -ip4:192.0.2.3 ip6:::ffff:192.0.2.3", ip="::ffff:192.0.2.3")
    assert res.result is SpfOutcome.FAIL
    assert spf("v=spf1 ip6:::/0", ip="::FFFF:192.0.2.3").result is SpfOutcome.NEUTRAL


def test_a_and_mx_with_dual_cidr_lengths() -> None:
    more: dict[str, str | list[str]] = {
        "mail_example_com__A": "192.0.2.200",
        "mail_example_com__AAAA": "2001:db8::1",
        "example_com__MX": ["10 mail.example.com.", "20 other.example.com."],
    }
    assert spf("v=spf1 a:mail.example.com -all", **more).result is SpfOutcome.FAIL
    assert spf("v=spf1 a:mail.example.com/24 -all", **more).result is SpfOutcome.PASS
    assert spf("v=spf1 mx:example.com/24 -all", **more).result is SpfOutcome.PASS
    assert spf("v=spf1 mx:example.com//64 -all", ip=IP6, **more).result is SpfOutcome.PASS
    assert spf("v=spf1 mx:example.com/24 -all", ip=IP6, **more).result is SpfOutcome.FAIL


def test_ptr_mechanism_validates_names() -> None:
    more: dict[str, str | list[str]] = {
        "3_2_0_192_in-addr_arpa__PTR": ["mx.example.com.", "spoof.example.org."],
        "mx_example_com__A": IP,
        "spoof_example_org__A": "198.51.100.1",
    }
    assert spf("v=spf1 ptr:example.com -all", **more).result is SpfOutcome.PASS
    assert spf("v=spf1 ptr:example.org -all", **more).result is SpfOutcome.FAIL
    assert spf("v=spf1 ptr -all", **more).result is SpfOutcome.FAIL


def test_ptr_dns_errors_are_no_match_not_temperror() -> None:
    r = zone(email_example_com__TXT="v=spf1 ptr:example.com ?all")
    r.temporary_failures.add(("3.2.0.192.in-addr.arpa", "PTR"))
    assert check_spf(IP, "x@email.example.com", "h", r).result is SpfOutcome.NEUTRAL


def test_exists_always_queries_a_even_for_ipv6() -> None:
    r = zone(email_example_com__TXT="v=spf1 exists:%{l}.example.com -all")
    r.add("strong-bad.example.com", "A", "127.0.0.2")
    assert check_spf(IP6, "strong-bad@email.example.com", "h", r).result is SpfOutcome.PASS
    assert ("strong-bad.example.com", "A") in r.queries


def test_result_is_frozen_and_counts_lookups() -> None:
    res = spf("v=spf1 a:none1.example.com mx:none2.example.com -all")
    assert (res.lookups, res.void_lookups) == (2, 2)
    assert res.record == "v=spf1 a:none1.example.com mx:none2.example.com -all"
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.result = SpfOutcome.PASS  # type: ignore[misc]


def test_check_host_directly_and_bad_ip() -> None:
    r = zone(example_com__TXT="v=spf1 ip4:192.0.2.0/24 -all")
    assert check_host(IP, "example.com", "a@example.com", r).result is SpfOutcome.PASS
    with pytest.raises(ValueError):
        check_spf("not-an-ip", "a@example.com", "h", r)


def test_empty_mail_from_checks_postmaster_at_helo() -> None:
    r = zone(mail_example_com__TXT="v=spf1 -all exp=why.example.com", why_example_com__TXT="%{s}")
    res = check_spf(IP, "", "mail.example.com", r)
    assert (res.result, res.sender, res.explanation) == (
        SpfOutcome.FAIL,
        "postmaster@mail.example.com",
        "postmaster@mail.example.com",
    )
    assert check_spf(IP, "@mail.example.com", "h", r).sender == "postmaster@mail.example.com"


# --- the macro language --------------------------------------------------------------

# RFC 7208 section 7.4: sender strong-bad@email.example.com, IP 192.0.2.3 / 2001:db8::cb01
RFC_EXAMPLES = [
    ("%{s}", "strong-bad@email.example.com"),
    ("%{o}", "email.example.com"),
    ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"),
    ("%{d3}", "email.example.com"),
    ("%{d2}", "example.com"),
    ("%{d1}", "com"),
    ("%{dr}", "com.example.email"),
    ("%{d2r}", "example.email"),
    ("%{l}", "strong-bad"),
    ("%{l-}", "strong.bad"),
    ("%{lr}", "strong-bad"),
    ("%{lr-}", "bad.strong"),
    ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
    ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ("%{c}", "192.0.2.3"),
    ("%{h}", "mx.example.org"),
    ("%{r}", "unknown"),
    ("%{t}", "0"),
    ("100%% %{l}%_and%-more", "100% strong-bad and%20more"),
    ("%{l+-}", "strong.bad"),
    ("%{d20}", "email.example.com"),
]


def explain(text: str, ip: str = IP, **kw: object) -> str | None:
    r = zone(email_example_com__TXT="v=spf1 -all exp=why.example.com", why_example_com__TXT=text)
    res = check_spf(ip, "strong-bad@email.example.com", "mx.example.org", r, **kw)  # type: ignore[arg-type]
    assert res.result is SpfOutcome.FAIL
    return res.explanation


@pytest.mark.parametrize(("macro", "expected"), RFC_EXAMPLES)
def test_rfc_7208_macro_examples(macro: str, expected: str) -> None:
    assert explain(macro) == expected


def test_ipv6_macros() -> None:
    nibbles = "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2"
    assert explain("%{ir}.%{v}._spf.%{d2}", ip=IP6) == f"{nibbles}.ip6._spf.example.com"
    assert explain("%{c} %{v}", ip=IP6) == "2001:db8::cb01 ip6"


def test_time_receiver_and_url_escaping() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert explain("%{t}", now=now) == "1704067200"
    assert explain("%{r}", receiver="mx.receiver.example") == "mx.receiver.example"
    r = zone(example_com__TXT="v=spf1 -all exp=why.example.com", why_example_com__TXT="l=%{L}")
    res = check_spf(IP, "~jack&jill=up-a_b3.c@example.com", "h", r)
    assert res.explanation == "l=~jack%26jill%3Dup-a_b3.c"


def test_p_macro_prefers_the_domain_then_a_subdomain() -> None:
    r = zone(
        email_example_com__TXT="v=spf1 -all exp=why.example.com",
        why_example_com__TXT="from %{p}",
        **{
            "3_2_0_192_in-addr_arpa__PTR": ["other.example.org.", "mx.email.example.com."],
            "other_example_org__A": IP,
            "mx_email_example_com__A": IP,
        },
    )
    res = check_spf(IP, "x@email.example.com", "h", r)
    assert res.explanation == "from mx.email.example.com"
    assert explain("from %{p}") == "from unknown"


def test_default_explanation_and_a_bad_exp_fall_back_to_it() -> None:
    assert spf("v=spf1 -all").explanation == (
        "email.example.com does not designate 192.0.2.3 as a permitted sender"
    )
    assert explain("The %{x}-files") == (
        "email.example.com does not designate 192.0.2.3 as a permitted sender"
    )
    assert explain("caf\u00e9") is not None and "designate" in (explain("caf\u00e9") or "")
    res = spf("v=spf1 ~all")
    assert res.explanation is None


def test_explanation_from_include_is_not_used_but_from_redirect_is() -> None:
    r = zone(
        example_com__TXT="v=spf1 include:inc.example.com -all exp=mine.example.com",
        inc_example_com__TXT="v=spf1 -all exp=theirs.example.com",
        mine_example_com__TXT="mine",
        theirs_example_com__TXT="theirs",
    )
    assert check_spf(IP, "a@example.com", "h", r).explanation == "mine"
    r.records[("example.com", "TXT")] = ["v=spf1 exp=mine.example.com redirect=inc.example.com"]
    assert check_spf(IP, "a@example.com", "h", r).explanation == "theirs"


def test_long_expansions_are_truncated_on_the_left() -> None:
    r = zone(example_com__TXT="v=spf1 exists:%{l}.%{l}.%{l}.%{l}.example.com -all")
    local = ".".join(["a" * 60] * 2)
    check_spf(IP, f"{local}@example.com", "h", r)
    queried = [n for n, t in r.queries if t == "A"]
    assert queried and len(queried[0]) <= 253 and queried[0].endswith(".example.com")


def test_a_target_that_cannot_exist_does_not_match() -> None:
    res = spf("v=spf1 a:%{h}.example.com -all")  # helo is fine
    assert res.result is SpfOutcome.FAIL
    r = zone(example_com__TXT="v=spf1 a:%{l}.example.com -all")
    res = check_spf(IP, "a..b@example.com", "h", r)
    assert res.result is SpfOutcome.FAIL
    assert not [q for q in r.queries if q[0].startswith("a..b")]


# --- processing limits ---------------------------------------------------------------


def _many(n: int, mech: str = "a") -> str:
    return " ".join(f"{mech}:h{i}.example.net" for i in range(n))


def test_ten_dns_terms_are_allowed_the_eleventh_is_permerror() -> None:
    hosts = {f"h{i}_example_net__A": "198.51.100.1" for i in range(11)}
    ok = spf(f"v=spf1 {_many(10)} ip4:{IP} -all", **hosts)
    assert (ok.result, ok.lookups) == (SpfOutcome.PASS, 10)
    over = spf(f"v=spf1 {_many(11)} ip4:{IP} -all", **hosts)
    assert over.result is SpfOutcome.PERMERROR
    assert "more than 10" in over.reason


def test_the_lookup_limit_spans_includes_and_redirects() -> None:
    r = zone(
        example_com__TXT="v=spf1 a include:inc.example.com ip4:192.0.2.3 -all",
        example_com__A="198.51.100.1",
        inc_example_com__TXT="v=spf1 " + " ".join(["a"] * 9),
        inc_example_com__A="198.51.100.2",
    )
    assert check_spf(IP, "x@example.com", "h", r).result is SpfOutcome.PERMERROR


def test_include_and_redirect_loops_are_permerror() -> None:
    r = zone(example_com__TXT="v=spf1 include:example.com -all")
    assert check_spf(IP, "x@example.com", "h", r).result is SpfOutcome.PERMERROR
    r = zone(example_com__TXT="v=spf1 redirect=example.com")
    assert check_spf(IP, "x@example.com", "h", r).result is SpfOutcome.PERMERROR


def test_limits_can_be_changed() -> None:
    r = zone(email_example_com__TXT=f"v=spf1 {_many(3)} -all")
    res = check_spf(IP, "x@email.example.com", "h", r, lookup_limit=2)
    assert res.result is SpfOutcome.PERMERROR
    res = check_spf(IP, "x@email.example.com", "h", r, void_lookup_limit=3)
    assert res.result is SpfOutcome.FAIL


def test_two_void_lookups_are_allowed_the_third_is_permerror() -> None:
    assert spf(f"v=spf1 {_many(2)} ?all").result is SpfOutcome.NEUTRAL
    res = spf(f"v=spf1 {_many(3)} ?all")
    assert res.result is SpfOutcome.PERMERROR
    assert "found nothing" in res.reason
    mixed = spf("v=spf1 exists:h0.example.net mx:h1.example.net ptr ?all")
    assert (mixed.result, mixed.void_lookups) == (SpfOutcome.PERMERROR, 3)


def test_exp_lookup_counts_toward_no_limit() -> None:
    res = spf(f"v=spf1 {_many(2)} exp=nowhere.example.net -all")
    assert (res.result, res.lookups, res.void_lookups) == (SpfOutcome.FAIL, 2, 2)


def test_more_than_ten_mx_records_is_permerror() -> None:
    mx = [f"{i} mx{i}.example.net." for i in range(11)]
    assert spf("v=spf1 mx:example.net -all", example_net__MX=mx).result is SpfOutcome.PERMERROR
    assert spf("v=spf1 mx:example.net -all", example_net__MX=mx[:10]).result is SpfOutcome.FAIL


def test_only_the_first_ten_ptr_names_are_looked_at() -> None:
    names = [f"h{i}.example.net." for i in range(11)]
    more: dict[str, str | list[str]] = {"3_2_0_192_in-addr_arpa__PTR": names}
    more["h10_example_net__A"] = IP
    assert spf("v=spf1 ptr:example.net -all", **more).result is SpfOutcome.FAIL
    more["h9_example_net__A"] = IP
    assert spf("v=spf1 ptr:example.net -all", **more).result is SpfOutcome.PASS


def test_null_mx_matches_nothing() -> None:
    res = spf("v=spf1 mx:example.net -all", example_net__MX="0 .")
    assert res.result is SpfOutcome.FAIL


# --- the setup check -----------------------------------------------------------------


def helpdesk_zone(record: str | list[str] | None = None) -> InMemoryResolver:
    r = zone(smtp_acme_test__A="203.0.113.25", smtp2_acme_test__A="203.0.113.26")
    if record is not None:
        r.add("acme.test", "TXT", *_listify(record))
    return r


def test_setup_without_a_record_suggests_the_spec_record() -> None:
    report = check_sender_domain(
        "Acme Support <support@acme.test>", ["smtp.acme.test"], helpdesk_zone()
    )
    assert not report.ok
    assert report.domain == "acme.test"
    assert report.problems == ("acme.test publishes no SPF record",)
    assert report.suggested_record == "v=spf1 a:smtp.acme.test ~all"
    assert report.suggested_txt == 'acme.test. IN TXT "v=spf1 a:smtp.acme.test ~all"'


def test_setup_with_the_spec_example_hosts() -> None:
    r = zone(hmail_jitbit_com__A="198.51.100.10", hmail2_jitbit_com__A="198.51.100.11")
    report = check_sender_domain("support@domain.com", ["hmail.jitbit.com", "hmail2.jitbit.com"], r)
    assert report.suggested_txt == (
        'domain.com. IN TXT "v=spf1 a:hmail.jitbit.com a:hmail2.jitbit.com ~all"'
    )
    r.add("domain.com", "TXT", report.suggested_record or "")
    after = check_sender_domain("support@domain.com", ["hmail.jitbit.com", "hmail2.jitbit.com"], r)
    assert after.ok and after.suggested_record is None
    assert all(c.authorised and c.result and c.result.result == "pass" for c in after.checks)


def test_setup_ok_when_the_record_authorises_the_host() -> None:
    report = check_sender_domain(
        "support@acme.test", ["smtp.acme.test"], helpdesk_zone("v=spf1 ip4:203.0.113.0/24 -all")
    )
    assert report.ok
    assert report.records == ("v=spf1 ip4:203.0.113.0/24 -all",)
    assert report.checks[0].ip == "203.0.113.25"
    assert report.suggested_txt is None


def test_setup_adds_the_host_to_the_existing_record_before_all() -> None:
    r = helpdesk_zone("v=spf1 mx include:_spf.example.net -all")
    r.add("_spf.example.net", "TXT", "v=spf1 ip4:198.51.100.0/24 -all")
    report = check_sender_domain("support@acme.test", ["smtp.acme.test"], r)
    assert not report.ok
    assert "is not authorised" in report.problems[0]
    assert "'-all' matched" in report.problems[0]
    assert report.suggested_record == "v=spf1 mx include:_spf.example.net a:smtp.acme.test -all"
    assert any("do not add a second one" in n for n in report.notes)
    r.records[("acme.test", "TXT")] = [report.suggested_record or ""]
    assert check_sender_domain("support@acme.test", ["smtp.acme.test"], r).ok


def test_setup_inserts_before_modifiers_when_there_is_no_all() -> None:
    r = helpdesk_zone("v=spf1 mx redirect=_spf.example.net")
    r.add("_spf.example.net", "TXT", "v=spf1 -all")
    report = check_sender_domain("support@acme.test", ["smtp.acme.test"], r)
    assert report.suggested_record == "v=spf1 mx a:smtp.acme.test redirect=_spf.example.net"


def test_setup_uses_addresses_when_one_more_lookup_would_break_the_limit() -> None:
    record = "v=spf1 " + " ".join(f"a:h{i}.example.net" for i in range(10)) + " -all"
    r = helpdesk_zone(record)
    for i in range(10):
        r.add(f"h{i}.example.net", "A", "198.51.100.1")
    report = check_sender_domain("support@acme.test", ["smtp.acme.test"], r)
    assert report.suggested_record is not None
    assert "ip4:203.0.113.25 -all" in report.suggested_record
    assert "a:smtp.acme.test" not in report.suggested_record


def test_setup_two_records_are_replaced_by_one() -> None:
    report = check_sender_domain(
        "support@acme.test", ["smtp.acme.test"], helpdesk_zone(["v=spf1 mx -all", "v=spf1 a -all"])
    )
    assert any("2 SPF records" in p for p in report.problems)
    assert report.suggested_record == "v=spf1 a:smtp.acme.test ~all"
    assert any("replaces every current SPF record" in n for n in report.notes)


def test_setup_syntax_error_gets_a_fresh_record() -> None:
    report = check_sender_domain(
        "support@acme.test", ["smtp.acme.test"], helpdesk_zone("v=spf1 ip4:999.1.1.1 -all")
    )
    assert "syntax error" in report.problems[0]
    assert report.suggested_record == "v=spf1 a:smtp.acme.test ~all"


def test_setup_other_permerrors_are_reported_not_rewritten() -> None:
    report = check_sender_domain(
        "support@acme.test", ["smtp.acme.test"], helpdesk_zone("v=spf1 include:gone.example -all")
    )
    assert "permerror" in report.problems[0]
    assert report.suggested_record is None


def test_setup_dns_failures_are_temporary() -> None:
    r = helpdesk_zone()
    r.temporary_failures.add(("acme.test", "TXT"))
    report = check_sender_domain("support@acme.test", ["smtp.acme.test"], r)
    assert report.temporary and not report.ok and report.suggested_record is None
    r = helpdesk_zone("v=spf1 a:smtp.acme.test -all")
    r.temporary_failures.add(("smtp.acme.test", "AAAA"))
    report = check_sender_domain("support@acme.test", ["smtp.acme.test"], r)
    assert report.temporary and report.suggested_record is None


def test_setup_hosts_given_as_addresses_and_with_ports() -> None:
    report = check_sender_domain(
        "support@acme.test", ["203.0.113.7", "[2001:db8::7]", "smtp.acme.test:587"], helpdesk_zone()
    )
    assert report.suggested_record == (
        "v=spf1 ip4:203.0.113.7 ip6:2001:db8::7 a:smtp.acme.test ~all"
    )
    assert report.hosts == ("203.0.113.7", "[2001:db8::7]", "smtp.acme.test")


def test_setup_host_without_address() -> None:
    report = check_sender_domain("support@acme.test", ["nowhere.acme.test"], helpdesk_zone())
    assert "nowhere.acme.test has no A or AAAA record" in report.problems[0]


def test_setup_bad_input() -> None:
    r = helpdesk_zone()
    assert not check_sender_domain("not an address", ["smtp.acme.test"], r).ok
    assert not check_sender_domain("support@acme.test", [], r).ok
    report = check_sender_domain("support@acme.test", ["bad host!"], r)
    assert "not a host name" in report.problems[0]


def test_setup_known_services_need_their_include() -> None:
    r = helpdesk_zone("v=spf1 mx -all")
    report = check_sender_domain("support@acme.test", ["smtp.office365.com"], r)
    assert "include:spf.protection.outlook.com" in report.problems[0]
    assert report.suggested_record == "v=spf1 mx include:spf.protection.outlook.com -all"
    r = helpdesk_zone("v=spf1 include:_spf.acme.test -all")
    r.add("_spf.acme.test", "TXT", "v=spf1 include:_spf.google.com ~all")
    assert check_sender_domain("support@acme.test", ["smtp.gmail.com"], r).ok


def test_setup_notes_plus_all_and_private_addresses() -> None:
    r = helpdesk_zone("v=spf1 +all")
    r.add("relay.acme.test", "A", "10.1.2.3")
    report = check_sender_domain("support@acme.test", ["relay.acme.test"], r)
    assert report.ok
    assert any("+all" in n for n in report.notes)
    assert any("private or loopback" in n for n in report.notes)


def test_check_outgoing_settings() -> None:
    out = OutgoingSettings(from_address="support@acme.test", smtp_host="smtp.acme.test")
    r = helpdesk_zone("v=spf1 a:smtp.acme.test ~all")
    assert check_outgoing_settings(out, r).ok
    assert check_outgoing_settings(Settings(outgoing=out), r).ok
    report = check_outgoing_settings(out, r, extra_hosts=["smtp2.acme.test"])
    assert not report.ok and report.suggested_record == (
        "v=spf1 a:smtp.acme.test a:smtp2.acme.test ~all"
    )


def test_txt_zone_line_splits_long_records() -> None:
    record = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(30)) + " ~all"
    line = txt_zone_line("acme.test.", record)
    strings = shlex.split(line.split(" IN TXT ", 1)[1])
    assert line.startswith("acme.test. IN TXT ")
    assert len(strings) == 3 and all(len(s) <= 255 for s in strings)  # 540 characters
    assert "".join(strings) == record


# --- the command ---------------------------------------------------------------------


@pytest.fixture
def cli_zone(monkeypatch: pytest.MonkeyPatch) -> InMemoryResolver:
    r = helpdesk_zone("v=spf1 a:smtp.acme.test -all")

    def resolver(args: argparse.Namespace) -> Resolver:
        if args.nameserver:
            parse_nameserver(args.nameserver)
        return r

    monkeypatch.setattr(cli_spf, "resolver_from", resolver)
    return r


def test_cli_check(cli_zone: InMemoryResolver, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spf", "check", "--ip", "203.0.113.25", "--mail-from", "a@acme.test"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pass: 'a:smtp.acme.test' matched in the SPF record of acme.test")
    args = ["spf", "check", "--ip", "198.51.100.1", "--mail-from", "a@acme.test", "--json"]
    assert main(args) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["result"] == "fail" and data["mechanism"] == "-all"
    cli_zone.temporary_failures.add(("acme.test", "TXT"))
    assert main(args) == 3


def test_cli_check_bad_arguments(cli_zone: InMemoryResolver) -> None:
    assert main(["spf", "check", "--ip", "nope", "--mail-from", "a@acme.test"]) == 2
    with pytest.raises(SystemExit):
        main(["spf", "check", "--mail-from", "a@acme.test"])
    args = ["spf", "check", "--ip", "192.0.2.1", "--mail-from", "a@acme.test"]
    assert main([*args, "--nameserver", "127.0.0.1:99999"]) == 2


def test_cli_setup(cli_zone: InMemoryResolver, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["spf", "setup", "--from", "support@acme.test", "--smtp-host", "smtp.acme.test"]) == 0
    )
    assert capsys.readouterr().out.startswith("acme.test: OK")
    code = main(["spf", "setup", "--from", "support@acme.test", "--smtp-host", "smtp2.acme.test"])
    out = capsys.readouterr().out
    assert code == 1
    assert "NOT OK" in out
    assert 'acme.test. IN TXT "v=spf1 a:smtp.acme.test a:smtp2.acme.test -all"' in out
    assert main(["spf", "setup", "--smtp-host", "smtp.acme.test"]) == 2


def test_cli_setup_json_and_settings(
    cli_zone: InMemoryResolver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "helpdesk.json"
    path.write_text(
        json.dumps(
            {"outgoing": {"from_address": "support@acme.test", "smtp_host": "smtp2.acme.test"}}
        )
    )
    assert main(["spf", "setup", "--settings", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["hosts"] == ["smtp2.acme.test"]
    assert data["suggested_record"] == "v=spf1 a:smtp.acme.test a:smtp2.acme.test -all"
    assert main(["spf", "setup", "--settings", str(tmp_path / "missing.json")]) == 2


# --- the dnspython resolver, without a server ---------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[::1]", ("::1", 53)),
        ("::1", ("::1", 53)),
        ("ns.example.net:53", ("ns.example.net", 53)),
    ],
)
def test_parse_nameserver(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1:0", "127.0.0.1:70000", ":53", "127.0.0.1:x"])
def test_parse_nameserver_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_nameserver(text)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dns_resolver_offline_behaviour() -> None:
    r = DnsResolver.from_address(f"127.0.0.1:{_free_udp_port()}", timeout=0.5)
    assert r.nameservers == ["127.0.0.1"]
    assert r.query("a..b.example", "TXT") == []  # cannot exist: no query at all
    assert r.query("x" * 64 + ".example", "A") == []
    with pytest.raises(ValueError):
        r.query("example.com", "NOPE")
    with pytest.raises(TemporaryDnsError):
        r.query("example.com", "TXT")  # nobody listens there


# --- docs/spf.md ---------------------------------------------------------------------


def test_docs_spf_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "docs" / "spf.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "docs/spf.md has no python example"
    for code in blocks:
        exec(compile(code, "docs/spf.md", "exec"), {"__name__": "__doc_example__"})
    assert capsys.readouterr().out.splitlines() == [
        "False ('acme.test publishes no SPF record',)",
        'acme.test. IN TXT "v=spf1 a:smtp.acme.test ~all"',
        "pass a:smtp.acme.test",
        "softfail ~all",
    ]


def test_docs_spf_command_output_is_real(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "docs" / "spf.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```\n\$ (helpdesk-mail spf setup [^\n]*)\n(.*?)```", text, re.S)
    command, shown = block
    r = helpdesk_zone("v=spf1 mx -all")
    monkeypatch.setattr(cli_spf, "resolver_from", lambda args: r)
    assert main(shlex.split(command)[1:]) == 1
    assert capsys.readouterr().out == shown


# --- properties: any record, any answers -> a result, never an exception ------------


class FuzzResolver:
    """Answers every query with whatever hypothesis draws, or a temporary failure."""

    def __init__(self, data: st.DataObject, answers: st.SearchStrategy[list[str]]) -> None:
        self.data = data
        self.answers = answers
        self.count = 0

    def query(self, name: str, rdtype: str) -> Sequence[str]:
        self.count += 1
        assert self.count < 2000, "too many queries for one check"
        if self.data.draw(st.integers(0, 9), label="fail?") == 0:
            raise TemporaryDnsError("drawn")
        return self.data.draw(self.answers, label=f"{rdtype} {name}")


_TERMS = st.sampled_from(
    [
        "a", "mx", "ptr", "all", "-all", "~all", "?all", "+all", "a/24", "mx//64", "a:%{d}",
        "include:%{d}", "include:x.example.com", "redirect=x.example.com", "exists:%{i}.%{d}",
        "exp=%{d}", "ip4:192.0.2.0/24", "ip6:2001:db8::/32", "ptr:%{d2}", "a:%{p}.example.com",
        "exists:%{l1r-}.%{o}", "a:%{H}.example.com", "%", "foo=%{x}", "exp=e.%{d}",
    ]
)  # fmt: skip
_RECORDS = st.one_of(
    st.text(max_size=80),
    st.lists(_TERMS, max_size=8).map(lambda terms: " ".join(["v=spf1", *terms])),
)
_ANSWERS = st.lists(
    st.one_of(
        _RECORDS,
        st.sampled_from(["192.0.2.3", "2001:db8::cb01", "10 x.example.com.", "x.example.com."]),
        st.text(max_size=20),
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=_RECORDS, data=st.data(), ip=st.sampled_from([IP, IP6, "::ffff:192.0.2.3"]))
def test_any_record_and_answers_give_a_result(record: str, data: st.DataObject, ip: str) -> None:
    resolver = FuzzResolver(data, _ANSWERS)
    res = check_spf(
        ip, data.draw(st.text(max_size=30), label="mail_from"), "helo.example", resolver
    )
    assert isinstance(res, SpfResult)
    assert res.result in set(SpfOutcome)
    assert res.lookups <= 11 and res.void_lookups <= 3


@settings(max_examples=300, deadline=None)
@given(record=_RECORDS, extra=st.lists(st.text(max_size=30), max_size=3))
def test_any_published_records_give_a_result(record: str, extra: list[str]) -> None:
    r = zone(x_example_com__TXT=[record, *extra])
    r.add("example.com", "TXT", record)
    res = check_spf(IP, "user@example.com", "h.example", r)
    assert res.result in set(SpfOutcome)
    report = check_sender_domain("user@example.com", ["smtp.example.com", "192.0.2.3"], r)
    assert isinstance(report, SpfSetupReport)
    if report.suggested_record is not None:
        parse_record(report.suggested_record)  # what we suggest is always valid


@given(text=st.text(max_size=120))
def test_parse_record_accepts_or_raises_syntax_error(text: str) -> None:
    with contextlib.suppress(SpfSyntaxError):
        assert isinstance(parse_record(text), SpfRecord)


def test_nesting_is_bounded_even_with_a_huge_lookup_limit() -> None:
    r = zone(example_com__TXT="v=spf1 include:example.com -all")
    res = check_spf(IP, "x@example.com", "h", r, lookup_limit=100_000)
    assert res.result is SpfOutcome.PERMERROR
    assert "nested" in res.reason
