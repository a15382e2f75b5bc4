"""The batch analytics domain: every asset, check and sensor over the logs, as one ``defs``.

The modules in :data:`ASSET_MODULES` contribute their assets and asset checks; a module that needs
more (a schedule, a job) exposes its own ``build(settings) -> dg.Definitions``, listed in
:data:`DOMAIN_BUILDERS`.
Both lists are plain imports: a module that fails to import fails the code location loudly, and
``tests/test_definitions.py`` pins every name, so a definition cannot vanish unnoticed.

``agent-pipelines materialize`` and the UI use the same objects: :func:`analytics_assets` (through
:mod:`agent_pipelines.definitions`) and :func:`agent_pipelines.orchestration.resources.analytics_resources`
are what
the command runs.

How the UI stays current: ``log_days_sensor`` adds a partition per new log day and re-materializes
``cleaned_events`` for a day whose file grew; ``analytics_automation_sensor`` then recomputes the
unpartitioned assets downstream (:data:`DOWNSTREAM_AUTOMATION`), whoever re-materialized the day.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import dagster as dg

from agent_pipelines.core.settings import Settings, defaults
from agent_pipelines.orchestration.resources import analytics_resources as build_resources
from assets import alerts, events, insights, prediction, replays, reports, sessions
from assets.events import analytics_sensor_status, build_log_days_sensor, cleaned_events_job

# Modules whose assets and asset checks Dagster's loader collects.
ASSET_MODULES: tuple[ModuleType, ...] = (events, sessions, insights, alerts, replays)
# Modules that bring a job or a schedule with their assets, as their own ``defs``.
DOMAIN_BUILDERS: tuple[Callable[[Settings], dg.Definitions], ...] = (reports.build, prediction.build)


def _collect(
    settings: Settings,
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition], list[dg.Definitions]]:
    domains = [build_domain(settings) for build_domain in DOMAIN_BUILDERS]
    assets: list[dg.AssetsDefinition] = []
    checks: list[dg.AssetChecksDefinition] = []
    for module in ASSET_MODULES:
        assets.extend(a for a in dg.load_assets_from_modules([module]) if isinstance(a, dg.AssetsDefinition))
        checks.extend(dg.load_asset_checks_from_modules([module]))
    for domain in domains:
        assets.extend(a for a in domain.assets or [] if isinstance(a, dg.AssetsDefinition))
        checks.extend(c for c in domain.asset_checks or [] if isinstance(c, dg.AssetChecksDefinition))
    return assets, checks, domains


def analytics_assets() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """Every asset and asset check of the domain (what ``materialize`` runs; no setting changes
    which assets there are, so every default is used to list them)."""
    assets, checks, _ = _collect(defaults())
    return assets, checks


def unpartitioned_downstream(assets: list[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    """Assets downstream of ``cleaned_events`` without partitions: recomputed after a day changes."""
    keys = dg.AssetSelection.assets("cleaned_events").downstream(include_self=False).resolve(assets)
    return sorted(
        (a_key for a in assets for a_key in a.keys if a_key in keys and a.partitions_def is None),
        key=lambda k: k.to_user_string(),
    )


# Unpartitioned assets downstream of the daily partitions follow them: after any day is
# (re-)materialized — by the sensor, the UI or the CLI — they are recomputed once no day is still in
# progress, so a burst of 30 days costs one recomputation, not 30. Unlike ``eager()`` a day that was
# never materialized does not hold them back (a failed day must not freeze every report).
DOWNSTREAM_AUTOMATION = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after log days change")


def with_downstream_automation(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """Give :data:`DOWNSTREAM_AUTOMATION` to unpartitioned downstream assets that have no condition."""
    downstream = set(unpartitioned_downstream(assets))

    def follow(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key in downstream and spec.automation_condition is None:
            return spec.replace_attributes(automation_condition=DOWNSTREAM_AUTOMATION)
        return spec

    return [a.map_asset_specs(follow) if downstream & set(a.keys) else a for a in assets]


def build(settings: Settings) -> dg.Definitions:
    """The domain for ``settings`` (its resources are bound once, in :mod:`agent_pipelines.definitions`)."""
    assets, checks, extra = _collect(settings)
    downstream = unpartitioned_downstream(assets)
    automation = dg.AutomationConditionSensorDefinition(
        "analytics_automation_sensor",
        # and the session replays of a day whose alerts changed (assets.replays.REPLAY_AUTOMATION)
        target=dg.AssetSelection.assets(*downstream, "session_replays"),
        default_status=analytics_sensor_status(settings),
        # Cheap to evaluate (a dozen assets); a day's change shows in the analytics within ~30 s.
        minimum_interval_seconds=30,
        description="Recomputes session metrics, comparisons, success metrics and the other "
        "unpartitioned analytics once after daily partitions of cleaned_events change.",
    )
    return dg.Definitions(
        # Runs of the domain (the automation sensor's, the weekly report's) execute in one process:
        # a dozen small steps do not need a Python interpreter each (the default multiprocess
        # executor starts one per step: minutes of imports on a small machine), and polars already
        # uses every core within a step.
        executor=dg.in_process_executor,
        assets=with_downstream_automation(assets),
        asset_checks=checks,
        jobs=[cleaned_events_job, *(j for d in extra for j in d.jobs or [])],
        schedules=[s for d in extra for s in d.schedules or []],
        sensors=[build_log_days_sensor(settings), automation, *(s for d in extra for s in d.sensors or [])],
    )


__all__ = [
    "analytics_assets",
    "build",
    "build_resources",
    "unpartitioned_downstream",
    "with_downstream_automation",
]
