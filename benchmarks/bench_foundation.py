"""Foundation benchmark: generator rate, and the reader against polars.read_ndjson.

Run: ``.venv/bin/python benchmarks/bench_foundation.py [--events 10000000] [--reader-events 1000000]``

Measures, in one run on this machine:

* the generator writing N events (target: 10 million in under 3 minutes);
* our reader (parse + contract checks + typing + quarantine) over ~1 million events, against
  ``polars.read_ndjson`` of the same files (the floor: parsing alone, no checks) and a plain
  ``json.loads`` loop (the naive baseline). Ratios, not absolute times, are the result.

Results are printed and written to the ``## Foundation`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks_md import write_section  # noqa: E402

from agent_pipelines.core.reader import read_file, stream_files  # noqa: E402
from agent_pipelines.generator import generate  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
EVENTS_PER_TASK = 36.7  # measured: the generator writes ~36.7 events per task on average


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench_generator(events: int) -> dict:
    target = OUT / f"gen-{events}"
    tasks = max(1, int(events / EVENTS_PER_TASK))
    stats, seconds = timed(
        lambda: generate(
            target, days=30, tasks=tasks, seed=1, start=date(2026, 1, 5), force=True, progress=None
        )
    )
    size = sum(p.stat().st_size for p in (target / "stream").glob("*.jsonl"))
    return {"events": stats.events, "seconds": seconds, "rate": stats.events / seconds, "bytes": size,
            "path": str(target)}  # fmt: skip


def bench_reader(reader_events: int) -> dict:
    target = OUT / f"reader-{reader_events}"
    if not (target / "ground-truth.json").exists():
        generate(target, days=10, tasks=max(1, int(reader_events / EVENTS_PER_TASK)), seed=2,
                 start=date(2026, 1, 5), force=True, transcripts=False)  # fmt: skip
    files = stream_files(target)
    size = sum(p.stat().st_size for p in files)

    def ours() -> int:
        return sum(read_file(p).events.height for p in files)

    # The floor parses the same lines minus the ones that are not JSON objects (read_ndjson refuses a
    # whole file for one of them), prepared outside the timing; the schema is inferred over all rows
    # because a wrongly typed value far down a file makes a sampled schema fail.
    clean = [b"\n".join(line for line in p.read_bytes().split(b"\n") if _parses(line)) + b"\n" for p in files]

    def floor() -> int:
        return sum(pl.read_ndjson(io.BytesIO(data), infer_schema_length=None).height for data in clean)

    def naive() -> int:
        rows = []
        for p in files:
            with open(p, "rb") as handle:
                for line in handle:
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        continue
        return len(rows)

    results = {}
    for name, fn in (("ours", ours), ("read_ndjson", floor), ("json_loads", naive)):
        best = None
        for _ in range(2):
            rows, seconds = timed(fn)
            best = seconds if best is None else min(best, seconds)
        results[name] = {"rows": rows, "seconds": best, "rate": rows / best}
    results["bytes"] = size
    return results


def _parses(line: bytes) -> bool:
    if not line.strip() or len(line) >= (1 << 20):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--reader-events", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    gen = bench_generator(args.events)
    print(f"generator: {gen['events']:,} events in {gen['seconds']:.1f} s = {gen['rate']:,.0f} events/s")
    rd = bench_reader(args.reader_events)
    for name in ("ours", "read_ndjson", "json_loads"):
        r = rd[name]
        print(f"{name:>12}: {r['rows']:,} rows in {r['seconds']:.2f} s = {r['rate']:,.0f} rows/s")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    section = f"""## Foundation

Measured by `benchmarks/bench_foundation.py` on {platform.machine()}, {os.cpu_count()} cores, Python
{platform.python_version()}, polars {pl.__version__}, on {time.strftime("%Y-%m-%d")}.

**Generator**: {gen["events"]:,} events over 30 days ({gen["bytes"] / 1e9:.2f} GB of stream JSONL, plus errors,
metrics, transcripts and ground truth) in **{gen["seconds"]:.1f} s = {gen["rate"]:,.0f} events/s** (target: 10
million in under 180 s).

**Reader** on {rd["ours"]["rows"]:,} events ({rd["bytes"] / 1e6:.0f} MB), best of 2:

| reader | what it does | seconds | rows/s | vs `read_ndjson` |
|---|---|---:|---:|---:|
| `polars.read_ndjson` (floor) | parse only (schema inferred over all rows), non-JSON lines removed beforehand | {rd["read_ndjson"]["seconds"]:.2f} | {rd["read_ndjson"]["rate"]:,.0f} | 1.00x |
| ours (`reader.read_file`) | parse, contract checks, typing, flattening, quarantine | {rd["ours"]["seconds"]:.2f} | {rd["ours"]["rate"]:,.0f} | {rd["ours"]["seconds"] / rd["read_ndjson"]["seconds"]:.2f}x |
| `json.loads` loop (naive) | parse only, Python objects | {rd["json_loads"]["seconds"]:.2f} | {rd["json_loads"]["rate"]:,.0f} | {rd["json_loads"]["seconds"] / rd["read_ndjson"]["seconds"]:.2f}x |

Peak memory of the benchmark process: {maxrss:,.0f} MiB.
"""  # noqa: E501
    print(section)
    if not args.no_write:
        write_section("## Foundation", section)


if __name__ == "__main__":
    main()
