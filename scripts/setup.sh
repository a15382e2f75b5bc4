#!/usr/bin/env bash
# Create .venv (if missing) and install exactly requirements.lock (pinned, hashed: agent-pipelines'
# dependencies and the dev tools) plus agent-pipelines itself, editable. Re-running is quick: the
# install is skipped while requirements.lock and pyproject.toml are unchanged since the last one.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
recorded=$(sed -n 's/^# pyproject-dependencies: //p' requirements.lock)
if [ "$recorded" != "$("$PYTHON" scripts/deps_fingerprint.py)" ]; then
  echo "setup: pyproject.toml's dependencies changed since requirements.lock was made: run 'bash scripts/lock.sh' and commit requirements.lock" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-lock
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if ! { .venv/bin/python -m pip install --require-hashes --no-deps -r requirements.lock &&
    .venv/bin/python -m pip install --no-deps -e .; } >.venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "setup: installing agent-pipelines failed (log above)" >&2
    exit 1
  fi
  echo "$want" >"$stamp"
fi
.venv/bin/python -c "import agent_pipelines, dagster, polars, pandera" # fail loudly if the install did not work
