"""DKIM signatures and `helpdesk-mail dns check` against the project's NSD.

Every default template's message, with and without attachments, is signed with the
public test key (tests/services/dkim/test-dkim.pem) and verified by dkimpy with the
key it reads from NSD (default._domainkey.acme.test); so are messages that went
through SmtpTransport to an aiosmtpd server, as the server received them. The
command runs against the zones of tests/services/dns-zones/deliver.test.zone, one
From domain per deliverability mistake.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.ports import TemporaryDnsError
from helpdesk_mail.samples.preview import (
    SAMPLES,
    sample_clock,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.settings import OutgoingSettings, TlsMode
from helpdesk_mail.spf import CheckStatus, DkimKey, check_deliverability
from helpdesk_mail.transports.dkim import DkimSigner, DkimSigningTransport, wire_policy
from helpdesk_mail.transports.dns import DnsResolver
from helpdesk_mail.transports.stack import send_transport

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
from smtp_testserver import SMTPTestServer

pytestmark = pytest.mark.integration

KEY = Path(__file__).resolve().parents[1] / "services" / "dkim" / "test-dkim.pem"


@pytest.fixture
def resolver(dns_server: tuple[str, int]) -> DnsResolver:
    host, port = dns_server
    return DnsResolver([host], port=port, timeout=3)


@pytest.fixture
def dnsfunc(resolver: DnsResolver) -> Callable[..., bytes | None]:
    """dkimpy's key look-up, asking NSD."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        try:
            found = resolver.query(name.decode("ascii"), "TXT")
        except TemporaryDnsError:
            return None
        return found[0].encode() if found else None

    return lookup


@pytest.fixture(scope="module")
def signer() -> DkimSigner:
    return DkimSigner.from_pem(KEY.read_bytes(), "default", "acme.test")


def test_the_published_key_is_the_test_key(resolver: DnsResolver, signer: DkimSigner) -> None:
    assert resolver.query("default._domainkey.acme.test", "TXT") == [signer.dns_record]


@pytest.mark.parametrize("attachments", [True, False], ids=["attachments", "no-attachments"])
@pytest.mark.parametrize("kind", list(SAMPLES), ids=str)
def test_every_default_template_verifies_against_the_published_key(
    signer: DkimSigner,
    dnsfunc: Callable[..., bytes | None],
    kind: TemplateKind,
    attachments: bool,
) -> None:
    planned = dataclasses.replace(SAMPLES[kind], include_attachments=attachments)
    messages = render_message(
        planned, None, sample_settings(), sample_storage(), sample_clock(), sample_random()
    )
    assert messages
    for message in messages:
        signed = signer.sign(message)
        data = signed.as_bytes(policy=wire_policy(signed))
        assert dkim.verify(data, dnsfunc=dnsfunc), kind
        assert not dkim.verify(data.replace(b"Subject: ", b"Subject: Re: ", 1), dnsfunc=dnsfunc)


def test_a_key_of_another_selector_does_not_verify(
    signer: DkimSigner, dnsfunc: Callable[..., bytes | None]
) -> None:
    wrong = dataclasses.replace(signer, domain="wrongkey.deliver.test")  # another key there
    message = render_message(
        SAMPLES[TemplateKind.TICKET_CLOSED],
        None,
        sample_settings(),
        sample_storage(),
        sample_clock(),
        sample_random(),
    )
    assert message
    signed = wrong.sign(message[0])
    assert not dkim.verify(signed.as_bytes(policy=wire_policy(signed)), dnsfunc=dnsfunc)


# --- through SMTP: what the server received verifies ------------------------------------


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SMTPTestServer]:
    srv = SMTPTestServer(tls_dir=str(tmp_path_factory.mktemp("smtp-tls")))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def smtp(smtp_server: SMTPTestServer) -> SMTPTestServer:
    smtp_server.disconnect_all()
    smtp_server.clear()
    return smtp_server


def outgoing(srv: SMTPTestServer) -> OutgoingSettings:
    return OutgoingSettings(
        from_address="support@acme.test",
        from_name="Acme Support",
        reply_to="support@acme.test",
        helpdesk_url="https://helpdesk.acme.test",
        secret_key="sample-secret-key",
        smtp_host=srv.host,
        smtp_port=srv.port,
        smtp_username=srv.user,
        smtp_password=srv.password,
        smtp_tls=TlsMode.STARTTLS,
        smtp_ca_file=srv.ca_file,
        dkim_selector="default",
        dkim_private_key_file=str(KEY),
    )


