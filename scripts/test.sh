#!/usr/bin/env bash
# Install what the tests need (a virtualenv with the test extras; the real servers'
# Debian packages are installed by tests/services/*.sh when first started) and run
# the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,dev]'
exec .venv/bin/python -m pytest "$@"
