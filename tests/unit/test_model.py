"""The host-facing value types: normalisation, roles, and what they promise."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from helpdesk_mail.model import (
    Attachment,
    Category,
    Comment,
    CustomField,
    KBArticle,
    Role,
    Ticket,
    TicketStatus,
    User,
    Visibility,
    normalize_email,
)

WHEN = datetime(2026, 1, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Jane@Example.COM", "jane@example.com"),
        ("  jane@example.com\t", "jane@example.com"),
        ("<Jane@Example.com>", "jane@example.com"),
        (" < jane@example.com > ", "jane@example.com"),
        ("", ""),
    ],
)
def test_normalize_email(raw: str, normal: str) -> None:
    assert normalize_email(raw) == normal


def test_roles() -> None:
    assert Role("admin") is Role.ADMIN
    assert Role.ADMIN.is_staff
    assert Role.TECHNICIAN.is_staff
    assert not Role.USER.is_staff
    assert [r.value for r in Role] == ["admin", "technician", "user"]
    assert [s.value for s in TicketStatus] == ["open", "closed"]
    assert [v.value for v in Visibility] == ["public", "techs", "admins"]


def test_user_is_normalised() -> None:
    user = User("<Tess@ACME.test>", role="technician", categories=["Hardware", "Hardware"])  # type: ignore[arg-type]
    assert user.email == "tess@acme.test"
    assert user.role is Role.TECHNICIAN
    assert user.categories == frozenset({"Hardware"})
    assert user.is_staff
    assert user == User("tess@acme.test", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    hash(user)


def test_user_single_category_string_is_one_category() -> None:
    user = User("t@acme.test", role=Role.TECHNICIAN, categories="Hardware")  # type: ignore[arg-type]
    assert user.categories == frozenset({"Hardware"})


def test_user_bad_role() -> None:
    with pytest.raises(ValueError):
        User("a@b.c", role="boss")  # type: ignore[arg-type]


def test_user_defaults() -> None:
    user = User("jane@example.com")
    assert user.role is Role.USER
    assert not user.is_staff
    assert user.categories == frozenset()
    assert (user.name, user.first_name, user.last_name, user.username) == ("", "", "", "")


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"name": "Jane Doe", "first_name": "J", "last_name": "D", "username": "jd"}, "Jane Doe"),
        ({"first_name": "Jane", "last_name": "Doe", "username": "jd"}, "Jane Doe"),
        ({"first_name": "Jane", "username": "jd"}, "Jane"),
        ({"last_name": "Doe"}, "Doe"),
        ({"username": "jd"}, "jd"),
        ({}, "jane@example.com"),
    ],
)
def test_display_name(kwargs: dict[str, str], shown: str) -> None:
    assert User("jane@example.com", **kwargs).display_name == shown  # type: ignore[arg-type]


def test_serves() -> None:
    admin = User("boss@acme.test", role=Role.ADMIN)
    tech = User("tess@acme.test", role=Role.TECHNICIAN, categories=frozenset({"Hardware"}))
    customer = User("jane@example.com", categories=frozenset({"Hardware"}))
    assert admin.serves("Hardware") and admin.serves("Software") and admin.serves(None)
    assert tech.serves("Hardware")
    assert not tech.serves("Software")
    assert not tech.serves(None)
    assert not customer.serves("Hardware")


def test_ticket_is_normalised() -> None:
    ticket = Ticket(
        id=1,
        subject="Printer on fire",
        submitter="Jane@Example.com",
        status="closed",  # type: ignore[arg-type]
        assignee="<Tess@Acme.test>",
        subscribers=["Jane@Example.com", "jane@example.com", "CC@example.com"],  # type: ignore[arg-type]
        message_ids=[" <abc@example.com>", "<abc@example.com>", "<def@example.com>"],  # type: ignore[arg-type]
        attachments=[Attachment("a.txt")],  # type: ignore[arg-type]
        custom_fields=[CustomField(1, "Asset", "PRN-1")],  # type: ignore[arg-type]
    )
    assert ticket.submitter == "jane@example.com"
    assert ticket.status is TicketStatus.CLOSED
    assert ticket.is_closed
    assert ticket.assignee == "tess@acme.test"
    assert ticket.subscribers == ("jane@example.com", "cc@example.com")  # order kept, no repeats
    assert ticket.message_ids == ("<abc@example.com>", "<def@example.com>")
    assert ticket.attachments == (Attachment("a.txt"),)
    assert ticket.custom_fields == (CustomField(1, "Asset", "PRN-1"),)
    hash(ticket)  # every field is immutable


def test_ticket_single_strings_are_one_item() -> None:
    ticket = Ticket(
        1,
        "s",
        "jane@example.com",
        subscribers="Jane@Example.com",  # type: ignore[arg-type]
        message_ids="<abc@example.com>",  # type: ignore[arg-type]
    )
    assert ticket.subscribers == ("jane@example.com",)
    assert ticket.message_ids == ("<abc@example.com>",)


def test_ticket_defaults() -> None:
    ticket = Ticket(7, "Hello", "jane@example.com")
    assert ticket.status is TicketStatus.OPEN
    assert not ticket.is_closed
    assert ticket.priority == "normal"
    assert ticket.assignee is None
    assert ticket.category is None
    assert ticket.via == "email"
    assert ticket.subscribers == ()
    assert ticket.message_ids == ()
    assert ticket.time_spent_minutes == 0


def test_ticket_bad_status() -> None:
    with pytest.raises(ValueError):
        Ticket(1, "s", "a@b.c", status="pending")  # type: ignore[arg-type]


def test_replace_renormalises() -> None:
    ticket = Ticket(1, "s", "jane@example.com", subscribers=("jane@example.com",))
    changed = dataclasses.replace(ticket, subscribers=(*ticket.subscribers, "JANE@example.com"))
    assert changed.subscribers == ("jane@example.com",)


def test_values_are_frozen() -> None:
    ticket = Ticket(1, "s", "jane@example.com")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ticket.subject = "x"  # type: ignore[misc]
    user = User("jane@example.com")
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.role = Role.ADMIN  # type: ignore[misc]


def test_comment() -> None:
    comment = Comment(
        ticket_id=1,
        author="<Tess@Acme.test>",
        body_text="On my way",
        created_at=WHEN,
        attachments=[Attachment("a.txt")],  # type: ignore[arg-type]
    )
    assert comment.author == "tess@acme.test"
    assert comment.attachments == (Attachment("a.txt"),)
    assert comment.techs_only is False
    assert comment.via == "email"
    assert comment.id is None
    hash(comment)


def test_attachment_content_is_not_in_repr() -> None:
    attachment = Attachment("secret.pdf", "application/pdf", 11, b"TOP-SECRET!")
    assert "TOP-SECRET" not in repr(attachment)
    assert "secret.pdf" in repr(attachment)
    plain = Attachment("x.bin")
    assert plain.content_type == "application/octet-stream"
    assert (plain.size, plain.content, plain.inline) == (0, b"", False)
    assert plain.content_id is None and plain.url is None


def test_custom_field_visibility() -> None:
    assert CustomField(1, "Asset", "PRN-1").visibility is Visibility.PUBLIC
    assert CustomField(2, "Cost", "10", visibility="admins").visibility is Visibility.ADMINS  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CustomField(3, "X", "y", visibility="everyone")  # type: ignore[arg-type]


def test_category_and_kb_article() -> None:
    assert Category("Hardware") == Category("Hardware", None)
    article = KBArticle(1, "Printer jams")
    assert (article.category, article.url, article.body) == (None, "", "")
