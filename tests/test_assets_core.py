"""The core analytics assets through Dagster's real APIs, on generated logs and on corrupted input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from agent_pipelines.analytics.metrics import met_mark
from agent_pipelines.cli import main as cli_main
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.partitions import LOG_DAYS, LOG_WEEKS, log_days, previous_week_key, week_key
from agent_pipelines.core.quarantine import quarantine_of_day
from agent_pipelines.core.settings import Settings, defaults
from agent_pipelines.definitions import defs
from agent_pipelines.orchestration.io_manager import PolarsParquetIOManager, tables_dir
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.partitions import register_partitions
from assets import analytics
from assets.analytics import (
    DOWNSTREAM_AUTOMATION,
    analytics_assets,
    build_resources,
    unpartitioned_downstream,
    with_downstream_automation,
)
from assets.contract_check import CHECK_BATCH_ROWS, GROUP_ROWS, MATCHES_CONTRACT, ContractChecks
from assets.events import (
    DAILY_ASSETS,
    analytics_sensor_status,
    build_log_days_sensor,
    cleaned_events,
    cleaned_events_job,
    validate_events,
)

CORE = ("cleaned_events", "session_metrics", "executor_comparison", "model_comparison", "success_metrics")


@pytest.fixture(scope="module")
def materialized(small_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`agent-pipelines materialize` on the shared generated logs, into its own data folder."""
    data = tmp_path_factory.mktemp("materialized")
    home = data / "dagster_home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        home.mkdir()
        code = cli_main(["materialize", "--logs-dir", str(small_logs), "--data-dir", str(data), "--quiet"])
        instance = dg.DagsterInstance.get()
        try:
            records = {
                key: instance.fetch_materializations(dg.AssetKey(key), limit=100).records
                for key in (*CORE, "alerts")
            }
            days = instance.get_dynamic_partitions(LOG_DAYS)
            weeks = instance.get_dynamic_partitions(LOG_WEEKS)
            started = instance.all_logs(
                records["cleaned_events"][0].run_id, of_type=dg.DagsterEventType.STEP_START
            )
            steps = [e.step_key for e in started]
            checks = {
                name: instance.event_log_storage.get_asset_check_execution_history(
                    dg.AssetCheckKey(dg.AssetKey(asset), name), limit=100
                )
                for asset, name in (
                    ("cleaned_events", "matches_contract"),
                    ("cleaned_events", "quarantine_share_below_threshold"),
                    ("session_metrics", "one_consistent_row_per_attempt"),
                )
            }
        finally:
            instance.dispose()
    truth = json.loads((small_logs / "ground-truth.json").read_text())
    return {"code": code, "data": data, "records": records, "days": days, "weeks": weeks, "checks": checks,
            "truth": truth, "logs": small_logs, "steps": steps}  # fmt: skip


def table(data: Path, *key: str) -> pl.DataFrame:
    folder = tables_dir(data).joinpath(*key)
    return pl.read_parquet(sorted(folder.glob("*.parquet")))


def test_materialize_runs_every_partition_on_one_instance(materialized: dict) -> None:
    assert materialized["code"] == 0
    days = [d.isoformat() for d in log_days(materialized["logs"])]
    assert materialized["days"] == days and len(days) >= 4  # 4 days generated, + spill-over past midnight
    assert materialized["weeks"] == sorted({week_key(date.fromisoformat(d)) for d in days})
    partitions = {r.partition_key for r in materialized["records"]["cleaned_events"]}
    assert partitions == set(days)
    for key in CORE[1:]:
        assert len(materialized["records"][key]) == 1, key
    for name, history in materialized["checks"].items():
        assert history, f"check {name} never ran"
    # Every day in one run (a single-run backfill): one check execution over all of them.
    assert len({r.run_id for r in materialized["records"]["cleaned_events"]}) == 1
    contract_runs = materialized["checks"]["matches_contract"]
    assert len(contract_runs) == 1
    assert all(r.status.value == "SUCCEEDED" for r in contract_runs)
    # yielded by the asset's own step (no step of its own), over every day it wrote, blocking
    assert contract_runs[0].run_id == materialized["records"]["cleaned_events"][0].run_id
    evaluation = contract_runs[0].event.dagster_event.event_specific_data  # type: ignore[union-attr]
    assert evaluation.metadata["partitions"].value == len(materialized["days"])
    assert evaluation.metadata["rows"].value == materialized["truth"]["events_written"]
    spec = next(s for s in cleaned_events.check_specs if s.name == MATCHES_CONTRACT)
    assert spec.blocking
    assert "cleaned_events" in materialized["steps"]
    assert not [step for step in materialized["steps"] if "contract" in step]


