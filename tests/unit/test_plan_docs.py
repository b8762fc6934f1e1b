"""docs/notifications.md: its example runs and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from pathlib import Path

import pytest

from helpdesk_mail.outbound.plan import SkipReason
from helpdesk_mail.settings import NotificationSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    """The fenced blocks of the page, as (language, code)."""
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def example() -> tuple[str, str]:
    """The runnable example (the python block that imports the planner) and its output."""
    found = blocks()
    for i, (language, code) in enumerate(found):
        if language == "python" and "import plan_notifications" in code:
            output_language, output = found[i + 1]
            assert output_language == "text"
            return code, output
    pytest.fail("docs/notifications.md has no runnable example")


def test_the_example_prints_what_the_page_says() -> None:
    code, expected = example()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    assert out.getvalue() == expected


def test_the_sending_loop_snippet_compiles() -> None:
    snippets = [c for lang, c in blocks() if lang == "python" and "render_message" in c]
    assert snippets
    for code in snippets:
        compile(code, str(DOC), "exec")


def test_every_skip_reason_and_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for reason in SkipReason:
        assert f"`{reason.value}`" in text, reason
    for field in dataclasses.fields(NotificationSettings):
        assert f"`{field.name}`" in text, field.name
