"""Property: whatever an IMAP server sends during IDLE, in whatever pieces, the reader
returns responses or raises `MailboxError`, nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_mail.ports import MailboxError
from helpdesk_mail.transports.idle import IdleReader, IdleResponse

# pieces of real responses, so that random mixes reach every branch of the parser
FRAGMENTS = [
    b"+ idling\r\n",
    b"* 3 EXISTS\r\n",
    b"* 99999999999 EXISTS\r\n",
    b"* 2 EXPUNGE\r\n",
    b"* 1 RECENT\r\n",
    b"* OK Still here\r\n",
    b"* BYE shutting down\r\n",
    b"T1 OK Idle completed\r\n",
    b"T1 BAD\r\n",
    b"* 1 FETCH (BODY[] {5}\r\n",
    b"{99999999999}\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"*",
    b" ",
    "\u00e9\u4e2d".encode(),
    b"\xff\x00",
]

chunks = st.lists(st.one_of(st.binary(max_size=200), st.sampled_from(FRAGMENTS)), max_size=40)


@settings(max_examples=400, deadline=None)
@given(chunks, st.one_of(st.none(), st.integers(0, 2**40)), st.binary(max_size=8))
def test_any_bytes_give_responses_or_a_mailbox_error(
    pieces: list[bytes], exists: int | None, tag: bytes
) -> None:
    reader = IdleReader(tag or b"T1", exists)
    try:
        for piece in pieces:
            for response in reader.feed(piece):
                assert isinstance(response, IdleResponse)
    except MailboxError:
        pass
