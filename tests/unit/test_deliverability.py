"""check_deliverability (SPF, DKIM, DMARC, alignment) against InMemoryResolver, and `dns check`."""

from __future__ import annotations

import argparse
import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.cli import dns as cli_dns
from helpdesk_mail.cli import main
from helpdesk_mail.memory import InMemoryResolver
from helpdesk_mail.ports import Resolver
from helpdesk_mail.settings import OutgoingSettings
from helpdesk_mail.spf import (
    CheckStatus,
    DkimKey,
    check_deliverability,
    check_outgoing_deliverability,
    organizational_domain,
    parse_dmarc_record,
    parse_tag_list,
)
from helpdesk_mail.transports.dkim import DkimSigner
from helpdesk_mail.transports.dns import parse_nameserver

KEY_FILE = Path(__file__).resolve().parents[1] / "services" / "dkim" / "test-dkim.pem"
SIGNER = DkimSigner.from_pem(KEY_FILE.read_bytes(), "default", "acme.test")
P = SIGNER.public_key
OTHER_P = base64.b64encode(b"\x30\x82" + bytes(range(200))).decode()
S, W, F, T = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL, CheckStatus.TEMPERROR


def zone(
    *,
    spf: str | None = "v=spf1 a:smtp.acme.test -all",
    dkim: str | None = f"v=DKIM1; k=rsa; p={P}",
    dmarc: str | None = "v=DMARC1; p=reject; rua=mailto:dmarc@acme.test",
    domain: str = "acme.test",
) -> InMemoryResolver:
    r = InMemoryResolver()
    r.add("smtp.acme.test", "A", "203.0.113.25")
    if spf is not None:
        r.add(domain, "TXT", spf)
    if dkim is not None:
        r.add(f"default._domainkey.{domain}", "TXT", dkim)
    if dmarc is not None:
        r.add(f"_dmarc.{domain}", "TXT", dmarc)
    return r


KEY = DkimKey("default", "acme.test", P)


def check(r: Resolver, frm: str = "support@acme.test", **kw: Any) -> Any:
    kw.setdefault("sending_hosts", ["smtp.acme.test"])
    kw.setdefault("dkim", KEY)
    return check_deliverability(frm, r, **kw)


def statuses(report: Any) -> tuple[CheckStatus, ...]:
    return tuple(f.status for f in report.findings)


# --- tag lists and DMARC records -------------------------------------------------------


def test_parse_tag_list() -> None:
    assert parse_tag_list("v=DKIM1; k=rsa; p=MIIB") == {"v": "DKIM1", "k": "rsa", "p": "MIIB"}
    assert parse_tag_list(" v = DKIM1 ;;  p= a b ;") == {"v": "DKIM1", "p": "a b"}
    assert parse_tag_list("") == {}
    assert parse_tag_list("p=1; p=2") is None  # a repeated tag spoils the whole list
    assert parse_tag_list("v=DKIM1; junk") is None
    assert parse_tag_list("1v=x") is None
    assert parse_tag_list("P=x") == {"p": "x"}


def test_parse_dmarc_record() -> None:
    r = parse_dmarc_record(
        "acme.test",
        "v=DMARC1; p=Reject; sp=none; adkim=s; aspf=r; pct=50; rua=mailto:a@x.test, mailto:b@y",
    )
    assert r is not None
    assert (r.policy, r.subdomain_policy, r.adkim, r.aspf, r.pct) == (
        "reject",
        "none",
        "s",
        "r",
        50,
    )
    assert r.rua == ("mailto:a@x.test", "mailto:b@y")
    assert r.policy_for("acme.test") == "reject" and r.policy_for("mail.acme.test") == "none"
    bare = parse_dmarc_record("acme.test", "v=DMARC1; p=none")
    assert bare is not None and (bare.adkim, bare.aspf, bare.pct, bare.rua) == ("r", "r", 100, ())
    assert bare.policy_for("sub.acme.test") == "none"
    assert parse_dmarc_record("acme.test", "p=reject; v=DMARC1") is None  # v= must come first
    assert parse_dmarc_record("acme.test", "v=DMARC2; p=reject") is None
    assert parse_dmarc_record("acme.test", "v=spf1 -all") is None
    bad = parse_dmarc_record("acme.test", "v=DMARC1; p=block; pct=9999")
    assert bad is not None and bad.policy is None and bad.pct == 100


