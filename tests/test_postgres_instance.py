"""The PostgreSQL instance for real: a server started by the test session, Dagster's own storage on it.

What must work on a team's instance, each against PostgreSQL (no SQLite anywhere in the path):
a day partition materialized, a schedule tick through the scheduler daemon's code, the live sensor
ticking under the real ``dagster-daemon`` and launching a detector run through the queued run
coordinator, and the webserver's GraphQL reading those runs back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import requests
import yaml
from dagster_procs import binary, dagster_process, wait_for
from pg_server import free_port

from agent_pipelines.cli import main as cli_main
from agent_pipelines.core import paths
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.settings import Settings, SettingsError, defaults
from agent_pipelines.orchestration import instance as instance_mod

STARTUP_S = 240
_LOG = logging.getLogger("scheduler-test")


@pytest.fixture(scope="module")
def pg_env(postgres_server) -> Iterator[dict[str, str]]:
    """``DAGSTER_PG_*`` for a database of this module's own, exported for the module's tests."""
    env = postgres_server.env(postgres_server.new_database("instance"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


@pytest.fixture(scope="module")
def pg_home(pg_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pg_home")
    instance_mod.install_config(home, instance_mod.POSTGRES)
    return home


@pytest.fixture(scope="module")
def pg_instance(pg_home: Path) -> Iterator[dg.DagsterInstance]:
    instance = dg.DagsterInstance.from_config(str(pg_home))
    try:
        yield instance
    finally:
        instance.dispose()


def test_postgres_config_repeats_the_default_settings() -> None:
    """Both instances tick, retain and queue alike; postgres only adds storage and the detector limit."""
    sqlite = yaml.safe_load(instance_mod.SHIPPED_CONFIGS["sqlite"].read_text())
    pg = yaml.safe_load(instance_mod.SHIPPED_CONFIGS["postgres"].read_text())
    for section in ("telemetry", "retention", "sensors"):
        assert pg[section] == sqlite[section], section
    limits = pg["run_queue"].pop("tag_concurrency_limits")
    # The single-machine SQLite instance queues with the same settings through the express run
    # coordinator (agent_pipelines/orchestration/run_launch/__init__.py); PostgreSQL keeps Dagster's plain
    # queue, whose
    # tag limit holds across daemons.
    assert sqlite["run_coordinator"]["class"] == "ExpressRunCoordinator"
    express = dict(sqlite["run_coordinator"]["config"])
    # The express coordinator also shortens the sensor daemon's loop (sensors/live_alerts.py); a
    # team's PostgreSQL instance keeps Dagster's own 5 s loop.
    assert express.pop("sensor_loop_seconds") == 0.5
    assert pg["run_queue"] == express
    assert limits == [{"key": "agent_pipelines/kind", "value": "live_detector", "limit": 1}]
    from sensors.live_alerts import live_detector_job

    assert live_detector_job.tags["agent_pipelines/kind"] == "live_detector"  # the limit matches the job
    text = instance_mod.SHIPPED_CONFIGS["postgres"].read_text()
    assert "password: { env: DAGSTER_PG_PASSWORD }" in text  # a name, never a value


def test_choosing_postgres_without_a_connection_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (*instance_mod.PG_REQUIRED, "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_PG_HOST", "db.internal")
    with pytest.raises(instance_mod.InstanceConfigError, match="DAGSTER_PG_USER, DAGSTER_PG_PASSWORD"):
        instance_mod.dagster_environment(Settings.load(), tmp_path, instance="postgres")
    with pytest.raises(instance_mod.InstanceConfigError, match="unknown Dagster instance 'mysql'"):
        instance_mod.dagster_environment(defaults(), tmp_path, instance="mysql")
    monkeypatch.setenv(instance_mod.INSTANCE_ENV, "mysql")
    with pytest.raises(SettingsError, match="AGENT_PIPELINES_INSTANCE='mysql' is not valid"):
        Settings.load()
    monkeypatch.delenv(instance_mod.INSTANCE_ENV)
    code = cli_main(["ui", "--instance", "postgres", "--data-dir", str(tmp_path), "--no-demo"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "DAGSTER_PG_USER" in err


def test_environment_selects_the_postgres_instance(
    pg_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_PG_PORT")  # defaults to 5432 when unset...
    monkeypatch.setenv(instance_mod.INSTANCE_ENV, "postgres")
    exported = instance_mod.dagster_environment(Settings.load(), tmp_path)
    for name, value in exported.items():  # what the command line's edge exports for Dagster
        monkeypatch.setenv(name, value)
    home = Path(exported["DAGSTER_HOME"])
    assert os.environ["DAGSTER_PG_PORT"] == "5432"
    monkeypatch.setenv("DAGSTER_PG_PORT", pg_env["DAGSTER_PG_PORT"])  # ...here the test server's port
    assert home == (tmp_path / "dagster_home").resolve()
    instance = dg.DagsterInstance.get()
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        limits = coordinator.get_run_queue_config().tag_concurrency_limits
        assert {"key": "agent_pipelines/kind", "value": "live_detector", "limit": 1} in limits
        assert "test-password" not in (home / "dagster.yaml").read_text()
    finally:
        instance.dispose()


def test_day_partition_materializes_on_postgres(
    pg_instance: dg.DagsterInstance, small_logs: Path, tmp_path: Path
) -> None:
    from agent_pipelines.core.partitions import LOG_DAYS, log_days
    from agent_pipelines.orchestration.partitions import register_partitions
    from assets.analytics import analytics_assets, build_resources

    days = log_days(small_logs)
    register_partitions(pg_instance, days)
    assert pg_instance.get_dynamic_partitions(LOG_DAYS) == [d.isoformat() for d in days]
    assets, checks = analytics_assets()
    day = days[1].isoformat()
    result = dg.materialize(
        [*assets, *checks],
        selection=[dg.AssetKey("cleaned_events")],
        partition_key=day,
        instance=pg_instance,
        resources=build_resources(str(small_logs), str(tmp_path)),
    )
    assert result.success
    records = pg_instance.fetch_materializations(dg.AssetKey("cleaned_events"), limit=10).records
    assert [r.partition_key for r in records] == [day]
    rows = records[0].asset_materialization.metadata["dagster/row_count"].value
    assert rows > 0
    # The run and its events are in PostgreSQL: a second instance on the same database sees them.
    with dg.DagsterInstance.from_config(str(pg_instance.root_directory)) as other:
        run = other.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == day


def test_schedule_tick_on_postgres(pg_instance: dg.DagsterInstance, tmp_path: Path) -> None:
    """The scheduler daemon's own tick function: a due tick is stored and its run queued in PostgreSQL."""
    from dagster._core.scheduler.instigation import TickStatus
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._scheduler.scheduler import launch_scheduled_runs

    target = WorkspaceFileTarget(paths=[str(paths.PROJECT_ROOT / "workspace.yaml")])
    cwd = os.getcwd()
    os.chdir(paths.PROJECT_ROOT)  # workspace.yaml's working_directory is relative to where we run
    try:
        with create_test_daemon_workspace_context(target, pg_instance) as context:
            workspace = context.create_request_context()
            location = next(iter(workspace.get_code_location_entries().values())).code_location
            assert location is not None, "code location failed to load"
            repo = next(iter(location.get_repositories().values()))
            schedule = repo.get_schedule("weekly_log_rotation")
            due = next(schedule.execution_time_iterator(datetime.now(UTC).timestamp()))
            # Two daemon iterations, as the daemon would make them: one before the tick is due (it
            # records the schedule's state, declared running in code), one just after.
            for end in (due - timedelta(seconds=1), due + timedelta(seconds=1)):
                outcomes = launch_scheduled_runs(context, _LOG, end_datetime_utc=end, iteration_times={})
                errors = [str(o) for o in outcomes if o is not None]
                assert not errors, errors
            ticks = pg_instance.get_ticks(schedule.get_remote_origin_id(), schedule.selector_id)
    finally:
        os.chdir(cwd)
    assert len(ticks) == 1
    tick = ticks[0]
    assert tick.status == TickStatus.SUCCESS, tick.error
    assert abs(tick.timestamp - due.timestamp()) < 1
    run = pg_instance.get_run_by_id(tick.run_ids[0])
    assert run.job_name == "rotate_logs"
    assert run.status == dg.DagsterRunStatus.QUEUED  # the queued coordinator holds it for the daemon
    assert run.tags["dagster/schedule_name"] == "weekly_log_rotation"
    pg_instance.delete_run(run.run_id)  # not for the daemon of the next test to launch


