"""The deliverability check reads outside input (DNS records): any text in, no exception out.

Also: a DKIM signature over any message the composer could build verifies, and any
byte changed in the signed body breaks it.
"""

from __future__ import annotations

import base64
from email import policy
from email.message import EmailMessage
from pathlib import Path

import dkim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.memory import InMemoryResolver
from helpdesk_mail.spf import (
    CheckStatus,
    DkimKey,
    check_deliverability,
    organizational_domain,
    parse_dmarc_record,
    parse_tag_list,
)
from helpdesk_mail.transports.dkim import DkimKeyError, DkimSigner, wire_policy

KEY = Path(__file__).resolve().parents[1] / "services" / "dkim" / "test-dkim.pem"
SIGNER = DkimSigner.from_pem(KEY.read_bytes(), "default", "acme.test")

# pieces of the records, so that the text is often close to a real one
pieces = st.sampled_from(
    [
        "v=DKIM1",
        "v=DMARC1",
        "v=spf1",
        "k=rsa",
        "k=ed25519",
        f"p={SIGNER.public_key}",
        "p=",
        "p=reject",
        "p=none",
        "sp=quarantine",
        "adkim=s",
        "aspf=s",
        "pct=50",
        "psd=y",
        "psd=n",
        "rua=mailto:d@acme.test",
        "t=y",
        "h=sha1",
        "s=email",
        "a:smtp.acme.test",
        "-all",
        ";",
        "=",
        " ",
        "\t",
        "\x00",
    ]
)
record = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(pieces, st.text(max_size=8)), max_size=12).map("; ".join),
)
names = st.sampled_from(
    [
        "acme.test",
        "_dmarc.acme.test",
        "default._domainkey.acme.test",
        "mail.acme.test",
        "_dmarc.mail.acme.test",
        "relay.test",
        "_dmarc.relay.test",
        "default._domainkey.relay.test",
    ]
)


@given(st.text(max_size=500))
def test_tag_lists_of_any_text(text: str) -> None:
    tags = parse_tag_list(text)
    assert tags is None or all(k == k.lower() and "=" not in k for k in tags)
    parse_dmarc_record("acme.test", text)


@given(st.lists(st.tuples(names, record), max_size=10), st.booleans(), st.booleans())
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_any_records_give_a_report(
    records: list[tuple[str, str]], relay_envelope: bool, relay_dkim: bool
) -> None:
    r = InMemoryResolver()
    r.add("smtp.acme.test", "A", "203.0.113.25")
    for name, text in records:
        r.add(name, "TXT", text)
    report = check_deliverability(
        "Acme <support@mail.acme.test>",
        r,
        sending_hosts=["smtp.acme.test"],
        envelope_sender="b@relay.test" if relay_envelope else None,
        dkim=DkimKey("default", "relay.test" if relay_dkim else "acme.test", SIGNER.public_key),
    )
    for finding in report.findings:
        assert finding.status in CheckStatus
        assert finding.status is not CheckStatus.FAIL or finding.problems
    assert report.ok == all(
        f.status in (CheckStatus.PASS, CheckStatus.WARN) for f in report.findings
    )


@given(st.lists(st.from_regex(r"[a-z0-9-]{1,10}", fullmatch=True), min_size=1, max_size=30))
def test_organizational_domain_is_a_parent_or_the_domain(labels: list[str]) -> None:
    domain = ".".join([*labels, "test"])
    r = InMemoryResolver()
    r.add(f"_dmarc.{'.'.join(labels[-1:])}.test", "TXT", "v=DMARC1; p=none")
    org = organizational_domain(domain, r)
    assert domain == org or domain.endswith("." + org)
    assert len(r.queries) <= 8


@given(
    st.text(max_size=80).filter(lambda s: s.isprintable()),
    st.text(max_size=400),
)
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=40)
def test_signed_messages_verify_and_tampered_bodies_do_not(subject: str, body: str) -> None:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Acme Support <support@acme.test>"
    msg["To"] = "jane@example.com"
    msg["Subject"] = subject
    msg.set_content(body + "\n", charset="utf-8", cte="quoted-printable")
    signed = SIGNER.sign(msg)
    data = signed.as_bytes(policy=wire_policy(signed))

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return SIGNER.dns_record.encode()

    assert dkim.verify(data, dnsfunc=dnsfunc)
    head, _, tail = data.partition(b"\r\n\r\n")
    assert not dkim.verify(head + b"\r\n\r\nX" + tail, dnsfunc=dnsfunc)


PEM_BODY = "".join(KEY.read_text().split("-----")[2].split())
DER = base64.b64decode(PEM_BODY)


@st.composite
def damaged_der(draw: st.DrawFn) -> bytes:
    """The test key's DER with a few bytes changed, cut out or put in."""
    data = bytearray(DER)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        how = draw(st.sampled_from(["set", "cut", "put"]))
        if how == "set":
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif how == "cut":
            del data[at : at + draw(st.integers(min_value=1, max_value=40))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        if not data:
            break
    body = base64.b64encode(bytes(data)).decode()
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n".encode()


@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.builds(
            lambda cut, junk: (
                f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY[:cut]}{junk}\n-----END PRIVATE KEY-----"
            ).encode(),
            st.integers(min_value=0, max_value=len(PEM_BODY)),
            st.text(
                alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/=", max_size=20
            ),
        ),
    )
)
def test_any_key_text_gives_a_signer_or_a_key_error(text: bytes) -> None:
    try:
        signer = DkimSigner.from_pem(text, "default", "acme.test")
    except DkimKeyError as exc:
        assert exc.key == "private_key" and exc.rule
    else:  # a key that loads signs mail that verifies
        assert signer.key_bits >= 1024
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = "support@acme.test"
        msg.set_content("hello\n")
        signed = signer.sign(msg).as_bytes(policy=policy.SMTP)
        assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: signer.dns_record.encode())
