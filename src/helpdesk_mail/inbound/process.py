"""`process_email`: raw bytes in, an `InboundResult` (verdict, actions, events) out.

The pipeline: parse -> junk filter -> sender rules -> threading -> email API ->
actions, the preconditions they were computed under first (`RequireTicket`,
`RequireUser`). It only reads `storage`; `helpdesk_mail.commit` applies the
actions. It never raises: an email that cannot be read is discarded as
`malformed`, and an internal error gives a `malformed` result whose `error` is
set, which the poller treats as a poison message (kept on the server, never lost).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import dataclasses
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ..actions import (
    Action,
    AddComment,
    CloseTicket,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    RequireTicket,
    RequireUser,
    SuppressRecipients,
)
from ..addresses import is_system_address, own_addresses
from ..events import Event, TicketClosed, TicketCreated, TicketUpdated, Via
from ..model import Ticket, User
from ..ports import Clock, DomainReader, RandomSource, TransientStorageError
from ..settings import AutoReplyHandling, ClosedTicketReply, SenderAuthentication, Settings
from ..tokens import TICKET_TOKEN, check_message_id, clean_subject, neutralize_link_tokens
from .authentication import AuthVerdict, authenticate
from .commands import CANONICAL_ORDER, parse_subject
from .junk import JunkVerdict, classify
from .mime_bounds import MAX_FIELD_BYTES, MAX_HEADER_FIELDS, MAX_PARTS
from .parse import ADDRESSES_CAPPED, FLATTENED, HEADERS_CAPPED, parse_email
from .result import Address, DiscardReason, InboundResult, ParsedEmail, Verdict
from .thread import find_ticket

__all__ = ["RandomSourceRequired", "process_email"]


class RandomSourceRequired(ValueError):
    """`process_email` was called without `random` for an email that creates a user."""


PASSWORD_BYTES = 12

# Who may use each subject command on an existing ticket, given (ticket, sender, user), and
# whether it also needs the sender authenticated (`incoming.sender_authentication` not
# `off`: see inbound/authentication.py). Invariant: a command that changes what others see
# or closes a ticket never rests on a From header alone once authentication is on.
CommandCheck = Callable[[Ticket, str, User | None], bool]
COMMAND_PERMISSIONS: dict[str, tuple[str, CommandCheck, bool]] = {
    "tech": (
        "technicians and administrators",
        lambda t, s, u: u is not None and u.is_staff,
        True,
    ),
    "close": (
        "technicians, administrators and the ticket's submitter",
        lambda t, s, u: (u is not None and u.is_staff) or s == t.submitter,
        True,
    ),
    "unsubscribe": ("anyone", lambda t, s, u: True, False),
}

# Junk kind -> discard reason of the inspect contract.
JUNK_REASONS: dict[str, DiscardReason] = {
    "bounce": DiscardReason.BOUNCE,
    "auto_reply": DiscardReason.AUTO_REPLY,
    "system_sender": DiscardReason.SYSTEM_SENDER,
    "loop": DiscardReason.LOOP,
}


@dataclass(frozen=True)
class _Context:
    email: ParsedEmail
    settings: Settings
    random: RandomSource | None
    raw: bytes
    junk: JunkVerdict
    subject: str
    commands: tuple[str, ...]
    body_text: str
    """The new text, links carrying our tokens neutralised (what is stored)."""
    body_html: str | None
    """The new message's HTML (cut where its text is cut), links neutralised likewise."""
    auth: AuthVerdict | None = None
    """The sender's authentication, when `incoming.sender_authentication` is not `off`."""
    notes: tuple[str, ...] = ()
    """What the result's detail must say whatever the verdict (addresses left unread)."""


