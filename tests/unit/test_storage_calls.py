"""Light reads: planning and rendering one notification reads the storage a small,
constant number of times, not once per comment, attachment or Message-ID."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "plan.py"


def benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plan_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_storage_calls_per_email_do_not_grow_with_the_ticket() -> None:
    count = benchmark().storage_calls_per_email
    small = count(comments=0, message_ids=1)
    large = count(comments=50, message_ids=100)
    larger = count(comments=200, message_ids=400)
    assert small <= large == larger <= 12, (small, large, larger)
