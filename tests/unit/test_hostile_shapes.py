"""The shape generators of benchmarks/hostile.py still make what the benchmark measures.

Each shape gives an email (with parseable headers) of about the requested size, the same bytes every
time. No timings: speed is the benchmark's business.
"""

from __future__ import annotations

import email.parser
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hostile_benchmark", ROOT / "benchmarks" / "hostile.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hostile = _load_benchmark()
SIZES = (256 * 1024, 1024 * 1024)


@pytest.mark.parametrize("name", sorted(hostile.SHAPES))
def test_each_shape_makes_an_email_of_about_the_requested_size(name: str) -> None:
    shape = hostile.SHAPES[name]
    for size in SIZES:
        raw = shape.make(size)
        assert isinstance(raw, bytes)
        assert abs(len(raw) - size) <= size * 0.02, (size, len(raw))
        assert shape.make(size) == raw
    message = email.parser.BytesHeaderParser().parsebytes(shape.make(SIZES[0]))
    assert message["Message-ID"] and message["From"]


def test_every_shape_runs_at_the_issue_sizes() -> None:
    assert len(hostile.SHAPES) >= 20
    for shape in hostile.SHAPES.values():
        assert set(hostile.SIZES) <= set(shape.sizes)
        assert shape.about
