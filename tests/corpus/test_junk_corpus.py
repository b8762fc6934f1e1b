"""The junk filter measured on the shared corpus of real e-mails (../shared/corpus).

Targets (from the junk filter's brief): bounce recall >= 99 %, auto-reply recall
100 %, no human mail (kind ticket/reply) classified as junk, every system-sender
mail found, bounced-recipient recall >= 99 %; malformed mail never raises.
The figures are printed (run with ``-s`` or look at the captured output).
"""

from __future__ import annotations

import email
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

import pytest

from helpdesk_mail.inbound.junk import JunkVerdict, classify
from helpdesk_mail.inbound.mime_headers import decode_header_text

pytestmark = pytest.mark.corpus

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("HELPDESK_MAIL_SHARED", str(REPO_ROOT.parent / "shared")))
CORPUS = SHARED / "corpus"
MANIFEST = CORPUS / "manifest.jsonl"

EXPECTED_KIND = {
    "bounce": "bounce",
    "autoreply": "auto_reply",
    "system": "system_sender",
    "ticket": None,
    "reply": None,
}


def _sender(msg: Message) -> str:
    """The decoded, lower-cased From address, as the integrator passes it."""
    raw = msg.get("from")
    if raw is None:
        return ""
    return parseaddr(decode_header_text(raw))[1].lower()


@dataclass
class Outcome:
    entry: dict[str, object]
    verdict: JunkVerdict
    seconds: float


@dataclass
class Results:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    # human texts that are not RFC 822 messages (body-only, HTML fragments), parsed anyway
    body_only_human: list[Outcome] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.entry["kind"] == kind]


def _is_full_message(entry: dict[str, object]) -> bool:
    return entry.get("format") in (None, "rfc822")


@pytest.fixture(scope="module")
def results() -> Results:
    if not MANIFEST.is_file():
        pytest.skip(f"corpus not found at {CORPUS} (set HELPDESK_MAIL_SHARED to the shared folder)")
    out = Results()
    with MANIFEST.open(encoding="utf-8") as fh:
        entries = [json.loads(line) for line in fh if line.strip()]
    for entry in entries:
        path = CORPUS / str(entry["path"])
        try:
            msg = email.message_from_bytes(path.read_bytes())
            start = time.perf_counter()
            verdict = classify(msg, sender=_sender(msg))
            elapsed = time.perf_counter() - start
        except Exception as exc:  # the filter must never raise
            out.errors.append((str(entry["path"]), repr(exc)))
            continue
        assert isinstance(verdict, JunkVerdict)
        if _is_full_message(entry):
            out.outcomes.append(Outcome(entry, verdict, elapsed))
        elif entry["kind"] in ("ticket", "reply"):
            out.body_only_human.append(Outcome(entry, verdict, elapsed))
    return out


def _recall(results: Results, kind: str) -> tuple[int, int, list[Outcome]]:
    wanted = EXPECTED_KIND[kind]
    outcomes = results.of_kind(kind)
    misses = [o for o in outcomes if o.verdict.kind != wanted]
    return len(outcomes) - len(misses), len(outcomes), misses


def _recipients(results: Results) -> tuple[int, int, list[tuple[str, str]]]:
    hit = total = 0
    misses: list[tuple[str, str]] = []
    for o in results.of_kind("bounce"):
        stated = o.entry.get("bounce_recipient")
        if not isinstance(stated, list):
            continue
        for addr in stated:
            total += 1
            if str(addr).lower() in o.verdict.bounced_recipients:
                hit += 1
            else:
                misses.append((str(o.entry["path"]), str(addr)))
    return hit, total, misses


def _fmt_misses(misses: list[Outcome]) -> str:
    return "\n".join(f"  {o.entry['path']}: {o.verdict.kind} {o.verdict.rule}" for o in misses)


def test_never_raises(results: Results) -> None:
    assert results.errors == []


