#!/usr/bin/env bash
# Set up and run the test suite (lint, format check, type check, pytest). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # files and settings: [tool.mypy] in pyproject.toml
.venv/bin/python -m pytest -q "$@"
