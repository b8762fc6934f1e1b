"""Cost of DKIM signing (`transports.dkim.DkimSigner.sign`): fixed cost and linearity.

Signing serializes the message once (as `SmtpTransport` does again when it sends),
canonicalizes and hashes it (dkimpy) and makes one RSA-2048 signature. Printed:

- the time to sign a sample notification (mostly the RSA signature). Target < 0.1 s.
- for each hostile shape (text lines, blank lines, one long line, an attachment,
  header fields), the time to sign 1 MB and 2 MB of it, and their ratio. Targets:
  1 MB in < 2 s (the rule for every text path: about a second per MB, here with the
  email package's serialization included) and a ratio < 2.5 (linear).

Run from the repository root with no arguments (needs the `dkim` extra); the last
line is JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from pathlib import Path

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.samples.preview import (
    SAMPLES,
    sample_clock,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.transports.dkim import DkimSigner

ROOT = Path(__file__).resolve().parents[1]
KEY = ROOT / "tests" / "services" / "dkim" / "test-dkim.pem"  # the public test key
ROUNDS = 3


def _message(body: str = "hi\n", attachment: bytes = b"", fields: int = 0) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Acme Support <support@acme.test>"
    msg["To"] = "jane@example.com"
    msg["Subject"] = "[#1234] Printer on fire"
    for i in range(fields):
        msg.set_raw(f"X-Field-{i}", "v" * 40)
    msg.set_content(body)
    if attachment:
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream")
    return msg


def _sample() -> EmailMessage:
    messages = render_message(
        SAMPLES[TemplateKind.TICKET_UPDATED],
        None,
        sample_settings(),
        sample_storage(),
        sample_clock(),
        sample_random(),
    )
    assert messages
    return messages[0]


# name -> a message of about `mb` megabytes of that shape
SHAPES: dict[str, Callable[[int], EmailMessage]] = {
    "text lines": lambda mb: _message("hello world\n" * 87_000 * mb),
    "blank lines": lambda mb: _message("\n" * 1_000_000 * mb + "x"),
    "one long line": lambda mb: _message("a " * 500_000 * mb),
    "attachment": lambda mb: _message(attachment=os.urandom(750_000 * mb)),
    "header fields": lambda mb: _message(fields=20_000 * mb),
}


def _best(run: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    signer = DkimSigner.from_pem(KEY.read_bytes(), "default", "acme.test")
    sample = _sample()
    fixed = _best(lambda: signer.sign(sample))
    print(f"{'sample ticket_updated':<16} sign {fixed:.3f} s (target < 0.1)")
    results: dict[str, dict[str, float]] = {}
    for name, make in SHAPES.items():
        one, two = make(1), make(2)
        t1 = _best(lambda m=one: signer.sign(m))
        t2 = _best(lambda m=two: signer.sign(m))
        results[name] = {"1mb_s": round(t1, 3), "2mb_s": round(t2, 3), "ratio": round(t2 / t1, 2)}
        print(f"{name:<16} 1 MB {t1:6.3f} s   2 MB {t2:6.3f} s   x{t2 / t1:.2f}")
    ok = fixed < 0.1 and all(r["1mb_s"] < 2 and r["ratio"] < 2.5 for r in results.values())
    print(json.dumps({"sample_s": round(fixed, 4), "shapes": results, "ok": ok}))


if __name__ == "__main__":
    main()
