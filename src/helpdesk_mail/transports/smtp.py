"""The SMTP send transport (stdlib `smtplib`): TLS, AUTH, connection reuse, typed failures.

`SmtpTransport(settings.outgoing)` implements `ports.SendTransport`:

- TLS (`OutgoingSettings.smtp_tls`): ``implicit`` (SMTPS, usually port 465),
  ``starttls`` (usually 587; REQUIRED: a server that does not offer STARTTLS, or
  refuses it, gets nothing, never the message in plain text) or ``none``.
  Certificates are always verified (`ssl.create_default_context`, hostname check
  included, TLS 1.2 or later); a private server is trusted by naming its CA bundle
  in `smtp_ca_file`, never by switching verification off.
- AUTH: SASL XOAUTH2 (Office 365, Gmail) when `smtp_oauth2_token` or the
  `smtp_oauth2` table is set, with a token fetched from it at every login; else AUTH
  PLAIN (or LOGIN when the server offers only that) when `smtp_username` is set; else
  no AUTH. Credentials configured but no matching mechanism offered is an error, not a
  silent unauthenticated send.
- Connections: outside a ``with`` block every `send` opens a connection and QUITs it;
  inside ``with SmtpTransport(...) as t:`` one connection serves every send, and a
  connection the server dropped while idle is replaced once (only when the drop is
  noticed before the message data went out, so nothing is ever sent twice).
- PIPELINING (RFC 2920): when the server offers it, MAIL FROM, every RCPT TO and DATA
  go out in one write and their replies are read after, two waits a message instead
  of three or more; refusals are handled as one at a time (a message with an address
  beyond ASCII, which needs SMTPUTF8's option, goes one command at a time).
- The envelope sender is `OutgoingSettings.from_address`; the envelope recipients are
  the message's To, Cc and Bcc addresses (Bcc is not transmitted). An address with a
  line break, a control character, white space or angle brackets never reaches the
  envelope: it is reported as refused (``code=None``).

Every failure raises `SmtpSendError` (a `ports.SendError`) with the SMTP `code` (None
when the failure had none, e.g. a time-out) and `temporary` (4xx, network failures:
retry later) versus permanent (5xx, configuration: do not retry). When the server
refuses some recipients but accepts others, the message WAS sent to the others:
`send` raises `SmtpSendError` with `partial` true, `accepted` and `refused` filled
(do not resend to `accepted`); `deliver` returns the same facts as a `SendResult`
instead of raising.

`prepare(message)` (`ports.PreparingSendTransport`) checks and serializes a message
ahead of its turn; its `send` then only talks to the server. `prepare` may be called
from another thread than the one sending; otherwise the transport is not thread-safe:
use one transport per thread.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import copy
import functools
import re
import smtplib
import ssl
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from types import TracebackType

from ..ports import Refusal, SendError
from ..settings import OutgoingSettings, TlsMode
from .secrets import SecretError, smtp_password
from .tls import oauth2_source

__all__ = ["Refusal", "SendResult", "SmtpSendError", "SmtpTransport"]

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for the connection and for each server reply."""

# A bare addr-spec for the envelope: no white space (Unicode line separators included),
# control characters, angle brackets or other characters that end an address.
_ENVELOPE_ADDRESS = re.compile(
    r'[^\s<>()\[\],;:"\\\x00-\x1f\x7f@]+@[^\s<>()\[\],;:"\\\x00-\x1f\x7f@]+'
)
_MAX_ADDRESS = 254
_FOLD = re.compile(r"\r?\n[ \t]")
_DROPPED_CODES = frozenset({421})
"""Replies that mean the server is closing the connection."""


@dataclass(frozen=True)
class SendResult:
    """What one sent message achieved: the recipients accepted and those refused."""

    accepted: tuple[str, ...]
    refused: tuple[Refusal, ...] = ()
    message_id: str | None = None

    @property
    def partial(self) -> bool:
        """Whether some recipients were refused while others got the message."""
        return bool(self.accepted and self.refused)


