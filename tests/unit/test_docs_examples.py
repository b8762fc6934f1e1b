"""The Python examples in README.md and docs/ run as written."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def blocks(relative: str) -> list[str]:
    return BLOCK.findall((ROOT / relative).read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", ["README.md", "docs/quickstart.md"])
def test_examples_run(doc: str, capsys: pytest.CaptureFixture[str]) -> None:
    found = blocks(doc)
    assert found, f"no python example in {doc}"
    for code in found:
        exec(compile(code, doc, "exec"), {"__name__": "__doc_example__"})


def test_readme_example_prints_what_its_comments_say(capsys: pytest.CaptureFixture[str]) -> None:
    [code] = blocks("README.md")
    exec(compile(code, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    said = [
        line.split("#", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")
    ]
    assert said == ["create_ticket ('bob@example.com',)", "Printer on fire", "['TicketCreated']"]
    assert lines == said


def test_protocols_doc_test_function_passes() -> None:
    namespace: dict[str, Any] = {}
    [code] = [b for b in blocks("docs/protocols.md") if "def test_new_ticket" in b]
    exec(compile(code, "docs/protocols.md", "exec"), namespace)
    namespace["test_new_ticket"](InMemoryStorage(), ManualClock(), SeededRandom(0))


def test_protocols_doc_conformance_kit_example_runs() -> None:
    from helpdesk_mail.testing import StorageContract

    namespace: dict[str, Any] = {}
    [code] = [b for b in blocks("docs/protocols.md") if "StorageContract)" in b]
    exec(compile(code, "docs/protocols.md", "exec"), namespace)
    kit = namespace["TestMyStorage"]()
    assert isinstance(kit, StorageContract)
    storage = kit.make_storage()
    kit.test_a_receipt_key_commits_once(storage)
    kit.test_outbox_claims_leases_and_acknowledges(kit.make_storage())


def test_sql_doc_examples_run_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/sql.md's examples, in order and in one namespace, in a temporary directory."""
    pytest.importorskip("sqlalchemy")
    monkeypatch.chdir(tmp_path)
    found = blocks("docs/sql.md")
    assert len(found) == 3
    namespace: dict[str, Any] = {"__name__": "__doc_example__"}
    for code in found:
        exec(compile(code, "docs/sql.md", "exec"), namespace)
    assert (tmp_path / "helpdesk.db").exists()
    namespace["storage"].engine.dispose()


def test_scaling_doc_task_queue_example_uses_real_names() -> None:
    """docs/scaling.md's Celery example compiles, and what it imports from the library
    exists (Celery itself is not a dependency)."""
    [code] = blocks("docs/scaling.md")
    compile(code, "docs/scaling.md", "exec")
    imports = [
        node
        for node in ast.parse(code).body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpdesk_mail")
    ]
    assert sum(len(node.names) for node in imports) >= 8
    namespace: dict[str, Any] = {}
    exec("\n".join(ast.unparse(node) for node in imports), namespace)
    poller = namespace["Poller"]
    assert callable(poller.poll_account) and callable(poller.is_due)
    assert callable(namespace["Deliverer"].run_once)
