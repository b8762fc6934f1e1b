"""Delivery: events from the outbox to sent mail, exactly once where SMTP allows.

Rules (this file owns them):

1. Commits record events in the outbox (`helpdesk_mail.commit`). A `Deliverer`
   claims due pending events with a lease (`EventOutbox.claim_events`), so that two
   workers never deliver the same event at once; a worker that dies loses its lease
   when it expires and another one takes the event over.
2. The event's notification plan is computed once, at the first attempt, and frozen
   in the outbox entry (`OutboxEntry.plan`): a retry sends the same emails to the
   same people, whatever changed since. The people the plan leaves out are written
   to the sent ledger as `skipped`, with the planner's reason.
3. Each email has an idempotency key: the event id, the template and the recipient
   (`SentRecord.key`). One already in the ledger as sent, failed or skipped is not
   sent again. After the server accepted a message, its `sent` line and its
   rate-limit counts are written in one transaction.
4. A temporary failure (a 4xx reply, a timeout, a refused connection) leaves the
   email pending: the event is released and tried again after an exponential
   backoff (`RetryPolicy`), until `max_age` after the event, when the emails still
   pending are written as failed. A permanent failure (5xx, or a template or
   setting that cannot be composed) is written as failed at once; a recipient the
   server refused with 5xx is also suppressed for `bounce_suppression_days`.
5. The event is done (`EventStatus.DONE`) when each of its emails is sent, failed
   or skipped; it fails (`EventStatus.FAILED`) when it cannot be planned at all (its
   ticket is gone). Nothing is dropped without a line a host can list
   (`SentLedger.sent_records`, `EventOutbox.outbox`).
6. The only duplicate possible: a crash after the SMTP server accepted a message
   and before its `sent` line was written. The next attempt sends that one message
   again.
7. Stopping (`stop`, a `threading.Event`): `run_once` finishes the event being
   delivered and gives the other claimed events back (their lease released, nothing
   else changed), so another worker can take them at once. An event with less than
   a third of its lease left when its turn comes is given back undelivered (one whose
   lease ran out is left alone: another worker may hold it now).
8. Ahead (`prepare_ahead`, off by default, on in the `Worker`): while one claimed
   event's emails are sent, the next one is planned, frozen and rendered in a second
   thread, so the waits for the SMTP server's replies overlap with the rendering. The
   events are still sent one after the other, in order. The next event is planned
   before the previous one's sends are counted, so the rate limits may see one event
   fewer in flight, as they do with two workers; which one depends on timing. Off,
   a run is deterministic (a host's tests on in-memory backends rely on that).

`notify(event, ...)` is the same path for one event, now: it records the event in
the outbox and delivers it at once, returning what happened (a temporary failure
stays in the outbox for a `Deliverer` to retry).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses

from ..addresses import normalize_email
from ..codec import from_dict, to_dict
from ..events import Event
from ..kinds import TemplateKind
from ..model import Attachment, Comment, KBArticle, Ticket, User
from ..outbound.compose import ComposeError, render_message
from ..outbound.plan import plan_notifications, scopes_for
from ..planned import NotificationPlan, PlannedEmail, Recipient
from ..ports import (
    Bookkeeping,
    Clock,
    DomainReader,
    PreparingSendTransport,
    RandomSource,
    Refusal,
    SendError,
    SendTransport,
    Storage,
    UnitOfWork,
    count_each,
)
from ..records import DeliveryStatus, EventStatus, OutboxEntry, SentRecord
from ..settings import Settings
from ..templating.masks import TemplateError
from ..templating.render import Templates

__all__ = [
    "EMPTY_TEMPLATE",
    "UNUSABLE_ADDRESS",
    "Deliverer",
    "DeliveryReport",
    "FailedNotification",
    "NotifyReport",
    "PlanView",
    "RetryPolicy",
    "SentNotification",
    "SkippedNotification",
    "notify",
]

log = logging.getLogger(__name__)

EMPTY_TEMPLATE = "empty_template"
"""Skip reason: the host's template for that kind of email is empty (the spec's opt-out)."""
UNUSABLE_ADDRESS = "unusable_address"
"""Skip reason: the renderer could not put the address in a header."""


@dataclass(frozen=True)
class SentNotification:
    """One message sent: its kind, who got it, its Message-ID, and who was refused."""

    template: TemplateKind
    recipients: tuple[str, ...]
    message_id: str | None
    refused: tuple[Refusal, ...] = ()
    """Recipients of the same message that the server refused (a partial delivery)."""


@dataclass(frozen=True)
class SkippedNotification:
    """Someone who gets no email for the event, and why.

    `reason` is a planner `SkipReason` value (`template` None), `EMPTY_TEMPLATE` or
    `UNUSABLE_ADDRESS`.
    """

    email: str
    reason: str
    template: TemplateKind | None = None


@dataclass(frozen=True)
class FailedNotification:
    """One message (or planned email, when rendering failed) that reached nobody this time."""

    template: TemplateKind
    recipients: tuple[str, ...]
    error: str
    code: int | None = None
    """The SMTP reply code, when the transport gave one."""
    temporary: bool | None = None
    """Whether a retry may succeed; None when the error does not say (it is retried)."""
    message_id: str | None = None
    refused: tuple[Refusal, ...] = ()


@dataclass(frozen=True)
class NotifyReport:
    """What one delivery attempt of one event did."""

    sent: tuple[SentNotification, ...] = ()
    skipped: tuple[SkippedNotification, ...] = ()
    failed: tuple[FailedNotification, ...] = ()
    event_id: int | None = None
    """The event's id in the outbox."""
    status: EventStatus = EventStatus.DONE
    """`pending` when some email failed temporarily and will be tried again."""

    @property
    def ok(self) -> bool:
        """Whether every message was sent to all its recipients."""
        return not self.failed and not any(s.refused for s in self.sent)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every address that got a message, in sending order."""
        return tuple(r for s in self.sent for r in s.recipients)


@dataclass(frozen=True)
class RetryPolicy:
    """When a temporarily failed email is tried again, and when the library gives up."""

    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    max_age: timedelta = timedelta(days=2)
    """After this long since the event, emails still failing are written as failed."""

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th attempt (1, 2, 4... minutes, at most `max_delay`)."""
        delay: timedelta = self.first_delay * 2 ** max(0, attempts - 1)
        return min(delay, self.max_delay)


