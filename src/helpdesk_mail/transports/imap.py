"""The IMAP4rev1 mailbox transport (stdlib `imaplib`), UID-based and batched.

One session is one connection: connect (implicit TLS, or STARTTLS which is then
required), log in (LOGIN or SASL XOAUTH2), SELECT the account's folder, and then:

- `list_uids`: one `UID FETCH 1:* (UID RFC822.SIZE)`, which gives the UIDs and
  their sizes (none at all when SELECT said the folder is empty);
- `fetch`: one `UID FETCH <set> (UID BODY.PEEK[])` per batch of
  `account.batch_size` UIDs, where `<set>` is compressed (`1:50`, `3,7,9:12`). A
  batch is also cut when its messages add up to more than `max_batch_bytes`
  (32 MiB by default; a bigger message goes alone), so memory holds one bounded
  batch. `BODY.PEEK[]` leaves `\\Seen` alone, so a failed poll changes nothing;
- `delete`: one `UID STORE <set> +FLAGS.SILENT (\\Deleted)` and one `UID EXPUNGE
  <set>` per batch (UIDPLUS: only our messages are expunged; without UIDPLUS a
  plain `EXPUNGE` is the only way, and it also removes other `\\Deleted` mail);
- `move`: `UID MOVE` when the server has MOVE, else `UID COPY` + `delete`; a
  missing folder is created (after `[TRYCREATE]`) and the move retried once;
- `close`: `LOGOUT` only. Never `CLOSE`, which would expunge mail that someone
  else flagged `\\Deleted`.

Every network or protocol failure raises `MailboxError`; refused credentials raise
`MailboxAuthError`. The session counts the commands it sends (`commands`) and the
answers it waits for (`round_trips`, the greeting included); the transport sums
them over its sessions for benchmarks.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..ports import MailboxAuthError, MailboxError
from ..settings import MailboxAccount, TlsMode
from .batching import MAX_BATCH_BYTES, TransportStats, split_batches
from .secrets import SecretError, mailbox_password
from .tls import ssl_context, xoauth2_string

__all__ = [
    "MAX_BATCH_BYTES",
    "ImapSession",
    "ImapTransport",
    "TransportStats",
    "encode_mailbox_name",
    "uid_set",
]

_UID_RE = re.compile(rb"UID (\d+)", re.IGNORECASE)
_BODY_RE = re.compile(rb"BODY\[\]", re.IGNORECASE)
_FETCH_START_RE = re.compile(rb"^\d+ \(")
_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)", re.IGNORECASE)


def uid_set(uids: Sequence[str]) -> str:
    """A compact IMAP UID set for numeric UIDs: `["1", "2", "3", "7"]` -> `"1:3,7"`."""
    numbers = sorted({int(u) for u in uids})
    if not numbers:
        raise ValueError("an empty UID set")
    parts: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = n
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


def _modified_base64(text: str) -> str:
    data = text.encode("utf-16-be")
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",")


def encode_mailbox_name(name: str) -> str:
    """A folder name as a quoted IMAP string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            if pending:
                out.append("&" + _modified_base64("".join(pending)) + "-")
                pending = []
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    if pending:
        out.append("&" + _modified_base64("".join(pending)) + "-")
    encoded = "".join(out)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _CountingMixin:
    """Counts the lines `imaplib` sends (each ends a command or a continuation)."""

    stats: TransportStats

    def send(self, data: Any) -> None:
        if bytes(data).endswith(b"\r\n"):
            self.stats.commands += 1
            self.stats.round_trips += 1
        super().send(data)  # type: ignore[misc]


class _IMAP4(_CountingMixin, imaplib.IMAP4):
    def __init__(self, host: str, port: int, timeout: float, stats: TransportStats) -> None:
        self.stats = stats
        stats.round_trips += 1  # the greeting
        super().__init__(host, port, timeout=timeout)


class _IMAP4_SSL(_CountingMixin, imaplib.IMAP4_SSL):
    def __init__(
        self, host: str, port: int, timeout: float, stats: TransportStats, context: ssl.SSLContext
    ) -> None:
        self.stats = stats
        stats.round_trips += 1  # the greeting
        super().__init__(host, port, ssl_context=context, timeout=timeout)


@contextmanager
def _errors(account: MailboxAccount, doing: str) -> Iterator[None]:
    """Map socket, TLS and protocol errors to `MailboxError`."""
    try:
        yield
    except MailboxError:
        raise
    except (OSError, EOFError, imaplib.IMAP4.error, ValueError) as exc:
        raise MailboxError(f"{account.name}: IMAP {doing} failed: {exc}") from exc


