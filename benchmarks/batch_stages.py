"""The stages of ``bench_batch.py``, each run in its own process (``bench_batch.py --stage NAME``) so
that its peak memory is its own: the read_ndjson floor, the naive loop, the cleaned-events pass in
the library and through Dagster, the per-day and downstream runs, and the incremental refresh.
Each returns its figures as a dict (seconds, CPU seconds, rows...)."""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

REFRESH_EVENTS_PER_DAY = 10_000


def _daily_files(logs: Path) -> list[Path]:
    return sorted((logs / "stream").glob("*.jsonl"))


_NOT_JSON = ("malformed_json", "invalid_utf8", "not_an_object", "line_too_long", "truncated_line")


def _clean_copies(logs: Path, work: Path) -> list[Path]:
    """Copies of the daily files without the lines that are not JSON objects (for the floor).

    The reader's quarantine says which lines those are (it bisects blocks with polars, so this is
    quick); lines that are JSON but break the contract stay, since ``read_ndjson`` parses them.
    """
    from agent_pipelines.core.reader import read_file

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
    """What the ``cleaned_events`` asset does for every day, without Dagster: the same library call."""
    from agent_pipelines.core.cleaned import clean_days
    from agent_pipelines.core.partitions import log_days
    from agent_pipelines.orchestration.io_manager import write_parquet

    data = work / "library-data"
    shutil.rmtree(data, ignore_errors=True)
    tables = data / "tables" / "cleaned_events"
    started = _memory()
    start, cpu = time.perf_counter(), _cpu_seconds()
    today = datetime.now(UTC).date()

    def write(day, rows) -> int:
        target = tables / f"{day.isoformat()}.parquet"
        write_parquet(rows, target)
        return target.stat().st_size

    rows = quarantined = 0
    for done in clean_days(logs, log_days(logs), write, data_dir=data, final_before=today):
        rows += done.events
        quarantined += done.quarantined
    return {"seconds": time.perf_counter() - start, "cpu_seconds": _cpu_seconds() - cpu, "rows": rows,
            "quarantined": quarantined, "imports_mib": started}  # fmt: skip


def _memory() -> float:
    """Resident memory now (MiB): after the imports, before any work, the part of the peak that is
    the interpreter and its libraries."""
    return _status_mib("VmRSS") or 0.0


def _status_mib(field: str) -> float | None:
    """A memory line of ``/proc/self/status`` in MiB (``None`` where there is no such file)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _dagster(work: Path):
    os.environ["DAGSTER_HOME"] = str(work / "dagster_home")
    (work / "dagster_home").mkdir(parents=True, exist_ok=True)
    import dagster as dg

    from agent_pipelines.orchestration.instance import install_config

    # the instance the product runs (config/dagster.yaml: its batched SQLite event log), not Dagster's default
    install_config(work / "dagster_home")

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
    from agent_pipelines.core.partitions import range_tags

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
    from agent_pipelines.core.partitions import log_days
    from agent_pipelines.orchestration.partitions import register_partitions
    from agent_pipelines.orchestration.resources import analytics_resources as build_resources

    dg, instance, assets, checks, daily, _ = _dagster(work)
    data = work / "dagster-data"
    if which == "cleaned":
        shutil.rmtree(data, ignore_errors=True)
    days = log_days(logs)
    register_partitions(instance, days)
    resources = build_resources(str(logs), str(data))
    keys = [k for k in daily if (k.to_user_string() == "cleaned_events") == (which == "cleaned")]
    start, cpu = time.perf_counter(), _cpu_seconds()
    result = _daily_run(dg, instance, assets, checks, keys, resources, [d.isoformat() for d in days])
    return {"seconds": time.perf_counter() - start, "cpu_seconds": _cpu_seconds() - cpu,
            "partitions": len(days), "runs": 1, "steps": _step_seconds(result),
            "contract": _contract_timing(result)}  # fmt: skip


def _contract_timing(result) -> dict[str, float]:
    """The contract check's own cost, from its result's metadata (the ``cleaned_events`` step checks
    each day as it is written: the CPU that took, and how long the step waited for it at its end)."""
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.check_name == "matches_contract":
            return {k: float(v.value) for k, v in evaluation.metadata.items() if k.endswith("seconds")}
    return {}


def stage_cleaned_dagster(logs: Path, work: Path) -> dict:
    return _stage_daily(logs, work, "cleaned")


def stage_daily_results(logs: Path, work: Path) -> dict:
    return _stage_daily(logs, work, "derived")


def stage_downstream(logs: Path, work: Path) -> dict:
    from agent_pipelines.orchestration.resources import analytics_resources as build_resources

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
    from agent_pipelines.core.partitions import log_days
    from agent_pipelines.orchestration.partitions import register_partitions
    from agent_pipelines.orchestration.resources import analytics_resources as build_resources

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
    from agent_pipelines.core.partitions import log_days
    from agent_pipelines.orchestration.partitions import register_partitions
    from agent_pipelines.orchestration.resources import analytics_resources as build_resources

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

    from agent_pipelines.analytics import errors, metrics
    from agent_pipelines.orchestration.io_manager import scan_tables, table_path

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
    peak = _status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
