"""Seconds from a message's arrival in the mailbox to its commit, with IMAP IDLE and
without: 50 messages appended to Dovecot at random moments (seeded) while one
`helpdesk-mail worker` process runs on SQLite.

- IDLE on: the account's check interval is 5 minutes (the spec's longest), so every
  commit but the start-up poll's comes from the server announcing the mail.
- IDLE off (`--no-idle`), for comparison: a 5-minute interval cannot fit in this
  benchmark's own 5 minutes (and would only show about half of it at the median), so
  the comparison runs at the spec's SHORTEST interval, 1 minute, the best polling can
  do; its messages arrive over one interval, so the figures are what polling gives
  whatever the phase.

A message's time runs from the moment Dovecot answered its APPEND (on a connection of
the benchmark's own) to the `at` of its receipt in the worker's database (written in
the transaction that commits it; one machine, one clock). Each run's 50 messages come
at uniformly random moments over `WINDOW` seconds after the worker's first poll.

Targets (IDLE on): `p50_seconds_to_commit` <= 2 and `p95_seconds_to_commit` <= 5.

It starts its own Dovecot (tests/services/mailserver.sh) in /tmp/helpdesk-bench-latency
on ports 25xxx and the tests' aiosmtpd in this process (the confirmations go there),
and stops them at the end. Run from the repository root with no arguments (about 2.5
minutes); the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from harness import ROOT, Servers, SMTPTestServer, WorkerProcess, _script, smtp_server

MESSAGES = 50
WINDOW = 60.0
"""Seconds over which each run's messages arrive (one interval of the IDLE-off run)."""
INTERVAL_IDLE = 5
INTERVAL_POLLING = 1
PASSWORD_VARIABLE = "HELPDESK_BENCH_IMAP_PASSWORD"


class MailOnly(Servers):
    """Dovecot only: the worker's database is a SQLite file."""

    def start(self) -> None:
        self.mail = _script("mailserver.sh", "start", self.settings_env)
        self.admin().logout()  # the first login makes the user's Maildir

    def stop(self) -> None:
        _script("mailserver.sh", "stop", self.settings_env)


def settings_file(servers: Servers, smtp_port: int, interval: int, directory: Path) -> Path:
    path = directory / f"latency-{interval}min.toml"
    path.write_text(
        "\n".join(
            [
                "[incoming]",
                'helpdesk_addresses = ["support@acme.test"]',
                f"check_interval_minutes = {interval}",
                "",
                "[[incoming.accounts]]",
                'name = "support"',
                f'host = "{servers.host}"',
                f"port = {servers.port('IMAPS')}",
                f'username = "{servers.user}"',
                f'password_env = "{PASSWORD_VARIABLE}"',
                f'ca_file = "{servers.ca_file}"',
                "",
                "[notifications]",
                "notify_admins_new_tickets = false",
                "notify_techs_new_tickets = false",
                "",
                "[outgoing]",
                'from_address = "support@acme.test"',
                'helpdesk_url = "https://helpdesk.acme.test"',
                'secret_key = "benchmark-key"',
                'smtp_host = "127.0.0.1"',
                f"smtp_port = {smtp_port}",
                'smtp_tls = "none"',
                "",
            ]
        )
    )
    return path


def message(run: str, n: int) -> bytes:
    return (
        f"From: Customer {n} <c{n}@latency.example>\r\n"
        "To: support@acme.test\r\n"
        f"Subject: {run} problem {n}\r\n"
        f"Message-ID: <{run}-{n}@latency.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello, problem {n} here.\r\n"
    ).encode()


