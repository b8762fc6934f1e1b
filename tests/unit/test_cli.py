"""The command line: --help, --version, and the inspect JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk_mail import __version__
from helpdesk_mail.cli import SUBCOMMANDS, main

CONTRACT_KEYS = {
    "path",
    "verdict",
    "reason",
    "from",
    "subject",
    "commands",
    "ticket_id",
    "body_text",
    "attachments",
    "subscribers",
}


def inspect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    status = main(["inspect", *args])
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines() if line.strip()]


def write(tmp_path: Path, name: str, raw: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(raw)
    return str(path)


REPLY = (
    b"From: Jane <Jane@Example.com>\r\nTo: support@acme.test, bob@example.com\r\n"
    b"Subject: Re: Printer on fire #close#\r\nIn-Reply-To: <abc@example.com>\r\n"
    b"Message-ID: <r@example.com>\r\n\r\nThanks, solved.\r\n"
)


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert "usage: helpdesk-mail " + name in capsys.readouterr().out


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "helpdesk_mail", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "inspect" in done.stdout


def test_inspect_without_state_makes_a_new_ticket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, [record] = inspect(capsys, write(tmp_path, "reply.eml", REPLY))
    assert status == 0
    assert record.keys() >= CONTRACT_KEYS
    assert record["verdict"] == "create_ticket"
    assert record["from"] == {"email": "jane@example.com", "name": "Jane"}
    assert record["subject"] == "Re: Printer on fire"
    # #close# does not take effect on a new ticket: not in `commands`, named in `detail`
    assert record["commands"] == []
    assert "commands ignored on a new ticket: close" in record["detail"]
    assert record["subscribers"] == ["support@acme.test", "bob@example.com"]
    assert record["body_text"] == "Thanks, solved."


def test_inspect_with_settings_and_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(
        '[incoming]\nhelpdesk_addresses = ["support@acme.test"]\n'
        '[outgoing]\nfrom_address = "support@acme.test"\n'
    )
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {
                "users": [{"email": "tech@acme.test", "role": "technician", "extra": 1}],
                "tickets": [
                    {
                        "id": 1234,
                        "subject": "Printer on fire",
                        "status": "open",
                        "submitter": "jane@example.com",
                        "subscribers": ["jane@example.com"],
                        "message_ids": ["<abc@example.com>"],
                    }
                ],
            }
        )
    )
    reply = write(tmp_path, "reply.eml", REPLY)
    status, records = inspect(
        capsys, "--settings", str(settings), "--state", str(state), reply, reply
    )
    assert status == 0
    # The same file twice gives the same answer: nothing carries over between files.
    assert records[0] == records[1]
    assert records[0]["verdict"] == "add_comment"
    assert records[0]["ticket_id"] == 1234
    assert records[0]["subscribers"] == []


def test_inspect_reports_discards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    noreply = b"From: noreply@shop.example\r\nSubject: Shipped\r\n\r\nYour order.\r\n"
    empty = write(tmp_path, "empty.eml", b"")
    status, records = inspect(capsys, write(tmp_path, "n.eml", noreply), empty)
    assert status == 0
    assert [(r["verdict"], r["reason"]) for r in records] == [
        ("discard", "system_sender"),
        ("discard", "malformed"),
    ]


def test_inspect_bad_settings_name_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "s.json"
    settings.write_text('{"incoming": {"check_interval_minutes": 7}}')
    assert main(["inspect", "--settings", str(settings), "x.eml"]) == 2
    assert "incoming.check_interval_minutes" in capsys.readouterr().err


def test_inspect_unreadable_path_is_reported_and_others_still_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["inspect", str(tmp_path / "missing.eml"), write(tmp_path, "r.eml", REPLY)])
    captured = capsys.readouterr()
    assert status == 2
    assert "missing.eml" in captured.err
    assert len(captured.out.splitlines()) == 1


def test_inspect_with_no_paths_covers_the_samples(capsys: pytest.CaptureFixture[str]) -> None:
    status, records = inspect(capsys)
    assert status == 0
    verdicts = {r["verdict"] for r in records}
    reasons = {r["reason"] for r in records}
    assert verdicts == {"create_ticket", "add_comment", "discard"}
    assert {"bounce", "auto_reply", "system_sender"} <= reasons


@pytest.mark.parametrize("command", ["inspect", "render", "demo", "spf"])
def test_every_commands_help_keeps_its_examples_on_their_own_lines(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    examples = [line.strip() for line in out.splitlines() if "helpdesk-mail " in line]
    examples = [line for line in examples if not line.startswith("usage:")]
    assert examples, out
    assert all(line.count("helpdesk-mail ") == 1 for line in examples), examples
