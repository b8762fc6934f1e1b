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

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
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
    """Whether `sender` is on the ticket: its submitter, a subscriber, its assignee, or staff."""
    return (
        sender == ticket.submitter
        or sender in ticket.subscribers
        or sender == ticket.assignee
        or (user is not None and user.is_staff)
    )


# Subject prefixes of a forwarded message, in the languages of the clients that write them
# (reference/reply-formats.md §5): Fwd/Fw (en), WG (de), TR (fr), RV (es), I (it), VS/Vs
# (da, no), Videresend (no), PD (pl), ENC (pt-BR), Redir. (ro), VB (sv), VL (fi), İLT (tr),
# Doorst. (nl). Invariant: only the first prefix counts ("Re: Fwd:" is a reply to a forward).
FORWARD_PREFIX = re.compile(
    r"^\s*(?:fwd?|wg|tr|rv|i|vs|videresend|pd|enc|redir\.|vb|vl|i̇lt|ilt|doorst\.?)\s*:",
    re.IGNORECASE,
)


def is_forward(subject: str) -> bool:
    """Whether the subject starts with a forward prefix (`Fwd:`, `WG:`, `TR:`...)."""
    return FORWARD_PREFIX.match(subject) is not None


def find_ticket(
    email: ParsedEmail, user: User | None, storage: DomainReader, secret: str
) -> ThreadMatch:
    """The ticket `email` belongs to, by its references, then by its subject token.

    A forwarded message (`is_forward`) from someone who is not on the ticket its
    references point to (a customer forwarding an old thread to the helpdesk) is not
    that ticket's: it starts a new one.
    """
    notes: list[str] = []
    candidates = (*email.in_reply_to, *reversed(email.references))
    forwarded = is_forward(email.subject)
    for message_id in dict.fromkeys(candidates):
        check = check_message_id(message_id, secret)
        if check.forged:
            notes.append(f"forged Message-ID ignored: {message_id}")
            continue
        how = "signed_message_id"
        if check.ticket_id is not None:
            ticket = storage.ticket(check.ticket_id)
        else:
            found = storage.ticket_for_message_id(message_id)
            ticket = storage.ticket(found) if found is not None else None
            how = "stored_message_id"
        if ticket is None:
            continue
        if forwarded and not _may_use_token(ticket, email.sender.email, user):
            notes.append(f"a forward of ticket {ticket.id}'s thread by someone not on it")
            return ThreadMatch(None, "none", tuple(notes))
        return ThreadMatch(ticket, how, tuple(notes))
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
