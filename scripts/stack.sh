#!/usr/bin/env bash
# The team deployment (deploy/docker-compose.yml) on this machine without containers: PostgreSQL, the
# code location's gRPC server, both webservers, the daemon and nginx as local processes on 127.0.0.1,
# from the compose file's own commands and deploy/.env (scripts/local_stack.py has the table of what
# stands in for the containers). Needs Debian's postgresql and nginx-light (or nginx) packages and the
# files README's "Running for a team" has you create (deploy/.env, htpasswd files, deploy/tls/).
# Runs in the foreground; Ctrl-C stops every service.
#
#   bash scripts/stack.sh [--deploy-dir deploy] [--state .cache/stack]
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
python="$here/../.venv/bin/python"
[ -x "$python" ] || python=python3
exec "$python" "$here/local_stack.py" "$@"
