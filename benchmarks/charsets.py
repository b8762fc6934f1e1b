"""Charset detection: how much unlabelled or mislabelled 8-bit mail decodes exactly.

Each sample of tests/unit/charset_samples.py (16 requests in 14 legacy charsets) is
sent four ways: without a charset parameter, labelled utf-8 and labelled us-ascii
(both wrong, and both fail to decode), and with an ASCII body ("headers only"); its
Subject and From name are raw 8-bit bytes in every case. For each way the counts
of exact body, Subject and From name are printed, then the time `parse_email`
takes per message.

Run from the repository root (`-v` lists each miss); the last line is JSON.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

from helpdesk_mail.inbound.parse import parse_email

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    "charset_samples", ROOT / "tests" / "unit" / "charset_samples.py"
)
assert _SPEC is not None and _SPEC.loader is not None
samples = importlib.util.module_from_spec(_SPEC)
sys.modules["charset_samples"] = samples
_SPEC.loader.exec_module(samples)

WAYS = {
    "undeclared": (None, True),
    "labelled utf-8": ("utf-8", True),
    "labelled us-ascii": ("us-ascii", True),
    "headers only": (None, False),
}


def main() -> None:
    figures: dict[str, dict[str, int]] = {}
    wrong: list[str] = []
    started = time.perf_counter()
    runs = 0
    for way, (label, with_body) in WAYS.items():
        counts = {"body": 0, "subject": 0, "from": 0, "all": len(samples.SAMPLES)}
        for sample in samples.SAMPLES:
            parsed, _ = parse_email(samples.message(sample, label, body=with_body))
            body = sample.body if with_body else "Ticket 4512\n"
            runs += 1
            checks = {
                "body": parsed.text.strip() == body.strip(),
                "subject": parsed.subject == sample.subject,
                "from": parsed.sender.name == sample.name,
            }
            for what, ok in checks.items():
                counts[what] += ok
                if not ok:
                    wrong.append(f"{way}: {sample.charset} ({sample.language}): {what}")
        figures[way] = counts
        of = f"/{counts['all']}"
        print(
            f"{way:18} body {counts['body']:2}{of}  "
            f"subject {counts['subject']:2}{of}  from {counts['from']:2}{of}"
        )
    per_message = (time.perf_counter() - started) / runs * 1000
    if "-v" in sys.argv:
        for line in wrong:
            print("  wrong:", line)
    print(f"parse_email: {per_message:.2f} ms per message")
    print(json.dumps({"figures": figures, "ms_per_message": round(per_message, 2)}))


if __name__ == "__main__":
    main()
