"""The one ``Definitions`` that ``dagster dev -w workspace.yaml`` loads.

Each domain keeps its assets, checks, jobs, schedules and sensors side by side and exposes a
``defs`` object; this module only merges them, so a reader finds every job and schedule by
following one import per domain:

* ``assets.analytics``   — cleaned events, session metrics, clusters, comparisons, weekly report
* ``sensors.live_alerts`` — the 5-second log sensor and the detector job it launches
* ``jobs.rotation``      — log rotation and retention on a weekly schedule
"""

from __future__ import annotations

import importlib

import dagster as dg

# Domain modules, each exposing `defs: dg.Definitions`. A module that is not there yet is skipped,
# which keeps the code location loadable while a domain is being built.
DOMAIN_MODULES: tuple[str, ...] = (
    "assets.analytics",
    "sensors.live_alerts",
    "jobs.rotation",
)


def _domain_defs() -> list[dg.Definitions]:
    found = []
    for name in DOMAIN_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        found.append(module.defs)
    return found


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


defs = _merge(_domain_defs())
