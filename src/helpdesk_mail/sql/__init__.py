"""SQL storage on SQLAlchemy 2.0 Core: SQLite (embedded, the default) and PostgreSQL.

Install `helpdesk_mail[sql]` (SQLite) or `helpdesk_mail[postgresql]` (adds psycopg 3).

- `SqlStorage(engine_or_url)`: a complete `Storage` (domain tables and the library's
  bookkeeping) for a helpdesk without tables of its own, and for the demo.
- `SqlBookkeeping(connection)`: only the library's records, on a connection (and in a
  transaction) the host owns, next to its own ticket tables.
- `upgrade(engine_or_url)`: create or update the tables (Alembic migrations shipped in
  the package); `SqlStorage` refuses a database that is not current.

docs/sql.md explains each, with examples.
"""

from .books import SqlBookkeeping
from .domain import SqlDomain
from .engine import DatabaseUrlError, configure_engine, is_transient, make_engine
from .migrate import SchemaNotCurrent, check_schema, upgrade
from .passwords import hash_generated_password, hash_password, verify_password
from .schema import BOOKKEEPING_TABLES, DOMAIN_TABLES, metadata
from .storage import DatabaseUnavailable, SqlStorage, SqlTransientError, SqlUnit

__all__ = [
    "BOOKKEEPING_TABLES",
    "DOMAIN_TABLES",
    "DatabaseUnavailable",
    "DatabaseUrlError",
    "SchemaNotCurrent",
    "SqlBookkeeping",
    "SqlDomain",
    "SqlStorage",
    "SqlTransientError",
    "SqlUnit",
    "check_schema",
    "configure_engine",
    "hash_generated_password",
    "hash_password",
    "is_transient",
    "make_engine",
    "metadata",
    "upgrade",
    "verify_password",
]
