"""Draining 1,000 messages from a real Dovecot over IMAP and POP3 (implicit TLS, loopback).

For each protocol, in the same run and against the same server:

- poller: the real `Poller` (with `process_email` and in-memory storage) drains
  1,000 messages: messages/s and server round trips per message (the transports
  count every command sent and every answer waited for, the greeting included);
- transport: the transport alone lists, fetches and deletes the 1,000 messages in
  batches of 50 (no processing);
- naive: a plain `imaplib` loop with one `UID FETCH`, one `UID STORE +FLAGS
  (\\Deleted)` and one `EXPUNGE` per message (POP3: one `RETR` and one `DELE` per
  message, no pipelining, with `poplib`).

`ratio_to_naive` is naive time / transport time (higher is better). Targets over
IMAP: <= 0.1 round trips per message and a ratio >= 3. Transport and naive runs
alternate, ROUNDS times each, and the medians are compared.

Uses the Dovecot of tests/services/mailserver.sh: an already running one (or one
announced by HELPDESK_TEST_* variables), else it starts one and stops it at the
end. Run from the repository root with no arguments; the last line is JSON.
"""

from __future__ import annotations

import imaplib
import json
import os
import poplib
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.settings import (
    IncomingSettings,
    MailboxAccount,
    MailProtocol,
    Settings,
    TlsMode,
)
from helpdesk_mail.shell.poller import Poller
from helpdesk_mail.transports.imap import ImapTransport, TransportStats
from helpdesk_mail.transports.pop3 import Pop3Transport

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "services" / "mailserver.sh"
MESSAGES = 1000
BATCH = 50
ROUNDS = 3


def script(action: str) -> tuple[int, dict[str, str]]:
    proc = subprocess.run(
        ["bash", str(SCRIPT), action], capture_output=True, text=True, timeout=600, check=False
    )
    env = {}
    for line in proc.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            env[key] = value
    if proc.returncode not in (0, 3):
        sys.stderr.write(proc.stderr)
    return proc.returncode, env


def server() -> tuple[dict[str, str], bool]:
    if "HELPDESK_TEST_IMAP_PORT" in os.environ:
        return dict(os.environ), False
    running, _ = script("status")
    rc, env = script("start")
    if rc != 0:
        raise SystemExit("could not start Dovecot with tests/services/mailserver.sh")
    return env, running != 0


