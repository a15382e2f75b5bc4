"""Imported by the express-run fork server only (``PreforkRunLauncher``): what every run imports.

Importing the code location is half of a run's start-up; the other half is what Dagster imports
while executing a run — instance storage on SQLite (SQLAlchemy, Alembic), the execution plan, the
compute-log and event machinery: about 500 modules, seconds on a busy 2-core machine. Executing a
one-op job on a throwaway instance here imports all of them once, in the fork server, so a forked
run starts with them loaded. Nothing is shared with the forked runs but imported code: the
throwaway instance (a temporary folder) is closed before any fork.
"""

from __future__ import annotations

import tempfile

import dagster as dg
from dagster._core.execution.api import execute_run  # noqa: F401 - imported for the forked runs
from dagster._utils.hosted_user_process import recon_job_from_origin  # noqa: F401 - likewise


@dg.op
def _noop() -> None:
    return None


@dg.job(executor_def=dg.in_process_executor)
def _warmup_job() -> None:
    _noop()


def warm_up() -> None:
    """Run a one-op job on a SQLite instance in a temporary folder (then delete it)."""
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    with (
        tempfile.TemporaryDirectory(prefix="agent-pipelines-warmup-") as home,
        dg.DagsterInstance.local_temp(tempdir=home) as instance,
    ):
        _warmup_job.execute_in_process(instance=instance, run_config=quiet)


warm_up()