@dataclass(frozen=True)
class DeliveryReport:
    """What one `Deliverer.run_once` did."""

    events: tuple[NotifyReport, ...] = ()

    @property
    def sent(self) -> int:
        """Messages sent."""
        return sum(len(r.sent) for r in self.events)

    @property
    def failed(self) -> int:
        """Messages that failed (temporarily or for good) in this run."""
        return sum(len(r.failed) for r in self.events)

    @property
    def pending(self) -> int:
        """Events left pending for a retry."""
        return sum(1 for r in self.events if r.status is EventStatus.PENDING)


class PlanView:
    """The read side the planner and the composer need, over one transaction.

    The host's data is read once per view: a ticket, its comments, a user or the staff
    asked for again (by the planner, then by the composer of each email) come from the
    view, as nothing in the transaction changes them meanwhile. Suppressions and counts
    are read each time.
    """

    def __init__(self, domain: DomainReader, books: Bookkeeping) -> None:
        self._domain = domain
        self._books = books
        self._tickets: dict[int, Ticket | None] = {}
        self._comments: dict[int, Sequence[Comment]] = {}
        self._users: dict[str, User | None] = {}
        self._staff: list[User] | None = None

    def user(self, email: str) -> User | None:
        """The user with this address, or None."""
        key = normalize_email(email)
        if key not in self._users:
            self._users[key] = self._domain.user(email)
        return self._users[key]

    def users(self, emails: Iterable[str]) -> Mapping[str, User]:
        """The known users among these addresses."""
        wanted = list(dict.fromkeys(normalize_email(e) for e in emails))
        missing = [e for e in wanted if e not in self._users]
        if missing:
            found = self._domain.users(missing)
            for email in missing:
                self._users[email] = found.get(email)
        return {e: u for e in wanted if (u := self._users[e]) is not None}

    def staff(self) -> Iterable[User]:
        """All technicians and administrators."""
        if self._staff is None:
            self._staff = list(self._domain.staff())
        return self._staff

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket with this id, or None."""
        if ticket_id not in self._tickets:
            self._tickets[ticket_id] = self._domain.ticket(ticket_id)
        return self._tickets[ticket_id]

    def ticket_for_message_id(self, message_id: str) -> int | None:
        """The ticket that stored this Message-ID, or None."""
        return self._domain.ticket_for_message_id(message_id)

    def comments(self, ticket_id: int) -> Sequence[Comment]:
        """The ticket's log, oldest first."""
        if ticket_id not in self._comments:
            self._comments[ticket_id] = self._domain.comments(ticket_id)
        return self._comments[ticket_id]

    def attachment_content(self, attachment: Attachment) -> bytes:
        """The bytes of a stored file."""
        return self._domain.attachment_content(attachment)

    def kb_article(self, article_id: int) -> KBArticle | None:
        """The KB article with this id, or None."""
        return self._domain.kb_article(article_id)

    def search_kb(self, text: str, limit: int) -> Sequence[KBArticle]:
        """KB articles similar to `text`."""
        return self._domain.search_kb(text, limit)

    def is_suppressed(self, email: str, now: datetime) -> bool:
        """Whether notifications to `email` are suppressed."""
        return self._books.is_suppressed(email, now)

    def notifications_since(self, scope: str, since: datetime) -> int:
        """Notifications counted in `scope` since then."""
        return self._books.notifications_since(scope, since)

    def notifications_since_each(self, queries: Sequence[tuple[str, datetime]]) -> tuple[int, ...]:
        """Notifications counted in each `(scope, since)`, in one read where the books can."""
        return count_each(self._books, queries)