class Mailbox:
    """Fills and inspects the test user's INBOX (outside the code being measured)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.maildir = Path(env["HELPDESK_TEST_MAILDIR"])
        self.counter = 0

    def admin(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(
            self.env["HELPDESK_TEST_MAIL_HOST"], int(self.env["HELPDESK_TEST_IMAP_PORT"])
        )
        conn.login(self.env["HELPDESK_TEST_MAIL_USER"], self.env["HELPDESK_TEST_MAIL_PASSWORD"])
        return conn

    def fill(self, count: int) -> None:
        """Empty the INBOX, drop `count` messages into Maildir/new and let Dovecot index them."""
        conn = self.admin()
        _typ, data = conn.select("INBOX")
        if int(data[0] or 0):
            conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            conn.expunge()
        owner = os.stat(self.maildir)
        for _ in range(count):
            self.counter += 1
            n = self.counter
            raw = (
                f"From: Customer {n} <customer{n}@example.com>\n"
                "To: support@acme.test\n"
                f"Subject: Request number {n}\n"
                "Date: Thu, 01 Jan 2026 09:00:00 +0000\n"
                f"Message-ID: <bench-{n}-{os.getpid()}@example.com>\n"
                "Content-Type: text/plain; charset=utf-8\n\n"
                f"Hello, this is request {n}.\n" + "Some more text of a usual length.\n" * 40
            ).encode()
            name = f"{int(time.time())}.M{n}P{os.getpid()}.bench"
            tmp = self.maildir / "tmp" / name
            tmp.write_bytes(raw)
            if os.geteuid() == 0:
                os.chown(tmp, owner.st_uid, owner.st_gid)
            tmp.rename(self.maildir / "new" / name)
        conn.noop()  # Dovecot picks up and indexes the new files here, not in the timed part
        conn.select("INBOX")
        conn.logout()

    def count(self) -> int:
        conn = self.admin()
        _typ, data = conn.select("INBOX", readonly=True)
        conn.logout()
        return int(data[0] or 0)


def account(env: dict[str, str], protocol: MailProtocol) -> MailboxAccount:
    port = env[
        "HELPDESK_TEST_IMAPS_PORT" if protocol is MailProtocol.IMAP else "HELPDESK_TEST_POP3S_PORT"
    ]
    return MailboxAccount(
        name="bench",
        host=env["HELPDESK_TEST_MAIL_HOST"],
        protocol=protocol,
        port=int(port),
        tls=TlsMode.IMPLICIT,
        username=env["HELPDESK_TEST_MAIL_USER"],
        password=env["HELPDESK_TEST_MAIL_PASSWORD"],
        ca_file=env["HELPDESK_TEST_MAIL_CA_FILE"],
        batch_size=BATCH,
    )


def transport_for(protocol: MailProtocol) -> ImapTransport | Pop3Transport:
    return ImapTransport() if protocol is MailProtocol.IMAP else Pop3Transport()


def run_poller(box: Mailbox, acc: MailboxAccount) -> tuple[float, TransportStats, int]:
    box.fill(MESSAGES)
    transport = transport_for(acc.protocol)
    settings = Settings(
        incoming=IncomingSettings(
            helpdesk_addresses=("support@acme.test",),
            accounts=(acc,),
            sender_rate_limits=(),  # a throughput benchmark, not a flood
            domain_rate_limits=(),
        )
    )
    storage = InMemoryStorage()
    poller = Poller(settings, storage, transport, ManualClock(), SeededRandom(0))
    started = time.perf_counter()
    report = poller.run_once()
    elapsed = time.perf_counter() - started
    assert report.processed == MESSAGES and box.count() == 0, report
    return elapsed, transport.stats, len(storage.tickets)


def run_transport(box: Mailbox, acc: MailboxAccount) -> tuple[float, TransportStats]:
    box.fill(MESSAGES)
    transport = transport_for(acc.protocol)
    started = time.perf_counter()
    with transport.open(acc) as session:
        uids = list(session.list_uids())
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            fetched = [uid for uid, _ in session.fetch(batch)]
            session.delete(fetched)
    elapsed = time.perf_counter() - started
    assert box.count() == 0
    return elapsed, transport.stats


def run_naive(box: Mailbox, acc: MailboxAccount) -> float:
    box.fill(MESSAGES)
    context = ssl.create_default_context(cafile=acc.ca_file)
    started = time.perf_counter()
    if acc.protocol is MailProtocol.IMAP:
        conn = imaplib.IMAP4_SSL(acc.host, acc.effective_port, ssl_context=context)
        conn.login(acc.username, acc.password)
        conn.select("INBOX")
        _typ, data = conn.uid("SEARCH", "ALL")
        for uid in data[0].split():
            conn.uid("FETCH", uid, "(BODY.PEEK[])")
            conn.uid("STORE", uid, "+FLAGS", r"(\Deleted)")
            conn.expunge()
        conn.logout()
    else:
        pop = poplib.POP3_SSL(acc.host, acc.effective_port, context=context)
        pop.user(acc.username)
        pop.pass_(acc.password)
        count, _ = pop.stat()
        for n in range(1, count + 1):
            pop.retr(n)
            pop.dele(n)
        pop.quit()
    elapsed = time.perf_counter() - started
    assert box.count() == 0
    return elapsed


def measure(box: Mailbox, acc: MailboxAccount) -> dict[str, float]:
    name = acc.protocol.value
    poll_s, poll_stats, tickets = run_poller(box, acc)
    assert tickets == MESSAGES
    transport_times: list[float] = []
    naive_times: list[float] = []
    stats = TransportStats()
    for _ in range(ROUNDS):
        elapsed, stats = run_transport(box, acc)
        transport_times.append(elapsed)
        naive_times.append(run_naive(box, acc))
    transport_s = statistics.median(transport_times)
    naive_s = statistics.median(naive_times)
    figures = {
        "messages_per_s": MESSAGES / poll_s,
        "poller_s": poll_s,
        "round_trips_per_message": poll_stats.round_trips / MESSAGES,
        "commands_per_message": poll_stats.commands / MESSAGES,
        "transport_s": transport_s,
        "transport_round_trips_per_message": stats.round_trips / MESSAGES,
        "naive_s": naive_s,
        "ratio_to_naive": naive_s / transport_s,
    }
    print(f"{name.upper()} (implicit TLS, batches of {BATCH}, {MESSAGES} messages)")
    rate = figures["messages_per_s"]
    print(f"  poller (fetch, process_email, commit, delete): {poll_s:.2f} s, {rate:.0f} messages/s")
    print(
        f"  round trips per message: {figures['round_trips_per_message']:.3f}"
        f" ({poll_stats.round_trips} in {poll_stats.connections} connection(s));"
        f" commands per message: {figures['commands_per_message']:.3f}"
    )
    print(
        f"  transport only (list, fetch, delete): median {transport_s:.3f} s"
        f" of {', '.join(f'{t:.3f}' for t in transport_times)}"
    )
    what = "FETCH + STORE + EXPUNGE" if acc.protocol is MailProtocol.IMAP else "RETR + DELE"
    print(
        f"  naive loop ({what} per message): median {naive_s:.3f} s"
        f" of {', '.join(f'{t:.3f}' for t in naive_times)}"
    )
    print(f"  transport vs naive: {figures['ratio_to_naive']:.1f}x faster")
    return figures


def main() -> int:
    env, started = server()
    try:
        box = Mailbox(env)
        box.admin().logout()  # the first login creates the Maildir
        results: dict[str, dict[str, float]] = {}
        for protocol in (MailProtocol.IMAP, MailProtocol.POP3):
            results[protocol.value] = measure(box, account(env, protocol))
            print()
    finally:
        if started:
            script("stop")
    imap, pop3 = results["imap"], results["pop3"]
    ok = imap["round_trips_per_message"] <= 0.1 and imap["ratio_to_naive"] >= 3
    print(
        "targets over IMAP: round trips per message <= 0.1"
        f" ({imap['round_trips_per_message']:.3f}), transport >= 3x naive"
        f" ({imap['ratio_to_naive']:.1f}x): {'met' if ok else 'NOT met'}"
    )
    summary: dict[str, object] = {
        "messages": MESSAGES,
        "messages_per_s": round(imap["messages_per_s"], 1),
        "ratio_to_naive": round(imap["ratio_to_naive"], 2),
        "round_trips_per_message": round(imap["round_trips_per_message"], 4),
        "transport_s": round(imap["transport_s"], 3),
        "naive_s": round(imap["naive_s"], 3),
        "pop3_messages_per_s": round(pop3["messages_per_s"], 1),
        "pop3_ratio_to_naive": round(pop3["ratio_to_naive"], 2),
        "pop3_round_trips_per_message": round(pop3["round_trips_per_message"], 4),
        "targets_met": ok,
    }
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
