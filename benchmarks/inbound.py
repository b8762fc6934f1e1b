"""Speed and memory of `process_email`, as ratios against baselines measured in the same run.

- emails/s of `process_email` over the corpus (../shared/corpus, or the built-in
  sample mail when the corpus is absent), and its ratio to the parse floor: the
  stdlib's `email.message_from_bytes(raw, policy=email.policy.default)` plus
  decoding every part. Runs alternate between the two to cancel machine noise.
  Target: ratio <= 2.0.
- peak memory (tracemalloc) while processing a 25 MB message, as a multiple of its
  size. Target: <= 4.

Run from the repository root with no arguments; the last line is JSON.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from helpdesk_mail.inbound.process import process_email
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HELPDESK_MAIL_SHARED", ROOT.parent / "shared"))
ROUNDS = 5


def corpus() -> tuple[str, list[bytes]]:
    manifest = SHARED / "corpus" / "manifest.jsonl"
    if manifest.exists():
        raws = []
        for line in manifest.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry.get("format") in (None, "rfc822"):
                raws.append((SHARED / "corpus" / entry["path"]).read_bytes())
        return "corpus", raws
    from helpdesk_mail.samples import sample_messages

    return "samples", [raw for _, raw in sample_messages()] * 20


def parse_floor(raw: bytes) -> None:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.is_multipart():
            continue
        try:
            part.get_content()  # type: ignore[attr-defined]
        except Exception:
            part.get_payload(decode=True)


def timed(fn: Callable[[bytes], object], raws: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in raws:
        fn(raw)
    return time.perf_counter() - start


def big_message(size: int) -> bytes:
    attachment = os.urandom(size * 3 // 4 - 2000)
    encoded = base64.encodebytes(attachment)
    head = (
        b"From: Jane Doe <jane@example.com>\r\nTo: support@acme.test\r\n"
        b"Subject: Big scan\r\nMessage-ID: <big@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nHere is the scan.\r\n--XX\r\n"
        b'Content-Type: application/pdf; name="scan.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="scan.pdf"\r\n\r\n'
    )
    return head + encoded.replace(b"\n", b"\r\n") + b"--XX--\r\n"


def main() -> int:
    settings = Settings()
    storage = InMemoryStorage()
    clock = ManualClock()
    rng = SeededRandom(0)

    def process(raw: bytes) -> object:
        return process_email(raw, settings, storage, clock, random=rng)

    source, raws = corpus()
    timed(process, raws)  # warm-up: imports, regex compilation
    timed(parse_floor, raws)
    ours: list[float] = []
    floor: list[float] = []
    for _ in range(ROUNDS):
        ours.append(timed(process, raws))
        floor.append(timed(parse_floor, raws))
    ours_s = statistics.median(ours)
    floor_s = statistics.median(floor)
    emails_per_s = len(raws) / ours_s
    ratio = ours_s / floor_s
    print(f"{source}: {len(raws)} emails")
    print(f"process_email: {emails_per_s:,.0f} emails/s (median of {ROUNDS})")
    print(f"parse floor:   {len(raws) / floor_s:,.0f} emails/s")
    print(f"ratio to floor: {ratio:.2f} (target <= 2.0)")

    size = 25 * 1024 * 1024
    raw = big_message(size)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    result = process(raw)
    big_s = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    peak_ratio = peak / len(raw)
    print(
        f"25 MB message: peak {peak / 2**20:,.1f} MiB = {peak_ratio:.2f}x its size "
        f"(target <= 4), {big_s:.2f} s under tracemalloc"
    )
    figures = {
        "source": source,
        "emails": len(raws),
        "emails_per_s": round(emails_per_s, 1),
        "floor_emails_per_s": round(len(raws) / floor_s, 1),
        "ratio_to_floor": round(ratio, 3),
        "peak_memory_ratio": round(peak_ratio, 3),
        "big_message_bytes": len(raw),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
