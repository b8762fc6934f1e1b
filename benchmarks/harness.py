"""Shared parts of benchmarks/workers.py and benchmarks/crash.py: their own servers,
mailboxes filled fast, fresh databases, and `helpdesk-mail worker` processes.

Each benchmark runs its own Dovecot (tests/services/mailserver.sh) and PostgreSQL
(tests/services/pgserver.sh) in its own state directory (/tmp/helpdesk-bench-NAME) on
its own ports, so it never touches the test suite's servers, and stops them at the
end; the SMTP server is the tests' aiosmtpd (tests/services/smtp_testserver.py), in
the benchmark's process. The same variables as the service scripts choose other
ones (several people on one machine): HELPDESK_SERVICES_DIR, HELPDESK_TEST_IMAP_PORT,
_IMAPS_PORT, _POP3_PORT, _POP3S_PORT, _IMAP_NOTLS_PORT, _POP3_NOTLS_PORT and
HELPDESK_TEST_PG_PORT; a server already running there is used and left running.
Not a module of the library: imported by the scripts next to it.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "tests" / "services"
sys.path.insert(0, str(SERVICES))

from smtp_testserver import SMTPTestServer  # noqa: E402

__all__ = ["ROOT", "SMTPTestServer", "Servers", "WorkerProcess", "cpu_seconds", "machine_cpu"]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _script(name: str, action: str, env: dict[str, str]) -> dict[str, str]:
    proc = subprocess.run(
        ["bash", str(SERVICES / name), action],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **env},
    )
    if proc.returncode not in (0, 3):
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{name} {action} failed (status {proc.returncode})")
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            found[key] = value
    return found


def _status(name: str, env: dict[str, str]) -> bool:
    """Whether the service of script `name` is running already."""
    proc = subprocess.run(
        ["bash", str(SERVICES / name), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    return proc.returncode == 0


@dataclass
class Servers:
    """Dovecot and PostgreSQL of one benchmark: state in /tmp/helpdesk-bench-`name`,
    ports from `base` (base+143 IMAP, +993 IMAPS, +110 POP3, +995 POP3S, +432 PG)."""

    name: str
    base: int
    mail: dict[str, str] = field(default_factory=dict)
    pg: dict[str, str] = field(default_factory=dict)
    _unique: int = 0

    _running: set[str] = field(default_factory=set)

    @property
    def settings_env(self) -> dict[str, str]:
        """The service scripts' variables: the environment's, else this benchmark's own."""
        defaults = {
            "HELPDESK_SERVICES_DIR": f"/tmp/helpdesk-bench-{self.name}",
            "HELPDESK_TEST_IMAP_PORT": str(self.base + 143),
            "HELPDESK_TEST_IMAPS_PORT": str(self.base + 993),
            "HELPDESK_TEST_POP3_PORT": str(self.base + 110),
            "HELPDESK_TEST_POP3S_PORT": str(self.base + 995),
            "HELPDESK_TEST_IMAP_NOTLS_PORT": str(self.base + 144),
            "HELPDESK_TEST_POP3_NOTLS_PORT": str(self.base + 111),
            "HELPDESK_TEST_PG_PORT": str(self.base + 432),
        }
        return {key: os.environ.get(key) or value for key, value in defaults.items()}

    def start(self) -> None:
        for script in ("mailserver.sh", "pgserver.sh"):
            if _status(script, self.settings_env):
                self._running.add(script)  # someone else's: left running at the end
        self.mail = _script("mailserver.sh", "start", self.settings_env)
        self.pg = _script("pgserver.sh", "start", self.settings_env)
        for user in self.users:  # the first login makes each user's Maildir
            self.admin(user).logout()

    def stop(self) -> None:
        for script in ("mailserver.sh", "pgserver.sh"):
            if script in self._running:
                continue
            with contextlib.suppress(SystemExit):
                _script(script, "stop", self.settings_env)

    def __enter__(self) -> Servers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- Dovecot ---

    @property
    def host(self) -> str:
        return self.mail["HELPDESK_TEST_MAIL_HOST"]

    @property
    def ca_file(self) -> str:
        return self.mail["HELPDESK_TEST_MAIL_CA_FILE"]

    @property
    def users(self) -> dict[str, str]:
        """{login: password} of the three test users (the OAuth user's is its token)."""
        m = self.mail
        return {
            m["HELPDESK_TEST_MAIL_USER"]: m["HELPDESK_TEST_MAIL_PASSWORD"],
            m["HELPDESK_TEST_MAIL_USER2"]: m["HELPDESK_TEST_MAIL_PASSWORD2"],
            m["HELPDESK_TEST_OAUTH_USER"]: m["HELPDESK_TEST_OAUTH_TOKEN"],
        }

    @property
    def user(self) -> str:
        return self.mail["HELPDESK_TEST_MAIL_USER"]

    def port(self, name: str) -> int:
        return int(self.mail[f"HELPDESK_TEST_{name}_PORT"])

    def admin(self, user: str | None = None) -> imaplib.IMAP4:
        user = user or self.user
        conn = imaplib.IMAP4(self.host, self.port("IMAP"), timeout=60)
        conn.login(user, self.users[user])
        return conn

    def maildir(self, user: str | None = None, folder: str = "INBOX") -> Path:
        base = (
            Path(self.mail["HELPDESK_TEST_MAIL_STATE"]) / "mail" / (user or self.user) / "Maildir"
        )
        return base if folder == "INBOX" else base / f".{folder}"

    def reset_folders(self, folders: Sequence[str], user: str | None = None) -> None:
        """Make `folders` exist and be empty (INBOX included when named)."""
        conn = self.admin(user)
        try:
            for folder in folders:
                if folder != "INBOX":
                    conn.create(f'"{folder}"')  # NO when it exists: fine
                typ, data = conn.select(f'"{folder}"')
                if typ == "OK" and int(data[0] or 0):
                    conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                    conn.expunge()
                conn.unselect()
        finally:
            conn.logout()

    def drop(self, raws: Iterable[bytes], folder: str = "INBOX", user: str | None = None) -> int:
        """Write messages straight into a folder's Maildir/new, as a delivery agent would."""
        target = self.maildir(user, folder)
        owner = os.stat(target)
        count = 0
        for raw in raws:
            self._unique += 1
            name = f"{int(time.time())}.M{self._unique}P{os.getpid()}.bench"
            tmp = target / "tmp" / name
            tmp.write_bytes(raw.replace(b"\r\n", b"\n"))
            if os.geteuid() == 0:
                os.chown(tmp, owner.st_uid, owner.st_gid)
            tmp.rename(target / "new" / name)
            count += 1
        return count

    def index(self, folders: Sequence[str], user: str | None = None) -> dict[str, int]:
        """Let Dovecot pick up the dropped files (outside any timed part); counts per folder."""
        conn = self.admin(user)
        found: dict[str, int] = {}
        try:
            for folder in folders:
                typ, data = conn.status(f'"{folder}"', "(MESSAGES)")
                match = re.search(rb"MESSAGES (\d+)", data[0] or b"") if typ == "OK" else None
                found[folder] = int(match[1]) if match else 0
        finally:
            conn.logout()
        return found

    # --- PostgreSQL ---

    def pg_connect(self, database: str | None = None) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.pg["HELPDESK_TEST_PG_HOST"],
            port=int(self.pg["HELPDESK_TEST_PG_PORT"]),
            user=self.pg["HELPDESK_TEST_PG_USER"],
            password=self.pg["HELPDESK_TEST_PG_PASSWORD"],
            dbname=database or self.pg["HELPDESK_TEST_PG_DB"],
            autocommit=True,
        )

    def fresh_database(self, name: str) -> str:
        """Drop and create database `name`; its SQLAlchemy URL (with the password)."""
        with self.pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        user, password = self.pg["HELPDESK_TEST_PG_USER"], self.pg["HELPDESK_TEST_PG_PASSWORD"]
        host, port = self.pg["HELPDESK_TEST_PG_HOST"], self.pg["HELPDESK_TEST_PG_PORT"]
        return f"postgresql+psycopg://{user}:{password}@{host}:{port}/{name}"


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (from /proc/stat):
    the difference of two readings over the total's tells how busy the machine was."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / CLOCK_TICKS, sum(fields) / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class WorkerProcess:
    """One `helpdesk-mail worker` process; its stderr goes to `log`, and `ready` is set
    (with the time and the CPU seconds spent starting) at its start-up line."""

    READY = re.compile(r"worker (\S+): database ")

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.log_path = log
        self.ready = threading.Event()
        self.ready_at = 0.0
        self.ready_cpu = 0.0
        self.name = ""
        self.lines: list[str] = []
        """Every line of its stderr so far (see `wait_for_line`)."""
        self._line_seen = threading.Condition()
        self._log: IO[str] = log.open("a", encoding="utf-8")
        base = list(command) if command else [sys.executable, "-m", "helpdesk_mail"]
        self.process = subprocess.Popen(
            [*base, "worker", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.pid = self.process.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if not self.ready.is_set():
                match = self.READY.search(line)
                if match:
                    self.ready_at = time.monotonic()
                    self.ready_cpu = cpu_seconds(self.pid)
                    self.name = match.group(1)
                    self.ready.set()
            self._log.write(line)
            with self._line_seen:
                self.lines.append(line)
                self._line_seen.notify_all()
        self._log.flush()
        with self._line_seen:
            self._line_seen.notify_all()

    def wait_for_line(self, pattern: str, timeout: float) -> str | None:
        """The first stderr line matching the regex `pattern`, waiting up to `timeout`
        seconds for it (None: not within the time, or the process ended)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._line_seen:
            while True:
                for line in self.lines[seen:]:
                    if regex.search(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (not self._reader.is_alive() and seen == len(self.lines)):
                    return None
                self._line_seen.wait(min(left, 1.0))

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self, timeout: float = 60.0) -> tuple[int, float]:
        """SIGTERM, wait; (exit status, CPU seconds of the whole process)."""
        if self.alive():
            self.process.terminate()
        return self.wait(timeout)

    def kill(self) -> tuple[int, float]:
        """SIGKILL, wait; (exit status, CPU seconds)."""
        if self.alive():
            self.process.kill()
        return self.wait(30.0)

    def wait(self, timeout: float) -> tuple[int, float]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:  # already reaped
                self.process.wait()
                return self.process.returncode, 0.0
            if pid == self.pid:
                self.process.returncode = os.waitstatus_to_exitcode(status)
                self._reader.join(5)
                self._log.close()
                return self.process.returncode, usage.ru_utime + usage.ru_stime
            if time.monotonic() > deadline:
                self.process.kill()
                deadline = time.monotonic() + 30
            time.sleep(0.02)


@contextlib.contextmanager
def smtp_server(tls_dir: Path) -> Iterator[SMTPTestServer]:
    """The tests' aiosmtpd, quiet (aiosmtpd logs every session at INFO)."""
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    server = SMTPTestServer(tls_dir=str(tls_dir))
    server.start()
    try:
        yield server
    finally:
        server.stop()
