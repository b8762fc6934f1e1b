"""helpdesk_mail: the whole email side of a helpdesk, as an embeddable library.

Incoming mail becomes ticket actions (`process_email`), committed with their
receipt and events in one transaction (`commit`); ticket events become planned
notifications (`plan_notifications`), rendered from templates and sent from the
event outbox (`Deliverer`). The core does no I/O: storage, transports, clock and
randomness are protocols (`Storage`, `MailboxTransport`, `SendTransport`,
`Clock`, `RandomSource`), with in-memory versions (`InMemoryStorage`...) and real
ones (`SmtpTransport`, `MailTransport`, `helpdesk_mail.sql.SqlStorage`).

Everything a host uses is exported here. The public modules besides this one are
`helpdesk_mail.memory` (in-memory backends), `helpdesk_mail.testing` (pytest
fixtures, the storage conformance kit), `helpdesk_mail.sql` (the `sql` extra),
`helpdesk_mail.ports` (the protocols, for type annotations),
`helpdesk_mail.templating` (for template authors: previews, mask values) and
`helpdesk_mail.samples` (sample mail and a sample helpdesk for previews and
demos). Every other module is internal: its docstring says so, and it may change
between versions.
"""

from .actions import (
    Action,
    AddComment,
    AddSubscribers,
    CloseTicket,
    CommitOutcome,
    CreateTicket,
    CreateUser,
    Discard,
    RemoveSubscriber,
    ReopenTicket,
    RequireTicket,
    RequireUser,
    StaleCommit,
    SuppressRecipients,
)
from .addresses import normalize_email
from .codec import CodecError, from_dict, from_json, to_dict, to_json
from .commit import commit
from .events import (
    Event,
    InboundFlood,
    KBArticleUpdated,
    MailboxAccountDisabled,
    MessageTooLarge,
    StaffAddressSuppressed,
    TicketClosed,
    TicketCreated,
    TicketMoved,
    TicketTaken,
    TicketUpdated,
    UserCreated,
    Via,
    bind_ticket,
)
from .inbound.process import RandomSourceRequired, process_email
from .inbound.receipts import receipt_key
from .inbound.result import Address, DiscardReason, InboundResult, ParsedEmail, Verdict
from .kinds import TemplateKind
from .memory import (
    InMemoryMailbox,
    InMemoryResolver,
    InMemoryStorage,
    ManualClock,
    Outbox,
    SeededRandom,
)
from .model import (
    Attachment,
    Category,
    Comment,
    CustomField,
    KBArticle,
    Role,
    Ticket,
    TicketStatus,
    User,
    Visibility,
)
from .outbound.compose import ComposeError, render_message
from .outbound.plan import plan_notifications, scopes_for
from .planned import NotificationPlan, PlannedEmail, Recipient, SkippedRecipient
from .ports import (
    Bookkeeping,
    Clock,
    Domain,
    DomainReader,
    MailboxAuthError,
    MailboxError,
    MailboxSession,
    MailboxTransport,
    PlanReader,
    PreparingSendTransport,
    RandomSource,
    Refusal,
    Resolver,
    SendError,
    SendTransport,
    Storage,
    TemporaryDnsError,
    TransientStorageError,
    UnitOfWork,
)
from .records import (
    DeliveryStatus,
    EventStatus,
    MailboxState,
    OutboxEntry,
    PoisonRecord,
    ReceiptKey,
    SentRecord,
)
from .runtime import SystemClock, SystemRandom
from .settings import (
    IncomingSettings,
    MailboxAccount,
    NotificationSettings,
    OAuth2Settings,
    OutgoingSettings,
    RateLimit,
    Settings,
    SettingsError,
    TlsMode,
    load_settings,
)
from .shell.delivery import Deliverer, DeliveryReport, NotifyReport, RetryPolicy, notify
from .shell.poller import AccountReport, MessageReport, MessageStatus, Poller, PollReport
from .spf import DkimKey, check_deliverability, check_sender_domain, check_spf
from .templating import TemplateError, Templates, default_templates, validate_template
from .transports.dns import DnsResolver
from .transports.imap import ImapTransport
from .transports.mailbox import MailTransport
from .transports.pop3 import Pop3Transport
from .transports.smtp import SendResult, SmtpSendError, SmtpTransport
from .transports.stack import send_transport, with_dkim

__version__ = "0.1.0"

__all__ = [
    "AccountReport",
    "Action",
    "AddComment",
    "AddSubscribers",
    "Address",
    "Attachment",
    "Bookkeeping",
    "Category",
    "Clock",
    "CloseTicket",
    "CodecError",
    "Comment",
    "CommitOutcome",
    "ComposeError",
    "CreateTicket",
    "CreateUser",
    "CustomField",
    "Deliverer",
    "DeliveryReport",
    "DeliveryStatus",
    "Discard",
    "DiscardReason",
    "DkimKey",
    "DnsResolver",
    "Domain",
    "DomainReader",
    "Event",
    "EventStatus",
    "ImapTransport",
    "InMemoryMailbox",
    "InMemoryResolver",
    "InMemoryStorage",
    "InboundFlood",
    "InboundResult",
    "IncomingSettings",
    "KBArticle",
    "KBArticleUpdated",
    "MailTransport",
    "MailboxAccount",
    "MailboxAccountDisabled",
    "MailboxAuthError",
    "MailboxError",
    "MailboxSession",
    "MailboxState",
    "MailboxTransport",
    "ManualClock",
    "MessageReport",
    "MessageStatus",
    "MessageTooLarge",
    "NotificationPlan",
    "NotificationSettings",
    "NotifyReport",
    "OAuth2Settings",
    "Outbox",
    "OutboxEntry",
    "OutgoingSettings",
    "ParsedEmail",
    "PlanReader",
    "PlannedEmail",
    "PoisonRecord",
    "PollReport",
    "Poller",
    "Pop3Transport",
    "PreparingSendTransport",
    "RandomSource",
    "RandomSourceRequired",
    "RateLimit",
    "ReceiptKey",
    "Recipient",
    "Refusal",
    "RemoveSubscriber",
    "ReopenTicket",
    "RequireTicket",
    "RequireUser",
    "Resolver",
    "RetryPolicy",
    "Role",
    "SeededRandom",
    "SendError",
    "SendResult",
    "SendTransport",
    "SentRecord",
    "Settings",
    "SettingsError",
    "SkippedRecipient",
    "SmtpSendError",
    "SmtpTransport",
    "StaffAddressSuppressed",
    "StaleCommit",
    "Storage",
    "SuppressRecipients",
    "SystemClock",
    "SystemRandom",
    "TemplateError",
    "TemplateKind",
    "Templates",
    "TemporaryDnsError",
    "Ticket",
    "TicketClosed",
    "TicketCreated",
    "TicketMoved",
    "TicketStatus",
    "TicketTaken",
    "TicketUpdated",
    "TlsMode",
    "TransientStorageError",
    "UnitOfWork",
    "User",
    "UserCreated",
    "Verdict",
    "Via",
    "Visibility",
    "__version__",
    "bind_ticket",
    "check_deliverability",
    "check_sender_domain",
    "check_spf",
    "commit",
    "default_templates",
    "from_dict",
    "from_json",
    "load_settings",
    "normalize_email",
    "notify",
    "plan_notifications",
    "process_email",
    "receipt_key",
    "render_message",
    "scopes_for",
    "send_transport",
    "to_dict",
    "to_json",
    "validate_template",
    "with_dkim",
]
