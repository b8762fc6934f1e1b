"""The email API: commands in the subject line (the ticket token is in `tokens`).

`#tech#` marks a reply for technicians only, `#close#` closes the ticket,
`#unsubscribe#` (or `#unsub#`) removes the sender from its subscribers. They are
case-insensitive and removed from the stored subject. The subject is cleaned first
(`tokens.clean_subject`: no control, zero-width or bidi characters), so a command is
read exactly when a person sees one. Who may use which command is decided by
`process.py`, not here.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..tokens import SUBJECT_COMMAND, clean_subject

# Spelling in the subject -> canonical command name (the inspect contract's names).
COMMANDS: dict[str, str] = {
    "tech": "tech",
    "close": "close",
    "unsubscribe": "unsubscribe",
    "unsub": "unsubscribe",
}
CANONICAL_ORDER = ("tech", "close", "unsubscribe")

_COMMAND_RE = SUBJECT_COMMAND


@dataclass(frozen=True)
class SubjectCommands:
    """A subject split into its clean text and the commands it carried."""

    subject: str
    commands: tuple[str, ...]


def parse_subject(subject: str) -> SubjectCommands:
    """Commands found in `subject` (canonical order) and the subject without them, both
    read from the cleaned subject (`tokens.clean_subject`)."""
    subject = clean_subject(subject)
    found = {COMMANDS[m.lower()] for m in _COMMAND_RE.findall(subject)}
    clean = _COMMAND_RE.sub(" ", subject)
    clean = re.sub(r"[ \t]{2,}", " ", clean).strip()
    return SubjectCommands(clean, tuple(c for c in CANONICAL_ORDER if c in found))
