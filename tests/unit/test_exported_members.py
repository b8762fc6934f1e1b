"""The public surface, pinned (after httpx's test_exported_members).

Changing what `helpdesk_mail` exports is a decision: this list changes with it.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

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


# The modules a host may import besides the package itself (docs/architecture.md, "The
# public surface"); every other module says in its docstring that it is internal.
PUBLIC_MODULES = {
    "helpdesk_mail",
    "helpdesk_mail.memory",
    "helpdesk_mail.ports",
    "helpdesk_mail.samples",
    "helpdesk_mail.samples.preview",
    "helpdesk_mail.sql",
    "helpdesk_mail.templating",
    "helpdesk_mail.testing",
}
INTERNAL = 'Internal: not part of the public API (docs/architecture.md, "The public surface").'
SOURCE = Path(helpdesk_mail.__file__).resolve().parents[1]


def _modules() -> dict[str, str]:
    """Every module of the package by dotted name, with its docstring."""
    found: dict[str, str] = {}
    for path in sorted(SOURCE.joinpath("helpdesk_mail").rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""
    return found


def test_every_module_that_is_not_public_says_it_is_internal() -> None:
    modules = _modules()
    assert modules.keys() >= PUBLIC_MODULES
    unmarked = [
        name for name, doc in modules.items() if name not in PUBLIC_MODULES and INTERNAL not in doc
    ]
    marked = [name for name in PUBLIC_MODULES if INTERNAL in modules[name]]
    assert unmarked == [] and marked == []


def test_the_docs_import_from_public_modules_only() -> None:
    docs = SOURCE.parent / "docs"
    imported = {
        (page.name, match.group(1))
        for page in [*docs.glob("*.md"), SOURCE.parent / "README.md"]
        for match in re.finditer(
            r"^\s*(?:from|import) (helpdesk_mail[\w.]*)", page.read_text("utf-8"), re.M
        )
    }
    assert imported, "no Python example found in the docs"
    assert sorted(pair for pair in imported if pair[1] not in PUBLIC_MODULES) == []
