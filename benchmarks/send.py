"""Sending 1,000 notifications to a local aiosmtpd with STARTTLS and AUTH, two ways.

In the same run, against the same server:

- library: 1,000 "ticket updated" events (one per ticket, each planned to the
  ticket's customer) wait in the outbox of an in-memory helpdesk; the library's
  sending path delivers them: `Deliverer` as the worker runs it (claims, frozen plans,
  `render_message`, the next event prepared while one is sent, idempotency keys, sent
  ledger, rate-limit counts) over one `SmtpTransport` used as
  ``with SmtpTransport(...) as transport:`` (one connection for every message);
- naive: the same 1,000 notifications planned and rendered the same way
  (`plan_notifications`, `render_message`), each sent over its own `smtplib`
  connection: connect, EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT
  (no outbox, no ledger).

`messages_per_s` is the library's rate, `connections` the SMTP connections it
opened for the 1,000 (as the server counted them; the most of any round),
`ratio_to_naive` library rate / naive rate
(target >= 2.5). The two ways alternate, ROUNDS times each, on fresh helpdesks; the
medians are compared. Every message must reach the server. For scale,
`ceiling_ratio`: the naive run's messages sent again over one bare `smtplib`
connection, already rendered and serialized (no client work but the SMTP commands),
against the naive rate: what no client can beat on this server.

The server is tests/services/smtp_testserver.py (aiosmtpd, a CA made with openssl),
started here in a child process (it would otherwise share this process's GIL), with
AUTH required and STARTTLS required before anything else. aiosmtpd does not offer
PIPELINING (RFC 2920), which real servers do: a second server, the same but offering
it, gets the library's rounds too, one after each pair, and its figures come as the
extra keys `messages_per_s_pipelining` and `ratio_to_naive_pipelining` (against the
same naive rate: the naive way sends one command at a time either way). Run from
the repository root with no arguments; the last line is JSON.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

from helpdesk_mail.events import TicketUpdated
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.model import Comment, Role, Ticket, User
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.outbound.plan import plan_notifications
from helpdesk_mail.settings import OutgoingSettings, Settings, TlsMode
from helpdesk_mail.shell.delivery import Deliverer, PlanView
from helpdesk_mail.transports.smtp import SmtpTransport

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = 1000
ROUNDS = 5
TARGET = 2.5
TECH = "tess@acme.test"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

SERVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from smtp_testserver import SMTPTestServer
pipelining = sys.argv[2] == "pipelining"
srv = SMTPTestServer(auth_required=True, require_starttls=True, pipelining=pipelining).start()
print(json.dumps({"host": srv.host, "port": srv.port, "ca_file": srv.ca_file,
                  "user": srv.user, "password": srv.password}), flush=True)
for line in sys.stdin:
    stats = {"messages": len(srv.messages), "connections": srv.connections}
    srv.clear()
    print(json.dumps(stats), flush=True)
srv.stop()
"""


