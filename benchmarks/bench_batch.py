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

``--cleaned-only`` measures just the floor against ``cleaned (library)``, alternated ``--rounds``
times (best of each, wall and CPU seconds), so that on a shared machine both meet the same load;
its results go to their own section, ``## Cleaned events against the read_ndjson floor``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks_md import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "benchmarks" / "out"
NAIVE_MAX_EVENTS = 3_000_000
REFRESH_EVENTS_PER_DAY = 10_000
EVENTS_PER_TASK = 36.8  # measured: the generator writes ~36.8 events per task at 30 days
START = date(2026, 1, 5)


# --------------------------------------------------------------------------------------------
# Stages (each runs in a subprocess: `bench_batch.py --stage NAME --logs DIR --work DIR`)
# --------------------------------------------------------------------------------------------


def _daily_files(logs: Path) -> list[Path]:
    return sorted((logs / "stream").glob("*.jsonl"))


_NOT_JSON = ("malformed_json", "invalid_utf8", "not_an_object", "line_too_long", "truncated_line")


def _clean_copies(logs: Path, work: Path) -> list[Path]:
    """Copies of the daily files without the lines that are not JSON objects (for the floor).

    The reader's quarantine says which lines those are (it bisects blocks with polars, so this is
    quick); lines that are JSON but break the contract stay, since ``read_ndjson`` parses them.
    """
    from agent_pipelines.reader import read_file

    folder = work / "clean-json"
    if folder.exists():
        return sorted(folder.glob("*.jsonl"))
    folder.mkdir(parents=True)
    for path in _daily_files(logs):
        quarantine = read_file(path, final=True).quarantine
        bad = set(quarantine.filter(quarantine["reason"].is_in(_NOT_JSON))["line_number"].to_list())
        lines = path.read_bytes().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        keep = [line for number, line in enumerate(lines, 1) if number not in bad and line.strip()]
        (folder / path.name).write_bytes(b"\n".join(keep) + b"\n")
    return sorted(folder.glob("*.jsonl"))


def stage_floor(logs: Path, work: Path) -> dict:
    import polars as pl

    files = _clean_copies(logs, work)
    start, cpu = time.perf_counter(), _cpu_seconds()
    rows = 0
    for path in files:
        rows += pl.read_ndjson(io.BytesIO(path.read_bytes()), infer_schema_length=None).height
    return {"seconds": time.perf_counter() - start, "cpu_seconds": _cpu_seconds() - cpu, "rows": rows}


