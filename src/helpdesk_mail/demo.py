"""The library's main job, end to end, on built-in sample mail (`helpdesk-mail demo`).

The sample emails (`helpdesk_mail.samples`) are dropped into an in-memory mailbox
and polled by the real `Poller` into a storage (the command gives a SQLite file,
`helpdesk_mail.sql.SqlStorage`; in-memory by default here) that starts from the
samples' helpdesk (`samples/state.json`), with a `ManualClock` and a `SeededRandom`,
so the output is the same on every run. Each committed event is then planned,
rendered from the default templates and sent into an in-memory `Outbox` (the
outgoing side). Then the same emails are delivered again, as after a crash
between commit and delete, to show that nothing is created twice. Run it again on
the same storage and nothing new happens at all: every email's receipt is stored
(all duplicates), and the outbox has nothing pending (no email sent).

`run_mailbox_demo` does the same against a real IMAP or POP3 mailbox.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .actions import (
    Action,
    AddComment,
    AddSubscribers,
    CloseTicket,
    CommitOutcome,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    RequireTicket,
    RequireUser,
    SuppressRecipients,
)
from .events import Event
from .memory import InMemoryMailbox, InMemoryStorage, ManualClock, Outbox, SeededRandom
from .ports import Clock, MailboxSession, MailboxTransport, RandomSource, Storage
from .settings import IncomingSettings, MailboxAccount, OutgoingSettings, Settings
from .shell.delivery import Deliverer, NotifyReport
from .shell.poller import MessageReport, MessageStatus, Poller, PollReport

__all__ = [
    "DEMO_ACCOUNT",
    "DemoRun",
    "DemoStorage",
    "DemoStorageError",
    "KeepMailTransport",
    "demo_settings",
    "describe_action",
    "describe_event",
    "format_run",
    "run_demo",
    "run_mailbox_demo",
]

DEMO_ACCOUNT = MailboxAccount(name="support", host="mail.acme.test", batch_size=5)
"""The in-memory mailbox account of the demo (batches of 5 to show batching)."""


def demo_settings(account: MailboxAccount = DEMO_ACCOUNT) -> Settings:
    """The settings of the demo helpdesk, Acme Support, reading `account`."""
    return Settings(
        incoming=IncomingSettings(
            accept_unregistered=True,
            default_category="General",
            helpdesk_addresses=("support@acme.test",),
            accounts=(account,),
        ),
        outgoing=OutgoingSettings(
            from_address="support@acme.test",
            from_name="Acme Support",
            reply_to="support@acme.test",
            helpdesk_url="https://helpdesk.acme.test",
            secret_key="demo-secret-key",  # noqa: S106 - a public demo key, signs sample IDs
        ),
    )


class DemoStorage(Storage, Protocol):
    """A storage the demo can start from the samples' helpdesk (`InMemoryStorage`,
    `helpdesk_mail.sql.SqlStorage`)."""

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Load users and tickets (the format of `samples/state.json`)."""
        ...


@runtime_checkable
class _ListsTickets(Protocol):
    def ticket_ids(self, last: int | None = None) -> list[int]: ...


class DemoStorageError(Exception):
    """The storage given to the demo holds a helpdesk that is not the demo's."""


@dataclass
class DemoRun:
    """What a demo did: each message's report (with its label), the polls, the storage."""

    storage: Storage
    messages: list[tuple[str, MessageReport]] = field(default_factory=list)
    polls: list[PollReport] = field(default_factory=list)
    redelivered: list[tuple[str, MessageReport]] = field(default_factory=list)
    left_on_server: int | None = None
    """Messages still in the inbox after the demo (None: not known, the mail was kept)."""
    source: str = "built-in sample mail"
    notifications: dict[str, list[NotifyReport]] = field(default_factory=dict)
    """The notifications sent for each message's events, by message label."""
    outbox: Outbox = field(default_factory=Outbox)
    fresh: bool = True
    """The storage was new: the samples' helpdesk was loaded into it first."""


def _prepare(storage: DemoStorage) -> bool:
    """Load the samples' helpdesk into a new storage (True); False when it is already
    there from an earlier run. Raises `DemoStorageError` for a storage holding another
    helpdesk."""
    from .samples import sample_state

    state = sample_state()
    first_user = state["users"][0]["email"]
    with storage.transaction() as unit:
        if unit.domain.user(first_user) is not None:
            return False
        domain = unit.domain
        if isinstance(domain, _ListsTickets) and domain.ticket_ids(last=1):
            raise DemoStorageError(
                "this database holds tickets that are not the demo's: "
                "give the demo a database of its own"
            )
    storage.load_state(state)
    return True


