#!/usr/bin/env bash
# Re-run the performance benchmarks one after another, each writing its own BENCHMARKS.md section.
#
# Meant for a quiet machine (nothing else running): every script records the load average it met,
# and their ratios are only worth their targets when the floor and ours shared a quiet machine.
# About 30 minutes on 2 cores. Extra arguments go to bench_batch.py (e.g. --logs-from DIR... to reuse
# logs generated before instead of generating 1M, 3M and 10M events again).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
run() {
    echo "== $* (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$PY" "$@"
}
run benchmarks/bench_batch.py --cleaned-only --events 1000000 3000000 10000000 "$@"
run benchmarks/bench_rotation.py --events 1000000
run benchmarks/bench_generator.py
run benchmarks/bench_live.py
run benchmarks/bench_import.py --sessions 150 --turns 30 --mb 120
echo "== done (load: $(cut -d' ' -f1-3 /proc/loadavg)); BENCHMARKS.md holds each section as its script wrote it"