# --- the good setup --------------------------------------------------------------------


def test_everything_right() -> None:
    report = check(zone(), "Acme Support <support@acme.test>")
    assert report.ok and not report.temporary
    assert statuses(report) == (S, S, S, S)
    assert report.spf.summary == "acme.test authorises smtp.acme.test"
    assert report.dkim.summary == "default._domainkey.acme.test publishes the helpdesk's key"
    assert report.dmarc.summary == "p=reject at _dmarc.acme.test"
    assert report.alignment.summary == "DMARC passes through DKIM and SPF"
    assert report.publish == ()
    assert (report.from_domain, report.envelope_sender, report.dkim_domain) == (
        "acme.test",
        "support@acme.test",
        "acme.test",
    )
    assert report.dmarc_record is not None and report.dmarc_record.policy == "reject"
    assert report.spf_report is not None and report.spf_report.ok


# --- SPF ------------------------------------------------------------------------------


def test_spf_missing_suggests_the_record() -> None:
    report = check(zone(spf=None))
    assert statuses(report) == (F, S, S, W)  # DMARC still passes through DKIM
    assert report.spf.publish == ('acme.test. IN TXT "v=spf1 a:smtp.acme.test ~all"',)
    assert not report.ok


def test_spf_not_authorising_the_host() -> None:
    report = check(zone(spf="v=spf1 ip4:192.0.2.1 -all"))
    assert report.spf.status is F
    assert report.spf.summary == "acme.test does not authorise smtp.acme.test"
    assert report.spf.publish == ('acme.test. IN TXT "v=spf1 ip4:192.0.2.1 a:smtp.acme.test -all"',)


def test_spf_without_hosts_only_checks_the_record() -> None:
    ok = check(zone(), sending_hosts=[])
    assert ok.spf.status is W and "was not checked" in ok.spf.notes[0]
    assert ok.ok
    missing = check(zone(spf=None), sending_hosts=[])
    assert missing.spf.status is F and missing.spf.publish == ()
    assert "v=spf1 a:<your SMTP server> ~all" in missing.spf.problems[0]
    two = zone()
    two.add("acme.test", "TXT", "v=spf1 -all")
    assert "publishes 2 SPF records" in check(two, sending_hosts=[]).spf.problems[0]
    broken = check(zone(spf="v=spf1 ip4:999.1.1.1 -all"), sending_hosts=[])
    assert broken.spf.status is F and "syntax error" in broken.spf.problems[0]


def test_spf_is_checked_for_the_envelope_domain() -> None:
    r = zone()
    r.add("bounces.relay.test", "TXT", "v=spf1 a:smtp.acme.test -all")
    report = check(r, envelope_sender="b@bounces.relay.test")
    assert report.spf.status is S
    assert report.spf.summary == "bounces.relay.test authorises smtp.acme.test"


# --- DKIM -----------------------------------------------------------------------------


def test_dkim_not_configured() -> None:
    report = check(zone(), dkim=None)
    assert statuses(report) == (S, F, S, W)
    assert "not DKIM-signed" in report.dkim.problems[0]
    assert "only SPF aligns" in report.alignment.notes[-1]


def test_dkim_record_missing_publishes_the_key() -> None:
    report = check(zone(dkim=None))
    assert report.dkim.status is F
    assert report.dkim.publish == (SIGNER.zone_line,)
    unknown = check(zone(dkim=None), dkim=DkimKey("default", "acme.test"))
    assert (
        unknown.dkim.publish == () and "public key of the signing key" in (unknown.dkim.problems[0])
    )


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (f"v=DKIM1; k=rsa; p={OTHER_P}", "is not the key the helpdesk signs with"),
        ("v=DKIM1; k=rsa; p=", "revoked"),
        ("v=DKIM1; k=rsa", "not a DKIM key record"),
        ("hello world", "not a DKIM key record"),
        (f"v=DKIM2; p={P}", "only v=DKIM1"),
        ("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "k=ed25519"),
        (f"v=DKIM1; h=sha1; p={P}", "does not allow sha256"),
        (f"v=DKIM1; s=tlsrpt; p={P}", "not for email"),
    ],
)
def test_dkim_wrong_records(record: str, problem: str) -> None:
    report = check(zone(dkim=record))
    assert report.dkim.status is F
    assert problem in " ".join(report.dkim.problems)
    assert report.dkim.records == (record,)
    assert report.dkim.publish == (SIGNER.zone_line,)
    assert report.alignment.status is W  # DMARC still passes through SPF


