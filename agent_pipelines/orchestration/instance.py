"""Dagster's home for this project: a persistent ``DAGSTER_HOME`` and which instance it runs.

Without ``DAGSTER_HOME`` Dagster uses a temporary home deleted on exit, forgetting sensor cursors
and run history. Every entry point that touches Dagster state (``agent-pipelines ui``,
``materialize``) exports :func:`dagster_environment` first (the edge sets the variables Dagster
reads; this module reads none) so they share one instance.

Two instance configurations ship in ``config/``, chosen by one setting (``--instance`` on the
command line, else ``AGENT_PIPELINES_INSTANCE``, else ``sqlite``):

* ``sqlite`` (``config/dagster.yaml``): runs, event logs, schedules and ticks in SQLite files
  under ``DAGSTER_HOME``. Nothing to install; right for one person trying the product.
* ``postgres`` (``config/dagster-postgres.yaml``): the same settings with Dagster's PostgreSQL
  storage (``dagster-postgres``) and a run-queue limit of one detector run at a time. The
  connection comes from ``DAGSTER_PG_*`` environment variables only, never from a file of ours:
  a 5-second sensor writes ~120,000 ticks a week, which SQLite serves slowly (see BENCHMARKS.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agent_pipelines.core import paths
from agent_pipelines.core.settings import Settings

INSTANCE_ENV = "AGENT_PIPELINES_INSTANCE"
SQLITE = "sqlite"
POSTGRES = "postgres"
INSTANCE_KINDS = (SQLITE, POSTGRES)
CONFIG_DIR = paths.PROJECT_ROOT / "config"
SHIPPED_CONFIGS: dict[str, Path] = {
    SQLITE: CONFIG_DIR / "dagster.yaml",
    POSTGRES: CONFIG_DIR / "dagster-postgres.yaml",
}
SHIPPED_CONFIG = SHIPPED_CONFIGS[SQLITE]

# The PostgreSQL connection: required variables, and defaults for the two that have a usual value.
PG_REQUIRED = ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD")
PG_DEFAULTS = {"DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster"}


class InstanceConfigError(ValueError):
    """The chosen instance cannot start (unknown kind, missing connection settings)."""


def instance_kind(explicit: str | None = None, configured: str = SQLITE) -> str:
    """``explicit`` (``--instance``), else ``configured`` (``AGENT_PIPELINES_INSTANCE`` in the
    settings), else ``sqlite``; an unknown name is an error."""
    kind = (explicit or configured or SQLITE).strip().lower()
    if kind not in INSTANCE_KINDS:
        raise InstanceConfigError(
            f"unknown Dagster instance {kind!r} (from {'--instance' if explicit else INSTANCE_ENV}): "
            f"use one of {', '.join(INSTANCE_KINDS)}"
        )
    return kind


def missing_postgres_settings(settings: Settings) -> list[str]:
    """The ``DAGSTER_PG_*`` variables still needed for the PostgreSQL instance."""
    return [name for name in PG_REQUIRED if name not in settings.postgres]


def dagster_environment(settings: Settings, data_dir: Path, instance: str | None = None) -> dict[str, str]:
    """Create (if needed) ``DAGSTER_HOME`` and install the chosen instance's ``dagster.yaml``; the
    variables Dagster must then see (``DAGSTER_HOME``, ``AGENT_PIPELINES_INSTANCE`` and the
    PostgreSQL defaults), for the edge to export: Dagster reads them itself, in this process and in
    the processes it starts.

    For ``postgres`` the ``DAGSTER_PG_*`` variables must be set (port and database name default
    to 5432 and ``dagster``); the file installed only names them, so no secret is written to disk.
    """
    kind = instance_kind(instance, settings.instance)
    env: dict[str, str] = {}
    if kind == POSTGRES:
        missing = missing_postgres_settings(settings)
        if missing:
            raise InstanceConfigError(
                f"the postgres instance needs {', '.join(missing)} in the environment "
                "(and optionally DAGSTER_PG_PORT, DAGSTER_PG_DB)"
            )
        env.update({name: value for name, value in PG_DEFAULTS.items() if name not in settings.postgres})
    env[INSTANCE_ENV] = kind
    home = Path(settings.dagster_home or data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    install_config(home, kind)
    env["DAGSTER_HOME"] = str(home)
    return env


def install_config(home: Path, kind: str = SQLITE) -> Path:
    """Copy the shipped configuration of ``kind`` to ``home/dagster.yaml`` when it differs."""
    source = SHIPPED_CONFIGS[instance_kind(kind)]
    target = home / "dagster.yaml"
    if source.exists() and (not target.exists() or target.read_bytes() != source.read_bytes()):
        shutil.copyfile(source, target)
    return target
