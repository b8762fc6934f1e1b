"""SPF: the helpdesk's setup check and RFC 7208 evaluation.

- `check_sender_domain(from_address, sending_hosts, resolver)`: does the domain
  of the helpdesk's From address publish an SPF record that lets the helpdesk's
  SMTP server(s) send its mail? An `SpfSetupReport` says what is wrong and which
  TXT record to publish.
- `check_spf(ip, mail_from, helo, resolver)`: the RFC 7208 ``check_host()``
  evaluation, an `SpfResult`.
- `parse_record(text)`: the record syntax, `SpfSyntaxError` when it is wrong.

All DNS goes through the `Resolver` protocol: `helpdesk_mail.memory.InMemoryResolver`
in tests, `helpdesk_mail.dns_resolver.DnsResolver` (dnspython) for real.
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
    "HostCheck",
    "Mechanism",
    "Qualifier",
    "SpfOutcome",
    "SpfRecord",
    "SpfResult",
    "SpfSetupReport",
    "SpfSyntaxError",
    "check_host",
    "check_outgoing_settings",
    "check_sender_domain",
    "check_spf",
    "is_spf_record",
    "parse_record",
    "txt_zone_line",
]
