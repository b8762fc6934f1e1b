"""The OAuth2 token providers against a local token endpoint (tests/services/oauth_testserver.py).

The endpoint is an in-process HTTP server on 127.0.0.1 (a free port, ~1 ms a request);
time is a fake clock, so nothing here waits for a token to expire.
"""

from __future__ import annotations

import dataclasses
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpdesk_mail.ports import MailboxAuthError, MailboxError
from helpdesk_mail.settings import MailboxAccount, OAuth2Settings
from helpdesk_mail.transports import oauth
from helpdesk_mail.transports.oauth import (
    EARLY_REFRESH_SECONDS,
    EnvSecret,
    FileSecret,
    GoogleTokenProvider,
    MicrosoftTokenProvider,
    OAuth2Error,
    OAuth2TokenProvider,
    build_provider,
    forget_providers,
    provider_for,
)
from helpdesk_mail.transports.tls import oauth2_source, xoauth2_string

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
from oauth_testserver import OAuthTestServer

CLIENT, SECRET = "app-1234", "client-s3cret-value"
GOOGLE_CLIENT, GOOGLE_SECRET = "123.apps.googleusercontent.com", "GOCSPX-google-secret"
REFRESH = "rt-original-value"
MS_PATH = "/acme.onmicrosoft.com/oauth2/v2.0/token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def endpoint() -> Iterator[OAuthTestServer]:
    with OAuthTestServer() as srv:
        yield srv


@pytest.fixture
def srv(endpoint: OAuthTestServer) -> Iterator[OAuthTestServer]:
    """The endpoint with two clients, one refresh token, and nothing recorded."""
    endpoint.reset()
    endpoint.clients = {CLIENT: SECRET, GOOGLE_CLIENT: GOOGLE_SECRET, "public-app": None}
    endpoint.refresh_tokens = {REFRESH: GOOGLE_CLIENT}
    endpoint.access_token = None
    endpoint.expires_in = 3600
    endpoint.rotate = False
    forget_providers()
    yield endpoint
    forget_providers()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def microsoft(srv: OAuthTestServer, clock: FakeClock, **kw: Any) -> MicrosoftTokenProvider:
    values: dict[str, Any] = {"client_secret": SECRET, "token_url": srv.token_url(MS_PATH)}
    values.update(kw)
    return MicrosoftTokenProvider("acme.onmicrosoft.com", CLIENT, clock=clock, **values)


def google(srv: OAuthTestServer, clock: FakeClock, **kw: Any) -> GoogleTokenProvider:
    values: dict[str, Any] = {
        "client_secret": GOOGLE_SECRET,
        "refresh_token": REFRESH,
        "token_url": srv.token_url("/token"),
    }
    values.update(kw)
    return GoogleTokenProvider(GOOGLE_CLIENT, clock=clock, **values)


# --- the two grants ---


def test_client_credentials_request(srv: OAuthTestServer, clock: FakeClock) -> None:
    provider = microsoft(srv, clock)
    assert provider() == "at-1"
    [request] = srv.requests
    assert request.path == MS_PATH
    assert request.form == {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "scope": "https://outlook.office365.com/.default",
    }
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_google_refresh_request(srv: OAuthTestServer, clock: FakeClock) -> None:
    assert google(srv, clock)() == "at-1"
    [request] = srv.requests
    assert request.form == {
        "grant_type": "refresh_token",
        "client_id": GOOGLE_CLIENT,
        "client_secret": GOOGLE_SECRET,
        "refresh_token": REFRESH,
        "scope": "https://mail.google.com/",
    }


def test_microsoft_refresh_token_flow_as_a_public_client(
    srv: OAuthTestServer, clock: FakeClock
) -> None:
    srv.refresh_tokens = {REFRESH: "public-app"}
    provider = MicrosoftTokenProvider(
        "common", "public-app", refresh_token=REFRESH, token_url=srv.token_url(), clock=clock
    )
    assert provider() == "at-1"
    form = srv.requests[0].form
    assert form["grant_type"] == "refresh_token"
    assert "client_secret" not in form
    assert form["scope"] == "https://outlook.office365.com/.default offline_access"