def test_sent_through_smtp_every_template_verifies(
    smtp: SMTPTestServer, dnsfunc: Callable[..., bytes | None]
) -> None:
    settings = dataclasses.replace(sample_settings(), outgoing=outgoing(smtp))
    transport = send_transport(settings.outgoing, timeout=20)
    assert isinstance(transport, DkimSigningTransport)
    sent = 0
    with transport:
        for kind, planned in SAMPLES.items():
            for attachments in (True, False):
                p = dataclasses.replace(planned, include_attachments=attachments)
                messages = render_message(
                    p, None, settings, sample_storage(), sample_clock(), sample_random()
                )
                assert messages, kind
                for message in messages:
                    transport.send(message)
                    sent += 1
    received = smtp.wait_for(sent)
    assert len(received) == sent
    for got in received:
        assert got.mail_from == "support@acme.test"
        assert got.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
        assert dkim.verify(got.data, dnsfunc=dnsfunc), got.message["Subject"]


def test_sent_through_smtp_with_bcc_and_a_non_ascii_address(
    smtp: SMTPTestServer, dnsfunc: Callable[..., bytes | None]
) -> None:
    transport = send_transport(outgoing(smtp), timeout=20)
    message = EmailMessage()
    message["From"] = "Acme Support <support@acme.test>"
    message["To"] = "Jöran Müller <jöran@example.com>"
    message["Bcc"] = "audit@acme.test"
    message["Subject"] = "[#1234] Drucker brennt – bitte helfen"
    message["Date"] = "Mon, 05 Jan 2026 09:30:00 +0000"
    message["Message-ID"] = "<hdn.1234.x@acme.test>"
    message.set_content("Grüße aus der IT.\n")
    transport.send(message)
    [got] = smtp.wait_for(1)
    assert sorted(got.rcpt_tos) == ["audit@acme.test", "jöran@example.com"]
    assert b"Bcc" not in got.data
    assert dkim.verify(got.data, dnsfunc=dnsfunc)


# --- the deliverability check and the command -------------------------------------------


def test_check_against_real_dns(resolver: DnsResolver, signer: DkimSigner) -> None:
    key = DkimKey("default", "acme.test", signer.public_key)
    report = check_deliverability(
        "Acme Support <support@acme.test>", resolver, sending_hosts=["smtp.acme.test"], dkim=key
    )
    assert report.ok, report
    assert [f.status for f in report.findings] == [CheckStatus.PASS] * 4
    assert report.dmarc_record is not None and report.dmarc_record.policy == "quarantine"


def _cli(*args: str, server: tuple[str, int]) -> subprocess.CompletedProcess[str]:
    host, port = server
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "helpdesk_mail",
            "dns",
            "check",
            *args,
            "--nameserver",
            f"{host}:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


SIGNED = ("--smtp-host", "smtp.acme.test", "--dkim-selector", "default", "--dkim-key", str(KEY))


def _statuses(stdout: str) -> dict[str, str]:
    data = json.loads(stdout)
    return {name: data[name]["status"] for name in ("spf", "dkim", "dmarc", "alignment")}


@pytest.mark.parametrize(
    ("domain", "code", "statuses", "published"),
    [
        ("acme.test", 0, ("pass", "pass", "pass", "pass"), None),
        ("good.deliver.test", 0, ("pass", "pass", "pass", "pass"), None),
        ("monitor.deliver.test", 0, ("pass", "pass", "warn", "pass"), None),
        ("quarantine.deliver.test", 0, ("pass", "pass", "pass", "pass"), None),
        (
            "nodkim.deliver.test",
            1,
            ("pass", "fail", "pass", "warn"),
            'default._domainkey.nodkim.deliver.test. IN TXT "v=DKIM1; k=rsa; p=MIIBIjAN',
        ),
        (
            "wrongkey.deliver.test",
            1,
            ("pass", "fail", "pass", "warn"),
            'default._domainkey.wrongkey.deliver.test. IN TXT "v=DKIM1; k=rsa; p=MIIBIjAN',
        ),
        (
            "revoked.deliver.test",
            1,
            ("pass", "fail", "pass", "warn"),
            'default._domainkey.revoked.deliver.test. IN TXT "v=DKIM1; k=rsa; p=MIIBIjAN',
        ),
        (
            "nodmarc.deliver.test",
            1,
            ("pass", "pass", "fail", "pass"),
            '_dmarc.nodmarc.deliver.test. IN TXT "v=DMARC1; p=none; '
            'rua=mailto:postmaster@nodmarc.deliver.test"',
        ),
        (
            "nospf.deliver.test",
            1,
            ("fail", "pass", "pass", "warn"),
            'nospf.deliver.test. IN TXT "v=spf1 a:smtp.acme.test ~all"',
        ),
    ],
)
def test_cli_for_each_mistake(
    dns_server: tuple[str, int],
    signer: DkimSigner,
    domain: str,
    code: int,
    statuses: tuple[str, str, str, str],
    published: str | None,
) -> None:
    text = _cli("--from", f"support@{domain}", *SIGNED, server=dns_server)
    assert text.returncode == code, text.stdout + text.stderr
    assert text.stdout.startswith(f"{domain}: {'OK' if code == 0 else 'NOT OK'}\n")
    as_json = _cli("--from", f"support@{domain}", *SIGNED, "--json", server=dns_server)
    assert as_json.returncode == code
    assert _statuses(as_json.stdout) == dict(
        zip(("spf", "dkim", "dmarc", "alignment"), statuses, strict=True)
    )
    if published is None:
        assert "Publish" not in text.stdout
        assert json.loads(as_json.stdout)["publish"] == []
    else:
        assert published in text.stdout
        [line] = [p for p in json.loads(as_json.stdout)["publish"] if p.startswith(published)]
        if "_domainkey" in line:  # the whole key, in strings of at most 255 characters
            assert "".join(line.split(" IN TXT ", 1)[1].split('"')[1::2]) == signer.dns_record


