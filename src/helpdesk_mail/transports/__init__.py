"""The wire: IMAP, POP3, SMTP, DNS, TLS, OAuth2, DKIM and secrets.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""
