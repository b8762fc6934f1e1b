"""What `helpdesk-mail spf` and `helpdesk-mail dns` share: the DNS look-up options
(`--nameserver`, `--timeout`, `--json`), the sender options (`--from`, `--smtp-host`),
the resolver they ask for, and reports as JSON-ready values.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..ports import Resolver
from ..transports.dns import DnsResolver, parse_nameserver

__all__ = ["lookup_options", "plain", "resolver_from", "sender_options"]


def lookup_options() -> argparse.ArgumentParser:
    """A parent parser: `--nameserver IP[:PORT]`, `--timeout SECONDS` (default 5), `--json`."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--nameserver",
        metavar="IP[:PORT]",
        help="ask this DNS server (an IP address, e.g. 127.0.0.1:5353) instead of the system's",
    )
    options.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="per DNS query (default 5)"
    )
    options.add_argument("--json", action="store_true", help="print one JSON object")
    return options


def sender_options() -> argparse.ArgumentParser:
    """A parent parser: `--from ADDRESS` (as `from_address`) and `--smtp-host HOST`
    (repeatable, as the list `smtp_host`)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--from", dest="from_address", metavar="ADDRESS", help="the From address")
    options.add_argument(
        "--smtp-host",
        action="append",
        default=[],
        metavar="HOST",
        help="an SMTP server that sends the helpdesk's mail (name or IP; repeatable)",
    )
    return options


def resolver_from(args: argparse.Namespace) -> Resolver:
    """The resolver `lookup_options` ask for; `ValueError` for a bad option."""
    if args.timeout <= 0:
        raise ValueError("--timeout must be positive")
    if args.nameserver:
        host, port = parse_nameserver(args.nameserver)
        return DnsResolver([host], port=port, timeout=args.timeout)
    return DnsResolver(timeout=args.timeout)


def plain(value: Any) -> Any:
    """A report (dataclasses, tuples, values) as dicts, lists and values, for JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value