def test_cleaned_events_metadata_and_quarantine(materialized: dict) -> None:
    truth, data = materialized["truth"], materialized["data"]
    events = table(data, "cleaned_events")
    quarantined = 0
    records = materialized["records"]["cleaned_events"]
    assert len({r.run_id for r in records}) == 1  # every day in one run...
    for record in records:  # ...and each partition's metadata is that day's, not the run's (issue 25)
        meta = record.asset_materialization.metadata
        day = record.partition_key
        stored = pl.read_parquet(tables_dir(data) / "cleaned_events" / f"{day}.parquet")
        assert meta["dagster/row_count"].value == meta["events"].value == stored.height, day
        assert meta["path"].value.endswith(f"{day}.parquet")
        assert "| timestamp" in meta["preview"].value
        assert sum(meta["events_by_type"].value.values()) == meta["events"].value
        assert all(len(repr(v.value)) < 12 for k, v in meta.items() if isinstance(v.value, float)), meta
        assert meta["days_in_run"].value == len(materialized["days"])
        assert all(d in meta["by_day"].value for d in materialized["days"])
        quarantined += meta["quarantined"].value
    assert sum(r.asset_materialization.metadata["dagster/row_count"].value for r in records) == events.height
    assert events.height == truth["events_written"]  # duplicates written were dropped
    assert events["event_id"].n_unique() == events.height
    assert quarantined == sum(truth["malformed"].values())
    files = list((data / "quarantine").glob("*.jsonl"))
    assert sum(len(f.read_text().splitlines()) for f in files) == quarantined


def test_every_day_has_its_alerts_partition_with_its_own_count(materialized: dict) -> None:
    """Issue 25: a day without alerts is materialized with 0 rows (not "Missing"), and each day's
    row count is its own alert count, not the run's."""
    records = materialized["records"]["alerts"]
    assert {r.partition_key for r in records} == set(materialized["days"])
    for record in records:
        meta = record.asset_materialization.metadata
        stored = pl.read_parquet(
            tables_dir(materialized["data"]) / "alerts" / f"{record.partition_key}.parquet"
        )
        assert meta["dagster/row_count"].value == meta["alerts"].value == stored.height


def test_tables_match_ground_truth(materialized: dict) -> None:
    truth, data = materialized["truth"], materialized["data"]
    sessions = table(data, "session_metrics")
    assert sessions.height == len(truth["attempts"]) == sessions["attempt_id"].n_unique()
    crossing = {a["attempt_id"] for a in truth["attempts"] if a["crosses_midnight"]}
    assert crossing and sessions.filter(pl.col("attempt_id").is_in(sorted(crossing))).height == len(crossing)
    open_ids = {a["attempt_id"] for a in truth["attempts"] if a["completion_status"] is None}
    assert set(sessions.filter(pl.col("is_open"))["attempt_id"]) == open_ids
    success = table(data, "success_metrics")
    values = dict(zip(success["metric"], success["value"], strict=True))
    for name in ("success_rate", "first_shot_rate", "avg_attempts_per_task", "cost_per_task"):
        assert values[name] == pytest.approx(truth["metrics"][name], rel=1e-6), name
    comparison = table(data, "executor_comparison")
    closed = [a for a in truth["attempts"] if a["completion_status"] is not None]
    won = [a for a in closed if a["completion_status"] == "success"]
    assert comparison["sessions"].sum() == len(truth["attempts"])
    assert comparison["succeeded"].sum() == len(won)
    scorecard = materialized["records"]["success_metrics"][0].asset_materialization.metadata["scorecard"]
    lines = [line for line in scorecard.value.splitlines()[2:] if line.startswith("| ")]
    rows = {line.split("|")[1].strip(): line for line in lines}
    for label, met in zip(success["label"], success["met"], strict=True):
        assert f"| {met_mark(met)} |" in rows[label], (label, met)


# --------------------------------------------------------------------------------------------
# Checks fail on corrupted input
# --------------------------------------------------------------------------------------------


