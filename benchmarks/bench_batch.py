"""Batch analytics benchmark: cleaned events for every partition, then everything downstream.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--events 1000000 3000000 10000000]``

For each size, generated logs over 30 days (cached under ``benchmarks/out/batch-<N>``, or read from
a folder given with ``--logs-from`` that holds ``batch-<N>``), each stage in its own subprocess so its
peak memory is its own:

Peak memory is each stage process's high-water resident set (``VmHWM``).

* ``floor``: ``polars.read_ndjson`` of every daily file, schema inferred over all rows (a value of
  the wrong type far down a file fails a partial inference); lines that are not JSON objects are
  removed beforehand, outside the timing (``read_ndjson`` refuses a file with one bad line);
* ``naive``: a plain ``json.loads`` loop over the same lines;
* ``cleaned (library)``: what the ``cleaned_events`` asset does per day — ``read_logs`` (contract,
  types, flattening, quarantine), ``dedupe``, Parquet write, quarantine write — without Dagster;
* ``cleaned (dagster)``: one ``dg.materialize`` of ``cleaned_events`` and its checks over every day
  (a single-run backfill: the ``agent-pipelines materialize`` path, with the pandera check);
* ``per-day results (dagster)``: one run of the small per-day assets over every day
  (``session_parts``, ``error_events``, ``task_events``);
* ``downstream (dagster)``: one ``dg.materialize`` of every unpartitioned asset over all days
  (session metrics, comparisons, success metrics, error clusters, insights), with per-step times.

Then the **incremental refresh**: logs with the same events per day over 30 and over 90 days. All
days but the last are materialized (untimed); then the last day arrives and is refreshed the way the
sensor does it — the daily assets for that day, then the unpartitioned ones — against a full
recomputation of the two heavy views (``metrics.session_metrics`` and ``errors.error_occurrences``
over every event, what each refresh cost before the per-day results).

Results go to the ``## Batch analytics`` section of BENCHMARKS.md.

``--cleaned-only`` measures just the floor against ``cleaned (library)`` (and, at the ``--dagster-at``
sizes, 1M and 10M events by default, ``cleaned (dagster)`` with the pandera check's own step time),
alternated ``--rounds`` times
(best of each, wall and CPU seconds), so that on a shared machine they meet the same load, with each
stage's peak memory and what its imports alone take; its results go to their own section,
``## Cleaned events against the read_ndjson floor``, with the peak memory's growth from size to size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from batch_report import CLEANED_HEADING, cleaned_section, section  # noqa: E402
from batch_stages import (  # noqa: E402
    REFRESH_EVENTS_PER_DAY,
    REFRESH_STAGES,
    STAGES,
    _clean_copies,
    _daily_files,
    peak_rss_mib,
)
from benchmarks_md import write_section  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
NAIVE_MAX_EVENTS = 3_000_000
EVENTS_PER_TASK = 36.8  # measured: the generator writes ~36.8 events per task at 30 days
START = date(2026, 1, 5)


def run_stage(name: str, logs: Path, work: Path) -> dict:
    """One stage in a fresh interpreter; its own peak RSS is part of the result."""
    completed = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--logs", str(logs), "--work", str(work)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"stage {name} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


LOG_FOLDERS: list[Path] = []  # ``--logs-from``: folders holding logs generated before (``batch-<N>``)


def ensure_logs(events: int, days: int = 30) -> Path:
    from agent_pipelines.generator import generate

    name = f"batch-{events}" if days == 30 else f"batch-{events}-{days}d"
    for folder in LOG_FOLDERS:  # the generator's output from an earlier run, read in place
        if (folder / name / "ground-truth.json").exists():
            return folder / name
    target = OUT / name
    truth = target / "ground-truth.json"
    if truth.exists():
        return target
    tasks = max(1, int(events / EVENTS_PER_TASK))
    print(f"generating ~{events:,} events ({tasks:,} tasks, {days} days) into {target} ...", flush=True)
    started = time.perf_counter()
    generate(target, days=days, tasks=tasks, seed=3, start=START, force=True, transcripts=False)
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
    return target


def bench(events: int) -> dict:
    logs = ensure_logs(events)
    truth = json.loads((logs / "ground-truth.json").read_text())
    work = OUT / f"batch-work-{events}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: dict = {"events": truth["events_written"],
                     "bytes": sum(p.stat().st_size for p in _daily_files(logs))}  # fmt: skip
    _clean_copies(logs, work)  # prepared here, so the floor's time and memory are read_ndjson's alone
    for name in STAGES:
        load = os.getloadavg()[0]
        if name == "naive" and events > NAIVE_MAX_EVENTS:
            results[name] = None  # a reference, not a target: skipped where it would take minutes
            continue
        results[name] = run_stage(name, logs, work)
        results[name]["load"] = load
        r = results[name]
        print(f"  {events:>11,} {name:<16} {r['seconds']:8.1f} s  peak {r['maxrss_mib']:7,.0f} MiB  "
              f"(load {load:.1f})", flush=True)  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return results


def bench_refresh(days: int) -> dict:
    """A new day on top of ``days - 1`` days of history: the incremental refresh vs a full one."""
    logs = ensure_logs(REFRESH_EVENTS_PER_DAY * days, days=days)
    work = OUT / f"batch-refresh-{days}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result: dict = {"days": days}
    for name in REFRESH_STAGES:
        load = os.getloadavg()[0]
        result[name] = run_stage(name, logs, work)
        result[name]["load"] = load
        r = result[name]
        print(f"  {days:>3} days {name:<16} {r['seconds']:8.1f} s  peak {r['maxrss_mib']:7,.0f} MiB  "
              f"(load {load:.1f})", flush=True)  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return result


def bench_cleaned(events: int, rounds: int = 2, dagster: bool = False) -> dict:
    """The floor and the library's cleaned-events pass (and with ``dagster`` the same through one
    Dagster run, with the pandera check), alternated ``rounds`` times (best of each): on a shared
    machine they then meet the same load, which one stage after the other does not."""
    logs = ensure_logs(events)
    truth = json.loads((logs / "ground-truth.json").read_text())
    work = OUT / f"batch-work-{events}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _clean_copies(logs, work)
    result: dict = {"events": truth["events_written"], "loads": [], "rounds": rounds}
    stages = ("floor", "cleaned_library", *(("cleaned_dagster",) if dagster else ()))
    for _ in range(rounds):
        for name in stages:
            result["loads"].append(os.getloadavg()[0])
            r = run_stage(name, logs, work)
            cpu = f"cpu {r['cpu_seconds']:7.1f} s" if "cpu_seconds" in r else " " * 13
            peak = f"peak {r['maxrss_mib']:6,.0f} MiB"
            print(f"  {events:>11,} {name:<16} {r['seconds']:8.1f} s  {cpu}  {peak}  "
                  f"(load {result['loads'][-1]:.1f})", flush=True)  # fmt: skip
            best = result.get(name)
            if best is None or r["seconds"] < best["seconds"]:
                result[name] = r
            if "cpu_seconds" in r:
                result[f"{name}_cpu"] = min(result.get(f"{name}_cpu", r["cpu_seconds"]), r["cpu_seconds"])
            result[f"{name}_peak"] = max(result.get(f"{name}_peak", 0.0), r["maxrss_mib"])
    result["loads"].append(os.getloadavg()[0])
    shutil.rmtree(work, ignore_errors=True)
    return result


def bench_cleaned_sizes(
    sizes: list[int],
    rounds: int,
    budget_minutes: float | None,
    not_run: list[int] | None = None,
    dagster_at: list[int] | None = None,
) -> list[dict]:
    """:func:`bench_cleaned` for each size, smallest first (``rounds`` alternations at the smallest,
    one at the larger ones, which take minutes each); a size not started within the time budget is
    recorded as not run, with the minutes spent and the load at that moment."""
    started = time.perf_counter()
    runs: list[dict] = []
    for events in sorted(sizes):
        if events in (not_run or []):
            load = os.getloadavg()[0]
            why = f"left out of this run (`--not-run`): at load {load:.1f} "
            runs.append({"events": events, "not_run": why +
                         "its generation, clean copies and two passes would have taken some 20-30 "
                         "minutes, past the time this session had left"})  # fmt: skip
            continue
        spent = (time.perf_counter() - started) / 60
        if budget_minutes is not None and runs and spent >= budget_minutes:
            runs.append({"events": events, "not_run": f"the {budget_minutes:.0f}-minute budget was used up "
                         f"after {spent:.0f} minutes (load {os.getloadavg()[0]:.1f})"})  # fmt: skip
            print(f"  {events:>11,} not run: {runs[-1]['not_run']}", flush=True)
            continue
        rounds_here = rounds if events == min(sizes) else 1
        runs.append(bench_cleaned(events, rounds_here, dagster=events in (dagster_at or [])))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    parser.add_argument("--not-run", type=int, nargs="*", default=[],
                        help="sizes left out of this run (said so in the output, with the load)")  # fmt: skip
    parser.add_argument("--refresh-days", type=int, nargs="*", default=[30, 90],
                        help="history lengths for the incremental refresh (none: skip it)")  # fmt: skip
    parser.add_argument(
        "--cleaned-only",
        action="store_true",
        help="only the floor against the library's cleaned events, alternated (own section)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternations for --cleaned-only")
    parser.add_argument("--dagster-at", type=int, nargs="*", default=[1_000_000, 10_000_000],
                        help="--cleaned-only: sizes that also run through Dagster (one run of "
                        "cleaned_events and its checks), alternated with the others")  # fmt: skip
    parser.add_argument("--budget", type=float, help="--cleaned-only: minutes after which no new size starts")
    parser.add_argument("--logs-from", type=Path, nargs="*", default=[],
                        help="folders with logs made before (batch-<N>): read, not regenerated")  # fmt: skip
    parser.add_argument("--stage", choices=sorted({**STAGES, **REFRESH_STAGES}), help=argparse.SUPPRESS)
    parser.add_argument("--logs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = {**STAGES, **REFRESH_STAGES}[args.stage](args.logs, args.work)
        result["maxrss_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    LOG_FOLDERS.extend(args.logs_from)
    if args.cleaned_only:
        runs = bench_cleaned_sizes(args.events, args.rounds, args.budget, args.not_run, args.dagster_at)
        text = cleaned_section(runs, args.rounds)
        print(text)
        if not args.no_write:
            write_section(CLEANED_HEADING, text)
        return
    runs = [bench(n) for n in sorted(args.events)]
    refreshes = [bench_refresh(d) for d in sorted(args.refresh_days)]
    text = section(runs, refreshes, not_run=args.not_run)
    print(text)
    if not args.no_write:
        write_section("## Batch analytics", text)


if __name__ == "__main__":
    main()
