"""The one ``Definitions`` that ``dagster dev -w workspace.yaml`` loads.

Each domain keeps its assets, checks, jobs, schedules and sensors side by side and exposes a
``defs`` object; this module only merges them, so a reader finds every job and schedule by
following one import per domain:

* ``assets.analytics``   — cleaned events, session metrics, clusters, comparisons, weekly report
* ``sensors.live_alerts`` — the 5-second log sensor and the detector job it launches
* ``jobs.rotation``      — log rotation and retention on a weekly schedule
* ``sensors.transcript_import`` — Claude Code and Codex CLI transcripts into the log folder, every 5 s
"""

from __future__ import annotations

import dagster as dg

from agent_pipelines.orchestration import quiet  # noqa: F401 - first: filters our known Dagster warnings
from assets import analytics
from jobs import rotation
from sensors import live_alerts, transcript_import

# Every domain, imported plainly: a domain that fails to import fails the code location (and CI)
# with its own error, and ``tests/test_definitions.py`` pins each definition's name.
DOMAINS: tuple[dg.Definitions, ...] = (
    analytics.defs,
    live_alerts.defs,
    rotation.defs,
    transcript_import.defs,
)


def _merge(domains: list[dg.Definitions]) -> dg.Definitions:
    """Merge domains; a resource several domains declare (``log_store``, ``telegram``) is bound once.

    ``Definitions.merge`` refuses two distinct objects under one key even when they are configured
    alike, and each domain declares what it needs so it can be loaded and tested on its own.
    """
    resources: dict[str, object] = {}
    stripped = []
    for domain in domains:
        for key, value in (domain.resources or {}).items():
            resources.setdefault(key, value)
        stripped.append(
            dg.Definitions(
                assets=domain.assets,
                asset_checks=domain.asset_checks,
                schedules=domain.schedules,
                sensors=domain.sensors,
                jobs=domain.jobs,
                executor=domain.executor,
                loggers=domain.loggers,
                metadata=domain.metadata,
            )
        )
    return dg.Definitions.merge(*stripped, dg.Definitions(resources=resources))


defs = _merge(list(DOMAINS))


def analytics_assets() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """Every asset and asset check of the batch analytics, for code that materializes them outside
    the code location (``agent-pipelines materialize``, the benchmarks): this module is where
    everything else reaches the Dagster wiring."""
    return analytics.analytics_assets()