def _error_loop(logs: Path) -> None:
    base = datetime.now(UTC) - timedelta(minutes=1)
    moments = iter([base + timedelta(seconds=i) for i in range(10)])
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: next(moments))
    log.start_session("ve-pg", task_id="task-pg", executor="CODEX")
    for _ in range(4):
        log.error("ve-pg", "fatal: could not read Username for 'https://github.com'", "git_auth")


@pytest.mark.slow
def test_daemon_sensor_tick_launches_a_detector_run_and_graphql_shows_it(
    pg_instance: dg.DagsterInstance, pg_home: Path, pg_env: dict[str, str], tmp_path: Path
) -> None:
    """The real daemon ticks the live sensor, queues and launches the detector run (all state in
    PostgreSQL); the real webserver's GraphQL then lists that run."""
    from agent_pipelines.live.alerts import read_alerts

    logs, data = tmp_path / "logs", tmp_path / "data"
    logs.mkdir()
    _error_loop(logs)
    env = dict(os.environ, **pg_env, DAGSTER_HOME=str(pg_home), AGENT_WORK_LOGS_DIR=str(logs),
               AGENT_PIPELINES_DATA_DIR=str(data), AGENT_PIPELINES_AUTO_ANALYTICS="false")  # fmt: skip
    log = tmp_path / "daemon.log"

    def detector_runs() -> list[dg.DagsterRun]:
        return pg_instance.get_runs(
            filters=dg.RunsFilter(job_name="live_detector_job", statuses=[dg.DagsterRunStatus.SUCCESS])
        )

    with dagster_process([binary("dagster-daemon"), "run", "-w", "workspace.yaml"], env, log) as daemon:
        runs = wait_for("a successful detector run", detector_runs, STARTUP_S, daemon, log)
    run = runs[0]
    assert run.tags["dagster/sensor_name"] == "live_alerts_sensor"
    assert run.tags["agent_pipelines/reason"] == "new_data"
    assert [a["type"] for a in read_alerts(logs)] == ["error_loop"]

    port = free_port()
    web_log = tmp_path / "webserver.log"
    argv = [binary("dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    query = """
      query { runsOrError(filter: {pipelineName: "live_detector_job"}) {
        __typename ... on Runs { results { runId status tags { key value } } } } }
    """
    url = f"http://127.0.0.1:{port}/graphql"

    def graphql_runs() -> list[dict] | None:
        try:
            response = requests.post(url, json={"query": query}, timeout=30)
        except requests.RequestException:
            return None
        body = response.json()
        assert "errors" not in body, body
        return body["data"]["runsOrError"]["results"]

    with dagster_process(argv, env, web_log) as web:
        results = wait_for("GraphQL runs", graphql_runs, STARTUP_S, web, web_log)
    by_id = {r["runId"]: r for r in results}
    assert by_id[run.run_id]["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in by_id[run.run_id]["tags"]}
    assert tags["dagster/sensor_name"] == "live_alerts_sensor"
