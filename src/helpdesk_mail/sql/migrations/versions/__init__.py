"""The revisions: `hdm_books_*` (bookkeeping) and `hdm_domain_*` (domain) branches."""
