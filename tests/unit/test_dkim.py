"""DKIM signing: DkimSigner, DkimSigningTransport and the transport stack, verified with dkimpy.

The key is the public test key tests/services/dkim/test-dkim.pem; dkimpy's verify asks a
`dnsfunc` that answers with the signer's own record (the integration tests ask NSD).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import Outbox
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.ports import SendError
from helpdesk_mail.samples.preview import (
    SAMPLES,
    sample_clock,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.settings import OutgoingSettings, SettingsError
from helpdesk_mail.shell.delivery import notify
from helpdesk_mail.transports import dkim as hm_dkim
from helpdesk_mail.transports.dkim import (
    DkimKeyError,
    DkimSigner,
    DkimSignError,
    DkimSigningTransport,
    wire_policy,
)
from helpdesk_mail.transports.smtp import SmtpTransport
from helpdesk_mail.transports.stack import send_transport, with_dkim

KEYS = Path(__file__).resolve().parents[1] / "services" / "dkim"
KEY = KEYS / "test-dkim.pem"
KEY_PKCS1 = KEYS / "test-dkim-pkcs1.pem"
KEY_512 = KEYS / "test-dkim-512.pem"
# the p= published for the key in tests/services/dns-zones/acme.test.zone
ZONE = Path(__file__).resolve().parents[1] / "services" / "dns-zones" / "acme.test.zone"


@pytest.fixture(scope="module")
def signer() -> DkimSigner:
    return DkimSigner.from_pem(KEY.read_bytes(), "default", "acme.test")


def dns_for(*signers: DkimSigner) -> Callable[..., bytes | None]:
    records = {f"{s.dns_name}.".encode(): s.dns_record.encode() for s in signers}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return dnsfunc


def verify(data: bytes, *signers: DkimSigner) -> bool:
    return bool(dkim.verify(data, dnsfunc=dns_for(*signers)))


def wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=wire_policy(message))


def note(**headers: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = headers.pop("From", "Acme Support <support@acme.test>")
    msg["To"] = headers.pop("To", "Jane Doe <jane@example.com>")
    msg["Subject"] = headers.pop("Subject", "[#1234] Printer on fire")
    msg["Date"] = "Mon, 05 Jan 2026 09:30:00 +0000"
    msg["Message-ID"] = "<hdn.1234.abc@acme.test>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("The printer on floor 2 is smoking.\n")
    msg.add_alternative("<p>The printer on floor 2 is <b>smoking</b>.</p>\n", subtype="html")
    return msg


def tags(message: EmailMessage | bytes) -> dict[str, str]:
    parsed = message_from_bytes(message) if isinstance(message, bytes) else message
    value = " ".join(str(parsed["DKIM-Signature"]).split())
    return {k.strip(): v.strip() for k, _, v in (t.partition("=") for t in value.split(";"))}


# --- the key ---------------------------------------------------------------------------


def test_public_key_is_the_one_published_in_the_test_zone(signer: DkimSigner) -> None:
    zone = "".join(ZONE.read_text().split("default._domainkey", 1)[1].split('"')[1::2])
    assert zone == signer.dns_record
    assert signer.key_bits == 2048
    assert signer.dns_name == "default._domainkey.acme.test"
    assert signer.dns_record.startswith("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A")


def test_pkcs1_and_pkcs8_give_the_same_key(signer: DkimSigner) -> None:
    assert "BEGIN RSA PRIVATE KEY" in KEY_PKCS1.read_text()
    assert DkimSigner.from_pem(KEY_PKCS1.read_text(), "default", "acme.test") == signer


def test_key_in_an_environment_variable_with_escaped_newlines(signer: DkimSigner) -> None:
    pem = KEY.read_text()
    escaped = pem.replace("\n", "\\n")  # as some platforms store multi-line variables
    out = OutgoingSettings(
        from_address="support@acme.test", dkim_selector="default", dkim_private_key_env="K"
    )
    for value in (pem, escaped, pem.replace("\n", "\r\n")):
        got = DkimSigner.from_settings(out, environ={"K": value})
        assert got is not None and got.public_key == signer.public_key


def test_zone_line_is_split_in_strings_of_255(signer: DkimSigner) -> None:
    line = signer.zone_line
    assert line.startswith('default._domainkey.acme.test. IN TXT "v=DKIM1; k=rsa; p=')
    strings = line.split(" IN TXT ", 1)[1].split('" "')
    assert len(strings) == 2 and all(len(s.strip('"')) <= 255 for s in strings)


def test_private_key_is_not_in_repr(signer: DkimSigner) -> None:
    assert "PRIVATE" not in repr(signer) and "private_key" not in repr(signer)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (b"", "must hold an RSA private key in PEM"),
        (b"not a key at all", "must hold an RSA private key in PEM"),
        (
            b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
            "must hold an RSA private key in PEM",
        ),
        (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
            "encrypted",
        ),
        (KEY_512.read_bytes(), "512-bit key: DKIM needs at least 1024 bits"),
    ],
)
def test_unusable_keys_are_clear_errors(text: bytes, rule: str) -> None:
    with pytest.raises(DkimKeyError) as info:
        DkimSigner.from_pem(text, "default", "acme.test")
    assert rule in info.value.rule
    assert isinstance(info.value, SettingsError)


def pem_of(der: bytes, label: str) -> bytes:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode()


def der_of(path: Path) -> bytes:
    return base64.b64decode("".join(path.read_text().split("-----")[2].split()))


def test_damaged_keys_are_refused() -> None:
    pkcs1 = bytearray(der_of(KEY_PKCS1))
    pkcs1[-1] ^= 1  # the last byte of the CRT coefficient: signatures would be wrong
    with pytest.raises(DkimKeyError, match="the key is damaged: its parts do not match"):
        DkimSigner.from_pem(pem_of(bytes(pkcs1), "RSA PRIVATE KEY"), "default", "acme.test")
    pkcs8 = der_of(KEY)
    at = pkcs8.index(bytes.fromhex("0500"))  # the NULL parameters of rsaEncryption
    broken = pkcs8[:at] + bytes.fromhex("0501") + pkcs8[at + 2 :]
    with pytest.raises(DkimKeyError, match="must hold an RSA private key in PEM"):
        DkimSigner.from_pem(pem_of(broken, "PRIVATE KEY"), "default", "acme.test")


def dkim_outgoing(**changes: Any) -> OutgoingSettings:
    values: dict[str, Any] = {
        "from_address": "support@acme.test",
        "dkim_selector": "default",
        "dkim_private_key_file": str(KEY),
    }
    values.update(changes)
    return OutgoingSettings(**values)


def test_from_settings_reads_the_key_file(signer: DkimSigner) -> None:
    got = DkimSigner.from_settings(dkim_outgoing())
    assert got == signer
    assert DkimSigner.from_settings(OutgoingSettings(from_address="a@acme.test")) is None


def test_from_settings_domain_and_headers() -> None:
    got = DkimSigner.from_settings(
        dkim_outgoing(
            dkim_domain="Mail.Acme.test",
            dkim_headers=("From", "Subject"),
            dkim_oversign_headers=("From",),
        )
    )
    assert got is not None
    assert (got.domain, got.headers, got.oversign) == (
        "mail.acme.test",
        ("From", "Subject"),
        ("From",),
    )


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(DkimKeyError) as info:
        DkimSigner.from_settings(dkim_outgoing(dkim_private_key_file=str(missing)))
    assert str(info.value) == (
        f"outgoing.dkim_private_key_file: {str(missing)!r} is not valid: "
        "cannot be read (No such file or directory)"
    )
    (tmp_path / "junk.pem").write_text("hello")
    with pytest.raises(DkimKeyError) as info:
        DkimSigner.from_settings(dkim_outgoing(dkim_private_key_file=str(tmp_path / "junk.pem")))
    assert info.value.key == "outgoing.dkim_private_key_file"
    assert "must hold an RSA private key in PEM" in info.value.rule


def test_missing_or_empty_environment_variable_is_a_clear_error() -> None:
    out = dkim_outgoing(dkim_private_key_file="", dkim_private_key_env="HELPDESK_DKIM_KEY")
    with pytest.raises(DkimKeyError) as info:
        DkimSigner.from_settings(out, environ={})
    assert str(info.value) == (
        "outgoing.dkim_private_key_env: 'HELPDESK_DKIM_KEY' is not valid: "
        "names an environment variable that is not set"
    )
    with pytest.raises(DkimKeyError, match="is empty"):
        DkimSigner.from_settings(out, environ={"HELPDESK_DKIM_KEY": "  "})
    with pytest.raises(DkimKeyError) as info:
        DkimSigner.from_settings(out, environ={"HELPDESK_DKIM_KEY": "garbage"})
    assert "garbage" not in str(info.value)  # the value is not shown, only the variable
    assert "$HELPDESK_DKIM_KEY" in str(info.value)


# --- signing ---------------------------------------------------------------------------


def test_signed_message_verifies(signer: DkimSigner) -> None:
    signed = signer.sign(note())
    data = wire(signed)
    assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.test;")
    assert verify(data, signer)
    t = tags(signed)
    assert (t["s"], t["d"], t["i"], t["c"], t["a"]) == (
        "default",
        "acme.test",
        "@acme.test",
        "relaxed/relaxed",
        "rsa-sha256",
    )
    assert "l" not in t  # no body length: nothing can be appended


def test_signed_and_oversigned_fields(signer: DkimSigner) -> None:
    msg = note(Reply_To="support@acme.test", Auto_Submitted="auto-generated", X_Other="x")
    h = [f.strip() for f in tags(signer.sign(msg))["h"].split(":")]
    # present fields once each, From/To/Subject/Date once more; absent ones are not
    # listed unless over-signed; fields outside the list (X-Other) are not signed
    assert h == [
        "from",
        "from",
        "to",
        "to",
        "subject",
        "subject",
        "date",
        "date",
        "message-id",
        "reply-to",
        "mime-version",
        "content-type",
        "auto-submitted",
    ]
    assert "cc" not in h and "x-other" not in h and "in-reply-to" not in h


def test_repeated_fields_are_each_signed(signer: DkimSigner) -> None:
    msg = note()
    msg.set_raw("Cc", "a@example.com")  # the SMTP policy would refuse a second Cc
    msg.set_raw("Cc", "b@example.com")
    assert signer.signed_fields(msg).count("cc") == 2
    assert verify(wire(signer.sign(msg)), signer)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda m: m.replace_header("Subject", "Printer is fine"), id="subject"),
        pytest.param(lambda m: m.set_raw("From", "ceo@acme.test"), id="second-from"),
        pytest.param(lambda m: m.set_raw("Subject", "Urgent"), id="second-subject"),
        pytest.param(lambda m: m.set_raw("To", "mallory@example.com"), id="second-to"),
        pytest.param(lambda m: m.replace_header("Reply-To", "mallory@example.com"), id="reply-to"),
    ],
)
def test_changed_or_added_headers_break_the_signature(
    signer: DkimSigner, tamper: Callable[[EmailMessage], None]
) -> None:
    msg = note(Reply_To="support@acme.test")
    signed = signer.sign(msg)
    assert verify(wire(signed), signer)
    tampered = copy.deepcopy(signed)
    tamper(tampered)
    assert not verify(wire(tampered), signer)


def test_changed_body_breaks_the_signature(signer: DkimSigner) -> None:
    data = wire(signer.sign(note()))
    assert not verify(data.replace(b"smoking", b"fine!!!"), signer)


def test_refolding_and_unsigned_headers_keep_it_valid(signer: DkimSigner) -> None:
    data = wire(signer.sign(note()))
    # relaxed/relaxed: what relays do (refold, add Received and their own fields) is fine
    relayed = b"Received: from smtp.acme.test by mx.example.com\r\n" + data.replace(
        b"Subject: [#1234] Printer on fire", b"Subject:  [#1234]\r\n Printer on fire"
    )
    assert verify(relayed, signer)


def test_the_callers_message_is_left_as_it_was(signer: DkimSigner) -> None:
    msg = note()
    wire(msg)  # serializing fixes the MIME boundaries, as any send does
    before = [(k, str(v)) for k, v in msg.items()]
    signed = signer.sign(msg)
    assert [(k, str(v)) for k, v in msg.items()] == before
    assert msg["DKIM-Signature"] is None and signed["DKIM-Signature"] is not None
    assert signed.keys() == ["DKIM-Signature", *msg.keys()]
    # signing twice (a retry) signs the original again: one signature each time
    assert len(signer.sign(msg).get_all("DKIM-Signature") or []) == 1


def test_bcc_is_not_signed_and_dropping_it_keeps_the_signature(signer: DkimSigner) -> None:
    msg = note(Bcc="audit@acme.test")
    signed = signer.sign(msg)
    assert "bcc" not in tags(signed)["h"]
    assert verify(wire(signed), signer)
    sent = copy.copy(signed)
    del sent["Bcc"]  # what SmtpTransport transmits
    assert verify(wire(sent), signer)


def test_non_ascii_address_is_signed_as_smtputf8_sends_it(signer: DkimSigner) -> None:
    msg = note(To="Jöran <jöran@exämple.com>", Subject="Drucker brennt – bitte helfen")
    assert wire_policy(msg) is policy.SMTPUTF8
    assert wire_policy(note(Subject="Drucker brennt – bitte")) is policy.SMTP
    assert verify(wire(signer.sign(msg)), signer)


@pytest.fixture
def signing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """dkimpy's `sign` fails (as it does for a key too small for the digest)."""

    def broken(*args: object, **kwargs: object) -> bytes:
        raise dkim.ParameterError("digest too large for modulus")

    monkeypatch.setattr(hm_dkim.dkim, "sign", broken)


