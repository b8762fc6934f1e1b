"""A real SMTP server for helpdesk_mail's tests, built on aiosmtpd (the `test` extra).

Based on the team's verified reference (shared/services/smtp_testserver.py: the
listener set-up, the implicit-TLS AUTH fix, the free-port pick, the test CA made
with the openssl CLI), rewritten for this project so that its tests need nothing
outside the repository. Added here: a third listener without TLS, SASL XOAUTH2
(checked like Office 365 does), dropping every open connection on demand, and a
connection count.

Three listeners on 127.0.0.1, all served by one in-process handler:

* ``port``        plain SMTP that offers STARTTLS (like submission on 587);
                  AUTH PLAIN/LOGIN/XOAUTH2 offered only after STARTTLS.
* ``ssl_port``    implicit TLS from the first byte (like 465); AUTH offered at once.
* ``plain_port``  no TLS at all (STARTTLS not offered); AUTH offered in plain text.

Every message accepted by DATA is kept in ``server.messages`` as a `ReceivedMessage`
(envelope, raw bytes, authenticated user and mechanism, TLS version, port, peer) and
can be waited for with `SMTPTestServer.wait_for`. Tests can make the server refuse
things: ``server.reject_recipients["x@example.test"] = "550 5.1.1 No such user"``,
``server.data_response = "451 4.3.0 Try again later"``.

    with SMTPTestServer() as srv:
        ctx = ssl.create_default_context(cafile=srv.ca_file)
        with smtplib.SMTP(srv.host, srv.port) as s:
            s.starttls(context=ctx); s.login(srv.user, srv.password)
            s.sendmail("a@example.test", ["b@example.test"], b"Subject: hi\\r\\n\\r\\nhello")
        [msg] = srv.wait_for(1)
"""

from __future__ import annotations

import base64
import binascii
import email
import email.message
import email.policy
import json
import logging
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

# aiosmtpd 1.4 logs (logging, not warnings) "Session.login_data is deprecated" about
# its own code on every successful AUTH; drop that line.
logging.getLogger("mail.log").addFilter(
    lambda record: "Session.login_data is deprecated" not in record.getMessage()
)

__all__ = ["ReceivedMessage", "SMTPTestServer", "free_port", "make_test_tls"]