def test_dkim_record_forms_that_match() -> None:
    spaced = " ".join(P[i : i + 60] for i in range(0, len(P), 60))
    pkcs1 = base64.b64encode(base64.b64decode(P)[24:]).decode()  # the bare RSAPublicKey
    for record in (
        f"v=DKIM1; k=rsa; p={P}",
        f"p={P}",
        f"v=DKIM1; p={spaced}",
        f"v=DKIM1; k=RSA; h=sha1:sha256; s=email; p={pkcs1}",
    ):
        assert check(zone(dkim=record)).dkim.status is S, record


def test_dkim_notes() -> None:
    testing = check(zone(dkim=f"v=DKIM1; t=y; p={P}"))
    assert testing.dkim.status is S and "t=y" in testing.dkim.notes[0]
    unknown = check(zone(), dkim=DkimKey("default", "acme.test"))
    assert unknown.dkim.status is S
    assert unknown.dkim.summary == "default._domainkey.acme.test publishes a DKIM key"
    assert "was not compared" in unknown.dkim.notes[0]


def test_dkim_several_records() -> None:
    r = zone()
    r.add("default._domainkey.acme.test", "TXT", "v=DKIM1; p=")
    assert "holds 2 TXT records" in check(r).dkim.problems[0]


# --- DMARC ----------------------------------------------------------------------------


def test_dmarc_missing_suggests_a_starter_record() -> None:
    report = check(zone(dmarc=None))
    assert statuses(report) == (S, S, F, S)
    assert report.dmarc.publish == (
        '_dmarc.acme.test. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@acme.test"',
    )
    custom = check(zone(dmarc=None), dmarc_reports="reports@dmarc.example.net")
    assert custom.dmarc.publish == (
        '_dmarc.acme.test. IN TXT "v=DMARC1; p=none; rua=mailto:reports@dmarc.example.net"',
    )


@pytest.mark.parametrize(
    ("record", "status", "note"),
    [
        ("v=DMARC1; p=none; rua=mailto:d@acme.test", W, "p=none only monitors"),
        ("v=DMARC1; p=quarantine; rua=mailto:d@acme.test", S, "is quarantined"),
        ("v=DMARC1; p=reject; rua=mailto:d@acme.test", S, "is rejected"),
        ("v=DMARC1; p=reject", S, "no rua="),
        ("v=DMARC1; p=quarantine; pct=20; rua=mailto:d@acme.test", S, "pct=20"),
    ],
)
def test_dmarc_policies(record: str, status: CheckStatus, note: str) -> None:
    report = check(zone(dmarc=record))
    assert report.dmarc.status is status
    assert report.ok
    assert any(note in n for n in report.dmarc.notes)


def test_dmarc_invalid_or_several_records() -> None:
    invalid = check(zone(dmarc="v=DMARC1; p=maybe"))
    assert invalid.dmarc.status is F and "not valid" in invalid.dmarc.problems[0]
    assert invalid.dmarc.publish[0].startswith('_dmarc.acme.test. IN TXT "v=DMARC1; p=none;')
    r = zone()
    r.add("_dmarc.acme.test", "TXT", "v=DMARC1; p=none")
    several = check(r)
    assert several.dmarc.status is F and "holds 2 DMARC records" in several.dmarc.problems[0]
    other_txt = zone(dmarc=None)
    other_txt.add("_dmarc.acme.test", "TXT", "some-verification=1")
    assert check(other_txt).dmarc.status is F


