"""From an event to sent mail, each piece of work done once: counted, not timed.

A `StorageReader` wrapper counts the calls per method (and per argument), and the
compile cache counts compilations: one planned email to three recipients (a technician
and two customers, so two audiences) compiles each template once and reads the ticket,
its comments and each person once.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from helpdesk_mail.events import TicketUpdated
from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.memory import InMemoryStorage, Outbox
from helpdesk_mail.model import Role
from helpdesk_mail.outbound.compose import build_template_data, render_message
from helpdesk_mail.outbound.plan import plan_notifications
from helpdesk_mail.planned import PlannedEmail, Recipient
from helpdesk_mail.samples.preview import (
    CUSTOMER,
    SAMPLES,
    TECH,
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)
from helpdesk_mail.shell.delivery import notify
from helpdesk_mail.templating import compile as compile_module

K = TemplateKind


class CountingStorage:
    """Any storage, with every method call counted by name and by (name, arguments)."""

    def __init__(self, inner: InMemoryStorage) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.by_args: Counter[tuple[str, tuple[Any, ...]]] = Counter()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """The inner storage's transaction, read and written through this counter."""
        with self.inner.transaction():
            yield SimpleNamespace(domain=self, books=self)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any) -> Any:
            self.calls[name] += 1
            # unhashable arguments (an outbox entry) are counted by name only
            with contextlib.suppress(TypeError):
                self.by_args[(name, args)] += 1
            return attr(*args)

        return counted


@pytest.fixture
def compilations() -> Iterator[Callable[[], tuple[int, int]]]:
    """(compilations, cache look-ups that found one) since the fixture started."""
    compile_module._compile.cache_clear()

    def counts() -> tuple[int, int]:
        info = compile_module._compile.cache_info()
        return info.misses, info.hits

    yield counts
    compile_module._compile.cache_clear()


def three_recipients() -> PlannedEmail:
    planned = sample_planned(K.TICKET_UPDATED)
    return dataclasses.replace(
        planned,
        to=(
            Recipient(TECH, "Tess Tech", Role.TECHNICIAN),
            Recipient(CUSTOMER, "Jane Doe", Role.USER, autologin=True),
            Recipient("bob@example.com", "Bob Roe", Role.USER, autologin=True),
        ),
    )


# A template that uses #Suggested_KB_articles# in the subject and the body, to show the
# KB question does not compile the template a second time.
KB_TEMPLATES = {
    K.TICKET_UPDATED: (
        "[#Subject#] #Suggested_KB_articles#",
        "<p>#What_Happened#</p>#Suggested_KB_articles##Recent_messages#",
    )
}


@pytest.mark.parametrize("templates", [None, KB_TEMPLATES], ids=["default", "kb"])
def test_render_message_compiles_each_template_once_and_reads_each_piece_once(
    compilations: Callable[[], tuple[int, int]],
    templates: dict[TemplateKind, tuple[str, str]] | None,
) -> None:
    storage = CountingStorage(sample_storage())
    messages = render_message(
        three_recipients(), templates, sample_settings(), storage, sample_clock(), sample_random()
    )
    assert messages is not None and len(messages) == 3
    assert compilations() == (2, 0)  # subject and body: compiled once, never looked up again
    assert storage.calls["ticket"] == 1
    assert storage.calls["comments"] == 1
    assert storage.calls["search_kb"] == (1 if templates else 0)
    assert storage.calls["kb_article"] == 0
    users = {args: n for (name, args), n in storage.by_args.items() if name == "user"}
    assert all(n == 1 for n in users.values()), users
    assert storage.calls["users"] == 1  # the ticket's people and commenters, in one call


def test_notify_compiles_once_and_reads_the_ticket_and_comments_once_per_delivery(
    compilations: Callable[[], tuple[int, int]],
) -> None:
    storage = CountingStorage(sample_storage())
    event = SAMPLES[K.TICKET_UPDATED].event
    settings = sample_settings()
    plan = plan_notifications(event, settings, sample_storage(), sample_clock())
    outbox = Outbox()
    report = notify(event, settings, storage, None, outbox, sample_clock(), sample_random())
    assert report.ok and len(outbox) == len(plan.emails) >= 2
    misses, hits = compilations()
    assert misses == 2
    assert hits == 2 * (len(plan.emails) - 1)  # each planned email looks its template up once
    # the deliverer's one transaction renders every email from one reading
    assert storage.calls["comments"] == 1
    assert storage.calls["ticket"] == 2  # notify's planner, then the deliverer's


def test_build_template_data_reads_the_ticket_and_its_comments_once() -> None:
    storage = CountingStorage(sample_storage())
    build_template_data(
        three_recipients(), sample_settings(), storage, sample_clock(), templates=KB_TEMPLATES
    )
    assert storage.calls["ticket"] == 1
    assert storage.calls["comments"] == 1
    assert storage.calls["search_kb"] == 1


def test_a_customer_update_is_rendered_for_a_customer_without_the_techs_only_note() -> None:
    # The two audiences share one reading of the log; each still gets its own view.
    storage = CountingStorage(sample_storage())
    event = TicketUpdated(1234, CUSTOMER, comment_id=3)
    planned = dataclasses.replace(three_recipients(), event=event)
    messages = render_message(
        planned, None, sample_settings(), storage, sample_clock(), sample_random()
    )
    assert messages is not None
    bodies = [m.get_body(preferencelist=("plain",)) for m in messages]
    texts = [str(b.get_content()) if b is not None else "" for b in bodies]
    assert "Fuser unit needs replacing" in texts[0]  # the technician
    assert all("Fuser unit needs replacing" not in t for t in texts[1:])  # the customers
    assert storage.calls["comments"] == 1
