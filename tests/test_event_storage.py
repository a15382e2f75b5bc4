"""The shipped SQLite instance's event log (agent_pipelines/orchestration/event_storage.py): a run's
asset events are stored in one transaction per database, and Dagster reads back exactly what its own
SQLite storage would have stored (issue 29: ~200 commits per 31-day run of cleaned_events).

Each run here goes through ``dg.materialize`` on an instance on disk, once with the shipped
``config/dagster.yaml`` and once with Dagster's default storage, and the two are compared."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from agent_pipelines.orchestration.dagster_internals import EVENT_LOG_METHODS, SqliteEventLogStorage
from agent_pipelines.orchestration.event_storage import BatchedSqliteEventLogStorage
from agent_pipelines.orchestration.instance import install_config

DAYS = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"]
PARTS = dg.StaticPartitionsDefinition(DAYS)


@dg.asset(
    partitions_def=PARTS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec("inline", asset="days")],
)
def days(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    for key in context.partition_keys:
        context.add_asset_metadata({"events": int(key[-2:]), "day": key}, partition_key=key)
    yield dg.MaterializeResult(
        metadata={"run_total": len(context.partition_keys)},
        check_results=[dg.AssetCheckResult(check_name="inline", passed=True)],
    )


@dg.asset_check(asset=days, blocking=True)
def days_separate(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [days, days_separate],
        instance=instance,
        tags={"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]},
    )


@pytest.fixture
def instances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dg.DagsterInstance]]:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")  # as the shipped storage sets it on import
    shipped, plain = tmp_path / "shipped", tmp_path / "plain"
    shipped.mkdir()
    plain.mkdir()
    install_config(shipped)
    opened: dict[str, dg.DagsterInstance] = {}
    for name, home in (("shipped", shipped), ("plain", plain)):
        monkeypatch.setenv("DAGSTER_HOME", str(home))  # the shipped file names it as its storage's folder
        opened[name] = dg.DagsterInstance.from_config(str(home))
    try:
        yield opened
    finally:
        for instance in opened.values():
            instance.dispose()
    shutil.rmtree(tmp_path, ignore_errors=True)


def _stored(instance: dg.DagsterInstance, run_id: str) -> dict[str, object]:
    key = dg.AssetKey("days")
    records = instance.fetch_materializations(key, limit=100).records
    by_day = {r.partition_key: dict(r.asset_materialization.metadata) for r in records}  # type: ignore[union-attr]
    logs = instance.all_logs(run_id)
    planned = sorted(
        e.dagster_event.event_specific_data.partition  # type: ignore[union-attr]
        or str(sorted(e.dagster_event.event_specific_data.partitions_subset.get_partition_keys()))  # type: ignore[union-attr]
        for e in logs
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION_PLANNED"
    )
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(key, "inline"), dg.AssetCheckKey(key, "days_separate")]
    )
    return {
        "materialized": sorted(instance.get_materialized_partitions(key)),
        "by_day": by_day,
        "planned": planned,
        "event_types": sorted(e.dagster_event.event_type_value for e in logs if e.dagster_event),
        "checks": sorted((k.name, v.status.value) for k, v in checks.items()),
        "index_rows": len(instance.fetch_materializations(key, limit=100).records),
    }


def test_the_shipped_instance_uses_the_batched_event_log(instances: dict[str, dg.DagsterInstance]) -> None:
    assert type(instances["shipped"].event_log_storage) is BatchedSqliteEventLogStorage
    assert type(instances["plain"].event_log_storage) is SqliteEventLogStorage


@pytest.mark.parametrize("method", EVENT_LOG_METHODS)
def test_dagsters_sqlite_event_log_keeps_the_methods_the_batches_call(method: str) -> None:
    assert callable(getattr(SqliteEventLogStorage, method, None)), (
        f"SqliteEventLogStorage.{method} is gone in Dagster {dg.__version__}: "
        "agent_pipelines/orchestration/event_storage.py stores asset events through it"
    )


def test_a_many_day_run_reads_back_as_with_dagsters_own_storage(
    instances: dict[str, dg.DagsterInstance],
) -> None:
    results = {name: _run(instance) for name, instance in instances.items()}
    assert all(result.success for result in results.values())
    shipped = _stored(instances["shipped"], results["shipped"].run_id)
    plain = _stored(instances["plain"], results["plain"].run_id)
    assert shipped == plain
    assert shipped["materialized"] == DAYS
    # in the order Dagster's own storage keeps them (a check's "planned" after the days' planned)
    order = {
        name: [
            e.dagster_event.event_type_value
            for e in instance.all_logs(results[name].run_id)
            if e.dagster_event
        ]
        for name, instance in instances.items()
    }
    assert order["shipped"] == order["plain"]
    assert shipped["by_day"]["2026-01-07"]["events"].value == 7  # type: ignore[index]
    assert len(shipped["planned"]) == len(DAYS)  # type: ignore[arg-type]


def test_each_asset_event_costs_no_commit_of_its_own(
    instances: dict[str, dg.DagsterInstance], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Count the event log's database connections (each a commit and a close) in one run: with the
    batches, a run over more days opens no more of them than one over fewer."""
    opened: list[str] = []
    connect = SqliteEventLogStorage._connect

    def counting(self: SqliteEventLogStorage, shard: str):  # type: ignore[no-untyped-def]
        opened.append(shard)
        return connect(self, shard)

    monkeypatch.setattr(SqliteEventLogStorage, "_connect", counting)
    assert _run(instances["shipped"]).success
    batched = len(opened)
    opened.clear()
    assert _run(instances["plain"]).success
    # one planned and one materialization event per day: two connections each in Dagster's storage
    assert len(opened) - batched >= 2 * 2 * (len(DAYS) - 1)
