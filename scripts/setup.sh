#!/usr/bin/env bash
# Create .venv (if missing) and install agent-pipelines into it, with the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
if ! .venv/bin/python -m pip install --quiet -e '.[dev]' >.venv/install.log 2>&1; then
  cat .venv/install.log >&2
  echo "setup: installing agent-pipelines failed (log above)" >&2
  exit 1
fi
.venv/bin/python -c "import agent_pipelines, dagster, polars, pandera" # fail loudly if the install did not work