def _cpu_seconds() -> float:
    """This process's CPU time (every thread, user + system): less sensitive to the other work on a
    shared machine than the wall clock, which waits for a core."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stage_naive(logs: Path, work: Path) -> dict:
    start = time.perf_counter()
    rows = 0
    for path in _daily_files(logs):
        parsed = []
        with open(path, "rb") as handle:
            for line in handle:
                try:
                    parsed.append(json.loads(line))
                except ValueError:
                    continue
        rows += len(parsed)
    return {"seconds": time.perf_counter() - start, "rows": rows}


def stage_cleaned_library(logs: Path, work: Path) -> dict:
    import dagster as dg

    from agent_pipelines.io_manager import table_path, write_parquet
    from agent_pipelines.partitions import log_days
    from agent_pipelines.quarantine import quarantine_of_day, write_quarantine
    from agent_pipelines.reader import dedupe, read_days

    data = work / "library-data"
    shutil.rmtree(data, ignore_errors=True)
    start, cpu = time.perf_counter(), _cpu_seconds()
    today = datetime.now(UTC).date()
    rows = quarantined = 0
    for day, result in read_days(logs, log_days(logs), final_before=today):  # as the asset does
        events = dedupe(result.events)
        write_parquet(events, table_path(data / "tables", dg.AssetKey("cleaned_events"), day.isoformat()))
        quarantine = quarantine_of_day(result.quarantine, day, logs)
        write_quarantine(data, quarantine)
        rows += events.height
        quarantined += quarantine.height
    return {"seconds": time.perf_counter() - start, "cpu_seconds": _cpu_seconds() - cpu, "rows": rows,
            "quarantined": quarantined}  # fmt: skip


def _dagster(work: Path):
    os.environ["DAGSTER_HOME"] = str(work / "dagster_home")
    (work / "dagster_home").mkdir(parents=True, exist_ok=True)
    import dagster as dg

    from agent_pipelines.definitions import analytics_assets

    assets, checks = analytics_assets()
    daily = [k for a in assets if getattr(a.partitions_def, "name", None) == "log_days" for k in a.keys]
    unpartitioned = [k for a in assets if a.partitions_def is None for k in a.keys]
    return dg, dg.DagsterInstance.get(), assets, checks, daily, unpartitioned


_QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _step_seconds(result) -> dict[str, float]:
    steps: dict[str, float] = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key] = event.event_specific_data.duration_ms / 1000
    return steps


def _daily_run(dg, instance, assets, checks, keys, resources, days: list[str]):
    """One run of ``keys`` over ``days`` (a single-run backfill of their range)."""
    from agent_pipelines.partitions import range_tags

    single = len(days) == 1
    return dg.materialize(
        [*assets, *checks],
        selection=keys,
        partition_key=days[0] if single else None,
        tags=None if single else range_tags(days[0], days[-1]),
        instance=instance,
        resources=resources,
        run_config=_QUIET,
    )


def _stage_daily(logs: Path, work: Path, which: str) -> dict:
    from agent_pipelines.partitions import log_days, register_partitions
    from agent_pipelines.resources import analytics_resources as build_resources

    dg, instance, assets, checks, daily, _ = _dagster(work)
    data = work / "dagster-data"
    if which == "cleaned":
        shutil.rmtree(data, ignore_errors=True)
    days = log_days(logs)
    register_partitions(instance, days)
    resources = build_resources(str(logs), str(data))
    keys = [k for k in daily if (k.to_user_string() == "cleaned_events") == (which == "cleaned")]
    start = time.perf_counter()
    result = _daily_run(dg, instance, assets, checks, keys, resources, [d.isoformat() for d in days])
    return {"seconds": time.perf_counter() - start, "partitions": len(days), "runs": 1,
            "steps": _step_seconds(result)}  # fmt: skip


def stage_cleaned_dagster(logs: Path, work: Path) -> dict:
    return _stage_daily(logs, work, "cleaned")


def stage_daily_results(logs: Path, work: Path) -> dict:
    return _stage_daily(logs, work, "derived")


def stage_downstream(logs: Path, work: Path) -> dict:
    from agent_pipelines.resources import analytics_resources as build_resources

    dg, instance, assets, checks, _, unpartitioned = _dagster(work)
    resources = build_resources(str(logs), str(work / "dagster-data"))
    start = time.perf_counter()
    result = dg.materialize([*assets, *checks], selection=unpartitioned, instance=instance,
                            resources=resources, run_config=_QUIET, raise_on_error=False)  # fmt: skip
    return {
        "seconds": time.perf_counter() - start,
        "success": result.success,
        "assets": [k.to_user_string() for k in unpartitioned],
        "steps": _step_seconds(result),
    }


def stage_refresh_setup(logs: Path, work: Path) -> dict:
    """Every day but the last, daily and unpartitioned assets (what exists before the new day)."""
    from agent_pipelines.partitions import log_days, register_partitions
    from agent_pipelines.resources import analytics_resources as build_resources

    dg, instance, assets, checks, daily, unpartitioned = _dagster(work)
    data = work / "dagster-data"
    shutil.rmtree(data, ignore_errors=True)
    days = log_days(logs)[:-1]
    register_partitions(instance, days)
    resources = build_resources(str(logs), str(data))
    start = time.perf_counter()
    _daily_run(dg, instance, assets, checks, daily, resources, [d.isoformat() for d in days])
    dg.materialize([*assets, *checks], selection=unpartitioned, instance=instance, resources=resources,
                   run_config=_QUIET)  # fmt: skip
    return {"seconds": time.perf_counter() - start, "days": len(days)}


def stage_refresh(logs: Path, work: Path) -> dict:
    """The new (last) day arrives: its daily run, then the unpartitioned assets, as the sensors do."""
    from agent_pipelines.partitions import log_days, register_partitions
    from agent_pipelines.resources import analytics_resources as build_resources

    dg, instance, assets, checks, daily, unpartitioned = _dagster(work)
    data = work / "dagster-data"
    day = log_days(logs)[-1]
    register_partitions(instance, [day])
    resources = build_resources(str(logs), str(data))
    start = time.perf_counter()
    _daily_run(dg, instance, assets, checks, daily, resources, [day.isoformat()])
    day_seconds = time.perf_counter() - start
    result = dg.materialize([*assets, *checks], selection=unpartitioned, instance=instance,
                            resources=resources, run_config=_QUIET)  # fmt: skip
    total = time.perf_counter() - start
    return {"seconds": total, "day_seconds": day_seconds, "downstream_seconds": total - day_seconds,
            "success": result.success, "steps": _step_seconds(result)}  # fmt: skip


def stage_full_recompute(logs: Path, work: Path) -> dict:
    """Before per-day results: session metrics and error clusters recomputed from every event."""
    import dagster as dg
    import polars as pl

    from agent_pipelines import errors, metrics
    from agent_pipelines.io_manager import scan_tables, table_path

    folder = table_path(work / "dagster-data" / "tables", dg.AssetKey("cleaned_events"), "x").parent
    events = scan_tables(sorted(folder.glob("*.parquet")))
    assert events is not None
    start = time.perf_counter()
    sessions = metrics.session_metrics(events)
    occurrences = errors.error_occurrences(events)
    seconds = time.perf_counter() - start
    rows = events.select(pl.len()).collect().item()
    return {"seconds": seconds, "events": rows, "sessions": sessions.height, "errors": occurrences.height}


STAGES = {
    "floor": stage_floor,
    "naive": stage_naive,
    "cleaned_library": stage_cleaned_library,
    "cleaned_dagster": stage_cleaned_dagster,
    "daily_results": stage_daily_results,
    "downstream": stage_downstream,
}
REFRESH_STAGES = {
    "refresh_setup": stage_refresh_setup,
    "refresh": stage_refresh,
    "full_recompute": stage_full_recompute,
}


def peak_rss_mib() -> float:
    """This process's peak resident memory.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over ``execve``, so a stage
    started from a big parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