def _view(unit: UnitOfWork) -> PlanView:
    return PlanView(unit.domain, unit.books)


class Deliverer:
    """Delivers the events of the outbox: plans, renders, sends and records their emails.

    `worker` names this deliverer in outbox leases; `lease` is how long a claimed
    event stays this worker's: deliver a claimed batch within it. `templates` are the
    host's (None: the defaults). `stop`, when set, ends `run_once` after the current
    event (rule 7). `prepare_ahead` prepares the next claimed event while one is sent
    (rule 8; the `Worker` turns it on).
    """

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        transport: SendTransport,
        clock: Clock,
        random: RandomSource,
        templates: Templates | None = None,
        *,
        worker: str = "deliverer",
        lease: timedelta = timedelta(minutes=5),
        retry: RetryPolicy = RetryPolicy(),
        batch: int = 20,
        stop: threading.Event | None = None,
        prepare_ahead: bool = False,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.transport = transport
        self.clock = clock
        self.random = random
        self.templates = templates
        self.worker = worker
        self.lease = lease
        self.retry = retry
        self.batch = batch
        self.stop = stop
        self.prepare_ahead = prepare_ahead

    # --- the loop ---

    def claim(self, limit: int | None = None) -> Sequence[OutboxEntry]:
        """Lease up to `limit` (default `batch`) due events to this worker."""
        now = self.clock.now()
        with self.storage.transaction() as unit:
            return unit.books.claim_events(self.worker, now, now + self.lease, limit or self.batch)

    def run_once(self, limit: int | None = None) -> DeliveryReport:
        """Claim due events and deliver each; returns what was done.

        When `stop` is set meanwhile, the events not started yet are released (rule 7).
        """
        claimed = list(self.claim(limit))
        reports: list[NotifyReport] = []
        with contextlib.ExitStack() as stack:
            pool = (
                stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare"))
                if self.prepare_ahead and len(claimed) > 1
                else None
            )
            upcoming: Future[_Begun] | None = None
            for index, entry in enumerate(claimed):
                begun = upcoming.result() if upcoming is not None else None
                upcoming = None
                if begun is not None:
                    if begun[1] is None:  # prepared ahead, it could not be planned: failed
                        reports.append(self._complete(begun))
                        continue
                    entry = begun[0].entry  # its plan frozen: give back that, not the claim
                if self.stop is not None and self.stop.is_set():
                    self.release([entry, *claimed[index + 1 :]])
                    break
                if entry.lease_until is not None and self.clock.now() >= entry.lease_until - (
                    self.lease / 3
                ):
                    # too little of the lease left to deliver it safely: give it back (or,
                    # when it already ran out, leave it to whoever holds it now)
                    log.warning("outbox event %d: its lease ran short before its turn", entry.id)
                    self.release([entry])
                    continue
                if begun is None:
                    begun = self._begin(entry)
                if pool is not None and index + 1 < len(claimed):
                    upcoming = pool.submit(self._begin, claimed[index + 1])
                reports.append(self._complete(begun))
        return DeliveryReport(tuple(reports))

    def release(self, entries: Sequence[OutboxEntry]) -> None:
        """Give claimed events back undelivered: their lease is released, nothing else
        changes (another worker may claim them at once). Events whose lease already ran
        out are left alone (another worker may hold them now)."""
        now = self.clock.now()
        ours = [e for e in entries if e.lease_until is None or now < e.lease_until]
        if not ours:
            return
        with self.storage.transaction() as unit:
            for entry in ours:
                unit.books.update_event(
                    dataclasses.replace(entry, lease_owner=None, lease_until=None)
                )

    def run_forever(
        self,
        stop: threading.Event | None = None,
        sleep: Callable[[float], object] | None = None,
        idle_seconds: float = 5.0,
    ) -> None:
        """Deliver until `stop` is set, sleeping `idle_seconds` when nothing is due.

        Unexpected errors are logged and the loop goes on (a claimed event whose
        delivery crashed is taken again when its lease expires).
        """
        if sleep is None:
            sleep = stop.wait if stop is not None else time.sleep
        while stop is None or not stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                log.exception("outbox delivery failed")
                report = DeliveryReport()
            if stop is not None and stop.is_set():
                break
            if not report.events:
                sleep(idle_seconds)

    def prepared(self, message: EmailMessage) -> EmailMessage:
        """`message` with its sending work done ahead when the transport can
        (`PreparingSendTransport`: DKIM signing, serializing), else `message`."""
        if not isinstance(self.transport, PreparingSendTransport):
            return message
        try:
            return self.transport.prepare(message)
        except Exception:  # only a head start: `send` meets the same problem and reports it
            log.debug("the transport could not prepare a message; it is sent unprepared")
            return message

    # --- one event ---

    def deliver(self, entry: OutboxEntry) -> NotifyReport:
        """Deliver one claimed event (see the module's rules); returns this attempt's report.

        Two transactions for an event of one email: one plans it (or reads the frozen
        plan), freezes the plan, reads the ledger and renders the emails; one records
        the email sent with the event's new state. With more emails, each one's `sent`
        line is written before the next is sent.
        """
        return self._complete(self._begin(entry))

    def _begin(self, entry: OutboxEntry) -> _Begun:
        """The first transaction of a delivery: plan (or read the frozen plan), freeze,
        read the ledger, render."""
        attempt = _Attempt(self, entry)
        with self.storage.transaction() as unit:
            plan = attempt.prepare(unit.books, PlanView(unit.domain, unit.books))
        return attempt, plan

    def _complete(self, begun: _Begun) -> NotifyReport:
        """The rest of a delivery: send the rendered emails and record them."""
        attempt, plan = begun
        if plan is None:
            return NotifyReport(event_id=attempt.entry.id, status=EventStatus.FAILED)
        for outgoing in attempt.outgoing:
            attempt.flush()
            attempt.send(*outgoing)
        skipped = [SkippedNotification(s.email, s.reason) for s in plan.skipped]
        return attempt.finish(skipped)


