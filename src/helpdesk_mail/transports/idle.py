"""IMAP IDLE (RFC 2177): a `MailboxWatcher` that tells the worker of new mail at once.

One connection per watched account, opened like a polling session (`ImapTransport.open`:
TLS, LOGIN or XOAUTH2, SELECT of the account's folder), then:

1. CAPABILITY without `IDLE` raises `WatchUnsupported`: the account is polled at its
   check interval, as before.
2. `IDLE` is sent and the server's `+` awaited; from then on what the server sends is
   read by `IdleReader`. An untagged `EXISTS` that raises the folder's message count
   calls `on_new_mail()` (an `EXPUNGE` lowers the count, so our own deletions wake
   nobody). Keep-alives (`* OK Still here`), flag changes and the like are ignored.
3. Every `renew_seconds` (25 minutes: servers may drop an IDLE after 29, RFC 2177)
   `DONE` ends the IDLE and a new one is sent at once on the same connection.
4. A connection that fails (refused, dropped, `* BYE`, a time-out, an answer that makes
   no sense) is closed and opened again after a pause that doubles from
   `backoff_first` up to `backoff_max` (one log line each time); after a reconnection
   `on_new_mail()` is called once, since mail may have come meanwhile. The pause goes
   back to its start once an IDLE is running again.
5. `stop` is looked at every `tick` seconds while waiting: then `DONE`, `LOGOUT`, return.

The reader works on the raw socket, so that a wait can end every `tick` to look at
`stop` (`imaplib` has no IDLE, and its buffered file cannot be read with a time-out).
Every read is bounded: a line longer than `MAX_LINE` is an error, literals are skipped
without being kept. Anything the server sends either parses or raises `MailboxError`.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..ports import MailboxError, StopSignal, WatchUnsupported
from ..settings import MailboxAccount
from .imap import ImapSession, ImapTransport

__all__ = [
    "BACKOFF_FIRST",
    "BACKOFF_MAX",
    "MAX_LINE",
    "RENEW_SECONDS",
    "IdleReader",
    "IdleResponse",
    "IdleWatcher",
    "ResponseKind",
]

log = logging.getLogger(__name__)

RENEW_SECONDS = 25 * 60.0
"""An IDLE is ended and sent again this often (servers may drop it after 29 minutes)."""
BACKOFF_FIRST = 1.0
"""Seconds before the first reconnection after a failure; doubled at each failure."""
BACKOFF_MAX = 300.0
"""The longest pause between two connection attempts."""
TICK = 1.0
"""How often a wait for the server looks at `stop` (seconds)."""
MAX_LINE = 64 * 1024
"""The longest response line accepted while idling (bytes, literals aside)."""

_UNTAGGED_NUMBER = re.compile(rb"\* (\d{1,10}) (EXISTS|EXPUNGE|RECENT)\b", re.IGNORECASE)
_LITERAL = re.compile(rb"\{(\d{1,10})\+?\}$")
_TAGGED = re.compile(rb"(\S+) (OK|NO|BAD)\b ?(.*)", re.IGNORECASE)


class ResponseKind(Enum):
    """What one response line said, as far as IDLE cares."""

    CONTINUE = "continue"
    """`+ idling`: the IDLE is running."""
    NEW_MAIL = "new mail"
    """An `EXISTS` that raised the message count."""
    BYE = "bye"
    """`* BYE`: the server is closing the connection."""
    DONE = "done"
    """The tagged answer to our IDLE (after `DONE`, or a refusal)."""
    OTHER = "other"
    """Anything else (keep-alives, flags, a lower or equal `EXISTS`, `EXPUNGE`)."""


@dataclass(frozen=True)
class IdleResponse:
    """One response line: its kind, and for `DONE` whether it was `OK`, and its text."""

    kind: ResponseKind
    ok: bool = True
    text: str = ""


class IdleReader:
    """Splits the bytes a server sends during IDLE into `IdleResponse`s (no I/O).

    `exists` is the folder's message count as last known (SELECT's, None when unknown:
    then any `EXISTS` counts as new mail). `feed` takes bytes as they come, in pieces
    of any size, and returns the complete responses; it raises only `MailboxError`.
    """

    def __init__(self, tag: bytes, exists: int | None = None) -> None:
        self.tag = tag
        self.exists = exists
        self._buffer = bytearray()
        self._skip = 0  # bytes of a literal still to skip

    def feed(self, data: bytes) -> list[IdleResponse]:
        """The responses completed by `data` (raises `MailboxError` on a line too long)."""
        out: list[IdleResponse] = []
        pos, size = 0, len(data)
        while pos < size:
            if self._skip:
                taken = min(self._skip, size - pos)
                self._skip -= taken
                pos += taken
                continue
            end = data.find(b"\n", pos)
            if len(self._buffer) + (size if end < 0 else end) - pos > MAX_LINE:
                raise MailboxError(f"IMAP IDLE: a response line over {MAX_LINE} bytes")
            if end < 0:
                self._buffer += data[pos:]
                break
            self._buffer += data[pos:end]
            pos = end + 1
            line = bytes(self._buffer).rstrip(b"\r")
            self._buffer.clear()
            literal = _LITERAL.search(line)
            if literal:
                self._skip = int(literal[1])
            out.append(self._parse(line))
        return out

    def _parse(self, line: bytes) -> IdleResponse:
        if line.startswith(b"+"):
            return IdleResponse(ResponseKind.CONTINUE)
        if line.startswith(b"* "):
            if line[2:5].upper() == b"BYE":
                return IdleResponse(ResponseKind.BYE, text=_text(line[5:]))
            match = _UNTAGGED_NUMBER.match(line)
            if match:
                return self._counted(int(match[1]), match[2].upper())
            return IdleResponse(ResponseKind.OTHER)
        match = _TAGGED.match(line)
        if match and match[1] == self.tag:
            return IdleResponse(
                ResponseKind.DONE, ok=match[2].upper() == b"OK", text=_text(match[3])
            )
        return IdleResponse(ResponseKind.OTHER)

    def _counted(self, number: int, what: bytes) -> IdleResponse:
        if what == b"EXPUNGE":
            if self.exists:
                self.exists -= 1
            return IdleResponse(ResponseKind.OTHER)
        if what == b"RECENT":
            return IdleResponse(ResponseKind.OTHER)
        grew = self.exists is None or number > self.exists
        self.exists = number
        return IdleResponse(ResponseKind.NEW_MAIL if grew else ResponseKind.OTHER)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip()[:200]


class IdleWatcher:
    """A `MailboxWatcher` over IMAP IDLE (see the module): `watch` one account per thread.

    `transport` opens the connections (a new `ImapTransport` by default, whose `stats`
    count them); the timings are the module's constants unless given (tests).
    """

    def __init__(
        self,
        transport: ImapTransport | None = None,
        *,
        renew_seconds: float = RENEW_SECONDS,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
        tick: float = TICK,
    ) -> None:
        self.transport = transport if transport is not None else ImapTransport()
        self.renew_seconds = renew_seconds
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.tick = tick
        self.connections = 0
        """IDLE connections established so far (reconnections included)."""
        self.reconnections = 0
        """How many of them replaced a lost one."""
        self.idles = 0
        """IDLE commands the server accepted (renewals included)."""

    def watch(
        self,
        account: MailboxAccount,
        on_new_mail: Callable[[], object],
        stop: StopSignal,
    ) -> None:
        """Watch `account` until `stop` is set (see the module); raises `WatchUnsupported`
        when the server has no IDLE."""
        failures = 0
        lost = False
        while not stop.is_set():
            try:
                session = self.transport.open(account)
            except MailboxError as exc:
                failures += 1
                self._pause(account, f"cannot connect: {exc}", failures, stop)
                lost = True
                continue
            try:
                if "IDLE" not in session.capabilities:
                    raise WatchUnsupported(f"{account.name}: the IMAP server does not offer IDLE")
                idling = _Idle(session, self, stop)
                idling.start()
                self.connections += 1
                failures = 0
                if lost:
                    self.reconnections += 1
                    log.info("%s: IDLE: connected again, polling once", account.name)
                    on_new_mail()
                else:
                    log.info("%s: IDLE: watching %r", account.name, account.folder)
                idling.run(on_new_mail)
                idling.sock.settimeout(account.timeout_seconds)
                session.close()  # DONE was answered: a clean LOGOUT
                return
            except WatchUnsupported:
                session.close()
                raise
            except MailboxError as exc:
                _drop(session)
                failures += 1
                lost = True
                self._pause(account, f"connection lost: {exc}", failures, stop)

    def _pause(self, account: MailboxAccount, why: str, failures: int, stop: StopSignal) -> None:
        delay = min(self.backoff_max, self.backoff_first * 2 ** min(failures - 1, 30))
        log.warning("%s: IDLE: %s; connecting again in %.0f s", account.name, why, delay)
        stop.wait(delay)


class _Idle:
    """The IDLE exchanges of one connection."""

    def __init__(self, session: ImapSession, watcher: IdleWatcher, stop: StopSignal) -> None:
        self.session = session
        self.account = session.account
        self.watcher = watcher
        self.stop = stop
        self.sock: socket.socket = session.connection.sock
        self.count = 0
        self.reader = IdleReader(b"", session.exists)

    def start(self) -> None:
        """Send IDLE and wait for the server's `+` (`WatchUnsupported` if it refuses)."""
        self.count += 1
        tag = b"HMIDLE%d" % self.count
        self.reader = IdleReader(tag, self.reader.exists)
        self._send(tag + b" IDLE\r\n")
        deadline = time.monotonic() + self.account.timeout_seconds
        while True:
            for response in self._read(deadline, "the answer to IDLE"):
                if response.kind is ResponseKind.CONTINUE:
                    self.watcher.idles += 1
                    return
                if response.kind is ResponseKind.DONE:
                    raise WatchUnsupported(
                        f"{self.account.name}: the IMAP server refused IDLE: {response.text}"
                    )
                if response.kind is ResponseKind.BYE:
                    raise MailboxError(f"the server said BYE: {response.text}")

    def run(self, on_new_mail: Callable[[], object]) -> None:
        """Idle until `stop`, renewing the IDLE every `renew_seconds`; ends with DONE."""
        while True:
            renew_at = time.monotonic() + self.watcher.renew_seconds
            while not self.stop.is_set() and time.monotonic() < renew_at:
                for response in self._read(None, "new mail"):
                    self._act(response, on_new_mail)
            self._done(on_new_mail)
            if self.stop.is_set():
                return
            self.start()

    def _act(self, response: IdleResponse, on_new_mail: Callable[[], object]) -> None:
        if response.kind is ResponseKind.NEW_MAIL:
            on_new_mail()
        elif response.kind is ResponseKind.BYE:
            raise MailboxError(f"the server said BYE: {response.text}")
        elif response.kind is ResponseKind.DONE:
            raise MailboxError(f"the server ended the IDLE: {response.text}")

    def _done(self, on_new_mail: Callable[[], object]) -> None:
        self._send(b"DONE\r\n")
        deadline = time.monotonic() + self.account.timeout_seconds
        while True:
            for response in self._read(deadline, "the end of IDLE"):
                if response.kind is ResponseKind.DONE:
                    if not response.ok:
                        raise MailboxError(f"IDLE ended with an error: {response.text}")
                    return
                if response.kind is ResponseKind.NEW_MAIL:
                    on_new_mail()
                elif response.kind is ResponseKind.BYE:
                    raise MailboxError(f"the server said BYE: {response.text}")

    def _send(self, data: bytes) -> None:
        try:
            self.sock.settimeout(self.account.timeout_seconds)
            self.sock.sendall(data)
        except OSError as exc:
            raise MailboxError(f"sending {data.split()[-1].decode()} failed: {exc}") from exc

    def _read(self, deadline: float | None, waiting_for: str) -> list[IdleResponse]:
        """What the server sent within one `tick` ([] if nothing; `MailboxError` past the
        deadline, on a closed connection, or on a socket error)."""
        if deadline is not None and time.monotonic() > deadline:
            raise MailboxError(f"no answer from the server while waiting for {waiting_for}")
        try:
            self.sock.settimeout(self.watcher.tick)
            data = self.sock.recv(65536)
        except TimeoutError:
            return []
        except OSError as exc:
            raise MailboxError(f"reading failed: {exc}") from exc
        if not data:
            raise MailboxError("the server closed the connection")
        return self.reader.feed(data)


def _drop(session: ImapSession) -> None:
    """Abandon a broken connection without waiting for the server."""
    session.closed = True
    with contextlib.suppress(Exception):
        session.connection.shutdown()
