#!/usr/bin/env bash
# Install the library (with its `sql` extra: SQLAlchemy and Alembic, pure Python, no
# server) into a virtualenv and run its main job on the built-in sample mail: polled
# from an in-memory mailbox into a SQLite file in the current folder
# (helpdesk-mail-demo.db), notifications to an in-memory outbox. Run it twice: the
# second run creates nothing and sends nothing. Extra arguments go to `helpdesk-mail demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[sql]'
exec .venv/bin/helpdesk-mail demo "$@"
