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
from typing import Protocol

from ..actions import CommitOutcome
from ..events import Event, MailboxAccountDisabled, bind_ticket
from ..inbound.process import process_email
from ..inbound.receipts import receipt_key
from ..inbound.result import InboundResult
from ..ports import (
    Clock,
    MailboxError,
    MailboxSession,
    MailboxState,
    MailboxTransport,
    PoisonRecord,
    RandomSource,
    ReceiptKey,
    Storage,
    StorageReader,
)
from ..settings import MailboxAccount, Settings

__all__ = [
    "AccountReport",
    "MessageReport",
    "MessageStatus",
    "PollReport",
    "Poller",
    "Processor",
]

log = logging.getLogger(__name__)


class Processor(Protocol):
    """The signature of `process_email` (a host may pass a wrapper to the `Poller`)."""

    def __call__(
        self,
        raw: bytes,
        settings: Settings,
        storage: StorageReader,
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
    """The result's events, bound to the committed ticket."""
    error: str | None = None


@dataclass(frozen=True)
class AccountReport:
    """What one poll of one account did."""

    account: str
    polled: bool
    """False when the account was not due, is switched off, or is disabled."""
    processed: int = 0
    duplicates: int = 0
    failed: int = 0
    """New poison messages."""
    skipped: int = 0
    """Known poison messages left on the server."""
    removed: int = 0
    """Messages deleted (or moved to `move_to`) after their commit."""
    quarantined: int = 0
    errors: int = 0
    """Mailbox or storage errors that ended the poll early (0 or 1)."""
    error: str | None = None
    disabled: bool = False
    """The account is disabled (now or already before this poll)."""


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
    def errors(self) -> int:
        """Accounts whose poll ended with an error."""
        return sum(a.errors for a in self.accounts)

    def account(self, name: str) -> AccountReport:
        """The report of the account called `name` (KeyError if it is not configured)."""
        for report in self.accounts:
            if report.account == name:
                return report
        raise KeyError(name)


class _StorageFailure(Exception):
    """The host's storage failed (not the mail): end this account's poll."""


@dataclass
class _Tally:
    processed: int = 0
    duplicates: int = 0
    failed: int = 0
    skipped: int = 0
    removed: int = 0
    quarantined: int = 0
    events: list[Event] = field(default_factory=list)


class Poller:
    """Polls the configured mailbox accounts and commits what their mail becomes.

    `on_event` receives every event (ticket events after their commit, and
    `MailboxAccountDisabled`); `on_message` receives a `MessageReport` per message;
    `processor` replaces `process_email` (e.g. a host's wrapper around it).
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
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.transport = transport
        self.clock = clock
        self.random = random
        self.on_event = on_event
        self.on_message = on_message
        self._processor: Processor = processor if processor is not None else process_email
        self._next_due: dict[str, datetime] = {}
        self._lock = threading.Lock()

    # --- scheduling ---

    @property
    def accounts(self) -> tuple[MailboxAccount, ...]:
        """The configured accounts that are switched on (`enabled`)."""
        return tuple(a for a in self.settings.incoming.accounts if a.enabled)

    def interval(self, account: MailboxAccount) -> timedelta:
        """How often `account` is polled."""
        minutes = account.check_interval_minutes or self.settings.incoming.check_interval_minutes
        return timedelta(minutes=minutes)

    def is_due(self, account: MailboxAccount) -> bool:
        """Whether `account` should be polled now (never polled, or its interval has passed)."""
        due = self._due_at(account)
        return due is None or self.clock.now() >= due

    def _due_at(self, account: MailboxAccount) -> datetime | None:
        """When `account` is next due: from this poller's schedule, else from the stored state
        (so that a restarted host keeps each account's interval); None means now."""
        if account.name not in self._next_due:
            try:
                last = self.storage.mailbox_state(account.name).last_polled_at
            except Exception:  # storage trouble is reported by the poll itself
                return None
            if last is None:
                return None
            self._next_due[account.name] = last + self.interval(account)
        return self._next_due[account.name]

    def seconds_until_due(self) -> float:
        """Seconds until the next account is due (0 if one is due now)."""
        now = self.clock.now()
        dues = [self._due_at(a) for a in self.accounts]
        waits = [(due - now).total_seconds() if due is not None else 0.0 for due in dues]
        if not waits:
            return self.settings.incoming.check_interval_minutes * 60.0
        return max(0.0, min(waits))

    # --- polling ---

    def run_once(self, *, force: bool = False) -> PollReport:
        """Poll every enabled account that is due (every one with `force`)."""
        with self._lock:
            reports: list[AccountReport] = []
            events: list[Event] = []
            for account in self.settings.incoming.accounts:
                if not account.enabled or not (force or self.is_due(account)):
                    reports.append(AccountReport(account=account.name, polled=False))
                    continue
                report, account_events = self._poll_account(account)
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
        self.storage.save_mailbox_state(name, MailboxState())
        self._next_due.pop(name, None)

    def pending_poison(self) -> list[PoisonRecord]:
        """Poison records not yet resolved (their receipt key has not been committed since)."""
        return [r for r in self.storage.poison_records() if not self.storage.is_processed(r.key)]

    def replay(self, record: PoisonRecord) -> MessageReport:
        """Process a poison message again (e.g. after a fix); it is not recorded a second time.

        Once it commits, the copy still on the server (POP3) is removed by the next poll
        as a duplicate; an IMAP copy stays in the quarantine folder for the admin.
        """
        if self.storage.is_processed(record.key):
            report = MessageReport(record.account, record.uid, record.key, MessageStatus.DUPLICATE)
        else:
            report = self._process(record.account, record.uid, record.raw, record.key)
        self._deliver(report)
        return report

    # --- one account ---

    def _poll_account(self, account: MailboxAccount) -> tuple[AccountReport, list[Event]]:
        name = account.name
        try:
            state = self.storage.mailbox_state(name)
        except Exception as exc:
            log.exception("%s: cannot read the mailbox state", name)
            return AccountReport(name, polled=False, errors=1, error=f"storage: {exc}"), []
        if state.disabled:
            return AccountReport(name, polled=False, disabled=True, error=state.last_error), []
        started = self.clock.now()
        self._next_due[name] = started + self.interval(account)
        tally = _Tally()
        try:
            self._drain(account, tally)
        except (MailboxError, OSError) as exc:
            log.warning("%s: poll failed: %s", name, exc)
            disabled, event = self._record_failure(account, state, exc, started)
            if event is not None:
                tally.events.append(event)
            return self._report(account, tally, error=str(exc), disabled=disabled), tally.events
        except _StorageFailure as exc:
            return self._report(account, tally, error=str(exc)), tally.events
        except Exception as exc:  # a bug somewhere: logged loudly, never fatal to the others
            log.exception("%s: unexpected error while polling", name)
            error = f"unexpected: {type(exc).__name__}: {exc}"
            return self._report(account, tally, error=error), tally.events
        # A success resets the failure count and records when this poll started.
        try:
            self.storage.save_mailbox_state(name, MailboxState(last_polled_at=started))
        except Exception as exc:
            log.exception("%s: cannot save the mailbox state", name)
            return self._report(account, tally, error=f"storage: {exc}"), tally.events
        return self._report(account, tally), tally.events

    def _report(
        self, account: MailboxAccount, t: _Tally, error: str | None = None, disabled: bool = False
    ) -> AccountReport:
        return AccountReport(
            account=account.name,
            polled=True,
            processed=t.processed,
            duplicates=t.duplicates,
            failed=t.failed,
            skipped=t.skipped,
            removed=t.removed,
            quarantined=t.quarantined,
            errors=1 if error else 0,
            error=error,
            disabled=disabled,
        )

    def _record_failure(
        self, account: MailboxAccount, state: MailboxState, exc: BaseException, started: datetime
    ) -> tuple[bool, Event | None]:
        limit = self.settings.incoming.max_consecutive_failures
        failures = state.consecutive_failures + 1
        disabled = failures >= limit
        try:
            self.storage.save_mailbox_state(
                account.name,
                MailboxState(
                    consecutive_failures=failures,
                    disabled=disabled,
                    last_error=str(exc),
                    last_polled_at=started,
                ),
            )
        except Exception:
            log.exception("%s: cannot save the mailbox state", account.name)
            return False, None
        if not disabled:
            return False, None
        log.error("%s: disabled after %d failures in a row: %s", account.name, failures, exc)
        event = MailboxAccountDisabled(account=account.name, failures=failures, last_error=str(exc))
        self._emit(event)
        return True, event

    def _drain(self, account: MailboxAccount, tally: _Tally) -> None:
        stuck = self._stuck(account)
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
                self._batch(account, session, batch, quarantine, stuck_keys, tally)

    def _stuck(self, account: MailboxAccount) -> dict[str, ReceiptKey]:
        """Poison of this account still pending (uid -> key)."""
        try:
            return {
                r.uid: r.key
                for r in self.storage.poison_records()
                if r.account == account.name and not self.storage.is_processed(r.key)
            }
        except Exception as exc:
            log.exception("%s: cannot read the poison records", account.name)
            raise _StorageFailure(f"storage: {exc}") from exc

    def _batch(
        self,
        account: MailboxAccount,
        session: MailboxSession,
        batch: Sequence[str],
        quarantine: str | None,
        stuck_keys: set[str],
        tally: _Tally,
    ) -> None:
        done: list[str] = []
        bad: list[str] = []
        stopped: BaseException | None = None
        try:
            for uid, raw in session.fetch(batch):
                key = receipt_key(account.name, raw)
                try:
                    seen = self.storage.is_processed(key)
                except Exception as exc:
                    log.exception("%s: is_processed failed", account.name)
                    raise _StorageFailure(f"storage: {exc}") from exc
                if seen:
                    tally.duplicates += 1
                    done.append(uid)
                    self._deliver(MessageReport(account.name, uid, key, MessageStatus.DUPLICATE))
                    continue
                if key.as_string() in stuck_keys:
                    tally.skipped += 1
                    if quarantine:  # its earlier move failed: try again
                        bad.append(uid)
                    self._deliver(MessageReport(account.name, uid, key, MessageStatus.SKIPPED))
                    continue
                report = self._process(account.name, uid, raw, key)
                if report.status is MessageStatus.FAILED:
                    self._record_poison(account, uid, raw, key, report.error or "")
                    stuck_keys.add(key.as_string())
                    tally.failed += 1
                    if quarantine:
                        bad.append(uid)
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
            self.storage.record_poison(record)
        except Exception as exc:
            log.exception("%s: cannot record a poison message", account.name)
            raise _StorageFailure(f"storage: {exc}") from exc
        log.warning("%s: message %s failed and was set aside: %s", account.name, uid, error)

    # --- one message ---

    def _process(self, account: str, uid: str, raw: bytes, key: ReceiptKey) -> MessageReport:
        result: InboundResult | None = None
        try:
            result = self._processor(
                raw, self.settings, self.storage, self.clock, random=self.random
            )
            if result.error is not None:  # the library failed inside: keep the mail
                error = f"processing: {result.error}"
                return MessageReport(account, uid, key, MessageStatus.FAILED, result, error=error)
            outcome = self.storage.commit(result.actions, key)
        except Exception as exc:
            stage = "processing" if result is None else "commit"
            error = f"{stage}: {type(exc).__name__}: {exc}"
            log.debug("%s", "".join(traceback.format_exception(exc)))
            return MessageReport(account, uid, key, MessageStatus.FAILED, result, error=error)
        if outcome.duplicate:
            return MessageReport(account, uid, key, MessageStatus.DUPLICATE, result, outcome)
        events = result.events
        if outcome.ticket_id is not None:
            events = tuple(bind_ticket(e, outcome.ticket_id) for e in events)
        return MessageReport(account, uid, key, MessageStatus.PROCESSED, result, outcome, events)

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