def process_email(
    raw: bytes,
    settings: Settings,
    storage: DomainReader,
    clock: Clock,
    *,
    random: RandomSource | None = None,
) -> InboundResult:
    """What one incoming email becomes. Pure: reads `storage`, does no I/O.

    It never raises for any input bytes. What it lets through is not the mail's fault:
    `RandomSourceRequired` when the email would create a user (whose password needs
    randomness) and no `random` source was passed, and the storage's own transient
    errors (`TransientStorageError`, `ConnectionError`, `TimeoutError`) while reading.
    """
    try:
        return _process(bytes(raw), settings, storage, clock, random)
    except (RandomSourceRequired, TransientStorageError, ConnectionError, TimeoutError):
        raise  # the host's mistake, or its storage away for a moment: not the mail's fault
    except Exception as exc:  # a bug must not lose the mail: report it as a poison result
        email = ParsedEmail(None, (), (), Address(""), (), (), (), "", None, "", None, ())
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return InboundResult(
            verdict=Verdict.DISCARD,
            reason=DiscardReason.MALFORMED,
            email=email,
            subject="",
            commands=(),
            ticket_id=None,
            body_text="",
            subscribers=(),
            actions=(),
            events=(),
            detail=f"internal error: {detail[:300]}",
            error=detail,
            raw=raw,
        )


def _process(
    raw: bytes,
    settings: Settings,
    storage: DomainReader,
    clock: Clock,
    rng: RandomSource | None,
) -> InboundResult:
    email, message = parse_email(raw)
    # what staff will see is what commands, threading and storage read (no control,
    # zero-width or bidi characters hiding a command)
    email = dataclasses.replace(email, subject=clean_subject(email.subject))
    secret = settings.outgoing.secret_key
    junk = classify(
        message,
        sender=email.sender.email,
        helpdesk_addresses=own_addresses(settings),
        is_own_message_id=lambda mid: check_message_id(mid, secret).ticket_id is not None,
        parsed=email,
    )
    parsed_subject = parse_subject(email.subject)
    body_text, body_html = _new_message(email)
    ctx = _Context(
        email=email,
        settings=settings,
        random=rng,
        raw=raw,
        junk=junk,
        subject=parsed_subject.subject,
        commands=parsed_subject.commands,
        body_text=body_text,
        body_html=body_html,
        auth=_authenticate(email, settings),
        notes=tuple(
            d.partition(": ")[2] for d in email.defects if d.startswith(f"{ADDRESSES_CAPPED}:")
        )
        + tuple(_flattened_note(d) for d in email.defects if d.startswith(f"{FLATTENED}:"))
        + tuple(_capped_note(d) for d in email.defects if d.startswith(f"{HEADERS_CAPPED}:")),
    )
    if junk.kind is not None and not _keep_auto_reply(ctx):
        actions: tuple[Action, ...] = ()
        detail = f"{junk.rule}: {junk.evidence}" if junk.evidence else str(junk.rule)
        if junk.kind == "bounce" and junk.bounced_recipients:
            # only a report that returns one of our Message-IDs may suppress anyone, and
            # `commit` checks the sent ledger: was that message sent to that address?
            proof = tuple(
                m for m in junk.returned_message_ids if not check_message_id(m, secret).forged
            )
            if proof:
                days = settings.notifications.bounce_suppression_days
                actions = (
                    SuppressRecipients(
                        emails=junk.bounced_recipients,
                        temporary=junk.temporary,
                        reason=f"bounce ({junk.rule})",
                        until=clock.now() + timedelta(days=days),
                        proof=proof,
                    ),
                )
            else:
                detail += "; nobody suppressed: the report returns no Message-ID of ours"
        return _discard(ctx, JUNK_REASONS[junk.kind], detail, actions)

    if not email.sender.email:
        # nobody to answer, but it may be a real request: kept for a person to look at
        return _hold(ctx, DiscardReason.MALFORMED, "no sender address: held for review")
    if _nothing_read(email):
        return _hold(
            ctx, DiscardReason.MALFORMED, "structure too deep, nothing readable: held for review"
        )

    held_unverified = settings.incoming.authentication is SenderAuthentication.ALL
    if held_unverified and ctx.auth is not None and not ctx.auth.authenticated:
        why = f"held for review: the sender is not authenticated ({ctx.auth.evidence})"
        return _hold(ctx, DiscardReason.UNREGISTERED, why)

    user = storage.user(email.sender.email)
    match = find_ticket(email, user, storage, secret)
    notes = list(match.notes)
    if user is None and not settings.incoming.accept_unregistered:
        # a subscriber of the ticket it answers may reply (someone CC'd on the ticket gets
        # every update, so their replies count too); anyone else is unregistered
        if match.ticket is None or not _on_ticket(match.ticket, email.sender.email):
            return _discard(
                ctx,
                DiscardReason.UNREGISTERED,
                "sender is not a registered user",
                (RequireUser(email.sender.email, None),),
            )
        notes.append("unregistered sender: a subscriber of the ticket")
    if junk.kind == "auto_reply":  # kept as an inert comment (setting), never a new ticket
        if match.ticket is None:
            return _discard(ctx, DiscardReason.AUTO_REPLY, f"{junk.rule}: not a reply to a ticket")
        return _comment(
            ctx, match.ticket, user, (*notes, f"auto-reply kept: {junk.rule}"), inert=True
        )
    ticket = match.ticket
    reopen = settings.incoming.reply_to_closed is ClosedTicketReply.REOPEN
    if ticket is not None and ticket.is_closed and not reopen:
        notes.append(f"ticket {ticket.id} is closed: new ticket")
        ticket = None
    if ticket is not None:
        return _comment(ctx, ticket, user, (*notes, f"threaded by {match.how}"), inert=False)
    return _new_ticket(ctx, user, tuple(notes))


