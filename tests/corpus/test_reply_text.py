"""Reply-text extraction measured on the shared email corpus.

The corpus lives outside the repository (``$HELPDESK_MAIL_SHARED/corpus``,
default ``<repo>/../shared/corpus``); every test skips when it is absent.

Each manifest entry with a body expectation is checked by its own test, and a
summary test asserts the exact-match rate (>= 95 %) and that no quoted text
leaks into the output.  Entries marked ``signature_stripped=true`` come from
reply parsers that also drop ordinary signatures; our policy keeps them, so for
those entries the output is compared after :func:`strip_signature` (the
"allowance"); the other entries keep their RFC 3676 signature block, which our
policy drops, so it is dropped from their expected text.  Both numbers, with and
without the allowance, are printed by::

    .venv/bin/python tests/corpus/test_reply_text.py
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.inbound.quotes import reply_text_from_plain
from helpdesk_mail.inbound.quotes_html import reply_text_from_html
from helpdesk_mail.inbound.signatures import strip_signature

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("HELPDESK_MAIL_SHARED", str(REPO.parent / "shared"))) / "corpus"
MANIFEST = CORPUS / "manifest.jsonl"

BODY_KEYS = (
    "body_visible",
    "body_visible_startswith",
    "body_visible_endswith",
    "body_visible_contains",
    "body_visible_not_contains",
    "quoted_contains",
    "has_quote",
)
MIN_EXACT_RATE = 0.95

# Entries we knowingly disagree with (the summary test still counts them).
KNOWN_FAILURES: dict[str, str] = {
    "django-helpdesk/utf-nondecodable.eml": (
        "text/plain and text/html parts carry different content; the expected words are only in "
        "the HTML part, and an application prefers text/plain"
    ),
    "talon/reply-separated-by-hr.html": (
        "talon also deletes the sender's sign-off 'Bob' because it shares a <div> with the <hr> "
        "separator; we keep the sender's own text above the separator ('Hi there Bob')"
    ),
}


def _load_entries() -> list[dict[str, Any]]:
    if not MANIFEST.is_file():
        return []
    entries = []
    with MANIFEST.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            if any(k in entry for k in BODY_KEYS) and entry.get("format") != "outlook-msg":
                entries.append(entry)
    return entries


ENTRIES = _load_entries()


def _require_corpus() -> None:
    if not MANIFEST.is_file():
        pytest.skip(f"shared corpus not found at {CORPUS} (set HELPDESK_MAIL_SHARED)")


# -- reading a body the way an application would (stdlib only) --------------


def _part_text(part: Message) -> str:
    """Decoded text of a part; a part without a charset is tried as UTF-8 first."""
    if part.get_content_charset() is not None:
        try:
            content = part.get_content()  # type: ignore[attr-defined]
            if isinstance(content, str):
                return content
        except (LookupError, ValueError, AssertionError, TypeError, AttributeError):
            pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset()
    if charset is None:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.decode("cp1252", errors="replace")
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _inline_texts(msg: EmailMessage, first: Message) -> list[Message]:
    """``first`` plus the other unnamed inline text/plain parts of a multipart/mixed body."""
    if msg.get_content_type() != "multipart/mixed" or first not in list(msg.iter_parts()):
        return [first]
    return [
        p
        for p in msg.iter_parts()
        if p is first
        or (
            p.get_content_type() == "text/plain"
            and p.get_content_disposition() != "attachment"
            and p.get_filename() is None
        )
    ]


def _visible_from_message(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    plain = msg.get_body(("plain",))
    if plain is not None:
        text = "\n".join(_part_text(p) for p in _inline_texts(msg, plain))
        if text.strip():
            return reply_text_from_plain(text)
    html = msg.get_body(("html",))
    if html is not None:
        return reply_text_from_html(_part_text(html))
    return ""


def visible_text(entry: dict[str, Any]) -> str:
    """Our visible text for a corpus entry."""
    raw = (CORPUS / entry["path"]).read_bytes()
    fmt = entry.get("format")
    if fmt == "body-only":
        return reply_text_from_plain(raw.decode("utf-8", errors="replace"))
    if fmt == "html-body":
        return reply_text_from_html(raw.decode("utf-8", errors="replace"))
    return _visible_from_message(raw)


# -- comparison ---------------------------------------------------------------


def _norm(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass
class Verdict:
    """Outcome of one entry."""

    exact: bool | None = None  # None: no exact expectation
    problems: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)


def judge(entry: dict[str, Any], got: str) -> Verdict:
    """Compare ``got`` with every expectation the entry states."""
    v = Verdict()
    out = _norm(got)
    ignore_ws = entry.get("body_compare") == "ignore-whitespace"
    cmp = _squash if ignore_ws else (lambda s: s)
    if "body_visible" in entry:
        v.exact = cmp(out) == cmp(_norm(entry["body_visible"]))
        if not v.exact:
            v.problems.append(f"exact mismatch: expected {entry['body_visible']!r}")
    if "body_visible_startswith" in entry:
        want = _norm(entry["body_visible_startswith"])
        if not cmp(out).startswith(cmp(want)):
            v.problems.append(f"does not start with {want!r}")
    if "body_visible_endswith" in entry:
        want = _norm(entry["body_visible_endswith"])
        if not cmp(out).endswith(cmp(want)):
            v.problems.append(f"does not end with {want!r}")
    for want in entry.get("body_visible_contains", []):
        if cmp(_norm(want)) not in cmp(out):
            v.problems.append(f"missing {want!r}")
    for bad in entry.get("body_visible_not_contains", []) + entry.get("quoted_contains", []):
        if cmp(_norm(bad)) and cmp(_norm(bad)) in cmp(out):
            v.leaks.append(bad)
    return v


_RFC3676_BLOCK = re.compile(r"\n-- \n.*\Z", re.DOTALL)


def evaluate(entry: dict[str, Any], allowance: bool) -> tuple[str, Verdict]:
    """Our output for an entry and its verdict (with the signature allowance if asked).

    The allowance works both ways: where the source also strips signatures, ours kept
    are stripped before judging; where the source keeps them, its RFC 3676 block (a
    "-- " line and what follows: our signature rule drops it) is dropped from its text.
    """
    got = visible_text(entry)
    if allowance and entry.get("signature_stripped"):
        got = strip_signature(got)
    elif allowance and "body_visible" in entry:
        want = entry["body_visible"].replace("\r\n", "\n")
        entry = {**entry, "body_visible": _RFC3676_BLOCK.sub("", want)}
    return got, judge(entry, got)


@dataclass
class Summary:
    """Corpus-wide numbers."""

    exact: int = 0
    exact_total: int = 0
    leaks: int = 0  # quoted_contains or body_visible_not_contains found in the output
    quoted_leaks: int = 0  # quoted_contains only (earlier messages, never signatures)
    partial_failures: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.exact / self.exact_total if self.exact_total else 1.0


def summarise(allowance: bool) -> Summary:
    """Run every entry and count exact matches, leaks and partial-expectation failures."""
    s = Summary()
    for entry in ENTRIES:
        _, v = evaluate(entry, allowance)
        if v.exact is not None:
            s.exact_total += 1
            s.exact += v.exact
        s.leaks += len(v.leaks)
        s.quoted_leaks += sum(1 for x in v.leaks if x in entry.get("quoted_contains", []))
        problems = [p for p in v.problems if not p.startswith("exact")]
        s.partial_failures += bool(problems)
        if v.problems or v.leaks:
            s.failures.append(f"{entry['path']}: {v.problems + [f'leak {x!r}' for x in v.leaks]}")
    return s


# -- tests --------------------------------------------------------------------


def _params() -> list[Any]:
    if not ENTRIES:
        reason = f"shared corpus not found at {CORPUS} (set HELPDESK_MAIL_SHARED)"
        return [pytest.param({}, id="no-corpus", marks=pytest.mark.skip(reason=reason))]
    params = []
    for e in ENTRIES:
        reason = KNOWN_FAILURES.get(e["path"])
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(e, id=e["path"], marks=marks))
    return params


@pytest.mark.corpus
@pytest.mark.parametrize("entry", _params())
def test_entry(entry: dict[str, Any]) -> None:
    _require_corpus()
    got, v = evaluate(entry, allowance=True)
    assert not v.leaks, f"quoted text leaked: {v.leaks}\n--- got ---\n{got}"
    assert not v.problems, "\n".join(v.problems) + f"\n--- got ---\n{got}"


@pytest.mark.corpus
def test_summary_rate_and_no_leaks() -> None:
    _require_corpus()
    if not ENTRIES:
        pytest.skip("no corpus entries with body expectations")
    s = summarise(allowance=True)
    assert s.leaks == 0, "\n".join(s.failures)
    assert s.rate >= MIN_EXACT_RATE, f"exact {s.exact}/{s.exact_total}\n" + "\n".join(s.failures)


@pytest.mark.corpus
def test_no_leaks_even_without_signature_allowance() -> None:
    """Quoted history must never leak, whatever the signature policy."""
    _require_corpus()
    for entry in ENTRIES:
        got, _ = evaluate(entry, allowance=False)
        quoted = entry.get("quoted_contains", [])
        leaked = [q for q in quoted if _norm(q) and _norm(q) in _norm(got)]
        assert not leaked, f"{entry['path']}: {leaked}"


if __name__ == "__main__":  # pragma: no cover - manual report
    import sys

    if not ENTRIES:
        sys.exit(f"no corpus at {CORPUS}")
    for allowance in (False, True):
        s = summarise(allowance)
        label = "with signature allowance" if allowance else "raw output (no allowance)"
        print(
            f"{label}: exact {s.exact}/{s.exact_total} = {s.rate:.1%}; leaks {s.leaks} "
            f"(of which quoted_contains {s.quoted_leaks}); "
            f"entries failing a partial expectation {s.partial_failures}"
        )
        if "-v" in sys.argv:
            for line in s.failures:
                print("   ", line)
