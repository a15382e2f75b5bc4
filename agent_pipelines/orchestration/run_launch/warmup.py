"""Imported by the express-run fork server only (``PreforkRunLauncher``): what every run imports
and opens.

Importing the code location is half of a run's start-up; the other half is what Dagster imports
while executing a run — instance storage on SQLite (SQLAlchemy, Alembic), the execution plan, the
compute-log and event machinery: about 500 modules, seconds on a busy 2-core machine. Executing a
one-op job on a throwaway instance here imports all of them once, in the fork server, so a forked
run starts with them loaded (the throwaway instance, in a temporary folder, is closed first).

Then the launcher's own instance (:data:`~agent_pipelines.orchestration.run_launch.INSTANCE_ENV`) is opened
here
once, as :data:`WARM_INSTANCE`: opening it checks each SQLite storage's schema revision against
Dagster's ~90 Alembic migration scripts (read and executed every time), ~0.2 s of CPU that every
forked run would otherwise repeat. Its storages hold no open connection between operations
(SQLAlchemy's ``NullPool``), so each forked run opens its own, as with an instance of its own.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import dagster as dg

# What a forked run executes with (imported here, in the fork server, once).
from agent_pipelines.orchestration.dagster_internals import InstanceRef, execute_run, recon_job_from_origin

_FOR_FORKED_RUNS = (execute_run, recon_job_from_origin)


@dg.op
def _noop() -> None:
    return None


@dg.job(executor_def=dg.in_process_executor)
def _warmup_job() -> None:
    _noop()


def warm_up() -> None:
    """Run a one-op job on a SQLite instance in a temporary folder (then delete it)."""
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    with tempfile.TemporaryDirectory(prefix="agent-pipelines-warmup-") as home:
        # A configuration of its own, so Dagster neither warns that the folder has none (it does
        # when DAGSTER_HOME is set, as it is under `agent-pipelines ui`) nor turns telemetry on.
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
        with dg.DagsterInstance.local_temp(tempdir=home) as instance:
            _warmup_job.execute_in_process(instance=instance, run_config=quiet)


def open_instance() -> dg.DagsterInstance | None:
    """The launcher's instance, opened and its storages initialised; ``None`` when there is none
    (or it cannot be opened: every run then opens it itself, as before)."""
    from agent_pipelines.orchestration.run_launch import INSTANCE_ENV

    text = os.environ.get(INSTANCE_ENV)
    if not text:
        return None
    with contextlib.suppress(Exception):
        instance = dg.DagsterInstance.from_ref(dg.deserialize_value(text, InstanceRef))
        instance.get_run_records(limit=1)  # run storage
        instance.fetch_materializations(dg.AssetKey("alerts"), limit=1)  # the event log's index
        return instance
    return None


warm_up()
WARM_INSTANCE = open_instance()
