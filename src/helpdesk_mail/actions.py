"""What an incoming email asks the host to do: actions, as frozen dataclasses.

`process_email` returns a tuple of these; `helpdesk_mail.commit` hands them, in
order, to the host's `Domain.apply` inside one transaction (except
`SuppressRecipients`, which the library keeps in its own bookkeeping). Each class
below says exactly what applying it means: that text is the contract a host's
storage keeps, and `helpdesk_mail.memory.InMemoryStorage` follows it.

Rules for every action:

- An action whose `ticket_id` is `None` refers to the ticket created by the
  `CreateTicket` earlier in the same tuple.
- Addresses are already normalised (`addresses.normalize_email`).
- The `Require*` actions come first: they are the preconditions the other actions
  were computed under. If one no longer holds, `apply` raises `StaleCommit` and
  the whole transaction is rolled back; the caller processes the email again.
- Applying is all or nothing: an error leaves the host's data unchanged (the
  transaction rolls back).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .events import Event
from .model import Attachment, Role, TicketStatus

__all__ = [
    "Action",
    "AddComment",
    "AddSubscribers",
    "CloseTicket",
    "CommitOutcome",
    "CreateTicket",
    "CreateUser",
    "Discard",
    "RemoveSubscriber",
    "ReopenTicket",
    "RequireTicket",
    "RequireUser",
    "StaleCommit",
    "SuppressRecipients",
]


class StaleCommit(Exception):
    """A `Require*` precondition no longer holds: the data changed since it was read.

    Raised by `Domain.apply` (and so by `helpdesk_mail.commit`); nothing was applied.
    Process the email again against the current data.
    """


@dataclass(frozen=True)
class RequireTicket:
    """Precondition: ticket `ticket_id` exists and its status is `status`.

    When `version` is not None the host keeps ticket versions (`Ticket.version`) and
    the ticket's current version must equal it too. Check it under the same lock or
    compare-and-set that the rest of the transaction uses (for example
    `SELECT ... FOR UPDATE` of the ticket row), so that a concurrent change makes this
    commit fail rather than be lost. Does not change anything.
    """

    ticket_id: int
    status: TicketStatus
    version: int | None = None


@dataclass(frozen=True)
class RequireUser:
    """Precondition: the user with address `email` has role `role`; `role` None: no such user.

    Does not change anything.
    """

    email: str
    role: Role | None


@dataclass(frozen=True)
class CreateUser:
    """Register an unknown sender (accept-unregistered is on) with a generated password.

    Create the user with this address, display name, role and password, unless a
    user with this address exists (then do nothing). Report the address in
    `CommitOutcome.created_users` when it was created.
    """

    email: str
    name: str
    password: str
    role: Role = Role.USER


@dataclass(frozen=True)
class CreateTicket:
    """Open a new ticket from an email.

    Create a ticket with a new id: status open, this subject, submitter, body (text
    and sanitizable HTML), category, subscribers (in this order, the submitter
    first), attachments (store their bytes) and `via`. Store `message_id` (when not
    None and not yet stored for any ticket: a Message-ID belongs to the first ticket
    that stored it) as the ticket's first Message-ID, so that `ticket_for_message_id`
    finds the ticket by it. The new id is `CommitOutcome.ticket_id`; later actions of the
    same tuple with `ticket_id` None mean this ticket.
    """

    subject: str
    submitter: str
    body_text: str
    body_html: str | None
    category: str | None
    subscribers: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    message_id: str | None
    via: str = "email"


@dataclass(frozen=True)
class AddComment:
    """Add a reply to a ticket's log (`ticket_id` None: the ticket this tuple creates).

    Append a comment with a new id, after every existing one, with this author,
    text, HTML, techs-only flag and attachments (store their bytes). Append
    `message_id` (when not None and not yet stored for any ticket) to the ticket's
    Message-IDs, after the ones it has: their order is the order mail arrived, and
    notifications reply to the latest. The comment's id is `CommitOutcome.comment_id`.
    """

    ticket_id: int | None
    author: str
    body_text: str
    body_html: str | None
    techs_only: bool
    attachments: tuple[Attachment, ...]
    message_id: str | None
    full_text: str = ""
    """The whole text of the message, quoted history included (keep it if you show it)."""


@dataclass(frozen=True)
class AddSubscribers:
    """Subscribe addresses to a ticket: append those it does not have yet, in this order."""

    ticket_id: int | None
    emails: tuple[str, ...]


@dataclass(frozen=True)
class RemoveSubscriber:
    """Unsubscribe an address from a ticket (`#unsubscribe#`).

    When `email` is a subscriber or the submitter: remove it from the subscribers and
    add it to the ticket's `unsubscribed` addresses (`Ticket.unsubscribed`), so that an
    unsubscribed submitter, who stays the ticket's submitter, gets no more
    notifications about it. Otherwise nothing.
    """

    ticket_id: int
    email: str


@dataclass(frozen=True)
class CloseTicket:
    """Close a ticket (`#close#`): set its status to closed (already closed: nothing)."""

    ticket_id: int
    by: str


@dataclass(frozen=True)
class ReopenTicket:
    """Reopen a closed ticket that received a reply: set its status to open."""

    ticket_id: int
    by: str


@dataclass(frozen=True)
class SuppressRecipients:
    """Stop mailing addresses that bounced, until `until`.

    Kept by the library's bookkeeping (`Suppressions.suppress`), not by the host's
    `Domain.apply`, which never receives it. `helpdesk_mail.commit` applies it:

    - With `proof` (what `process_email` gives: the Message-IDs the delivery report
      returns), an address is suppressed only when the sent ledger shows one of those
      Message-IDs was sent to it (`SentLedger.sent_with_message_id`): a report must
      prove it answers mail we sent to that address. `proof` None: the host vouches
      for the addresses (its own bounce handling), and all are suppressed.
    - A technician's or administrator's address is suppressed only with a
      `StaffAddressSuppressed` event for the administrators (and a warning in the log).
    """

    emails: tuple[str, ...]
    temporary: bool | None
    reason: str
    until: datetime
    proof: tuple[str, ...] | None = None
    """The returned Message-IDs that must have been sent to an address for it to be
    suppressed; None: no proof asked."""


@dataclass(frozen=True)
class Discard:
    """Drop the email: nothing else happens. `reason` is one of the inspect contract's reasons.

    Applying it changes nothing; it is there so that a discarded email is committed
    (its receipt recorded) like any other and never processed twice.
    """

    reason: str
    detail: str = ""


Action = (
    RequireTicket
    | RequireUser
    | CreateUser
    | CreateTicket
    | AddComment
    | AddSubscribers
    | RemoveSubscriber
    | CloseTicket
    | ReopenTicket
    | SuppressRecipients
    | Discard
)


@dataclass(frozen=True)
class CommitOutcome:
    """What a commit produced: the ticket touched or created, the comment added, users made.

    `Domain.apply` returns the first three; `helpdesk_mail.commit` adds the events it
    recorded in the outbox (bound to the ticket and comment) and their outbox ids.
    """

    ticket_id: int | None = None
    comment_id: int | None = None
    created_users: tuple[str, ...] = ()
    duplicate: bool = False
    """True when the receipt key had already been committed: nothing was applied again."""
    events: tuple[Event, ...] = ()
    """The events recorded in the outbox with this commit, bound to the ticket and comment."""
    event_ids: tuple[int, ...] = ()
    """Their outbox ids, in the same order."""
    suppressed: tuple[str, ...] = ()
    """The addresses a `SuppressRecipients` did suppress (those it proved, see there)."""
