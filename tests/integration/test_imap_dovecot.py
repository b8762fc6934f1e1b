"""The IMAP transport against a real Dovecot: TLS modes, login, batches, delete, move."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from helpdesk_mail.ports import MailboxAuthError, MailboxError
from helpdesk_mail.settings import TlsMode
from helpdesk_mail.transports.imap import ImapTransport, encode_mailbox_name, uid_set

from .conftest import MailServer

pytestmark = pytest.mark.integration

MakeMail = Callable[..., bytes]


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_uid_set_and_mailbox_names() -> None:
    assert uid_set(["1", "2", "3", "7", "9", "10"]) == "1:3,7,9:10"
    assert uid_set(["5"]) == "5"
    assert encode_mailbox_name("Quarantäne & Co") == '"Quarant&AOQ-ne &- Co"'
    assert encode_mailbox_name('a"b') == '"a\\"b"'


@pytest.mark.parametrize("tls", [TlsMode.IMPLICIT, TlsMode.STARTTLS])
def test_tls_modes_list_and_fetch(mailbox: MailServer, make_mail: MakeMail, tls: TlsMode) -> None:
    raws = [make_mail(n) for n in range(3)]
    for raw in raws:
        mailbox.append(raw)
    transport = ImapTransport()
    with transport.open(mailbox.account(tls=tls)) as session:
        assert "UIDPLUS" in session.capabilities
        uids = session.list_uids()
        assert len(uids) == 3
        got = list(session.fetch(uids))
    assert [raw for _, raw in got] == [crlf(r) for r in raws]
    assert [uid for uid, _ in got] == list(uids)
    # BODY.PEEK[]: nothing was marked seen
    assert mailbox.seen_flags() == [False, False, False]


def test_plain_connection_when_configured(mailbox: MailServer, make_mail: MakeMail) -> None:
    mailbox.append(make_mail(1))
    with ImapTransport().open(mailbox.account(tls=TlsMode.NONE)) as session:
        assert len(session.list_uids()) == 1


def test_starttls_required_never_falls_back(mail_server: MailServer) -> None:
    # a real Dovecot listener that does not offer STARTTLS
    account = mail_server.account(
        tls=TlsMode.STARTTLS,
        host=mail_server.env["HELPDESK_TEST_NOTLS_HOST"],
        port=int(mail_server.env["HELPDESK_TEST_IMAP_NOTLS_PORT"]),
    )
    with pytest.raises(MailboxError, match="STARTTLS") as info:
        ImapTransport().open(account)
    assert not isinstance(info.value, MailboxAuthError)
    # the same listener is usable in plain text only when that is what is configured
    plain = dataclasses.replace(account, tls=TlsMode.NONE)
    ImapTransport().open(plain).close()


def test_certificate_is_verified(mail_server: MailServer) -> None:
    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
        ImapTransport().open(mail_server.account(ca_file=None))
    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
        ImapTransport().open(mail_server.account(tls=TlsMode.STARTTLS, ca_file=None))


def test_wrong_password_is_an_auth_error(mail_server: MailServer) -> None:
    with pytest.raises(MailboxAuthError, match="AUTHENTICATIONFAILED"):
        ImapTransport().open(mail_server.account(password="wrong"))


def test_connection_refused_is_a_mailbox_error(mail_server: MailServer) -> None:
    with pytest.raises(MailboxError, match="cannot connect"):
        ImapTransport().open(mail_server.account(port=1, timeout_seconds=5))


def test_missing_folder_is_a_mailbox_error(mail_server: MailServer) -> None:
    with pytest.raises(MailboxError, match="SELECT"):
        ImapTransport().open(mail_server.account(folder="No such folder"))


def test_xoauth2(mail_server: MailServer) -> None:
    token = mail_server.env["HELPDESK_TEST_OAUTH_TOKEN"]
    tokens: list[str] = []

    def fresh_token() -> str:
        tokens.append(token)
        return token

    account = mail_server.account(
        username=mail_server.env["HELPDESK_TEST_OAUTH_USER"], password="", oauth2_token=fresh_token
    )
    with ImapTransport().open(account) as session:
        assert session.list_uids() == []
    assert tokens == [token]  # asked for at each login
    expired = dataclasses.replace(account, oauth2_token=lambda: "expired-token")
    with pytest.raises(MailboxAuthError):
        ImapTransport().open(expired)


def test_batched_fetch_is_one_command_per_batch(mailbox: MailServer, make_mail: MakeMail) -> None:
    mailbox.drop(make_mail(n) for n in range(120))
    transport = ImapTransport()
    with transport.open(mailbox.account(batch_size=50)) as session:
        uids = session.list_uids()
        before = transport.stats.commands
        fetched = sum(1 for _ in session.fetch(uids))
        assert transport.stats.commands - before == 3  # 50 + 50 + 20
        before = transport.stats.commands
        session.delete(uids)
        assert transport.stats.commands - before == 3 * 2  # STORE + UID EXPUNGE per batch
    assert fetched == 120
    assert mailbox.count() == 0


def test_delete_expunges_only_the_given_uids(mailbox: MailServer, make_mail: MakeMail) -> None:
    for n in range(4):
        mailbox.append(make_mail(n))
    # someone else flagged message 4 \Deleted without expunging it
    conn = mailbox.admin()
    conn.select("INBOX")
    conn.store("4", "+FLAGS", r"(\Deleted)")
    conn.logout()
    with ImapTransport().open(mailbox.account()) as session:
        uids = session.list_uids()
        session.delete(uids[:2])
        assert session.list_uids() == uids[2:]
    assert mailbox.count() == 2  # UID EXPUNGE left the other \Deleted message alone


def test_move_creates_the_folder(mailbox: MailServer, make_mail: MakeMail) -> None:
    for n in range(3):
        mailbox.append(make_mail(n))
    with ImapTransport().open(mailbox.account()) as session:
        uids = session.list_uids()
        session.move(uids[:2], "Quarantäne")
        assert session.list_uids() == uids[2:]
    assert "Quarant&AOQ-ne" in mailbox.folders()
    assert mailbox.count("Quarant&AOQ-ne") == 2


def test_fetch_skips_vanished_messages(mailbox: MailServer, make_mail: MakeMail) -> None:
    for n in range(3):
        mailbox.append(make_mail(n))
    with ImapTransport().open(mailbox.account()) as session:
        uids = session.list_uids()
        got = [uid for uid, _ in session.fetch([*uids, "99999"])]
    assert got == list(uids)


def test_dropped_connection_raises_mailbox_error(mailbox: MailServer, make_mail: MakeMail) -> None:
    mailbox.append(make_mail(1))
    session = ImapTransport().open(mailbox.account())
    uids = session.list_uids()
    session.connection.shutdown()
    with pytest.raises(MailboxError):
        list(session.fetch(uids))
    session.close()  # closing a dead session is quiet


def test_batches_are_cut_by_bytes_too(mailbox: MailServer, make_mail: MakeMail) -> None:
    mailbox.drop([make_mail(n, size=1_000_000) for n in range(3)] + [make_mail(9)])
    transport = ImapTransport(max_batch_bytes=1_500_000)
    with transport.open(mailbox.account(batch_size=50)) as session:
        uids = session.list_uids()
        before = transport.stats.commands
        got = list(session.fetch(uids))
        # one big message per batch; the small one rides with the last big one
        assert transport.stats.commands - before == 3
    assert [uid for uid, _ in got] == list(uids)


def test_empty_folder_costs_no_listing(mailbox: MailServer) -> None:
    transport = ImapTransport()
    with transport.open(mailbox.account()) as session:
        before = transport.stats.commands
        assert session.list_uids() == []
        assert transport.stats.commands == before
