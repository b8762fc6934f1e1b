"""SmtpTransport and notify() against a real aiosmtpd server on loopback (no mocks).

The server is the project's own `tests/services/smtp_testserver.py`, started in-process
once for this module (~0.1 s); `smtp` gives each test the same server with an empty
mailbag and no injected failures.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.events import TicketUpdated
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.model import Comment, Role, Ticket, User
from helpdesk_mail.ports import PreparingSendTransport, SendError, SendTransport
from helpdesk_mail.settings import (
    IncomingSettings,
    NotificationSettings,
    OutgoingSettings,
    Settings,
    TlsMode,
)
from helpdesk_mail.shell.delivery import notify
from helpdesk_mail.transports.smtp import SendResult, SmtpSendError, SmtpTransport

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
from smtp_testserver import SMTPTestServer

pytestmark = pytest.mark.integration

FROM = "helpdesk@example.test"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.test-access-token"
OAUTH_USER = "o365@example.test"


@pytest.fixture(scope="module", params=[False, True], ids=["one-by-one", "pipelining"])
def smtp_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[SMTPTestServer]:
    """The test server, once offering PIPELINING (RFC 2920) and once not: every test
    that sends through it runs both ways."""
    srv = SMTPTestServer(
        tls_dir=str(tmp_path_factory.mktemp("smtp-tls")),
        oauth2_tokens={OAUTH_USER: TOKEN},
        pipelining=request.param,
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def smtp(smtp_server: SMTPTestServer) -> Iterator[SMTPTestServer]:
    smtp_server.disconnect_all()
    smtp_server.clear()
    yield smtp_server
    smtp_server.disconnect_all()
    smtp_server.clear()


def outgoing(srv: SMTPTestServer, **overrides: Any) -> OutgoingSettings:
    values: dict[str, Any] = {
        "from_address": FROM,
        "from_name": "Acme Support",
        "smtp_host": srv.host,
        "smtp_port": srv.port,
        "smtp_username": srv.user,
        "smtp_password": srv.password,
        "smtp_tls": TlsMode.STARTTLS,
        "smtp_ca_file": srv.ca_file,
    }
    values.update(overrides)
    return OutgoingSettings(**values)


def transport(settings: OutgoingSettings) -> SmtpTransport:
    return SmtpTransport(settings, timeout=10, local_hostname="client.example.test")


def message(to: str | list[str] = "jane@example.com", **headers: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = f"Acme Support <{FROM}>"
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    msg["Subject"] = headers.pop("Subject", "[#1] Printer on fire")
    msg["Message-ID"] = headers.pop("Message_ID", "<1.abc@example.test>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("The printer is on fire.\n.\nA line with a lone dot above.\n")
    return msg


# --- TLS and AUTH ---


def test_starttls_with_auth_sends_with_the_right_envelope(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp))
    t.send(message(["Jane <jane@example.com>", "bob@example.com"]))
    [got] = smtp.wait_for(1)
    assert got.port == smtp.port
    assert got.tls_version in ("TLSv1.2", "TLSv1.3")
    assert got.auth_user == smtp.user
    assert got.mail_from == FROM
    assert got.rcpt_tos == ["jane@example.com", "bob@example.com"]
    assert got.helo == "client.example.test"
    assert got.message["Subject"] == "[#1] Printer on fire"
    # dot-stuffing round trip: the lone "." line in the body survives
    assert "\n.\n" in got.message.get_content().replace("\r\n", "\n")


def test_smtp_transport_is_a_send_transport(smtp: SMTPTestServer) -> None:
    t: SendTransport = transport(outgoing(smtp))
    t.send(message())
    assert len(smtp.wait_for(1)) == 1


def test_implicit_tls(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp, smtp_port=smtp.ssl_port, smtp_tls=TlsMode.IMPLICIT))
    result = t.deliver(message())
    [got] = smtp.wait_for(1)
    assert got.port == smtp.ssl_port
    assert got.tls_version in ("TLSv1.2", "TLSv1.3")
    assert got.auth_user == smtp.user
    assert result == SendResult(("jane@example.com",), (), "<1.abc@example.test>")


def test_starttls_required_but_not_offered_sends_nothing(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp, smtp_port=smtp.plain_port))
    with pytest.raises(SmtpSendError, match="does not offer STARTTLS") as info:
        t.send(message())
    assert info.value.temporary is False
    assert info.value.code is None
    assert smtp.messages == []


def test_tls_none_sends_in_plain_text_when_configured(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp, smtp_port=smtp.plain_port, smtp_tls=TlsMode.NONE))
    t.send(message())
    [got] = smtp.wait_for(1)
    assert got.tls_version is None
    assert got.auth_user == smtp.user


def test_untrusted_certificate_is_refused(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp, smtp_ca_file=None))
    with pytest.raises(SmtpSendError, match="not trusted") as info:
        t.send(message())
    assert info.value.temporary is False
    assert smtp.messages == []


def test_certificates_and_names_are_always_checked(smtp: SMTPTestServer) -> None:
    for tls in (TlsMode.STARTTLS, TlsMode.IMPLICIT):
        context = transport(outgoing(smtp, smtp_tls=tls))._context()
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert context.check_hostname is True
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_bad_password_is_a_permanent_failure(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp, smtp_password="wrong"))
    with pytest.raises(SmtpSendError) as info:
        t.send(message())
    assert info.value.code == 535
    assert info.value.temporary is False
    assert "wrong" not in str(info.value)
    assert smtp.messages == []


def test_auth_login_when_plain_is_not_offered(tmp_path_factory: pytest.TempPathFactory) -> None:
    tls_dir = str(tmp_path_factory.mktemp("tls-login"))
    with SMTPTestServer(auth_exclude=("PLAIN",), tls_dir=tls_dir) as srv:
        transport(outgoing(srv)).send(message())
        [got] = srv.wait_for(1)
        assert got.auth_user == srv.user


def test_credentials_but_no_auth_offered_is_an_error(smtp: SMTPTestServer) -> None:
    # The STARTTLS listener offers AUTH only after STARTTLS, so in plain text: none.
    t = transport(outgoing(smtp, smtp_tls=TlsMode.NONE))
    with pytest.raises(SmtpSendError, match="offers no AUTH PLAIN or LOGIN") as info:
        t.send(message())
    assert info.value.temporary is False
    assert smtp.messages == []


def test_credentials_with_non_ascii_password(tmp_path_factory: pytest.TempPathFactory) -> None:
    with SMTPTestServer(
        users={"zoë@example.test": "pässwörd"}, tls_dir=str(tmp_path_factory.mktemp("tls2"))
    ) as srv:
        t = transport(outgoing(srv, smtp_username="zoë@example.test", smtp_password="pässwörd"))
        t.send(message())
        [got] = srv.wait_for(1)
        assert got.auth_user == "zoë@example.test"


def test_xoauth2_sends_the_sasl_string_with_a_fresh_token(smtp: SMTPTestServer) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return TOKEN

    t = transport(
        outgoing(smtp, smtp_username=OAUTH_USER, smtp_password="", smtp_oauth2_token=token)
    )
    t.send(message())
    t.send(message())
    got = smtp.wait_for(2)
    assert smtp.sasl_log == [f"user={OAUTH_USER}\x01auth=Bearer {TOKEN}\x01\x01".encode()] * 2
    assert [m.auth_user for m in got] == [OAUTH_USER, OAUTH_USER]
    assert [m.auth_mechanism for m in got] == ["XOAUTH2", "XOAUTH2"]
    assert len(calls) == 2  # one token per login (no `with`: one login per send)


def test_xoauth2_refused_token_is_a_permanent_failure(smtp: SMTPTestServer) -> None:
    t = transport(
        outgoing(smtp, smtp_username=OAUTH_USER, smtp_oauth2_token=lambda: "expired-token")
    )
    with pytest.raises(SmtpSendError) as info:
        t.send(message())
    assert info.value.code == 535
    assert info.value.temporary is False
    assert smtp.messages == []


def test_xoauth2_token_source_failure(smtp: SMTPTestServer) -> None:
    def broken() -> str:
        raise RuntimeError("identity provider unreachable")

    t = transport(outgoing(smtp, smtp_username=OAUTH_USER, smtp_oauth2_token=broken))
    with pytest.raises(SmtpSendError, match="identity provider unreachable") as info:
        t.send(message())
    assert info.value.temporary is True
    assert smtp.messages == []


def test_xoauth2_unusable_token(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp, smtp_username=OAUTH_USER, smtp_oauth2_token=lambda: "tok\r\nQUIT"))
    with pytest.raises(SmtpSendError, match="unusable token") as info:
        t.send(message())
    assert info.value.temporary is False
    assert smtp.sasl_log == []


# --- failures ---


def test_a_silent_server_times_out(smtp: SMTPTestServer) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        for tls in (TlsMode.STARTTLS, TlsMode.IMPLICIT):
            t = SmtpTransport(
                outgoing(smtp, smtp_port=port, smtp_tls=tls), timeout=0.3, local_hostname="c"
            )
            with pytest.raises(SmtpSendError, match=r"timed out after 0\.3 s") as info:
                t.send(message())
            assert (info.value.code, info.value.temporary) == (None, True)


def test_421_on_mail_from_a_fresh_connection_is_temporary(smtp: SMTPTestServer) -> None:
    smtp.mail_responses.append("421 4.3.2 Service shutting down")
    with pytest.raises(SmtpSendError, match="421") as info:
        transport(outgoing(smtp)).send(message())
    assert info.value.temporary is True
    assert smtp.messages == []


def test_a_refused_sender_sends_nothing_and_keeps_the_connection(smtp: SMTPTestServer) -> None:
    smtp.mail_responses.append("550 5.7.1 Sender not allowed")
    with transport(outgoing(smtp)) as t:
        with pytest.raises(SmtpSendError, match=r"sender helpdesk@example\.test refused") as info:
            t.send(message())
        assert (info.value.code, info.value.temporary) == (550, False)
        t.send(message(Subject="next"))  # the same connection serves the next message
    [got] = smtp.wait_for(1)
    assert got.message["Subject"] == "next"
    assert t.connections == 1


def test_451_on_data_is_temporary(smtp: SMTPTestServer) -> None:
    smtp.data_response = "451 4.3.0 Try again later"
    with pytest.raises(SmtpSendError) as info:
        transport(outgoing(smtp)).send(message())
    assert isinstance(info.value, SendError)
    assert info.value.code == 451
    assert info.value.temporary is True
    assert info.value.partial is False


def test_554_on_data_is_permanent(smtp: SMTPTestServer) -> None:
    smtp.data_response = "554 5.6.0 Message rejected"
    with pytest.raises(SmtpSendError) as info:
        transport(outgoing(smtp)).send(message())
    assert (info.value.code, info.value.temporary) == (554, False)


def test_a_refused_recipient_gives_a_partial_result(smtp: SMTPTestServer) -> None:
    smtp.reject_recipients["ghost@example.com"] = "550 5.1.1 No such user"
    msg = message(["jane@example.com", "ghost@example.com"], Cc="bob@example.com")
    result = transport(outgoing(smtp)).deliver(msg)
    assert result.partial
    assert result.accepted == ("jane@example.com", "bob@example.com")
    [refusal] = result.refused
    assert (refusal.address, refusal.code, refusal.temporary) == ("ghost@example.com", 550, False)
    assert refusal.reply == "5.1.1 No such user"
    [got] = smtp.wait_for(1)
    assert got.rcpt_tos == ["jane@example.com", "bob@example.com"]


def test_send_reports_a_partial_delivery_as_an_error_with_the_accepted(
    smtp: SMTPTestServer,
) -> None:
    smtp.reject_recipients["ghost@example.com"] = "450 4.2.1 Mailbox busy"
    with pytest.raises(SmtpSendError) as info:
        transport(outgoing(smtp)).send(message(["jane@example.com", "ghost@example.com"]))
    assert info.value.partial
    assert info.value.accepted == ("jane@example.com",)
    assert info.value.code == 450 and info.value.temporary is True
    assert len(smtp.wait_for(1)) == 1


def test_every_recipient_refused(smtp: SMTPTestServer) -> None:
    smtp.reject_recipients["ghost@example.com"] = "550 5.1.1 No such user"
    with pytest.raises(SmtpSendError) as info:
        transport(outgoing(smtp)).send(message("ghost@example.com"))
    assert (info.value.code, info.value.temporary, info.value.partial) == (550, False, False)
    assert [r.address for r in info.value.refused] == ["ghost@example.com"]
    assert smtp.messages == []


def test_connection_refused_is_temporary_without_code(smtp: SMTPTestServer) -> None:
    from smtp_testserver import free_port

    with pytest.raises(SmtpSendError, match="cannot connect") as info:
        transport(outgoing(smtp, smtp_port=free_port())).send(message())
    assert (info.value.code, info.value.temporary) == (None, True)


def test_auth_required_but_no_credentials(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with SMTPTestServer(auth_required=True, tls_dir=str(tmp_path_factory.mktemp("t3"))) as srv:
        t = transport(outgoing(srv, smtp_username="", smtp_password=""))
        with pytest.raises(SmtpSendError) as info:
            t.send(message())
        assert (info.value.code, info.value.temporary) == (530, False)
        assert srv.messages == []


# --- PIPELINING ---


def test_with_pipelining_mail_rcpt_and_data_go_in_one_write(
    smtp: SMTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[bytes] = []
    send = smtplib.SMTP.send

    def counted(self: smtplib.SMTP, s: str | bytes) -> None:
        writes.append(s.encode("ascii") if isinstance(s, str) else s)
        send(self, s)

    with transport(outgoing(smtp)) as t:
        t.open()
        monkeypatch.setattr(smtplib.SMTP, "send", counted)
        t.send(message(["jane@example.com", "bob@example.com"]))
    monkeypatch.undo()
    [got] = smtp.wait_for(1)
    assert got.rcpt_tos == ["jane@example.com", "bob@example.com"]
    commands = [w for w in writes if not w.startswith(b"From:")]
    if smtp.pipelining:
        assert commands[0] == (
            b"MAIL FROM:<helpdesk@example.test>\r\nRCPT TO:<jane@example.com>\r\n"
            b"RCPT TO:<bob@example.com>\r\nDATA\r\n"
        )
        assert len(writes) == 3  # the commands, the message, QUIT
    else:
        assert len(writes) > 3


# --- preparing ahead ---


def test_a_prepared_message_goes_out_as_the_same_bytes(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp))
    assert isinstance(t, PreparingSendTransport)
    plain, ahead = message(Bcc="audit@example.test"), message(Bcc="audit@example.test")
    with t:
        t.send(plain)
        prepared = t.prepare(ahead)
        assert prepared is ahead
        t.send(prepared)
    first, second = smtp.wait_for(2)
    assert second.data == first.data
    assert second.rcpt_tos == first.rcpt_tos == ["jane@example.com", "audit@example.test"]


def test_a_message_that_cannot_be_prepared_is_refused_when_sent(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp))
    msg = message("jane@example.com")
    msg.set_raw("Cc", "bob@example.com\r\nRCPT TO:<evil@attacker.test>")
    assert t.prepare(msg) is msg  # no error here: `send` reports it
    with pytest.raises(SmtpSendError, match="Cc header contains a line break"):
        t.send(msg)
    assert smtp.connections == 0 and smtp.messages == []


# --- the envelope ---


def test_bcc_is_in_the_envelope_but_not_in_the_message(smtp: SMTPTestServer) -> None:
    msg = message("jane@example.com", Bcc="audit@example.test")
    transport(outgoing(smtp)).send(msg)
    [got] = smtp.wait_for(1)
    assert got.rcpt_tos == ["jane@example.com", "audit@example.test"]
    assert got.message["Bcc"] is None
    assert msg["Bcc"] is not None  # the caller's message is left as it was


@pytest.mark.parametrize(
    "header",
    [
        '"x\r\nRCPT TO:<evil@attacker.test>" <bob@example.com>',
        "bob@example.com\r\nRCPT TO:<evil@attacker.test>",
        "bob@example.com\nBcc: evil@attacker.test",
    ],
)
def test_line_breaks_from_data_never_reach_the_envelope(smtp: SMTPTestServer, header: str) -> None:
    msg = message("jane@example.com")
    msg.set_raw("Cc", header)  # skips the header checks, as a hand-built message could
    with pytest.raises(SmtpSendError, match="Cc header contains a line break") as info:
        transport(outgoing(smtp)).send(msg)
    assert info.value.temporary is False
    assert smtp.connections == 0
    assert smtp.messages == []


def test_addresses_that_cannot_be_in_the_envelope_are_refused(smtp: SMTPTestServer) -> None:
    msg = message("jane@example.com")
    msg.set_raw("Cc", '"two words"@example.com, <bob@example.com>')
    result = transport(outgoing(smtp)).deliver(msg)
    assert result.accepted == ("jane@example.com", "bob@example.com")
    [refusal] = result.refused
    assert (refusal.address, refusal.code) == ('"two words"@example.com', None)
    assert smtp.wait_for(1)[0].rcpt_tos == ["jane@example.com", "bob@example.com"]


def test_folded_headers_of_a_parsed_message_are_fine(smtp: SMTPTestServer) -> None:
    raw = (
        b'From: helpdesk@example.test\r\nTo: "A rather long display name"\r\n'
        b" <jane@example.com>\r\nSubject: folded\r\n\r\nbody\r\n"
    )
    for pol in (policy.SMTP, policy.compat32):
        parsed = message_from_bytes(raw, policy=pol)
        transport(outgoing(smtp)).send(parsed)  # type: ignore[arg-type]
    assert [m.rcpt_tos for m in smtp.wait_for(2)] == [["jane@example.com"]] * 2


def test_smtputf8_address(smtp: SMTPTestServer) -> None:
    # with PIPELINING offered too, this one goes one command at a time (its MAIL option)
    transport(outgoing(smtp)).send(message("jöran@example.com"))
    [got] = smtp.wait_for(1)
    assert got.rcpt_tos == ["jöran@example.com"]


# --- connections ---


def test_one_connection_for_several_messages(smtp: SMTPTestServer) -> None:
    with transport(outgoing(smtp)) as t:
        for i in range(3):
            t.send(message(Subject=f"message {i}"))
    got = smtp.wait_for(3)
    assert t.connections == 1
    assert smtp.connections == 1
    assert len({m.peer for m in got}) == 1
    assert [m.message["Subject"] for m in got] == ["message 0", "message 1", "message 2"]


def test_without_with_each_send_has_its_own_connection(smtp: SMTPTestServer) -> None:
    t = transport(outgoing(smtp))
    t.send(message())
    t.send(message())
    got = smtp.wait_for(2)
    assert t.connections == 2
    assert len({m.peer for m in got}) == 2


def test_a_kept_connection_survives_a_failed_transaction(smtp: SMTPTestServer) -> None:
    with transport(outgoing(smtp)) as t:
        smtp.data_response = "451 4.3.0 Try again later"
        with pytest.raises(SmtpSendError):
            t.send(message())
        smtp.data_response = None
        t.send(message())
    assert len(smtp.wait_for(1)) == 1
    assert t.connections == 1


def test_reconnects_once_when_the_server_dropped_the_connection(smtp: SMTPTestServer) -> None:
    with transport(outgoing(smtp)) as t:
        t.send(message(Subject="first"))
        smtp.wait_for(1)
        assert smtp.disconnect_all() == 1
        t.send(message(Subject="second"))
    got = smtp.wait_for(2)
    assert [m.message["Subject"] for m in got] == ["first", "second"]
    assert t.connections == 2
    assert got[0].peer != got[1].peer


def test_reconnects_once_after_421_on_a_kept_connection(smtp: SMTPTestServer) -> None:
    with transport(outgoing(smtp)) as t:
        t.send(message(Subject="first"))
        smtp.mail_responses.append("421 4.4.2 Idle timeout, closing")
        t.send(message(Subject="second"))
    got = smtp.wait_for(2)
    assert [m.message["Subject"] for m in got] == ["first", "second"]
    assert t.connections == 2


def test_reconnects_only_once(smtp: SMTPTestServer) -> None:
    with transport(outgoing(smtp)) as t:
        t.send(message(Subject="first"))
        smtp.mail_responses.extend(["421 4.4.2 closing"] * 2)
        with pytest.raises(SmtpSendError, match="421") as info:
            t.send(message(Subject="second"))
        assert info.value.temporary is True
        assert t.connections == 2
        t.send(message(Subject="third"))  # the transport is usable afterwards
    assert [m.message["Subject"] for m in smtp.wait_for(2)] == ["first", "third"]


def test_open_fails_early_inside_with(smtp: SMTPTestServer) -> None:
    with (
        transport(outgoing(smtp, smtp_password="wrong")) as t,
        pytest.raises(SmtpSendError) as info,
    ):
        t.open()
    assert info.value.code == 535


# --- end to end: an event in, mail at the server, notifications counted ---

ADA = "ada@example.test"
TOM = "tom@example.test"
TIA = "tia@example.test"
JANE = "jane@example.com"
BOB = "bob@example.com"


def helpdesk() -> InMemoryStorage:
    storage = InMemoryStorage()
    storage.add_user(User(ADA, name="Ada Admin", role=Role.ADMIN))
    storage.add_user(
        User(TOM, name="Tom Tech", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    )
    storage.add_user(
        User(TIA, name="Tia Tech", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    )
    storage.add_user(User(JANE, name="Jane Doe"))
    storage.add_user(User(BOB, name="Bob Roe"))
    storage.add_ticket(
        Ticket(
            id=7,
            subject="Printer on fire",
            submitter=JANE,
            category="Hardware",
            assignee=TOM,
            subscribers=(JANE, BOB),
            message_ids=("<first@example.com>",),
        ),
        comments=[
            Comment(
                ticket_id=7,
                author=JANE,
                body_text="It is still burning.",
                created_at=ManualClock().now(),
                id=1,
            )
        ],
    )
    return storage


def test_notify_end_to_end(smtp: SMTPTestServer) -> None:
    storage = helpdesk()
    clock = ManualClock()
    settings = Settings(
        incoming=IncomingSettings(helpdesk_addresses=(FROM,)),
        notifications=NotificationSettings(notify_all_techs_on_customer_update=True),
        outgoing=outgoing(
            smtp,
            reply_to=FROM,
            helpdesk_url="https://helpdesk.example.test",
            secret_key="test-secret",
        ),
    )
    with transport(settings.outgoing) as t:
        report = notify(
            TicketUpdated(ticket_id=7, actor=JANE, comment_id=1),
            settings,
            storage,
            None,
            t,
            clock,
            SeededRandom(1),
        )
    assert report.ok, report
    assert report.failed == ()
    assert t.connections == 1
    got = smtp.wait_for(len(report.sent))
    # the assignee, the category's other technician (customer update) and the subscriber;
    # not Jane, who wrote the reply
    assert sorted(r for m in got for r in m.rcpt_tos) == sorted([TOM, TIA, BOB])
    assert sorted(report.recipients) == sorted([TOM, TIA, BOB])
    assert any(s.email == JANE and s.reason == "actor" for s in report.skipped)
    for m in got:
        parsed = m.message
        assert m.mail_from == FROM
        assert parsed["Auto-Submitted"] == "auto-generated"
        assert parsed["Message-ID"]
        assert parsed["In-Reply-To"] == "<first@example.com>"
        assert "[#7]" in parsed["Subject"]
        assert [a.addr_spec for a in parsed["To"].addresses] == m.rcpt_tos
    assert {s.message_id for s in report.sent} == {m.message["Message-ID"] for m in got}
    # counted for the rate limits: the ticket once (one event), each addressee once
    now = clock.now()
    assert storage.notifications_since("ticket:7", now) == 1
    for address in (TOM, TIA, BOB):
        assert storage.notifications_since(f"to:{address}", now) == 1
    assert storage.notifications_since(f"to:{JANE}", now) == 0


def test_notify_end_to_end_with_a_refused_recipient(smtp: SMTPTestServer) -> None:
    smtp.reject_recipients[BOB] = "550 5.1.1 No such user"
    storage = helpdesk()
    clock = ManualClock()
    settings = Settings(
        incoming=IncomingSettings(helpdesk_addresses=(FROM,)),
        outgoing=outgoing(smtp, secret_key="test-secret"),
    )
    with transport(settings.outgoing) as t:
        report = notify(
            TicketUpdated(ticket_id=7, actor=JANE, comment_id=1),
            settings,
            storage,
            None,
            t,
            clock,
            SeededRandom(1),
        )
    [failure] = report.failed
    assert failure.recipients == (BOB,)
    assert (failure.code, failure.temporary) == (550, False)
    assert report.recipients == (TOM,)
    assert [m.rcpt_tos for m in smtp.wait_for(1)] == [[TOM]]
    assert storage.notifications_since(f"to:{BOB}", clock.now()) == 0
    assert storage.notifications_since(f"to:{TOM}", clock.now()) == 1
