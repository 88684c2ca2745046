#!/usr/bin/env bash
# Set up a fresh virtual environment with the project and its test tools, then run the tests.
# Used by README ("run the tests") and by CI (.ci/run).  Exit code 5 (no tests) fails.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-test
.venv-test/bin/pip install -q --upgrade pip
.venv-test/bin/pip install -q -e '.[test]'
set +e
.venv-test/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$rc"
