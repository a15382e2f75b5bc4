#!/usr/bin/env bash
# Set up and run the test suite (lint, format check, import contracts, type check, pytest). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-cache  # the package boundaries: [tool.importlinter] in pyproject.toml
.venv/bin/mypy  # files and settings: [tool.mypy] in pyproject.toml
# Two test processes (the CI machine's two cores), each taking whole files so module fixtures start once;
# PYTEST_WORKERS=0 runs them in this process.
.venv/bin/python -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
