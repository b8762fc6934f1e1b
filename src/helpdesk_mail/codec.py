"""One stable, versioned JSON form for events, actions and notification plans.

    data = to_dict(TicketCreated(ticket_id=12, actor="jane@example.com"))
    # {"type": "TicketCreated", "v": 1, "ticket_id": 12, "actor": "jane@example.com",
    #  "via": "email", "auto_response_allowed": true}
    assert from_dict(data) == TicketCreated(ticket_id=12, actor="jane@example.com")

Hosts store events (the outbox), actions (an audit log) and plans this way; the
SQL storage does too. The form, and its rules:

- A dict with `type` (the class name) and `v` (`VERSION`), then every field by name.
- Enums are their values, datetimes ISO 8601 strings (timezone kept), bytes base64
  strings, tuples and frozensets lists (frozensets sorted), nested values dicts of
  the same form.
- `from_dict` rebuilds the exact object: `from_dict(to_dict(x)) == x` for every type
  in `TYPES` (a hypothesis property checks it). It raises `CodecError` for an unknown
  type, another version, a missing required field, an unknown field or a value of
  the wrong shape: stored data is never half-read.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from . import actions, events, model, planned

__all__ = ["TYPES", "VERSION", "CodecError", "from_dict", "from_json", "to_dict", "to_json"]

VERSION = 1
"""The version of the form; data of another version is refused, not guessed at."""

TYPES: Mapping[str, type] = {
    cls.__name__: cls
    for cls in (
        *typing.get_args(events.Event),
        *typing.get_args(actions.Action),
        actions.CommitOutcome,
        model.Attachment,
        planned.Recipient,
        planned.PlannedEmail,
        planned.SkippedRecipient,
        planned.NotificationPlan,
    )
}
"""Every type with a stored form, by name."""


class CodecError(ValueError):
    """Data that is not the stored form of one of `TYPES` (the message says where)."""


def to_dict(obj: object) -> dict[str, Any]:
    """The JSON-ready dict of `obj` (one of `TYPES`)."""
    name = type(obj).__name__
    if TYPES.get(name) is not type(obj):
        raise CodecError(f"no stored form for {name}")
    return _encode_dataclass(obj)


def from_dict(data: Mapping[str, Any]) -> Any:
    """The object whose `to_dict` is `data`; `CodecError` if `data` is not one."""
    if not isinstance(data, Mapping):
        raise CodecError(f"expected a dict, got {type(data).__name__}")
    version = data.get("v")
    if version != VERSION:
        raise CodecError(f"version {version!r} is not {VERSION}")
    return _decode_dataclass(data, "$")


def to_json(obj: object) -> str:
    """`to_dict(obj)` as compact JSON text."""
    return json.dumps(to_dict(obj), separators=(",", ":"), ensure_ascii=False)


def from_json(text: str | bytes) -> Any:
    """The object stored as JSON `text`; `CodecError` if it is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CodecError(f"not JSON: {exc}") from exc
    return from_dict(data)


# --- encoding ---------------------------------------------------------------------


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_PLAIN = frozenset({type(None), bool, int, float, str})
"""Types stored as they are (exactly these: an Enum subclass of int or str is not)."""


def _encode_dataclass(obj: object) -> dict[str, Any]:
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(obj))  # type: ignore[arg-type]
    out: dict[str, Any] = {"type": cls.__name__, "v": VERSION}
    for name in names:
        out[name] = _encode(getattr(obj, name))
    return out


def _encode(value: object) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, bool | int | float | str) and not isinstance(value, Enum):
        return value  # a subclass of a plain type
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, frozenset):
        return sorted(_encode(v) for v in value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    raise CodecError(f"cannot store a {type(value).__name__}")


# --- decoding ---------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode_dataclass(data: Mapping[str, Any], where: str) -> Any:
    name = data.get("type")
    cls = TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CodecError(f"{where}: unknown type {name!r}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields) - {"type", "v"}
    if unknown:
        raise CodecError(f"{where}: {name} has no field {sorted(unknown)[0]!r}")
    kwargs: dict[str, Any] = {}
    for field_name, f in fields.items():
        if field_name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise CodecError(f"{where}: {name} needs {field_name!r}")
            continue
        kwargs[field_name] = _decode(data[field_name], hints[field_name], f"{where}.{field_name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"{where}: {name}: {exc}") from exc


def _decode(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _decode(value, options[0], where)
        if isinstance(value, Mapping):  # a union of stored types: the tag decides
            return _decode_dataclass(value, where)
        for option in options:
            try:
                return _decode(value, option, where)
            except CodecError:
                continue
        raise CodecError(f"{where}: {value!r} fits none of {hint}")
    if hint is Any:
        return value
    if origin is tuple:
        items = _sequence(value, where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(v, args[0], f"{where}[{i}]") for i, v in enumerate(items))
        if len(args) != len(items):
            raise CodecError(f"{where}: expected {len(args)} items")
        pairs = enumerate(zip(items, args, strict=True))
        return tuple(_decode(v, a, f"{where}[{i}]") for i, (v, a) in pairs)
    if origin is frozenset:
        return frozenset(_decode(v, args[0], where) for v in _sequence(value, where))
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise CodecError(f"{where}: expected a dict")
        return dict(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError as exc:
            raise CodecError(f"{where}: {exc}") from exc
    if hint is datetime:
        if not isinstance(value, str):
            raise CodecError(f"{where}: expected an ISO 8601 string")
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise CodecError(f"{where}: {exc}") from exc
    if hint is bytes:
        if not isinstance(value, str):
            raise CodecError(f"{where}: expected base64 text")
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (ValueError, binascii.Error) as exc:
            raise CodecError(f"{where}: bad base64: {exc}") from exc
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise CodecError(f"{where}: expected a dict")
        return _decode_dataclass(value, where)
    if hint in (str, int, float, bool):
        ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise CodecError(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
        return value
    if typing.get_origin(hint) is typing.Literal:
        if value not in args:
            raise CodecError(f"{where}: {value!r} is not one of {args}")
        return value
    raise CodecError(f"{where}: cannot read a {hint}")


def _sequence(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise CodecError(f"{where}: expected a list")
    return list(value)
