"""`helpdesk-mail worker` as a real process: Dovecot (IMAP, POP3) in, aiosmtpd out,
SQLite or PostgreSQL in between; SIGTERM stops it gracefully with exit status 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpdesk_mail.records import EventStatus

from .conftest import MailServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
from smtp_testserver import SMTPTestServer

pytestmark = pytest.mark.integration

sa = pytest.importorskip("sqlalchemy")
PASSWORD_VARIABLE = "HDM_TEST_IMAP_PASSWORD"


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SMTPTestServer]:
    srv = SMTPTestServer(tls_dir=str(tmp_path_factory.mktemp("smtp-tls")))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def smtp(smtp_server: SMTPTestServer) -> Iterator[SMTPTestServer]:
    smtp_server.disconnect_all()
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'helpdesk.db'}"
    pytest.importorskip("psycopg")
    url: str = request.getfixturevalue("pg_url")
    return url


def write_settings(
    tmp_path: Path, server: MailServer, smtp: SMTPTestServer, protocol: str = "imap"
) -> Path:
    """A settings file with no secret in it: the IMAP password from the environment, the
    SMTP one from a file."""
    smtp_pw = tmp_path / "smtp-password"
    smtp_pw.write_text(smtp.password + "\n")
    port = server.port("IMAPS" if protocol == "imap" else "POP3S")
    path = tmp_path / "helpdesk.toml"
    path.write_text(
        f"""
[incoming]
helpdesk_addresses = ["support@acme.test"]

[[incoming.accounts]]
name = "support"
host = "{server.host}"
protocol = "{protocol}"
port = {port}
username = "{server.user}"
password_env = "{PASSWORD_VARIABLE}"
ca_file = "{server.ca_file}"
batch_size = 20

[outgoing]
from_address = "support@acme.test"
from_name = "Acme Support"
helpdesk_url = "https://helpdesk.acme.test"
secret_key = "worker-integration-key"
smtp_host = "{smtp.host}"
smtp_port = {smtp.plain_port}
smtp_tls = "none"
smtp_username = "{smtp.user}"
smtp_password_file = "{smtp_pw}"
"""
    )
    return path


def start_worker(
    settings: Path, db_url: str, server: MailServer, *extra: str
) -> subprocess.Popen[str]:
    env = {**os.environ, PASSWORD_VARIABLE: server.password}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpdesk_mail",
            "worker",
            "--settings",
            str(settings),
            "--db",
            db_url,
            "--migrate",
            "--poll-seconds",
            "1",
            "--idle-seconds",
            "0.2",
            "--lease-seconds",
            "30",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"the worker did not stop on SIGTERM:\n{err}") from None
    return process.returncode, err


def count(db_url: str, sql: str) -> int:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_the_worker_polls_commits_delivers_and_stops_on_sigterm(
    mailbox: MailServer,
    smtp: SMTPTestServer,
    db_url: str,
    tmp_path: Path,
    make_mail: Callable[..., bytes],
    protocol: str,
) -> None:
    mailbox.drop(make_mail(n) for n in range(12))
    settings = write_settings(tmp_path, mailbox, smtp, protocol)
    process = start_worker(settings, db_url, mailbox)
    try:
        # each new ticket's submitter gets a confirmation
        smtp.wait_for(12, timeout=90)
        wait_until(lambda: mailbox.count() == 0, 30, "the mailbox to be emptied")
    finally:
        status, err = stop(process)
    assert status == 0, err
    assert "SIGTERM: stopping after the email or event at hand" in err
    assert "poll: 1 accounts polled (0 held by other workers): 12 processed" in err
    assert "delivery: " in err and "emails sent" in err
    assert "stopped" in err.splitlines()[-1]
    received = sorted(r for m in smtp.messages for r in m.rcpt_tos)
    assert received == sorted(f"customer{n}@example.com" for n in range(12))
    assert count(db_url, "SELECT count(*) FROM hdm_tickets") == 12
    done = EventStatus.DONE.value
    assert count(db_url, f"SELECT count(*) FROM hdm_outbox WHERE status <> '{done}'") == 0
    assert count(db_url, "SELECT count(*) FROM hdm_outbox WHERE lease_owner IS NOT NULL") == 0
    assert count(db_url, "SELECT count(*) FROM hdm_mailboxes WHERE lease_owner IS NOT NULL") == 0


def test_sigterm_in_the_middle_leaves_nothing_committed_on_the_server(
    mailbox: MailServer,
    smtp: SMTPTestServer,
    db_url: str,
    tmp_path: Path,
    make_mail: Callable[..., bytes],
) -> None:
    total = 150
    mailbox.drop(make_mail(n) for n in range(total))
    settings = write_settings(tmp_path, mailbox, smtp)
    process = start_worker(settings, db_url, mailbox)

    def some_committed() -> bool:
        try:
            return count(db_url, "SELECT count(*) FROM hdm_receipts") > 0
        except sa.exc.DBAPIError:  # the tables are not there yet
            return False

    try:
        wait_until(some_committed, 90, "the first commit")
    finally:
        status, err = stop(process)
    assert status == 0, err
    committed = count(db_url, "SELECT count(*) FROM hdm_receipts")
    # the email at hand was finished, and what was committed left the server
    assert committed + mailbox.count() == total, (committed, mailbox.count())
    assert count(db_url, "SELECT count(*) FROM hdm_tickets") == committed
    assert count(db_url, "SELECT count(*) FROM hdm_mailboxes WHERE lease_owner IS NOT NULL") == 0
    # a second worker takes the rest: every email one ticket
    process = start_worker(settings, db_url, mailbox)
    try:
        wait_until(lambda: mailbox.count() == 0, 120, "the rest to be polled")
    finally:
        status, err = stop(process)
    assert status == 0, err
    assert count(db_url, "SELECT count(*) FROM hdm_tickets") == total
    assert count(db_url, "SELECT count(DISTINCT subject) FROM hdm_tickets") == total


def test_a_refused_login_is_logged_and_the_worker_keeps_running(
    mailbox: MailServer, smtp: SMTPTestServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'helpdesk.db'}"
    settings = write_settings(tmp_path, mailbox, smtp)
    env = {**os.environ, PASSWORD_VARIABLE: "wrong-password"}
    command = [sys.executable, "-m", "helpdesk_mail", "worker", "--settings", str(settings)]
    command += ["--db", url, "--migrate", "--poll-seconds", "1"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def failures() -> int:
        try:
            return count(url, "SELECT coalesce(max(consecutive_failures), 0) FROM hdm_mailboxes")
        except sa.exc.DBAPIError:
            return 0

    try:
        wait_until(lambda: failures() >= 2, 60, "two failed polls")
    finally:
        status, err = stop(process)
    assert status == 0, err
    assert "IMAP login refused" in err and "1 errors" in err