class _Xoauth2:
    """The SASL XOAUTH2 exchange: the token first, an empty answer to an error challenge."""

    def __init__(self, initial: bytes) -> None:
        self._initial: bytes | None = initial

    def __call__(self, challenge: bytes) -> bytes:
        initial, self._initial = self._initial, None
        return initial if initial is not None else b""


class ImapSession:
    """One logged-in IMAP connection with the account's folder selected."""

    can_move = True
    stable_ids = False  # a changed UIDVALIDITY renumbers the UIDs

    def __init__(
        self,
        account: MailboxAccount,
        connection: imaplib.IMAP4,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.account = account
        self.connection = connection
        """The underlying `imaplib.IMAP4` (tests use it to cut the connection)."""
        self.max_batch_bytes = max_batch_bytes
        self.capabilities: frozenset[str] = frozenset()
        self.closed = False
        self._exists: int | None = None
        self._sizes: dict[str, int] = {}

    @property
    def exists(self) -> int | None:
        """How many messages SELECT said the folder holds (None: it did not say)."""
        return self._exists

    # --- setup (called by ImapTransport.open) ---

    def _login(self) -> None:
        account, conn = self.account, self.connection
        initial = xoauth2_string(account)
        try:
            if initial is not None:
                conn.authenticate("XOAUTH2", _Xoauth2(initial))
            else:
                conn.login(account.username, mailbox_password(account))
        except SecretError as exc:
            raise MailboxAuthError(f"{account.name}: {exc}") from exc
        except imaplib.IMAP4.abort as exc:
            raise MailboxError(f"{account.name}: IMAP connection lost at login: {exc}") from exc
        except (imaplib.IMAP4.error, UnicodeError) as exc:
            raise MailboxAuthError(f"{account.name}: IMAP login refused: {_text(exc)}") from exc
        except OSError as exc:
            raise MailboxError(f"{account.name}: IMAP connection lost at login: {exc}") from exc
        with _errors(account, "CAPABILITY"):
            typ, data = conn.capability()
            _check(account, "CAPABILITY", typ, data)
            caps = data[-1] if data else b""
            self.capabilities = frozenset(bytes(caps).decode("ascii", "replace").upper().split())
        with _errors(account, "SELECT"):
            typ, data = conn.select(encode_mailbox_name(account.folder))
            _check(account, f"SELECT {account.folder!r}", typ, data)
            with contextlib.suppress(ValueError, TypeError, IndexError):
                self._exists = int(data[0] or b"")

    # --- MailboxSession ---

    def list_uids(self) -> Sequence[str]:
        """UIDs of every message in the folder, oldest first (one command, with sizes)."""
        if self._exists == 0:
            return []
        conn = self.connection
        with _errors(self.account, "UID FETCH (RFC822.SIZE)"):
            typ, data = conn.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
            _check(self.account, "UID FETCH (RFC822.SIZE)", typ, data)
        sizes: dict[str, int] = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = _UID_RE.search(line), _SIZE_RE.search(line)
            if uid:
                sizes[uid[1].decode("ascii")] = int(size[1]) if size else 0
        self._sizes = sizes
        return sorted(sizes, key=int)

    def fetch(self, uids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        """The raw messages, one `UID FETCH` per batch; a batch is read whole before yielding."""
        for batch in split_batches(
            uids, self.account.batch_size, self._sizes, self.max_batch_bytes
        ):
            yield from self._fetch_batch(batch)

    def _fetch_batch(self, batch: Sequence[str]) -> list[tuple[str, bytes]]:
        if not batch:
            return []
        conn = self.connection
        with _errors(self.account, "UID FETCH"):
            typ, data = conn.uid("FETCH", uid_set(batch), "(UID BODY.PEEK[])")
            _check(self.account, "UID FETCH", typ, data)
        wanted = set(batch)
        found: list[tuple[str, bytes]] = []
        pending: bytes | None = None
        for item in data:
            if isinstance(item, tuple):
                header, literal = item
                pending = None
                if not _BODY_RE.search(header):
                    continue
                match = _UID_RE.search(header)
                if match:
                    found.append((match[1].decode("ascii"), bytes(literal)))
                else:  # `UID n` after the literal: it is in the next item
                    pending = bytes(literal)
            elif isinstance(item, bytes) and pending is not None:
                match = _UID_RE.search(item)
                if match and not _FETCH_START_RE.match(item):
                    found.append((match[1].decode("ascii"), pending))
                pending = None
        # keep the order asked for; ignore anything the server added unasked
        by_uid = {uid: raw for uid, raw in found if uid in wanted}
        return [(uid, by_uid[uid]) for uid in batch if uid in by_uid]

    def delete(self, uids: Sequence[str]) -> None:
        """Flag `\\Deleted` and expunge exactly these UIDs (two commands per batch)."""
        size = self.account.batch_size
        for start in range(0, len(uids), size):
            self._delete_batch(uids[start : start + size])

    def _delete_batch(self, batch: Sequence[str]) -> None:
        if not batch:
            return
        conn, ids = self.connection, uid_set(batch)
        with _errors(self.account, "UID STORE"):
            typ, data = conn.uid("STORE", ids, "+FLAGS.SILENT", r"(\Deleted)")
            _check(self.account, "UID STORE", typ, data)
        with _errors(self.account, "EXPUNGE"):
            if "UIDPLUS" in self.capabilities:
                typ, data = conn.uid("EXPUNGE", ids)
            else:
                typ, data = conn.expunge()
            _check(self.account, "EXPUNGE", typ, data)
            conn.untagged_responses.pop("EXPUNGE", None)

    def move(self, uids: Sequence[str], folder: str) -> None:
        """Move these UIDs to `folder`, creating it when the server says it is missing."""
        size = self.account.batch_size
        for start in range(0, len(uids), size):
            self._move_batch(uids[start : start + size], folder)

    def _move_batch(self, batch: Sequence[str], folder: str) -> None:
        if not batch:
            return
        conn, ids, target = self.connection, uid_set(batch), encode_mailbox_name(folder)
        command = "MOVE" if "MOVE" in self.capabilities else "COPY"
        with _errors(self.account, f"UID {command}"):
            typ, data = conn.uid(command, ids, target)
            if typ == "NO":
                # [TRYCREATE]: the folder is missing (some servers do not say so). If it
                # exists after all, CREATE fails and the retry fails like the first try.
                conn.create(target)
                typ, data = conn.uid(command, ids, target)
            _check(self.account, f"UID {command} to {folder!r}", typ, data)
            conn.untagged_responses.pop("EXPUNGE", None)
        if command == "COPY":
            self._delete_batch(batch)

    def close(self) -> None:
        """LOGOUT (never CLOSE, which would expunge other `\\Deleted` mail)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):  # nothing a caller could act on
            self.connection.logout()

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ImapTransport:
    """A `MailboxTransport` for IMAP4rev1 servers."""

    def __init__(self, max_batch_bytes: int = MAX_BATCH_BYTES) -> None:
        self.stats = TransportStats()
        """Connections, commands and round trips over every session opened."""
        self.max_batch_bytes = max_batch_bytes

    def open(self, account: MailboxAccount) -> ImapSession:
        """Connect, secure, log in and select `account.folder`."""
        conn = self._connect(account)
        session = ImapSession(account, conn, self.max_batch_bytes)
        try:
            session._login()
        except BaseException:
            session.closed = True
            _shutdown(conn)
            raise
        return session

    def _connect(self, account: MailboxAccount) -> imaplib.IMAP4:
        host, port, timeout = account.host, account.effective_port, account.timeout_seconds
        where = f"{host}:{port}"
        conn: imaplib.IMAP4 | None = None
        self.stats.connections += 1
        try:
            if account.tls is TlsMode.IMPLICIT:
                context = ssl_context(account)
                conn = _IMAP4_SSL(host, port, timeout, self.stats, context)
            else:
                conn = _IMAP4(host, port, timeout, self.stats)
                if account.tls is TlsMode.STARTTLS:
                    if "STARTTLS" not in conn.capabilities:
                        raise MailboxError(
                            f"{account.name}: {where} does not offer STARTTLS, which the account"
                            " requires; not continuing without TLS"
                        )
                    conn.starttls(ssl_context=ssl_context(account))
        except MailboxError:
            if conn is not None:
                _shutdown(conn)
            raise
        except (OSError, EOFError, imaplib.IMAP4.error) as exc:
            if conn is not None:
                _shutdown(conn)
            raise MailboxError(f"{account.name}: cannot connect to IMAP {where}: {exc}") from exc
        return conn


def _shutdown(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):  # the connection is being abandoned anyway
        conn.shutdown()


def _first(data: Sequence[Any]) -> bytes:
    item = data[0] if data else b""
    if isinstance(item, tuple):
        item = item[0]
    return bytes(item) if isinstance(item, bytes | bytearray) else b""


def _text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text


def _check(account: MailboxAccount, what: str, typ: str, data: Sequence[Any]) -> None:
    if typ != "OK":
        detail = _first(data).decode("utf-8", "replace")
        raise MailboxError(f"{account.name}: IMAP {what} answered {typ}: {detail}")