def run_demo(
    samples: Sequence[tuple[str, bytes]] | None = None,
    *,
    seed: int = 0,
    redeliver: bool = True,
    storage: DemoStorage | None = None,
    clock: ManualClock | None = None,
) -> DemoRun:
    """Poll the sample mail (or `samples`) from an in-memory mailbox; deterministic.

    `storage` (default a new `InMemoryStorage`) starts from the samples' helpdesk; a
    storage from an earlier run is used as it is, so a second run finds every email
    committed already and sends nothing. `clock` (default `ManualClock()`) must be the
    storage's clock too for the output to be the same on every run.
    """
    from .samples import sample_messages

    messages = list(samples) if samples is not None else sample_messages()
    if storage is None:
        storage = InMemoryStorage()
    fresh = _prepare(storage)
    mailbox = InMemoryMailbox(batch_size=DEMO_ACCOUNT.batch_size)
    labels: dict[str, str] = {}
    for name, raw in messages:
        labels[mailbox.deliver(raw, account=DEMO_ACCOUNT.name)] = name
    run = DemoRun(storage=storage, fresh=fresh)
    collected: list[MessageReport] = []
    settings, random = demo_settings(), SeededRandom(seed)
    clock = clock if clock is not None else ManualClock()

    poller = Poller(settings, storage, mailbox, clock, random, on_message=collected.append)
    run.polls.append(poller.run_once(force=True))
    run.messages = [(labels.get(m.uid, f"uid {m.uid}"), m) for m in collected]
    # the events the commits put in the outbox, delivered as a worker would
    deliverer = Deliverer(settings, storage, run.outbox, clock, random)
    delivered: dict[int | None, NotifyReport] = {}
    while True:
        round_ = deliverer.run_once()
        if not round_.events:
            break
        delivered.update((r.event_id, r) for r in round_.events)
    for label, report in run.messages:
        event_ids = report.outcome.event_ids if report.outcome is not None else ()
        run.notifications[label] = [delivered[i] for i in event_ids if i in delivered]
    if redeliver:
        collected.clear()
        for name, raw in messages:
            labels[mailbox.deliver(raw, account=DEMO_ACCOUNT.name)] = name
        run.polls.append(poller.run_once(force=True))
        run.redelivered = [(labels.get(m.uid, f"uid {m.uid}"), m) for m in collected]
    run.left_on_server = len(mailbox.messages(DEMO_ACCOUNT.name))
    return run


class KeepMailTransport:
    """Wraps a transport so that nothing is deleted or moved: a read-only look at a mailbox."""

    def __init__(self, inner: MailboxTransport) -> None:
        self.inner = inner

    def open(self, account: MailboxAccount) -> MailboxSession:
        """Open the inner session, with `delete` and `move` turned into no-ops."""
        return _KeepSession(self.inner.open(account))