def test_contract_check_fails_on_corrupted_partition(materialized: dict, tmp_path: Path) -> None:
    day = materialized["days"][0]
    good = pl.read_parquet(tables_dir(materialized["data"]) / "cleaned_events" / f"{day}.parquet")
    assert validate_events(good).passed
    ends = pl.col("event_type") == "session_end"
    first_end = ends & (pl.int_range(pl.len()) == pl.arg_where(ends).first())
    bad = good.with_columns(
        pl.when(first_end).then(pl.lit(-1.5)).otherwise(pl.col("cost_usd")).alias("cost_usd"),
        pl.when(first_end)
        .then(pl.lit("done"))
        .otherwise(pl.col("completion_status"))
        .alias("completion_status"),
    )
    result = validate_events(bad)
    assert not result.passed
    sample = result.metadata["failure_case_sample"].value
    assert r"cost\_usd" in sample and r"completion\_status" in sample  # escaped Markdown (renders cost_usd)
    # The same as the asset's step checks what it wrote: the stored day is corrupted, then checked.
    target = tmp_path / f"{day}.parquet"
    bad.write_parquet(target)
    with ContractChecks() as checks:
        checks.add(day, str(target), bad.height)
        stored = checks.result()
    assert not stored.passed and stored.check_name == MATCHES_CONTRACT
    assert stored.severity == dg.AssetCheckSeverity.ERROR  # blocking: the step fails, nothing downstream runs
    assert stored.metadata["failed_days"].value == [day]
    assert r"cost\_usd" in stored.metadata["failure_case_sample"].value


def test_contract_check_validates_the_days_of_a_run_together_and_names_the_bad_one(
    materialized: dict, tmp_path: Path
) -> None:
    """The days of a run are checked one by one as they are written, their event ids together in
    batches of days: a wrong day fails the check, and the failure names that day; an event in two
    days (each passing alone) fails it too."""
    days = materialized["days"][:3]
    source = tables_dir(materialized["data"]) / "cleaned_events"
    tables = tmp_path / "tables"
    (tables / "cleaned_events").mkdir(parents=True)
    for day in days:
        (tables / "cleaned_events" / f"{day}.parquet").write_bytes((source / f"{day}.parquet").read_bytes())

    def check(batch_rows: int = CHECK_BATCH_ROWS, group_rows: int = GROUP_ROWS) -> dg.AssetCheckResult:
        with ContractChecks(batch_rows, group_rows) as checks:  # as the step adds each day once written
            for day in days:
                where = tables / "cleaned_events" / f"{day}.parquet"
                checks.add(day, str(where), pl.scan_parquet(where).select(pl.len()).collect().item())
            return checks.result()

    good = check()
    assert good.passed and good.metadata["partitions"].value == 3
    assert good.metadata["rows"].value == sum(
        pl.scan_parquet(source / f"{d}.parquet").select(pl.len()).collect().item() for d in days
    )
    bad_day = tables / "cleaned_events" / f"{days[1]}.parquet"
    frame = pl.read_parquet(bad_day)
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("no_such_type"))
        .otherwise("event_type")
        .alias("event_type")
    ).write_parquet(bad_day)
    for groups in (GROUP_ROWS, 1):  # the days in one group, or each alone
        result = check(group_rows=groups)
        assert not result.passed
        assert result.metadata["failed_days"].value == [days[1]]
    assert result.description is not None and result.description.startswith(days[1])
    # the same event in two days: each passes alone, the batch does not
    frame.write_parquet(bad_day)
    twice = tables / "cleaned_events" / f"{days[2]}.parquet"
    pl.concat([pl.read_parquet(twice), frame.head(1)]).write_parquet(twice)
    assert validate_events(pl.scan_parquet(twice)).passed
    together = check()  # one group: the gate's own uniqueness rule refuses it
    assert not together.passed and together.metadata["failed_days"].value == [f"{days[0]}..{days[2]}"]
    assert not check(group_rows=1).passed  # a group a day: the ids compared across the batch's groups
    assert check(batch_rows=1).passed  # a batch a day: ids are compared within a batch only


