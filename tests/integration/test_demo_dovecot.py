"""`helpdesk-mail demo --imap URL` against a real Dovecot."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from helpdesk_mail.cli import main
from helpdesk_mail.samples import sample_messages

from .conftest import MailServer

pytestmark = pytest.mark.integration


def url(server: MailServer, scheme: str = "imaps", port: str = "IMAPS") -> str:
    user = quote(server.user, safe="")
    return f"{scheme}://{user}:{quote(server.password)}@{server.host}:{server.port(port)}/INBOX"


def test_demo_polls_a_real_mailbox_and_keeps_the_mail(
    mailbox: MailServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for _, raw in sample_messages():
        mailbox.append(raw)
    status = main(["demo", "--imap", url(mailbox), "--ca-file", mailbox.ca_file])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.startswith(f"helpdesk-mail demo: {len(sample_messages())} emails from imap mailbox")
    assert "verdict  create_ticket" in out
    assert "verdict  discard (bounce)" in out
    assert "The mail was left on the server" in out
    assert mailbox.count() == len(sample_messages())
    assert mailbox.seen_flags() == [False] * len(sample_messages())


def test_demo_delete_over_pop3_with_starttls(
    mailbox: MailServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for _, raw in sample_messages()[:3]:
        mailbox.append(raw)
    target = url(mailbox, "pop3", "POP3")
    args = ["demo", "--imap", target, "--starttls", "--ca-file", mailbox.ca_file, "--delete"]
    status = main(args)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Left on the server: 0." in out
    assert mailbox.count() == 0


def test_demo_reports_a_refused_login(
    mail_server: MailServer, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = url(mail_server).replace(mail_server.password, "wrong")
    status = main(["demo", "--imap", bad, "--ca-file", mail_server.ca_file])
    out = capsys.readouterr().out
    assert status == 1
    assert "AUTHENTICATIONFAILED" in out
