"""Composing notification emails: a `PlannedEmail` in, stdlib `EmailMessage`s out.

`render_message(planned, templates, settings, storage, clock, random)` renders the
planned email's template once per recipient (one email in CC mode) and returns the
messages, ready for `SendTransport.send`; None when the host's template for that kind
is empty (the notification is skipped).

Each piece of work is done once per planned email: the template is compiled once
(`compile_email`) and that compiled template is rendered for every recipient; the
host's data is read once, for both audiences (staff, and customers who do not see
techs-only comments). The work is done by one module each:

- `template_data`: what the masks show, from the host's data (`build_template_data`);
- `recipient_links`: the links of each recipient (autologin, rating, unsubscribe);
- `headers`: the header fields, stored as they will be written (`POLICY`);
- `body`: the text and HTML parts between the reply markers, and what they attach;
- `mime_writer`: the parts' bytes, the boundaries and the writer.

Every message has (rules other code relies on):

- ``From``: `OutgoingSettings.from_address`, named `from_name` for system
  notifications; for human-originated mail (a reply, i.e. "ticket updated", and the
  "new ticket" email that carries the customer's message) named after its author,
  unless `from_name_for_all` is on or the author has no name.
- ``Reply-To``: `OutgoingSettings.reply_to`, when set.
- ``Auto-Submitted: auto-generated`` (RFC 3834) and ``X-Auto-Response-Suppress: All``.
- ``List-Unsubscribe`` (RFC 2369) with the unsubscribe link the email shows, whenever
  it shows one (`#Unsubscribe#`), written on one line as it is; and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058) when that link
  works with one click: signed for its one recipient (not in CC mode, a secret key
  set) and ``https``. The host's unsubscribe route then accepts a POST.
- ``Message-ID``: signed (`tokens.new_message_id`) for ticket emails, so that a
  reply finds its ticket; an unsigned random one for other emails or without a secret.
  Domain: `message_id_domain`, else the From address's domain.
- ``In-Reply-To`` (the ticket's latest stored Message-ID) and ``References`` (its first
  and up to nine latest), when the ticket has any; never a Message-ID of another ticket
  (a signed one naming another ticket is left out; the storage keeps a Message-ID with
  the first ticket that stored it).
- A subject that starts with the ticket token ``[#1234]`` (added if the template left
  it out), so that replies thread even without Message-IDs, and carries no email-API
  command (`tokens.without_commands`): a technician's plain reply must not close a
  ticket because a customer's subject said ``#close#``.
- The reply marker (`reply_marker`): a line on top of both parts
  (``##- Reply above this line -##``, `NotificationSettings.reply_marker`) and one at
  the bottom (the helpdesk's name and the ticket); in HTML, elements carrying the
  marker's class around the template's content, in a column at most `body.MAX_WIDTH_PX`
  wide. Inbound cuts replies there.
- ``multipart/alternative``: the plain text derived from the HTML, then the HTML.
  Files of the new ticket or reply are attached, and inline images of shown messages
  included (``multipart/related``, by Content-ID), only when
  `PlannedEmail.include_attachments` is on; otherwise ``cid:`` images are replaced by
  their alt text. A ``cid:`` reference resolves only to the parts of the message that
  makes it (never another message's, so never a techs-only comment's for a customer):
  it is rewritten to ``cid:<message>.<Content-ID>``, and anything else shows its alt text.
  Files and images are attached in order while they fit in
  `NotificationSettings.max_attached_bytes` (10 MB) and `max_attached_files` (50); the
  others are only listed, with their links (`#Recent_Attachments#`).
- No header carries CR, LF or another control character from user data: names,
  subjects and file names are flattened to one line; invalid addresses are left out.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import format_datetime

from ..kinds import kinds_where
from ..model import Ticket, User
from ..planned import PlannedEmail, Recipient
from ..ports import Clock, PlanReader, RandomSource
from ..reply_marker import end_text, marker_line
from ..settings import Settings
from ..templating.render import Templates, compile_email, header_text, render_compiled
from ..templating.values import MaskValues
from ..tokens import check_message_id, new_message_id, with_ticket_token, without_commands
from .body import set_body
from .headers import (
    POLICY,
    header_address,
    set_addresses,
    set_constant,
    set_header,
    unsubscribe_headers,
)
from .mime_writer import Notification, multipart_boundary, set_boundaries
from .recipient_links import recipient_data
from .template_data import KB_MASK, Built, Reads, build, build_template_data, helpdesk_name

__all__ = [
    "ComposeError",
    "build_template_data",
    "render_message",
]

MAX_REFERENCES = 10
_MESSAGE_ID = re.compile(r"<[^<>\s@\x00-\x1f\x7f]{1,250}@[^<>\s@\x00-\x1f\x7f]{1,250}>")
_HUMAN_KINDS = kinds_where(human_from=True)
_UNSUBSCRIBE_MASK = "Unsubscribe"


class ComposeError(ValueError):
    """The settings do not allow composing an email (e.g. no From address)."""


def _real_name(user: User | None) -> str:
    if user is None:
        return ""
    full = " ".join(p for p in (user.first_name, user.last_name) if p)
    return user.name or full or user.username


def _human_name(planned: PlannedEmail, reads: Reads, settings: Settings) -> str:
    if settings.outgoing.from_name_for_all or planned.template not in _HUMAN_KINDS:
        return ""
    actor = getattr(planned.event, "actor", "")
    return _real_name(reads.user(actor)) if actor else ""


# --- the messages -----------------------------------------------------------------


def render_message(
    planned: PlannedEmail,
    templates: Templates | None,
    settings: Settings,
    storage: PlanReader,
    clock: Clock,
    random: RandomSource,
) -> list[EmailMessage] | None:
    """The emails of `planned`: one per recipient (one in CC mode); None when skipped.

    Raises `ComposeError` when `OutgoingSettings.from_address` is not set and
    `TemplateError` for an unusable template mapping. Recipients whose address cannot
    be put in a header are left out (the list may then be empty).

    The template is compiled once, and the host's data read once, for all recipients.
    """
    out = settings.outgoing
    if not out.from_address:
        raise ComposeError("outgoing.from_address must be set to send notifications")
    kind = planned.template
    template = compile_email(kind, templates)
    if template.skipped:
        return None
    uses_kb = template.uses(KB_MASK)
    uses_unsubscribe = template.uses(_UNSUBSCRIBE_MASK)
    now = clock.now()
    reads = Reads(storage, planned.include_attachments)
    sender = header_address(
        out.from_address, _human_name(planned, reads, settings) or out.from_name
    )
    if sender is None:
        raise ComposeError(f"outgoing.from_address {out.from_address!r} is not usable")
    domain = out.message_id_domain or sender.domain

    ticket = reads.ticket(planned.ticket_id) if planned.ticket_id is not None else None
    shared: dict[bool, Built] = {}

    def built_for(staff: bool) -> Built:
        if staff not in shared:
            shared[staff] = build(planned, settings, reads, staff=staff, uses_kb=uses_kb)
        return shared[staff]

    groups: list[tuple[tuple[Recipient, ...], tuple[Recipient, ...], Recipient | None]]
    if planned.cc_mode:
        groups = [(planned.to, planned.cc, None)]
    else:
        groups = [((r,), (), r) for r in (*planned.to, *planned.cc)]

    messages: list[EmailMessage] = []
    for to, cc, personal in groups:
        to_addrs = [a for r in to if (a := header_address(r.email, r.name)) is not None]
        cc_addrs = [a for r in cc if (a := header_address(r.email, r.name)) is not None]
        if not to_addrs and not cc_addrs:
            continue
        built = built_for(all(r.role.is_staff for r in (*to, *cc)))
        data = recipient_data(built.data, planned, personal, settings, now)
        subject = header_text(render_compiled(template.subject, MaskValues(data)))
        msg = Notification(policy=POLICY)
        set_addresses(msg, "From", [sender])
        if to_addrs:
            set_addresses(msg, "To", to_addrs, read=True)
        if cc_addrs:
            set_addresses(msg, "Cc", cc_addrs, read=True)
        if out.reply_to:
            reply_to = header_address(out.reply_to)
            if reply_to is not None:
                set_addresses(msg, "Reply-To", [reply_to])
        subject = without_commands(subject)  # a reply runs only what its sender typed
        set_header(msg, "Subject", header_text(with_ticket_token(subject, data.ticket_id)))
        set_header(msg, "Date", format_datetime(now))
        message_id = new_message_id(data.ticket_id, domain, out.secret_key, random.token_bytes)
        set_header(msg, "Message-ID", message_id, read=True)
        _thread_headers(msg, ticket, out.secret_key)
        set_constant(msg, "Auto-Submitted", "auto-generated")
        set_constant(msg, "X-Auto-Response-Suppress", "All")
        if uses_unsubscribe and data.unsubscribe_url:
            signed = personal is not None and bool(out.secret_key)
            unsubscribe_headers(msg, data.unsubscribe_url, one_click=signed)
        top = marker_line(settings.notifications.reply_marker)
        bottom = marker_line(end_text(helpdesk_name(settings), data.ticket_id))
        boundary = multipart_boundary(message_id)
        set_body(
            msg,
            template,
            data,
            (top, bottom),
            boundary,
            planned,
            ticket,
            reads,
            built.files,
            settings.notifications,
        )
        set_boundaries(msg, boundary)
        messages.append(msg)
    return messages


def _thread_headers(msg: EmailMessage, ticket: Ticket | None, secret: str) -> None:
    """In-Reply-To and References from the ticket's stored Message-IDs, never one that
    names another ticket: a signed one of ours for another ticket is left out (a host
    that stored it anyway must not route this ticket's replies there)."""
    if ticket is None:
        return
    ids = list(
        dict.fromkeys(
            m.strip()
            for m in ticket.message_ids
            if _MESSAGE_ID.fullmatch(m.strip())
            and check_message_id(m, secret).ticket_id in (None, ticket.id)
        )
    )
    if not ids:
        return
    set_header(msg, "In-Reply-To", ids[-1])
    refs = ids if len(ids) <= MAX_REFERENCES else [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    set_header(msg, "References", " ".join(refs))