def test_contract_check_of_the_rows_as_written_reads_no_file_and_names_the_bad_day(
    materialized: dict, tmp_path: Path
) -> None:
    """The step hands each block to the check as it writes it (``add_rows``), then says where the
    day is stored (``add``): the rows are judged in memory, never read back; a bad day is named
    (pandera's cases then come from its file), whether its blocks fall in one group or several."""
    days = materialized["days"][:3]
    source = tables_dir(materialized["data"]) / "cleaned_events"
    frames = {day: pl.read_parquet(source / f"{day}.parquet") for day in days}
    broken = frames[days[1]].with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("no_such_type"))
        .otherwise("event_type")
        .alias("event_type")
    )

    def check(written: dict[str, pl.DataFrame], stored: dict[str, Path], group_rows: int = GROUP_ROWS):
        with ContractChecks(group_rows=group_rows) as checks:
            for day in days:
                rows = written[day]
                half = rows.height // 2
                checks.add_rows(day, rows.head(half))  # two blocks, as a large day is written
                checks.add_rows(day, rows.slice(half))
                checks.add(day, str(stored[day]), rows.height)
            return checks.result()

    nowhere = {day: tmp_path / "never-written" / f"{day}.parquet" for day in days}
    good = check(frames, nowhere)  # no file is read: none exists
    assert good.passed
    assert good.metadata["partitions"].value == 3
    assert good.metadata["rows"].value == sum(f.height for f in frames.values())
    stored = {day: tmp_path / f"{day}.parquet" for day in days}
    written = {**frames, days[1]: broken}
    for day, frame in written.items():
        frame.write_parquet(stored[day])
    for group_rows in (GROUP_ROWS, 1, frames[days[0]].height + 5):  # one group; a block each; a day split
        result = check(written, stored, group_rows)
        assert not result.passed and result.check_name == MATCHES_CONTRACT
        assert result.metadata["failed_days"].value == [days[1]]
        assert r"no\_such\_type" in result.metadata["failure_case_sample"].value
    # an event written on two days: each day passes alone, not together
    twice = {**frames, days[2]: pl.concat([frames[days[2]], frames[days[1]].head(1)])}
    twice[days[2]].write_parquet(stored[days[2]])
    frames[days[1]].write_parquet(stored[days[1]])
    assert not check(twice, stored).passed
    assert not check(twice, stored, group_rows=1).passed  # ids compared across the batch's groups


def _run_day(logs: Path, data: Path, instance: dg.DagsterInstance, day: str, downstream: bool = True):
    assets, checks = analytics_assets()
    selection = [*DAILY_ASSETS, *(["session_metrics"] if downstream else [])]
    register_partitions(instance, [date.fromisoformat(day)])
    return dg.materialize(
        [*assets, *checks],
        selection=selection,
        partition_key=day,
        instance=instance,
        resources=build_resources(str(logs), str(data)),
        raise_on_error=False,
    )


def test_quarantine_share_check_warns(tmp_path: Path) -> None:
    logs, data = tmp_path / "logs", tmp_path / "data"
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: datetime(2026, 3, 2, 9, tzinfo=UTC))
    log.start_session("a-1", task_id="t-1")
    log.stop_session("a-1", "success")
    with open(logs / "stream" / "2026-03-02.jsonl", "ab") as handle:
        handle.write(b'{"timestamp": "2026-03-02T09:00:01Z", "attempt_id": "a-1", "event_type": "bogus"}\n')
        handle.write(b"{not json\n")
    with dg.instance_for_test() as instance:
        run = _run_day(logs, data, instance, "2026-03-02", downstream=False)
    assert run.success  # bad lines never crash a run
    share = next(
        e
        for e in run.get_asset_check_evaluations()
        if e.asset_check_key.name == "quarantine_share_below_threshold"
    )
    assert not share.passed and share.severity == dg.AssetCheckSeverity.WARN
    assert share.metadata["quarantined"].value == 2
    assert share.metadata["reasons"].value == {"malformed_json": 1, "unknown_event_type": 1}


def test_legacy_file_quarantine_counted_once(tmp_path: Path) -> None:
    logs = tmp_path
    lines = [
        '{"timestamp": "2026-03-02T09:00:00Z", "attempt_id": "a", "event_type": "session_start", "data": {}}',
        '{"timestamp": "2026-03-03T09:00:00Z", "attempt_id": "a", "event_type": "nope"}',
        "garbage without a date",
        '{"timestamp": "2026-03-03T10:00:00Z", "attempt_id": "a", "event_type": "session_start", "data": {}}',
    ]
    (logs / "agent-work-stream.jsonl").write_text("\n".join(lines) + "\n")
    from agent_pipelines.core.reader import read_logs

    days = log_days(logs)
    assert [d.isoformat() for d in days] == ["2026-03-02", "2026-03-03"]
    per_day = {d: quarantine_of_day(read_logs(logs, days=[d]).quarantine, d, logs).height for d in days}
    assert per_day == {days[0]: 1, days[1]: 1}  # the dateless line goes to the first day, once


