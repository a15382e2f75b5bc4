#!/usr/bin/env bash
# Set up and start the product: the Dagster UI on http://127.0.0.1:3000 with its sensors and
# schedules, on demo logs when no agent logs exist yet. Extra arguments go to `agent-pipelines ui`.
# Each step says what it does (installing, generating demo logs, starting Dagster), so a first start
# is never minutes of silence.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "start: starting the Dagster UI (webserver and daemon; the first load takes a few seconds) ..." >&2
exec .venv/bin/agent-pipelines ui "$@"
