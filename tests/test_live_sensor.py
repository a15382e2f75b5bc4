"""The live-alerts sensor and detector job through Dagster's real APIs, Telegram through a real server."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun
from fake_telegram import DEFAULT_TOKEN, FakeTelegram

from agent_pipelines.core import paths, tailer
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.settings import Settings, defaults
from agent_pipelines.live.alerts import read_alerts
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.resources import TelegramResource, detector_resources
from agent_pipelines.orchestration.resources import resources as resources_for
from sensors.live_alerts import JOB_NAME, build, evaluate, live_alerts_sensor, live_detector_job

CHAT = "4242"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    logs, data = tmp_path / "logs", tmp_path / "data"
    logs.mkdir()
    return logs, data


def write_error_loop(logs: Path, attempt: str = "ve-live", when: datetime | None = None) -> None:
    """An error loop happening "now" (so it is fresh enough to be sent to Telegram)."""
    base = when or datetime.now(UTC) - timedelta(minutes=2)
    moments = iter([base + timedelta(seconds=i) for i in range(10)])
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: next(moments))
    log.start_session(attempt, task_id="task-9", executor="CODEX")
    for _ in range(4):
        log.error(attempt, "fatal: could not read Username for 'https://github.com'", "git_auth")


def resources(logs: Path, data: Path, telegram: TelegramResource | None = None) -> dict:
    return detector_resources(
        LogStore(logs_dir=str(logs), data_dir=str(data)), telegram or TelegramResource()
    )


def tick(
    instance: dg.DagsterInstance, logs: Path, data: Path, cursor: str | None = None, now: float | None = None
):
    # The resource as the code location binds it: from the settings of the (test's) environment.
    store = LogStore.from_settings(Settings.load(), str(logs), str(data))
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"log_store": store})
    return evaluate(ctx, ctx.resources.log_store, now=now)


def run_job(instance: dg.DagsterInstance, logs: Path, data: Path, request=None, telegram=None, now: str = ""):
    config = (
        request.run_config if request is not None else {"ops": {"read_new_events": {"config": {"now": now}}}}
    )
    return live_detector_job.execute_in_process(
        run_config=config, resources=resources(logs, data, telegram), instance=instance
    )


def test_definitions_load_and_sensor_settings() -> None:
    dg.Definitions.validate_loadable(
        dg.Definitions.merge(build(defaults()), dg.Definitions(resources=resources_for(defaults())))
    )
    sensor = live_alerts_sensor(defaults())
    assert sensor.minimum_interval_seconds == 1  # every daemon loop after a watching tick qualifies
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    off = Settings.load({"AGENT_WORK_ANALYZER_ENABLED": "false"})
    assert live_alerts_sensor(off).default_status == dg.DefaultSensorStatus.STOPPED
    assert live_detector_job.executor_def is dg.in_process_executor


def test_new_data_requests_one_idempotent_run_then_skips(folders: tuple[Path, Path]) -> None:
    logs, data = folders
    write_error_loop(logs)
    with dg.instance_for_test() as instance:
        result = tick(instance, logs, data)
        assert len(result.run_requests) == 1
        request = result.run_requests[0]
        assert request.tags["agent_pipelines/reason"] == "new_data"
        ranges = json.loads(request.run_config["ops"]["read_new_events"]["config"]["ranges"])
        assert ranges[0]["path"].startswith("stream/") and ranges[0]["start"] == 0
        # Evaluated again before anything ran: the same ranges give the same run key (idempotent).
        again = tick(instance, logs, data)
        assert again.run_requests[0].run_key == request.run_key
        assert run_job(instance, logs, data, request).success
        assert [a["type"] for a in read_alerts(logs)] == ["error_loop"]
        after = tick(instance, logs, data, cursor=result.cursor)
        assert not after.run_requests and "no new lines" in after.skip_reason.skip_message
        # Telegram not configured: alerts written, the run said so in its logs (once).


def test_no_pile_up_while_a_detector_run_is_in_flight(folders: tuple[Path, Path]) -> None:
    logs, data = folders
    write_error_loop(logs)
    with dg.instance_for_test() as instance:
        # A run of the detector job is running (started by an earlier tick, still working).
        instance.add_run(DagsterRun(job_name=JOB_NAME, run_id="r-busy", status=dg.DagsterRunStatus.STARTED))
        result = tick(instance, logs, data)
        assert not result.run_requests
        assert "still started" in result.skip_reason.skip_message


def test_a_tick_watches_the_folder_and_requests_the_run_when_lines_arrive(folders: tuple[Path, Path]) -> None:
    logs, data = folders
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(
            instance=instance, resources={"log_store": LogStore(logs_dir=str(logs), data_dir=str(data))}
        )
        # Nothing to do: the tick watched before skipping, and says so.
        idle = evaluate(ctx, ctx.resources.log_store, watch_s=0.3)
        assert not idle.run_requests
        assert idle.skip_reason.skip_message.startswith("no new lines")
        assert "watched the log folder" in idle.skip_reason.skip_message
        # Lines appended while a tick watches: that tick requests the run (a tick that only looked
        # once, before they came, would have skipped).
        writer = threading.Timer(0.3, write_error_loop, args=(logs,))
        writer.start()
        try:
            result = evaluate(ctx, ctx.resources.log_store, watch_s=30)
        finally:
            writer.join()
        assert len(result.run_requests) == 1
        assert result.run_requests[0].tags["agent_pipelines/reason"] == "new_data"


def test_a_watching_tick_waits_for_the_run_in_flight(folders: tuple[Path, Path]) -> None:
    logs, data = folders
    write_error_loop(logs)
    with dg.instance_for_test() as instance:
        instance.add_run(DagsterRun(job_name=JOB_NAME, run_id="r-busy", status=dg.DagsterRunStatus.STARTED))
        ctx = dg.build_sensor_context(
            instance=instance, resources={"log_store": LogStore(logs_dir=str(logs), data_dir=str(data))}
        )
        finish = threading.Timer(
            0.3,
            lambda: instance.report_run_failed(instance.get_run_by_id("r-busy")),  # type: ignore[arg-type]
        )
        finish.start()
        try:
            result = evaluate(ctx, ctx.resources.log_store, watch_s=30)
        finally:
            finish.join()
        assert len(result.run_requests) == 1  # the run ended mid-watch: the lines get their own run


def test_failed_run_is_requested_again_after_a_pause(folders: tuple[Path, Path]) -> None:
    logs, data = folders
    write_error_loop(logs)
    with dg.instance_for_test() as instance:
        first = tick(instance, logs, data, now=1000.0)
        # The run failed (nothing committed): the same ranges are not re-requested at once...
        soon = tick(instance, logs, data, cursor=first.cursor, now=1010.0)
        assert not soon.run_requests and "did not commit" in soon.skip_reason.skip_message
        # ...but after the pause, with a new run key (Dagster would drop a repeated key).
        later = tick(instance, logs, data, cursor=first.cursor, now=1031.0)
        assert later.run_requests[0].run_key == first.run_requests[0].run_key + "-r1"


def test_a_tick_waiting_to_retry_a_failed_run_watches_on(folders: tuple[Path, Path]) -> None:
    """While a failed run's request waits out its pause, the tick keeps watching: lines that land
    meanwhile are other ranges, a new run key, requested at once (a tick that ended at "retrying
    after 30s" left them to a later tick)."""
    logs, data = folders
    write_error_loop(logs)
    with dg.instance_for_test() as instance:
        first = tick(instance, logs, data, now=1000.0)
        ctx = dg.build_sensor_context(
            instance=instance,
            cursor=first.cursor,
            resources={"log_store": LogStore(logs_dir=str(logs), data_dir=str(data))},
        )
        writer = threading.Timer(0.3, write_error_loop, args=(logs, "ve-other"))
        writer.start()
        try:
            result = evaluate(ctx, ctx.resources.log_store, now=1010.0, watch_s=30)
        finally:
            writer.join()
        assert len(result.run_requests) == 1
        assert not result.run_requests[0].run_key.startswith(first.run_requests[0].run_key)


def test_a_half_written_line_waits_for_its_newline(folders: tuple[Path, Path]) -> None:
    """A watching tick does not request a run for a line without its newline (the run would read
    nothing); it requests one the moment the newline lands."""
    logs, data = folders
    write_error_loop(logs)
    [stream] = tailer.watched_files(logs)
    line = stream.read_bytes().splitlines(keepends=True)[-1].replace(b"could not", b"cannot")
    with dg.instance_for_test() as instance:
        assert run_job(instance, logs, data, tick(instance, logs, data).run_requests[0]).success
        with stream.open("ab") as handle:
            handle.write(line[:40])
        ctx = dg.build_sensor_context(
            instance=instance, resources={"log_store": LogStore(logs_dir=str(logs), data_dir=str(data))}
        )
        idle = evaluate(ctx, ctx.resources.log_store, watch_s=0.3)
        assert not idle.run_requests and idle.skip_reason.skip_message.startswith("no new lines")

        def finish() -> None:
            with stream.open("ab") as handle:
                handle.write(line[40:])

        writer = threading.Timer(0.3, finish)
        writer.start()
        try:
            result = evaluate(ctx, ctx.resources.log_store, watch_s=30)
        finally:
            writer.join()
        [request] = result.run_requests
        ranges = json.loads(request.run_config["ops"]["read_new_events"]["config"]["ranges"])
        assert ranges[0]["end"] == stream.stat().st_size
        assert run_job(instance, logs, data, request).success


def test_stuck_check_without_new_events(folders: tuple[Path, Path]) -> None:
    logs, data = folders
    start = datetime.now(UTC) - timedelta(minutes=4)
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: start)
    log.start_session("ve-quiet", executor="CODEX")
    with dg.instance_for_test() as instance:
        assert run_job(instance, logs, data, tick(instance, logs, data).run_requests[0]).success
        quiet = tick(instance, logs, data)
        assert not quiet.run_requests and "next stuck check due in" in quiet.skip_reason.skip_message
        due = start.timestamp() + 300
        result = tick(instance, logs, data, now=due + 1)  # no new line: the clock alone triggers it
        assert result.run_requests[0].tags["agent_pipelines/reason"] == "stuck_check"
        assert run_job(instance, logs, data, result.run_requests[0]).success
        assert [a["type"] for a in read_alerts(logs)] == ["stuck_agent"]
        later = tick(instance, logs, data, cursor=result.cursor, now=due + 60)
        assert not later.run_requests and "no silence to watch for" in later.skip_reason.skip_message