CLEANED_HEADING = "## Cleaned events against the read_ndjson floor"


def bench_cleaned(events: int, rounds: int = 2) -> dict:
    """The floor and the library's cleaned-events pass, alternated ``rounds`` times (best of each):
    on a shared machine the two then meet the same load, which one stage after the other does not."""
    logs = ensure_logs(events)
    truth = json.loads((logs / "ground-truth.json").read_text())
    work = OUT / f"batch-work-{events}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _clean_copies(logs, work)
    result: dict = {"events": truth["events_written"], "loads": []}
    for _ in range(rounds):
        for name in ("floor", "cleaned_library"):
            result["loads"].append(os.getloadavg()[0])
            r = run_stage(name, logs, work)
            print(f"  {events:>11,} {name:<16} {r['seconds']:8.1f} s  cpu {r['cpu_seconds']:7.1f} s  "
                  f"(load {result['loads'][-1]:.1f})", flush=True)  # fmt: skip
            best = result.get(name)
            if best is None or r["seconds"] < best["seconds"]:
                result[name] = r
            result[f"{name}_cpu"] = min(result.get(f"{name}_cpu", r["cpu_seconds"]), r["cpu_seconds"])
            result[f"{name}_peak"] = max(result.get(f"{name}_peak", 0.0), r["maxrss_mib"])
    result["loads"].append(os.getloadavg()[0])
    shutil.rmtree(work, ignore_errors=True)
    return result


def bench_cleaned_sizes(sizes: list[int], rounds: int, budget_minutes: float | None) -> list[dict]:
    """:func:`bench_cleaned` for each size, smallest first; a size not started within the time budget
    is recorded as not run, with the minutes spent and the load at that moment."""
    started = time.perf_counter()
    runs: list[dict] = []
    for events in sorted(sizes):
        spent = (time.perf_counter() - started) / 60
        if budget_minutes is not None and runs and spent >= budget_minutes:
            runs.append({"events": events, "not_run": f"the {budget_minutes:.0f}-minute budget was used up "
                         f"after {spent:.0f} minutes (load {os.getloadavg()[0]:.1f})"})  # fmt: skip
            print(f"  {events:>11,} not run: {runs[-1]['not_run']}", flush=True)
            continue
        runs.append(bench_cleaned(events, rounds))
    return runs


