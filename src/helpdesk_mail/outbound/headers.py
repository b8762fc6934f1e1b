"""The header fields of a notification, stored as they will be written.

Messages use `POLICY` (`email.policy.SMTP`, header classes made once). A header whose
value is printable ASCII on one line is stored as it will be written (`set_header`):
the email package neither parses it when set nor refolds it when sent, and the fields
read again before sending (recipients, Message-ID, MIME structure) are parsed once, or
(values whose parse gives back their text, `_lossless`) only when what the parse gives
is read. The bytes on the wire are those ``msg[name] = value`` would give; the email
package's own way is kept for anything else (non-ASCII names and subjects, long
values).

Rules:

- Addresses (`header_address`): a plain valid address or none at all; names are
  flattened to one line.
- ``List-Unsubscribe`` (RFC 2369) is written on one line as it is (`OneLine`), or left
  out when it cannot be one line of ASCII; ``List-Unsubscribe-Post`` (RFC 8058,
  `ONE_CLICK`) only for a link that works with one click and is ``https``.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from email import policy
from email.headerregistry import Address, BaseHeader, Group, HeaderRegistry
from email.message import EmailMessage
from typing import Any

from ..templating.render import header_text

__all__ = [
    "FOLDED_LINE",
    "ONE_CLICK",
    "POLICY",
    "OneLine",
    "header_address",
    "set_addresses",
    "set_constant",
    "set_header",
    "unsubscribe_headers",
]

ONE_CLICK = "List-Unsubscribe=One-Click"
"""The value of ``List-Unsubscribe-Post`` (RFC 8058)."""
_MAX_HEADER_LINE = 998  # RFC 5322 2.1.1, CRLF excluded
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"


class _Headers(HeaderRegistry):
    """The email package's header registry, its header classes made once.

    `HeaderRegistry` builds a new class for every header it parses (``type(...)`` on
    each ``__getitem__``), which is most of the cost of setting a header; the classes
    depend on the name only, so they are kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        made = self._made.get(name.lower())
        if made is None:
            made = self._made[name.lower()] = super().__getitem__(name)
        return made


POLICY = policy.SMTP.clone(header_factory=_Headers())
"""The policy of every message composed here: `email.policy.SMTP`, with header classes
made once (see `_Headers`)."""
FOLDED_LINE = 78  # policy.SMTP.max_line_length


def _one_line(name: str, value: str) -> bool:
    """Whether the field is written as ``name: value`` on one line, as it is."""
    return (
        value.isascii()
        and value.isprintable()
        and len(name) + 2 + len(value) <= FOLDED_LINE
        and value == value.strip()
    )


def _fold_as_is(self: BaseHeader, *, policy: policy.Policy) -> str:
    return f"{self.name}: {self}{policy.linesep}"


_PARSED: dict[str, type[BaseHeader]] = {}
_CONSTANT: dict[tuple[str, str], BaseHeader] = {}


def _parsed(name: str, value: str) -> BaseHeader:
    """The header object of a one-line field (`_one_line`), written as it is."""
    cls = _PARSED.get(name.lower())
    if cls is None:
        base = POLICY.header_factory[name]  # type: ignore[index]
        cls = type(f"_OneLine{base.__name__}", (base,), {"fold": _fold_as_is})
        _PARSED[name.lower()] = cls
    header: BaseHeader = cls(name, value)
    return header


# What a header's parse sets (`BaseHeader.init` and its subclasses'): a `_verbatim`
# header parses itself when one of them is first read.
_PARSED_ATTRIBUTES = frozenset(
    {
        "_parse_tree",
        "_defects",
        "_groups",
        "_addresses",
        "_params",
        "_maintype",
        "_subtype",
        "_datetime",
        "_version",
        "_major",
        "_minor",
        "_cte",
        "_content_disposition",
    }
)


def _new_verbatim(cls: type[BaseHeader], name: str, value: str) -> BaseHeader:
    header: BaseHeader = str.__new__(cls, value)
    header.__dict__["_name"] = name
    return header


def _parse_on_read(self: BaseHeader, attribute: str) -> Any:
    """`__getattr__` of a `_verbatim` header: parse it the email package's way when what
    the parse sets is first read (a value that is not there otherwise: AttributeError)."""
    state = self.__dict__
    if attribute not in _PARSED_ATTRIBUTES or state.get("_parsed_now"):
        raise AttributeError(attribute)
    state["_parsed_now"] = True
    base = type(self).__mro__[1]  # the registry's class of the field
    kwds: dict[str, Any] = {"defects": []}
    base.parse(str(self), kwds)  # type: ignore[attr-defined]
    del kwds["decoded"]
    prefilled = {k: v for k, v in state.items() if k in _PARSED_ATTRIBUTES}
    base.init(self, state["_name"], **kwds)  # type: ignore[attr-defined]
    state.update(prefilled)
    return object.__getattribute__(self, attribute)


_VERBATIM: dict[str, type[BaseHeader]] = {}


def _verbatim(name: str, value: str) -> BaseHeader:
    """The header object of a one-line field written as it is, not parsed until what the
    parse gives (its addresses, its parameters) is read. For values the email package
    reads back as they are (`_lossless`): its parse keeps the text of these."""
    cls = _VERBATIM.get(name.lower())
    if cls is None:
        base = POLICY.header_factory[name]  # type: ignore[index]
        cls = type(
            f"_Verbatim{base.__name__}",
            (base,),
            {"fold": _fold_as_is, "__new__": _new_verbatim, "__getattr__": _parse_on_read},
        )
        _VERBATIM[name.lower()] = cls
    return cls(name, value)


