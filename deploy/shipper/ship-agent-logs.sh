#!/usr/bin/env bash
# Ship this host's agent logs to the team bucket, every few seconds, forever (--once: one copy).
#
#   AGENT_WORK_LOGS_DIR   the local log folder (default .cache/agent-work-logs, the orchestrators')
#   AGENT_LOGS_REMOTE     rclone destination of the fleet, e.g. agentlogs:team-logs/fleet
#   AGENT_LOGS_HOST       this host's folder under it (default: hostname -s)
#   AGENT_LOGS_INTERVAL   seconds between copies (default 5)
#   AGENT_LOGS_IMPORT     transcripts to import first, comma-separated (e.g. claude-code,codex; default
#                         none): agents run by hand on this host, in this user's home folders
#   AGENT_LOGS_IMPORT_INTERVAL  seconds between those imports (default 30; each starts a Python process)
#   AGENT_PIPELINES_BIN   the agent-pipelines command for those imports (default: agent-pipelines)
#   AGENT_PIPELINES_DATA_DIR  where the imports keep what they have read (default ./data)
#
# Layout in the bucket: <remote>/<host>/stream/YYYY-MM-DD.jsonl, the daily files of the stream,
# which agent-pipelines follows (AGENT_WORK_LOGS_DIR=s3://team-logs/fleet on the Dagster side).
#
# S3 has no append: rclone re-uploads a grown file whole (size or modification time changed), and
# agent-pipelines appends only the new complete lines to its local copy. A file being written is
# copied as it is at that moment (--local-no-check-updated); a half-written last line is picked up
# with the next copy. Only files touched in the last two days are looked at (--max-age).
#
# Transcripts (AGENT_LOGS_IMPORT) are turned into events on the host, by `agent-pipelines import` into the
# log folder, before each copy: their secrets are redacted here, and only redacted events leave the host.
set -euo pipefail
LOGS="${AGENT_WORK_LOGS_DIR:-.cache/agent-work-logs}"
REMOTE="${AGENT_LOGS_REMOTE:?set AGENT_LOGS_REMOTE, e.g. agentlogs:team-logs/fleet}"
HOST="${AGENT_LOGS_HOST:-$(hostname -s)}"
INTERVAL="${AGENT_LOGS_INTERVAL:-5}"
CONFIG="${RCLONE_CONFIG:-$(dirname "$0")/rclone.conf}"
IMPORTS="${AGENT_LOGS_IMPORT:-}"
AGENT_PIPELINES="${AGENT_PIPELINES_BIN:-agent-pipelines}"
IMPORT_INTERVAL="${AGENT_LOGS_IMPORT_INTERVAL:-30}"
imported_at=-1000000
if [ -n "$IMPORTS" ] && ! command -v "$AGENT_PIPELINES" >/dev/null; then
  echo "ship-agent-logs: AGENT_LOGS_IMPORT=$IMPORTS needs agent-pipelines: install it (pip install agent-pipelines) or set AGENT_PIPELINES_BIN" >&2
  exit 2
fi

import_transcripts() {  # each source from its default folders; a failed one is said and the copy goes on
  local source
  IFS=',' read -ra sources <<<"$IMPORTS"
  for source in "${sources[@]}"; do
    source="${source// /}"
    [ -n "$source" ] || continue
    "$AGENT_PIPELINES" import "$source" --logs-dir "$LOGS" --quiet >/dev/null ||
      echo "ship-agent-logs: import $source failed (above); shipping what is there" >&2
  done
}

ship() {
  if [ -n "$IMPORTS" ] && [ $((SECONDS - imported_at)) -ge "$IMPORT_INTERVAL" ]; then
    import_transcripts
    imported_at=$SECONDS
  fi
  rclone copy "$LOGS" "$REMOTE/$HOST" \
    --config "$CONFIG" \
    --include "stream/*.jsonl" --include "agent-work-stream.jsonl" \
    --max-age 48h \
    --local-no-check-updated \
    --retries 3 --low-level-retries 5 \
    --stats 0 --log-level NOTICE
}

if [ "${1:-}" = "--once" ]; then  # one copy and its exit status (tests, cron)
  ship
  exit
fi
while true; do
  ship || echo "ship-agent-logs: copy failed, retrying in ${INTERVAL}s" >&2
  sleep "$INTERVAL"
done
