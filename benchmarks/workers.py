"""End to end with `helpdesk-mail worker` processes: 200 mailbox accounts x 10 messages
on Dovecot (IMAP, implicit TLS), stored in PostgreSQL, each new ticket's confirmation
delivered to aiosmtpd; with 1 and then 2 worker processes, and with 1 on SQLite.

In the same run, for comparison: the in-memory poller (`Poller` with `InMemoryStorage`,
in this process, no delivery) drains the same 200 x 10 messages.

A run's time goes from the first worker's start-up line (imports done, database
checked) to the last confirmation received by the SMTP server; its messages/s is
2,000 over that time. `coordination_overhead` is the workers' own CPU seconds per
message (user + system, from their start-up line to their exit, start-up excluded)
with 2 workers divided by that with 1: what leases and claims cost, independent of
how much CPU the servers (Dovecot, PostgreSQL, aiosmtpd) take on the machine's cores.
`duplicates` counts tickets and emails beyond one per message. `accounts_per_minute_1`
is the 200 accounts over the 1-worker PostgreSQL run's time.

The machine is shared: `machine_busy_1` and `_2` are how busy its cores were
during each run (1.0: both, all the time), `load_at_start` its load average when
the benchmark began; other people's work on the same cores lowers every figure.

Targets: `scaling_2_to_1` >= 1.3, `coordination_overhead` <= 1.15, `duplicates` 0, and
one worker on PostgreSQL >= 50% of the in-memory poller's messages/s.

It starts its own Dovecot and PostgreSQL (tests/services/*.sh) in
/tmp/helpdesk-bench-workers on ports 23xxx (or where HELPDESK_SERVICES_DIR and the
HELPDESK_TEST_*_PORT variables say, see harness.py), and stops them at the end. Run from the
repository root with no arguments; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT, Servers, SMTPTestServer, WorkerProcess, machine_cpu, smtp_server

from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.settings import load_settings
from helpdesk_mail.shell.poller import Poller
from helpdesk_mail.transports.mailbox import MailTransport

ACCOUNTS = 200
PER_ACCOUNT = 10
MESSAGES = ACCOUNTS * PER_ACCOUNT
BATCH = 10
PASSWORD_VARIABLE = "HELPDESK_BENCH_IMAP_PASSWORD"
FOLDERS = [f"acct{i:03d}" for i in range(ACCOUNTS)]


def settings_file(servers: Servers, smtp_port: int, directory: Path) -> Path:
    lines = [
        "[incoming]",
        'helpdesk_addresses = ["support@acme.test"]',
        "",
        "[notifications]",
        "notify_admins_new_tickets = false",
        "notify_techs_new_tickets = false",
        "",
        "[outgoing]",
        'from_address = "support@acme.test"',
        'from_name = "Acme Support"',
        'helpdesk_url = "https://helpdesk.acme.test"',
        'secret_key = "benchmark-key"',
        'smtp_host = "127.0.0.1"',
        f"smtp_port = {smtp_port}",
        'smtp_tls = "none"',
        "",
    ]
    for folder in FOLDERS:
        lines += [
            "[[incoming.accounts]]",
            f'name = "{folder}"',
            f'host = "{servers.host}"',
            f"port = {servers.port('IMAPS')}",
            f'username = "{servers.user}"',
            f'password_env = "{PASSWORD_VARIABLE}"',
            f'ca_file = "{servers.ca_file}"',
            f'folder = "{folder}"',
            f"batch_size = {BATCH}",
            "",
        ]
    path = directory / "helpdesk.toml"
    path.write_text("\n".join(lines))
    return path


def fill(servers: Servers, run: str) -> None:
    """Empty the 200 folders and drop 10 new-ticket mails from new customers in each.

    Each account's customers write from a domain of their own (10 emails a domain):
    2,000 new senders at one domain in a few seconds are what the inbound flood limits
    (`incoming.domain_rate_limits`, 300 in 10 minutes) hold for review."""
    servers.reset_folders(FOLDERS)
    for a, folder in enumerate(FOLDERS):
        raws = []
        for n in range(PER_ACCOUNT):
            tag = f"{run}-{a:03d}-{n:02d}"
            raws.append(
                (
                    f"From: Customer {tag} <c{tag}@customers{a:03d}.example.com>\n"
                    "To: support@acme.test\n"
                    f"Subject: Request {tag}\n"
                    "Date: Thu, 01 Jan 2026 09:00:00 +0000\n"
                    f"Message-ID: <{tag}@example.com>\n"
                    "Content-Type: text/plain; charset=utf-8\n\n"
                    f"Hello, this is request {tag}.\n" + "Some more text of a usual length.\n" * 20
                ).encode()
            )
        servers.drop(raws, folder)
    counts = servers.index(FOLDERS)
    assert sum(counts.values()) == MESSAGES, counts


def in_memory(servers: Servers, settings_path: Path) -> float:
    """The in-memory poller over the 200 accounts: messages/s (no delivery)."""
    fill(servers, "mem")
    os.environ[PASSWORD_VARIABLE] = servers.users[servers.user]
    settings = load_settings(settings_path)
    storage = InMemoryStorage()
    poller = Poller(settings, storage, MailTransport(), ManualClock(), SeededRandom(0))
    started = time.monotonic()
    report = poller.run_once(force=True)
    elapsed = time.monotonic() - started
    assert report.processed == MESSAGES and not report.errors, report
    return MESSAGES / elapsed


def end_to_end(
    servers: Servers,
    smtp: SMTPTestServer,
    settings_path: Path,
    url: str,
    workers: int,
    run: str,
    logs: Path,
) -> dict[str, float]:
    """`workers` worker processes drain the 200 x 10 messages into `url` and deliver."""
    import sqlalchemy as sa

    fill(servers, run)
    migrate = [sys.executable, "-m", "helpdesk_mail", "migrate", "--db", url]
    subprocess.run(migrate, check=True, capture_output=True)
    smtp.clear()
    env = {PASSWORD_VARIABLE: servers.users[servers.user]}
    # polling throughput is measured here (IDLE: benchmarks/latency.py); 200 folders of
    # one login are polled, not watched
    args = ["--settings", str(settings_path), "--db", url, "--no-idle"]
    args += ["--poll-seconds", "3600", "--idle-seconds", "0.5"]
    procs = [
        WorkerProcess([*args, "--name", f"{run}-w{i}"], logs / f"{run}-w{i}.log", env)
        for i in range(workers)
    ]
    busy0, total0 = machine_cpu()
    try:
        deadline = time.monotonic() + 240
        for p in procs:
            if not p.ready.wait(max(1.0, deadline - time.monotonic())):
                raise SystemExit(f"{run}: a worker did not start, see {p.log_path}")
        t0 = min(p.ready_at for p in procs) + (time.time() - time.monotonic())
        while len(smtp.messages) < MESSAGES:
            if time.monotonic() > deadline or not all(p.alive() for p in procs):
                codes = [p.process.poll() for p in procs]
                raise SystemExit(
                    f"{run}: {len(smtp.messages)} of {MESSAGES} emails received (exit {codes})"
                )
            time.sleep(0.05)
    except BaseException:
        for p in procs:
            p.kill()
        raise
    elapsed = max(m.received_at for m in smtp.messages) - t0
    busy1, total1 = machine_cpu()
    cpu = 0.0
    for p in procs:
        status, total = p.terminate()
        assert status == 0, f"{run}: worker exit status {status}, see {p.log_path}"
        cpu += total - p.ready_cpu
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        tickets = connection.execute(sa.text("SELECT count(*) FROM hdm_tickets")).scalar_one()
        subjects = connection.execute(
            sa.text("SELECT count(DISTINCT subject) FROM hdm_tickets")
        ).scalar_one()
        leases = connection.execute(
            sa.text("SELECT count(*) FROM hdm_mailboxes WHERE lease_owner IS NOT NULL")
        ).scalar_one()
    engine.dispose()
    time.sleep(0.5)  # anything sent twice would have arrived by now
    ids = [m.message.get("Message-ID") for m in smtp.messages]
    recipients = [r for m in smtp.messages for r in m.rcpt_tos]
    duplicates = (tickets - subjects) + (len(ids) - len(set(ids)))
    duplicates += len(recipients) - len(set(recipients))
    assert tickets == MESSAGES and leases == 0, (tickets, leases)
    return {
        "messages_per_s": MESSAGES / elapsed,
        "seconds": elapsed,
        "cpu_per_message": cpu / MESSAGES,
        "duplicates": duplicates,
        "machine_busy": (busy1 - busy0) / (total1 - total0),
        "workers_cores": cpu / elapsed,
    }


LOAD_AT_START = 0.0


def main() -> int:
    global ACCOUNTS, MESSAGES, FOLDERS, LOAD_AT_START
    LOAD_AT_START = float(Path("/proc/loadavg").read_text().split()[0])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=ACCOUNTS, help="for a quick look")
    parser.add_argument("--only", choices=["memory", "pg1", "pg2", "sqlite"], action="append")
    options = parser.parse_args()
    ACCOUNTS = options.accounts
    MESSAGES = ACCOUNTS * PER_ACCOUNT
    FOLDERS = [f"acct{i:03d}" for i in range(ACCOUNTS)]
    only = set(options.only or ["memory", "pg1", "pg2", "sqlite"])
    servers = Servers("workers", 23000)
    logs = Path(tempfile.mkdtemp(prefix="helpdesk-bench-workers-logs-"))
    started = time.monotonic()
    results: dict[str, dict[str, float]] = {}
    memory_rate = 0.0
    with servers, smtp_server(logs / "tls") as smtp:
        settings_path = settings_file(servers, smtp.plain_port, logs)
        if "memory" in only:
            memory_rate = in_memory(servers, settings_path)
            print(f"in-memory poller (no delivery): {memory_rate:.0f} messages/s", flush=True)
        for label, workers in (("pg1", 1), ("pg2", 2), ("sqlite", 1)):
            if label not in only:
                continue
            if label == "sqlite":
                url = f"sqlite:///{logs / 'bench.db'}"
            else:
                url = servers.fresh_database(f"bench_{label}")
            results[label] = end_to_end(servers, smtp, settings_path, url, workers, label, logs)
            r = results[label]
            print(
                f"{label}, {workers} worker(s): {r['messages_per_s']:.0f} messages/s"
                f" ({r['seconds']:.1f} s), {r['cpu_per_message'] * 1000:.2f} ms worker CPU"
                f" per message, {r['duplicates']} duplicates; the workers used"
                f" {r['workers_cores']:.2f} cores, the machine was {r['machine_busy']:.0%} busy",
                flush=True,
            )
    if only != {"memory", "pg1", "pg2", "sqlite"}:
        print(f"logs: {logs} (a partial run: no summary)")
        return 0
    one, two = results["pg1"], results["pg2"]
    summary = {
        "messages": MESSAGES,
        "messages_per_s_1": round(one["messages_per_s"], 1),
        "messages_per_s_2": round(two["messages_per_s"], 1),
        "scaling_2_to_1": round(two["messages_per_s"] / one["messages_per_s"], 2),
        "coordination_overhead": round(two["cpu_per_message"] / one["cpu_per_message"], 3),
        "duplicates": int(sum(r["duplicates"] for r in results.values())),
        "accounts_per_minute_1": round(ACCOUNTS / (one["seconds"] / 60), 1),
        "sqlite_messages_per_s": round(results["sqlite"]["messages_per_s"], 1),
        "in_memory_poller_messages_per_s": round(memory_rate, 1),
        "pg1_to_in_memory": round(one["messages_per_s"] / memory_rate, 2),
        "machine_busy_1": round(one["machine_busy"], 2),
        "machine_busy_2": round(two["machine_busy"], 2),
        "load_at_start": LOAD_AT_START,
        "seconds": round(time.monotonic() - started, 1),
    }
    ok = (
        summary["scaling_2_to_1"] >= 1.3
        and summary["coordination_overhead"] <= 1.15
        and summary["duplicates"] == 0
        and summary["pg1_to_in_memory"] >= 0.5
    )
    summary["targets_met"] = ok
    print(f"logs: {logs}")
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