def test_bounce_recall(results: Results) -> None:
    hit, total, misses = _recall(results, "bounce")
    assert total > 0
    assert hit / total >= 0.99, f"bounce recall {hit}/{total}\n{_fmt_misses(misses)}"


def test_auto_reply_recall(results: Results) -> None:
    hit, total, misses = _recall(results, "autoreply")
    assert total > 0
    assert hit == total, f"auto-reply recall {hit}/{total}\n{_fmt_misses(misses)}"


def test_human_mail_is_never_junk(results: Results) -> None:
    human = results.of_kind("ticket") + results.of_kind("reply")
    junked = [o for o in human if o.verdict.kind is not None]
    assert human
    assert junked == [], f"human mail discarded:\n{_fmt_misses(junked)}"
    fragments = [o for o in results.body_only_human if o.verdict.kind is not None]
    assert fragments == [], f"human fragments discarded:\n{_fmt_misses(fragments)}"


def test_system_senders_found(results: Results) -> None:
    hit, total, misses = _recall(results, "system")
    assert total > 0
    assert hit == total, f"system senders {hit}/{total}\n{_fmt_misses(misses)}"


def test_bounced_recipients_recall(results: Results) -> None:
    hit, total, misses = _recipients(results)
    assert total > 0
    assert hit / total >= 0.99, f"recipients {hit}/{total}: {misses}"


def test_bounce_temporary_agrees(results: Results) -> None:
    stated = [o for o in results.of_kind("bounce") if "bounce_temporary" in o.entry]
    agree = [o for o in stated if o.verdict.temporary == o.entry["bounce_temporary"]]
    assert stated
    assert len(agree) / len(stated) >= 0.95


def test_evidence_is_one_short_line(results: Results) -> None:
    for o in results.outcomes:
        ev = o.verdict.evidence
        if ev is not None:
            assert len(ev) <= 200 and "\n" not in ev and "\r" not in ev, o.entry["path"]


def test_fast_enough(results: Results) -> None:
    slowest = max(results.outcomes, key=lambda o: o.seconds)
    assert slowest.seconds < 0.5, (slowest.entry["path"], slowest.seconds)


def test_print_figures(results: Results, capsys: pytest.CaptureFixture[str]) -> None:
    lines = []
    for kind in ("bounce", "autoreply", "system"):
        hit, total, misses = _recall(results, kind)
        lines.append(f"{kind:10s} recall {hit}/{total} = {hit / max(total, 1):.2%}")
        lines.extend(f"    miss {o.entry['path']} -> {o.verdict.kind}" for o in misses)
    human = results.of_kind("ticket") + results.of_kind("reply")
    junked = sum(1 for o in human if o.verdict.kind is not None)
    lines.append(f"human mail (ticket+reply) classified as junk: {junked} of {len(human)}")
    every = human + results.body_only_human
    junked_all = sum(1 for o in every if o.verdict.kind is not None)
    lines.append(f"  incl. body-only/HTML fragments parsed as mail: {junked_all} of {len(every)}")
    hit, total, rmisses = _recipients(results)
    lines.append(f"bounced recipients recall {hit}/{total} = {hit / max(total, 1):.2%}")
    lines.extend(f"    miss {p}: {a}" for p, a in rmisses)
    stated = [o for o in results.of_kind("bounce") if "bounce_temporary" in o.entry]
    agree = sum(1 for o in stated if o.verdict.temporary == o.entry["bounce_temporary"])
    lines.append(f"bounce temporary/permanent agrees: {agree}/{len(stated)}")
    rules = Counter(o.verdict.rule for o in results.of_kind("bounce"))
    lines.append("bounce rules: " + ", ".join(f"{r}={n}" for r, n in rules.most_common()))
    malformed = results.of_kind("malformed")
    lines.append(f"malformed: {len(malformed)} classified without exception")
    with capsys.disabled():
        print("\n[junk corpus]\n" + "\n".join(lines))
