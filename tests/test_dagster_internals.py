"""The Dagster internals we rely on are where we expect them: on an upgrade this fails loudly,
naming what moved and the installed Dagster version (agent_pipelines/orchestration/dagster_internals.py
says why each is needed)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import dagster as dg
import pytest

from agent_pipelines.orchestration import dagster_internals as internals

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = dg.__version__
UPGRADE = (
    f"installed Dagster {INSTALLED}, this code is pinned for {internals.PINNED_DAGSTER}: "
    "re-check agent_pipelines/orchestration/dagster_internals.py"
)


def test_the_installed_dagster_is_the_pinned_minor() -> None:
    assert INSTALLED.startswith(internals.PINNED_DAGSTER + "."), UPGRADE
    lock = (ROOT / "requirements.lock").read_text()
    assert re.search(rf"^dagster=={re.escape(internals.PINNED_DAGSTER)}\.\d+ ", lock, re.M), UPGRADE


@pytest.mark.parametrize(("name", "module"), sorted(internals.PRIVATE_NAMES.items()))
def test_each_private_name_is_where_we_import_it_from(name: str, module: str) -> None:
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{module}.{name} moved ({exc}); {UPGRADE}")
    if name not in internals.NOT_HANDED_OUT:
        assert getattr(internals, name) is found  # the adapter hands out exactly that object


@pytest.mark.parametrize(("base", "attributes"), sorted(internals.BASE_ATTRIBUTES.items()))
def test_the_base_classes_keep_the_attributes_our_subclasses_use(
    base: str, attributes: tuple[str, ...]
) -> None:
    instance = getattr(dg, base)()
    for attribute in attributes:
        assert hasattr(type(instance), attribute) or hasattr(instance, attribute), (
            f"dagster.{base}.{attribute} is gone; {UPGRADE}"
        )


@pytest.mark.parametrize(("fragment", "source"), internals.ROUTINE_SOURCES)
def test_the_routine_lines_we_filter_are_still_worded_so(fragment: str, source: str) -> None:
    path = Path(dg.__file__).parent / source
    assert path.is_file() and fragment in path.read_text(encoding="utf-8"), (
        f"Dagster no longer writes {fragment!r} in {source}; `agent-pipelines ui` would show those "
        f"lines at INFO again; {UPGRADE}"
    )


def test_the_no_capture_manager_loads_by_its_serialized_name() -> None:
    from dagster._core.storage.compute_log_manager import ComputeLogManager

    manager = internals.no_capture().rehydrate(ComputeLogManager)
    assert type(manager).__name__ == "NoOpComputeLogManager", UPGRADE


def test_no_module_of_ours_imports_dagster_internals_directly() -> None:
    """Only the adapter names ``dagster._`` modules: what an upgrade must re-check is in one file."""
    found = []
    for package in ("agent_pipelines", "assets", "sensors", "jobs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "dagster_internals.py":
                continue
            text = path.read_text(encoding="utf-8")
            found += [
                f"{path.relative_to(ROOT)}: {m}" for m in re.findall(r"(?:from|import) dagster\._\S*", text)
            ]
    assert found == []


def test_the_sensor_daemon_loop_waits_the_constant_we_set() -> None:
    """The live sensor's cadence (``sensor_loop_seconds``) sets the constant Dagster's sensor loop
    sleeps by; an upgrade that renames it or stops reading it on every loop must fail here."""
    import inspect

    sensor_daemon = importlib.import_module(internals.PRIVATE_NAMES["MIN_INTERVAL_LOOP_TIME"])
    loop = inspect.getsource(sensor_daemon.execute_sensor_iteration_loop)
    assert "MIN_INTERVAL_LOOP_TIME - loop_duration" in loop, UPGRADE
    before = internals.set_sensor_loop_seconds(0.5)
    try:
        assert before > 0
        assert sensor_daemon.MIN_INTERVAL_LOOP_TIME == 0.5
    finally:
        internals.set_sensor_loop_seconds(before)


def test_a_checked_shard_is_not_checked_again(tmp_path: Path) -> None:
    """``mark_shard_checked`` writes where Dagster's SQLite event log looks before checking a
    database against its migrations; another storage is left alone."""
    path = Path(dg.__file__).parent / "_core/storage/event_log/sqlite/sqlite_event_log.py"
    assert "if shard not in self._initialized_dbs:" in path.read_text(encoding="utf-8"), UPGRADE
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        storage = instance.event_log_storage
        assert internals.mark_shard_checked(storage, "some-run")
        assert "some-run" in storage._initialized_dbs  # type: ignore[attr-defined]
    assert not internals.mark_shard_checked(object(), "some-run")


def test_partition_metadata_goes_to_each_partition_without_listing_them_again(tmp_path: Path) -> None:
    """``add_partition_metadata`` with the run's keys skips Dagster's per-call listing of the run's
    partitions (a database read) and still lands on each partition's own materialization; a key
    outside the run is refused by Dagster as before."""
    from agent_pipelines.orchestration.io_manager import add_partition_metadata

    days = dg.DynamicPartitionsDefinition(name="days")
    taken: list[bool] = []

    @dg.asset(partitions_def=days, backfill_policy=dg.BackfillPolicy.single_run())
    def daily(context) -> dg.MaterializeResult:  # type: ignore[no-untyped-def]  # Dagster reads it
        keys = sorted(context.partition_keys)
        taken.append(internals.add_asset_metadata_unchecked(context, {"day": keys[0]}, keys[0]))
        for key in keys[1:]:
            add_partition_metadata(context, key, {"day": key}, set(keys))
        with pytest.raises(dg.DagsterInvariantViolationError):
            add_partition_metadata(context, "2099-01-01", {"day": "x"}, set(keys))  # not the run's
        return dg.MaterializeResult(metadata={"run": True})

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.add_dynamic_partitions("days", ["2026-01-01", "2026-01-02", "2026-01-03"])
        from agent_pipelines.core.partitions import range_tags

        result = dg.materialize([daily], instance=instance, tags=range_tags("2026-01-01", "2026-01-03"))
        assert result.success
        records = instance.fetch_materializations(daily.key, limit=10).records
    assert taken == [True], UPGRADE  # the accumulator is where Dagster 1.13 keeps it
    by_key = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert {k: m["day"].value for k, m in by_key.items()} == {k: k for k in by_key} and len(by_key) == 3