# --------------------------------------------------------------------------------------------
# Today's partition as lines arrive; the sensor
# --------------------------------------------------------------------------------------------


def test_rematerializing_a_growing_day_keeps_downstream_consistent(tmp_path: Path) -> None:
    logs, data = tmp_path / "logs", tmp_path / "data"
    now = [datetime(2026, 3, 2, 23, 50, tzinfo=UTC)]
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: now[0])
    log.start_session("a-1", task_id="t-1", executor="CODEX")
    log.error("a-1", "fatal: not a git repository")
    with dg.instance_for_test() as instance:
        assert _run_day(logs, data, instance, "2026-03-02").success
        first = table(data, "session_metrics")
        assert first.row(0, named=True)["is_open"] is True
        log.tool_call("a-1", "Bash")  # more lines arrive the same day ...
        now[0] = datetime(2026, 3, 3, 0, 5, tzinfo=UTC)
        log.stop_session("a-1", "success", cost_usd=0.2)  # ... and the session ends after midnight
        assert _run_day(logs, data, instance, "2026-03-02", downstream=False).success
        assert _run_day(logs, data, instance, "2026-03-03").success
    events = table(data, "cleaned_events")
    assert events.height == 4 and events["event_id"].n_unique() == 4  # re-materialized, not appended
    sessions = table(data, "session_metrics")
    assert sessions.height == 1
    row = sessions.row(0, named=True)
    assert row["succeeded"] and not row["is_open"] and row["tool_call_count"] == 1
    assert row["ended_at"].date() == date(2026, 3, 3) and row["day"] == date(2026, 3, 2)


def test_log_days_sensor_registers_days_and_requests_grown_ones(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    now = [datetime(2026, 3, 1, 12, tzinfo=UTC)]
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: now[0])
    log.start_session("a-1", task_id="t-1")
    now[0] += timedelta(days=1)
    log.error("a-1", "boom")
    assets, _ = analytics_assets()
    tick = [1000.0]  # the sensor's clock, in seconds
    sensor = build_log_days_sensor(defaults(), clock=lambda: tick[0])
    assert sensor.minimum_interval_seconds == 5
    resources = {"log_store": LogStore(logs_dir=str(logs), data_dir=str(tmp_path / "data"))}
    sensor_defs = dg.Definitions(
        assets=assets, sensors=[sensor], jobs=[cleaned_events_job], resources=build_resources(str(logs))
    )

    def context(instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorEvaluationContext:
        return dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources, definitions=sensor_defs
        )

    with dg.instance_for_test() as instance:
        # First tick, called directly: Dagster's test-side resolution of run requests cannot see
        # partitions added by the same tick (the daemon adds them first), so it is checked raw.
        first = context(instance)
        result = sensor(first)
        assert isinstance(result, dg.SensorResult)
        # Both days in one run over their range, not a run per day.
        assert len(result.run_requests) == 1
        assert result.run_requests[0].tags["dagster/asset_partition_range_start"] == "2026-03-01"
        assert result.run_requests[0].tags["dagster/asset_partition_range_end"] == "2026-03-02"
        added = {r.partitions_def_name: r.partition_keys for r in result.dynamic_partitions_requests}
        assert added == {LOG_DAYS: ["2026-03-01", "2026-03-02"], LOG_WEEKS: ["2026-02-23", "2026-03-02"]}
        instance.add_dynamic_partitions(LOG_DAYS, added[LOG_DAYS])
        instance.add_dynamic_partitions(LOG_WEEKS, added[LOG_WEEKS])
        cursor = first.cursor
        # Later ticks through the real evaluation path (run requests resolved against the defs).
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            # The range request resolves against the job (as on a first start over old logs).
            fresh = sensor.evaluate_tick(context(instance))
            assert [r.tags["dagster/asset_partition_range_end"] for r in fresh.run_requests] == ["2026-03-02"]
            tick[0] += 5
            quiet = sensor.evaluate_tick(context(instance, cursor))
            assert not quiet.run_requests and quiet.skip_message
            log.tool_call("a-1", "Bash")  # today's file grows: refreshed at the 5-minute pace
            tick[0] += 5
            waiting = sensor.evaluate_tick(context(instance, cursor))
            assert not waiting.run_requests and "wait" in (waiting.skip_message or "")
            cursor = waiting.cursor
            # A new day's first line: registered and requested at the very next tick.
            now[0] += timedelta(days=1)
            log.tool_call("a-1", "Read")
            tick[0] += 5
            ctx = context(instance, cursor)
            new_day = sensor(ctx)
            assert isinstance(new_day, dg.SensorResult)
            assert [r.partition_key for r in new_day.run_requests] == ["2026-03-03"]
            added = {r.partitions_def_name: r.partition_keys for r in new_day.dynamic_partitions_requests}
            assert added[LOG_DAYS] == ["2026-03-03"]
            instance.add_dynamic_partitions(LOG_DAYS, ["2026-03-03"])
            # Five minutes after the last refresh, the grown day is re-materialized.
            tick[0] += 300
            grown = sensor.evaluate_tick(context(instance, ctx.cursor))
        assert [r.partition_key for r in grown.run_requests] == ["2026-03-02"]
        assert grown.run_requests[0].job_name in (None, "cleaned_events_job")
        assert not grown.dynamic_partitions_requests


