"""The revisions: `hdm_books_*` (bookkeeping) and `hdm_domain_*` (domain) branches.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""