def test_dmarc_of_a_subdomain_is_inherited_with_sp() -> None:
    r = zone(domain="acme.test", dmarc="v=DMARC1; p=reject; sp=quarantine")
    r.add("help.acme.test", "TXT", "v=spf1 a:smtp.acme.test -all")
    r.add("default._domainkey.help.acme.test", "TXT", f"v=DKIM1; p={P}")
    report = check(r, "support@help.acme.test", dkim=DkimKey("default", "help.acme.test", P))
    assert report.dmarc.status is S
    assert report.dmarc.summary == "p=quarantine at _dmarc.acme.test (inherited from acme.test)"
    assert report.alignment.status is S


# --- alignment ------------------------------------------------------------------------


def relay_zone(dmarc: str = "v=DMARC1; p=reject; rua=mailto:d@acme.test") -> InMemoryResolver:
    r = zone(dmarc=dmarc)
    for domain in ("relay.test", "bounces.acme.test", "mail.acme.test"):
        r.add(domain, "TXT", "v=spf1 a:smtp.acme.test -all")
        r.add(f"default._domainkey.{domain}", "TXT", f"v=DKIM1; p={P}")
    return r


def test_relaxed_alignment_with_subdomains() -> None:
    report = check(
        relay_zone(),
        envelope_sender="b@bounces.acme.test",
        dkim=DkimKey("default", "mail.acme.test", P),
    )
    assert statuses(report) == (S, S, S, S)
    assert report.alignment.summary == "DMARC passes through DKIM and SPF"


def test_strict_alignment_with_subdomains() -> None:
    report = check(
        relay_zone("v=DMARC1; p=reject; aspf=s; adkim=s; rua=mailto:d@acme.test"),
        envelope_sender="b@bounces.acme.test",
        dkim=DkimKey("default", "mail.acme.test", P),
    )
    assert report.alignment.status is F
    assert report.alignment.summary == "DMARC cannot pass"
    text = " ".join(report.alignment.problems)
    assert "d=mail.acme.test does not align with the From domain acme.test (strict)" in text
    assert "bounces.acme.test" in text and "(strict)" in text
    assert report.alignment.publish == (SIGNER.zone_line,)  # the key at d=acme.test


def test_misaligned_envelope_sender_only_is_a_warning() -> None:
    report = check(relay_zone(), envelope_sender="bounces@relay.test")
    assert statuses(report) == (S, S, S, W)
    assert report.ok
    assert report.alignment.summary == "DMARC passes through DKIM"
    assert "SmtpTransport uses outgoing.from_address" in report.alignment.notes[0]


def test_misaligned_dkim_domain_is_a_problem() -> None:
    report = check(relay_zone(), dkim=DkimKey("default", "relay.test", P))
    assert statuses(report) == (S, S, S, F)
    assert report.alignment.summary == "DMARC passes through SPF"
    assert "sign with d=acme.test" in report.alignment.problems[0]
    assert report.alignment.publish == (SIGNER.zone_line,)


def test_both_misaligned_dmarc_cannot_pass() -> None:
    report = check(
        relay_zone(), envelope_sender="b@relay.test", dkim=DkimKey("default", "relay.test", P)
    )
    assert report.alignment.status is F
    assert report.alignment.problems[-1].startswith("DMARC fails for mail from acme.test")


def test_alignment_only_counts_mechanisms_that_pass() -> None:
    report = check(zone(spf=None, dkim=None))
    assert report.alignment.status is F and report.alignment.summary == "DMARC cannot pass"


def test_organizational_domain_tree_walk() -> None:
    r = InMemoryResolver()
    r.add("_dmarc.acme.test", "TXT", "v=DMARC1; p=none")
    r.add("_dmarc.eu.shop.test", "TXT", "v=DMARC1; p=none")
    r.add("_dmarc.shop.test", "TXT", "v=DMARC1; p=none; psd=y")
    r.add("_dmarc.corp.test", "TXT", "v=DMARC1; p=none; psd=n")
    r.add("_dmarc.a.corp.test", "TXT", "v=DMARC1; p=none")
    assert organizational_domain("a.b.c.acme.test", r) == "acme.test"
    assert organizational_domain("ACME.test.", r) == "acme.test"
    assert organizational_domain("x.eu.shop.test", r) == "eu.shop.test"  # below a PSD
    assert organizational_domain("x.a.corp.test", r) == "corp.test"  # psd=n wins
    assert organizational_domain("nothing.example", r) == "nothing.example"
    # never _dmarc.<tld>, at most eight names for a long name
    r.queries.clear()
    organizational_domain(".".join(f"l{i}" for i in range(20)) + ".test", r)
    assert len(r.queries) == 8
    assert ("_dmarc.test", "TXT") not in r.queries