def _skipped_records(
    entry: OutboxEntry, plan: NotificationPlan, now: datetime
) -> tuple[SentRecord, ...]:
    """The ledger's lines of the people `plan` leaves out."""
    return tuple(
        SentRecord(
            key=f"{entry.id}/skipped/{skip.email}",
            event_id=entry.id,
            template="",
            recipients=(skip.email,),
            status=DeliveryStatus.SKIPPED,
            at=now,
            error=skip.reason,
        )
        for skip in plan.skipped
    )


def _freeze(
    books: Bookkeeping, entry: OutboxEntry, plan: NotificationPlan, now: datetime
) -> OutboxEntry:
    """Store `plan` as the entry's frozen plan, and its skipped people in the ledger."""
    frozen = dataclasses.replace(entry, plan=to_dict(plan))
    books.update_event(frozen)
    for record, skip in zip(_skipped_records(entry, plan, now), plan.skipped, strict=True):
        books.record_sent(record)
        if skip.reason in _WARN_SKIPS:
            log.warning("outbox event %d: %s skipped: %s", entry.id, skip.email, skip.reason)
    return frozen


_Begun = tuple["_Attempt", NotificationPlan | None]
"""A delivery begun: its attempt, and its plan (None: it could not be planned)."""

_WARN_SKIPS = frozenset({"ticket_rate_limit", "recipient_rate_limit", "no_staff"})
"""Skips a host wants to hear about: mail dropped by the flood limits, nobody to tell."""