def receipts(url: str) -> dict[str, datetime]:
    """{Message-ID: when its receipt was written} from the worker's database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT message_id, at FROM hdm_receipts"))
            found: dict[str, datetime] = {}
            for message_id, at in rows:
                when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
                found[str(message_id)] = when
            return found
    finally:
        engine.dispose()


def one_run(
    run: str,
    servers: Servers,
    smtp: SMTPTestServer,
    directory: Path,
    rng: random.Random,
    *,
    idle: bool,
) -> dict[str, float | int]:
    interval = INTERVAL_IDLE if idle else INTERVAL_POLLING
    settings = settings_file(servers, smtp.port, interval, directory)
    url = f"sqlite:///{directory / f'{run}.db'}"
    servers.reset_folders(["INBOX"])
    args = ["--settings", str(settings), "--db", url, "--migrate"]
    if not idle:
        args.append("--no-idle")
    env = {PASSWORD_VARIABLE: servers.users[servers.user]}
    worker = WorkerProcess(args, directory / f"{run}.log", env)
    try:
        if worker.wait_for_line(r"poll: 1 accounts polled", 60) is None:
            raise SystemExit(f"{run}: the worker did not poll (log: {worker.log_path})")
        if idle and worker.wait_for_line(r"IDLE: watching", 60) is None:
            raise SystemExit(f"{run}: the worker did not start IDLE (log: {worker.log_path})")
        moments = sorted(rng.uniform(0, WINDOW) for _ in range(MESSAGES))
        appended: dict[str, float] = {}
        conn = servers.admin()
        start = time.time()
        try:
            for n, moment in enumerate(moments):
                delay = start + moment - time.time()
                if delay > 0:
                    time.sleep(delay)
                typ, data = conn.append('"INBOX"', None, None, message(run, n))
                if typ != "OK":
                    raise SystemExit(f"{run}: APPEND failed: {data}")
                appended[f"<{run}-{n}@latency.example>"] = time.time()
        finally:
            conn.logout()
        deadline = time.monotonic() + 60 * interval + 30
        found = receipts(url)
        while len(found) < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.5)
            found = receipts(url)
    finally:
        status, _cpu = worker.terminate()
    # counted once the worker is gone: a round's line comes after its commits
    polls = sum(1 for line in worker.lines if "poll: 1 accounts polled" in line)
    missing = sorted(set(appended) - set(found))
    if missing or status != 0:
        raise SystemExit(f"{run}: {len(missing)} not committed, exit {status} ({worker.log_path})")
    seconds = sorted(found[mid].timestamp() - appended[mid] for mid in appended)
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50": round(statistics.median(seconds), 3),
        "p95": round(cuts[94], 3),
        "max": round(seconds[-1], 3),
        "min": round(seconds[0], 3),
        "polls": polls,
        "interval_minutes": interval,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=14)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    started = time.monotonic()
    load = os.getloadavg()[0]
    servers = MailOnly("latency", 25000)
    directory = Path(tempfile.mkdtemp(prefix="helpdesk-bench-latency-"))
    with servers, smtp_server(directory / "tls") as smtp:
        with_idle = one_run("idle", servers, smtp, directory, rng, idle=True)
        polling = one_run("polling", servers, smtp, directory, rng, idle=False)
    result = {
        "benchmark": "latency",
        "messages": MESSAGES,
        "window_seconds": WINDOW,
        "p50_seconds_to_commit": with_idle["p50"],
        "p95_seconds_to_commit": with_idle["p95"],
        "max_seconds_to_commit": with_idle["max"],
        "check_interval_minutes": with_idle["interval_minutes"],
        "poll_rounds": with_idle["polls"],
        "no_idle_p50_seconds_to_commit": polling["p50"],
        "no_idle_p95_seconds_to_commit": polling["p95"],
        "no_idle_max_seconds_to_commit": polling["max"],
        "no_idle_check_interval_minutes": polling["interval_minutes"],
        "no_idle_poll_rounds": polling["polls"],
        "comparison": (
            "IDLE off is measured at the spec's shortest check interval (1 minute), not 5: "
            "a 5-minute interval does not fit in a 5-minute benchmark; at 5 minutes expect "
            "about 5x these figures"
        ),
        "targets": {"p50_seconds_to_commit": 2.0, "p95_seconds_to_commit": 5.0},
        "meets_targets": with_idle["p50"] <= 2.0 and with_idle["p95"] <= 5.0,
        "load_at_start": round(load, 2),
        "seconds": round(time.monotonic() - started, 1),
        "python": sys.version.split()[0],
        "revision": _revision(),
    }
    print(json.dumps(result))
    return 0


def _revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return ""
    return out.stdout.strip()


if __name__ == "__main__":
    raise SystemExit(main())