class SmtpSendError(SendError):
    """A message could not be sent (to everyone): the SMTP code, temporary or not, refusals.

    `accepted` is non-empty (and `partial` true) when the message was sent to those
    recipients and only `refused` ones missed it: do not resend to `accepted`.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        temporary: bool | None = None,
        accepted: Sequence[str] = (),
        refused: Sequence[Refusal] = (),
    ) -> None:
        # `code`: the SMTP reply code, or None (network failure, time-out, local check);
        # `temporary`: 4xx or network trouble, unless said otherwise.
        super().__init__(
            message,
            code=code,
            temporary=(code is not None and 400 <= code < 500) if temporary is None else temporary,
            accepted=accepted,
            refused=refused,
        )

    @property
    def partial(self) -> bool:
        """Whether the message reached some recipients (`accepted`) but not all."""
        return bool(self.accepted)


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _with_end(data: bytes) -> bytes:
    """The message data as `smtplib.SMTP.data` sends it: lines starting with a dot get
    another, a line end at the end, then the lone dot."""
    quoted = _LEADING_DOT.sub(b"..", data)
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    return quoted + b".\r\n"


class _Dropped(Exception):
    """The connection was lost before the message data was sent: safe to try again."""


def _unless_closing(code: int, reply: bytes) -> tuple[int, bytes]:
    """The reply, or `_Dropped` when it says the server is closing the connection."""
    if code in _DROPPED_CODES:
        raise _Dropped(f"the server is closing the connection: {code} {_reply_text(reply)}")
    return code, reply


def _lost(exc: OSError, timeout: float) -> str:
    """Why a connection was lost, in words (smtplib hides a read time-out as a disconnect)."""
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"timed out after {timeout} s"
    return f"the server closed the connection ({exc or type(exc).__name__})"


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _is_envelope_address(address: str) -> bool:
    return len(address) <= _MAX_ADDRESS and _ENVELOPE_ADDRESS.fullmatch(address) is not None


@dataclass(frozen=True)
class _Envelope:
    sender: str
    recipients: tuple[str, ...]
    invalid: tuple[Refusal, ...]
    data: bytes
    options: tuple[str, ...]
    message_id: str | None


def _header_addresses(message: EmailMessage, name: str) -> Iterator[str]:
    values = message.get_all(name) or []
    for value in values:
        addresses = getattr(value, "addresses", None)
        if addresses is not None:
            for address in addresses:
                yield str(address.addr_spec)
        else:
            for _, spec in getaddresses([str(value)]):
                yield spec


def _check_headers(message: EmailMessage) -> None:
    """Refuse a header with a line break that is not folding (a header injection)."""
    for name, value in message.raw_items():
        text = _FOLD.sub(" ", str(value))
        if "\r" in text or "\n" in text or "\x00" in text:
            raise SmtpSendError(
                f"the message's {name} header contains a line break or NUL; not sent",
                temporary=False,
            )


def _envelope(settings: OutgoingSettings, message: EmailMessage) -> _Envelope:
    _check_headers(message)
    sender = settings.from_address
    if not sender or not _is_envelope_address(sender):
        raise SmtpSendError(
            f"outgoing.from_address {sender!r} cannot be the envelope sender",
            temporary=False,
        )
    seen: set[str] = set()
    recipients: list[str] = []
    invalid: list[Refusal] = []
    for header in ("To", "Cc", "Bcc"):
        for address in _header_addresses(message, header):
            key = address.lower()
            if key in seen:
                continue
            seen.add(key)
            if _is_envelope_address(address):
                recipients.append(address)
            else:
                invalid.append(Refusal(address, None, "not a usable envelope address"))
    if not recipients:
        raise SmtpSendError(
            "the message has no usable recipient (To, Cc or Bcc)",
            temporary=False,
            refused=invalid,
        )
    international = not all(a.isascii() for a in (sender, *recipients))
    to_send = message
    if message.get("Bcc") is not None or message.get("Resent-Bcc") is not None:
        to_send = copy.copy(message)
        del to_send["Bcc"]
        del to_send["Resent-Bcc"]
    try:
        data = to_send.as_bytes(policy=policy.SMTPUTF8 if international else policy.SMTP)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise SmtpSendError(f"the message cannot be serialized: {exc}", temporary=False) from exc
    message_id = message.get("Message-ID")
    return _Envelope(
        sender=sender,
        recipients=tuple(recipients),
        invalid=tuple(invalid),
        data=data,
        options=("SMTPUTF8", "BODY=8BITMIME") if international else (),
        message_id=str(message_id).strip() if message_id is not None else None,
    )


class SmtpTransport:
    """Sends messages through the SMTP server of `OutgoingSettings` (see the module doc).

    `timeout` bounds the connection and each wait for a reply (seconds);
    `local_hostname` is the EHLO name (None: this machine's FQDN, as `smtplib` finds it).
    """

    def __init__(
        self,
        settings: OutgoingSettings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        local_hostname: str | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.connections = 0
        """How many connections this transport opened (and logged in on) so far."""
        self._conn: smtplib.SMTP | None = None
        self._keep = 0
        self._prepared: weakref.WeakKeyDictionary[EmailMessage, _Envelope] = (
            weakref.WeakKeyDictionary()
        )
        self._prepared_lock = threading.Lock()

    # --- lifecycle ---

    def __enter__(self) -> SmtpTransport:
        self._keep += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._keep = max(0, self._keep - 1)
        if not self._keep:
            self.close()

    def open(self) -> None:
        """Connect and log in now (inside ``with``, to fail early); a no-op when connected."""
        if self._conn is None:
            self._conn = self._connect()

    def close(self) -> None:
        """QUIT and close the kept connection, if any (errors on the way out are ignored)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    # --- sending ---

    def prepare(self, message: EmailMessage) -> EmailMessage:
        """Check and serialize `message` now (from any thread) so that its `send` or
        `deliver` only talks to the server; returns `message`, which must not change
        afterwards. A message that cannot be sent is returned as it is: `send` refuses it."""
        try:
            envelope = _envelope(self.settings, message)
        except SmtpSendError:
            return message
        with self._prepared_lock:
            self._prepared[message] = envelope
        return message

    def send(self, message: EmailMessage) -> None:
        """Send `message`; raises `SmtpSendError` on failure or when any recipient was refused."""
        result = self.deliver(message)
        if result.refused:
            first = result.refused[0]
            raise SmtpSendError(
                f"{self._where()}: {len(result.refused)} recipient(s) refused, the message was "
                f"sent to the {len(result.accepted)} others; first refusal: "
                f"{first.address}: {first.code} {first.reply}",
                code=first.code,
                temporary=all(r.temporary for r in result.refused),
                accepted=result.accepted,
                refused=result.refused,
            )

    def deliver(self, message: EmailMessage) -> SendResult:
        """Send `message` and say who got it; raises `SmtpSendError` when nobody did.

        Unlike `send`, refused recipients alongside accepted ones are not an error:
        they are in `SendResult.refused`.
        """
        with self._prepared_lock:
            envelope = self._prepared.pop(message, None)
        if envelope is None:
            envelope = _envelope(self.settings, message)
        try:
            for attempt in range(2):
                reused = self._conn is not None
                conn = self._conn if self._conn is not None else self._connect()
                self._conn = conn
                try:
                    return self._transaction(conn, envelope)
                except _Dropped as exc:
                    self._discard()
                    if reused and attempt == 0:
                        continue  # the server dropped an idle kept connection: reconnect once
                    raise SmtpSendError(f"{self._where()}: {exc}", temporary=True) from exc
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            if not self._keep:
                self.close()

    def _transaction(self, conn: smtplib.SMTP, env: _Envelope) -> SendResult:
        # MAIL FROM, RCPT TO and DATA: a lost connection here means nothing was sent yet.
        # With PIPELINING (RFC 2920) they go out in one write and their replies are read
        # after; an address beyond ASCII (SMTPUTF8) goes the one-at-a-time way.
        pipelined = not env.options and conn.has_extn("pipelining")
        if pipelined:
            replies = self._pipeline(conn, env)
            mail, data = replies[0], replies[-1]
        else:
            mail = self._command(conn, functools.partial(conn.mail, env.sender, env.options))
            data = None
        if mail[0] != 250:
            self._end_data(conn, data)
            self._reset(conn)
            code, reply = mail
            raise SmtpSendError(
                f"{self._where()}: sender {env.sender} refused: {code} {_reply_text(reply)}",
                code=code,
                temporary=None if code >= 0 else True,
            )
        accepted: list[str] = []
        refused = list(env.invalid)
        for index, rcpt in enumerate(env.recipients):
            if pipelined:
                code, reply = replies[1 + index]
            else:
                code, reply = self._command(conn, functools.partial(conn.rcpt, rcpt))
            if code in (250, 251):
                accepted.append(rcpt)
            else:
                refused.append(Refusal(rcpt, code, _reply_text(reply)))
        if not accepted:
            self._end_data(conn, data)
            self._reset(conn)
            codes = [r.code for r in refused if r.code is not None]
            raise SmtpSendError(
                f"{self._where()}: every recipient was refused: "
                + "; ".join(f"{r.address}: {r.code} {r.reply}" for r in refused),
                code=codes[0] if codes else None,
                temporary=all(r.temporary for r in refused),
                refused=refused,
            )
        # the data: once it may have gone out, a lost connection is never retried.
        try:
            if data is None:
                code, reply = conn.data(env.data)
            elif data[0] != 354:  # DATA itself was refused: nothing sent
                raise smtplib.SMTPDataError(*data)
            else:
                conn.send(_with_end(env.data))
                code, reply = conn.getreply()
        except smtplib.SMTPDataError as exc:
            self._reset(conn)
            raise SmtpSendError(
                f"{self._where()}: DATA refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._discard()
            raise SmtpSendError(
                f"{self._where()}: the connection failed during DATA ({exc}); "
                "the message may or may not have been delivered",
                temporary=True,
            ) from exc
        if code != 250:
            self._reset(conn)
            raise SmtpSendError(
                f"{self._where()}: message refused: {code} {_reply_text(reply)}",
                code=code,
                temporary=None if code >= 0 else True,
            )
        return SendResult(tuple(accepted), tuple(refused), env.message_id)

    def _pipeline(self, conn: smtplib.SMTP, env: _Envelope) -> list[tuple[int, bytes]]:
        """MAIL FROM, each RCPT TO and DATA in one write; their replies, in order."""
        lines = [f"MAIL FROM:{smtplib.quoteaddr(env.sender)}"]
        lines += [f"RCPT TO:{smtplib.quoteaddr(r)}" for r in env.recipients]
        lines.append("DATA")
        replies: list[tuple[int, bytes]] = []
        try:
            conn.send("".join(f"{line}\r\n" for line in lines))
            for _ in lines:
                replies.append(_unless_closing(*conn.getreply()))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Dropped(_lost(exc, self.timeout)) from exc
        return replies

    def _end_data(self, conn: smtplib.SMTP, data: tuple[int, bytes] | None) -> None:
        """End an empty message when a pipelined DATA was accepted but nothing is to be
        sent (the sender or every recipient refused): the server then refuses it."""
        if data is None or data[0] != 354:
            return
        try:
            conn.send(b".\r\n")
            conn.getreply()
        except (smtplib.SMTPException, OSError):
            self._discard()

    def _command(
        self, conn: smtplib.SMTP, command: Callable[[], tuple[int, bytes]]
    ) -> tuple[int, bytes]:
        try:
            code, reply = command()
        except smtplib.SMTPNotSupportedError as exc:  # SMTPUTF8 needed, not offered
            self._reset(conn)
            raise SmtpSendError(f"{self._where()}: {exc}", temporary=False) from exc
        except smtplib.SMTPResponseException as exc:
            self._discard()
            raise SmtpSendError(
                f"{self._where()}: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
                code=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Dropped(_lost(exc, self.timeout)) from exc
        except ValueError as exc:  # smtplib refuses CR/LF in a command line
            self._reset(conn)
            raise SmtpSendError(f"{self._where()}: {exc}", temporary=False) from exc
        return _unless_closing(code, reply)

    def _reset(self, conn: smtplib.SMTP) -> None:
        """RSET after a failed transaction so that a kept connection can serve the next one."""
        if not self._keep:
            return
        try:
            code, _ = conn.rset()
        except (smtplib.SMTPException, OSError):
            self._discard()
            return
        if code != 250:
            self._discard()

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _where(self) -> str:
        return f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}"

    # --- connecting ---

    def _context(self) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(cafile=self.settings.smtp_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise SmtpSendError(
                f"cannot load outgoing.smtp_ca_file {self.settings.smtp_ca_file!r}: {exc}",
                temporary=False,
            ) from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = self._context() if s.smtp_tls is not TlsMode.NONE else None
        conn: smtplib.SMTP | None = None
        try:
            if s.smtp_tls is TlsMode.IMPLICIT:
                conn = smtplib.SMTP_SSL(
                    s.smtp_host,
                    s.smtp_port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=context,
                )
            else:
                conn = smtplib.SMTP(
                    s.smtp_host,
                    s.smtp_port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                )
            self._hello(conn)
            if s.smtp_tls is TlsMode.STARTTLS:
                self._starttls(conn, context)
            self._login(conn)
        except SmtpSendError:
            if conn is not None:
                conn.close()
            raise
        except Exception as exc:
            if conn is not None:
                conn.close()
            raise self._connect_error(exc) from exc
        self.connections += 1
        return conn

    def _connect_error(self, exc: Exception) -> SmtpSendError:
        where = self._where()
        if isinstance(exc, smtplib.SMTPResponseException):  # greeting, EHLO, AUTH replies
            text = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
            return SmtpSendError(f"{where}: {text}", code=exc.smtp_code)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return SmtpSendError(f"{where}: {_lost(exc, self.timeout)}", temporary=True)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return SmtpSendError(
                f"{where}: the server's certificate is not trusted ({exc.verify_message}); "
                "set outgoing.smtp_ca_file for a private CA",
                temporary=False,
            )
        if isinstance(exc, ssl.SSLError):
            return SmtpSendError(f"{where}: TLS failed: {exc}", temporary=False)
        if isinstance(exc, TimeoutError):
            return SmtpSendError(f"{where}: timed out after {self.timeout} s", temporary=True)
        if isinstance(exc, OSError | smtplib.SMTPException):
            return SmtpSendError(f"{where}: cannot connect: {exc}", temporary=True)
        if isinstance(exc, UnicodeError | ValueError):
            return SmtpSendError(f"{where}: {exc}", temporary=False)
        raise exc

    @staticmethod
    def _hello(conn: smtplib.SMTP) -> None:
        code, reply = conn.ehlo()
        if not 200 <= code < 300:
            code, reply = conn.helo()
            if not 200 <= code < 300:
                raise smtplib.SMTPHeloError(code, reply)

    def _starttls(self, conn: smtplib.SMTP, context: ssl.SSLContext | None) -> None:
        where = self._where()
        if not conn.has_extn("starttls"):
            raise SmtpSendError(
                f"{where}: the server does not offer STARTTLS, which outgoing.smtp_tls "
                "requires; nothing is sent in plain text",
                temporary=False,
            )
        code, reply = conn.starttls(context=context)
        if code != 220:  # smtplib returns (not raises) a refused STARTTLS
            raise SmtpSendError(
                f"{where}: STARTTLS refused: {code} {_reply_text(reply)}; "
                "nothing is sent in plain text",
                code=code,
            )
        self._hello(conn)

    def _login(self, conn: smtplib.SMTP) -> None:
        s = self.settings
        source = oauth2_source(s.smtp_oauth2_token, s.smtp_oauth2)
        if source is None and not s.smtp_username:
            return
        where = self._where()
        offered = conn.esmtp_features.get("auth", "").upper().split()
        if source is not None:
            if "XOAUTH2" not in offered:
                raise SmtpSendError(
                    f"{where}: the server does not offer AUTH XOAUTH2 "
                    f"(offered: {' '.join(offered) or 'no AUTH'})",
                    temporary=False,
                )
            self._auth(conn, "XOAUTH2", [self._xoauth2(source)], abort_on_challenge=True)
            return
        user = s.smtp_username.encode()
        try:
            password = smtp_password(s).encode()
        except SecretError as exc:  # temporary: the mail waits until the secret is back
            raise SmtpSendError(f"{where}: {exc}", temporary=True) from None
        if "PLAIN" in offered:
            self._auth(conn, "PLAIN", [b"\0" + user + b"\0" + password])
        elif "LOGIN" in offered:
            self._auth(conn, "LOGIN", [user, password], initial=False)
        else:
            raise SmtpSendError(
                f"{where}: outgoing.smtp_username is set but the server offers no AUTH PLAIN "
                f"or LOGIN (offered: {' '.join(offered) or 'no AUTH'})",
                temporary=False,
            )

    def _xoauth2(self, source: Callable[[], str]) -> bytes:
        s = self.settings
        if not s.smtp_username:
            raise SmtpSendError(
                "outgoing.smtp_username (the mailbox address) is required with OAuth2",
                temporary=False,
            )
        try:
            token = source()
        except Exception as exc:
            # An OAuth2Error knows whether it is worth retrying (invalid_grant is not).
            temporary = getattr(exc, "temporary", True)
            raise SmtpSendError(
                f"the OAuth2 token source failed: {type(exc).__name__}: {exc}",
                temporary=temporary if isinstance(temporary, bool) else True,
            ) from exc
        if (
            not isinstance(token, str)
            or not token
            or not token.isascii()
            or not token.isprintable()
        ):
            raise SmtpSendError("the OAuth2 token source gave an unusable token", temporary=False)
        return f"user={s.smtp_username}\x01auth=Bearer {token}\x01\x01".encode()

    def _auth(
        self,
        conn: smtplib.SMTP,
        mechanism: str,
        responses: list[bytes],
        *,
        initial: bool = True,
        abort_on_challenge: bool = False,
    ) -> None:
        """SASL by hand: `smtplib.auth` would encode credentials as ASCII only."""
        pending = [base64.b64encode(r).decode("ascii") for r in responses]
        if initial:
            code, reply = conn.docmd("AUTH", f"{mechanism} {pending.pop(0)}")
        else:
            code, reply = conn.docmd("AUTH", mechanism)
        while code == 334:
            if abort_on_challenge or not pending:
                # XOAUTH2: a challenge carries the error (JSON); an empty line ends it.
                code, reply = conn.docmd("")
                break
            code, reply = conn.docmd(pending.pop(0))
        if code not in (235, 503):
            raise SmtpSendError(
                f"{self._where()}: AUTH {mechanism} failed: {code} {_reply_text(reply)}",
                code=code,
            )
