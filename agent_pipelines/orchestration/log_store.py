"""The log folder, data folder and settings as a Dagster resource, so runs, sensors and tests agree."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import dagster as dg
from pydantic import Field

from agent_pipelines.core import object_store, paths
from agent_pipelines.core.settings import Settings, defaults


class LogStore(dg.ConfigurableResource):
    """Where agent logs are read from, where our own files go, and the settings runs read.

    Built at the edge (:mod:`agent_pipelines.definitions`, ``agent-pipelines detect``) by
    :meth:`from_settings`, from the one :class:`~agent_pipelines.core.settings.Settings` loaded
    there: nothing inside a run reads the environment. Empty folders mean "the default"
    (``.cache/agent-work-logs`` for logs, ``<project>/data`` for data); empty ``settings`` means
    every default (tests).

    Either folder may be an ``s3://bucket/prefix`` URL. ``logs_path`` is then the local folder that
    follows the bucket, synced on access (at most once a second per process: the sensor tick and
    the run it launches share a sync), so every reader keeps reading a local folder;
    ``data_path`` is the local part of the data folder (``local_dir``) and ``data_location`` the
    URL where tables and reports go.
    """

    logs_dir: str = ""
    data_dir: str = ""
    local_dir: str = ""
    settings_environ: dict[str, str] = Field(
        default_factory=dict,
        description="The settings the edge loaded, as the variables that load back to them (no secret).",
    )

    @classmethod
    def from_settings(cls, settings: Settings, logs_dir: str = "", data_dir: str = "") -> LogStore:
        """The store for ``settings``' folders (``logs_dir``/``data_dir`` override them)."""
        return cls(
            logs_dir=logs_dir or settings.logs_location or "",
            data_dir=data_dir or settings.data_location or "",
            local_dir=str(settings.local_dir or ""),
            settings_environ=settings.to_environ(),
        )

    @cached_property
    def settings(self) -> Settings:
        """The typed settings this store was built with (every default when built without)."""
        return Settings.load(self.settings_environ) if self.settings_environ else defaults()

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
        return paths.data_dir(self.data_dir or None, self.local_dir or None)

    @property
    def data_location(self) -> str:
        return paths.data_location(self.data_dir or None)
