"""The log folder and data folder as a Dagster resource, so runs, the sensor and tests agree on them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from agent_pipelines.core import object_store, paths


class LogStore(dg.ConfigurableResource):
    """Where agent logs are read from and where our own files go.

    Empty strings mean "the default": ``AGENT_WORK_LOGS_DIR`` / ``.cache/agent-work-logs`` for logs,
    ``AGENT_PIPELINES_DATA_DIR`` / ``<project>/data`` for data. Resolved when a run starts, so the
    same definitions work on a laptop, in CI and under ``dagster dev``.

    Either may be an ``s3://bucket/prefix`` URL. ``logs_path`` is then the local folder that
    follows the bucket, synced on access (at most once a second per process: the sensor tick and
    the run it launches share a sync), so every reader keeps reading a local folder;
    ``data_path`` is the local part of the data folder and ``data_location`` the URL where tables
    and reports go.
    """

    logs_dir: str = ""
    data_dir: str = ""

    @property
    def logs_location(self) -> str:
        return paths.logs_location(self.logs_dir or None)

    @property
    def logs_path(self) -> Path:
        location = self.logs_location
        if object_store.is_url(location):
            from agent_pipelines.ingest.log_mirror import follow, mirror_dir

            return follow(location, root=mirror_dir(location, self.data_path))
        return paths.logs_dir(self.logs_dir or None)

    @property
    def data_path(self) -> Path:
        return paths.data_dir(self.data_dir or None)

    @property
    def data_location(self) -> str:
        return paths.data_location(self.data_dir or None)
