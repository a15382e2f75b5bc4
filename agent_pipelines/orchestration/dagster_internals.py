"""Every Dagster name and wording we rely on that Dagster does not promise to keep: one place to
re-check on an upgrade.

Pinned for **Dagster 1.13** (``requirements.lock``: 1.13.27). Dagster's public API (``import
dagster``) is stable across minor releases; names under ``dagster._`` and the wording of its log
lines are not, and may move in any release. So no module of ours imports ``dagster._`` directly:
it imports from here, and ``tests/test_dagster_internals.py`` imports each name of
:data:`PRIVATE_NAMES` and fails naming the name and the installed Dagster version if one moved.

Where a public name does the same job it is used instead (``dg.DagsterInstance``,
``dg.DefaultRunLauncher``, ``dg.QueuedRunCoordinator``, ``dg.SubmitRunContext``, ``dg.DagsterRun``,
``dg.serialize_value``, ``dg.BetaWarning``...: the same objects, so the launch path's speed is
unchanged). What is left, and why:

* **express runs** (:mod:`agent_pipelines.orchestration.run_launch`, ~2 s off every live alert's
  path): the launcher's context type, the instance reference a forked process reopens, the engine
  event it reports, and the two functions Dagster's code server calls to execute a run in the
  process it starts (Dagster has no public way to execute an existing run in a given process);
  the no-op compute-log manager an express run uses, named by module and class in the instance's
  serialized config;
* **the sensor daemon's loop** (live alerts: a run requested as soon as a line lands, not at the
  next 5-second loop): Dagster evaluates sensors in a loop that waits
  ``dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME`` (5 s) between starts and keeps one tick per sensor
  in flight, with no setting for it; :func:`set_sensor_loop_seconds` shortens that wait in the
  process that runs the daemon (``ExpressRunCoordinator``'s ``sensor_loop_seconds``);
* **the run's event-log database, already made** (express runs): Dagster's SQLite event log checks a
  run's database against its ~90 Alembic migration scripts the first time a process opens it
  (``SqliteEventLogStorage._initialized_dbs`` remembers which it checked, ~25 ms of CPU); the
  daemon created and stamped it before launching the run (``launch_run`` writes the run's first
  event), so :func:`mark_shard_checked` lets the forked run skip the check. ``INDEX_SHARD_NAME``
  names the event log's index database;
* **the rotation schedule's next tick** (``agent-pipelines status``): Dagster's own cron iterator,
  so ``status`` says exactly what the scheduler will do (time zones, DST);
* **a partition's metadata in a run over many** (:func:`add_asset_metadata_unchecked`): Dagster
  1.13's ``add_asset_metadata(partition_key=...)`` checks the key by listing the run's partitions
  from the instance on every call (a database read, ~10 ms holding the GIL, once per day of a
  backfill); the caller checks the key against the run's keys it listed once, and the metadata
  goes straight to the step's accumulator (:data:`STEP_METADATA_PATH`);
* **the SQLite event log in batches** (:mod:`agent_pipelines.orchestration.event_storage`, the
  shipped instance's storage): Dagster's SQLite storage classes, subclassed so that a batch of a
  run's asset events is one transaction per database, not one per event; the set of asset event
  types, the result helper and the methods of Dagster's ``store_event`` it calls
  (:data:`EVENT_LOG_METHODS`), and where Dagster's storage keeps the run databases
  (:func:`event_logs_directory`);
* **the terminal filter** (``agent-pipelines ui``): the wording of the lines Dagster 1.13's daemon
  prints for ticks that did nothing (:data:`ROUTINE_LINE`) and of its log format (:data:`LOG_LEVEL`);
  a change of wording shows those lines again at INFO, nothing worse.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, imported on first use (below): the CLI imports this module for
    # its wording regexes, and must not pay for importing Dagster on every command
    from dagster._core.events import ASSET_EVENTS, EngineEventData
    from dagster._core.execution.api import execute_run
    from dagster._core.instance import InstanceRef
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
        INDEX_SHARD_NAME,
        SqliteEventLogStorage,
    )
    from dagster._core.storage.sqlalchemy_compat import db_result
    from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
    from dagster._serdes import ConfigurableClassData
    from dagster._utils.hosted_user_process import recon_job_from_origin
    from dagster._utils.schedules import cron_string_iterator

PINNED_DAGSTER = "1.13"

# The private names above, by the module they come from (the test imports each from there).
PRIVATE_NAMES: dict[str, str] = {
    "EngineEventData": "dagster._core.events",
    "execute_run": "dagster._core.execution.api",
    "InstanceRef": "dagster._core.instance",
    "LaunchRunContext": "dagster._core.launcher",
    "ConfigurableClassData": "dagster._serdes",
    "recon_job_from_origin": "dagster._utils.hosted_user_process",
    "cron_string_iterator": "dagster._utils.schedules",
    "NoOpComputeLogManager": "dagster._core.storage.noop_compute_log_manager",
    "MIN_INTERVAL_LOOP_TIME": "dagster._daemon.sensor",
    "INDEX_SHARD_NAME": "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "SqliteEventLogStorage": "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "DagsterSqliteStorage": "dagster._core.storage.sqlite_storage",
    "ASSET_EVENTS": "dagster._core.events",
    "db_result": "dagster._core.storage.sqlalchemy_compat",
    "_event_logs_directory": "dagster._core.storage.sqlite_storage",
}
# Names of PRIVATE_NAMES used through a function below rather than handed out as they are.
NOT_HANDED_OUT = frozenset({"NoOpComputeLogManager", "MIN_INTERVAL_LOOP_TIME", "_event_logs_directory"})

# The methods of Dagster's SQLite event log that ``event_storage`` calls to store asset events as its
# ``store_event`` does (the test checks each is still there).
EVENT_LOG_METHODS = (
    "prepare_insert_event",
    "run_connection",
    "index_transaction",
    "_store_asset_event_tags",
    "_store_asset_event",
    "store_event",
)


def event_logs_directory(base_dir: str) -> str:
    """Where Dagster's default SQLite storage under ``base_dir`` keeps its event log databases."""
    module = importlib.import_module(PRIVATE_NAMES["_event_logs_directory"])
    return str(module._event_logs_directory(base_dir))


