"""Alembic's environment for the SQL storage's migrations.

Run by `helpdesk_mail.sql.upgrade`, which passes its connection in
`config.attributes["connection"]`; the `alembic` command works too, with a config whose
`script_location` is `helpdesk_mail.sql:migrations` and `sqlalchemy.url` the database
(offline `--sql` mode included). Revisions are kept in `hdm_alembic_version` and only
`hdm_` tables are looked at, so a host's own tables and Alembic history are left alone.

Internal: not part of the public API (docs/architecture.md, "The public surface").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from helpdesk_mail.sql.engine import make_engine
from helpdesk_mail.sql.migrate import VERSION_TABLE, include_name
from helpdesk_mail.sql.schema import metadata

config = context.config


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        render_as_batch=True,  # SQLite changes tables by copying them
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _run(connection: sa.Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if isinstance(given, sa.Connection):
        _run(given)
    else:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no database: set sqlalchemy.url or pass a connection")
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                _run(connection)
                connection.commit()
        finally:
            engine.dispose()
