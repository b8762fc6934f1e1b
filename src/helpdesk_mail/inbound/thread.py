"""Which ticket an email replies to.

In this order (the first that finds an existing ticket wins):
1. `In-Reply-To`, then `References` from the most recent back: a Message-ID that
   this helpdesk generated and signed (`outbound.message_id`) names its ticket;
   one that looks like ours but fails the signature is forged and ignored; any
   other is looked up among the Message-IDs the host stored for its tickets.
   Having a Message-ID of the thread shows the sender received the conversation,
   so it needs no further check.
2. A subject token `[#1234]`, which anyone can type: it only counts when the sender
   is the ticket's submitter, one of its subscribers, or a technician or
   administrator. Anyone else starts a new ticket (the hijack of Zammad issue 5064).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Ticket, User
from ..ports import DomainReader
from ..tokens import check_message_id, ticket_token
from .result import ParsedEmail


@dataclass(frozen=True)
class ThreadMatch:
    """The ticket found (or None), how it was found, and what was ignored on the way."""

    ticket: Ticket | None
    how: str
    notes: tuple[str, ...] = ()


def _may_use_token(ticket: Ticket, sender: str, user: User | None) -> bool:
    return (
        sender == ticket.submitter
        or sender in ticket.subscribers
        or (user is not None and user.is_staff)
    )


def find_ticket(
    email: ParsedEmail, user: User | None, storage: DomainReader, secret: str
) -> ThreadMatch:
    """The ticket `email` belongs to, by its references, then by its subject token."""
    notes: list[str] = []
    candidates = (*email.in_reply_to, *reversed(email.references))
    for message_id in dict.fromkeys(candidates):
        check = check_message_id(message_id, secret)
        if check.forged:
            notes.append(f"forged Message-ID ignored: {message_id}")
            continue
        if check.ticket_id is not None:
            ticket = storage.ticket(check.ticket_id)
            if ticket is not None:
                return ThreadMatch(ticket, "signed_message_id", tuple(notes))
            continue
        found = storage.ticket_for_message_id(message_id)
        ticket = storage.ticket(found) if found is not None else None
        if ticket is not None:
            return ThreadMatch(ticket, "stored_message_id", tuple(notes))
    token = ticket_token(email.subject)
    if token is not None:
        ticket = storage.ticket(token)
        if ticket is None:
            notes.append(f"subject token [#{token}] names no ticket")
        elif _may_use_token(ticket, email.sender.email, user):
            return ThreadMatch(ticket, "subject_token", tuple(notes))
        else:
            notes.append(f"subject token [#{token}] ignored: sender is not on that ticket")
    return ThreadMatch(None, "none", tuple(notes))
