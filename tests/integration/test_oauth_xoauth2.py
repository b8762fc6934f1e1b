"""XOAUTH2 end to end: settings files with an OAuth2 table, a token provider talking to a
local token endpoint (tests/services/oauth_testserver.py), and real servers checking the
token: IMAP and POP3 on Dovecot (tests/services/mailserver.sh accepts the bearer token
$HELPDESK_TEST_OAUTH_TOKEN for oauth@example.test) and SMTP on aiosmtpd.

The token endpoint hands out exactly the token the mail servers accept, so a login
succeeds only if the provider fetched it and the transport put it in the SASL string.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from helpdesk_mail.events import TicketCreated
from helpdesk_mail.memory import InMemoryStorage, ManualClock, SeededRandom
from helpdesk_mail.ports import MailboxAuthError, MailboxError
from helpdesk_mail.settings import MailboxAccount, Settings
from helpdesk_mail.shell.poller import Poller
from helpdesk_mail.transports.imap import ImapTransport
from helpdesk_mail.transports.mailbox import MailTransport
from helpdesk_mail.transports.oauth import forget_providers
from helpdesk_mail.transports.pop3 import Pop3Transport
from helpdesk_mail.transports.smtp import SmtpSendError, SmtpTransport

from .conftest import SCRIPT, MailServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
from oauth_testserver import OAuthTestServer
from smtp_testserver import SMTPTestServer

pytestmark = pytest.mark.integration

CLIENT, SECRET = "0b5c-helpdesk-app", "o365-client-secret"
GOOGLE_CLIENT, GOOGLE_SECRET = "123.apps.googleusercontent.com", "GOCSPX-secret"
REFRESH = "1//google-refresh-token"
SMTP_USER, SMTP_TOKEN = "o365@example.test", "eyJ0eXAi.smtp-access-token"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[OAuthTestServer]:
    with OAuthTestServer() as srv:
        yield srv


@pytest.fixture
def tokens(
    endpoint: OAuthTestServer, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OAuthTestServer]:
    """The endpoint, handing out Dovecot's token; the Microsoft client secret in the env."""
    endpoint.reset()
    endpoint.clients = {CLIENT: SECRET, GOOGLE_CLIENT: GOOGLE_SECRET}
    endpoint.refresh_tokens = {REFRESH: GOOGLE_CLIENT}
    endpoint.access_token = mail_server.env["HELPDESK_TEST_OAUTH_TOKEN"]
    endpoint.expires_in = 3600
    endpoint.rotate = False
    monkeypatch.setenv("HM_IT_O365_SECRET", SECRET)
    forget_providers()
    yield endpoint
    forget_providers()


def account_toml(
    server: MailServer, endpoint: OAuthTestServer, protocol: str, oauth2: str, **extra: str
) -> str:
    prefix = "IMAP" if protocol == "imap" else "POP3"
    lines = [
        "[[incoming.accounts]]",
        'name = "o365"',
        f'host = "{server.host}"',
        f'protocol = "{protocol}"',
        f"port = {server.port(prefix + 'S')}",
        f'username = "{server.env["HELPDESK_TEST_OAUTH_USER"]}"',
        f'ca_file = "{server.ca_file}"',
        "timeout_seconds = 20",
        *(f'{k} = "{v}"' for k, v in extra.items()),
        "",
        "[incoming.accounts.oauth2]",
        oauth2,
    ]
    return "\n".join(lines) + "\n"


def microsoft_table(endpoint: OAuthTestServer) -> str:
    return (
        'provider = "microsoft"\n'
        'tenant = "acme.onmicrosoft.com"\n'
        f'client_id = "{CLIENT}"\n'
        'client_secret_env = "HM_IT_O365_SECRET"\n'
        f'token_url = "{endpoint.token_url("/acme.onmicrosoft.com/oauth2/v2.0/token")}"\n'
    )


def google_table(endpoint: OAuthTestServer, secret_file: Path, refresh_file: Path) -> str:
    return (
        'provider = "google"\n'
        f'client_id = "{GOOGLE_CLIENT}"\n'
        f'client_secret_file = "{secret_file}"\n'
        f'refresh_token_file = "{refresh_file}"\n'
        f'token_url = "{endpoint.token_url("/token")}"\n'
    )


def load_account(text: str) -> MailboxAccount:
    [account] = Settings.from_toml(text).incoming.accounts
    return account


# --- IMAP and POP3 on Dovecot ---