def no_capture() -> ConfigurableClassData:
    """The compute-log manager of an express run: none. Dagster's local capture starts two ``tail``
    processes and two Python watchers per run and waits for them at its end (~0.1 s and as much CPU
    on a 2-core machine, every few seconds); the detector ops print nothing — what they say is in
    the run's event log. Named by module and class, as an instance's serialized config names it."""
    from dagster._serdes import ConfigurableClassData

    return ConfigurableClassData(PRIVATE_NAMES["NoOpComputeLogManager"], "NoOpComputeLogManager", "{}\n")


def set_sensor_loop_seconds(seconds: float) -> float:
    """Make the sensor daemon of this process start a loop every ``seconds`` instead of every 5 s;
    returns the interval it had.

    Dagster 1.13's sensor daemon (``execute_sensor_iteration_loop``) starts a loop, submits each due
    sensor's tick (one in flight per sensor), then sleeps the rest of ``MIN_INTERVAL_LOOP_TIME``
    (5 s), a module constant it reads on every loop; ``minimum_interval_seconds`` can only make
    ticks rarer. A tick that ends by requesting a run leaves the folder unwatched until the next
    loop: up to 5 s in which a new line waits for nothing. Each loop costs the daemon one read of
    the sensors' states; a sensor whose tick is in flight or whose interval has not elapsed is
    passed over, so other sensors keep their cadence."""
    import dagster._daemon.sensor as sensor_daemon

    before = float(sensor_daemon.MIN_INTERVAL_LOOP_TIME)
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = seconds  # type: ignore[assignment]
    return before


def mark_shard_checked(event_log_storage: object, shard: str) -> bool:
    """Tell Dagster's SQLite event log of this process that ``shard``'s database was checked (see
    the module docstring); ``False`` (nothing done) for another storage."""
    checked = getattr(event_log_storage, "_initialized_dbs", None)
    if not isinstance(checked, set):
        return False
    checked.add(shard)
    return True


# The attributes from an asset's context to the step's metadata accumulator, and its method.
STEP_METADATA_PATH = ("op_execution_context", "_step_execution_context", "_metadata_accumulator")
STEP_METADATA_METHOD = "with_additional_asset_metadata"


def add_asset_metadata_unchecked(context: object, metadata: Mapping[str, Any], partition_key: str) -> bool:
    """What ``context.add_asset_metadata(metadata, partition_key=partition_key)`` does, without its
    check of the key against the run's partitions (the caller made it): ``False`` (nothing done)
    where the step's accumulator is not where Dagster 1.13 keeps it, and the caller adds the
    metadata the public way."""
    owner: Any = context
    for name in STEP_METADATA_PATH[:-1]:
        owner = getattr(owner, name, None)
    accumulator = getattr(owner, STEP_METADATA_PATH[-1], None)
    add = getattr(accumulator, STEP_METADATA_METHOD, None)
    asset_key = getattr(context, "asset_key", None)
    if add is None or asset_key is None:
        return False
    setattr(
        owner,
        STEP_METADATA_PATH[-1],
        add(asset_key=asset_key, metadata=metadata, partition_key=partition_key),
    )
    return True