def _flattened_note(defect: str) -> str:
    shape = defect.partition(": ")[2]  # "12000 parts, 2 levels"
    parts = int(shape.split(" ", 1)[0]) if shape[:1].isdigit() else 0
    kept = f", only the first {MAX_PARTS} kept" if parts > MAX_PARTS else ""
    return f"{shape}: parts read side by side{kept}"


def _capped_note(defect: str) -> str:
    numbers = [int(w) for w in defect.partition(": ")[2].split() if w.isdigit()]
    fields, long_fields = [*numbers, 0, 0][:2]
    notes = []
    if fields > MAX_HEADER_FIELDS:
        notes.append(f"header of {fields} fields: only the first {MAX_HEADER_FIELDS} read")
    if long_fields:
        notes.append(f"{long_fields} header fields cut at {MAX_FIELD_BYTES} bytes")
    return "; ".join(notes)


def _nothing_read(email: ParsedEmail) -> bool:
    """A message whose structure could not be read, of which no text and no file was read."""
    return (
        any(d == "Unparseable" or d.startswith(f"{FLATTENED}:") for d in email.defects)
        and not email.text.strip()
        and not email.html
        and not email.attachments
    )


def _authenticate(email: ParsedEmail, settings: Settings) -> AuthVerdict | None:
    """The sender's authentication, or None when `sender_authentication` is off."""
    incoming = settings.incoming
    if incoming.authentication is SenderAuthentication.OFF:
        return None
    return authenticate(email.headers, email.sender.email, incoming.authserv_ids)


def _on_ticket(ticket: Ticket, address: str) -> bool:
    """Whether `address` is the ticket's submitter or one of its subscribers."""
    return address == ticket.submitter or address in ticket.subscribers


def _keep_auto_reply(ctx: _Context) -> bool:
    return (
        ctx.junk.kind == "auto_reply"
        and ctx.settings.incoming.auto_replies is AutoReplyHandling.COMMENT
    )


def _new_message(email: ParsedEmail) -> tuple[str, str | None]:
    """The new text and HTML of the message, as stored: quoted history cut off, and any
    link carrying one of our signed tokens (a quoted notification's autologin, rating or
    unsubscribe link) neutralised, so that the next notifications never pass a customer's
    sign-in on to other subscribers and staff.

    The text is the whole visible text when reply extraction leaves nothing of a message
    that had text (a reply written below the quote, say): an email with words in it never
    becomes an empty comment; its HTML is then kept whole as well. The HTML is cut where
    the text is (`quotes_html.reply_html`): a ten-round conversation stores one reply, not
    the thread quoted ten times over."""
    from .quotes import reply_text_from_plain
    from .quotes_html import reply_html, reply_text_and_html

    new = ""
    new_html: str | None = None
    if email.text.strip():
        new = reply_text_from_plain(email.text)
    elif email.html:
        new, new_html = reply_text_and_html(email.html)  # rendered once for both
    whole = not new.strip()
    text = email.text.strip() if whole else new
    html: str | None = None
    if email.html:
        if whole:
            new_html = email.html
        elif new_html is None:
            new_html = reply_html(email.html)
        html = neutralize_link_tokens(new_html)
    return neutralize_link_tokens(text), html


