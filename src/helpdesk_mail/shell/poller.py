"""The poller: the shell that reads mailboxes and feeds their mail to `process_email`.

Rules (this file owns them):

1. Each enabled account is polled at its own interval
   (`account.check_interval_minutes`, else `incoming.check_interval_minutes`),
   measured with the injected `Clock`. `run_once()` polls the accounts that are due
   (all of them the first time); `run_once(force=True)` polls every enabled account.
2. One connection per account per poll. UIDs are listed once, then messages are
   fetched in batches of `account.batch_size`; memory holds one batch, not the mailbox.
3. For each message: receipt key = (account name, Message-ID, `content_sha256`: the
   SHA-256 of its identity headers and body, so that copies differing only in trace
   headers match; see `inbound.receipts`). A key the storage already has
   (`is_processed`) is a duplicate: the message is only removed. Otherwise
   `process_email` -> `storage.commit(actions, key)`, which records the key in the
   same transaction as the actions.
4. A message leaves the server (deleted, or moved to `account.move_to`) only after its
   commit succeeded, batch by batch. A crash or a dropped connection between commit
   and removal leaves it on the server; the next poll sees its key and just removes it.
   Nothing is lost and nothing becomes a second ticket.
5. Poison: when processing raises or returns a result with `error` set (an internal
   failure of the library), or the commit raises, the message is recorded with
   `storage.record_poison` (keyed by its receipt key) and, on IMAP with a
   `quarantine_folder`, moved there (the folder is created if missing). Otherwise
   (POP3, or no quarantine folder) it stays on the server and later polls skip it
   while its record is pending. `Poller.replay(record)` processes it again; once that
   commits, the message still on the server is a duplicate and is removed. A poison
   message never blocks the rest of the mailbox.
6. Health: a poll that fails with a `MailboxError` (cannot connect, login refused,
   connection lost mid-poll) adds one to the account's `consecutive_failures`; at
   `incoming.max_consecutive_failures` the account is disabled
   (`MailboxState(disabled=True)`) and a `MailboxAccountDisabled` event is emitted. A
   poll that completes resets the count. A disabled state in storage is honoured
   (the account is skipped) until `enable_account(name)`.
7. After a commit, the result's events are bound to the committed ticket id
   (`bind_ticket`) and handed to `on_event`; a failing `on_event` is logged and never
   undoes or repeats the commit.
8. Errors from the storage itself (not the mail), and unexpected errors (bugs), end
   that account's poll without touching its health record: the mail stays on the
   server for the next poll, and the other accounts are polled as usual.
9. Size: a message longer than `incoming.max_message_bytes` (or the account's own
   `max_message_bytes`) is not processed. It is kept like held mail (recorded like
   poison with the error `too large: ...`, quarantined on IMAP, left and skipped on
   POP3) and counted in the report's `too_large`; in the same transaction a
   `MessageTooLarge` event goes to the outbox, so that its sender is told (not a
   machine, nor our own address, nor mail that asks for no automatic answer: see
   `inbound.oversized`; the planner's protection and flood limits apply too).
   `replay` processes such a record whatever its size: an admin's choice.
10. Flood control: every email that would become a ticket or a comment is counted
   under `from:<sender>` and `domain:<sender's domain>` (`NotificationCounts`, in its
   own transaction). One that finds its sender at `incoming.sender_rate_limits`, or its
   domain at `incoming.domain_rate_limits`, over a sliding window, is HELD (kept for
   review like poison, not ticketed, not deleted) and counted too, so a flood stays
   held while it goes on. The first held email of a window records one `InboundFlood`
   event for the admins (counted under `flood:<scope>`), instead of one notification
   per email. `replay` takes a held email in whatever the counts say.
11. Several pollers (threads, processes, machines) on one storage: an account is
    polled by the one holding its lease (`lease_mailbox`, renewed after each batch,
    released at the end; a poller that dies loses it when it expires). When is an
    account due is read from the storage (`MailboxState.last_polled_at`) whenever
    another poller held it, so the pollers share one schedule.
12. Stopping (`stop`, a `threading.Event`): checked before each message. The email
    being processed is finished (committed), what was committed is removed from the
    server, the session is closed and the lease released; the account's report says
    `stopped` and its schedule is left as it was (the next poller polls it at once).
<<<<<<< HEAD

Internal: not part of the public API (docs/architecture.md, "The public surface").
=======
13. Wakes: `wake(name)` (any thread; the worker calls it when IMAP IDLE announces new
    mail) makes that account due now: the next `run_once` polls it whatever its
    interval, taking its lease as any poll does (held elsewhere: that poller's own
    wake or interval covers it). A wake that comes while the account is being polled
    is kept for the next round, since the new mail may have come after the listing.
>>>>>>> idle
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from ..actions import CommitOutcome, StaleCommit
from ..commit import commit
from ..events import Event, InboundFlood, MailboxAccountDisabled
from ..inbound.oversized import max_message_bytes, too_large
from ..inbound.process import process_email
from ..inbound.receipts import receipt_key
from ..inbound.result import InboundResult, Verdict
from ..ports import (
    Bookkeeping,
    Clock,
    DomainReader,
    MailboxError,
    MailboxSession,
    MailboxTransport,
    RandomSource,
    Storage,
    TransientStorageError,
    count_each,
)
from ..records import MailboxState, PoisonRecord, ReceiptKey
from ..settings import MailboxAccount, RateLimit, Settings

__all__ = [
    "AccountReport",
    "MessageReport",
    "MessageStatus",
    "PollReport",
    "Poller",
    "Processor",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class Processor(Protocol):
    """The signature of `process_email` (a host may pass a wrapper to the `Poller`)."""

    def __call__(
        self,
        raw: bytes,
        settings: Settings,
        storage: DomainReader,
        clock: Clock,
        *,
        random: RandomSource | None = None,
    ) -> InboundResult:
        """Turn one raw email into an `InboundResult`."""
        ...


class MessageStatus(StrEnum):
    """What became of one message in a poll."""

    PROCESSED = "processed"
    """Committed (a ticket, a comment, or a discard) and removed from the server."""
    DUPLICATE = "duplicate"
    """Its receipt key was already committed: only removed from the server."""
    FAILED = "failed"
    """Processing or the commit raised: recorded as poison (quarantined on IMAP)."""
    SKIPPED = "skipped"
    """A poison message recorded earlier and still pending: left alone."""
    HELD = "held"
    """Nothing may be done with it, yet it must not be deleted (no sender address, say):
    kept for review like poison (quarantined on IMAP, left and skipped on POP3)."""
    DEFERRED = "deferred"
    """The storage could not commit it for now (a transient error, or the data kept
    changing under it): left on the server and tried again by a later poll."""
    TOO_LARGE = "too_large"
    """Over `incoming.max_message_bytes`: not processed, kept like held mail, and its
    sender told (a `MessageTooLarge` event, in `events`, unless nobody should be)."""


@dataclass(frozen=True)
class MessageReport:
    """One message's fate, handed to the `on_message` callback (not kept in `PollReport`)."""

    account: str
    uid: str
    key: ReceiptKey
    status: MessageStatus
    result: InboundResult | None = None
    outcome: CommitOutcome | None = None
    events: tuple[Event, ...] = ()
    """The result's events, bound to the committed ticket and comment."""
    error: str | None = None


