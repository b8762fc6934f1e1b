"""Check deliverability: will receivers trust the helpdesk's mail? SPF, DKIM, DMARC, alignment.

    helpdesk-mail dns check --from support@acme.test --smtp-host smtp.acme.test \\
        --dkim-selector default --dkim-key /etc/helpdesk/dkim.pem
    helpdesk-mail dns check --settings helpdesk.toml

`check` reads the DNS of the From domain as a receiving server does: the SPF record
(does it authorise the SMTP server?), the DKIM key record of the selector (is it the
key the helpdesk signs with?), the DMARC record and its policy, and whether the
envelope sender (SMTP MAIL FROM, which SmtpTransport takes from the From address) and
the DKIM d= align with the From domain. For each problem it prints the record to
publish, like `_dmarc.acme.test. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@acme.test"`.

`--settings FILE` takes the From address, SMTP host and DKIM selector, domain and key
(outgoing.dkim_private_key_file or dkim_private_key_env) from the settings; options
given on the command line win. `--nameserver IP[:PORT]` asks that DNS server instead
of the system's; `--json` prints one JSON object. Exit status: 0 every check passed
(warnings allowed), 1 a problem was found, 2 bad arguments or an unusable key,
3 a DNS failure (try again).

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import argparse
import json
import sys
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from ..settings import DKIM_SELECTOR, DOMAIN, OutgoingSettings, SettingsError, load_settings
from ..spf import CheckStatus, DeliverabilityReport, DkimKey, check_deliverability
from .dns_lookups import lookup_options, plain, resolver_from, sender_options

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_TEMPORARY = 0, 1, 2, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `helpdesk-mail dns` and its `check` command."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="dns_command", metavar="{check}", required=True)
    check = sub.add_parser(
        "check",
        parents=[lookup_options(), sender_options()],
        help="SPF, DKIM, DMARC and alignment of the From domain, and the records to publish",
        description="Check what receivers check before they trust the helpdesk's mail, "
        "and print the DNS records to publish for each problem.",
    )
    check.add_argument(
        "--envelope-from",
        metavar="ADDRESS",
        help="the SMTP envelope sender (MAIL FROM), when a relay changes it "
        "(default: the From address, as SmtpTransport sends it)",
    )
    check.add_argument("--dkim-selector", metavar="SELECTOR", help="the DKIM selector (s=)")
    check.add_argument(
        "--dkim-domain", metavar="DOMAIN", help="the DKIM signing domain (d=; default: From's)"
    )
    check.add_argument(
        "--dkim-key",
        metavar="FILE",
        help="the DKIM private key (PEM) the helpdesk signs with, to compare with DNS",
    )
    check.add_argument(
        "--dmarc-rua",
        metavar="ADDRESS",
        help="where DMARC reports go, in a suggested DMARC record (default: postmaster@DOMAIN)",
    )
    check.add_argument(
        "--settings",
        metavar="FILE",
        help="take the From address, SMTP host and DKIM settings from these settings",
    )


class _Usage(Exception):
    """A bad argument or an unusable key: exit status 2."""


def run(args: argparse.Namespace) -> int:
    """Run `dns check`; the exit status."""
    try:
        resolver = resolver_from(args)
        request = _request(args)
        report = check_deliverability(
            request["from_address"],
            resolver,
            sending_hosts=request["hosts"],
            envelope_sender=args.envelope_from,
            dkim=request["dkim"],
            dmarc_reports=args.dmarc_rua,
        )
    except (ValueError, _Usage) as exc:
        print(f"helpdesk-mail dns: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        data = plain(report)
        data.update(ok=report.ok, temporary=report.temporary, publish=list(report.publish))
        print(json.dumps(data))
    else:
        _print_report(report)
    if report.ok:
        return EXIT_OK
    return EXIT_TEMPORARY if report.temporary else EXIT_PROBLEM


def _request(args: argparse.Namespace) -> dict[str, Any]:
    """The From address, hosts and DKIM key from the options and the settings."""
    outgoing: OutgoingSettings | None = None
    if args.settings:
        try:
            outgoing = load_settings(args.settings).outgoing
        except (OSError, SettingsError) as exc:
            raise _Usage(f"cannot use {args.settings}: {exc}") from None
    from_address = args.from_address or (outgoing.from_address if outgoing else "")
    if not from_address:
        raise _Usage("give --from ADDRESS (or --settings FILE with outgoing.from_address)")
    hosts = list(args.smtp_host) or ([outgoing.smtp_host] if outgoing else [])
    selector = args.dkim_selector or (outgoing.dkim_selector if outgoing else None)
    if args.dkim_domain:
        domain = args.dkim_domain
    elif outgoing is not None and outgoing.dkim_domain:
        domain = outgoing.dkim_domain
    else:
        domain = (parseaddr(from_address)[1] or from_address).rpartition("@")[2].strip()
    if selector is None:
        if args.dkim_key or args.dkim_domain:
            raise _Usage("--dkim-key and --dkim-domain need --dkim-selector")
        return {"from_address": from_address, "hosts": hosts, "dkim": None}
    for option, value, rule in (
        ("--dkim-selector", selector, DKIM_SELECTOR),
        ("--dkim-domain", domain, DOMAIN),
    ):
        if not rule.check(value):
            raise _Usage(f"{option} {value!r} {rule.description}")
    public_key = _public_key(args, outgoing, selector, domain)
    return {
        "from_address": from_address,
        "hosts": hosts,
        "dkim": DkimKey(selector, domain, public_key),
    }


def _public_key(
    args: argparse.Namespace, outgoing: OutgoingSettings | None, selector: str, domain: str
) -> str | None:
    """The base64 p= of the key given by --dkim-key or the settings (None: neither)."""
    uses_settings_key = outgoing is not None and outgoing.dkim_selector is not None
    if not args.dkim_key and not uses_settings_key:
        return None
    try:
        from ..transports.dkim import DkimSigner
    except ImportError as exc:
        raise _Usage(
            f"reading the DKIM key needs dkimpy: pip install 'helpdesk-mail[dkim]' ({exc})"
        ) from None
    try:
        if args.dkim_key:
            try:
                text = Path(args.dkim_key).read_bytes()
            except OSError as exc:
                raise _Usage(f"cannot read --dkim-key {args.dkim_key}: {exc.strerror}") from None
            return DkimSigner.from_pem(text, selector, domain).public_key
        assert outgoing is not None
        signer = DkimSigner.from_settings(outgoing)
    except SettingsError as exc:
        where = f"--dkim-key {args.dkim_key}" if args.dkim_key else "the settings' DKIM key"
        raise _Usage(f"{where}: {exc.rule}") from None
    return signer.public_key if signer is not None else None


def _print_report(report: DeliverabilityReport) -> None:
    print(f"{report.from_domain}: {'OK' if report.ok else 'NOT OK'}")
    print(f"  From: {report.from_address}")
    print(f"  envelope sender (MAIL FROM): {report.envelope_sender}")
    if report.dkim_selector is not None:
        print(f"  DKIM: s={report.dkim_selector} d={report.dkim_domain}")
    for finding in report.findings:
        print(f"  {finding.name:<10} {finding.status.value:<9} {finding.summary}")
    problems = [(f.name, p) for f in report.findings for p in f.problems]
    notes = [(f.name, n) for f in report.findings for n in f.notes]
    if problems:
        print("problems:")
        for name, text in problems:
            print(f"  - {name}: {text}")
    if notes:
        print("notes:")
        for name, text in notes:
            print(f"  - {name}: {text}")
    if report.publish:
        print("Publish these records (zone-file lines; in a DNS panel, the text without quotes):")
        for line in report.publish:
            print(f"  {line}")
    if any(f.status is CheckStatus.TEMPERROR for f in report.findings):
        print("A DNS look-up failed: run the check again.")
