"""Fixtures for the tests against a real Dovecot (IMAP + POP3) on loopback.

`mail_server` (session): reuses a server announced by the environment
(`HELPDESK_TEST_IMAP_PORT` etc., e.g. after `eval "$(bash tests/services/mailserver.sh
start)"`), or one that `tests/services/mailserver.sh` reports as running; otherwise
it starts one (installing Dovecot with apt when missing) and stops it at the end of
the session. `mailbox` (per test): the same server with every folder of the test
users emptied first.

`dns_server` (session) does the same for the NSD of `tests/services/dnsserver.sh`
serving tests/services/dns-zones/ on 127.0.0.1 (port 5353 unless
HELPDESK_TEST_DNS_PORT says otherwise): (host, port), after checking that the
server serves every zone file as it is now, by SOA serial (a server started from
older zone files fails the fixture with the command that reloads it): bump a zone's
serial whenever you change its file.

`pg_server` (session) does the same for PostgreSQL with `tests/services/pgserver.sh`
(reused when `HELPDESK_TEST_PG_URL` is set), and `pg_url` (per test) is the SQLAlchemy
URL of a fresh, empty database of its own, dropped after the test.

The approach follows the team's verified reference fixtures (shared/services/
pytest_example/conftest.py), rewritten for this project.
"""

from __future__ import annotations

import imaplib
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from helpdesk_mail.settings import MailboxAccount, MailProtocol, TlsMode

if TYPE_CHECKING:
    import psycopg

SCRIPT = Path(__file__).resolve().parent.parent / "services" / "mailserver.sh"
PG_SCRIPT = SCRIPT.with_name("pgserver.sh")
DNS_SCRIPT = SCRIPT.with_name("dnsserver.sh")
DNS_ZONES = SCRIPT.with_name("dns-zones")


