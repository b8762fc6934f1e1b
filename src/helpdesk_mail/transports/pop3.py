"""The POP3 mailbox transport (stdlib `poplib` for the connection, TLS and USER/PASS).

A session: connect (implicit TLS, or STLS which is then required), CAPA, log in
(USER/PASS or `AUTH XOAUTH2`), then:

- `list_uids`: `UIDL` and `LIST` (pipelined: one round trip); the UIDs are the
  server's unique ids, stable across sessions (message numbers are not), and
  LIST gives the sizes;
- `fetch`: `RETR` per message. When the server announces PIPELINING (RFC 2449),
  a whole batch of `RETR` commands goes out in one write and the answers are
  read back in order: one round trip per batch instead of one per message. A
  batch holds at most `account.batch_size` messages and `max_batch_bytes`;
- `delete`: `DELE` per message (pipelined the same way). The server applies the
  deletions only at `QUIT`, so a session that dies before `close` deletes nothing;
- `move`: POP3 has no folders, so it raises `MailboxError`;
- `close`: `QUIT`, which commits the deletions. `close` raises `MailboxError` if
  the server does not confirm it (the messages are then still there, and the
  poller's receipt keys make the next poll delete them without a second ticket).

Messages are read with this module's own multi-line reader rather than
`poplib.retr`, which refuses lines over 2,048 bytes (common in HTML mail).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import contextlib
import poplib
from collections.abc import Iterator, Sequence

from ..ports import MailboxAuthError, MailboxError
from ..settings import MailboxAccount, TlsMode
from .batching import MAX_BATCH_BYTES, TransportStats, split_batches
from .secrets import SecretError, mailbox_password
from .tls import ssl_context, xoauth2_string

__all__ = ["Pop3Session", "Pop3Transport"]

_CHUNK = 1 << 16


class _Pop3Error(Exception):
    """The server answered `-ERR`."""


class Pop3Session:
    """One logged-in POP3 connection (a POP3 "transaction state")."""

    can_move = False  # POP3 has one folder
    stable_ids = True  # UIDLs are persistent

    def __init__(
        self,
        account: MailboxAccount,
        connection: poplib.POP3,
        stats: TransportStats,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.account = account
        self.connection = connection
        """The underlying `poplib.POP3` (tests use it to cut the connection)."""
        self.stats = stats
        self.max_batch_bytes = max_batch_bytes
        self._sizes: dict[str, int] = {}
        self.capabilities: frozenset[str] = frozenset()
        self.closed = False
        self._numbers: dict[str, int] = {}

    @property
    def pipelining(self) -> bool:
        """Whether commands are pipelined (the server announced PIPELINING)."""
        return "PIPELINING" in self.capabilities

    # --- the wire ---

    def _send(self, lines: Sequence[str]) -> None:
        """Send command lines in one write: one round trip however many there are."""
        data = b"".join(line.encode("utf-8") + b"\r\n" for line in lines)
        self.connection.sock.sendall(data)
        self.stats.commands += len(lines)
        self.stats.round_trips += 1

    def _read_line(self) -> bytes:
        line = self.connection.file.readline(_CHUNK)
        if not line:
            raise EOFError("connection closed by the server")
        return line

    def _status(self) -> bytes:
        line = self._read_line()
        if not line.endswith(b"\n"):  # an overlong status line: keep its start only
            while not self._read_line().endswith(b"\n"):
                pass
        if line.startswith(b"+OK"):
            return line
        raise _Pop3Error(line.decode("utf-8", "replace").strip())

    def _multiline(self) -> bytes:
        """A multi-line answer's body: dot-unstuffed, up to the final `.` line (excluded)."""
        parts: list[bytes] = []
        at_line_start = True
        while True:
            piece = self._read_line()
            if at_line_start:
                if piece in (b".\r\n", b".\n"):
                    return b"".join(parts)
                if piece.startswith(b".."):
                    piece = piece[1:]
            parts.append(piece)
            at_line_start = piece.endswith(b"\n")

    def _command(self, line: str) -> bytes:
        self._send([line])
        return self._status()

    # --- setup (called by Pop3Transport.open) ---

    def _capa(self) -> None:
        try:
            caps = self.connection.capa()
        except poplib.error_proto:
            caps = {}
        finally:
            self.stats.commands += 1
            self.stats.round_trips += 1
        self.capabilities = frozenset(name.upper() for name in caps)

    def _login(self) -> None:
        account, conn = self.account, self.connection
        initial = xoauth2_string(account)
        try:
            if initial is not None:
                self._send([f"AUTH XOAUTH2 {base64.b64encode(initial).decode('ascii')}"])
                line = self._read_line()
                if line.startswith(b"+ ") or line.rstrip() == b"+":
                    self._send([""])  # answer the error challenge; -ERR follows
                    line = self._read_line()
                if not line.startswith(b"+OK"):
                    raise _Pop3Error(line.decode("utf-8", "replace").strip())
            else:
                password = mailbox_password(account)
                self.stats.commands += 2
                self.stats.round_trips += 2
                conn.user(account.username)
                conn.pass_(password)
        except SecretError as exc:
            raise MailboxAuthError(f"{account.name}: {exc}") from exc
        except (_Pop3Error, poplib.error_proto, UnicodeError) as exc:
            raise MailboxAuthError(f"{account.name}: POP3 login refused: {_text(exc)}") from exc
        except (OSError, EOFError) as exc:
            raise MailboxError(f"{account.name}: POP3 connection lost at login: {exc}") from exc

    # --- MailboxSession ---

    def list_uids(self) -> Sequence[str]:
        """The unique ids (UIDL) of the messages waiting, in message-number order."""
        with self._errors("UIDL"):
            if self.pipelining:
                self._send(["UIDL", "LIST"])
                self._status()
                listing = self._multiline()
                self._status()
                sizes_listing = self._multiline()
            else:
                self._command("UIDL")
                listing = self._multiline()
                self._command("LIST")
                sizes_listing = self._multiline()
        numbers: dict[str, int] = {}
        for line in listing.splitlines():
            fields = line.split()
            if len(fields) >= 2:
                numbers.setdefault(fields[1].decode("utf-8", "replace"), int(fields[0]))
        octets: dict[int, int] = {}
        for line in sizes_listing.splitlines():
            fields = line.split()
            if len(fields) >= 2:
                octets[int(fields[0])] = int(fields[1])
        self._numbers = numbers
        self._sizes = {uid: octets.get(n, 0) for uid, n in numbers.items()}
        return sorted(numbers, key=numbers.__getitem__)

    def fetch(self, uids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        """The raw messages; with PIPELINING one write per batch (read whole before yielding)."""
        known = [u for u in uids if u in self._numbers]
        size = self.account.batch_size if self.pipelining else 1
        for batch in split_batches(known, size, self._sizes, self.max_batch_bytes):
            yield from self._fetch_batch(batch)

    def _fetch_batch(self, batch: Sequence[str]) -> list[tuple[str, bytes]]:
        found: list[tuple[str, bytes]] = []
        with self._errors("RETR"):
            self._send([f"RETR {self._numbers[u]}" for u in batch])
            for uid in batch:
                try:
                    self._status()
                except _Pop3Error:  # gone meanwhile (deleted in another session)
                    continue
                found.append((uid, self._multiline()))
        return found

    def delete(self, uids: Sequence[str]) -> None:
        """Mark these messages deleted; the server removes them at `close` (QUIT)."""
        known = [u for u in uids if u in self._numbers]
        size = self.account.batch_size if self.pipelining else 1
        for start in range(0, len(known), size):
            batch = known[start : start + size]
            with self._errors("DELE"):
                self._send([f"DELE {self._numbers[u]}" for u in batch])
                for uid in batch:
                    try:
                        self._status()
                    except _Pop3Error:  # already marked in this session
                        continue
                    del self._numbers[uid]

    def move(self, uids: Sequence[str], folder: str) -> None:
        """POP3 has no folders: always raises `MailboxError`."""
        raise MailboxError(f"{self.account.name}: POP3 cannot move messages to {folder!r}")

    def close(self) -> None:
        """QUIT, which commits the deletions; raises `MailboxError` if not confirmed."""
        if self.closed:
            return
        self.closed = True
        try:
            with self._errors("QUIT"):
                self._command("QUIT")
        finally:
            with contextlib.suppress(Exception):
                self.connection.close()

    def abort(self) -> None:
        """Drop the connection without QUIT: the server deletes nothing."""
        self.closed = True
        with contextlib.suppress(Exception):
            self.connection.close()

    def __enter__(self) -> Pop3Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info and exc_info[0] is not None:
            # an error is on its way up: still try to QUIT (only committed mail was
            # marked deleted), but never let a failing QUIT hide the first error
            with contextlib.suppress(MailboxError):
                self.close()
        else:
            self.close()

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except MailboxError:
            raise
        except _Pop3Error as exc:
            raise MailboxError(f"{self.account.name}: POP3 {doing} answered {exc}") from exc
        except (OSError, EOFError, poplib.error_proto, ValueError) as exc:
            raise MailboxError(f"{self.account.name}: POP3 {doing} failed: {exc}") from exc


class Pop3Transport:
    """A `MailboxTransport` for POP3 servers."""

    def __init__(self, max_batch_bytes: int = MAX_BATCH_BYTES) -> None:
        self.stats = TransportStats()
        """Connections, commands and round trips over every session opened."""
        self.max_batch_bytes = max_batch_bytes

    def open(self, account: MailboxAccount) -> Pop3Session:
        """Connect, secure (STLS is required when configured), read CAPA and log in."""
        host, port, timeout = account.host, account.effective_port, account.timeout_seconds
        where = f"{host}:{port}"
        conn: poplib.POP3 | None = None
        self.stats.connections += 1
        try:
            if account.tls is TlsMode.IMPLICIT:
                context = ssl_context(account)
                conn = poplib.POP3_SSL(host, port, timeout=timeout, context=context)
            else:
                conn = poplib.POP3(host, port, timeout=timeout)
            self.stats.round_trips += 1  # the greeting
            session = Pop3Session(account, conn, self.stats, self.max_batch_bytes)
            session._capa()
            if account.tls is TlsMode.STARTTLS:
                if "STLS" not in session.capabilities:
                    raise MailboxError(
                        f"{account.name}: {where} does not offer STLS, which the account"
                        " requires; not continuing without TLS"
                    )
                self.stats.commands += 1
                self.stats.round_trips += 1
                conn.stls(context=ssl_context(account))
                session._capa()  # RFC 2595: capabilities may change after STLS
            session._login()
        except MailboxError:
            if conn is not None:
                _close(conn)
            raise
        except (OSError, EOFError, poplib.error_proto) as exc:
            if conn is not None:
                _close(conn)
            raise MailboxError(f"{account.name}: cannot connect to POP3 {where}: {exc}") from exc
        return session


def _close(conn: poplib.POP3) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def _text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text
