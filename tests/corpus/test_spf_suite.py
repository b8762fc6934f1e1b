"""The RFC 7208 conformance suite (openspf.org 2014.04, as shipped with pyspf) against check_spf.

The suite is other projects' data: it is read from `$HELPDESK_MAIL_SHARED/spf-suite/`
(default: `../shared` beside the repository) and never copied here; the tests
skip when it is absent. Each scenario's `zonedata` is served by an
`InMemoryResolver`:

- `TXT` values are the records (a list of strings is one record, joined with
  nothing between); `SPF` (type 99) values become TXT records only when the name
  has no TXT entry at all (the suite's "auto-magic duplication"; `TXT: NONE`
  stops it), as the suite's own driver does.
- A bare `TIMEOUT` makes every look-up of that name fail temporarily, except for
  the record types listed before it (again as the suite's driver does).
- `MX: [pref, host]` becomes `"pref host"` (`""` is the null MX `.`); `CNAME`s are
  followed by the resolver (a loop is a server failure).

A test passes when the result is one of its acceptable results and, where the
test gives one, the explanation is equal; the default explanation is the
suite's placeholder `DEFAULT`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.memory import InMemoryResolver
from helpdesk_mail.ports import TemporaryDnsError
from helpdesk_mail.spf import check_spf

pytestmark = pytest.mark.corpus

yaml = pytest.importorskip("yaml", reason="PyPI's PyYAML is needed to read the SPF suite")

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("HELPDESK_MAIL_SHARED", ROOT.parent / "shared"))
SUITE = SHARED / "spf-suite" / "rfc7208-tests.yml"
RECORD_TYPES = ("TXT", "A", "AAAA", "MX", "PTR", "CNAME")


class SuiteResolver(InMemoryResolver):
    """An `InMemoryResolver` that follows CNAME records, as a recursive resolver does."""

    def query(self, name: str, rdtype: str) -> Sequence[str]:
        for _ in range(8):
            found = super().query(name, rdtype)
            if found or rdtype.upper() == "CNAME":
                return found
            alias = self.records.get((name.lower().rstrip("."), "CNAME"))
            if not alias:
                return found
            name = alias[0]
        raise TemporaryDnsError(f"{name}: CNAME loop")


def load_zone(zonedata: Mapping[str, Sequence[Any]]) -> SuiteResolver:
    """A resolver serving one scenario's `zonedata`."""
    resolver = SuiteResolver()
    for raw_name, entries in zonedata.items():
        name = str(raw_name).lower().rstrip(".")
        listed: set[str] = set()
        spf_records: list[str] = []
        has_txt = False
        for entry in entries:
            if entry == "TIMEOUT":
                for rdtype in RECORD_TYPES:
                    if rdtype not in listed:
                        resolver.temporary_failures.add((name, rdtype))
                continue
            ((rdtype, value),) = entry.items()
            if rdtype in ("TXT", "SPF"):
                has_txt = has_txt or rdtype == "TXT"
                if value == "NONE":
                    continue
                text = "".join(value) if isinstance(value, list) else str(value)
                if rdtype == "SPF":
                    spf_records.append(text)
                    continue
                resolver.add(name, "TXT", text)
            elif rdtype == "MX":
                preference, host = value
                resolver.add(name, "MX", f"{preference} {host or '.'}")
            else:
                resolver.add(name, rdtype, str(value))
            listed.add(rdtype)
        if spf_records and not has_txt:
            resolver.add(name, "TXT", *spf_records)
    return resolver


@dataclass(frozen=True)
class SuiteCase:
    """One test of the suite."""

    scenario: str
    name: str
    host: str
    mailfrom: str
    helo: str
    results: tuple[str, ...]
    explanation: str | None
    zonedata: Mapping[str, Sequence[Any]]


def load_suite() -> list[SuiteCase]:
    """Every test of the suite, or [] when the suite is not there."""
    if not SUITE.is_file():
        return []
    cases: list[SuiteCase] = []
    with SUITE.open(encoding="utf-8") as fh:
        for scenario in yaml.safe_load_all(fh):
            for name, test in scenario["tests"].items():
                result = test["result"]
                cases.append(
                    SuiteCase(
                        scenario=scenario["description"],
                        name=name,
                        host=str(test["host"]),
                        mailfrom=str(test["mailfrom"]),
                        helo=str(test["helo"]),
                        results=tuple(result) if isinstance(result, list) else (result,),
                        explanation=test.get("explanation"),
                        zonedata=scenario["zonedata"],
                    )
                )
    return cases


CASES = load_suite()
SKIP_REASON = (
    f"the RFC 7208 SPF suite is not at {SUITE} "
    "(set HELPDESK_MAIL_SHARED to the folder holding spf-suite/)"
)


def run_case(case: SuiteCase) -> tuple[bool, str]:
    """(passed, what happened)."""
    result = check_spf(
        case.host, case.mailfrom, case.helo, load_zone(case.zonedata), default_explanation="DEFAULT"
    )
    ok = result.result in case.results
    if case.explanation is not None and result.result == "fail":
        ok = ok and result.explanation == case.explanation
    elif case.explanation is not None:
        ok = False
    got = f"{result.result} (explanation {result.explanation!r}; {result.reason})"
    want = f"{'/'.join(case.results)} (explanation {case.explanation!r})"
    return ok, f"{case.scenario} / {case.name}: want {want}, got {got}"


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_suite_case(case: SuiteCase) -> None:
    ok, what = run_case(case)
    assert ok, what


@pytest.mark.skipif(not CASES, reason=SKIP_REASON)
def test_suite_pass_rate(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = [run_case(c) for c in CASES]
    passed = sum(ok for ok, _ in outcomes)
    with capsys.disabled():
        print(f"\nRFC 7208 suite: {passed}/{len(CASES)} tests pass")
    failures = [what for ok, what in outcomes if not ok]
    assert len(CASES) == 203, "the 2014.04 suite has 203 tests"
    assert passed == len(CASES), "\n".join(failures)


def test_suite_is_read_from_shared_not_the_repository() -> None:
    copies = [p for d in ("src", "tests", "docs") for p in (ROOT / d).glob("**/rfc7208-tests*")]
    assert not copies, "the suite must not be copied into the repository"
