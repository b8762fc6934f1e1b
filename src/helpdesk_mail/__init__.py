"""helpdesk_mail: the whole email side of a helpdesk, as an embeddable library.

Incoming mail becomes ticket actions (`process_email`), ticket events become
planned notifications (`plan_notifications`), rendered from templates and sent.
The core does no I/O: storage, transports, clock and randomness are protocols
(`helpdesk_mail.ports`) with in-memory versions in `helpdesk_mail.memory`.
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
    SuppressRecipients,
)
from .commit import commit
from .events import (
    Event,
    InboundFlood,
    KBArticleUpdated,
    MailboxAccountDisabled,
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
from .inbound.process import process_email
from .inbound.result import Address, DiscardReason, InboundResult, ParsedEmail, Verdict
from .kinds import TemplateKind
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
from .outbound.compose import render_message
from .outbound.plan import plan_notifications, scopes_for
from .planned import NotificationPlan, PlannedEmail, Recipient
from .settings import (
    IncomingSettings,
    MailboxAccount,
    NotificationSettings,
    OAuth2Settings,
    OutgoingSettings,
    Settings,
    SettingsError,
    load_settings,
)
from .shell.delivery import Deliverer, NotifyReport, notify
from .shell.poller import Poller, PollReport
from .spf import check_sender_domain, check_spf
from .templating import TemplateError, Templates, validate_template
from .transports.mailbox import MailTransport

__version__ = "0.1.0"

__all__ = [
    "Action",
    "AddComment",
    "AddSubscribers",
    "Address",
    "Attachment",
    "Category",
    "CloseTicket",
    "Comment",
    "CommitOutcome",
    "CreateTicket",
    "CreateUser",
    "CustomField",
    "Deliverer",
    "Discard",
    "DiscardReason",
    "Event",
    "InboundFlood",
    "InboundResult",
    "IncomingSettings",
    "KBArticle",
    "KBArticleUpdated",
    "MailTransport",
    "MailboxAccount",
    "MailboxAccountDisabled",
    "NotificationPlan",
    "NotificationSettings",
    "NotifyReport",
    "OAuth2Settings",
    "OutgoingSettings",
    "ParsedEmail",
    "PlannedEmail",
    "PollReport",
    "Poller",
    "Recipient",
    "RemoveSubscriber",
    "ReopenTicket",
    "Role",
    "Settings",
    "SettingsError",
    "StaffAddressSuppressed",
    "SuppressRecipients",
    "TemplateError",
    "TemplateKind",
    "Templates",
    "Ticket",
    "TicketClosed",
    "TicketCreated",
    "TicketMoved",
    "TicketStatus",
    "TicketTaken",
    "TicketUpdated",
    "User",
    "UserCreated",
    "Verdict",
    "Via",
    "Visibility",
    "__version__",
    "bind_ticket",
    "check_sender_domain",
    "check_spf",
    "commit",
    "load_settings",
    "notify",
    "plan_notifications",
    "process_email",
    "render_message",
    "scopes_for",
    "validate_template",
]
