"""``agent-pipelines materialize``: every analytics asset for every log day, headless.

Runs on the same Dagster instance as the UI (``DAGSTER_HOME``, by default ``<data>/dagster_home``),
with the same asset definitions (``assets.analytics``), so the runs, materializations and check
results it produces are the ones the UI shows. Order: the daily assets over all chosen days in one
run (a single-run backfill; one run per range of neighbouring days when ``--day`` leaves gaps), then
the unpartitioned assets once over all days, then each weekly partition. One run rather than one
per day because a run's fixed cost (~0.3-0.5 s) was most of the time of a 30-day refresh.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from agent_pipelines.cli.common import (
    CommandError,
    add_data_dir,
    add_logs_dir,
    data_path,
    existing_logs_dir,
    fail,
    use_dagster_home,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "materialize",
        help="run every analytics asset for every log day (headless, same instance as the UI)",
        description=(
            "Materialize cleaned_events for each UTC day in the log folder, then session metrics, "
            "comparisons, clusters and insights over all days, then the weekly reports, recording the "
            "runs in DAGSTER_HOME (default <data>/dagster_home) so the UI shows them."
        ),
    )
    add_logs_dir(parser)
    add_data_dir(parser)
    parser.add_argument(
        "--day",
        action="append",
        metavar="YYYY-MM-DD",
        help="only this day's partition of the daily assets (repeatable); downstream assets still run",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")
    parser.set_defaults(func=run)


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, flush=True)


def _metadata_value(result: Any, asset: str, name: str) -> Any:
    for event in result.asset_materializations_for_node(asset):
        entry = event.metadata.get(name)
        if entry is not None:
            return entry.value
    return None


def _failed_checks(result: Any) -> list[str]:
    failed = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            key = evaluation.asset_check_key
            failed.append(f"{key.asset_key.to_user_string()}:{key.name} ({evaluation.severity.value})")
    return failed


def run(args: argparse.Namespace) -> int:
    try:
        logs_root = existing_logs_dir(args).resolve()
    except CommandError as exc:
        return fail(str(exc))
    data = data_path(args).resolve()
    return materialize_all(args, logs_root, data, days=args.day, say=lambda m: _say(args, m))


def materialize_all(
    args: argparse.Namespace,
    logs_root: Path,
    data: Path,
    *,
    days: Sequence[str] | None = None,
    say: Callable[[str], None] = print,
) -> int:
    """Materialize everything with ``args.settings``; returns an exit code (0 when every run succeeded)."""
    import dagster as dg

    from agent_pipelines.core.partitions import (
        LOG_DAYS,
        LOG_WEEKS,
        day_ranges,
        log_days,
        range_tags,
        week_key,
    )
    from agent_pipelines.definitions import analytics_assets
    from agent_pipelines.orchestration.instance import InstanceConfigError
    from agent_pipelines.orchestration.partitions import register_partitions
    from agent_pipelines.orchestration.resources import analytics_resources as build_resources

    all_days = log_days(logs_root)
    if not all_days:
        return fail(
            f"no log days in {logs_root} (expected stream/YYYY-MM-DD.jsonl or agent-work-stream.jsonl)"
        )
    chosen = all_days
    if days:
        try:
            wanted = {date.fromisoformat(d) for d in days}
        except ValueError as exc:
            return fail(f"--day: {exc}")
        chosen = [d for d in all_days if d in wanted]
        if not chosen:
            return fail(f"none of {sorted(days)} has logs in {logs_root}")
    try:
        home = use_dagster_home(args, data)
    except InstanceConfigError as exc:
        return fail(str(exc))
    instance = dg.DagsterInstance.get()
    register_partitions(instance, all_days)
    assets, checks = analytics_assets()
    resources = build_resources(str(logs_root), str(data), args.settings)
    groups: dict[str, list[dg.AssetKey]] = {"daily": [], "unpartitioned": [], "weekly": []}
    for asset in assets:
        pdef = asset.partitions_def
        name = getattr(pdef, "name", None)
        group = "unpartitioned" if pdef is None else {LOG_DAYS: "daily", LOG_WEEKS: "weekly"}.get(str(name))
        if group is None:
            say(f"skipping {asset.key.to_user_string()}: partitions {pdef} are not log days or weeks")
            continue
        groups[group].extend(asset.keys)
    weeks = sorted({week_key(d) for d in chosen})
    say(f"DAGSTER_HOME={home}\nlogs: {logs_root}\ndata: {data}")
    say(f"{len(chosen)} day(s) {chosen[0]} .. {chosen[-1]}, {len(weeks)} week(s)")
    failures: list[str] = []
    started = time.perf_counter()

    def materialize(
        selection: list[dg.AssetKey],
        partition_key: str | None,
        label: str,
        tags: dict[str, str] | None = None,
    ) -> tuple[Any, str]:
        t0 = time.perf_counter()
        result = dg.materialize(
            [*assets, *checks],
            selection=selection,
            partition_key=partition_key,
            instance=instance,
            resources=resources,
            tags={"agent_pipelines/launched_by": "cli", **(tags or {})},
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            raise_on_error=False,
        )
        checks_failed = _failed_checks(result)
        status = "ok" if result.success else "FAILED"
        if not result.success:
            failures.append(label)
        detail = f" — checks not passing: {', '.join(checks_failed)}" if checks_failed else ""
        return result, f"{status} in {time.perf_counter() - t0:.1f} s{detail}"

    ranges = day_ranges(instance.get_dynamic_partitions(LOG_DAYS), [d.isoformat() for d in chosen])
    for i, (first, last) in enumerate(ranges if groups["daily"] else [], 1):
        single = first == last
        label = f"day {first}" if single else f"days {first} .. {last}"
        result, status = materialize(
            groups["daily"], first if single else None, label, None if single else range_tags(first, last)
        )
        events = _metadata_value(result, "cleaned_events", "events")
        quarantined = _metadata_value(result, "cleaned_events", "quarantined")
        counts = f"{events:,} events, {quarantined:,} quarantined, " if events is not None else ""
        say(f"[{i}/{len(ranges)}] {label}: {counts}{status}")
    if groups["unpartitioned"]:
        names = ", ".join(k.to_user_string() for k in groups["unpartitioned"])
        say(f"all days: {names} ...")
        _, status = materialize(groups["unpartitioned"], None, "unpartitioned assets")
        say(f"all days: {status}")
    for i, week in enumerate(weeks if groups["weekly"] else [], 1):
        _, status = materialize(groups["weekly"], week, f"week {week}")
        say(f"[week {i}/{len(weeks)}] {week}: {status}")
    total = time.perf_counter() - started
    if failures:
        print(
            f"materialize: {len(failures)} run(s) failed: {', '.join(failures)} ({total:.1f} s)",
            file=sys.stderr,
        )
        return 1
    print(f"materialize: done in {total:.1f} s; open the UI on DAGSTER_HOME={home} to explore")
    return 0
