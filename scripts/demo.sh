#!/usr/bin/env bash
# Install the library into a virtualenv and run its main job on the built-in sample
# mail with in-memory backends. Extra arguments go to `helpdesk-mail demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/helpdesk-mail demo "$@"
