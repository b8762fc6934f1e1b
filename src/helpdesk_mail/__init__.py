"""helpdesk_mail."""
