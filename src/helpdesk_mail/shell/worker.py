"""The worker: one `Poller` and one `Deliverer` in one process, until asked to stop.

This is the loop behind `helpdesk-mail worker` (the command builds the storage and
the transports from a settings file and calls `Worker.run`), kept here so that it is
tested on in-memory backends without a process.

Rules (this file owns them):

1. Two threads: the poll loop polls the accounts that are due (`Poller.run_once`),
   then sleeps until the next one is due; the delivery loop delivers the due events
   of the outbox (`Deliverer.run_once`) and sleeps `idle_seconds` when there were
   none. A commit of this worker's poller that records events wakes the delivery
   loop at once; events of other workers are found within `idle_seconds`. While
   events keep coming, one SMTP connection serves the delivery rounds (when the
   sender is a context manager, as `SmtpTransport` is); it is closed once the outbox
   stayed empty for `idle_seconds`.
2. Any number of workers (processes, machines) share one storage: the poller and
   the deliverer carry the worker's `name` in their leases (mailbox accounts,
   outbox events), so each account is polled and each event delivered by one worker
   at a time; a worker that dies loses its leases when they expire (`lease`).
3. `request_stop()` (the command calls it on SIGTERM and SIGINT) sets `stop`: the
   poller finishes the email it is processing, removes what was committed from the
   server and releases its lease; the deliverer finishes the event it is delivering
   and releases the events it claimed but did not start. Then `run` returns 0.
4. One log line per poll round with its counts (accounts polled, processed,
   duplicates, failed, held, deferred, removed, errors) and one per delivery round
   that delivered something (events, emails sent, failed, left pending). Unexpected
   errors in a round are logged and the loop goes on after a pause; `run` returns 1
   only when a loop itself died.
5. Watching (`watcher`, IMAP IDLE in production): `run` starts one more thread per
   enabled account that `watches` (IMAP, `idle` not false), which keeps the watcher's
   connection to it. New mail announced there wakes that account in the poller
   (`Poller.wake`) and the poll loop at once, so it is polled within moments instead
   of at its interval; its lease is taken as for any poll, so with N workers one
   polls. An account whose server cannot be watched (`WatchUnsupported`) is polled
   at its interval, with one log line; so is every account while its watcher is
   reconnecting, and the interval still bounds the wait in any case. A watcher that
   fails unexpectedly is logged and leaves its account to polling; it never stops
   the worker. At most `idle_per_login` accounts of one login (host, port, user) are
   watched: servers limit the connections of one user (Dovecot: 10 per user and IP,
   Gmail 15, Microsoft 365 20), and IDLE connections that took them all would leave
   none for polling, so nothing would be fetched at all. The others are polled at
   their interval, with one log line at start.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta

from ..ports import (
    Clock,
    MailboxTransport,
    MailboxWatcher,
    RandomSource,
    SendTransport,
    Storage,
    WatchUnsupported,
)
from ..settings import MailboxAccount, Settings
from ..templating.render import Templates
from .delivery import Deliverer, DeliveryReport, RetryPolicy
from .poller import MessageReport, MessageStatus, Poller, PollReport

__all__ = ["IDLE_PER_LOGIN", "Worker"]

log = logging.getLogger(__name__)

ERROR_PAUSE = 5.0
"""Seconds a loop waits after an unexpected error before its next round."""
GATHER_SECONDS = 0.02
"""How long the delivery loop, woken by a commit, waits for more before it claims: fewer
claims (and rounds) for the same events, at the price of 20 ms of latency."""


IDLE_PER_LOGIN = 5
"""Accounts of one login (host, port, user) a worker watches with IDLE at most."""


class Worker:
    """A `Poller` and a `Deliverer` over one storage, with a shared stop (see the module).

    `mailboxes` opens the IMAP/POP3 sessions, `sender` sends the notifications (one
    connection per delivery round when it is a context manager, as `SmtpTransport`
    is). `name` goes in the leases; `lease` is how long a lease lasts without renewal;
    `poll_interval` replaces the settings' check intervals (tests, benchmarks);
    `idle_seconds` is how often the outbox is looked at when idle; `delivery_batch`
    how many events are claimed at once. `watcher` (e.g. `transports.idle.IdleWatcher`)
    watches the accounts that allow it for new mail (rule 5), at most `idle_per_login`
    of one login; None: polling only.
    """

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        mailboxes: MailboxTransport,
        sender: SendTransport,
        clock: Clock,
        random: RandomSource,
        templates: Templates | None = None,
        *,
        name: str = "worker",
        lease: timedelta = timedelta(minutes=2),
        poll_interval: timedelta | None = None,
        idle_seconds: float = 5.0,
        delivery_batch: int = 10,
        retry: RetryPolicy | None = None,
        stop: threading.Event | None = None,
        on_message: Callable[[MessageReport], object] | None = None,
        watcher: MailboxWatcher | None = None,
        idle_per_login: int = IDLE_PER_LOGIN,
    ) -> None:
        if idle_per_login < 0:
            raise ValueError(f"idle_per_login must be 0 or more, not {idle_per_login}")
        self.name = name
        self.watcher = watcher
        self.idle_per_login = idle_per_login
        self._poll_wake = threading.Event()
        self.stop = stop if stop is not None else threading.Event()
        self.idle_seconds = idle_seconds
        self.sender = sender
        self._wake = threading.Event()
        self._on_message = on_message
        self.poller = Poller(
            settings,
            storage,
            mailboxes,
            clock,
            random,
            on_message=self._committed,
            worker=name,
            lease=lease,
            stop=self.stop,
            interval=poll_interval,
        )
        self.deliverer = Deliverer(
            settings,
            storage,
            sender,
            clock,
            random,
            templates,
            worker=name,
            lease=lease,
            retry=retry if retry is not None else RetryPolicy(),
            batch=delivery_batch,
            stop=self.stop,
            prepare_ahead=True,
        )
        self.polls = 0
        """Poll rounds done so far."""
        self.deliveries = 0
        """Delivery rounds that delivered at least one event."""
        self._died: list[BaseException] = []
        self._keeping = False

    # --- one round of each ---

    def poll_round(self, *, force: bool = False) -> PollReport:
        """Poll the due accounts (every one with `force`) once; logs one line."""
        started = time.monotonic()
        report = self.poller.run_once(force=force)
        self.polls += 1
        level = logging.INFO if report.polled or report.errors else logging.DEBUG
        log.log(
            level,
            "poll: %d accounts polled (%d held by other workers)%s: %d processed, "
            "%d duplicates, %d failed, %d held, %d deferred, %d removed, %d errors (%.2f s)",
            report.polled,
            report.leased_elsewhere,
            ", stopped" if report.stopped else "",
            report.processed,
            report.duplicates,
            report.failed,
            report.held,
            report.deferred,
            report.removed,
            report.errors,
            time.monotonic() - started,
        )
        return report

    def delivery_round(self) -> DeliveryReport:
        """Deliver the due events of the outbox once (one claim); logs one line when it
        delivered something."""
        started = time.monotonic()
        with self._connection():
            report = self.deliverer.run_once()
        if report.events:
            self.deliveries += 1
            log.info(
                "delivery: %d events, %d emails sent, %d failed, %d events left pending (%.2f s)",
                len(report.events),
                report.sent,
                report.failed,
                report.pending,
                time.monotonic() - started,
            )
        return report

    def drain(self) -> tuple[PollReport, int]:
        """Poll every account once, then deliver until nothing is due (or a stop): the
        work of `helpdesk-mail worker --once`. Returns the poll and the events delivered."""
        report = self.poll_round(force=True)
        delivered = 0
        while not self.stop.is_set():
            events = len(self.delivery_round().events)
            if not events:
                break
            delivered += events
        return report, delivered

    # --- the loops ---

    def request_stop(self) -> None:
        """Ask both loops to stop after the email or event at hand (rule 3)."""
        self.stop.set()
        self._wake.set()
        self._poll_wake.set()

    @property
    def watched(self) -> tuple[MailboxAccount, ...]:
        """The accounts `run` watches for new mail (none without a `watcher`)."""
        return self._watch_plan()[0]

    def _watch_plan(self) -> tuple[tuple[MailboxAccount, ...], tuple[MailboxAccount, ...]]:
        """(the accounts to watch, those left to polling by `idle_per_login`)."""
        if self.watcher is None:
            return (), ()
        watched: list[MailboxAccount] = []
        over: list[MailboxAccount] = []
        per_login: dict[tuple[str, int, str], int] = {}
        for account in self.poller.accounts:
            if not account.watches:
                continue
            login = (account.host.lower(), account.effective_port, account.username)
            per_login[login] = per_login.get(login, 0) + 1
            (watched if per_login[login] <= self.idle_per_login else over).append(account)
        return tuple(watched), tuple(over)

    def new_mail(self, account: str) -> None:
        """New mail was announced in `account`: poll it now (thread-safe; rule 5)."""
        log.debug("%s: new mail announced", account)
        self.poller.wake(account)
        self._poll_wake.set()

    def run(self) -> int:
        """Run both loops until `request_stop()` (or `stop` set); 0, or 1 if a loop died."""
        threads = [
            threading.Thread(target=self._guard, args=(self._poll_loop,), name="poll"),
            threading.Thread(target=self._guard, args=(self._delivery_loop,), name="delivery"),
        ]
        watched, over = self._watch_plan()
        for account in over:
            log.info(
                "%s: not watched: %d accounts of %s@%s are already (servers limit the"
                " connections of one user): polled every %s",
                account.name,
                self.idle_per_login,
                account.username,
                account.host,
                self._every(account),
            )
        watchers = [
            threading.Thread(target=self._watch, args=(account,), name=f"watch {account.name}")
            for account in watched
        ]
        for thread in threads + watchers:
            thread.start()
        try:
            while not self.stop.is_set() and all(t.is_alive() for t in threads):
                self.stop.wait(1.0)
        finally:
            self.request_stop()
            for thread in threads + watchers:
                thread.join()
        return 1 if self._died else 0

    def _watch(self, account: MailboxAccount) -> None:
        assert self.watcher is not None
        name = account.name
        try:
            self.watcher.watch(account, lambda: self.new_mail(name), self.stop)
        except WatchUnsupported as exc:
            log.info("%s: not watched (%s): polled every %s", name, exc, self._every(account))
        except Exception:
            log.exception("%s: watching failed: polled every %s", name, self._every(account))

    def _every(self, account: MailboxAccount) -> str:
        seconds = self.poller.interval(account).total_seconds()
        return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"

    def _guard(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as exc:  # the loop itself died: stop the other one too
            log.critical("the %s loop died", threading.current_thread().name, exc_info=True)
            self._died.append(exc)
            self.request_stop()

    def _poll_loop(self) -> None:
        # A wake (new mail announced, or a stop) ends the wait at once.
        while not self.stop.is_set():
            self._poll_wake.clear()
            try:
                self.poll_round()
                wait = max(1.0, self.poller.seconds_until_due())
            except Exception:
                log.exception("poll round failed")
                wait = ERROR_PAUSE
            self._poll_wake.wait(wait)

    def _delivery_loop(self) -> None:
        # While work keeps coming, one SMTP connection serves every round; it is let go
        # once the outbox stayed empty for `idle_seconds` (or after an error).
        # (`SmtpTransport` connects at the first send, so holding it costs nothing idle.)
        with contextlib.ExitStack() as kept:
            while not self.stop.is_set():
                self._wake.clear()
                if not self._keeping:
                    kept.enter_context(self._connection())
                    kept.callback(setattr, self, "_keeping", False)
                    self._keeping = True
                try:
                    delivered = bool(self.delivery_round().events)
                except Exception:
                    log.exception("delivery round failed")
                    kept.close()
                    self._wake.wait(ERROR_PAUSE)
                    continue
                if delivered:
                    continue
                if self._wake.wait(self.idle_seconds):
                    # woken by a commit: let the next few commits join this round
                    self.stop.wait(GATHER_SECONDS)
                else:
                    kept.close()

    # --- helpers ---

    def _committed(self, report: MessageReport) -> None:
        if report.status is MessageStatus.PROCESSED and report.events:
            self._wake.set()
        if self._on_message is not None:
            self._on_message(report)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[None]:
        """Keep one SMTP connection for a delivery round when the sender can."""
        if isinstance(self.sender, AbstractContextManager):
            with self.sender:
                yield
        else:
            yield