def _result(
    ctx: _Context,
    verdict: Verdict,
    *,
    reason: DiscardReason | None = None,
    ticket_id: int | None = None,
    subscribers: tuple[str, ...] = (),
    actions: tuple[Action, ...] = (),
    events: tuple[Event, ...] = (),
    detail: str = "",
    commands: tuple[str, ...] = (),
    subject: str | None = None,
    hold: str | None = None,
) -> InboundResult:
    return InboundResult(
        verdict=verdict,
        reason=reason,
        email=ctx.email,
        subject=ctx.subject if subject is None else subject,
        commands=commands,
        ticket_id=ticket_id,
        body_text=ctx.body_text,
        subscribers=subscribers,
        actions=actions,
        events=events,
        detail="; ".join(note for note in (detail, *ctx.notes) if note),
        no_auto_response=ctx.junk.no_auto_response or ctx.junk.kind is not None,
        bounced_recipients=ctx.junk.bounced_recipients,
        hold=hold,
        raw=ctx.raw,
    )


def _hold(ctx: _Context, reason: DiscardReason, detail: str) -> InboundResult:
    """An email nothing may be done with, that must not be deleted either: kept for review."""
    return _result(ctx, Verdict.DISCARD, reason=reason, detail=detail, hold=detail)


def _discard(
    ctx: _Context, reason: DiscardReason, detail: str, extra: tuple[Action, ...] = ()
) -> InboundResult:
    return _result(
        ctx,
        Verdict.DISCARD,
        reason=reason,
        actions=(*extra, Discard(reason=reason.value, detail=detail)),
        detail=detail,
    )


def _require_user(ctx: _Context, user: User | None) -> RequireUser:
    """The precondition that the sender's account is still what the decision saw."""
    return RequireUser(ctx.email.sender.email, user.role if user is not None else None)


def _create_user(ctx: _Context, user: User | None) -> tuple[Action, ...]:
    if user is not None or not ctx.settings.incoming.accept_unregistered:
        return ()
    if ctx.random is None:
        raise RandomSourceRequired(
            "process_email needs random= (a RandomSource) to create a user with a password"
        )
    password = base64.urlsafe_b64encode(ctx.random.token_bytes(PASSWORD_BYTES)).decode()
    sender = ctx.email.sender
    return (CreateUser(email=sender.email, name=sender.name, password=password),)


def _new_ticket(ctx: _Context, user: User | None, notes: tuple[str, ...]) -> InboundResult:
    email = ctx.email
    sender = email.sender.email
    own = own_addresses(ctx.settings)
    subscribers: dict[str, None] = {}
    if ctx.settings.incoming.add_recipients_as_subscribers:
        for address in (*email.to, *email.cc):
            if address.email in own or is_system_address(address.email):
                continue
            subscribers[address.email] = None
    limit = ctx.settings.incoming.max_subscribers_per_email
    others = [a for a in subscribers if a != sender]  # the sender is subscribed anyway
    kept, left_out = set(others[:limit]), others[limit:]
    from_recipients = tuple(a for a in subscribers if a == sender or a in kept)
    if left_out:
        notes = (
            *notes,
            f"only the first {limit} of {len(others)} To and Cc addresses subscribed"
            f" (incoming.max_subscribers_per_email); left out: {', '.join(left_out)}",
        )
    everyone = tuple(dict.fromkeys((sender, *from_recipients)))
    # a token of another ticket (a refused hijack, a forwarded thread) is not this ticket's
    subject = TICKET_TOKEN.sub(" ", ctx.subject)
    subject = " ".join(subject.split()) if subject != ctx.subject else subject
    create = CreateTicket(
        subject=subject,
        submitter=sender,
        body_text=ctx.body_text,
        body_html=ctx.body_html,
        category=ctx.settings.incoming.default_category,
        subscribers=everyone,
        attachments=email.attachments,
        message_id=email.message_id,
        via=Via.EMAIL.value,
    )
    if ctx.commands:
        notes = (*notes, f"commands ignored on a new ticket: {', '.join(ctx.commands)}")
    return _result(
        ctx,
        Verdict.CREATE_TICKET,
        subject=subject,
        subscribers=from_recipients,
        actions=(_require_user(ctx, user), *_create_user(ctx, user), create),
        events=(
            TicketCreated(
                ticket_id=None,
                actor=sender,
                via=Via.EMAIL,
                auto_response_allowed=not ctx.junk.no_auto_response,
                # known: had an account, or our own server authenticated them
                sender_known=user is not None or (ctx.auth is not None and ctx.auth.authenticated),
            ),
        ),
        detail="; ".join(notes) if notes else "new ticket",
    )