def test_default_token_urls() -> None:
    ms = MicrosoftTokenProvider("acme.onmicrosoft.com", CLIENT, client_secret=SECRET)
    assert (
        ms.token_url == "https://login.microsoftonline.com/acme.onmicrosoft.com/oauth2/v2.0/token"
    )
    g = GoogleTokenProvider(GOOGLE_CLIENT, client_secret="x", refresh_token="y")
    assert g.token_url == "https://oauth2.googleapis.com/token"
    assert ms.requests == g.requests == 0  # nothing is fetched before the first call


@pytest.mark.parametrize(
    "url",
    ["http://login.example.com/token", "ftp://127.0.0.1/token", "https://h/t?x=1", "token"],
)
def test_token_url_must_be_https_or_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="https URL"):
        MicrosoftTokenProvider("t", CLIENT, client_secret=SECRET, token_url=url)


def test_provider_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="client_secret"):
        OAuth2TokenProvider(
            token_url="https://h/t", client_id="c", flow="client_credentials", scopes=()
        )
    with pytest.raises(ValueError, match="refresh_token"):
        OAuth2TokenProvider(token_url="https://h/t", client_id="c", flow="refresh_token", scopes=())
    with pytest.raises(ValueError, match="write_back"):
        GoogleTokenProvider("c", client_secret="s", refresh_token="r", write_back=True)


# --- caching ---


def test_token_is_cached_until_shortly_before_it_expires(
    srv: OAuthTestServer, clock: FakeClock
) -> None:
    provider = microsoft(srv, clock)
    assert provider() == "at-1"
    assert provider() == "at-1"
    clock.now += 3600 - EARLY_REFRESH_SECONDS - 1
    assert provider() == "at-1"
    assert srv.count == provider.requests == 1
    clock.now += 1
    assert provider() == "at-2"
    assert provider() == "at-2"
    assert srv.count == provider.requests == 2


def test_short_lived_token_is_refreshed_at_half_its_life(
    srv: OAuthTestServer, clock: FakeClock
) -> None:
    srv.expires_in = 60
    provider = microsoft(srv, clock)
    provider()
    clock.now += 29
    assert provider() == "at-1"
    clock.now += 1
    assert provider() == "at-2"


def test_expires_in_as_digits_is_understood(srv: OAuthTestServer, clock: FakeClock) -> None:
    srv.expires_in = "3599"
    provider = microsoft(srv, clock)
    provider()
    provider()
    assert srv.count == 1


@pytest.mark.parametrize("expires_in", [None, 0, -5, "soon", "1e9"])
def test_token_without_usable_lifetime_is_not_cached(
    srv: OAuthTestServer, clock: FakeClock, expires_in: Any
) -> None:
    srv.expires_in = expires_in
    provider = microsoft(srv, clock)
    assert [provider(), provider()] == ["at-1", "at-2"]


def test_invalidate_forgets_the_cached_token(srv: OAuthTestServer, clock: FakeClock) -> None:
    provider = microsoft(srv, clock)
    provider()
    provider.invalidate()
    assert provider() == "at-2"


def test_concurrent_callers_share_one_request(srv: OAuthTestServer, clock: FakeClock) -> None:
    provider = microsoft(srv, clock)
    start = threading.Barrier(8)
    got: list[str] = []

    def worker() -> None:
        start.wait()
        got.append(provider())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["at-1"] * 8
    assert srv.count == 1


# --- refresh tokens: rotation and write-back ---


def test_rotated_refresh_token_is_used_next_time(srv: OAuthTestServer, clock: FakeClock) -> None:
    srv.rotate = True
    provider = google(srv, clock)
    provider()
    clock.now += 3600
    assert provider() == "at-2"  # the original was revoked when it was rotated
    clock.now += 3600
    assert provider() == "at-3"
    sent = [r.form["refresh_token"] for r in srv.requests]
    assert sent == [REFRESH, "rt-rotated-1", "rt-rotated-2"]