def test_disabled_by_environment(folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    logs, data = folders
    write_error_loop(logs)
    monkeypatch.setenv("AGENT_WORK_ANALYZER_ENABLED", "false")
    with dg.instance_for_test() as instance:
        result = tick(instance, logs, data)
        assert result.skip_message.startswith("AGENT_WORK_ANALYZER_ENABLED=false")


def test_sensor_evaluate_tick_through_dagster(folders: tuple[Path, Path]) -> None:
    logs, data = folders
    write_error_loop(logs)
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(
            instance=instance, resources={"log_store": LogStore(logs_dir=str(logs), data_dir=str(data))}
        )
        data_out = live_alerts_sensor(defaults()).evaluate_tick(ctx)
        assert len(data_out.run_requests) == 1 and data_out.cursor


# --------------------------------------------------------------------------------------------
# Telegram through the fake Bot API server
# --------------------------------------------------------------------------------------------


def telegram_for(fake: FakeTelegram, timeout: float = 2.0) -> TelegramResource:
    return TelegramResource(
        bot_token=DEFAULT_TOKEN,
        chat_id=CHAT,
        api_base_url=fake.api_base,
        timeout_seconds=timeout,
        max_retries=3,
        max_total_seconds=10,
    )


def test_alerts_reach_telegram_as_one_digest(folders: tuple[Path, Path]) -> None:
    logs, data = folders
    write_error_loop(logs, "ve-a")
    write_error_loop(logs, "ve-b")
    with FakeTelegram(chat_ids={CHAT}) as fake, dg.instance_for_test() as instance:
        assert run_job(instance, logs, data, telegram=telegram_for(fake)).success
        assert len(fake.texts()) == 1  # a burst of alerts → one digest message
        assert "ve-a" in fake.texts()[0] and "ve-b" in fake.texts()[0]
        assert run_job(instance, logs, data, telegram=telegram_for(fake)).success
        assert len(fake.texts()) == 1  # nothing new, nothing re-sent


@pytest.mark.parametrize("failure", ["429", "500", "timeout"])
def test_transient_telegram_failures_are_retried(folders: tuple[Path, Path], failure: str) -> None:
    logs, data = folders
    write_error_loop(logs)
    with FakeTelegram(chat_ids={CHAT}) as fake, dg.instance_for_test() as instance:
        if failure == "429":
            fake.rate_limit_next(1, retry_after=1)
        elif failure == "500":
            fake.fail_next(2, status=500)
        else:
            fake.delay_next(1, seconds=1.5, deliver=False)
        assert run_job(instance, logs, data, telegram=telegram_for(fake, timeout=0.5)).success
        # Exactly one message: the failed attempt (dropped after the client's timeout, or refused)
        # was retried, and nothing was sent twice.
        assert len(fake.texts()) == 1 and "ERROR LOOP" in fake.texts()[0]
        if failure != "timeout":
            assert [r.status for r in fake.requests][-1] == 200 and len(fake.requests) >= 2
        if failure == "429":
            gap = fake.requests[1].at - fake.requests[0].at
            assert gap >= 0.9  # waited the retry_after Telegram asked for


def test_restart_while_a_delivery_is_pending(folders: tuple[Path, Path]) -> None:
    """Telegram down → the message stays pending in the durable outbox; the sensor asks for a
    delivery run; once Telegram is back it is delivered exactly once."""
    logs, data = folders
    write_error_loop(logs)
    fake = FakeTelegram(chat_ids={CHAT}).start()
    try:
        fake.stop()  # connection refused
        with dg.instance_for_test() as instance:
            assert run_job(instance, logs, data, telegram=telegram_for(fake, timeout=0.3)).success
            assert len(read_alerts(logs)) == 1
            pending = list((data / "state" / "telegram-outbox" / "pending").glob("*.json"))
            assert len(pending) == 1
        fake.start()  # "after a restart": a new instance, a new process's view of the same folders
        with dg.instance_for_test() as instance:
            result = tick(instance, logs, data)
            assert result.run_requests[0].tags["agent_pipelines/reason"] == "deliver_pending"
            assert run_job(instance, logs, data, result.run_requests[0], telegram=telegram_for(fake)).success
            assert run_job(instance, logs, data, telegram=telegram_for(fake)).success
        assert len(fake.texts()) == 1 and len(read_alerts(logs)) == 1
    finally:
        fake.stop()


def test_bot_token_never_in_logs_or_run_metadata(
    folders: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    logs, data = folders
    write_error_loop(logs)
    caplog.set_level(logging.DEBUG)
    with FakeTelegram(chat_ids={CHAT}) as fake, dg.instance_for_test() as instance:
        fake.fail_next(1, status=500)
        result = run_job(instance, logs, data, telegram=telegram_for(fake))
        assert result.success and len(fake.texts()) == 1
        records = instance.get_records_for_run(result.run_id).records
        stored = " ".join(str(r.event_log_entry) for r in records)
        run = instance.get_run_by_id(result.run_id)
    secret_part = DEFAULT_TOKEN.split(":", 1)[1]
    assert secret_part not in caplog.text
    assert secret_part not in stored
    assert secret_part not in json.dumps(run.run_config) + json.dumps(run.tags)
    assert secret_part not in (logs / paths.ALERTS_FILE).read_text()


def test_replay_with_now_through_the_job(folders: tuple[Path, Path]) -> None:
    """``now`` in the run config is the clock of the stuck check (replays of old logs)."""
    logs, data = folders
    old = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: old)
    log.start_session("ve-old", executor="CODEX")
    with dg.instance_for_test() as instance:
        assert run_job(instance, logs, data, now="2026-01-05T10:04:00Z").success
        assert read_alerts(logs) == []
        assert run_job(instance, logs, data, now="2026-01-05T10:06:00Z").success
        assert [a["idle_time_ms"] for a in read_alerts(logs)] == [360_000]
        assert instance.get_runs(filters=dg.RunsFilter(job_name=JOB_NAME))


def test_detector_runs_feed_the_alerts_asset(folders: tuple[Path, Path]) -> None:
    """A run that fires lists its alerts in its metadata and materializes the alert's day of the
    ``alerts`` asset (the table the UI shows); materializing that day from the UI gives the same."""
    import polars as pl

    from agent_pipelines.orchestration.io_manager import PolarsParquetIOManager
    from assets.alerts import alerts as alerts_asset

    logs, data = folders
    write_error_loop(logs)
    with dg.instance_for_test() as instance:
        result = run_job(instance, logs, data)
        assert result.success
        meta = next(
            e.event_specific_data.metadata
            for e in result.all_events
            if e.event_type_value == "STEP_OUTPUT" and e.step_key == "publish_alerts"
        )
        assert meta["alerts"].value == 1 and meta["by_type"].value == "error_loop: 1"
        table = meta["alerts_table"].value
        (record,) = table.records
        assert record.data["type"] == "error_loop" and record.data["recommendation"] == "trigger_ai_autofix"
        assert record.data["attempt_id"] == "ve-live" and "git_auth ×4" in record.data["summary"]
        day = record.data["timestamp"][:10]
        assert day in instance.get_dynamic_partitions("log_days")
        event = instance.get_latest_materialization_event(dg.AssetKey("alerts"))
        assert event is not None and event.asset_materialization.partition == day
        stored = pl.read_parquet(data / "tables" / "alerts" / f"{day}.parquet")
        assert stored["type"].to_list() == ["error_loop"] and stored["sample"][0].startswith("fatal:")
        # The asset itself, materialized for that day, reads the same alert back from the file.
        rebuilt = dg.materialize(
            [alerts_asset],
            partition_key=day,
            instance=instance,
            resources={
                "log_store": LogStore(logs_dir=str(logs), data_dir=str(data)),
                "parquet_io_manager": PolarsParquetIOManager(base_dir=str(data / "tables")),
            },
        )
        assert rebuilt.success
        assert pl.read_parquet(data / "tables" / "alerts" / f"{day}.parquet").equals(stored)