DEFAULT_USERS = {"notify@example.test": "smtp-secret"}


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (aiosmtpd 1.4 cannot listen on port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def make_test_tls(directory: str) -> tuple[str, str, str]:
    """Create (or reuse) ca.crt, server.crt, server.key in `directory` (needs openssl).

    EC P-256 keys; the server certificate names localhost and 127.0.0.1 and has the
    extensions Python's default verification requires, so that
    ``ssl.create_default_context(cafile=ca.crt)`` accepts it, hostname check included.
    """
    os.makedirs(directory, exist_ok=True)
    ca_crt, ca_key = os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key")
    crt, key = os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")
    if all(os.path.exists(p) for p in (ca_crt, crt, key)):
        return ca_crt, crt, key
    ext = os.path.join(directory, "server.ext")
    csr = os.path.join(directory, "server.csr")
    with open(ext, "w", encoding="ascii") as f:
        f.write(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n"
        )

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run(
        "openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "3650",
        "-subj", "/CN=helpdesk_mail test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
    )  # fmt: skip
    run("openssl", "req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    run(
        "openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
        "-CAcreateserial", "-out", crt, "-days", "825", "-extfile", ext,
    )  # fmt: skip
    return ca_crt, crt, key


@dataclass
class ReceivedMessage:
    """One message the server accepted, with its envelope and session facts."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes = field(repr=False)
    auth_user: str | None
    """The login after a successful AUTH, else None."""
    auth_mechanism: str | None
    tls_version: str | None
    """E.g. "TLSv1.3"; None for a plain-text session."""
    port: int
    """Which listener took it."""
    helo: str | None
    peer: Any = None
    """(host, port) of the client: the same for messages sent over one connection."""
    received_at: float = 0.0

    @property
    def message(self) -> email.message.EmailMessage:
        """The parsed message (email.policy.default)."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


@dataclass(frozen=True)
class _OAuthLogin:
    login: bytes
    mechanism: str = "XOAUTH2"


class _TrackingController(Controller):  # type: ignore[misc]
    """A controller that registers every session with its server (to count and drop them)."""

    def __init__(self, owner: SMTPTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.lift_auth_require_tls = False

    def factory(self) -> SMTP:
        smtp = super().factory()
        if self.lift_auth_require_tls:
            # aiosmtpd counts only STARTTLS as encryption: on the implicit-TLS port it
            # would never offer AUTH (and on the plain port we want AUTH in plain text).
            smtp._auth_require_tls = False
        self.owner._register(self, smtp)
        return smtp


class _Handler:
    def __init__(self, owner: SMTPTestServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.owner.pipelining:  # offered before the last line ("250 HELP")
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.owner.mail_responses:
            return self.owner.mail_responses.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.owner.reject_recipients.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.owner.data_response:
            return self.owner.data_response
        transport = server.transport
        ssl_obj = transport.get_extra_info("ssl_object") if transport else None
        auth_user = mechanism = None
        data = session.auth_data
        if session.authenticated and data is not None:
            auth_user = data.login.decode("utf-8", "replace")
            mechanism = getattr(data, "mechanism", "PLAIN/LOGIN")
        sock = transport.get_extra_info("sockname") if transport else None
        self.owner._record(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or b"",
                auth_user=auth_user,
                auth_mechanism=mechanism,
                tls_version=ssl_obj.version() if ssl_obj is not None else None,
                port=sock[1] if sock else 0,
                helo=session.host_name,
                peer=session.peer,
                received_at=time.time(),
            )
        )
        return "250 2.0.0 Message accepted for delivery"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """SASL XOAUTH2 as Office 365 and Gmail check it.

        The client sends ``user=<login>^Aauth=Bearer <token>^A^A`` (base64). A wrong
        token gets a 334 challenge carrying a JSON error, which the client answers with
        an empty line, then 535.
        """
        if len(args) == 2:
            try:
                raw = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            answer = await server.challenge_auth("")
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
            raw = answer
        self.owner.sasl_log.append(raw)
        fields = dict(
            part.split("=", 1)
            for part in raw.decode("utf-8", "replace").split("\x01")
            if "=" in part
        )
        user, auth = fields.get("user", ""), fields.get("auth", "")
        good = raw.endswith(b"\x01\x01") and auth.startswith("Bearer ")
        if good and self.owner.oauth2_tokens.get(user) == auth.removeprefix("Bearer "):
            return AuthResult(success=True, auth_data=_OAuthLogin(user.encode()))
        error = {
            "status": "401",
            "schemes": "Bearer",
            "scope": "https://outlook.office.com/SMTP.Send",
        }
        await server.challenge_auth(json.dumps(error))  # the client's empty line is read here
        return AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )


class SMTPTestServer:
    """Three aiosmtpd listeners (STARTTLS, implicit TLS, plain) sharing one mailbag.

    users            {login: password} accepted by AUTH PLAIN / AUTH LOGIN
    oauth2_tokens    {login: access token} accepted by AUTH XOAUTH2
    auth_required    refuse MAIL FROM before a successful AUTH (530)
    require_starttls on the STARTTLS port, refuse everything but EHLO/STARTTLS/QUIT before it
    tls_dir          where to make or reuse the certificate (default: a new temporary dir)
    auth_exclude     AUTH mechanisms not to offer (e.g. ("PLAIN",))
    pipelining       offer PIPELINING (RFC 2920) in the EHLO reply (aiosmtpd reads pipelined
                     commands either way; it does not offer the extension by itself)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        users: dict[str, str] | None = None,
        oauth2_tokens: dict[str, str] | None = None,
        auth_required: bool = False,
        require_starttls: bool = False,
        tls_dir: str | None = None,
        server_hostname: str = "smtp.example.test",
        auth_exclude: tuple[str, ...] = (),
        pipelining: bool = False,
    ) -> None:
        self.host = host
        self.pipelining = pipelining
        self.port = free_port(host)
        self.ssl_port = free_port(host)
        self.plain_port = free_port(host)
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.user, self.password = next(iter(self.users.items())) if self.users else ("", "")
        self.oauth2_tokens = dict(oauth2_tokens or {})
        self.auth_required = auth_required
        self.require_starttls = require_starttls
        self.server_hostname = server_hostname  # the EHLO name; avoids socket.getfqdn()
        self.auth_exclude = auth_exclude
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if tls_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-tls-")
            tls_dir = self._tmp.name
        self.ca_file, self.cert_file, self.key_file = make_test_tls(tls_dir)
        self.messages: list[ReceivedMessage] = []
        self.reject_recipients: dict[str, str] = {}
        self.data_response: str | None = None
        self.mail_responses: list[str] = []
        """Replies to the next MAIL FROM commands, one each (e.g. "421 4.4.2 Idle timeout")."""
        self.sasl_log: list[bytes] = []
        """Every decoded XOAUTH2 initial response received."""
        self.connections = 0
        """Connections accepted so far, on every listener."""
        self._cond = threading.Condition()
        self._sessions: list[tuple[_TrackingController, SMTP]] = []
        self._controllers: list[_TrackingController] = []

    # --- recording ---

    def _record(self, msg: ReceivedMessage) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def _register(self, controller: _TrackingController, smtp: SMTP) -> None:
        with self._cond:
            self.connections += 1
            self._sessions.append((controller, smtp))

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} message(s), got {len(self.messages)}")
                self._cond.wait(left)
            return list(self.messages)

    def clear(self) -> None:
        """Forget the messages and the injected failures (the listeners keep running)."""
        with self._cond:
            self.messages.clear()
            self.connections = 0
        self.sasl_log.clear()
        self.reject_recipients.clear()
        self.mail_responses.clear()
        self.data_response = None

    def disconnect_all(self, timeout: float = 5.0) -> int:
        """Close every open client connection from the server side, as an idle time-out would."""
        with self._cond:
            sessions, self._sessions = self._sessions, []
        closed = 0
        for controller, smtp in sessions:
            transport = smtp.transport
            if transport is None or transport.is_closing():
                continue
            done = threading.Event()

            def close(t: Any = transport, d: threading.Event = done) -> None:
                t.close()
                d.set()

            controller.loop.call_soon_threadsafe(close)
            done.wait(timeout)
            closed += 1
        return closed

    # --- lifecycle ---

    def _authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def start(self) -> SMTPTestServer:
        """Start the three listeners (about 0.1 s)."""
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(self.cert_file, self.key_file)
        handler = _Handler(self)
        common: dict[str, Any] = {
            "hostname": self.host,
            "server_hostname": self.server_hostname,
            "authenticator": self._authenticator,
            "auth_required": self.auth_required,
            "ready_timeout": 10.0,
            "auth_exclude_mechanism": self.auth_exclude,
        }
        starttls = _TrackingController(
            self,
            handler,
            port=self.port,
            tls_context=server_ctx,
            require_starttls=self.require_starttls,
            **common,
        )
        implicit = _TrackingController(
            self, handler, port=self.ssl_port, ssl_context=server_ctx, **common
        )
        implicit.lift_auth_require_tls = True
        plain = _TrackingController(self, handler, port=self.plain_port, **common)
        plain.lift_auth_require_tls = True
        try:
            for controller in (starttls, implicit, plain):
                controller.start()
                self._controllers.append(controller)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the listeners and remove the temporary certificate directory."""
        while self._controllers:
            self._controllers.pop().stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SMTPTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
