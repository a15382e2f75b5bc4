#!/usr/bin/env bash
# Re-make requirements.lock from pyproject.toml: every package (dev tools included) pinned to one
# version with its hashes. Run it after changing pyproject.toml's dependencies and commit both files.
# Pins already in the lock are kept; `bash scripts/lock.sh --upgrade` moves everything to the newest.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if ! .venv/bin/uv --version 2>/dev/null | grep -qx "uv $UV_VERSION.*"; then
  .venv/bin/python -m pip install --quiet "uv==$UV_VERSION"
fi
body=$(mktemp)
trap 'rm -f "$body"' EXIT
[ ! -f requirements.lock ] || cp requirements.lock "$body"
.venv/bin/uv pip compile pyproject.toml --extra dev --universal --generate-hashes --quiet \
  --no-header --index-url https://pypi.org/simple -o "$body" "$@"
{
  echo "# Pinned, hashed install set for agent-pipelines and its dev tools: made by 'bash scripts/lock.sh'"
  echo "# from pyproject.toml; scripts/setup.sh installs exactly this. Do not edit by hand."
  echo "# pyproject-dependencies: $("$PYTHON" scripts/deps_fingerprint.py)"
  cat "$body"
} >requirements.lock
echo "lock: wrote requirements.lock ($(grep -c '^[a-z]' requirements.lock) packages)"
