"""The one ``Definitions`` that ``dagster dev -w workspace.yaml`` loads: the code location's edge.

The settings are loaded here, once, from the environment
(:meth:`agent_pipelines.core.settings.Settings.load`: a bad value fails the load with one line naming
the variable), and passed down: each domain is built from them, and the resources bound once from
them carry them into every run (``log_store.settings``). Nothing below reads the environment.

Each domain keeps its assets, checks, jobs, schedules and sensors side by side and exposes
``build(settings) -> dg.Definitions``; this module merges them with ``Definitions.merge`` and adds
the resources, so a reader finds every job and schedule by following one import per domain:

* ``assets.analytics``   — cleaned events, session metrics, clusters, comparisons, weekly report
* ``sensors.live_alerts`` — the 5-second log sensor and the detector job it launches
* ``jobs.rotation``      — log rotation and retention on a weekly schedule
* ``sensors.transcript_import`` — Claude Code and Codex CLI transcripts into the log folder, every 5 s
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from agent_pipelines.core.settings import Settings, drop_empty_aws_variables
from agent_pipelines.orchestration import quiet  # noqa: F401 - first: filters our known Dagster warnings
from agent_pipelines.orchestration.resources import resources
from assets import analytics
from jobs import rotation
from sensors import live_alerts, transcript_import

# Every domain, imported plainly: a domain that fails to import fails the code location (and CI)
# with its own error, and ``tests/test_definitions.py`` pins each definition's name.
DOMAINS: tuple[Callable[[Settings], dg.Definitions], ...] = (
    analytics.build,
    live_alerts.build,
    rotation.build,
    transcript_import.build,
)


def build(settings: Settings) -> dg.Definitions:
    """Every domain for ``settings``, and the resources bound once (each domain declares none, so
    ``Definitions.merge`` has no two objects under one key)."""
    return dg.Definitions.merge(
        *(domain(settings) for domain in DOMAINS), dg.Definitions(resources=resources(settings))
    )


drop_empty_aws_variables()
SETTINGS = Settings.load()
defs = build(SETTINGS)


def analytics_assets() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """Every asset and asset check of the batch analytics, for code that materializes them outside
    the code location (``agent-pipelines materialize``, the benchmarks): this module is where
    everything else reaches the Dagster wiring."""
    return analytics.analytics_assets()
