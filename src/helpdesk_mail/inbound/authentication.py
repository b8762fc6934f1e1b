"""Is the sender authenticated? Read from our own receiving server's Authentication-Results.

Internal: `process_email` asks it when `incoming.sender_authentication` is not `off`.

The rules (RFC 8601 §5 and DMARC's alignment, RFC 7489 §3.1):

1. Only the **topmost** `Authentication-Results` header counts, and only when its
   authserv-id is one of `incoming.authserv_ids`: our receiving server adds its header
   on top, so anything below it, or claiming another server, was written by someone
   else (the sender can put any header in the message) and is ignored.
2. The sender is authenticated when that header has, for the From address's domain:
   `dmarc=pass`; or `dkim=pass` with `header.d` aligned with it; or `spf=pass` with
   `smtp.mailfrom` aligned with it.
3. Aligned means relaxed alignment: the same domain, or one a subdomain of the other
   (without a public-suffix list, two unrelated registrations under one suffix never
   align: `a.co.uk` and `b.co.uk` do not).
4. Anything unreadable is "not authenticated", with the reason: never an exception.
5. Microsoft 365 (Exchange Online) writes its header without an authserv-id; such a
   header is read as the authserv-id `exchange-online`, which a helpdesk whose mailbox
   is in Microsoft 365 lists in `authserv_ids`.

Your receiving server must add its header to every message it accepts (Postfix with
OpenDMARC, Gmail and Exchange Online do): if it does not, a sender's own header
claiming your authserv-id would be the topmost. When it writes several (one per
milter), the topmost must carry the verdict that counts: OpenDMARC's `dmarc=` result.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import authres

__all__ = ["EXCHANGE_ONLINE", "AuthVerdict", "authenticate"]

EXCHANGE_ONLINE = "exchange-online"
"""The authserv-id given to Microsoft 365's headers, which carry none (rule 5)."""

_HEADER = "authentication-results"
_MAX_HEADER = 8192


@dataclass(frozen=True)
class AuthVerdict:
    """Whether the sender was authenticated, and the evidence (or why not), in words."""

    authenticated: bool
    evidence: str


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower()


def _aligned(a: str, b: str) -> bool:
    a, b = a.strip(".").lower(), b.strip(".").lower()
    return bool(a) and bool(b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


# One row per method that can authenticate a sender: the method, the property whose
# domain must align with the From domain (None: the method is about the From domain
# itself), and how it is named in the evidence.
_PASSES: tuple[tuple[str, tuple[str, str] | None], ...] = (
    ("dmarc", None),
    ("dkim", ("header", "d")),
    ("spf", ("smtp", "mailfrom")),
)


def authenticate(
    headers: Iterable[tuple[str, str]], sender: str, authserv_ids: Sequence[str]
) -> AuthVerdict:
    """The verdict for `sender` from the message's decoded `headers` (see the rules)."""
    top = next(((n, v) for n, v in headers if n.strip().lower() == _HEADER), None)
    ours = ", ".join(authserv_ids) or "(none configured)"
    if top is None:
        return AuthVerdict(False, f"no Authentication-Results from {ours}")
    value = top[1][:_MAX_HEADER].strip()
    if "=" in value.partition(";")[0]:
        # Exchange Online writes no authserv-id: its results come first (rule 5)
        value = f"{EXCHANGE_ONLINE}; {value}"
    try:
        parsed = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {value}")
    except Exception as exc:  # the parser raises its own errors on bad syntax
        return AuthVerdict(False, f"unreadable Authentication-Results ({type(exc).__name__})")
    server = str(parsed.authserv_id or "").strip().lower()
    if server not in authserv_ids:
        return AuthVerdict(
            False, f"the topmost Authentication-Results is {server!r}'s, not {ours}'s"
        )
    from_domain = _domain(sender)
    seen: list[str] = []
    for result in parsed.results:
        method, outcome = str(result.method).lower(), str(result.result).lower()
        seen.append(f"{method}={outcome}")
        for wanted, prop in _PASSES:
            if method != wanted or outcome != "pass":
                continue
            if prop is None:
                return AuthVerdict(True, f"{method}=pass ({server})")
            value = next(
                (
                    str(p.value)
                    for p in result.properties
                    if str(p.type).lower() == prop[0] and str(p.name).lower() == prop[1]
                ),
                "",
            )
            if _aligned(_domain(value) if "@" in value else value, from_domain):
                return AuthVerdict(True, f"{method}=pass {prop[0]}.{prop[1]}={value} ({server})")
    found = " ".join(seen) or "no results"
    return AuthVerdict(False, f"{found} from {server}: nothing aligned with {from_domain}")
