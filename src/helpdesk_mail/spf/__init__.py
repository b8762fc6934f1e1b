"""SPF and the rest of deliverability: setup checks and RFC 7208 evaluation.

- `check_sender_domain(from_address, sending_hosts, resolver)`: does the domain
  of the helpdesk's From address publish an SPF record that lets the helpdesk's
  SMTP server(s) send its mail? An `SpfSetupReport` says what is wrong and which
  TXT record to publish.
- `check_spf(ip, mail_from, helo, resolver)`: the RFC 7208 ``check_host()``
  evaluation, an `SpfResult`.
- `parse_record(text)`: the record syntax, `SpfSyntaxError` when it is wrong.
- `check_deliverability(from_address, resolver, sending_hosts=..., dkim=DkimKey(...))`:
  SPF, the DKIM key record, the DMARC policy and alignment of the From domain with
  the envelope sender and DKIM ``d=``, each a `Finding` with the records to publish
  (`helpdesk-mail dns check`).

All DNS goes through the `Resolver` protocol: `helpdesk_mail.memory.InMemoryResolver`
in tests, `helpdesk_mail.dns_resolver.DnsResolver` (dnspython) for real.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from .check import (
    DEFAULT_EXPLANATION,
    LOOKUP_LIMIT,
    VOID_LOOKUP_LIMIT,
    SpfOutcome,
    SpfResult,
    check_host,
    check_spf,
)
from .deliverability import (
    CheckStatus,
    DeliverabilityReport,
    DkimKey,
    DmarcRecord,
    Finding,
    check_deliverability,
    check_outgoing_deliverability,
    organizational_domain,
    parse_dmarc_record,
    parse_tag_list,
)
from .record import Mechanism, Qualifier, SpfRecord, SpfSyntaxError, is_spf_record, parse_record
from .setup import (
    KNOWN_SERVICES,
    HostCheck,
    SpfSetupReport,
    check_outgoing_settings,
    check_sender_domain,
    txt_zone_line,
)

__all__ = [
    "DEFAULT_EXPLANATION",
    "KNOWN_SERVICES",
    "LOOKUP_LIMIT",
    "VOID_LOOKUP_LIMIT",
    "CheckStatus",
    "DeliverabilityReport",
    "DkimKey",
    "DmarcRecord",
    "Finding",
    "HostCheck",
    "Mechanism",
    "Qualifier",
    "SpfOutcome",
    "SpfRecord",
    "SpfResult",
    "SpfSetupReport",
    "SpfSyntaxError",
    "check_deliverability",
    "check_host",
    "check_outgoing_deliverability",
    "check_outgoing_settings",
    "check_sender_domain",
    "check_spf",
    "is_spf_record",
    "organizational_domain",
    "parse_dmarc_record",
    "parse_record",
    "parse_tag_list",
    "txt_zone_line",
]