def _comment(
    ctx: _Context, ticket: Ticket, user: User | None, notes: tuple[str, ...], *, inert: bool
) -> InboundResult:
    email = ctx.email
    sender = email.sender.email
    allowed: dict[str, bool] = {}
    notes_list = list(notes)
    unverified = ctx.auth is not None and not ctx.auth.authenticated
    for command in ctx.commands:
        who, check, needs_auth = COMMAND_PERMISSIONS[command]
        allowed[command] = not inert and check(ticket, sender, user)
        if not allowed[command]:
            notes_list.append(f"#{command}# ignored: only {who} may use it")
        elif needs_auth and unverified:
            allowed[command] = False
            evidence = ctx.auth.evidence if ctx.auth is not None else ""
            notes_list.append(f"#{command}# ignored: the sender is not authenticated ({evidence})")
    staff_unverified = unverified and user is not None and user.is_staff
    actions: list[Action] = [
        RequireTicket(ticket.id, ticket.status, ticket.version),
        _require_user(ctx, user),
        *_create_user(ctx, user),
    ]
    events: list[Event] = []
    if ticket.is_closed and not allowed.get("close") and not inert:
        actions.append(ReopenTicket(ticket_id=ticket.id, by=sender))
    techs_only = allowed.get("tech", False) or staff_unverified
    if staff_unverified:
        # a technician's address that nothing authenticated does not speak to customers
        notes_list.append("kept techs-only: a staff address, but the sender is not authenticated")
    # a bare command (`#close#`, `#unsubscribe#` and nothing else) stores no comment
    bare = not ctx.body_text.strip() and not email.attachments
    command_only = bare and (allowed.get("close", False) or allowed.get("unsubscribe", False))
    effective: set[str] = set()
    if not command_only:
        if allowed.get("tech", False):
            effective.add("tech")
        actions.append(
            AddComment(
                ticket_id=ticket.id,
                author=sender,
                body_text=ctx.body_text,
                body_html=ctx.body_html,
                techs_only=techs_only,
                attachments=email.attachments,
                message_id=email.message_id,
                full_text=neutralize_link_tokens(email.text),
            )
        )
        if not inert:
            events.append(
                TicketUpdated(
                    ticket_id=ticket.id,
                    actor=sender,
                    techs_only=techs_only,
                    has_attachments=bool(email.attachments),
                    via=Via.EMAIL,
                )
            )
    if allowed.get("unsubscribe"):
        if sender in ticket.subscribers or sender == ticket.submitter:
            actions.append(RemoveSubscriber(ticket_id=ticket.id, email=sender))
            effective.add("unsubscribe")
        else:
            notes_list.append("#unsubscribe#: sender was not subscribed")
    if allowed.get("close"):
        effective.add("close")
        if not ticket.is_closed:
            actions.append(CloseTicket(ticket_id=ticket.id, by=sender))
            events.append(TicketClosed(ticket_id=ticket.id, actor=sender))
    return _result(
        ctx,
        Verdict.ADD_COMMENT,
        ticket_id=ticket.id,
        actions=tuple(actions),
        events=tuple(events),
        detail="; ".join(notes_list),
        commands=tuple(c for c in CANONICAL_ORDER if c in effective),
    )
