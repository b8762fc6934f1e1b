"""The public surface, pinned (after httpx's test_exported_members).

Changing what `helpdesk_mail` exports is a decision: this list changes with it.
"""

from __future__ import annotations

import inspect

import helpdesk_mail

EXPORTED = [
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


def test_the_exported_names_are_pinned() -> None:
    assert sorted(helpdesk_mail.__all__) == EXPORTED


def test_every_public_attribute_is_exported_and_every_export_exists() -> None:
    public = {
        name
        for name in dir(helpdesk_mail)
        if not name.startswith("_") and not inspect.ismodule(getattr(helpdesk_mail, name))
    }
    assert public == set(EXPORTED) - {"__version__"}


def test_every_exported_class_and_function_says_what_it_is() -> None:
    for name in EXPORTED:
        value = getattr(helpdesk_mail, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), name
