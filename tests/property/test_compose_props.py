"""Notifications are the bytes the email package writes: the headers compose stores
unparsed (`_verbatim`) read back and serialise as the parsed ones would."""

from __future__ import annotations

import dataclasses
import email.policy
from email.headerregistry import Address
from email.message import EmailMessage

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_mail.kinds import TemplateKind
from helpdesk_mail.model import Role
from helpdesk_mail.outbound import headers
from helpdesk_mail.outbound.compose import render_message
from helpdesk_mail.outbound.headers import POLICY
from helpdesk_mail.planned import Recipient
from helpdesk_mail.samples.preview import (
    sample_clock,
    sample_planned,
    sample_random,
    sample_settings,
    sample_storage,
)

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
_ATOM = st.text(alphabet=_ATEXT, min_size=1, max_size=6)
_DOT_ATOM = st.lists(_ATOM, min_size=1, max_size=3).map(".".join)
# names and addresses of any shape: the simple ones are not parsed, the others are
_NAME = st.one_of(
    st.lists(_ATOM, max_size=3).map(" ".join),
    st.text(alphabet=_ATEXT + ' .,"()<>:;@\\[]', max_size=12),
)
_PART = st.one_of(_DOT_ATOM, st.text(alphabet=_ATEXT + '."', min_size=1, max_size=8))


def _eager(header: object) -> object:
    """The header as the email package parses it from its text."""
    name = header.name  # type: ignore[attr-defined]
    return POLICY.header_factory(name, str(header))  # type: ignore[call-arg]


@PROPS
@given(st.lists(st.tuples(_NAME, _PART, _DOT_ATOM), min_size=1, max_size=3))
def test_address_headers_read_as_the_email_package_parses_them(
    parts: list[tuple[str, str, str]],
) -> None:
    addresses = []
    for name, user, domain in parts:
        try:
            addresses.append(Address(display_name=name, username=user, domain=domain))
        except Exception:  # the email package refuses it: compose leaves it out
            continue
    msg = EmailMessage(policy=POLICY)
    try:
        headers.set_addresses(msg, "To", addresses, read=True)
    except Exception:
        return  # the email package itself cannot take these as a header
    if not addresses:
        return
    ours = msg["To"]
    theirs = _eager(ours)
    assert str(ours) == str(theirs)
    assert ours.addresses == theirs.addresses  # type: ignore[attr-defined]
    assert ours.groups == theirs.groups  # type: ignore[attr-defined]
    assert ours.fold(policy=POLICY) == msg.policy.fold("To", ours)


@PROPS
@given(_DOT_ATOM, _DOT_ATOM, st.text(alphabet="abcdef0123456789=_XY", min_size=1, max_size=30))
def test_message_id_and_content_type_read_as_parsed(left: str, right: str, token: str) -> None:
    for name, value in (
        ("Message-ID", f"<{left}@{right}>"),
        ("Content-Type", f'multipart/alternative; boundary="{token}"'),
        ("Content-Type", f'multipart/mixed; boundary="=={token}=="'),
    ):
        msg = EmailMessage(policy=POLICY)
        headers.set_header(msg, name, value, read=True)
        ours = msg[name]
        theirs = _eager(ours)
        assert str(ours) == str(theirs) == value
        assert ours.defects == theirs.defects
        if name == "Content-Type":
            assert ours.params == theirs.params  # type: ignore[attr-defined]
            assert ours.content_type == theirs.content_type  # type: ignore[attr-defined]
            assert msg.get_boundary() == theirs.params.get("boundary")  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_NAME, _DOT_ATOM), min_size=1, max_size=2), st.booleans())
def test_notifications_are_written_as_with_parsed_headers(
    people: list[tuple[str, str]], cc_mode: bool
) -> None:
    recipients = tuple(Recipient(f"{user}@example.com", name, Role.USER) for name, user in people)
    planned = dataclasses.replace(
        sample_planned(TemplateKind.TICKET_UPDATED), to=recipients, cc_mode=cc_mode
    )
    messages = render_message(
        planned, None, sample_settings(), sample_storage(), sample_clock(), sample_random()
    )
    assert messages is not None
    for msg in messages:
        again = EmailMessage(policy=POLICY)
        for name, value in msg.raw_items():
            # List-Unsubscribe is written on one line on purpose (see headers.OneLine)
            parsed = hasattr(value, "name") and not isinstance(value, headers.OneLine)
            again[name] = _eager(value) if parsed else value
        again.set_payload(msg.get_payload())
        assert msg.as_bytes(policy=email.policy.SMTP) == again.as_bytes(policy=email.policy.SMTP)
