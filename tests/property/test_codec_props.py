"""The stored form of events, actions and plans: every type round-trips exactly; bad data
is refused with CodecError, never half-read."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_mail.codec import TYPES, VERSION, CodecError, from_dict, from_json, to_dict, to_json
from helpdesk_mail.events import TicketCreated, Via

aware = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
st.register_type_strategy(datetime, aware)

props = settings(max_examples=60, deadline=None)


@pytest.mark.parametrize("name", sorted(TYPES))
@props
@given(data=st.data())
def test_every_type_round_trips(name: str, data: st.DataObject) -> None:
    value = data.draw(st.from_type(TYPES[name]))
    stored = to_dict(value)
    assert stored["type"] == name and stored["v"] == VERSION
    assert from_dict(stored) == value
    assert from_dict(json.loads(json.dumps(stored))) == value
    assert from_json(to_json(value)) == value


def test_enums_given_as_strings_become_enums() -> None:
    # a host that stored an event as plain JSON and built it back by hand
    event = TicketCreated(ticket_id=1, actor="jane@example.com", via="email")  # type: ignore[arg-type]
    assert event.via is Via.EMAIL
    data = to_dict(event)
    assert data["via"] == "email"
    assert from_dict(data).via is Via.EMAIL


@pytest.mark.parametrize(
    "data",
    [
        {"type": "TicketCreated", "v": 2, "ticket_id": 1, "actor": "a"},
        {"type": "Nope", "v": 1},
        {"type": "TicketCreated", "v": 1},
        {"type": "TicketCreated", "v": 1, "ticket_id": 1, "actor": "a", "extra": 1},
        {"type": "TicketCreated", "v": 1, "ticket_id": "1", "actor": "a"},
        {"type": "TicketCreated", "v": 1, "ticket_id": 1, "actor": "a", "via": "pigeon"},
        {
            "type": "SuppressRecipients",
            "v": 1,
            "emails": [],
            "temporary": None,
            "reason": "",
            "until": "yesterday",
        },
        {
            "type": "CreateTicket",
            "v": 1,
            "subject": "",
            "submitter": "",
            "body_text": "",
            "body_html": None,
            "category": None,
            "subscribers": [],
            "message_id": None,
            "attachments": [{"type": "Attachment", "v": 1, "filename": "a", "content": "%%%"}],
        },
    ],
)
def test_bad_data_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(CodecError):
        from_dict(data)


@props
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
def test_any_json_value_reads_back_or_is_refused(value: object) -> None:
    with contextlib.suppress(CodecError):
        from_json(json.dumps(value))


def test_an_object_without_a_stored_form_is_refused() -> None:
    with pytest.raises(CodecError):
        to_dict(object())
    with pytest.raises(CodecError):
        from_json("{not json")