@pytest.mark.usefixtures("signing_fails")
def test_signing_failure_is_a_permanent_send_error(signer: DkimSigner) -> None:
    with pytest.raises(DkimSignError) as info:
        signer.sign(note())
    assert isinstance(info.value, SendError) and info.value.temporary is False


@pytest.mark.parametrize("attachments", [True, False], ids=["attachments", "no-attachments"])
@pytest.mark.parametrize("kind", list(SAMPLES), ids=str)
def test_every_default_template_verifies(
    signer: DkimSigner, kind: TemplateKind, attachments: bool
) -> None:
    planned = dataclasses.replace(SAMPLES[kind], include_attachments=attachments)
    messages = render_message(
        planned, None, sample_settings(), sample_storage(), sample_clock(), sample_random()
    )
    assert messages
    for msg in messages:
        assert verify(wire(signer.sign(msg)), signer)


# --- the transports --------------------------------------------------------------------


def test_signing_transport_signs_what_it_hands_on(signer: DkimSigner) -> None:
    outbox = Outbox()
    transport = DkimSigningTransport(outbox, signer)
    transport.send(note())
    transport.send(note(Subject="second"))
    assert len(outbox) == 2
    assert all(verify(wire(m), signer) for m in outbox.messages)


def test_signing_transport_passes_send_errors_through(signer: DkimSigner) -> None:
    outbox = Outbox()
    outbox.fail_next_send = SendError("451 4.3.0 Try again later", temporary=True)
    with pytest.raises(SendError, match="451"):
        DkimSigningTransport(outbox, signer).send(note())


