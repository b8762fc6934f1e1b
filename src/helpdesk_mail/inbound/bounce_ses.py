"""Amazon SES notifications (SNS JSON sent as mail): their type, recipients and bounce type.

`ses_notification` reads a report's text as an SNS JSON object (also with the JSON's
line breaks wrapped by a mail system), unwrapping an SNS envelope whose ``Message`` is
the notification; when a mail system broke the JSON, the same three facts are taken
with bounded patterns (`_ses_by_regex`). ``bounceType`` ``Transient`` is temporary,
``Permanent`` is not. At most `TEXT_SCAN_LIMIT` characters are decoded and
`MAX_RECIPIENTS` recipients kept; never raises.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import mime_headers
from .bounce_text import MAX_RECIPIENTS, TEXT_SCAN_LIMIT

__all__ = ["ses_notification"]


def _json_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:TEXT_SCAN_LIMIT])
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def ses_notification(text: str) -> tuple[str, list[str], bool | None] | None:
    """Amazon SES bounce/complaint/delivery notification sent as SNS JSON e-mail.

    Returns ``(notificationType, recipients, temporary)`` or ``None``.
    """
    obj = _json_object(text) or _json_object(re.sub(r"\r?\n", "", text[:TEXT_SCAN_LIMIT]))
    if obj is None:
        return _ses_by_regex(text)
    inner = obj.get("Message")
    if isinstance(inner, str) and "notificationType" in inner:
        obj = _json_object(inner) or {}
    kind = obj.get("notificationType") or obj.get("eventType")
    if not isinstance(kind, str) or kind not in ("Bounce", "Complaint", "Delivery"):
        return _ses_by_regex(text)
    recipients: list[str] = []
    temporary: bool | None = None
    section = obj.get(kind.lower())
    if isinstance(section, dict):
        key = {"Bounce": "bouncedRecipients", "Complaint": "complainedRecipients"}.get(kind)
        entries = section.get(key, []) if key else []
        if isinstance(entries, list):
            for entry in entries[:MAX_RECIPIENTS]:
                if isinstance(entry, dict) and isinstance(entry.get("emailAddress"), str):
                    recipients.extend(mime_headers.find_addresses(entry["emailAddress"]))
        bounce_type = section.get("bounceType")
        if bounce_type == "Transient":
            temporary = True
        elif bounce_type == "Permanent":
            temporary = False
    return kind, recipients, temporary


def _ses_by_regex(text: str) -> tuple[str, list[str], bool | None] | None:
    """Fallback for SNS JSON that a mail system wrapped into invalid JSON."""
    head = text[:TEXT_SCAN_LIMIT]
    m = re.search(r'\\?"notificationType\\?"\s*:\s*\\?"(Bounce|Complaint|Delivery)', head)
    if m is None:
        return None
    kind = m.group(1)
    recipients: list[str] = []
    if kind != "Delivery":
        for addr in re.findall(r'\\?"emailAddress\\?"\s*:\s*\\?"([^"\\]{1,300})', head):
            recipients.extend(mime_headers.find_addresses(addr))
    bounce_type = re.search(r'\\?"bounceType\\?"\s*:\s*\\?"(\w+)', head)
    temporary = None
    if bounce_type and bounce_type.group(1) in ("Transient", "Permanent"):
        temporary = bounce_type.group(1) == "Transient"
    return kind, list(dict.fromkeys(recipients))[:MAX_RECIPIENTS], temporary