def test_dns_failures_are_temporary() -> None:
    r = zone()
    r.temporary_failures.add(("_dmarc.acme.test", "TXT"))
    report = check(r)
    assert report.dmarc.status is T
    assert report.alignment.status is S  # the same domain aligns in every mode
    assert report.temporary and not report.ok
    subdomain = relay_zone()
    subdomain.temporary_failures.add(("_dmarc.acme.test", "TXT"))
    assert check(subdomain, envelope_sender="b@bounces.acme.test").alignment.status is T
    r = zone()
    r.temporary_failures.add(("default._domainkey.acme.test", "TXT"))
    assert check(r).dkim.status is T
    r = zone()
    r.temporary_failures.add(("acme.test", "TXT"))
    assert check(r).spf.status is T and check(r, sending_hosts=[]).spf.status is T
    both = zone(dkim=None)
    both.temporary_failures.add(("_dmarc.acme.test", "TXT"))
    assert not check(both).temporary  # a real problem too: not only "try again"


def test_bad_addresses_raise() -> None:
    with pytest.raises(ValueError, match="From address"):
        check(zone(), "support")
    with pytest.raises(ValueError, match="envelope sender"):
        check(zone(), envelope_sender="bounces@")


def test_check_from_outgoing_settings() -> None:
    out = OutgoingSettings(
        from_address="support@acme.test",
        smtp_host="smtp.acme.test",
        dkim_selector="default",
        dkim_private_key_file="/etc/dkim.pem",
    )
    report = check_outgoing_deliverability(out, zone(), dkim_public_key=P)
    assert statuses(report) == (S, S, S, S)
    unsigned = check_outgoing_deliverability(
        OutgoingSettings(from_address="support@acme.test", smtp_host="smtp.acme.test"), zone()
    )
    assert unsigned.dkim.status is F


# --- the command ---------------------------------------------------------------------


@pytest.fixture
def cli_zone(monkeypatch: pytest.MonkeyPatch) -> InMemoryResolver:
    r = relay_zone()

    def resolver(args: argparse.Namespace) -> Resolver:
        if args.nameserver:
            parse_nameserver(args.nameserver)
        if args.timeout <= 0:
            raise ValueError("--timeout must be positive")
        return r

    monkeypatch.setattr(cli_dns, "resolver_from", resolver)
    return r


SIGNED = ["--smtp-host", "smtp.acme.test", "--dkim-selector", "default"]
SIGNED += ["--dkim-key", str(KEY_FILE)]


def test_cli_all_pass(cli_zone: InMemoryResolver, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dns", "check", "--from", "support@acme.test", *SIGNED]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:8] == [
        "acme.test: OK",
        "  From: support@acme.test",
        "  envelope sender (MAIL FROM): support@acme.test",
        "  DKIM: s=default d=acme.test",
        "  spf        pass      acme.test authorises smtp.acme.test",
        "  dkim       pass      default._domainkey.acme.test publishes the helpdesk's key",
        "  dmarc      pass      p=reject at _dmarc.acme.test",
        "  alignment  pass      DMARC passes through DKIM and SPF",
    ]
    assert "Publish" not in out