# Values whose parse by the email package gives back the same text (its `decoded`), so
# that a `_verbatim` header is the one `_parsed` makes: a Message-ID of dot-atoms (as
# `tokens.new_message_id` makes them) and a Content-Type with a token boundary.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_LOSSLESS = {
    "message-id": re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>"),
    "content-type": re.compile(r'multipart/[a-z]+; boundary="[A-Za-z0-9=_]+"'),
}


def _lossless(name: str, value: str) -> bool:
    pattern = _LOSSLESS.get(name.lower())
    return pattern is not None and "=?" not in value and pattern.fullmatch(value) is not None


def set_header(msg: EmailMessage, name: str, value: str, *, read: bool = False) -> None:
    """``msg[name] = value``, but a one-line value is stored as it will be written.

    The email package parses a header when it is set, again each time it is read if it
    was stored raw, and refolds it when it is written. A one-line value (`_one_line`)
    comes out of all that unchanged: it is stored raw (parsed only if someone reads it)
    or, for the fields read again before the message leaves (`read`: its recipients,
    its MIME structure), as a header written as it is: parsed once, or (`_lossless`
    values) only when what the parse gives is read. Anything else takes the usual way
    (encoded words, folding).
    """
    if not _one_line(name, value):
        msg[name] = value
    elif read:
        header = _verbatim(name, value) if _lossless(name, value) else _parsed(name, value)
        msg.set_raw(name, header)
    else:
        msg.set_raw(name, value)


def set_constant(msg: EmailMessage, name: str, value: str) -> None:
    """A field whose value is the same in every message (parsed once in all)."""
    header = _CONSTANT.get((name, value))
    if header is None:
        header = _CONSTANT[(name, value)] = _parsed(name, value)
    msg.set_raw(name, header)


# An address the email package writes and reads back as it is: a display name of atoms
# (nothing quoted, no encoded word) and an addr-spec of dot-atoms.
_SIMPLE_NAME = re.compile(rf"(?:{_ATEXT}+(?: {_ATEXT}+)*)?")
_SIMPLE_SPEC = re.compile(_DOT_ATOM)


def _simple(address: Address) -> bool:
    return (
        _SIMPLE_NAME.fullmatch(address.display_name) is not None
        and _SIMPLE_SPEC.fullmatch(address.username) is not None
        and _SIMPLE_SPEC.fullmatch(address.domain) is not None
        and "=?" not in address.display_name
        and "=?" not in address.username
        and "=?" not in address.domain
    )


def set_addresses(
    msg: EmailMessage, name: str, addresses: Sequence[Address], *, read: bool = False
) -> None:
    """An address header; ASCII names and addresses as `set_header` stores them. Read again
    (`read`), simple addresses (`_simple`) are not parsed at all: the header gets the
    addresses the email package would parse from their text, these."""
    text = ", ".join(str(a) for a in addresses)
    if not (text.isascii() and all(a.display_name.isascii() for a in addresses)):
        msg[name] = addresses
    elif read and _one_line(name, text) and all(_simple(a) for a in addresses):
        header = _verbatim(name, text)
        header.__dict__.update(
            _groups=tuple(Group(None, [a]) for a in addresses),
            _addresses=tuple(addresses),
            _defects=[],
        )
        msg.set_raw(name, header)
    else:
        set_header(msg, name, text, read=read)


class OneLine(str):
    """A header value the email package writes on one line, as it is.

    A ``List-Unsubscribe`` URL is longer than a folded line and has no space to fold at:
    the email package would write it as RFC 2047 encoded words, which no mail client
    reads as a URL. Values given here are printable ASCII without white space.
    """

    name: str

    def __new__(cls, name: str, value: str) -> OneLine:
        self = super().__new__(cls, value)
        self.name = name
        return self

    def fold(self, *, policy: policy.Policy) -> str:
        """The whole field, one line (the email package calls this to write it)."""
        return f"{self.name}: {self}{policy.linesep}"


def _list_unsubscribe(url: str) -> OneLine | None:
    """``<url>`` for the List-Unsubscribe field, or None when it cannot be one line of ASCII."""
    value = f"<{urllib.parse.quote(url, safe=_URL_SAFE)}>"  # printable ASCII, no space
    if len("List-Unsubscribe: ") + len(value) > _MAX_HEADER_LINE:
        return None
    return OneLine("List-Unsubscribe", value)


def unsubscribe_headers(msg: EmailMessage, url: str, one_click: bool) -> None:
    """List-Unsubscribe (RFC 2369) and, for a link that works with one click, its POST
    (RFC 8058)."""
    value = _list_unsubscribe(url)
    if value is None:
        return
    msg.set_raw("List-Unsubscribe", value)
    if one_click and url.startswith("https://"):
        set_constant(msg, "List-Unsubscribe-Post", ONE_CLICK)


def header_address(email: str, name: str = "") -> Address | None:
    """An address for a header, or None if `email` is not a plain valid address."""
    email = email.strip()
    if not email or any(ord(c) < 33 or c in '<>(),;:"[]\\' for c in email):
        return None
    if email.count("@") != 1:
        return None
    local, domain = email.split("@")
    if not local or not domain:
        return None
    try:
        return Address(display_name=header_text(name, 120), username=local, domain=domain)
    except Exception:  # the email package rejects what it cannot serialise
        return None