def test_downstream_assets_follow_a_rematerialized_day(tmp_path: Path) -> None:
    logs, data = tmp_path / "logs", tmp_path / "data"
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: datetime(2026, 3, 2, 9, tzinfo=UTC))
    log.start_session("a-1", task_id="t-1")
    assets = with_downstream_automation(analytics_assets()[0])
    # The analytics that follow the log days; the prediction models keep their own schedule.
    following = {s.key for a in assets for s in a.specs if s.automation_condition is DOWNSTREAM_AUTOMATION}
    downstream = set(unpartitioned_downstream(assets)) & following
    graph = dg.Definitions(assets=assets, resources=build_resources(str(logs), str(data)))
    assert {"failure_risk_model", "cost_forecast"}.isdisjoint(k.to_user_string() for k in downstream)
    assert {"session_metrics", "executor_comparison", "success_metrics"} <= {
        k.to_user_string() for k in downstream
    }

    def requested(result: object) -> set[dg.AssetKey]:
        return {k for k in downstream if result.get_num_requested(k)}  # type: ignore[attr-defined]

    with dg.instance_for_test() as instance:
        assert _run_day(logs, data, instance, "2026-03-02", downstream=False).success
        first = dg.evaluate_automation_conditions(defs=graph, instance=instance)
        assert not requested(first)  # the first evaluation only takes stock
        log.stop_session("a-1", "success")  # the day grows and is re-materialized (UI, CLI or sensor)
        assert _run_day(logs, data, instance, "2026-03-02", downstream=False).success
        after = dg.evaluate_automation_conditions(defs=graph, instance=instance, cursor=first.cursor)
        assert requested(after) == downstream
        again = dg.evaluate_automation_conditions(defs=graph, instance=instance, cursor=after.cursor)
        assert not requested(again)  # requested once, not on every tick


def test_auto_analytics_switch() -> None:
    assert analytics_sensor_status(defaults()) == dg.DefaultSensorStatus.RUNNING
    off = Settings.load({"AGENT_PIPELINES_AUTO_ANALYTICS": "false"})
    assert analytics_sensor_status(off) == dg.DefaultSensorStatus.STOPPED
    assert build_log_days_sensor(off).default_status == dg.DefaultSensorStatus.STOPPED
    stopped = {s.name for s in analytics.build(off).sensors or [] if s.default_status.value == "STOPPED"}
    assert stopped == {"log_days_sensor", "analytics_automation_sensor", "weekly_report_sensor"}


def test_days_registered_out_of_order_are_listed_in_date_order(tmp_path: Path) -> None:
    """Issue 25: an import of older days after newer ones must not list partitions out of order,
    and the days already materialized keep their materializations."""
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        register_partitions(instance, [date(2026, 3, 10), date(2026, 3, 11)])
        instance.report_runless_asset_event(
            dg.AssetMaterialization("cleaned_events", partition="2026-03-11", metadata={"events": 5})
        )
        register_partitions(instance, [date(2026, 3, 1), date(2026, 3, 10), date(2026, 3, 12)])
        assert instance.get_dynamic_partitions(LOG_DAYS) == [
            "2026-03-01", "2026-03-10", "2026-03-11", "2026-03-12",
        ]  # fmt: skip
        weeks = instance.get_dynamic_partitions(LOG_WEEKS)
        assert weeks == sorted(weeks)
        assert "2026-03-11" in instance.get_materialized_partitions(dg.AssetKey("cleaned_events"))