class _KeepSession:
    def __init__(self, inner: MailboxSession) -> None:
        self.inner = inner
        self.can_move = inner.can_move
        self.stable_ids = inner.stable_ids

    def list_uids(self) -> Sequence[str]:
        return self.inner.list_uids()

    def fetch(self, uids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        return self.inner.fetch(uids)

    def delete(self, uids: Sequence[str]) -> None:
        pass

    def move(self, uids: Sequence[str], folder: str) -> None:
        pass

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> _KeepSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_mailbox_demo(
    account: MailboxAccount,
    transport: MailboxTransport,
    clock: Clock,
    random: RandomSource | None = None,
    *,
    delete: bool = False,
    storage: Storage | None = None,
) -> DemoRun:
    """Poll a real mailbox once into an empty in-memory helpdesk (or `storage`).

    With `delete=False` (the default) the mail stays on the server: an in-memory
    storage is thrown away at exit, so removing the mail would lose it.
    """
    if storage is None:
        storage = InMemoryStorage()
    collected: list[MessageReport] = []
    settings = demo_settings(account)
    if "@" in account.username:
        incoming = dataclasses.replace(
            settings.incoming,
            helpdesk_addresses=(*settings.incoming.helpdesk_addresses, account.username),
        )
        settings = dataclasses.replace(settings, incoming=incoming)
    used = transport if delete else KeepMailTransport(transport)
    poller = Poller(settings, storage, used, clock, random, on_message=collected.append)
    run = DemoRun(storage=storage, source=f"{account.protocol.value} mailbox {account.name}")
    run.polls.append(poller.run_once(force=True))
    if delete:
        run.left_on_server = sum(
            a.failed + a.skipped - a.quarantined for a in run.polls[0].accounts
        )
    run.messages = [(f"uid {m.uid}", m) for m in collected]
    return run


# --- describing what happened ---


def _ticket(ticket_id: int | None, outcome: CommitOutcome | None) -> str:
    resolved = ticket_id if ticket_id is not None else (outcome.ticket_id if outcome else None)
    return f"#{resolved}" if resolved is not None else "the new ticket"


def _quote(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return f'"{flat[: limit - 1]}…"' if len(flat) > limit else f'"{flat}"'


def describe_action(action: Action, outcome: CommitOutcome | None = None) -> str:
    """One readable line for an action (ticket ids filled in from the commit's outcome)."""
    match action:
        case RequireTicket():
            return f"check #{action.ticket_id} is still {action.status.value}"
        case RequireUser():
            if action.role is None:
                return f"check {action.email} has no account yet"
            return f"check {action.email} is still a {action.role.value}"
        case CreateUser():
            return f"create {action.role.value} {action.email} (with a generated password)"
        case CreateTicket():
            parts = [f"category {action.category or '-'}"]
            if action.subscribers:
                parts.append("subscribers " + ", ".join(action.subscribers))
            if action.attachments:
                names = ", ".join(a.filename or "(unnamed)" for a in action.attachments)
                parts.append(f"attachments {names}")
            where = _ticket(None, outcome)
            return f"create ticket {where} {_quote(action.subject)} ({'; '.join(parts)})"
        case AddComment():
            kind = "techs-only comment" if action.techs_only else "comment"
            files = f" + {len(action.attachments)} attachment(s)" if action.attachments else ""
            where = _ticket(action.ticket_id, outcome)
            return f"add {kind} to {where} by {action.author}: {_quote(action.body_text)}{files}"
        case AddSubscribers():
            where = _ticket(action.ticket_id, outcome)
            return f"subscribe {', '.join(action.emails)} to {where}"
        case RemoveSubscriber():
            return f"unsubscribe {action.email} from #{action.ticket_id}"
        case CloseTicket():
            return f"close #{action.ticket_id} (by {action.by})"
        case ReopenTicket():
            return f"reopen #{action.ticket_id} (by {action.by})"
        case SuppressRecipients():
            until = action.until.date().isoformat()
            return f"stop mailing {', '.join(action.emails)} until {until} ({action.reason})"
        case Discard():
            return f"discard ({action.reason})"
    return repr(action)  # pragma: no cover - every action type is handled above


def describe_event(event: Event) -> str:
    """One short line for an event: its type, ticket and actor."""
    fields = dataclasses.asdict(event)
    name = type(event).__name__
    ticket = fields.get("ticket_id")
    who = fields.get("actor") or fields.get("email") or fields.get("account") or ""
    parts = [name]
    if ticket is not None:
        parts.append(f"#{ticket}")
    if who:
        parts.append(f"by {who}" if "actor" in fields else str(who))
    if fields.get("techs_only"):
        parts.append("(techs only)")
    return " ".join(parts)


def _describe_notifications(reports: Sequence[NotifyReport]) -> list[str]:
    lines: list[str] = []
    for report in reports:
        for sent in report.sent:
            lines.append(f"{sent.template.value} -> {', '.join(sent.recipients)}")
        for failed in report.failed:
            lines.append(f"{failed.template.value} FAILED: {failed.error}")
    return [f"  {'mail' if i == 0 else '':8} {line}" for i, line in enumerate(lines)]


def _describe_message(label: str, report: MessageReport) -> list[str]:
    lines = [label]
    result = report.result
    if result is not None:
        sender = result.email.sender
        shown = f"{sender.name} <{sender.email}>" if sender.name else sender.email
        lines.append(f"  from     {shown or '(none)'}")
        lines.append(f"  subject  {result.subject or '(none)'}")
        if result.commands:
            lines.append(f"  commands {', '.join(result.commands)}")
    if report.status is MessageStatus.PROCESSED and result is not None:
        verdict = result.verdict.value
        if result.reason is not None:
            verdict += f" ({result.reason.value})"
        elif report.outcome is not None and report.outcome.ticket_id is not None:
            verdict += f" -> ticket #{report.outcome.ticket_id}"
        lines.append(f"  verdict  {verdict}")
        if result.detail:
            lines.append(f"  why      {result.detail}")
        for i, action in enumerate(result.actions):
            lines.append(
                f"  {'actions' if i == 0 else '':8} {describe_action(action, report.outcome)}"
            )
        if not result.actions:
            lines.append("  actions  (none)")
        for i, event in enumerate(report.events):
            lines.append(f"  {'events' if i == 0 else '':8} {describe_event(event)}")
    elif report.status is MessageStatus.DUPLICATE:
        lines.append(
            "  duplicate: already committed, removed from the server without a second ticket"
        )
    elif report.status is MessageStatus.FAILED:
        lines.append(f"  FAILED   {report.error} (kept as a poison record)")
    elif report.status is MessageStatus.TOO_LARGE:
        lines.append(f"  kept     {report.error} (not processed, kept for review)")
        for i, event in enumerate(report.events):
            lines.append(f"  {'events' if i == 0 else '':8} {describe_event(event)}")
    else:
        lines.append("  skipped: a poison message recorded earlier")
    return lines


def format_run(run: DemoRun) -> str:
    """The readable report of a demo run, one block per message, then a summary."""
    out: list[str] = [f"helpdesk-mail demo: {len(run.messages)} emails from {run.source}", ""]
    for label, report in run.messages:
        out.extend(_describe_message(label, report))
        out.extend(_describe_notifications(run.notifications.get(label, ())))
        out.append("")
    first = run.polls[0] if run.polls else PollReport()
    verdicts: dict[str, int] = {}
    for _, report in run.messages:
        if report.status is MessageStatus.PROCESSED and report.result is not None:
            key = report.result.verdict.value
            verdicts[key] = verdicts.get(key, 0) + 1
    counts = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) or "nothing"
    out.append(
        f"Summary: {first.processed} committed ({counts}), {first.duplicates} duplicates,"
        f" {first.failed} failed, {first.errors} mailbox errors."
    )
    for account in first.accounts:
        if account.error:
            out.append(f"  {account.account}: {account.error}")
    events = sum(len(r.outcome.event_ids) for _, r in run.messages if r.outcome is not None)
    if events or len(run.outbox):
        out.append(
            f"Notifications: {events} events committed to the event outbox,"
            f" delivered as {len(run.outbox)} emails (to an in-memory SMTP outbox)."
        )
    elif run.notifications:
        out.append(
            "Notifications: no new events, and nothing pending in the outbox: no email sent."
        )
    if run.redelivered:
        again = run.polls[-1]
        out.append(
            f"Delivered again (as after a crash between commit and delete): "
            f"{again.duplicates} duplicates removed, {again.processed} committed a second time."
        )
    if run.left_on_server is None:
        out.append("The mail was left on the server (use --delete to remove what is committed).")
    else:
        out.append(f"Left on the server: {run.left_on_server}.")
    out.append("")
    out.append("Tickets now:")
    out.extend(_ticket_lines(run.storage))
    return "\n".join(out)


def _ticket_lines(storage: Storage) -> list[str]:
    out: list[str] = []
    with storage.transaction() as unit:
        domain = unit.domain
        ids = domain.ticket_ids() if isinstance(domain, _ListsTickets) else []
        tickets = [t for t in (domain.ticket(i) for i in ids) if t is not None]
        comments_of = {t.id: domain.comments(t.id) for t in tickets}
    for ticket in tickets:
        comments = comments_of[ticket.id]
        techs = sum(1 for c in comments if c.techs_only)
        note = f", {techs} techs-only" if techs else ""
        out.append(
            f"  #{ticket.id:<3} {ticket.status.value:<6} {_quote(ticket.subject, 40):<42}"
            f" by {ticket.submitter}; {len(comments)} comment(s){note};"
            f" subscribers: {', '.join(ticket.subscribers) or '-'}"
        )
    return out