def test_cli_problem_prints_the_records(
    cli_zone: InMemoryResolver, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_zone.records.pop(("_dmarc.acme.test", "TXT"))
    cli_zone.records.pop(("default._domainkey.acme.test", "TXT"))
    assert main(["dns", "check", "--from", "support@acme.test", *SIGNED]) == 1
    out = capsys.readouterr().out
    assert out.startswith("acme.test: NOT OK\n")
    assert "  - dkim: no DKIM key record at default._domainkey.acme.test: publish one" in out
    publish = out.split("Publish these records", 1)[1].splitlines()[1:]
    assert publish == [
        f"  {SIGNER.zone_line}",
        '  _dmarc.acme.test. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@acme.test"',
    ]


def test_cli_json(cli_zone: InMemoryResolver, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["dns", "check", "--from", "support@acme.test", *SIGNED, "--json"]
    assert main([*args, "--dkim-domain", "relay.test"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["temporary"] is False
    assert data["alignment"]["status"] == "fail"
    assert data["dkim_domain"] == "relay.test"
    assert data["publish"] == [SIGNER.zone_line]
    cli_zone.temporary_failures.add(("_dmarc.acme.test", "TXT"))
    assert main(args) == 3
    assert json.loads(capsys.readouterr().out)["temporary"] is True


def test_cli_without_dkim_and_hosts(
    cli_zone: InMemoryResolver, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dns", "check", "--from", "support@acme.test"]) == 1
    out = capsys.readouterr().out
    assert "  spf        warn      acme.test publishes an SPF record" in out
    assert "  dkim       fail      not configured" in out


def test_cli_with_settings(
    cli_zone: InMemoryResolver,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = tmp_path / "helpdesk.json"
    settings.write_text(
        json.dumps(
            {
                "outgoing": {
                    "from_address": "support@acme.test",
                    "smtp_host": "smtp.acme.test",
                    "dkim_selector": "default",
                    "dkim_private_key_env": "HM_DKIM_TEST_KEY",
                }
            }
        )
    )
    monkeypatch.setenv("HM_DKIM_TEST_KEY", KEY_FILE.read_text())
    assert main(["dns", "check", "--settings", str(settings)]) == 0
    assert "publishes the helpdesk's key" in capsys.readouterr().out
    # options win over the settings
    code = main(["dns", "check", "--settings", str(settings), "--dkim-domain", "relay.test"])
    assert code == 1
    assert "d=relay.test does not align" in capsys.readouterr().out
    monkeypatch.delenv("HM_DKIM_TEST_KEY")
    assert main(["dns", "check", "--settings", str(settings)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("helpdesk-mail dns: the settings' DKIM key: names an environment")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --from ADDRESS"),
        (["--from", "nobody"], "is not an email address with a domain"),
        (["--from", "a@acme.test", "--envelope-from", "x"], "the envelope sender"),
        (["--from", "a@acme.test", "--dkim-key", "k.pem"], "need --dkim-selector"),
        (["--from", "a@acme.test", "--dkim-selector", "s", "--dkim-key", "/nope.pem"], "nope"),
        (["--from", "a@acme.test", "--timeout", "0"], "--timeout must be positive"),
        (["--from", "a@acme.test", "--dkim-selector", "a b"], "--dkim-selector 'a b' must be"),
        (
            ["--from", "a@acme.test", "--dkim-selector", "s", "--dkim-domain", "x"],
            "--dkim-domain 'x' must be a domain name",
        ),
        (["--from", "a@localhost", "--dkim-selector", "s"], "--dkim-domain 'localhost'"),
        (["--from", "a@acme.test", "--nameserver", "127.0.0.1:99999"], "bad port"),
        (["--settings", "/no/such/file.toml"], "cannot use /no/such/file.toml"),
    ],
)
def test_cli_usage_errors(
    cli_zone: InMemoryResolver,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert main(["dns", "check", *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_unusable_key_file(
    cli_zone: InMemoryResolver, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    args = ["--from", "a@acme.test", "--dkim-selector", "default", "--dkim-key", str(junk)]
    assert main(["dns", "check", *args]) == 2
    assert "must hold an RSA private key in PEM" in capsys.readouterr().err


def test_cli_needs_a_subcommand() -> None:
    with pytest.raises(SystemExit):
        main(["dns"])


def test_the_example_of_the_deliverability_page(capsys: pytest.CaptureFixture[str]) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "deliverability.md"
    *_, example = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    exec(compile(example, str(doc), "exec"), {})
    assert capsys.readouterr().out.splitlines() == [
        "[('spf', 'pass'), ('dkim', 'fail'), ('dmarc', 'warn'), ('alignment', 'warn')]",
        "False ()",
    ]
