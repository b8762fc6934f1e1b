"""Addresses: how they are compared, which are the helpdesk's own, which are machines'.

- `normalize_email` is the one way an address is compared and stored (lower-cased,
  without brackets or surrounding whitespace).
- `own_addresses(settings)` is the one definition of the helpdesk's own addresses:
  `incoming.helpdesk_addresses`, the From and Reply-To of its notifications, and the
  address of every mailbox account it reads. Mail from them is a loop; they are never
  subscribers and never recipients.
- Machine mailboxes (postmaster@, noreply@...), one table for the whole library:
  the junk filter discards mail from these senders (`system_sender`), new tickets
  never subscribe them, and notifications are never sent to them.
  `NEVER_MAIL_LOCAL_PARTS` adds the addresses that may send mail a person wrote (a
  list's bounces@ return path) but must never be mailed.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "NEVER_MAIL_LOCAL_PARTS",
    "SYSTEM_LOCAL_PARTS",
    "is_system_address",
    "normalize_email",
    "own_addresses",
    "system_sender_rule",
]


def normalize_email(address: str) -> str:
    """An address without surrounding whitespace and brackets, lower-cased."""
    return address.strip().strip("<>").strip().lower()


def own_addresses(settings: Settings) -> frozenset[str]:
    """The helpdesk's own addresses (normalised): its helpdesk addresses, its From and
    Reply-To, and every mailbox account's address (a username that is an address)."""
    found = {*settings.incoming.helpdesk_addresses}
    found.update(a for a in (settings.outgoing.from_address, settings.outgoing.reply_to) if a)
    found.update(a.username for a in settings.incoming.accounts if "@" in a.username)
    return frozenset(n for n in (normalize_email(a) for a in found) if n)


# System senders (discarded as system_sender): local parts that announce "nobody
# reads replies to this address".  Decisions (losing a customer's mail is worse
# than keeping junk):
#  * bounce(s)@ and notifications@ are NOT here: bounces@ is a VERP return path,
#    not a From address, and notifications@ (GitHub, Jira, ...) carry comments
#    written by people.
#  * a noreply@ message whose Reply-To names another, non-system address is NOT a
#    system sender: web contact forms send from noreply@ with the customer in
#    Reply-To, and the sender evidently wants replies.
SYSTEM_LOCAL_PARTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("mailer-daemon", r"^mailer[-_.]?daemon(?:$|\+)|^mail[-_.]?daemon(?:$|\+)"),
        ("postmaster", r"^post[-_.]?master(?:$|\+)"),
        ("noreply", r"(?:^|[._+-])no[._-]?repl(?:y|ies)"),
        ("do-not-reply", r"(?:^|[._+-])(?:do[._-]?not|dont|do[._-]?nt)[._-]?(?:reply|respond)"),
        ("no-response", r"(?:^|[._+-])no[._-]?respon(?:se|d)"),
        # other languages: fr ne-pas-repondre, es no-responder, pt nao-responda, de nicht-antworten
        (
            "noreply-localized",
            r"(?:^|[._+-])(?:ne[._-]?pas[._-]?repondre|no[._-]?responder|nao[._-]?respond[ae]"
            r"|nicht[._-]?antworten|keine[._-]?antwort|niet[._-]?beantwoorden|non[._-]?rispondere)",
        ),
    )
)

NEVER_MAIL_LOCAL_PARTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("mail-delivery-subsystem", r"^mail[-_.]?delivery[-_.]?(?:sub)?system(?:$|\+)"),
        ("bounces", r"^bounces?(?:$|[-+=])"),
    )
)


def _local_part(address: str) -> str:
    return normalize_email(address).rpartition("@")[0]


def system_sender_rule(address: str) -> str | None:
    """The name of the `SYSTEM_LOCAL_PARTS` row that `address` matches, or None."""
    local = _local_part(address)
    if not local:
        return None
    return next((name for name, pattern in SYSTEM_LOCAL_PARTS if pattern.search(local)), None)


def is_system_address(address: str) -> bool:
    """Whether `address` is a machine's mailbox: never a subscriber, never a recipient."""
    local = _local_part(address)
    return bool(local) and (
        system_sender_rule(address) is not None
        or any(pattern.search(local) for _, pattern in NEVER_MAIL_LOCAL_PARTS)
    )
