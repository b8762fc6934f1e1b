"""Built-in sample mail for `helpdesk-mail demo` and `helpdesk-mail inspect`.

Thirteen raw emails (`NN-name.eml`, processed in name order) covering the main
paths of the incoming handler: new tickets, a reply with quoted history, a
technician's `#tech#` note, `#close#`, `#unsubscribe#`, HTML-only mail, an
attachment, a bounce, an out-of-office reply, a `noreply@` system mail, a
reply-hijack attempt and a first mail from an unknown sender. `state.json` is
the helpdesk they arrive in (users and two open tickets), in the format of
`helpdesk-mail inspect --state`.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

__all__ = ["sample_messages", "sample_state"]


def sample_messages() -> list[tuple[str, bytes]]:
    """The sample emails as (file name, raw bytes), in processing order."""
    folder = files(__name__)
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".eml"))
    return [(name, folder.joinpath(name).read_bytes()) for name in names]


def sample_state() -> dict[str, Any]:
    """The helpdesk the samples arrive in: `{"users": [...], "tickets": [...]}`."""
    data: dict[str, Any] = json.loads(files(__name__).joinpath("state.json").read_text("utf-8"))
    return data