def cleaned_section(runs: list[dict], rounds: int) -> str:
    measured = [r for r in runs if "not_run" not in r]
    loads = [load for r in measured for load in r["loads"]]
    lines = [
        CLEANED_HEADING,
        "",
        f"`benchmarks/bench_batch.py --cleaned-only` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, polars {_version('polars')}, on {time.strftime('%Y-%m-%d')}: "
        "the floor (`polars.read_ndjson` of every daily file, schema inferred, bad lines removed "
        "beforehand) and what the `cleaned_events` asset does per day without Dagster (`read_logs`: "
        "contract, types, flattening, quarantine; `dedupe`; Parquet; quarantine file), each in its own "
        f"process, **alternated {rounds} times, best of each**, so both meet the same load. "
        f"**Loaded machine**: 1-minute load average {min(loads):.1f}–{max(loads):.1f} on "
        f"{os.cpu_count()} cores (shared with other work). CPU seconds are the process's own "
        "(every thread), less sensitive to that load than the wall clock. Peak memory is each "
        "process's high-water RSS (`VmHWM`): the floor holds a whole day's frame, the library reads "
        "a day in blocks of at most 32 MiB and holds that day's cleaned rows.",
        "",
        "| events | floor s | library s | ratio | floor CPU s | library CPU s | CPU ratio | floor peak MiB "
        "| library peak MiB | load | target |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in runs:
        if "not_run" in r:
            lines.append(f"| {r['events']:,} | not run: {r['not_run']} | | | | | | | | | |")
            continue
        ratio = r["cleaned_library"]["seconds"] / r["floor"]["seconds"]
        cpu_ratio = r["cleaned_library_cpu"] / r["floor_cpu"]
        lines.append(
            f"| {r['events']:,} | {r['floor']['seconds']:.1f} | {r['cleaned_library']['seconds']:.1f} | "
            f"**{ratio:.2f}x** | {r['floor_cpu']:.1f} | {r['cleaned_library_cpu']:.1f} | {cpu_ratio:.2f}x | "
            f"{r['floor_peak']:,.0f} | {r['cleaned_library_peak']:,.0f} | "
            f"{min(r['loads']):.1f}–{max(r['loads']):.1f} | ≤ 1.3x {_mark(ratio <= 1.3)} |"
        )
    if len(measured) > 1:
        a, b = measured[0], measured[-1]
        grow = b["events"] / a["events"]
        lines += [
            "",
            f"Growth from {a['events']:,} to {b['events']:,} events ({grow:.1f}x): the floor "
            f"{b['floor']['seconds'] / a['floor']['seconds']:.1f}x, the library "
            f"{b['cleaned_library']['seconds'] / a['cleaned_library']['seconds']:.1f}x in seconds; "
            f"peak memory {b['cleaned_library_peak'] / a['cleaned_library_peak']:.1f}x in the library "
            f"(a day grows {grow:.1f}x too).",
        ]
    return "\n".join(lines) + "\n"


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def _cell(run: dict, stage: str, base: dict) -> str:
    r, b = run.get(stage), base.get(stage)
    if r is None:
        return "–"
    growth = f" ({r['seconds'] / b['seconds']:.1f}x)" if b else ""
    return f"{r['seconds']:.1f}{growth}"


def section(runs: list[dict], refreshes: list[dict], not_run: list[int] | None = None) -> str:
    loads = [r[s]["load"] for r in runs for s in STAGES if r.get(s)]
    loads += [r[s]["load"] for r in refreshes for s in REFRESH_STAGES]
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    versions = (
        f"Python {platform.python_version()}, polars {_version('polars')}, dagster {_version('dagster')}"
    )
    lines = [
        "## Batch analytics",
        "",
        f"Measured by `benchmarks/bench_batch.py` on {machine}, {versions}, on {time.strftime('%Y-%m-%d')}. "
        f"**The machine was shared with other work**: the 1-minute load average at each stage's start is "
        f"shown (between {min(loads):.1f} and {max(loads):.1f} on {os.cpu_count()} cores), so absolute "
        "seconds are inflated; the ratios compare stages measured in the same run. Each stage runs in its "
        "own process; peak memory is that process's high-water RSS (`VmHWM`).",
        "",
    ]
    for run in runs:
        floor = run["floor"]["seconds"]
        rows = [
            ("`polars.read_ndjson` (floor)", "parse only; bad lines removed beforehand", run["floor"]),
            ("`json.loads` loop (naive)", "parse only, Python objects", run["naive"]),
            ("cleaned_events, library", "read_logs + dedupe + Parquet + quarantine", run["cleaned_library"]),
            ("cleaned_events, Dagster", "one run over all days (single-run backfill), + pandera check",
             run["cleaned_dagster"]),
            ("per-day results, Dagster", "session_parts, error_events, task_events: one run, all days",
             run["daily_results"]),
        ]  # fmt: skip
        lines += [
            f"**{run['events']:,} generated events over 30 days** "
            f"({run['bytes'] / 1e9:.2f} GB of daily JSONL):",
            "",
            "| stage | what | seconds | vs floor | peak MiB | load |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for label, what, r in rows:
            if r is None:
                lines.append(f"| {label} | {what} | not run at this size | | | |")
                continue
            lines.append(
                f"| {label} | {what} | {r['seconds']:.1f} | {r['seconds'] / floor:.2f}x | "
                f"{r['maxrss_mib']:,.0f} | {r['load']:.1f} |"
            )
        down = run["downstream"]
        lines.append(
            f"| downstream, Dagster | one run of every unpartitioned asset, all days | {down['seconds']:.1f} "
            f"| – | {down['maxrss_mib']:,.0f} | {down['load']:.1f} |"
        )
        lib = run["cleaned_library"]["seconds"] / floor
        dag = run["cleaned_dagster"]["seconds"] / floor
        lines += [
            "",
            "Targets: cleaned events at most 1.3x the floor in the library — "
            f"**{lib:.2f}x** {_mark(lib <= 1.3)}; "
            f"at most 1.5x through Dagster — **{dag:.2f}x** {_mark(dag <= 1.5)} (one run for "
            f"{run['cleaned_dagster']['partitions']} days, including the pandera check).",
            "",
        ]
    big = runs[-1]
    lines += [
        f"Step times inside the Dagster runs at {big['events']:,} events (seconds):",
        "",
        "| step | seconds |",
        "|---|---:|",
    ]
    steps = {**big["cleaned_dagster"]["steps"], **big["daily_results"]["steps"], **big["downstream"]["steps"]}
    for key, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
        lines.append(f"| `{key}` | {seconds:.1f} |")
    lines += [
        "",
        "Growth with size (seconds; ratio to the smallest size in brackets):",
        "",
        "| events | floor | naive | cleaned (library) | cleaned (Dagster) | per-day results | downstream "
        "| peak MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = runs[0]
    for run in runs:
        cells = [_cell(run, stage, base) for stage in STAGES]
        peak_run = max(run[s]["maxrss_mib"] for s in STAGES if run.get(s))
        lines.append(f"| {run['events']:,} | " + " | ".join(cells) + f" | {peak_run:,.0f} |")
    for size in not_run or []:
        lines.append(f"| {size:,} | not run in this session: see below | | | | | | |")
    if not_run:
        lines += [
            "",
            f"Not run here: {', '.join(f'{n:,}' for n in not_run)} events. On the shared machine (load "
            f"average up to {max(loads):.0f} on {os.cpu_count()} cores during this run) the 1M stages alone "
            f"took {sum(runs[0][s]['seconds'] for s in STAGES if runs[0].get(s)) / 60:.0f} minutes, and "
            "every Dagster stage of the larger sizes would not have finished in the session; their floor and "
            "library figures are in the section *Cleaned events against the read_ndjson floor* "
            "(`--cleaned-only`). Re-run "
            "`benchmarks/bench_batch.py` on a quiet machine for the rest.",
        ]
    if refreshes:
        lines += [
            "",
            f"**Incremental refresh** — a new day arrives on top of the history ({REFRESH_EVENTS_PER_DAY:,} "
            "generated events per day): its daily run (cleaned events + per-day results for that day), "
            "then one run of every unpartitioned asset, against recomputing session metrics and error "
            "clusters from every event (what each refresh did before the per-day results):",
            "",
            "| history | events | new day's run | downstream run | refresh total | full recompute of the two "
            "views | peak MiB (refresh) | load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in refreshes:
            f = r["refresh"]
            lines.append(
                f"| {r['days']} days | {r['full_recompute']['events']:,} | {f['day_seconds']:.1f} | "
                f"{f['downstream_seconds']:.1f} | {f['seconds']:.1f} | "
                f"{r['full_recompute']['seconds']:.1f} | "
                f"{f['maxrss_mib']:,.0f} | {f['load']:.1f} |"
            )
        if len(refreshes) > 1:
            a, b = refreshes[0], refreshes[-1]
            lines += [
                "",
                f"From {a['days']} to {b['days']} days of history ({b['days'] / a['days']:.0f}x the events): "
                f"the new day's run {b['refresh']['day_seconds'] / a['refresh']['day_seconds']:.2f}x, the "
                "downstream run "
                f"{b['refresh']['downstream_seconds'] / a['refresh']['downstream_seconds']:.2f}x, "
                f"the full recompute {b['full_recompute']['seconds'] / a['full_recompute']['seconds']:.2f}x. "
                "The downstream run still reads every day's small per-day results (one row per attempt and "
                "day, one per error) and rewrites the unpartitioned tables whole, so it grows with the "
                "history, far slower than the events do.",
            ]
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


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
        text = cleaned_section(bench_cleaned_sizes(args.events, args.rounds, args.budget), args.rounds)
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
