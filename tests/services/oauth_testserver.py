"""A local OAuth2 token endpoint for helpdesk_mail's tests (stdlib `http.server`, no TLS).

It speaks the token endpoint of RFC 6749 as Microsoft Entra ID and Google do, for the
two grants the token providers use: ``client_credentials`` (§4.4) and
``refresh_token`` (§6). Any POST path is a token endpoint (tests point the
providers' `token_url` at ``server.token_url("/acme.test/oauth2/v2.0/token")`` or
``server.token_url("/token")``); each request is recorded.

    with OAuthTestServer(clients={"app": "s3cret"}, refresh_tokens={"rt-1": "app"}) as srv:
        url = srv.token_url("/token")   # http://127.0.0.1:PORT/token
        ...
        assert srv.count == 1 and srv.requests[0].form["grant_type"] == "refresh_token"

Knobs (attributes, change them between requests):

* ``clients``         {client_id: secret}; a secret of None is a public client.
* ``refresh_tokens``  {refresh token: client_id} that are valid.
* ``rotate``          the refresh grant returns a new refresh token and revokes the old.
* ``access_token``    the token handed out (None: ``at-1``, ``at-2``, ...). Dovecot and
                      aiosmtpd accept one fixed token, so end-to-end tests fix it.
* ``expires_in``      lifetime sent (None: the field is left out).
* ``fail_next(error, description, status=400)``: the next request gets that error;
  ``fail_next_raw(status, body)`` a raw body (HTML, nothing, ...).

Client authentication: the secret in the form (``client_secret_post``) or HTTP Basic.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["OAuthTestServer", "TokenRequest"]


@dataclass(frozen=True)
class TokenRequest:
    """One request the endpoint received."""

    path: str
    form: dict[str, str]
    headers: dict[str, str] = field(repr=False)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._reply(405, {"error": "invalid_request", "error_description": "POST only"})

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 1 << 20))
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8", "replace")).items()}
        status, body = owner._answer(self.path, form, dict(self.headers.items()))
        self._reply(status, body)

    def _reply(self, status: int, body: dict[str, Any] | bytes) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        kind = "text/html" if isinstance(body, bytes) else "application/json"
        self.send_header("Content-Type", kind)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: OAuthTestServer


class OAuthTestServer:
    """The token endpoint on 127.0.0.1 (a free port), served by a thread (see the module doc)."""

    def __init__(
        self,
        *,
        clients: dict[str, str | None] | None = None,
        refresh_tokens: dict[str, str] | None = None,
        access_token: str | None = None,
        expires_in: int | str | None = 3600,
        rotate: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        self.clients: dict[str, str | None] = dict(clients or {})
        self.refresh_tokens: dict[str, str] = dict(refresh_tokens or {})
        self.access_token = access_token
        self.expires_in = expires_in
        self.rotate = rotate
        self.host = host
        self.requests: list[TokenRequest] = []
        self.issued: list[str] = []
        """Access tokens handed out, in order."""
        self._failures: list[tuple[int, dict[str, Any] | bytes]] = []
        self._lock = threading.Lock()
        self._serial = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> OAuthTestServer:
        httpd = _Server((self.host, 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OAuthTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "not started"
        return int(self._httpd.server_address[1])

    def token_url(self, path: str = "/token") -> str:
        """The endpoint's URL with `path` (any path answers)."""
        return f"http://{self.host}:{self.port}{path}"

    # --- knobs and records ---

    @property
    def count(self) -> int:
        """Requests received so far."""
        with self._lock:
            return len(self.requests)

    def fail_next(self, error: str, description: str = "", status: int = 400) -> None:
        """Answer the next request with this RFC 6749 error."""
        body: dict[str, Any] = {"error": error}
        if description:
            body["error_description"] = description
        with self._lock:
            self._failures.append((status, body))

    def fail_next_raw(self, status: int, body: bytes) -> None:
        """Answer the next request with this status and raw (non-JSON) body."""
        with self._lock:
            self._failures.append((status, body))

    def reset(self) -> None:
        """Forget requests, issued tokens and pending failures."""
        with self._lock:
            self.requests.clear()
            self.issued.clear()
            self._failures.clear()
            self._serial = 0

    # --- the endpoint ---

    def _answer(
        self, path: str, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any] | bytes]:
        with self._lock:
            self.requests.append(TokenRequest(path, form, headers))
            if self._failures:
                return self._failures.pop(0)
            if "application/x-www-form-urlencoded" not in headers.get("Content-Type", ""):
                return 400, _error("invalid_request", "the body must be form-encoded")
            client_id, secret = _client_auth(form, headers)
            if client_id not in self.clients:
                return 400, _error("unauthorized_client", f"AADSTS700016: unknown {client_id!r}")
            expected = self.clients[client_id]
            if expected is not None and secret != expected:
                return 401, _error("invalid_client", "AADSTS7000215: Invalid client secret.")
            grant = form.get("grant_type")
            response: dict[str, Any] = {"token_type": "Bearer"}
            if grant == "client_credentials":
                if expected is None:
                    return 401, _error("invalid_client", "a public client has no credentials")
            elif grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                if self.refresh_tokens.get(refresh) != client_id:
                    return 400, _error(
                        "invalid_grant", "AADSTS70000: The provided grant has expired."
                    )
                if self.rotate:
                    del self.refresh_tokens[refresh]
                    new = f"rt-rotated-{self._serial + 1}"
                    self.refresh_tokens[new] = client_id
                    response["refresh_token"] = new
            else:
                return 400, _error("unsupported_grant_type", f"{grant!r} is not supported")
            self._serial += 1
            token = self.access_token or f"at-{self._serial}"
            self.issued.append(token)
            response["access_token"] = token
            if self.expires_in is not None:
                response["expires_in"] = self.expires_in
            if "scope" in form:
                response["scope"] = form["scope"]
            return 200, response


def _error(code: str, description: str) -> dict[str, Any]:
    return {"error": code, "error_description": description}


def _client_auth(form: dict[str, str], headers: dict[str, str]) -> tuple[str, str | None]:
    auth = headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeError):
            return "", None
        return urllib.parse.unquote(user), urllib.parse.unquote(password)
    return form.get("client_id", ""), form.get("client_secret")
