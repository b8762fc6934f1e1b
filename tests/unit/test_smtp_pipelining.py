"""The pipelined SMTP transaction against a scripted server (what aiosmtpd never does:
accept DATA after refusing every recipient, as RFC 2920 says a server must not)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from helpdesk_mail.settings import OutgoingSettings
from helpdesk_mail.transports.smtp import SmtpSendError, SmtpTransport


class ScriptedConnection:
    """What `SmtpTransport` uses of `smtplib.SMTP`, replying from a script."""

    def __init__(self, replies: list[tuple[int, bytes]]) -> None:
        self.replies = list(replies)
        self.sent: list[bytes] = []
        self.resets = 0

    def has_extn(self, name: str) -> bool:
        return name.lower() == "pipelining"

    def send(self, data: str | bytes) -> None:
        self.sent.append(data.encode("ascii") if isinstance(data, str) else data)

    def getreply(self) -> tuple[int, bytes]:
        return self.replies.pop(0)

    def rset(self) -> tuple[int, bytes]:
        self.resets += 1
        return 250, b"OK"

    def close(self) -> None:
        pass

    def quit(self) -> tuple[int, bytes]:
        return 221, b"Bye"


def note() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "support@acme.test"
    msg["To"] = "ghost@example.com"
    msg["Subject"] = "[#1] Printer on fire"
    msg["Message-ID"] = "<1.abc@acme.test>"
    msg.set_content(".a line starting with a dot\n")
    return msg


def transport_on(conn: ScriptedConnection) -> SmtpTransport:
    t = SmtpTransport(OutgoingSettings(from_address="support@acme.test", smtp_host="mx.test"))
    t._connect = lambda: conn  # type: ignore[assignment,method-assign,return-value]
    return t


def test_a_data_accepted_after_every_recipient_was_refused_is_ended_empty() -> None:
    conn = ScriptedConnection(
        [(250, b"OK"), (550, b"5.1.1 No such user"), (354, b"Go ahead"), (554, b"No recipients")]
    )
    with transport_on(conn) as t, pytest.raises(SmtpSendError, match="every recipient") as info:
        t.send(note())
    assert (info.value.code, info.value.temporary) == (550, False)
    assert conn.sent[0] == (
        b"MAIL FROM:<support@acme.test>\r\nRCPT TO:<ghost@example.com>\r\nDATA\r\n"
    )
    assert conn.sent[1:] == [b".\r\n"]  # the empty message ended; nothing of the message sent
    assert conn.resets == 1 and conn.replies == []


def test_the_pipelined_data_is_dot_stuffed_and_ended_like_smtplib_does() -> None:
    conn = ScriptedConnection([(250, b"OK"), (250, b"OK"), (354, b"Go ahead"), (250, b"Queued")])
    with transport_on(conn) as t:
        result = t.deliver(note())
    assert result.accepted == ("ghost@example.com",)
    data = conn.sent[1]
    assert b"\r\n..a line starting with a dot\r\n" in data
    assert data.endswith(b"\r\n.\r\n") and not data.endswith(b"\r\n\r\n.\r\n")