def test_rotated_refresh_token_is_written_back_when_asked(
    srv: OAuthTestServer, clock: FakeClock, tmp_path: Path
) -> None:
    srv.rotate = True
    path = tmp_path / "refresh-token"
    path.write_text(REFRESH + "\n")
    path.chmod(0o640)
    provider = google(srv, clock, refresh_token=FileSecret(str(path)), write_back=True)
    provider()
    assert path.read_text() == "rt-rotated-1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refresh-token"]  # no temp left
    # a process started later reads the new one
    later = google(srv, FakeClock(), refresh_token=FileSecret(str(path)))
    assert later() == "at-2"


def test_rotated_refresh_token_stays_in_memory_without_write_back(
    srv: OAuthTestServer, clock: FakeClock, tmp_path: Path
) -> None:
    srv.rotate = True
    path = tmp_path / "refresh-token"
    path.write_text(REFRESH)
    provider = google(srv, clock, refresh_token=FileSecret(str(path)))
    provider()
    clock.now += 3600
    assert provider() == "at-2"
    assert path.read_text() == REFRESH


def test_failed_write_back_keeps_the_token_working(
    srv: OAuthTestServer, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "refresh-token"
    path.write_text(REFRESH)
    provider = google(srv, clock, refresh_token=FileSecret(str(path)), write_back=True)
    assert provider() == "at-1"  # read the file; no rotation yet
    path.unlink()
    path.mkdir()  # os.replace onto a directory fails, even for root
    srv.rotate = True
    clock.now += 3600
    assert provider() == "at-2"
    assert "cannot write the new refresh token" in caplog.text
    assert "rt-rotated" not in caplog.text
    clock.now += 3600
    assert provider() == "at-3"  # the rotated one was kept in memory
    assert srv.requests[-1].form["refresh_token"] == "rt-rotated-2"


# --- errors ---


def test_invalid_grant(srv: OAuthTestServer, clock: FakeClock) -> None:
    srv.refresh_tokens = {}
    provider = google(srv, clock)
    with pytest.raises(OAuth2Error) as info:
        provider()
    err = info.value
    assert err.error == "invalid_grant"
    assert err.description == "AADSTS70000: The provided grant has expired."
    assert err.temporary is False
    assert "invalid_grant: AADSTS70000" in str(err)
    assert srv.token_url("/token") in str(err)
    for secret in (REFRESH, GOOGLE_SECRET):
        assert secret not in str(err)


def test_invalid_client(srv: OAuthTestServer, clock: FakeClock) -> None:
    provider = microsoft(srv, clock, client_secret="wrong-secret")
    with pytest.raises(OAuth2Error) as info:
        provider()
    assert info.value.error == "invalid_client"
    assert info.value.temporary is False
    assert "wrong-secret" not in str(info.value)


def test_secrets_echoed_by_the_server_are_hidden(srv: OAuthTestServer, clock: FakeClock) -> None:
    srv.fail_next("invalid_request", f"bad refresh_token {REFRESH} for secret {GOOGLE_SECRET}")
    with pytest.raises(OAuth2Error) as info:
        google(srv, clock)()
    assert REFRESH not in str(info.value)
    assert GOOGLE_SECRET not in str(info.value)
    assert info.value.description == "bad refresh_token <hidden> for secret <hidden>"


def test_server_text_is_one_bounded_line(srv: OAuthTestServer, clock: FakeClock) -> None:
    srv.fail_next("invalid_scope", "line one\r\nline two\x1b[31m " + "x" * 5000)
    with pytest.raises(OAuth2Error) as info:
        microsoft(srv, clock)()
    text = str(info.value)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text
    assert "line one line two" in text
    assert len(info.value.description) <= oauth.MAX_DESCRIPTION_CHARS + 3


@pytest.mark.parametrize(
    ("status", "error", "temporary"),
    [
        (400, "temporarily_unavailable", True),
        (500, "server_error", True),
        (429, "too_many_requests", True),
        (400, "invalid_scope", False),
        (401, "unauthorized_client", False),
    ],
)
def test_error_codes_say_whether_to_retry(
    srv: OAuthTestServer, clock: FakeClock, status: int, error: str, temporary: bool
) -> None:
    srv.fail_next(error, "because", status=status)
    with pytest.raises(OAuth2Error) as info:
        microsoft(srv, clock)()
    assert (info.value.error, info.value.temporary) == (error, temporary)


@pytest.mark.parametrize(
    ("status", "body", "temporary"),
    [
        (503, b"<html>Service Unavailable</html>", True),
        (404, b"not here", False),
        (200, b"<html>a captive portal</html>", False),
        (200, b'{"token_type": "Bearer", "expires_in": 3600}', False),
        (200, b'{"access_token": "tok en\\n", "expires_in": 3600}', False),
        (200, b'{"access_token": "tok", "token_type": "MAC"}', False),
        (200, b'["access_token"]', False),
        (200, b"", False),
    ],
)
def test_unusable_responses(
    srv: OAuthTestServer, clock: FakeClock, status: int, body: bytes, temporary: bool
) -> None:
    srv.fail_next_raw(status, body)
    with pytest.raises(OAuth2Error) as info:
        microsoft(srv, clock)()
    assert info.value.error is None
    assert info.value.temporary is temporary


def test_error_then_recovery(srv: OAuthTestServer, clock: FakeClock) -> None:
    provider = microsoft(srv, clock)
    srv.fail_next("temporarily_unavailable")
    with pytest.raises(OAuth2Error):
        provider()
    assert provider() == "at-1"


def test_unreachable_endpoint_is_temporary(clock: FakeClock) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    provider = MicrosoftTokenProvider(
        "t", CLIENT, client_secret=SECRET, token_url=f"http://127.0.0.1:{port}/t", clock=clock
    )
    with pytest.raises(OAuth2Error) as info:
        provider()
    assert info.value.temporary is True
    assert "cannot reach the token endpoint" in str(info.value)


def test_after_invalid_grant_the_source_is_read_again(
    srv: OAuthTestServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "rt"
    path.write_text("rt-revoked")
    provider = google(srv, clock, refresh_token=FileSecret(str(path)))
    with pytest.raises(OAuth2Error, match="invalid_grant"):
        provider()
    path.write_text(REFRESH)  # the operator puts a good one in
    assert provider() == "at-1"


# --- secrets from the environment and files ---


def test_secrets_from_env(
    srv: OAuthTestServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HM_TEST_SECRET", GOOGLE_SECRET)
    monkeypatch.setenv("HM_TEST_RT", f"  {REFRESH}\n")
    provider = google(
        srv, clock, client_secret=EnvSecret("HM_TEST_SECRET"), refresh_token=EnvSecret("HM_TEST_RT")
    )
    assert provider() == "at-1"
    assert srv.requests[0].form["refresh_token"] == REFRESH


def test_missing_env_secret_names_the_variable(
    srv: OAuthTestServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HM_TEST_MISSING", raising=False)
    provider = microsoft(srv, clock, client_secret=EnvSecret("HM_TEST_MISSING"))
    with pytest.raises(OAuth2Error) as info:
        provider()
    assert str(info.value) == (
        "the environment variable HM_TEST_MISSING (the OAuth2 client secret) is not set"
    )
    assert info.value.temporary is False
    assert srv.count == 0


def test_file_secrets(srv: OAuthTestServer, clock: FakeClock, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    provider = microsoft(srv, clock, client_secret=FileSecret(str(secret_file)))
    assert provider() == "at-1"
    assert srv.requests[0].form["client_secret"] == SECRET


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_missing_or_empty_file_names_the_file(
    srv: OAuthTestServer, clock: FakeClock, tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    provider = microsoft(srv, clock, client_secret=FileSecret(str(path)))
    with pytest.raises(OAuth2Error) as info:
        provider()
    assert str(path) in str(info.value)
    assert "client secret" in str(info.value)
    assert srv.count == 0


def test_client_secret_is_read_at_each_request(
    srv: OAuthTestServer, clock: FakeClock, tmp_path: Path
) -> None:
    """A rotated client secret is picked up without a restart."""
    path = tmp_path / "secret"
    path.write_text("old-secret")
    srv.clients[CLIENT] = "old-secret"
    provider = microsoft(srv, clock, client_secret=FileSecret(str(path)))
    provider()
    path.write_text("new-secret")
    srv.clients[CLIENT] = "new-secret"
    clock.now += 3600
    assert provider() == "at-2"


def test_repr_has_no_secrets(srv: OAuthTestServer, clock: FakeClock) -> None:
    provider = google(srv, clock)
    provider()
    text = repr(provider)
    assert "google" in text and GOOGLE_CLIENT in text
    for secret in (GOOGLE_SECRET, REFRESH, "at-1"):
        assert secret not in text


# --- from settings ---


def ms_settings(srv: OAuthTestServer, **kw: Any) -> OAuth2Settings:
    values: dict[str, Any] = {
        "provider": "microsoft",
        "tenant": "acme.onmicrosoft.com",
        "client_id": CLIENT,
        "client_secret_env": "HM_TEST_CLIENT_SECRET",
        "token_url": srv.token_url(MS_PATH),
    }
    values.update(kw)
    return OAuth2Settings(**values)


def test_build_provider_from_settings(
    srv: OAuthTestServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HM_TEST_CLIENT_SECRET", SECRET)
    provider = build_provider(ms_settings(srv))
    assert (provider.flow.value, provider.scopes) == (
        "client_credentials",
        ("https://outlook.office365.com/.default",),
    )
    assert provider() == "at-1"
    rt = tmp_path / "rt"
    rt.write_text(REFRESH)
    g = build_provider(
        OAuth2Settings(
            provider="google",  # type: ignore[arg-type]
            client_id=GOOGLE_CLIENT,
            client_secret_file=str(tmp_path / "gs"),
            refresh_token_file=str(rt),
            refresh_token_write_back=True,
            token_url=srv.token_url(),
            timeout_seconds=5,
        )
    )
    (tmp_path / "gs").write_text(GOOGLE_SECRET)
    assert (g.flow.value, g.scopes, g.timeout, g.write_back) == (
        "refresh_token",
        ("https://mail.google.com/",),
        5,
        True,
    )
    assert g() == "at-2"


def test_provider_for_shares_one_provider_per_settings(
    srv: OAuthTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HM_TEST_CLIENT_SECRET", SECRET)
    settings = ms_settings(srv)
    assert provider_for(settings) is provider_for(dataclasses.replace(settings))
    assert provider_for(settings) is not provider_for(ms_settings(srv, scopes=("x",)))
    provider_for(settings)()
    provider_for(dataclasses.replace(settings))()
    assert srv.count == 1  # the token is cached across logins


def test_transports_use_the_table_when_no_callable_is_set(
    srv: OAuthTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HM_TEST_CLIENT_SECRET", SECRET)
    account = MailboxAccount(
        name="o365", host="outlook.office365.com", username="support@acme.test"
    )
    assert xoauth2_string(account) is None
    with_table = dataclasses.replace(account, oauth2=ms_settings(srv))
    assert xoauth2_string(with_table) == b"user=support@acme.test\x01auth=Bearer at-1\x01\x01"
    assert oauth2_source(None, ms_settings(srv)) is provider_for(ms_settings(srv))

    def mine() -> str:
        return "code-token"

    assert oauth2_source(mine, None) is mine


def test_transport_errors_from_the_table(
    srv: OAuthTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HM_TEST_CLIENT_SECRET", "a-wrong-secret")
    account = MailboxAccount(
        name="o365", host="h", username="support@acme.test", oauth2=ms_settings(srv)
    )
    with pytest.raises(MailboxAuthError) as info:
        xoauth2_string(account)
    assert str(info.value).startswith("o365: the OAuth2 token source failed: microsoft token")
    assert "invalid_client: AADSTS7000215" in str(info.value)
    assert "a-wrong-secret" not in str(info.value)
    # the endpoint down for a moment: a plain MailboxError (not a refused login)
    srv.fail_next("temporarily_unavailable", "try later", status=503)
    with pytest.raises(MailboxError) as temp:
        xoauth2_string(account)
    assert not isinstance(temp.value, MailboxAuthError)
    monkeypatch.delenv("HM_TEST_CLIENT_SECRET")
    forget_providers()
    with pytest.raises(MailboxAuthError, match="HM_TEST_CLIENT_SECRET"):
        xoauth2_string(account)


def test_importing_the_library_does_not_load_the_providers() -> None:
    code = "import sys, helpdesk_mail; assert 'helpdesk_mail.transports.oauth' not in sys.modules"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
