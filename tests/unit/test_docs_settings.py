"""docs/settings.md matches the settings dataclasses, and its examples load."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpdesk_mail.settings import (
    DatabaseSettings,
    IncomingSettings,
    MailboxAccount,
    NotificationSettings,
    OAuth2Settings,
    OutgoingSettings,
    RateLimit,
    Settings,
    SettingsError,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "settings.md"
SCRIPT = ROOT / "scripts" / "gen_settings_doc.py"
CLASSES: list[type[Any]] = [
    IncomingSettings,
    MailboxAccount,
    OAuth2Settings,
    NotificationSettings,
    RateLimit,
    OutgoingSettings,
    DatabaseSettings,
]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_settings_doc", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def section_rows(text: str, class_name: str) -> dict[str, list[str]]:
    """The table rows under the heading of `class_name`, by key."""
    match = re.search(rf"^## `[^`]+`: {class_name}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section for {class_name}"
    rows: dict[str, list[str]] = {}
    for line in match.group(1).splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0].strip("`")] = cells
    return rows


def test_doc_is_up_to_date(gen: ModuleType, doc: str) -> None:
    assert doc == gen.render(), (
        "docs/settings.md is out of date with the settings dataclasses: "
        "run `python scripts/gen_settings_doc.py` from the repository root"
    )


def test_every_field_has_a_row_with_its_type_default_and_rule(doc: str) -> None:
    for cls in CLASSES:
        rows = section_rows(doc, cls.__name__)
        fields = dataclasses.fields(cls)
        assert list(rows) == [f.name for f in fields]
        for f in fields:
            _, type_cell, default_cell, rule_cell, description = rows[f.name]
            assert type_cell
            rule = f.metadata.get("rule")
            assert rule_cell == (rule.description if rule else "")
            assert description, f"{cls.__name__}.{f.name} has no docstring"
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                assert default_cell == "*required*"


def test_defaults_in_the_doc_load_back_to_the_real_defaults(doc: str) -> None:
    """Each default cell, read as JSON, is the document value of the field's default."""
    documents: dict[str, dict[str, Any]] = {"incoming": {}, "notifications": {}, "outgoing": {}}
    sections = {
        "IncomingSettings": "incoming",
        "NotificationSettings": "notifications",
        "OutgoingSettings": "outgoing",
    }
    for class_name, section in sections.items():
        for key, cells in section_rows(doc, class_name).items():
            documents[section][key] = json.loads(cells[2].strip("`"))
    assert Settings.from_mapping(documents) == Settings()

    account_defaults = {
        key: json.loads(cells[2].strip("`"))
        for key, cells in section_rows(doc, "MailboxAccount").items()
        if cells[2] != "*required*"
    }
    loaded = Settings.from_mapping(
        {"incoming": {"accounts": [{"name": "a", "host": "h", **account_defaults}]}}
    )
    assert loaded.incoming.accounts == (MailboxAccount(name="a", host="h"),)


def test_types_in_the_doc(doc: str) -> None:
    incoming = section_rows(doc, "IncomingSettings")
    assert incoming["check_interval_minutes"][1] == "a whole number"
    assert incoming["accept_unregistered"][1] == "true or false"
    assert incoming["default_category"][1] == "a string or null"
    assert incoming["auto_replies"][1] == "one of: discard, comment"
    assert incoming["accounts"][1] == "a list of MailboxAccount tables"
    account = section_rows(doc, "MailboxAccount")
    assert account["port"][1] == "a whole number or null"
    assert "set in code only" in account["oauth2_token"][1]
    assert account["oauth2"][1] == "an OAuth2Settings table or null"
    oauth2 = section_rows(doc, "OAuth2Settings")
    assert oauth2["provider"][1] == "one of: microsoft, google"
    assert oauth2["provider"][2] == "*required*"
    assert oauth2["flow"][1] == "one of: client_credentials, refresh_token or null"
    hints = typing.get_type_hints(OutgoingSettings)
    assert set(section_rows(doc, "OutgoingSettings")) == set(hints)


def test_every_field_has_a_docstring_in_the_source(gen: ModuleType) -> None:
    for cls in CLASSES:
        docs = gen.field_docs(cls)
        missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
        assert not missing, f"{cls.__name__} fields without a docstring: {missing}"


def test_docstrings_are_read_from_the_source(gen: ModuleType) -> None:
    docs = gen.field_docs(OutgoingSettings)
    assert docs["helpdesk_url"].startswith("Base URL of the helpdesk")
    assert gen.field_docs(MailboxAccount)["port"] == (
        "None: 993/143 for IMAP, 995/110 for POP3, by TLS mode."
    )


def test_json_and_toml_examples_load_to_the_same_settings(doc: str) -> None:
    [json_example] = blocks(doc, "json")
    [toml_example] = blocks(doc, "toml")
    from_json = Settings.from_json(json_example)
    from_toml = Settings.from_toml(toml_example)
    assert from_json == from_toml
    assert from_json != Settings()
    assert [a.name for a in from_json.incoming.accounts] == ["support", "legacy"]
    assert from_json.incoming.accounts[1].effective_port == 995
    assert from_json.outgoing.from_name == "Acme Support"
    assert from_json.notifications.ticket_rate_limits == (RateLimit(10, 10), RateLimit(50, 180))


def test_python_example_names_real_api(doc: str) -> None:
    [python_example] = blocks(doc, "python")
    namespace: dict[str, Any] = {}
    first_line = python_example.splitlines()[0]
    exec(first_line, namespace)  # the import line
    assert {"IncomingSettings", "Settings", "load_settings"} <= set(namespace)


def test_error_examples_are_what_the_loader_says(doc: str) -> None:
    [text_block] = blocks(doc, "text")
    lines = text_block.splitlines()
    assert "incoming.check_interval_minutes: 7 is not valid: must be between 1 and 5" in lines
    assert any(line.startswith("incoming.accounts[0].port: 70000") for line in lines)
    assert "hunter2" not in text_block  # secrets hidden
    assert any(
        line.startswith("outgoing.smtp_oauth2.client_secret: <hidden> is not valid: secrets")
        for line in lines
    )
    assert "outgoing.smtp_oauth2.tenant: is required with provider microsoft" in text_block
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({"incoming": {"check_interval_minutes": 7}})
    assert str(info.value) == lines[0]


def test_script_runs_with_no_arguments(tmp_path: Path, doc: str) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / SCRIPT.name)
    run = subprocess.run(
        [sys.executable, "scripts/gen_settings_doc.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "docs" / "settings.md").read_text(encoding="utf-8") == doc
    check = subprocess.run(
        [sys.executable, "scripts/gen_settings_doc.py", "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout
    (tmp_path / "docs" / "settings.md").write_text("stale", encoding="utf-8")
    stale = subprocess.run(
        [sys.executable, "scripts/gen_settings_doc.py", "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert stale.returncode == 1
    assert "out of date" in stale.stdout
