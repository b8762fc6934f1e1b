"""Check SPF: may the helpdesk's SMTP server send as its From domain? Or evaluate one sender.

    helpdesk-mail spf setup --from support@acme.test --smtp-host smtp.acme.test
    helpdesk-mail spf setup --settings helpdesk.toml
    helpdesk-mail spf check --ip 192.0.2.25 --mail-from support@acme.test --helo smtp.acme.test

`setup` reads the SPF record of the From address's domain, checks every address
of every SMTP host against it, and prints what is wrong and the TXT record to
publish, like `acme.test. IN TXT "v=spf1 a:smtp.acme.test ~all"`. `check` runs
the RFC 7208 evaluation for one client IP, MAIL FROM and HELO.

`--nameserver IP[:PORT]` asks that DNS server instead of the system's;
`--json` prints one JSON object. Exit status: 0 authorised (`setup`: every host;
`check`: pass), 1 not authorised, 2 bad arguments, 3 a DNS failure (try again).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from ..ports import Resolver
from ..settings import SettingsError, load_settings
from ..spf import SpfOutcome, SpfResult, SpfSetupReport, check_sender_domain, check_spf
from .dns_lookups import lookup_options, plain, resolver_from, sender_options

EXIT_OK, EXIT_NOT_AUTHORISED, EXIT_USAGE, EXIT_TEMPORARY = 0, 1, 2, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `helpdesk-mail spf` and its `setup` and `check` commands."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="spf_command", metavar="{setup,check}", required=True)
    common = lookup_options()

    setup = sub.add_parser(
        "setup",
        parents=[common, sender_options()],
        help="does the From domain's SPF record authorise the SMTP server(s)?",
        description="Check the SPF record of the From address's domain against the "
        "helpdesk's SMTP server(s) and print the TXT record to publish.",
    )
    setup.add_argument(
        "--settings",
        metavar="FILE",
        help="take the From address and SMTP host from these settings (JSON or TOML)",
    )

    check = sub.add_parser(
        "check",
        parents=[common],
        help="the RFC 7208 result for a client IP, MAIL FROM and HELO",
        description="Evaluate SPF (RFC 7208 check_host) for one client address and sender.",
    )
    check.add_argument("--ip", required=True, help="the client's IP address")
    check.add_argument(
        "--mail-from", required=True, metavar="ADDRESS", help="envelope sender ('' for a bounce)"
    )
    check.add_argument("--helo", default="", help="the HELO/EHLO name")


def run(args: argparse.Namespace) -> int:
    """Run `spf setup` or `spf check`; the exit status."""
    try:
        resolver = resolver_from(args)
    except ValueError as exc:
        return _usage(str(exc))
    if args.spf_command == "check":
        return _run_check(args, resolver)
    return _run_setup(args, resolver)


def _usage(message: str) -> int:
    print(f"helpdesk-mail spf: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run_check(args: argparse.Namespace, resolver: Resolver) -> int:
    try:
        result = check_spf(args.ip, args.mail_from, args.helo, resolver, now=datetime.now(UTC))
    except ValueError:
        return _usage(f"--ip {args.ip!r} is not an IP address")
    if args.json:
        print(json.dumps(plain(result)))
    else:
        _print_result(result)
    if result.result is SpfOutcome.PASS:
        return EXIT_OK
    if result.result is SpfOutcome.TEMPERROR:
        return EXIT_TEMPORARY
    return EXIT_NOT_AUTHORISED


def _print_result(result: SpfResult) -> None:
    print(f"{result.result}: {result.reason}")
    print(f"sender: {result.sender}")
    print(f"record: {result.record if result.record is not None else '(none)'}")
    if result.explanation:
        print(f"explanation: {result.explanation}")
    print(f"DNS look-ups: {result.lookups} (limit 10), void: {result.void_lookups} (limit 2)")


def _run_setup(args: argparse.Namespace, resolver: Resolver) -> int:
    from_address = args.from_address
    hosts = list(args.smtp_host)
    if args.settings:
        try:
            outgoing = load_settings(args.settings).outgoing
        except (OSError, SettingsError) as exc:
            return _usage(f"cannot use {args.settings}: {exc}")
        from_address = from_address or outgoing.from_address
        hosts = hosts or [outgoing.smtp_host]
    if not from_address:
        return _usage("give --from ADDRESS (or --settings FILE with outgoing.from_address)")
    if not hosts:
        return _usage("give --smtp-host HOST (or --settings FILE)")
    report = check_sender_domain(from_address, hosts, resolver)
    if args.json:
        data = plain(report)
        data["ok"] = report.ok
        print(json.dumps(data))
    else:
        _print_report(report)
    if report.ok:
        return EXIT_OK
    return EXIT_TEMPORARY if report.temporary else EXIT_NOT_AUTHORISED


def _print_report(report: SpfSetupReport) -> None:
    status = "OK" if report.ok else "NOT OK"
    print(f"{report.domain}: {status}")
    if not report.records:
        print("  SPF record: (none)")
    for record in report.records:
        print(f"  SPF record: {record}")
    for check in report.checks:
        where = f" ({check.ip})" if check.ip else ""
        verdict = "authorised" if check.authorised else "NOT authorised"
        how = f": {check.result.result}" if check.result is not None else f" by {check.term}"
        print(f"  {check.host}{where}{how}, {verdict}")
    if report.problems:
        print("problems:")
        for problem in report.problems:
            print(f"  - {problem}")
    if report.notes:
        print("notes:")
        for note in report.notes:
            print(f"  - {note}")
    if report.suggested_txt:
        verb = "Publish this TXT record" if not report.records else "Publish instead"
        print(f"{verb} (in the DNS of {report.domain}):")
        print(f"  {report.suggested_txt}")
