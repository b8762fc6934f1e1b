"""The examples of docs/masks.md and docs/templates.md run, and the mask table is complete."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk_mail.templating import MASKS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def python_blocks(name: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("name", ["masks.md", "templates.md"])
def test_doc_examples_run(name: str) -> None:
    blocks = python_blocks(name)
    assert blocks, f"{name} has no python example"
    for block in blocks:
        exec(compile(block, f"docs/{name}", "exec"), {})


def test_every_mask_is_documented() -> None:
    text = (DOCS / "masks.md").read_text(encoding="utf-8")
    for spec in MASKS.values():
        assert f"| `{spec.syntax}` |" in text, spec.syntax


def test_render_cli_runs(tmp_path: Path) -> None:
    template = tmp_path / "closed.html"
    template.write_text("Subject: Done: #Subject#\n\n<p>#What_Happened# #Nope#</p>\n")
    run = subprocess.run(
        [sys.executable, "-m", "helpdesk_mail", "render", "--kind", "ticket_closed",
         "--template", str(template), "--format", "text", "--strict"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stdout == (
        "##- Reply above this line -##\n\nThe ticket has been closed by Tess Tech.\n\n#Nope#\n\n"
        "##- Acme Support · #1234 -##\n"
    )
    assert "unknown_mask" in run.stderr and ":3:" in run.stderr
    for fmt, marker in (("html", "<!DOCTYPE html>"), ("eml", "Auto-Submitted: auto-generated")):
        run = subprocess.run(
            [sys.executable, "-m", "helpdesk_mail", "render", "--kind", "ticket_updated",
             "--format", fmt],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0 and marker in run.stdout, run.stderr