class Server:
    """The aiosmtpd test server in a child process; `take()` = (messages, connections)
    since the last call."""

    def __init__(self, *, pipelining: bool = False) -> None:
        mode = "pipelining" if pipelining else "one-by-one"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(ROOT / "tests" / "services"), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info: dict[str, Any] = json.loads(self.proc.stdout.readline())

    def take(self) -> tuple[int, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        stats = json.loads(self.proc.stdout.readline())
        return stats["messages"], stats["connections"]

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def settings_for(server: Server) -> Settings:
    return Settings(
        outgoing=OutgoingSettings(
            from_address="support@acme.test",
            from_name="Acme Support",
            reply_to="support@acme.test",
            helpdesk_url="https://helpdesk.acme.test",
            secret_key="benchmark-secret-key-0123456789",
            smtp_host=server.info["host"],
            smtp_port=server.info["port"],
            smtp_username=server.info["user"],
            smtp_password=server.info["password"],
            smtp_tls=TlsMode.STARTTLS,
            smtp_ca_file=server.info["ca_file"],
        )
    )


def helpdesk() -> tuple[InMemoryStorage, list[TicketUpdated]]:
    """MESSAGES tickets, each with its own customer and the technician's reply."""
    storage = InMemoryStorage()
    storage.add_user(User(TECH, name="Tess Tech", role=Role.TECHNICIAN))
    events = []
    for i in range(1, MESSAGES + 1):
        customer = f"customer{i}@example.test"
        storage.add_user(User(customer, name=f"Customer {i}", username=f"customer{i}"))
        storage.add_ticket(
            Ticket(
                id=i,
                subject=f"Printer {i} is on fire",
                submitter=customer,
                category="Hardware",
                priority="High",
                assignee=TECH,
                via="email",
                created_at=T0,
                body_text="The printer on floor 2 is smoking.\nPlease help!",
                body_html="<p>The printer on floor 2 is <b>smoking</b>.</p><p>Please help!</p>",
                message_ids=(f"<ticket{i}@mail.example.test>",),
            ),
            [
                Comment(
                    i,
                    TECH,
                    "Please unplug it and step away. I am on my way.",
                    T0 + timedelta(minutes=20),
                    id=i,
                )
            ],
        )
        events.append(TicketUpdated(i, TECH, comment_id=i))
    return storage, events


def library_round(server: Server, settings: Settings) -> tuple[float, int]:
    """Seconds to deliver the outbox, and the SMTP connections that took."""
    storage, events = helpdesk()
    clock = ManualClock(T0 + timedelta(hours=1))
    with storage.transaction() as unit:
        unit.books.add_events(events, clock.now())
    start = time.perf_counter()
    sent = 0
    with SmtpTransport(settings.outgoing) as transport:
        deliverer = Deliverer(
            settings, storage, transport, clock, SeededRandom(7), batch=100, prepare_ahead=True
        )  # as the worker runs it (rule 8 of shell/delivery.py)
        while True:
            report = deliverer.run_once()
            if not report.events:
                break
            sent += report.sent
            if report.failed:
                raise SystemExit(f"library: {report.events[0].failed}")
    elapsed = time.perf_counter() - start
    received, connections = server.take()
    if sent != MESSAGES or received != MESSAGES:
        raise SystemExit(f"library: sent {sent}, the server received {received}")
    return elapsed, connections


def naive_round(server: Server, settings: Settings) -> tuple[float, float]:
    """Seconds to plan, render and send the same notifications, a connection each; and
    seconds to send those same bytes again over one bare `smtplib` connection (the
    ceiling: no client work at all but the SMTP commands)."""
    storage, events = helpdesk()
    clock = ManualClock(T0 + timedelta(hours=1))
    random = SeededRandom(7)
    context = ssl.create_default_context(cafile=server.info["ca_file"])
    host, port = server.info["host"], server.info["port"]
    user, password = server.info["user"], server.info["password"]
    sent: list[tuple[str, bytes]] = []
    start = time.perf_counter()
    for event in events:
        with storage.transaction() as unit:
            view = PlanView(unit.domain, unit.books)
            plan = plan_notifications(event, settings, view, clock)
            [planned] = plan.emails
            [message] = render_message(planned, None, settings, view, clock, random) or []
        data = message.as_bytes(policy=policy.SMTP)
        with smtplib.SMTP(host, port) as smtp:
            smtp.starttls(context=context)
            smtp.login(user, password)
            smtp.sendmail(settings.outgoing.from_address, [planned.to[0].email], data)
        sent.append((planned.to[0].email, data))
    elapsed = time.perf_counter() - start
    received, connections = server.take()
    if received != MESSAGES or connections != MESSAGES:
        raise SystemExit(f"naive: the server received {received} over {connections} connections")
    start = time.perf_counter()
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=context)
        smtp.login(user, password)
        for recipient, data in sent:
            smtp.sendmail(settings.outgoing.from_address, [recipient], data)
    bare = time.perf_counter() - start
    received, connections = server.take()
    if received != MESSAGES or connections != 1:
        raise SystemExit(f"bare: the server received {received} over {connections} connections")
    return elapsed, bare


def main() -> int:
    server = Server()
    piped = Server(pipelining=True)
    try:
        server.take()  # aiosmtpd's own start-up checks connect to each listener
        piped.take()
        settings = settings_for(server)
        piped_settings = settings_for(piped)
        pipelined: list[float] = []
        library: list[float] = []
        naive: list[float] = []
        bare: list[float] = []
        ratios: list[float] = []
        connections: list[int] = []
        for r in range(ROUNDS):
            if r % 2:
                naive.extend(naive_round(server, settings)[:1])
            elapsed, used = library_round(server, settings)
            library.append(elapsed)
            connections.append(used)
            if not r % 2:
                naive_s, bare_s = naive_round(server, settings)
                naive.append(naive_s)
                bare.append(bare_s)
            ratios.append(naive[-1] / library[-1])
            pipelined.append(library_round(piped, piped_settings)[0])
            print(
                f"round {r + 1}: library {MESSAGES / library[-1]:.0f} messages/s, "
                f"naive {MESSAGES / naive[-1]:.0f} messages/s, ratio {ratios[-1]:.2f}; "
                f"library with PIPELINING offered {MESSAGES / pipelined[-1]:.0f} messages/s",
                flush=True,
            )
    finally:
        server.stop()
        piped.stop()
    rate = MESSAGES / statistics.median(library)
    naive_rate = MESSAGES / statistics.median(naive)
    bare_rate = MESSAGES / statistics.median(bare)
    result = {
        "messages": MESSAGES,
        "messages_per_s": round(rate, 1),
        "connections": max(connections),
        "naive_messages_per_s": round(naive_rate, 1),
        "naive_connections": MESSAGES,
        "ratio_to_naive": round(rate / naive_rate, 2),
        "ratio_min": round(min(ratios), 2),
        "ratio_max": round(max(ratios), 2),
        "bare_smtplib_messages_per_s": round(bare_rate, 1),
        "ceiling_ratio": round(bare_rate / naive_rate, 2),
        "rounds": ROUNDS,
        "target_ratio": TARGET,
        "messages_per_s_pipelining": round(MESSAGES / statistics.median(pipelined), 1),
        "ratio_to_naive_pipelining": round(MESSAGES / statistics.median(pipelined) / naive_rate, 2),
    }
    print(
        f"library: {result['messages_per_s']} messages/s over {result['connections']} "
        f"connection(s); naive: {result['naive_messages_per_s']} messages/s over "
        f"{MESSAGES} connections; ratio {result['ratio_to_naive']} (target >= {TARGET})"
    )
    print(
        "ceiling: the same bytes over one bare smtplib connection, "
        f"{result['bare_smtplib_messages_per_s']} messages/s, "
        f"{result['ceiling_ratio']}x the naive rate"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