@dataclass(frozen=True)
class AccountReport:
    """What one poll of one account did."""

    account: str
    polled: bool
    """False when the account was not due, is switched off, is disabled, or another
    worker holds its lease."""
    processed: int = 0
    duplicates: int = 0
    failed: int = 0
    """New poison messages."""
    skipped: int = 0
    """Known poison messages left on the server."""
    held: int = 0
    """Messages kept for review (recorded like poison), e.g. without a sender address."""
    too_large: int = 0
    """Messages over `max_message_bytes`, not processed and kept for review like held mail."""
    deferred: int = 0
    """Messages left on the server because the storage could not take them now."""
    removed: int = 0
    """Messages deleted (or moved to `move_to`) after their commit."""
    quarantined: int = 0
    errors: int = 0
    """Mailbox or storage errors that ended the poll early (0 or 1)."""
    error: str | None = None
    disabled: bool = False
    """The account is disabled (now or already before this poll)."""
    leased_elsewhere: bool = False
    """Another worker is polling this account (its lease has not expired)."""
    stopped: bool = False
    """The poll ended early because the poller was asked to stop (`stop` was set)."""


@dataclass(frozen=True)
class PollReport:
    """What `run_once` did: one `AccountReport` per configured account, and the events."""

    accounts: tuple[AccountReport, ...] = ()
    events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def processed(self) -> int:
        """Messages committed, over all accounts."""
        return sum(a.processed for a in self.accounts)

    @property
    def duplicates(self) -> int:
        """Duplicates removed, over all accounts."""
        return sum(a.duplicates for a in self.accounts)

    @property
    def failed(self) -> int:
        """New poison messages, over all accounts."""
        return sum(a.failed for a in self.accounts)

    @property
    def held(self) -> int:
        """Messages kept for review, over all accounts."""
        return sum(a.held for a in self.accounts)

    @property
    def too_large(self) -> int:
        """Messages over the size limit, kept for review, over all accounts."""
        return sum(a.too_large for a in self.accounts)

    @property
    def deferred(self) -> int:
        """Messages waiting for the storage, over all accounts."""
        return sum(a.deferred for a in self.accounts)

    @property
    def errors(self) -> int:
        """Accounts whose poll ended with an error."""
        return sum(a.errors for a in self.accounts)

    @property
    def polled(self) -> int:
        """Accounts polled (wholly or until a stop)."""
        return sum(1 for a in self.accounts if a.polled)

    @property
    def leased_elsewhere(self) -> int:
        """Accounts skipped because another worker held them."""
        return sum(1 for a in self.accounts if a.leased_elsewhere)

    @property
    def removed(self) -> int:
        """Messages removed from the servers after their commit, over all accounts."""
        return sum(a.removed for a in self.accounts)

    @property
    def stopped(self) -> bool:
        """Whether the poll was cut short by a stop."""
        return any(a.stopped for a in self.accounts)

    def account(self, name: str) -> AccountReport:
        """The report of the account called `name` (KeyError if it is not configured)."""
        for report in self.accounts:
            if report.account == name:
                return report
        raise KeyError(name)


