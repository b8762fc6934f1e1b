"""`helpdesk-mail demo` on the built-in sample mail: deterministic, fast, every path shown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpdesk_mail.cli import main
from helpdesk_mail.cli.demo import account_from_url
from helpdesk_mail.demo import format_run, run_demo
from helpdesk_mail.memory import EPOCH
from helpdesk_mail.model import TicketStatus
from helpdesk_mail.samples import sample_messages, sample_state
from helpdesk_mail.settings import MailProtocol, TlsMode
from helpdesk_mail.shell.poller import MessageStatus

EXPECTED = {
    "01-new-ticket.eml": ("create_ticket", None),
    "02-new-ticket.eml": ("create_ticket", None),
    "03-reply-with-history.eml": ("add_comment", None),
    "04-tech-note.eml": ("add_comment", None),
    "05-close.eml": ("add_comment", None),
    "06-unsubscribe.eml": ("add_comment", None),
    "07-html-only.eml": ("create_ticket", None),
    "08-attachment.eml": ("create_ticket", None),
    "09-bounce.eml": ("discard", "bounce"),
    "10-out-of-office.eml": ("discard", "auto_reply"),
    "11-noreply.eml": ("discard", "system_sender"),
    "12-hijack.eml": ("create_ticket", None),
    "13-unknown-sender.eml": ("create_ticket", None),
}


def test_samples_cover_the_dozen_cases() -> None:
    names = [name for name, _ in sample_messages()]
    assert names == sorted(EXPECTED)
    assert {u["email"] for u in sample_state()["users"]} >= {"jane@example.com", "tess@acme.test"}


def test_every_sample_gets_its_verdict() -> None:
    run = run_demo()
    got = {
        name: (r.result.verdict.value, r.result.reason.value if r.result.reason else None)
        for name, r in run.messages
        if r.result is not None
    }
    assert got == EXPECTED
    assert all(r.status is MessageStatus.PROCESSED for _, r in run.messages)
    storage = run.storage
    printer = storage.tickets[1]
    assert printer.status is TicketStatus.CLOSED
    comments = storage.comments(1)
    assert [c.techs_only for c in comments] == [False, True, False]
    assert "smells of smoke" in comments[0].body_text
    assert "keep a safe distance" not in comments[0].body_text  # quoted history removed
    assert "carol@example.com" not in storage.tickets[2].subscribers  # #unsubscribe#
    hijack = next(r for n, r in run.messages if n == "12-hijack.eml")
    assert hijack.outcome is not None and hijack.outcome.ticket_id not in (1, 2)
    assert storage.user("nina@startup.example") is not None
    assert storage.is_suppressed("former.employee@example.com", EPOCH)


def test_redelivery_creates_nothing_twice() -> None:
    run = run_demo()
    first, again = run.polls
    assert first.processed == len(EXPECTED)
    assert (again.processed, again.duplicates) == (0, len(EXPECTED))
    assert all(r.status is MessageStatus.DUPLICATE for _, r in run.redelivered)
    assert run.left_on_server == 0


def test_output_is_deterministic_and_fast() -> None:
    # the in-memory run (the command's SQLite file is checked below)
    started = time.perf_counter()
    first = format_run(run_demo())
    elapsed = time.perf_counter() - started
    assert format_run(run_demo()) == first
    assert elapsed < 2.0
    assert first.count("verdict  ") == len(EXPECTED)
    for name in EXPECTED:
        assert name in first
    assert "13 duplicates removed, 0 committed a second time" in first


def test_the_command_stores_into_a_sqlite_file_and_a_second_run_creates_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sqlalchemy")
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    database = tmp_path / "helpdesk-mail-demo.db"
    assert database.exists()
    header, _, report = first.partition("\n")
    assert header.startswith(f"Database: {database} (new;")
    # the same run as on the in-memory storage, line for line
    assert report == format_run(run_demo()) + "\n"
    assert "Notifications: 11 events committed to the event outbox, delivered as 16 emails" in first

    assert main(["demo"]) == 0
    second = capsys.readouterr().out
    assert second.startswith(f"Database: {database} (from an earlier run")
    assert second.count("duplicate: already committed") == len(EXPECTED)
    assert "Summary: 0 committed (nothing), 13 duplicates, 0 failed" in second
    assert "no new events, and nothing pending in the outbox: no email sent" in second
    assert first.split("Tickets now:")[1] == second.split("Tickets now:")[1]
    assert main(["demo"]) == 0
    assert capsys.readouterr().out == second

    assert main(["tickets"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith(
        f"Database {database}: 8 tickets, 11 events in the outbox (11 done),"
        " 21 lines in the sent ledger."
    )
    assert '#1 closed "Printer on fire"' in listing
    assert "tess@acme.test (techs only):" in listing
    assert "event 1    done     TicketCreated #3 by carol@example.com (1 attempt)" in listing
    assert "sent     ticket_confirmation -> carol@example.com <" in listing


def test_the_demo_refuses_a_database_of_another_helpdesk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sqlalchemy")
    from helpdesk_mail.model import Ticket
    from helpdesk_mail.sql import SqlStorage

    url = f"sqlite:///{tmp_path}/theirs.db"
    storage = SqlStorage(url, migrate=True)
    storage.add_ticket(Ticket(id=1, subject="Their ticket", submitter="x@example.com"))
    storage.close()
    assert main(["demo", "--db", url]) == 2
    assert "not the demo's" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "protocol", "tls", "port", "folder"),
    [
        (
            "imaps://u%40x.test:p%20w@mail.x.test/INBOX",
            MailProtocol.IMAP,
            TlsMode.IMPLICIT,
            993,
            "INBOX",
        ),
        (
            "imap://u:p@mail.x.test:1143/Support%20Box",
            MailProtocol.IMAP,
            TlsMode.NONE,
            1143,
            "Support Box",
        ),
        ("pop3s://u:p@mail.x.test", MailProtocol.POP3, TlsMode.IMPLICIT, 995, "INBOX"),
        ("pop3://u:p@mail.x.test", MailProtocol.POP3, TlsMode.NONE, 110, "INBOX"),
    ],
)
def test_account_from_url(
    url: str, protocol: MailProtocol, tls: TlsMode, port: int, folder: str
) -> None:
    account = account_from_url(url)
    assert (account.protocol, account.tls, account.effective_port, account.folder) == (
        protocol,
        tls,
        port,
        folder,
    )
    assert account.host == "mail.x.test"


def test_account_from_url_details(monkeypatch: pytest.MonkeyPatch) -> None:
    account = account_from_url("imaps://u%40x.test:p%20w@mail.x.test/INBOX")
    assert (account.username, account.password) == ("u@x.test", "p w")
    assert account_from_url("imap://u:p@h/", starttls=True).tls is TlsMode.STARTTLS
    monkeypatch.setenv("HELPDESK_MAIL_PASSWORD", "from-env")
    assert account_from_url("imaps://u@h").password == "from-env"
    with pytest.raises(ValueError, match="scheme"):
        account_from_url("http://h")
    with pytest.raises(ValueError, match="starttls"):
        account_from_url("imaps://u:p@h", starttls=True)


def test_bad_url_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--imap", "ftp://x"]) == 2
    assert "bad --imap URL" in capsys.readouterr().err


def test_demo_sends_notifications_for_committed_events() -> None:
    from helpdesk_mail.demo import run_demo

    run = run_demo()
    sent = [m for m in run.outbox.messages]
    assert sent, "the demo shows the outgoing side"
    assert all(m["Auto-Submitted"] == "auto-generated" for m in sent)
    confirmations = run.notifications["01-new-ticket.eml"][0].sent
    assert [n.recipients for n in confirmations if n.template.value == "ticket_confirmation"] == [
        ("carol@example.com",)
    ]
    # the bounce, the out-of-office and the noreply mail trigger no email at all
    for label in ("09-bounce.eml", "10-out-of-office.eml", "11-noreply.eml"):
        assert run.notifications.get(label, []) == []
    # a techs-only note never reaches a customer
    for report in run.notifications["04-tech-note.eml"]:
        for n in report.sent:
            assert all(run.storage.users[r].is_staff for r in n.recipients)
