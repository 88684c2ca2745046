#!/usr/bin/env bash
# The quality gates: ruff (lint and format) and mypy on the package, with the project's
# configuration (pyproject.toml) and the tool versions of the extra `lint`.
# Uses the test venv (.venv-test, made by scripts/test.sh) and adds the tools to it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-test/bin/python ] || python3 -m venv .venv-test
.venv-test/bin/pip install -q -e '.[test,lint]'
status=0
.venv-test/bin/ruff check cstapopup || status=1
.venv-test/bin/ruff format --check cstapopup || status=1
.venv-test/bin/mypy || status=1
exit "$status"