def test_cli_dmarc_policy_is_reported(dns_server: tuple[str, int]) -> None:
    for domain, policy in (
        ("monitor.deliver.test", "none"),
        ("quarantine.deliver.test", "quarantine"),
        ("good.deliver.test", "reject"),
    ):
        run = _cli("--from", f"support@{domain}", *SIGNED, "--json", server=dns_server)
        data = json.loads(run.stdout)
        assert data["dmarc_record"]["policy"] == policy
        assert data["dmarc"]["summary"] == f"p={policy} at _dmarc.{domain}"
    monitor = _cli("--from", "support@monitor.deliver.test", *SIGNED, server=dns_server)
    assert "p=none only monitors" in monitor.stdout


def test_cli_misaligned_envelope_sender_and_dkim_domain(dns_server: tuple[str, int]) -> None:
    both = _cli(
        "--from",
        "support@good.deliver.test",
        *SIGNED,
        "--envelope-from",
        "bounces@relay.deliver.test",
        "--dkim-domain",
        "relay.deliver.test",
        "--json",
        server=dns_server,
    )
    assert both.returncode == 1
    data = json.loads(both.stdout)
    # SPF and DKIM are right for relay.deliver.test, but neither aligns with From
    assert _statuses(both.stdout) == {
        "spf": "pass",
        "dkim": "pass",
        "dmarc": "pass",
        "alignment": "fail",
    }
    assert data["alignment"]["summary"] == "DMARC cannot pass"
    assert any(line.startswith("default._domainkey.good.deliver.test.") for line in data["publish"])

    envelope_only = _cli(
        "--from",
        "support@good.deliver.test",
        *SIGNED,
        "--envelope-from",
        "bounces@relay.deliver.test",
        server=dns_server,
    )
    assert envelope_only.returncode == 0  # DKIM aligns: DMARC passes; a warning
    assert "alignment  warn      DMARC passes through DKIM" in envelope_only.stdout

    relaxed = _cli(
        "--from",
        "support@good.deliver.test",
        *SIGNED,
        "--envelope-from",
        "b@bounces.good.deliver.test",
        server=dns_server,
    )
    assert relaxed.returncode == 0 and "DMARC passes through DKIM and SPF" in relaxed.stdout

    strict = _cli(
        "--from",
        "support@strict.deliver.test",
        *SIGNED,
        "--envelope-from",
        "b@bounces.strict.deliver.test",
        "--dkim-domain",
        "bounces.strict.deliver.test",
        server=dns_server,
    )
    assert strict.returncode == 1
    assert "(strict)" in strict.stdout


def test_cli_with_settings_and_a_key_in_the_environment(
    dns_server: tuple[str, int], tmp_path: Path
) -> None:
    settings = tmp_path / "helpdesk.toml"
    settings.write_text(
        '[outgoing]\nfrom_address = "support@acme.test"\nsmtp_host = "smtp.acme.test"\n'
        'dkim_selector = "default"\ndkim_private_key_env = "HM_TEST_DKIM_KEY"\n'
    )
    host, port = dns_server
    command = [sys.executable, "-m", "helpdesk_mail", "dns", "check", "--settings", str(settings)]
    command += ["--nameserver", f"{host}:{port}"]
    env = {**os.environ, "HM_TEST_DKIM_KEY": KEY.read_text()}
    ok = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "dkim       pass      default._domainkey.acme.test publishes the helpdesk's key" in (
        ok.stdout
    )
    env.pop("HM_TEST_DKIM_KEY")
    missing = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert missing.returncode == 2
    assert "names an environment variable that is not set" in missing.stderr