_Write = Callable[[Bookkeeping], None]


class _Attempt:
    """One delivery attempt of one event: the messages sent, failed and still pending.

    `prepare` (in the first transaction) plans, freezes, reads the ledger and renders;
    `send` sends one message and queues its ledger lines, which `flush` (before the next
    send) or `finish` (with the event's new state) writes.
    """

    def __init__(self, deliverer: Deliverer, entry: OutboxEntry) -> None:
        self.d = deliverer
        self.entry = entry
        self.sent: list[SentNotification] = []
        self.skipped: list[SkippedNotification] = []
        self.failed: list[FailedNotification] = []
        self.pending: list[tuple[str, PlannedEmail, tuple[str, ...]]] = []
        self.outgoing: list[tuple[PlannedEmail, EmailMessage, tuple[str, ...], str]] = []
        self.final: dict[str, SentRecord] = {}
        self.ticket_pending = True
        self._writes: list[_Write] = []

    def key(self, planned: PlannedEmail, recipients: Sequence[str]) -> str:
        if planned.cc_mode:
            return f"{self.entry.id}/{planned.template.value}/cc:{recipients[0]}"
        return f"{self.entry.id}/{planned.template.value}/{recipients[0]}"

    # --- the first transaction ---

    def prepare(self, books: Bookkeeping, view: PlanView) -> NotificationPlan | None:
        """The event's plan (frozen now at the first attempt) and its emails rendered; None
        (and the event failed) when it cannot be planned at all."""
        d, entry = self.d, self.entry
        done: Sequence[SentRecord]
        if entry.plan is not None:
            plan = from_dict(entry.plan)
            assert isinstance(plan, NotificationPlan)
            done = books.sent_records(entry.id)
        else:
            try:
                plan = plan_notifications(entry.event, d.settings, view, d.clock)
            except (LookupError, ValueError) as exc:
                error = f"cannot plan: {type(exc).__name__}: {exc}"
                log.warning("outbox event %d: %s", entry.id, error)
                books.update_event(
                    dataclasses.replace(
                        entry, status=EventStatus.FAILED, last_error=error, lease_until=None
                    )
                )
                return None
            now = d.clock.now()
            self.entry = entry = _freeze(books, entry, plan, now)
            # planned now, the event has no line in the ledger but the skips just
            # written: nothing was sent before a plan was frozen (rule 2)
            done = _skipped_records(entry, plan, now)
        self.final = {r.key: r for r in done}
        self.ticket_pending = not any(r.status is DeliveryStatus.SENT for r in done)
        for planned in plan.emails:
            self._render(planned, books, view)
        return plan

    def _render(self, planned: PlannedEmail, books: Bookkeeping, view: PlanView) -> None:
        everyone = tuple(normalize_email(r.email) for r in (*planned.to, *planned.cc))
        groups = [everyone] if planned.cc_mode else [(e,) for e in everyone]
        if all(self.key(planned, g) in self.final for g in groups):
            return
        d = self.d
        try:
            messages = render_message(planned, d.templates, d.settings, view, d.clock, d.random)
        except (ComposeError, TemplateError) as exc:
            error = f"cannot compose: {exc}"
            self.failed.append(
                FailedNotification(planned.template, everyone, error, temporary=False)
            )
            self._record_each(books, planned, groups, DeliveryStatus.FAILED, error)
            return
        if messages is None:
            self.skipped.extend(
                SkippedNotification(e, EMPTY_TEMPLATE, planned.template) for e in everyone
            )
            self._record_each(books, planned, groups, DeliveryStatus.SKIPPED, EMPTY_TEMPLATE)
            return
        addressed_by = [tuple(_recipients(m)) for m in messages]
        addressed = {a for recipients in addressed_by for a in recipients}
        unusable = [g for g in groups if not addressed.intersection(g)]
        for group in unusable:
            self.skipped.extend(
                SkippedNotification(e, UNUSABLE_ADDRESS, planned.template) for e in group
            )
        self._record_each(books, planned, unusable, DeliveryStatus.SKIPPED, UNUSABLE_ADDRESS)
        for message, recipients in zip(messages, addressed_by, strict=True):
            key = self.key(planned, recipients if planned.cc_mode else recipients[:1])
            if key not in self.final:
                self.outgoing.append((planned, d.prepared(message), recipients, key))

    def _record_each(
        self,
        books: Bookkeeping,
        planned: PlannedEmail,
        groups: Sequence[tuple[str, ...]],
        status: DeliveryStatus,
        error: str,
    ) -> None:
        now = self.d.clock.now()
        for group in groups:
            key = self.key(planned, group)
            if key in self.final:
                continue
            record = SentRecord(
                key, self.entry.id, planned.template.value, group, status, now, error=error
            )
            books.record_sent(record)
            self.final[key] = record

    # --- sending ---

    def flush(self) -> None:
        """Write the ledger lines queued by the last send (before the next one goes out)."""
        if not self._writes:
            return
        writes, self._writes = self._writes, []
        with self.d.storage.transaction() as unit:
            for write in writes:
                write(unit.books)

    def send(
        self, planned: PlannedEmail, message: EmailMessage, recipients: tuple[str, ...], key: str
    ) -> None:
        d = self.d
        raw_id = message.get("Message-ID")
        message_id = str(raw_id).strip() if raw_id is not None else None
        try:
            d.transport.send(message)
        except SendError as exc:
            accepted = tuple(normalize_email(a) for a in exc.accepted)
            if accepted:
                self._sent(planned, key, accepted, message_id, exc.refused)
                return
            self._failed(planned, key, recipients, message_id, exc)
            return
        except OSError as exc:  # refused connection, time-out: worth a retry
            self._failed(planned, key, recipients, message_id, SendError(str(exc), temporary=True))
            return
        self._sent(planned, key, recipients, message_id, ())

    def _sent(
        self,
        planned: PlannedEmail,
        key: str,
        recipients: tuple[str, ...],
        message_id: str | None,
        refused: tuple[Refusal, ...],
    ) -> None:
        d = self.d
        now = d.clock.now()
        everyone = (*planned.to, *planned.cc)
        scopes = scopes_for(
            dataclasses.replace(
                planned,
                to=_matching(everyone, recipients),
                cc=(),
                counts_for_ticket=self.ticket_pending,
            )
        )
        record = SentRecord(
            key,
            self.entry.id,
            planned.template.value,
            recipients,
            DeliveryStatus.SENT,
            now,
            message_id=message_id,
            error="; ".join(f"{r.address}: {r.code} {r.reply}" for r in refused) or None,
        )

        def write(books: Bookkeeping) -> None:  # its line and its counts, in one transaction
            books.record_sent(record)
            books.record_notification(scopes, now)
            self._suppress(books, refused, now)

        self._writes.append(write)
        self.ticket_pending = False
        self.final[key] = record
        self.sent.append(SentNotification(planned.template, recipients, message_id, refused))

    def _failed(
        self,
        planned: PlannedEmail,
        key: str,
        recipients: tuple[str, ...],
        message_id: str | None,
        exc: SendError,
    ) -> None:
        error = str(exc) or type(exc).__name__
        self.failed.append(
            FailedNotification(
                planned.template,
                recipients,
                error,
                code=exc.code,
                temporary=exc.temporary,
                message_id=message_id,
                refused=exc.refused,
            )
        )
        if exc.temporary is False:
            now = self.d.clock.now()
            record = SentRecord(
                key,
                self.entry.id,
                planned.template.value,
                recipients,
                DeliveryStatus.FAILED,
                now,
                code=exc.code,
                error=error,
            )
            refused = exc.refused or tuple(
                Refusal(r, exc.code, error) for r in recipients if _permanent(exc.code)
            )

            def write(books: Bookkeeping) -> None:
                books.record_sent(record)
                self._suppress(books, refused, now)

            self._writes.append(write)
            self.final[key] = record
            return
        self.pending.append((key, planned, recipients))

    def _suppress(self, books: Bookkeeping, refused: Sequence[Refusal], now: datetime) -> None:
        days = self.d.settings.notifications.bounce_suppression_days
        for refusal in refused:
            if _permanent(refusal.code):
                reason = f"refused by the SMTP server: {refusal.code} {refusal.reply}"[:200]
                books.suppress(refusal.address, now + timedelta(days=days), reason)

    # --- the last transaction ---

    def finish(self, plan_skipped: list[SkippedNotification]) -> NotifyReport:
        d, entry = self.d, self.entry
        now = d.clock.now()
        attempts = entry.attempts + 1
        status = EventStatus.DONE
        error = self.failed[-1].error if self.failed else None
        gave_up: str | None = None
        if self.pending and now - entry.created_at >= d.retry.max_age:
            gave_up = f"gave up after {attempts} attempts: {error}"
        elif self.pending:
            status = EventStatus.PENDING
        updated = dataclasses.replace(
            entry,
            status=status,
            attempts=attempts,
            next_attempt_at=now + d.retry.delay(attempts)
            if status is EventStatus.PENDING
            else None,
            lease_owner=None,
            lease_until=None,
            last_error=error,
        )
        writes, self._writes = self._writes, []
        with d.storage.transaction() as unit:
            for write in writes:
                write(unit.books)
            if gave_up is not None:
                for key, planned, recipients in self.pending:
                    unit.books.record_sent(
                        SentRecord(
                            key,
                            entry.id,
                            planned.template.value,
                            recipients,
                            DeliveryStatus.FAILED,
                            now,
                            error=gave_up,
                        )
                    )
            unit.books.update_event(updated)
        if gave_up is not None:
            log.error("outbox event %d: %s", entry.id, gave_up)
        return NotifyReport(
            tuple(self.sent),
            (*plan_skipped, *self.skipped),
            tuple(self.failed),
            event_id=entry.id,
            status=status,
        )


