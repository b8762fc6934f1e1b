"""The POP3 transport against a real Dovecot: TLS modes, login, pipelining, QUIT commits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from helpdesk_mail.ports import MailboxAuthError, MailboxError
from helpdesk_mail.settings import MailProtocol, TlsMode
from helpdesk_mail.transports.pop3 import Pop3Transport

from .conftest import MailServer

pytestmark = pytest.mark.integration

MakeMail = Callable[..., bytes]
POP3 = MailProtocol.POP3


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.mark.parametrize("tls", [TlsMode.IMPLICIT, TlsMode.STARTTLS, TlsMode.NONE])
def test_tls_modes_list_and_fetch(mailbox: MailServer, make_mail: MakeMail, tls: TlsMode) -> None:
    raws = [make_mail(n) for n in range(3)]
    for raw in raws:
        mailbox.append(raw)
    with Pop3Transport().open(mailbox.account(POP3, tls)) as session:
        assert session.pipelining
        uids = session.list_uids()
        got = list(session.fetch(uids))
    assert [raw for _, raw in got] == [crlf(r) for r in raws]
    assert mailbox.count() == 3  # nothing deleted


def test_stls_required_never_falls_back(mail_server: MailServer) -> None:
    account = mail_server.account(
        POP3,
        TlsMode.STARTTLS,
        host=mail_server.env["HELPDESK_TEST_NOTLS_HOST"],
        port=int(mail_server.env["HELPDESK_TEST_POP3_NOTLS_PORT"]),
    )
    with pytest.raises(MailboxError, match="STLS") as info:
        Pop3Transport().open(account)
    assert not isinstance(info.value, MailboxAuthError)
    Pop3Transport().open(dataclasses.replace(account, tls=TlsMode.NONE)).close()


def test_certificate_is_verified(mail_server: MailServer) -> None:
    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
        Pop3Transport().open(mail_server.account(POP3, ca_file=None))


def test_wrong_password_is_an_auth_error(mail_server: MailServer) -> None:
    with pytest.raises(MailboxAuthError, match="Authentication failed"):
        Pop3Transport().open(mail_server.account(POP3, password="wrong"))


def test_xoauth2(mail_server: MailServer) -> None:
    account = mail_server.account(
        POP3,
        username=mail_server.env["HELPDESK_TEST_OAUTH_USER"],
        password="",
        oauth2_token=lambda: mail_server.env["HELPDESK_TEST_OAUTH_TOKEN"],
    )
    with Pop3Transport().open(account) as session:
        assert session.list_uids() == []
    with pytest.raises(MailboxAuthError):
        Pop3Transport().open(dataclasses.replace(account, oauth2_token=lambda: "expired"))


def test_dot_stuffing_and_long_lines(mailbox: MailServer, make_mail: MakeMail) -> None:
    raw = make_mail(1).replace(
        b"Hello, this is request 1.",
        b".leading dot\r\n..two dots\r\n.\r\n" + b"y" * 10_000 + b"\r\nend",
    )
    mailbox.append(raw)
    with Pop3Transport().open(mailbox.account(POP3)) as session:
        [(_, got)] = list(session.fetch(session.list_uids()))
    assert got == crlf(raw)


def test_pipelined_batches(mailbox: MailServer, make_mail: MakeMail) -> None:
    mailbox.drop(make_mail(n) for n in range(120))
    transport = Pop3Transport()
    with transport.open(mailbox.account(POP3, batch_size=50)) as session:
        uids = session.list_uids()
        before = transport.stats.round_trips
        assert sum(1 for _ in session.fetch(uids)) == 120
        assert transport.stats.round_trips - before == 3
        before = transport.stats.round_trips
        session.delete(uids)
        assert transport.stats.round_trips - before == 3
    assert mailbox.count() == 0  # QUIT committed the deletions


def test_deletions_need_quit(mailbox: MailServer, make_mail: MakeMail) -> None:
    for n in range(3):
        mailbox.append(make_mail(n))
    session = Pop3Transport().open(mailbox.account(POP3))
    session.delete(session.list_uids())
    session.abort()  # the connection dies before QUIT
    assert mailbox.count() == 3
    with Pop3Transport().open(mailbox.account(POP3)) as session:
        session.delete(session.list_uids()[:2])
    assert mailbox.count() == 1


def test_uids_are_stable_across_sessions(mailbox: MailServer, make_mail: MakeMail) -> None:
    for n in range(3):
        mailbox.append(make_mail(n))
    with Pop3Transport().open(mailbox.account(POP3)) as session:
        first = list(session.list_uids())
        session.delete(first[:1])
    with Pop3Transport().open(mailbox.account(POP3)) as session:
        assert list(session.list_uids()) == first[1:]


def test_move_is_not_possible(mailbox: MailServer) -> None:
    with (
        Pop3Transport().open(mailbox.account(POP3)) as session,
        pytest.raises(MailboxError, match="POP3"),
    ):
        session.move(["x"], "Quarantine")


def test_batches_are_cut_by_bytes_too(mailbox: MailServer, make_mail: MakeMail) -> None:
    mailbox.drop([make_mail(n, size=1_000_000) for n in range(3)] + [make_mail(9)])
    transport = Pop3Transport(max_batch_bytes=1_500_000)
    with transport.open(mailbox.account(POP3, batch_size=50)) as session:
        uids = session.list_uids()
        before = transport.stats.round_trips
        assert len(list(session.fetch(uids))) == 4
        assert transport.stats.round_trips - before == 3
