"""The log folder and data folder as a Dagster resource, so runs, the sensor and tests agree on them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from agent_pipelines import paths


class LogStore(dg.ConfigurableResource):
    """Where agent logs are read from and where our own files go.

    Empty strings mean "the default": ``AGENT_WORK_LOGS_DIR`` / ``.cache/agent-work-logs`` for logs,
    ``AGENT_PIPELINES_DATA_DIR`` / ``<project>/data`` for data. Resolved when a run starts, so the
    same definitions work on a laptop, in CI and under ``dagster dev``.
    """

    logs_dir: str = ""
    data_dir: str = ""

    @property
    def logs_path(self) -> Path:
        return paths.logs_dir(self.logs_dir or None)

    @property
    def data_path(self) -> Path:
        return paths.data_dir(self.data_dir or None)