def test_partition_helpers() -> None:
    assert week_key(date(2026, 3, 8)) == "2026-03-02"  # Sunday -> its Monday
    assert week_key(date(2026, 3, 2)) == "2026-03-02"
    assert previous_week_key(datetime(2026, 3, 9, 8, tzinfo=UTC)) == "2026-03-02"


def test_core_assets_have_group_owners_and_description() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(CORE) <= keys
    for key in CORE:
        node = graph.get(dg.AssetKey(key))
        assert node.group_name in {"events", "sessions", "insights"} and node.owners and node.description


# --------------------------------------------------------------------------------------------
# The IO manager
# --------------------------------------------------------------------------------------------

_letters = dg.StaticPartitionsDefinition(["a", "b", "c"])


@dg.asset(partitions_def=_letters, io_manager_key="pq")
def _letters_table(context) -> pl.DataFrame:  # unannotated: Dagster rejects a string annotation
    return pl.DataFrame({"letter": [context.partition_key] * 2, "n": [1, 2]})


@dg.asset(io_manager_key="pq")
def _lazy_reader(_letters_table: pl.LazyFrame) -> pl.DataFrame:
    assert isinstance(_letters_table, pl.LazyFrame)
    return _letters_table.group_by("letter").agg(pl.col("n").sum()).sort("letter").collect()


@dg.asset(io_manager_key="pq")
def _eager_reader(_letters_table: pl.DataFrame) -> pl.LazyFrame:
    assert isinstance(_letters_table, pl.DataFrame)
    return _letters_table.lazy().select(pl.len().alias("rows"))


def test_io_manager_partitions_atomic_writes_and_concatenated_loads(tmp_path: Path) -> None:
    io = PolarsParquetIOManager(base_dir=str(tmp_path))
    assets = [_letters_table, _lazy_reader, _eager_reader]
    with dg.instance_for_test() as instance:
        for key in ("a", "b"):  # "c" is never materialized: loading skips it
            result = dg.materialize(assets, selection=[_letters_table], partition_key=key, instance=instance,
                                    resources={"pq": io})  # fmt: skip
            meta = result.asset_materializations_for_node("_letters_table")[0].metadata
            assert meta["dagster/row_count"].value == 2
            assert [c.name for c in meta["dagster/column_schema"].schema.columns] == ["letter", "n"]
        dg.materialize(
            assets, selection=[_lazy_reader, _eager_reader], instance=instance, resources={"pq": io}
        )
    folder = tmp_path / "_letters_table"
    assert sorted(p.name for p in folder.iterdir()) == ["a.parquet", "b.parquet"]  # no temporary files left
    assert pl.read_parquet(tmp_path / "_lazy_reader" / "asset.parquet").to_dicts() == [
        {"letter": "a", "n": 3},
        {"letter": "b", "n": 3},
    ]
    assert pl.read_parquet(tmp_path / "_eager_reader" / "asset.parquet")["rows"].to_list() == [4]


def test_io_manager_loads_an_empty_frame_when_no_partition_is_stored(tmp_path: Path) -> None:
    """Downstream of a partitioned table with nothing stored yet runs on no rows instead of failing."""
    io = PolarsParquetIOManager(base_dir=str(tmp_path))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [_letters_table, _eager_reader],
            selection=[_eager_reader],
            instance=instance,
            resources={"pq": io},
        )
    assert result.success
    assert not (tmp_path / "_letters_table").exists()
    assert pl.read_parquet(tmp_path / "_eager_reader" / "asset.parquet")["rows"].to_list() == [0]


def test_combined_views_equal_full_recomputation(materialized: dict) -> None:
    """The unpartitioned views built from per-day results equal the all-at-once library functions."""
    from polars.testing import assert_frame_equal

    from agent_pipelines.analytics import errors, metrics

    data = materialized["data"]
    days = materialized["days"]
    events = pl.concat(
        [pl.read_parquet(tables_dir(data) / "cleaned_events" / f"{d}.parquet") for d in days],
        how="diagonal_relaxed",
    )
    assert_frame_equal(table(data, "session_metrics"), metrics.session_metrics(events))
    assert_frame_equal(table(data, "error_occurrences"), errors.error_occurrences(events))
    parts = table(data, "session_parts")
    assert parts.height < events.height / 5  # per-day results are small
    assert len(list((tables_dir(data) / "error_events").glob("*.parquet"))) == len(days)