class _StorageFailure(Exception):
    """The host's storage failed (not the mail): end this account's poll."""


class _Stopped(Exception):
    """The poller was asked to stop: what was committed has been removed; end the poll."""


@dataclass
class _Tally:
    processed: int = 0
    duplicates: int = 0
    failed: int = 0
    skipped: int = 0
    held: int = 0
    too_large: int = 0
    deferred: int = 0
    removed: int = 0
    quarantined: int = 0
    events: list[Event] = field(default_factory=list)


def _stuck(books: Bookkeeping, account: str) -> dict[str, ReceiptKey]:
    """Poison of this account still pending (uid -> key)."""
    return {
        r.uid: r.key
        for r in books.poison_records()
        if r.account == account and not books.is_processed(r.key)
    }


def is_transient(exc: BaseException) -> bool:
    """Whether a storage error is worth retrying later (the database is away or busy)."""
    return isinstance(exc, TransientStorageError | ConnectionError | TimeoutError)


STALE_RETRIES = 3
"""How often an email is processed again when its commit finds the data changed."""
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)


class Poller:
    """Polls the configured mailbox accounts and commits what their mail becomes.

    Each message is processed and committed in one storage transaction
    (`helpdesk_mail.commit`): what it became, its receipt key and its events, which
    land in the event outbox for a `Deliverer`. `on_event` additionally receives
    every event after its commit (and `MailboxAccountDisabled`), `on_message` a
    `MessageReport` per message; `processor` replaces `process_email` (e.g. a host's
    wrapper around it). `worker` names this poller in mailbox leases: several
    pollers (processes, machines) on one database never poll an account at once;
    `lease` is how long a lease lasts without renewal (a poller that dies holds its
    accounts that long). `stop`, when set, ends the poll after the current email
    (rule 10). `interval` replaces the settings' check intervals (tests, benchmarks).
    """

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        transport: MailboxTransport,
        clock: Clock,
        random: RandomSource | None = None,
        on_event: Callable[[Event], object] | None = None,
        *,
        processor: Processor | None = None,
        on_message: Callable[[MessageReport], object] | None = None,
        worker: str = "poller",
        lease: timedelta = timedelta(minutes=10),
        stop: threading.Event | None = None,
        interval: timedelta | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.transport = transport
        self.clock = clock
        self.random = random
        self.on_event = on_event
        self.on_message = on_message
        self.worker = worker
        self.lease = lease
        self.stop = stop
        self._interval = interval
        self._processor: Processor = processor if processor is not None else process_email
        self._next_due: dict[str, datetime] = {}
        self._retry: dict[str, tuple[int, datetime]] = {}
        self._lock = threading.Lock()
        self._woken: set[str] = set()
        self._woken_lock = threading.Lock()

    # --- scheduling ---

    @property
    def accounts(self) -> tuple[MailboxAccount, ...]:
        """The configured accounts that are switched on (`enabled`)."""
        return tuple(a for a in self.settings.incoming.accounts if a.enabled)

    def interval(self, account: MailboxAccount) -> timedelta:
        """How often `account` is polled."""
        if self._interval is not None:
            return self._interval
        minutes = account.check_interval_minutes or self.settings.incoming.check_interval_minutes
        return timedelta(minutes=minutes)

    def is_due(self, account: MailboxAccount) -> bool:
        """Whether `account` should be polled now (never polled, its interval has passed,
        or it was woken)."""
        if self.is_woken(account.name):
            return True
        due = self._due_at(account)
        return due is None or self.clock.now() >= due

    def wake(self, name: str) -> None:
        """Make account `name` due now: new mail was announced (rule 13). Thread-safe."""
        with self._woken_lock:
            self._woken.add(name)

    def is_woken(self, name: str) -> bool:
        """Whether account `name` was woken and not polled since."""
        with self._woken_lock:
            return name in self._woken

    def _take_wake(self, name: str) -> bool:
        with self._woken_lock:
            if name in self._woken:
                self._woken.discard(name)
                return True
            return False

    def _due_at(self, account: MailboxAccount) -> datetime | None:
        """When `account` is next due: from this poller's schedule, else from the stored state
        (so that a restarted host keeps each account's interval); None means now."""
        if account.name not in self._next_due:
            try:
                last = self._read(lambda books: books.mailbox_state(account.name)).last_polled_at
            except Exception:  # storage trouble is reported by the poll itself
                return None
            if last is None:
                return None
            self._next_due[account.name] = last + self.interval(account)
        return self._next_due[account.name]

    def seconds_until_due(self) -> float:
        """Seconds until the next account is due (0 if one is due now)."""
        if any(self.is_woken(a.name) for a in self.accounts):
            return 0.0
        now = self.clock.now()
        dues = [self._due_at(a) for a in self.accounts]
        waits = [(due - now).total_seconds() if due is not None else 0.0 for due in dues]
        if not waits:
            return self.settings.incoming.check_interval_minutes * 60.0
        return max(0.0, min(waits))

    def _read(self, read: Callable[[Bookkeeping], _T]) -> _T:
        with self.storage.transaction() as unit:
            return read(unit.books)

    # --- polling ---

    def run_once(self, *, force: bool = False) -> PollReport:
        """Poll every enabled account that is due (every one with `force`)."""
        with self._lock:
            reports: list[AccountReport] = []
            events: list[Event] = []
            for account in self.settings.incoming.accounts:
                woken = self._take_wake(account.name)
                if not account.enabled or not (force or woken or self.is_due(account)):
                    reports.append(AccountReport(account=account.name, polled=False))
                    continue
                if self._stopping():
                    if woken:  # left for whoever polls next
                        self.wake(account.name)
                    reports.append(AccountReport(account=account.name, polled=False))
                    continue
                report, account_events = self._poll(account, only_if_due=not (force or woken))
                reports.append(report)
                events.extend(account_events)
            return PollReport(accounts=tuple(reports), events=tuple(events))

    def run_forever(
        self,
        stop: threading.Event | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        """Poll due accounts until `stop` is set, sleeping until the next one is due.

        `sleep` defaults to `stop.wait` (so setting `stop` wakes the loop at once) or
        `time.sleep` without a `stop`; tests pass one that advances a `ManualClock`.
        Unexpected errors are logged and the loop goes on.
        """
        if sleep is None:
            sleep = stop.wait if stop is not None else time.sleep
        while stop is None or not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("mailbox poll failed")
            if stop is not None and stop.is_set():
                break
            sleep(max(1.0, self.seconds_until_due()))

    def enable_account(self, name: str) -> None:
        """Re-enable a disabled account and reset its failure count; it is due at once."""
        with self.storage.transaction() as unit:
            unit.books.save_mailbox_state(name, MailboxState())
        self._next_due.pop(name, None)

    def pending_poison(self) -> list[PoisonRecord]:
        """Poison records not yet resolved (their receipt key has not been committed since)."""
        with self.storage.transaction() as unit:
            books = unit.books
            return [r for r in books.poison_records() if not books.is_processed(r.key)]

    def replay(self, record: PoisonRecord) -> MessageReport:
        """Process a poison message again (e.g. after a fix); it is not recorded a second time.

        Once it commits, the copy still on the server (POP3) is removed by the next poll
        as a duplicate; an IMAP copy stays in the quarantine folder for the admin.
        """
        report = self._process(record.account, record.uid, record.raw, record.key, flood=False)
        self._deliver(report)
        return report

    # --- one account ---

    def poll_account(self, account: MailboxAccount) -> tuple[AccountReport, list[Event]]:
        """Poll one account now (if this worker can lease it): a unit a task queue may call.

        Idempotent: run it twice, or from two workers at once, and every email still
        becomes one ticket, comment or discard (the lease keeps the second one out; the
        receipt keys make a second poll find duplicates)."""
        return self._poll(account, only_if_due=False)

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _poll(
        self, account: MailboxAccount, *, only_if_due: bool
    ) -> tuple[AccountReport, list[Event]]:
        name = account.name
        now = self.clock.now()
        try:
            with self.storage.transaction() as unit:
                if not unit.books.lease_mailbox(name, self.worker, now, now + self.lease):
                    # its schedule is read again from the storage after the other poll
                    self._next_due.pop(name, None)
                    return AccountReport(name, polled=False, leased_elsewhere=True), []
                state = unit.books.mailbox_state(name)
                last = state.last_polled_at
                if only_if_due and last is not None and now < last + self.interval(account):
                    # another poller polled it since this one last looked
                    self._next_due[name] = last + self.interval(account)
                    unit.books.release_mailbox(name, self.worker)
                    return AccountReport(name, polled=False), []
                stuck = _stuck(unit.books, name)
        except Exception as exc:
            log.exception("%s: cannot read the mailbox state", name)
            return AccountReport(name, polled=False, errors=1, error=f"storage: {exc}"), []
        released = [False]
        try:
            return self._poll_leased(account, state, stuck, released)
        finally:
            if not released[0]:
                try:
                    with self.storage.transaction() as unit:
                        unit.books.release_mailbox(name, self.worker)
                except Exception:
                    log.exception("%s: cannot release the mailbox lease", name)

    def _poll_leased(
        self,
        account: MailboxAccount,
        state: MailboxState,
        stuck: dict[str, ReceiptKey],
        released: list[bool],
    ) -> tuple[AccountReport, list[Event]]:
        """Poll an account this poller holds; `released[0]` becomes True when its lease was
        released with the new state (else the caller releases it)."""
        name = account.name
        if state.disabled:
            return AccountReport(name, polled=False, disabled=True, error=state.last_error), []
        started = self.clock.now()
        self._next_due[name] = started + self.interval(account)
        tally = _Tally()
        try:
            self._drain(account, tally, stuck)
        except (MailboxError, OSError) as exc:
            log.warning("%s: poll failed: %s", name, exc)
            disabled, event = self._record_failure(account, state, exc, started)
            if event is not None:
                tally.events.append(event)
            return self._report(account, tally, error=str(exc), disabled=disabled), tally.events
        except _StorageFailure as exc:
            return self._report(account, tally, error=str(exc)), tally.events
        except _Stopped:
            # not a complete poll: the schedule and the health record stay as they were
            self._next_due.pop(name, None)
            return self._report(account, tally, stopped=True), tally.events
        except Exception as exc:  # a bug somewhere: logged loudly, never fatal to the others
            log.exception("%s: unexpected error while polling", name)
            error = f"unexpected: {type(exc).__name__}: {exc}"
            return self._report(account, tally, error=error), tally.events
        # A success resets the failure count and records when this poll started; the lease
        # goes with it.
        try:
            with self.storage.transaction() as unit:
                unit.books.save_mailbox_state(name, MailboxState(last_polled_at=started))
                unit.books.release_mailbox(name, self.worker)
            released[0] = True
        except Exception as exc:
            log.exception("%s: cannot save the mailbox state", name)
            return self._report(account, tally, error=f"storage: {exc}"), tally.events
        return self._report(account, tally), tally.events

    def _report(
        self,
        account: MailboxAccount,
        t: _Tally,
        error: str | None = None,
        disabled: bool = False,
        stopped: bool = False,
    ) -> AccountReport:
        report = AccountReport(
            account=account.name,
            polled=True,
            processed=t.processed,
            duplicates=t.duplicates,
            failed=t.failed,
            skipped=t.skipped,
            held=t.held,
            too_large=t.too_large,
            deferred=t.deferred,
            removed=t.removed,
            quarantined=t.quarantined,
            errors=1 if error else 0,
            error=error,
            disabled=disabled,
            stopped=stopped,
        )
        log.info(
            "%s: polled%s: %d processed, %d duplicates, %d failed, %d skipped, %d held, "
            "%d too large, %d deferred, %d removed, %d quarantined%s",
            account.name,
            " (stopped)" if stopped else "",
            t.processed,
            t.duplicates,
            t.failed,
            t.skipped,
            t.held,
            t.too_large,
            t.deferred,
            t.removed,
            t.quarantined,
            f"; error: {error}" if error else "",
        )
        return report

    def _record_failure(
        self, account: MailboxAccount, state: MailboxState, exc: BaseException, started: datetime
    ) -> tuple[bool, Event | None]:
        limit = self.settings.incoming.max_consecutive_failures
        failures = state.consecutive_failures + 1
        disabled = failures >= limit
        event: Event | None = None
        if disabled:
            event = MailboxAccountDisabled(
                account=account.name, failures=failures, last_error=str(exc)
            )
        try:
            with self.storage.transaction() as unit:
                unit.books.save_mailbox_state(
                    account.name,
                    MailboxState(
                        consecutive_failures=failures,
                        disabled=disabled,
                        last_error=str(exc),
                        last_polled_at=started,
                    ),
                )
                if event is not None:  # its mail to the admins goes with the state change
                    unit.books.add_events((event,), self.clock.now())
        except Exception:
            log.exception("%s: cannot save the mailbox state", account.name)
            return False, None
        if event is None:
            return False, None
        log.error("%s: disabled after %d failures in a row: %s", account.name, failures, exc)
        self._emit(event)
        return True, event

    def _drain(self, account: MailboxAccount, tally: _Tally, stuck: dict[str, ReceiptKey]) -> None:
        stuck_keys = {key.as_string() for key in stuck.values()}
        with self.transport.open(account) as session:
            quarantine = account.quarantine_folder if session.can_move else None
            uids = list(session.list_uids())
            if quarantine is None and session.stable_ids:
                # known poison stays in the inbox: skipped by its id, without fetching it
                tally.skipped += sum(1 for u in uids if u in stuck)
                uids = [u for u in uids if u not in stuck]
            for start in range(0, len(uids), account.batch_size):
                batch = uids[start : start + account.batch_size]
                if self._stopping():
                    raise _Stopped
                stopped = self._batch(account, session, batch, quarantine, stuck_keys, tally)
                if stopped:
                    raise _Stopped
                if start + account.batch_size < len(uids):  # the last one is released next
                    self._renew_lease(account)

    def _renew_lease(self, account: MailboxAccount) -> None:
        now = self.clock.now()
        try:
            with self.storage.transaction() as unit:
                held = unit.books.lease_mailbox(account.name, self.worker, now, now + self.lease)
        except Exception as exc:
            raise _StorageFailure(f"storage: {exc}") from exc
        if not held:  # our lease ran out and another worker took the account over
            raise _StorageFailure("storage: the mailbox lease was lost to another worker")

    def _batch(
        self,
        account: MailboxAccount,
        session: MailboxSession,
        batch: Sequence[str],
        quarantine: str | None,
        stuck_keys: set[str],
        tally: _Tally,
    ) -> bool:
        """Process one batch; True when it stopped early because `stop` was set."""
        done: list[str] = []
        bad: list[str] = []
        stopped: BaseException | None = None
        asked_to_stop = False
        limit = max_message_bytes(self.settings, account)
        try:
            for uid, raw in session.fetch(batch):
                if self._stopping():
                    asked_to_stop = True
                    break
                key = receipt_key(account.name, raw)
                if key.as_string() in stuck_keys:
                    tally.skipped += 1
                    if quarantine:  # its earlier move failed: try again
                        bad.append(uid)
                    self._deliver(MessageReport(account.name, uid, key, MessageStatus.SKIPPED))
                    continue
                if self._waiting(key):
                    tally.deferred += 1
                    continue
                if len(raw) > limit:
                    report = self._too_large(account, uid, raw, key, limit)
                else:
                    report = self._process(account.name, uid, raw, key)
                if report.status is MessageStatus.TOO_LARGE:
                    stuck_keys.add(key.as_string())
                    tally.too_large += 1
                    tally.events.extend(report.events)
                    if quarantine:
                        bad.append(uid)
                elif report.status in (MessageStatus.FAILED, MessageStatus.HELD):
                    self._record_poison(account, uid, raw, key, report.error or "")
                    stuck_keys.add(key.as_string())
                    if report.status is MessageStatus.HELD:
                        tally.held += 1
                    else:
                        tally.failed += 1
                    if quarantine:
                        bad.append(uid)
                elif report.status is MessageStatus.DEFERRED:
                    tally.deferred += 1
                    self._deliver(report)
                    raise _StorageFailure(report.error or "storage: deferred")
                else:
                    done.append(uid)
                    if report.status is MessageStatus.DUPLICATE:
                        tally.duplicates += 1
                    else:
                        tally.processed += 1
                        tally.events.extend(report.events)
                self._deliver(report)
        except BaseException as exc:
            stopped = exc
        # What is committed leaves the server even when the batch stopped half-way (a
        # storage failure). After a mailbox error this fails too, which is fine: the
        # next poll finds the receipt keys and removes the messages then.
        if done:
            try:
                self._remove(account, session, done)
                tally.removed += len(done)
            except (MailboxError, OSError):
                if stopped is None:
                    raise
        if stopped is not None:
            raise stopped
        if bad and quarantine:
            try:
                session.move(bad, quarantine)
                tally.quarantined += len(bad)
            except MailboxError as exc:
                # left on the server; it is recorded, so later polls skip it
                log.warning("%s: cannot quarantine to %r: %s", account.name, quarantine, exc)
        return asked_to_stop

    def _waiting(self, key: ReceiptKey) -> bool:
        """Whether a message deferred by a transient storage error waits for its next try."""
        retry = self._retry.get(key.as_string())
        return retry is not None and self.clock.now() < retry[1]

    def _defer(self, key: ReceiptKey) -> int:
        """Schedule the next try of a deferred message (exponential backoff); its attempts."""
        attempts = self._retry.get(key.as_string(), (0, self.clock.now()))[0] + 1
        wait = min(RETRY_BASE * 2 ** (attempts - 1), RETRY_MAX)
        self._retry[key.as_string()] = (attempts, self.clock.now() + wait)
        return attempts

    @property
    def deferred(self) -> int:
        """Messages this poller has left on the server for a transient storage error."""
        return len(self._retry)

    def _remove(self, account: MailboxAccount, session: MailboxSession, uids: list[str]) -> None:
        if account.move_to and session.can_move:
            session.move(uids, account.move_to)
        else:
            session.delete(uids)

    def _record_poison(
        self, account: MailboxAccount, uid: str, raw: bytes, key: ReceiptKey, error: str
    ) -> None:
        record = PoisonRecord(
            key=key, account=account.name, uid=uid, raw=raw, error=error, at=self.clock.now()
        )
        try:
            with self.storage.transaction() as unit:
                unit.books.record_poison(record)
        except Exception as exc:
            log.exception("%s: cannot record a poison message", account.name)
            raise _StorageFailure(f"storage: {exc}") from exc
        log.warning("%s: message %s failed and was set aside: %s", account.name, uid, error)

    # --- one message ---

    def _too_large(
        self, account: MailboxAccount, uid: str, raw: bytes, key: ReceiptKey, limit: int
    ) -> MessageReport:
        """Keep a message over the size limit for review, and tell its sender, at once."""
        error = f"too large: {len(raw)} bytes, over the limit of {limit}"
        try:
            event = too_large(raw, self.settings, account, limit)
        except Exception:  # a bug in reading the header: keep the mail, tell nobody
            log.exception("%s: cannot read the header of message %s", account.name, uid)
            event = None
        events = (event,) if event is not None else ()
        record = PoisonRecord(
            key=key, account=account.name, uid=uid, raw=raw, error=error, at=self.clock.now()
        )
        try:
            with self.storage.transaction() as unit:
                if unit.books.is_processed(key):  # replayed earlier: a duplicate now
                    return MessageReport(account.name, uid, key, MessageStatus.DUPLICATE)
                unit.books.record_poison(record)
                if events:
                    unit.books.add_events(events, self.clock.now())
        except Exception as exc:
            log.exception("%s: cannot record a message that is too large", account.name)
            raise _StorageFailure(f"storage: {exc}") from exc
        log.warning(
            "%s: message %s was set aside: %s; its sender %s",
            account.name,
            uid,
            error,
            f"is told ({event.sender})" if event is not None else "is not told",
        )
        status = MessageStatus.TOO_LARGE
        return MessageReport(account.name, uid, key, status, events=events, error=error)

    def _process(
        self, account: str, uid: str, raw: bytes, key: ReceiptKey, *, flood: bool = True
    ) -> MessageReport:
        """Process and commit one message in one transaction (again if the data changed);
        with `flood`, mail over the inbound flood limits is held (rule 9)."""
        error = ""
        for _ in range(STALE_RETRIES):
            result: InboundResult | None = None
            try:
                with self.storage.transaction() as unit:
                    if unit.books.is_processed(key):
                        return MessageReport(account, uid, key, MessageStatus.DUPLICATE)
                    result = self._processor(
                        raw, self.settings, unit.domain, self.clock, random=self.random
                    )
                    if result.error is not None:  # the library failed inside: keep the mail
                        error = f"processing: {result.error}"
                        status = MessageStatus.FAILED
                        return MessageReport(account, uid, key, status, result, error=error)
                    if result.hold is not None:  # nothing to do with it, nor may it be lost
                        error = f"held: {result.hold}"
                        status = MessageStatus.HELD
                        return MessageReport(account, uid, key, status, result, error=error)
                    over = self._flood(unit.books, account, result) if flood else None
                    if over is not None:  # kept for review; the counts are committed
                        status = MessageStatus.HELD
                        return MessageReport(account, uid, key, status, result, error=over)
                    outcome = commit(
                        unit, result.actions, key=key, events=result.events, at=self.clock.now()
                    )
            except StaleCommit as exc:
                log.info("%s: message %s: data changed while processing: %s", account, uid, exc)
                error = f"commit: stale: {exc}"
                continue
            except Exception as exc:
                log.debug("%s", "".join(traceback.format_exception(exc)))
                if is_transient(exc):
                    attempts = self._defer(key)
                    error = f"storage: {type(exc).__name__}: {exc} (attempt {attempts})"
                    status = MessageStatus.DEFERRED
                    return MessageReport(account, uid, key, status, result, error=error)
                stage = "processing" if result is None else "commit"
                error = f"{stage}: {type(exc).__name__}: {exc}"
                return MessageReport(account, uid, key, MessageStatus.FAILED, result, error=error)
            self._retry.pop(key.as_string(), None)
            if outcome.duplicate:
                return MessageReport(account, uid, key, MessageStatus.DUPLICATE, result, outcome)
            status = MessageStatus.PROCESSED
            return MessageReport(account, uid, key, status, result, outcome, outcome.events)
        self._defer(key)
        return MessageReport(account, uid, key, MessageStatus.DEFERRED, error=error)

    def _flood(self, books: Bookkeeping, account: str, result: InboundResult) -> str | None:
        """Count `result`'s sender and domain; why it is held when one is over its flood
        limits (recording the admins' one summary of the window), else None (rule 9)."""
        sender = result.email.sender.email
        if result.verdict is Verdict.DISCARD or "@" not in sender:
            return None
        incoming = self.settings.incoming
        now = self.clock.now()
        scopes = (
            (f"from:{sender}", incoming.sender_rate_limits),
            (f"domain:{sender.rpartition('@')[2]}", incoming.domain_rate_limits),
        )
        # the widest window of each scope, read together: when even it holds fewer than
        # the smallest count, no window of that scope can be over
        widest = [
            (scope, now - timedelta(minutes=max(limit.minutes for limit in limits)))
            for scope, limits in scopes
            if limits
        ]
        totals = dict(zip((scope for scope, _ in widest), count_each(books, widest), strict=True))
        hit: tuple[str, RateLimit] | None = None
        for scope, limits in scopes:
            limit = _over(books, scope, limits, now, totals.get(scope, 0))
            if limit is not None:
                hit = (scope, limit)
                break
        books.record_notification([scope for scope, _ in scopes], now)
        if hit is None:
            return None
        scope, limit = hit
        window = max(x.minutes for x in dict(scopes)[scope])
        notice = f"flood:{scope}"
        if books.notifications_since(notice, now - timedelta(minutes=window)) == 0:
            books.record_notification([notice], now)
            books.add_events((InboundFlood(scope, limit.count, limit.minutes, account),), now)
            log.warning(
                "%s: %s over %d emails in %d minutes: its mail is held for review",
                account,
                scope,
                limit.count,
                limit.minutes,
            )
        return f"held: flood: {scope} over {limit.count} emails in {limit.minutes} minutes"

    def _deliver(self, report: MessageReport) -> None:
        for event in report.events:
            self._emit(event)
        if self.on_message is not None:
            try:
                self.on_message(report)
            except Exception:
                log.exception("on_message callback failed")

    def _emit(self, event: Event) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("on_event callback failed for %r", event)


def _over(
    books: Bookkeeping, scope: str, limits: Sequence[RateLimit], now: datetime, widest: int
) -> RateLimit | None:
    """The first of `limits` that `scope` has already reached at `now`, if any, given
    `widest`, its count in the widest of the windows (read first, for all scopes at once).

    When even the widest window holds fewer than the smallest count, no window can be
    over (no further storage call)."""
    if not limits or widest < min(limit.count for limit in limits):
        return None
    for limit in limits:
        if books.notifications_since(scope, now - timedelta(minutes=limit.minutes)) >= limit.count:
            return limit
    return None