def _script(action: str, script: Path = SCRIPT) -> tuple[int, dict[str, str], str]:
    proc = subprocess.run(
        ["bash", str(script), action],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    env: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            env[key] = value
    return proc.returncode, env, proc.stderr


@dataclass
class MailServer:
    """The running Dovecot: addresses, users, and helpers to put mail in and look at it."""

    env: dict[str, str]
    started_here: bool = False
    _unique: int = field(default=0, repr=False)

    @property
    def host(self) -> str:
        return self.env["HELPDESK_TEST_MAIL_HOST"]

    def port(self, name: str) -> int:
        return int(self.env[f"HELPDESK_TEST_{name}_PORT"])

    @property
    def user(self) -> str:
        return self.env["HELPDESK_TEST_MAIL_USER"]

    @property
    def password(self) -> str:
        return self.env["HELPDESK_TEST_MAIL_PASSWORD"]

    @property
    def ca_file(self) -> str:
        return self.env["HELPDESK_TEST_MAIL_CA_FILE"]

    @property
    def maildir(self) -> Path:
        return Path(self.env["HELPDESK_TEST_MAILDIR"])

    def account(
        self,
        protocol: MailProtocol = MailProtocol.IMAP,
        tls: TlsMode = TlsMode.IMPLICIT,
        **changes: object,
    ) -> MailboxAccount:
        """A `MailboxAccount` for the test user on the right port for `protocol` and `tls`."""
        prefix = "IMAP" if protocol is MailProtocol.IMAP else "POP3"
        port = self.port(prefix + "S") if tls is TlsMode.IMPLICIT else self.port(prefix)
        values: dict[str, object] = {
            "name": "support",
            "host": self.host,
            "protocol": protocol,
            "port": port,
            "tls": tls,
            "username": self.user,
            "password": self.password,
            "ca_file": self.ca_file,
            "timeout_seconds": 20,
        }
        values.update(changes)
        return MailboxAccount(**values)  # type: ignore[arg-type]

    # --- looking at the mailbox (plain IMAP on loopback, outside the code under test) ---

    def admin(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port("IMAP"), timeout=30)
        conn.login(self.user, self.password)
        return conn

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        conn = self.admin()
        try:
            typ, data = conn.append(f'"{folder}"', None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """Every message in `folder` (without marking them seen)."""
        conn = self.admin()
        try:
            typ, _ = conn.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = conn.uid("SEARCH", "ALL")
            uids = data[0].split() if data and data[0] else []
            found: list[bytes] = []
            for uid in uids:
                typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                found.extend(item[1] for item in data if isinstance(item, tuple))
            return found
        finally:
            conn.logout()

    def count(self, folder: str = "INBOX") -> int:
        conn = self.admin()
        try:
            typ, data = conn.status(f'"{folder}"', "(MESSAGES)")
            if typ != "OK":
                return 0
            match = re.search(rb"MESSAGES (\d+)", data[0] or b"")
            return int(match[1]) if match else 0
        finally:
            conn.logout()

    def seen_flags(self, folder: str = "INBOX") -> list[bool]:
        conn = self.admin()
        try:
            conn.select(f'"{folder}"', readonly=True)
            _typ, data = conn.fetch("1:*", "(FLAGS)")
            return [b"\\Seen" in item for item in data if isinstance(item, bytes)]
        finally:
            conn.logout()

    def folders(self) -> list[str]:
        conn = self.admin()
        try:
            _typ, boxes = conn.list()
            return [line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in boxes]
        finally:
            conn.logout()

    def empty(self) -> None:
        """Delete every message in every folder; drop folders the tests created."""
        conn = self.admin()
        try:
            typ, boxes = conn.list()
            for line in boxes:
                name = line.decode().rsplit(' "/" ', 1)[1].strip('"')
                typ, data = conn.select(f'"{name}"')
                if typ == "OK" and int(data[0] or 0):
                    conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                    conn.expunge()
                conn.unselect()
                if name not in ("INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"):
                    conn.delete(f'"{name}"')
        finally:
            conn.logout()

    # --- putting mail in fast: Maildir files, as a local delivery agent would ---

    def drop(self, raws: Iterable[bytes]) -> int:
        """Write messages straight into the INBOX's Maildir/new; returns how many."""
        new, tmp = self.maildir / "new", self.maildir / "tmp"
        owner = os.stat(self.maildir)
        count = 0
        for raw in raws:
            self._unique += 1
            name = f"{int(time.time())}.M{self._unique}P{os.getpid()}.helpdesk-test"
            path = tmp / name
            path.write_bytes(raw.replace(b"\r\n", b"\n"))
            if os.geteuid() == 0:
                os.chown(path, owner.st_uid, owner.st_gid)
            path.rename(new / name)
            count += 1
        return count

    # --- the server itself ---

    def stop(self) -> None:
        rc, _, err = _script("stop")
        assert rc == 0, err

    def start(self) -> None:
        rc, env, err = _script("start")
        assert rc == 0, err
        self.env.update(env)


def _server_env() -> tuple[dict[str, str], bool]:
    if "HELPDESK_TEST_IMAP_PORT" in os.environ:
        return dict(os.environ), False
    running = subprocess.run(
        ["bash", str(SCRIPT), "status"], capture_output=True, timeout=60, check=False
    )
    rc, env, err = _script("start")
    if rc != 0:
        pytest.fail(f"could not start Dovecot with {SCRIPT}:\n{err}", pytrace=False)
    return env, running.returncode != 0


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    """The Dovecot server for the whole session (started here if it was not running)."""
    env, started = _server_env()
    server = MailServer(env=env, started_here=started)
    # the first login creates the user's Maildir, which `drop` writes into
    server.admin().logout()
    yield server
    if started:
        server.stop()


@pytest.fixture
def mailbox(mail_server: MailServer) -> MailServer:
    """The mail server with every folder of the test user emptied first."""
    mail_server.empty()
    return mail_server


# --- NSD ---


def _zone_serials() -> dict[str, str]:
    """{zone: the serial in its file} for every tests/services/dns-zones/*.zone."""
    serials: dict[str, str] = {}
    for path in sorted(DNS_ZONES.glob("*.zone")):
        match = re.search(r"IN\s+SOA\s+\S+\s+\S+\s*\(\s*(\d+)", path.read_text())
        assert match, f"no SOA serial in {path}"
        serials[path.stem] = match.group(1)
    return serials


@pytest.fixture(scope="session")
def dns_server() -> Iterator[tuple[str, int]]:
    """(host, port) of the project's NSD; started here (and stopped after) if not running."""
    from helpdesk_mail.ports import TemporaryDnsError
    from helpdesk_mail.transports.dns import DnsResolver

    was_running = _script("status", DNS_SCRIPT)[0] == 0
    rc, env, err = _script("start", DNS_SCRIPT)
    if rc != 0:
        pytest.fail(f"could not start NSD with {DNS_SCRIPT}:\n{err}", pytrace=False)
    host, port = env["HELPDESK_TEST_DNS_HOST"], int(env["HELPDESK_TEST_DNS_PORT"])
    resolver = DnsResolver([host], port=port, timeout=3)
    for zone, serial in _zone_serials().items():
        try:
            soa = resolver.query(zone, "SOA")
        except TemporaryDnsError as exc:
            soa, problem = [], f"does not serve {zone} ({exc})"
        else:
            problem = f"serves an older {zone} (SOA {soa}, the file has serial {serial})"
        if not soa or soa[0].split()[2] != serial:
            pytest.fail(
                f"the DNS server on {host}:{port} {problem}: run "
                f"`bash {DNS_SCRIPT} reload` (or set HELPDESK_DNS_STATE / HELPDESK_TEST_DNS_PORT)",
                pytrace=False,
            )
    yield host, port
    if not was_running:
        rc, _, err = _script("stop", DNS_SCRIPT)
        assert rc == 0, err


# --- PostgreSQL ---

PER_TEST_DB_PREFIX = "helpdesk_t_"  # `pgserver.sh reset` drops leftovers by this prefix


@dataclass
class PgServer:
    """The running PostgreSQL: the test role's URL and per-test databases.

    psycopg is imported only when used: it needs the system's libpq, which
    pgserver.sh installs when missing, so importing it earlier could fail on a fresh
    machine.
    """

    env: dict[str, str]
    started_here: bool = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database (`postgresql+psycopg://...`)."""
        return self.env["HELPDESK_TEST_PG_URL"]

    @property
    def template(self) -> str:
        """The database that per-test databases are copied from (nobody may be connected
        to it while a copy is made); `template0` on a server the script did not set up."""
        return self.env.get("HELPDESK_TEST_PG_TEMPLATE", "template0")

    def url_for(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def connect(self, database: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
        """A psycopg connection as the test role, autocommit (for CREATE/DROP DATABASE)."""
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.url)
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=database or url.database,
            autocommit=True,
            connect_timeout=30,
        )

    def create_database(self) -> str:
        """A new empty database copied from `template`; returns its name."""
        from psycopg import sql

        name = f"{PER_TEST_DB_PREFIX}{uuid.uuid4().hex[:16]}"
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self.template)
                )
            )
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name`, disconnecting whatever is still connected to it."""
        import psycopg
        from psycopg import sql

        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        for attempt in range(5):  # a server process still leaving the database: try again
            try:
                with self.connect() as conn:
                    conn.execute(statement)
                return
            except psycopg.errors.InsufficientPrivilege:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def stop(self) -> None:
        rc, _, err = _script("stop", PG_SCRIPT)
        assert rc == 0, err

    def start(self) -> None:
        rc, env, err = _script("start", PG_SCRIPT)
        assert rc == 0, err
        self.env.update(env)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL server for the whole session (started here if it was not running).

    A server announced by `HELPDESK_TEST_PG_URL` (e.g. after `eval "$(bash
    tests/services/pgserver.sh start)"`) is used as it is and left running.
    """
    if "HELPDESK_TEST_PG_URL" in os.environ:
        env, started = dict(os.environ), False
    else:
        running = subprocess.run(
            ["bash", str(PG_SCRIPT), "status"], capture_output=True, timeout=60, check=False
        )
        rc, env, err = _script("start", PG_SCRIPT)
        if rc != 0:
            pytest.fail(f"could not start PostgreSQL with {PG_SCRIPT}:\n{err}", pytrace=False)
        started = running.returncode != 0
    server = PgServer(env=env, started_here=started)
    try:
        server.connect().close()
    except Exception as exc:
        pytest.fail(f"cannot connect to PostgreSQL at {server.url}: {exc}", pytrace=False)
    yield server
    if started:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh empty database for this test only (dropped afterwards)."""
    name = pg_server.create_database()
    try:
        yield pg_server.url_for(name)
    finally:
        pg_server.drop_database(name)


def _mail(n: int, size: int = 0, subject: str | None = None, sender: str | None = None) -> bytes:
    who = sender or f"customer{n}@example.com"
    lines = [
        f"From: Customer {n} <{who}>",
        "To: support@acme.test",
        f"Subject: {subject or f'Request number {n}'}",
        "Date: Thu, 01 Jan 2026 09:00:00 +0000",
        f"Message-ID: <request-{n}-{time.monotonic_ns()}@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"Hello, this is request {n}.",
    ]
    if size:
        lines += ["x" * 76] * (size // 78)
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture
def make_mail() -> Callable[..., bytes]:
    """`make_mail(n, size=0, subject=None, sender=None)`: a customer email, unique Message-ID."""
    return _mail
