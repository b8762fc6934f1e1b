"""Signed Message-IDs: any text is checked without raising; ours verify, tampered ones do not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from helpdesk_mail.memory import SeededRandom
from helpdesk_mail.tokens import check_message_id, make_message_id

SECRET = "property-secret"


@given(st.text(max_size=300), st.sampled_from(["", SECRET]))
def test_any_text_is_checked_without_raising(text: str, secret: str) -> None:
    check = check_message_id(text, secret)
    assert check.ticket_id is None or not check.forged


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=2**32))
def test_our_ids_name_their_ticket(ticket_id: int, seed: int) -> None:
    message_id = make_message_id(ticket_id, "acme.test", SECRET, SeededRandom(seed).token_bytes)
    assert check_message_id(message_id, SECRET).ticket_id == ticket_id
    assert "\r" not in message_id and "\n" not in message_id


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=2**32),
    st.data(),
)
def test_any_change_to_an_id_is_never_verified_for_another_ticket(
    ticket_id: int, seed: int, data: st.DataObject
) -> None:
    message_id = make_message_id(ticket_id, "acme.test", SECRET, SeededRandom(seed).token_bytes)
    local = message_id[1 : message_id.index("@")]
    position = data.draw(st.integers(min_value=0, max_value=len(local) - 1))
    replacement = data.draw(st.sampled_from("0123456789abcdefghijklmnopqrstuvwxyz."))
    tampered_local = local[:position] + replacement + local[position + 1 :]
    if tampered_local == local:
        return
    check = check_message_id(f"<{tampered_local}@acme.test>", SECRET)
    assert check.ticket_id is None


def test_another_key_does_not_verify() -> None:
    message_id = make_message_id(7, "acme.test", SECRET, SeededRandom(1).token_bytes)
    check = check_message_id(message_id, "other-secret")
    assert check.ticket_id is None and check.forged