class Recording:
    """A transport with the optional extras SmtpTransport has."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)

    def deliver(self, message: EmailMessage) -> str:
        self.sent.append(message)
        return "result"

    def open(self) -> None:
        self.calls.append("open")

    def close(self) -> None:
        self.calls.append("close")

    def __enter__(self) -> Recording:
        self.calls.append("enter")
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append("exit")


def test_signing_transport_reaches_the_inner_transports_extras(signer: DkimSigner) -> None:
    inner = Recording()
    with DkimSigningTransport(inner, signer) as t:
        t.open()
        assert t.deliver(note()) == "result"
        t.close()
    assert inner.calls == ["enter", "open", "close", "exit"]
    assert verify(wire(inner.sent[0]), signer)
    bare = DkimSigningTransport(Outbox(), signer)
    with bare:  # an inner transport without them is fine
        bare.open()
        bare.close()


class Preparing(Recording):
    """An inner transport that prepares (as SmtpTransport does)."""

    def prepare(self, message: EmailMessage) -> EmailMessage:
        self.calls.append("prepare")
        return message


def test_a_message_prepared_ahead_is_signed_once(signer: DkimSigner) -> None:
    inner = Preparing()
    transport = DkimSigningTransport(inner, signer)
    prepared = transport.prepare(note())
    assert inner.calls == ["prepare"]  # the inner transport prepared the signed message
    assert len(prepared.get_all("DKIM-Signature") or []) == 1
    transport.send(prepared)
    transport.send(note(Subject="not prepared"))
    first, second = inner.sent
    assert first is prepared
    assert len(second.get_all("DKIM-Signature") or []) == 1
    assert verify(wire(first), signer) and verify(wire(second), signer)


@pytest.mark.usefixtures("signing_fails")
def test_a_message_that_cannot_be_signed_is_refused_when_sent(signer: DkimSigner) -> None:
    outbox = Outbox()
    transport = DkimSigningTransport(outbox, signer)
    message = note()
    assert transport.prepare(message) is message  # no error here: `send` reports it
    with pytest.raises(DkimSignError):
        transport.send(message)
    assert len(outbox) == 0


def test_stack_without_dkim_is_the_plain_transport() -> None:
    out = OutgoingSettings(from_address="support@acme.test")
    outbox = Outbox()
    assert with_dkim(outbox, out) is outbox
    assert isinstance(send_transport(out), SmtpTransport)


def test_stack_with_dkim_signs(signer: DkimSigner) -> None:
    out = dkim_outgoing()
    outbox = Outbox()
    transport = with_dkim(outbox, out)
    assert isinstance(transport, DkimSigningTransport) and transport.signer == signer
    transport.send(note())
    assert verify(wire(outbox.messages[0]), signer)
    smtp = send_transport(out, timeout=3)
    assert isinstance(smtp, DkimSigningTransport) and isinstance(smtp.inner, SmtpTransport)
    assert smtp.inner.timeout == 3


def test_stack_fails_at_start_up_for_a_missing_key(tmp_path: Path) -> None:
    out = dkim_outgoing(dkim_private_key_file=str(tmp_path / "missing.pem"))
    with pytest.raises(SettingsError, match=r"^outgoing\.dkim_private_key_file: "):
        send_transport(out)
    env = dkim_outgoing(dkim_private_key_file="", dkim_private_key_env="HM_TEST_NO_SUCH_VAR")
    with pytest.raises(SettingsError, match="not set"):
        with_dkim(Outbox(), env, environ={})


def test_stack_without_dkimpy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import sys

    real_import = builtins.__import__

    def no_dkimpy(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "dkim" or name.startswith("dkim."):
            raise ImportError("No module named 'dkim'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "helpdesk_mail.transports.dkim")
    monkeypatch.setattr(builtins, "__import__", no_dkimpy)
    with pytest.raises(SettingsError) as info:
        with_dkim(Outbox(), dkim_outgoing())
    assert info.value.key == "outgoing.dkim_selector"
    assert "pip install 'helpdesk-mail[dkim]'" in info.value.rule


def test_notify_through_the_stack_sends_signed_mail(signer: DkimSigner) -> None:
    settings = sample_settings()
    settings = dataclasses.replace(
        settings,
        outgoing=dataclasses.replace(
            settings.outgoing, dkim_selector="default", dkim_private_key_file=str(KEY)
        ),
    )
    outbox = Outbox()
    transport = with_dkim(outbox, settings.outgoing)
    for kind in (TemplateKind.TICKET_UPDATED, TemplateKind.TICKET_CLOSED):
        report = notify(
            SAMPLES[kind].event,
            settings,
            sample_storage(),
            None,
            transport,
            sample_clock(),
            sample_random(),
        )
        assert report.sent, report
    assert len(outbox) >= 2
    assert all(verify(wire(m), signer) for m in outbox.messages)