def test_imap_microsoft_client_credentials(
    mail_server: MailServer, tokens: OAuthTestServer
) -> None:
    account = load_account(account_toml(mail_server, tokens, "imap", microsoft_table(tokens)))
    transport = ImapTransport()
    for _ in range(2):
        with transport.open(account) as session:
            session.list_uids()  # logged in and selected
    # two logins, one token request: the provider cached the token
    assert tokens.count == 1
    [request] = tokens.requests
    assert request.path == "/acme.onmicrosoft.com/oauth2/v2.0/token"
    assert request.form["grant_type"] == "client_credentials"
    assert request.form["scope"] == "https://outlook.office365.com/.default"


def test_pop3_google_refresh_token_from_files(
    mail_server: MailServer, tokens: OAuthTestServer, tmp_path: Path
) -> None:
    secret_file, refresh_file = tmp_path / "client-secret", tmp_path / "refresh-token"
    secret_file.write_text(GOOGLE_SECRET + "\n")
    refresh_file.write_text(REFRESH + "\n")
    table = google_table(tokens, secret_file, refresh_file)
    account = load_account(account_toml(mail_server, tokens, "pop3", table))
    with Pop3Transport().open(account) as session:
        session.list_uids()  # logged in and selected
    [request] = tokens.requests
    assert request.form["grant_type"] == "refresh_token"
    assert request.form["refresh_token"] == REFRESH
    assert request.form["scope"] == "https://mail.google.com/"