def __getattr__(name: str) -> Any:
    """A private name of :data:`PRIVATE_NAMES`, imported from its Dagster module on first use."""
    module = PRIVATE_NAMES.get(name)
    if module is None or name in NOT_HANDED_OUT:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


# Dagster's log format: ``<time> - <logger> - <LEVEL> - <message>``.
LOG_LEVEL = re.compile(rb" - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - ")
# The daemon's INFO lines about ticks that did nothing or about its own bookkeeping (Dagster 1.13's
# wording: _daemon/sensor.py, _scheduler/scheduler.py, _daemon/asset_daemon.py, the run queue).
# Checked against a real `agent-pipelines ui --log-level info` terminal.
ROUTINE_LINE = re.compile(
    rb"Checking for new runs for sensor: "
    rb"|(?:Sensor|Schedule) \S+ skipped: "
    rb"|No run requests returned for \S+, skipping"
    rb"|Checking \d+ assets/checks and "
    rb"|Tick produced 0 runs and "
    rb"|Adding \d+ asset evaluations for evaluation "
    rb"|Finished auto-materialization tick"
    rb"|Submitting 0 runs for evaluation "
    rb"| evaluation result: 0 requested "
    rb"|(?:Done p|P)refetching asset records"
    rb"|Priority sorting and checking tag concurrency limits"
    rb"|Launched 0 runs\."
)


# Where Dagster 1.13 writes the lines ROUTINE_LINE matches: a fragment of each, and the source file
# (under the ``dagster`` package) that holds it; the test finds each there.
ROUTINE_SOURCES: tuple[tuple[str, str], ...] = (
    ('"Checking for new runs for sensor: ', "_daemon/sensor.py"),
    ("} skipped: {", "_daemon/sensor.py"),
    ("} skipped: {", "_scheduler/scheduler.py"),
    ('f"No run requests returned for {', "_daemon/sensor.py"),
    ("} assets/checks and", "_daemon/asset_daemon.py"),
    ('"Tick produced"', "_daemon/asset_daemon.py"),
    ("} asset evaluations for evaluation {", "_daemon/asset_daemon.py"),
    ('"Finished auto-materialization tick', "_daemon/asset_daemon.py"),
    ('f"Submitting {len(run_requests)} run', "_daemon/asset_daemon.py"),
    (
        "} evaluation result: {num_requested} ",
        "_core/definitions/declarative_automation/automation_condition_evaluator.py",
    ),
    (
        '"Prefetching asset records',
        "_core/definitions/declarative_automation/automation_condition_evaluator.py",
    ),
    (
        '"Done prefetching asset records',
        "_core/definitions/declarative_automation/automation_condition_evaluator.py",
    ),
    (
        '"Priority sorting and checking tag concurrency limits',
        "_daemon/run_coordinator/queued_run_coordinator_daemon.py",
    ),
    ('"Launched %d runs."', "_daemon/run_coordinator/queued_run_coordinator_daemon.py"),
)

# Protected attributes of Dagster's public base classes that the express-run subclasses use
# (run_launch): the instance a launcher or coordinator was registered with, and the launcher's
# record of the runs it started (what its ``terminate`` and health checks consult).
BASE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "DefaultRunLauncher": ("_instance", "_run_ids"),
    "QueuedRunCoordinator": ("_instance",),
}


__all__ = [
    "ASSET_EVENTS",
    "BASE_ATTRIBUTES",
    "EVENT_LOG_METHODS",
    "INDEX_SHARD_NAME",
    "LOG_LEVEL",
    "NOT_HANDED_OUT",
    "PINNED_DAGSTER",
    "PRIVATE_NAMES",
    "ROUTINE_LINE",
    "ROUTINE_SOURCES",
    "STEP_METADATA_METHOD",
    "STEP_METADATA_PATH",
    "ConfigurableClassData",
    "DagsterSqliteStorage",
    "EngineEventData",
    "InstanceRef",
    "LaunchRunContext",
    "SqliteEventLogStorage",
    "add_asset_metadata_unchecked",
    "cron_string_iterator",
    "db_result",
    "event_logs_directory",
    "execute_run",
    "mark_shard_checked",
    "no_capture",
    "recon_job_from_origin",
    "set_sensor_loop_seconds",
]
