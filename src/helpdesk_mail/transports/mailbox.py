"""`MailTransport`: the production `MailboxTransport`, IMAP or POP3 by the account's protocol.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from ..ports import MailboxSession
from ..settings import MailboxAccount, MailProtocol
from .imap import ImapTransport
from .pop3 import Pop3Transport

__all__ = ["MailTransport"]


class MailTransport:
    """Opens each account with the transport of its protocol (`account.protocol`)."""

    def __init__(self) -> None:
        self.imap = ImapTransport()
        self.pop3 = Pop3Transport()

    def open(self, account: MailboxAccount) -> MailboxSession:
        """Open a session with the transport of the account's protocol."""
        if account.protocol is MailProtocol.POP3:
            return self.pop3.open(account)
        return self.imap.open(account)
