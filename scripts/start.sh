#!/usr/bin/env bash
# Set up and start the product: the Dagster UI on http://127.0.0.1:3000 with its sensors and
# schedules, on demo logs when no agent logs exist yet. Extra arguments go to `agent-pipelines ui`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/agent-pipelines ui "$@"