def _permanent(code: int | None) -> bool:
    return code is not None and 500 <= code < 600


def notify(
    event: Event,
    settings: Settings,
    storage: Storage,
    templates: Templates | None,
    transport: SendTransport,
    clock: Clock,
    random: RandomSource,
) -> NotifyReport:
    """Deliver `event` now: record it in the outbox and deliver it at once.

    Raises `ValueError` for a ticket event whose ticket id is not bound
    (`events.bind_ticket`) and `LookupError` when its ticket or article is missing,
    before recording or sending anything. A temporary failure stays in the outbox for
    a `Deliverer` to retry (the report's `status` is then `pending`).
    """
    now = clock.now()
    with storage.transaction() as unit:
        plan = plan_notifications(event, settings, _view(unit), clock)
        [event_id] = unit.books.add_events((event,), now)
        entry = OutboxEntry(id=event_id, event=event, created_at=now, lease_owner="notify")
        entry = _freeze(unit.books, entry, plan, now)
    deliverer = Deliverer(settings, storage, transport, clock, random, templates, worker="notify")
    return deliverer.deliver(entry)


def _recipients(message: EmailMessage) -> list[str]:
    """The To, Cc and Bcc addresses of `message`, normalised, without repeats."""
    found: dict[str, None] = {}
    for header in ("To", "Cc", "Bcc"):
        for value in message.get_all(header) or []:
            addresses = getattr(value, "addresses", None)
            specs = (
                [str(a.addr_spec) for a in addresses]
                if addresses is not None
                else [spec for _, spec in getaddresses([str(value)])]
            )
            found.update((normalize_email(s), None) for s in specs if s)
    return list(found)


def _matching(everyone: Sequence[Recipient], addresses: Sequence[str]) -> tuple[Recipient, ...]:
    """The planned recipients among `addresses` (an unplanned address gets a plain one)."""
    by_email = {normalize_email(r.email): r for r in everyone}
    return tuple(by_email.get(a) or Recipient(a) for a in addresses)
