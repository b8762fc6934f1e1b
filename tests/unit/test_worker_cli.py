"""`helpdesk-mail worker`, `migrate` and `tickets`: start-up checks and exit codes, on
SQLite (no server). The worker against real servers: tests/integration/test_worker_process.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpdesk_mail.cli import main
from helpdesk_mail.cli.worker import EXIT_DATABASE, EXIT_SETTINGS

pytest.importorskip("sqlalchemy")

SETTINGS = {
    "incoming": {"helpdesk_addresses": ["support@acme.test"], "accounts": []},
    "outgoing": {"from_address": "support@acme.test", "smtp_host": "127.0.0.1"},
}


def write(tmp_path: Path, data: object, name: str = "helpdesk.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.err + captured.out


def test_a_missing_settings_file_is_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run(capsys, "worker", "--settings", str(tmp_path / "nope.toml"), "--once")
    assert status == EXIT_SETTINGS
    assert "cannot read the settings" in err and "nope.toml" in err


def test_a_bad_setting_is_status_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, {"incoming": {"check_interval_minutes": 9}})
    status, err = run(capsys, "worker", "--settings", path, "--once")
    assert status == EXIT_SETTINGS
    assert "incoming.check_interval_minutes" in err


def test_an_unset_password_variable_is_status_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HDM_TEST_NO_SUCH_VARIABLE", raising=False)
    account = {"name": "support", "host": "127.0.0.1", "password_env": "HDM_TEST_NO_SUCH_VARIABLE"}
    data = {**SETTINGS, "incoming": {"accounts": [account]}}
    status, err = run(capsys, "worker", "--settings", write(tmp_path, data), "--db", "sqlite://")
    assert status == EXIT_SETTINGS
    assert "incoming.accounts[support].password_env" in err
    assert "HDM_TEST_NO_SUCH_VARIABLE" in err


def test_a_missing_password_file_is_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {**SETTINGS, "outgoing": {"smtp_password_file": str(tmp_path / "smtp.pw")}}
    status, err = run(capsys, "worker", "--settings", write(tmp_path, data), "--db", "sqlite://")
    assert status == EXIT_SETTINGS
    assert "outgoing.smtp_password_file" in err


def test_no_database_named_is_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run(capsys, "worker", "--settings", write(tmp_path, SETTINGS), "--once")
    assert status == EXIT_SETTINGS
    assert "no database" in err and "--db" in err


def test_a_database_url_with_a_password_is_refused_in_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {**SETTINGS, "database": {"url": "postgresql+psycopg://hd:s3cret@db/hd"}}
    status, err = run(capsys, "worker", "--settings", write(tmp_path, data), "--once")
    assert status == EXIT_SETTINGS
    assert "database.url" in err and "url_env" in err
    assert "s3cret" not in err


def test_the_database_url_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "hd.db"
    monkeypatch.setenv("HDM_TEST_DB_URL", f"sqlite:///{db}")
    data = {**SETTINGS, "database": {"url_env": "HDM_TEST_DB_URL"}}
    status, err = run(capsys, "worker", "--settings", write(tmp_path, data), "--once", "--migrate")
    assert status == 0, err
    assert db.exists()


def test_a_bad_database_url_is_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SETTINGS)
    status, err = run(capsys, "worker", "--settings", path, "--db", "nosuchdb://x", "--once")
    assert status == EXIT_SETTINGS
    assert "bad database URL" in err


def test_an_unreachable_database_is_status_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/no/such/folder/hd.db"
    status, err = run(capsys, "worker", "--settings", write(tmp_path, SETTINGS), "--db", url)
    assert status == EXIT_DATABASE
    assert "cannot use database" in err


def test_a_postgresql_nobody_listens_on_is_status_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://helpdesk@127.0.0.1:9/helpdesk?connect_timeout=2"
    status, err = run(capsys, "worker", "--settings", write(tmp_path, SETTINGS), "--db", url)
    assert status == EXIT_DATABASE
    assert "cannot use database" in err


def test_a_database_without_the_tables_is_status_3_then_migrate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/hd.db"
    path = write(tmp_path, SETTINGS)
    status, err = run(capsys, "worker", "--settings", path, "--db", url, "--once")
    assert status == EXIT_DATABASE
    assert "helpdesk-mail migrate" in err
    status, out = run(capsys, "migrate", "--db", url)
    assert status == 0 and "is at helpdesk_mail's schema" in out
    status, err = run(capsys, "worker", "--settings", path, "--db", url, "--once")
    assert status == 0, err


def test_migrate_needs_a_database(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run(capsys, "migrate")
    assert status == EXIT_SETTINGS and "--db URL or --settings FILE" in err


def test_tickets_of_a_database_without_tables_is_status_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run(capsys, "tickets", "--db", f"sqlite:///{tmp_path}/empty.db")
    assert status == EXIT_DATABASE and "helpdesk-mail migrate" in err


@pytest.mark.parametrize(("flag", "watched"), [((), 1), (("--no-idle",), 0)])
def test_imap_accounts_are_watched_unless_no_idle(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    flag: tuple[str, ...],
    watched: int,
) -> None:
    accounts = [
        # nobody listens on port 1: the --once poll fails at once, which is fine here
        {"name": "imap", "host": "127.0.0.1", "port": 1, "tls": "none"},
        {"name": "pop", "host": "127.0.0.1", "port": 1, "tls": "none", "protocol": "pop3"},
        {"name": "quiet", "host": "127.0.0.1", "port": 1, "tls": "none", "idle": False},
    ]
    settings = {**SETTINGS, "incoming": {**SETTINGS["incoming"], "accounts": accounts}}
    path = write(tmp_path, settings)
    url = f"sqlite:///{tmp_path}/hd.db"
    caplog.set_level("INFO", logger="helpdesk_mail.worker")
    status, err = run(
        capsys, "worker", "--settings", path, "--db", url, "--migrate", "--once", *flag
    )
    assert status == 0, err
    assert any(
        f"3 mailbox account(s) (imap, pop, quiet), {watched} to watch with IDLE" in m
        for m in caplog.messages
    ), caplog.messages
