#!/usr/bin/env bash
# Create .venv (if missing) and install exactly requirements.lock (pinned, hashed: agent-pipelines'
# dependencies and the dev tools) plus agent-pipelines itself, editable. Re-running is quick: the
# install is skipped while requirements.lock and pyproject.toml are unchanged since the last one.
#
# The install uses uv (the version scripts/lock.sh pins, bootstrapped into .venv with pip): it reads
# the same hashed lock and installs it in seconds where pip takes minutes. Should uv be unavailable
# (AGENT_PIPELINES_INSTALLER=pip, or its bootstrap fails), pip installs the same lock. Either way it
# says what it is doing and how long it took; the installers' own output goes to .venv/install.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
UV_VERSION=$(sed -n 's/^UV_VERSION=//p' scripts/lock.sh)
recorded=$(sed -n 's/^# pyproject-dependencies: //p' requirements.lock)
if [ "$recorded" != "$("$PYTHON" scripts/deps_fingerprint.py)" ]; then
  echo "setup: pyproject.toml's dependencies changed since requirements.lock was made: run 'bash scripts/lock.sh' and commit requirements.lock" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi

install_with_uv() {
  .venv/bin/uv --version 2>/dev/null | grep -qx "uv $UV_VERSION.*" ||
    .venv/bin/python -m pip install --quiet "uv==$UV_VERSION"
  .venv/bin/uv pip install --python .venv/bin/python --require-hashes --no-deps -r requirements.lock &&
    .venv/bin/uv pip install --python .venv/bin/python --no-deps -e .
}

install_with_pip() {
  .venv/bin/python -m pip install --require-hashes --no-deps -r requirements.lock &&
    .venv/bin/python -m pip install --no-deps -e .
}

install() {
  if [ "${AGENT_PIPELINES_INSTALLER:-uv}" = uv ] && install_with_uv; then
    echo "installed with uv"
    return 0
  fi
  install_with_pip
}

stamp=.venv/.installed-lock
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  packages=$(grep -c '^[a-z]' requirements.lock)
  started=$SECONDS
  echo "setup: installing $packages pinned packages into .venv (first start, or requirements.lock changed; usually under a minute) ..." >&2
  install >.venv/install.log 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
      kill -0 "$pid" 2>/dev/null || break 2
      sleep 1
    done
    echo "setup: still installing ($((SECONDS - started)) s) ..." >&2
  done
  if ! wait "$pid"; then
    cat .venv/install.log >&2
    echo "setup: installing agent-pipelines failed (log above)" >&2
    exit 1
  fi
  how=$(grep -qx "installed with uv" .venv/install.log && echo uv || echo pip)
  echo "setup: installed in $((SECONDS - started)) s ($how; its log: .venv/install.log)" >&2
  echo "$want" >"$stamp"
fi
# Bytecode compiled once, here: uv installs none, and where PYTHONDONTWRITEBYTECODE is set (or the
# folder is read-only) every process compiled polars, pandera, pydantic and the price tables from
# source each start, which an import's spawned worker processes paid in the middle of the pass
# (~0.6 s each). Python checks each .pyc against its source, so an edited module is never run stale.
bytecode=.venv/.compiled-bytecode
if [ "$(cat "$bytecode" 2>/dev/null)" != "$want" ]; then
  started=$SECONDS
  packages_dir=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  if .venv/bin/python -m compileall -q -j 0 "$packages_dir" >.venv/compile.log 2>&1; then
    echo "setup: bytecode compiled in $((SECONDS - started)) s" >&2
  else
    echo "setup: some installed modules were not precompiled (.venv/compile.log); they compile when imported" >&2
  fi
  echo "$want" >"$bytecode"
fi
.venv/bin/python -m compileall -q agent_pipelines >/dev/null 2>&1 || true # ours (gitignored __pycache__)
.venv/bin/python -c "import agent_pipelines, dagster, polars, pandera" # fail loudly if the install did not work