def test_imap_rotated_refresh_token_is_written_back(
    mail_server: MailServer, tokens: OAuthTestServer, tmp_path: Path
) -> None:
    tokens.rotate = True
    secret_file, refresh_file = tmp_path / "client-secret", tmp_path / "refresh-token"
    secret_file.write_text(GOOGLE_SECRET)
    refresh_file.write_text(REFRESH)
    table = google_table(tokens, secret_file, refresh_file) + "refresh_token_write_back = true\n"
    account = load_account(account_toml(mail_server, tokens, "imap", table))
    with ImapTransport().open(account):
        pass
    assert refresh_file.read_text() == "rt-rotated-1\n"
    forget_providers()  # as after a restart: the new token is read from the file
    with ImapTransport().open(account):
        pass
    assert [r.form["refresh_token"] for r in tokens.requests] == [REFRESH, "rt-rotated-1"]


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_endpoint_refusal_is_an_auth_error_naming_the_code(
    mail_server: MailServer, tokens: OAuthTestServer, protocol: str
) -> None:
    account = load_account(account_toml(mail_server, tokens, protocol, microsoft_table(tokens)))
    tokens.fail_next("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
    with pytest.raises(MailboxAuthError) as info:
        MailTransport().open(account)
    text = str(info.value)
    assert text.startswith("o365: the OAuth2 token source failed: microsoft token endpoint")
    assert "invalid_client: AADSTS7000215" in text
    assert SECRET not in text


def test_endpoint_down_is_a_connection_error_not_a_refused_login(
    mail_server: MailServer, tokens: OAuthTestServer
) -> None:
    account = load_account(account_toml(mail_server, tokens, "imap", microsoft_table(tokens)))
    tokens.fail_next_raw(503, b"<html>Service Unavailable</html>")
    with pytest.raises(MailboxError) as info:
        ImapTransport().open(account)
    assert not isinstance(info.value, MailboxAuthError)
    with ImapTransport().open(account):  # and the next poll logs in
        pass


def test_token_refused_by_dovecot(mail_server: MailServer, tokens: OAuthTestServer) -> None:
    tokens.access_token = "a-token-dovecot-does-not-know"
    account = load_account(account_toml(mail_server, tokens, "imap", microsoft_table(tokens)))
    with pytest.raises(MailboxAuthError, match="IMAP login refused"):
        ImapTransport().open(account)


def test_missing_secret_env_names_the_variable(
    mail_server: MailServer, tokens: OAuthTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HM_IT_O365_SECRET")
    account = load_account(account_toml(mail_server, tokens, "pop3", microsoft_table(tokens)))
    with pytest.raises(MailboxAuthError, match="environment variable HM_IT_O365_SECRET"):
        Pop3Transport().open(account)
    assert tokens.count == 0


def test_poller_reads_an_oauth2_mailbox(mail_server: MailServer, tokens: OAuthTestServer) -> None:
    oauth_user = mail_server.env["HELPDESK_TEST_OAUTH_USER"]
    raw = (
        "From: Customer <customer@example.com>\r\nTo: support@acme.test\r\n"
        "Subject: Printer on fire\r\nDate: Thu, 01 Jan 2026 09:00:00 +0000\r\n"
        f"Message-ID: <oauth-{time.monotonic_ns()}@example.com>\r\n\r\nHelp!\r\n"
    ).encode()
    env = {**os.environ, **mail_server.env}
    subprocess.run(
        ["bash", str(SCRIPT), "deliver", oauth_user], input=raw, env=env, check=True, timeout=60
    )
    text = account_toml(mail_server, tokens, "imap", microsoft_table(tokens))
    settings = Settings.from_toml('[incoming]\nhelpdesk_addresses = ["support@acme.test"]\n' + text)
    storage, events = InMemoryStorage(), []
    poller = Poller(
        settings, storage, MailTransport(), ManualClock(), SeededRandom(1), events.append
    )
    report = poller.run_once().account("o365")
    assert (report.processed, report.removed, report.errors) == (1, 1, 0), report
    assert [type(e) for e in events if isinstance(e, TicketCreated)] == [TicketCreated]
    assert tokens.count == 1


# --- SMTP on aiosmtpd ---


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SMTPTestServer]:
    srv = SMTPTestServer(
        tls_dir=str(tmp_path_factory.mktemp("smtp-tls")), oauth2_tokens={SMTP_USER: SMTP_TOKEN}
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def smtp(smtp_server: SMTPTestServer) -> Iterator[SMTPTestServer]:
    smtp_server.disconnect_all()
    smtp_server.clear()
    yield smtp_server
    smtp_server.disconnect_all()
    smtp_server.clear()


def outgoing_toml(smtp: SMTPTestServer, endpoint: OAuthTestServer) -> str:
    return f"""\
[outgoing]
from_address = "{SMTP_USER}"
smtp_host = "{smtp.host}"
smtp_port = {smtp.port}
smtp_tls = "starttls"
smtp_ca_file = "{smtp.ca_file}"
smtp_username = "{SMTP_USER}"

[outgoing.smtp_oauth2]
provider = "microsoft"
tenant = "acme.onmicrosoft.com"
client_id = "{CLIENT}"
client_secret_env = "HM_IT_O365_SECRET"
token_url = "{endpoint.token_url("/acme.onmicrosoft.com/oauth2/v2.0/token")}"
"""


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SMTP_USER
    msg["To"] = "jane@example.com"
    msg["Subject"] = f"[#{n}] Printer on fire"
    msg["Message-ID"] = f"<{n}.oauth@example.test>"
    msg.set_content("Sent with a token from the local endpoint.\n")
    return msg


def test_smtp_microsoft_client_credentials(smtp: SMTPTestServer, tokens: OAuthTestServer) -> None:
    tokens.access_token = SMTP_TOKEN
    settings = Settings.from_toml(outgoing_toml(smtp, tokens)).outgoing
    transport = SmtpTransport(settings, timeout=10, local_hostname="client.example.test")
    transport.send(message(1))
    transport.send(message(2))  # a second connection and login
    got = smtp.wait_for(2)
    assert [m.auth_mechanism for m in got] == ["XOAUTH2", "XOAUTH2"]
    assert [m.auth_user for m in got] == [SMTP_USER, SMTP_USER]
    sasl = f"user={SMTP_USER}\x01auth=Bearer {SMTP_TOKEN}\x01\x01".encode()
    assert smtp.sasl_log == [sasl, sasl]
    assert tokens.count == 1  # cached across the two logins


def test_smtp_endpoint_refusal_is_a_permanent_failure(
    smtp: SMTPTestServer, tokens: OAuthTestServer
) -> None:
    settings = Settings.from_toml(outgoing_toml(smtp, tokens)).outgoing
    tokens.fail_next("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
    with pytest.raises(SmtpSendError) as info:
        SmtpTransport(settings, timeout=10).send(message(1))
    assert info.value.temporary is False
    assert "invalid_client: AADSTS7000215" in str(info.value)
    assert SECRET not in str(info.value)
    assert smtp.messages == [] and smtp.sasl_log == []


def test_smtp_endpoint_down_is_a_temporary_failure(
    smtp: SMTPTestServer, tokens: OAuthTestServer
) -> None:
    settings = Settings.from_toml(outgoing_toml(smtp, tokens)).outgoing
    tokens.fail_next("temporarily_unavailable", "try again", 503)
    with pytest.raises(SmtpSendError) as info:
        SmtpTransport(settings, timeout=10).send(message(1))
    assert info.value.temporary is True
    assert smtp.messages == []
