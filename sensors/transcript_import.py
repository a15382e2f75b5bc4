"""Transcript import: a sensor that brings coding agents' sessions (Claude Code, Codex CLI, Gemini CLI,
GitHub Copilot CLI, OpenCode, SWE-agent, mini-swe-agent) into the log folder.

Thin Dagster wiring over :func:`agent_pipelines.ingest.importers.run_import` (``agent-pipelines import``
runs the same function). Every ~5 s it reads what is new in each source's folders (per file
identity and offset) and appends the events to the log folder, exactly where our logger
writes. From there the rest is what happens to any log line: the ``live_alerts_sensor`` runs the
detectors on its next tick (so a looping Claude Code or Codex session raises a ``tool_loop`` or
``error_loop`` alert within one more tick, ~5 s, of our own logs' latency), and the
``log_days_sensor`` materializes the grown day's partitions.

The import runs inside the tick, not as a run: it is a few milliseconds when nothing is new, and
a run would add seconds of process start to every alert. A tick reads at most 32 MiB per source
(a first import of a large history is spread over a few ticks) and skips a source whose import is
already running (the CLI from cron, say).

**Switches**, one per source: ``AGENT_IMPORT_CLAUDE_CODE``, ``AGENT_IMPORT_CODEX``,
``AGENT_IMPORT_GEMINI_CLI``, ``AGENT_IMPORT_COPILOT_CLI``, ``AGENT_IMPORT_OPENCODE``,
``AGENT_IMPORT_SWE_AGENT``, ``AGENT_IMPORT_MINI_SWE_AGENT`` (anything but false/0/no/off is on; on by
default: the folders read are the user's own, on their machine, by a tool they started, and
nothing leaves the machine except alerts, which are redacted). A source
whose folder does not exist is skipped. The sensor is STOPPED by default when all are off.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from agent_pipelines.core import object_store
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers import SOURCES, SWITCHES, LockedError, run_import, source_enabled
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.text.redaction import redact

SENSOR_NAME = "transcript_import_sensor"
MAX_BYTES_PER_TICK = 32 << 20


def evaluate(
    context: dg.SensorEvaluationContext, log_store: LogStore, now: datetime | None = None
) -> dg.SkipReason:
    """One tick: import what is new from each enabled source; say what happened."""
    if object_store.is_url(log_store.logs_location):
        return dg.SkipReason(
            f"the log folder is {log_store.logs_location}: transcripts are imported into a local log folder "
            "(run the import on the hosts whose logs are shipped there)"
        )
    parts: list[str] = []
    settings = log_store.settings  # as the code location loaded them (agent_pipelines.definitions)
    for name, source in SOURCES.items():
        if not source_enabled(settings, name):
            parts.append(f"{name}: off ({SWITCHES[name]}=false)")
            continue
        usual = source.default_roots(settings)
        roots = [p for p in usual if p.exists()]
        if not roots:
            parts.append(f"{name}: no transcripts folder ({', '.join(str(p) for p in usual)})")
            continue
        try:
            report = run_import(
                source,
                roots,
                logs_dir=log_store.logs_path,
                data_dir=log_store.data_path,
                now=now,
                settings=settings,
                max_bytes=MAX_BYTES_PER_TICK,
                wait=False,
            )
        except LockedError as exc:
            parts.append(f"{name}: {exc}")
            continue
        except ValueError as exc:  # a broken price file: say so every tick until it is fixed
            parts.append(f"{name}: {exc}")
            continue
        except Exception as exc:  # one source failing never stops the other's import
            context.log.error(f"{name}: import failed: {type(exc).__name__}: {redact(str(exc))}")
            parts.append(f"{name}: import failed ({type(exc).__name__}), the other sources went on")
            continue
        if report.total_events or report.quarantined or report.notes:
            context.log.info(f"{name}: {report.to_json()}")
        text = (
            f"{name}: {report.total_events} event(s) from {report.sessions_touched} session(s), "
            f"{report.sessions_open} open"
        )
        if report.quarantined:
            text += f", {sum(report.quarantined.values())} line(s) quarantined"
        if report.unpriced_models:
            text += f", unpriced models: {', '.join(sorted(report.unpriced_models))}"
        if report.more_pending:
            text += ", more on the next tick"
        parts.append(text)
    return dg.SkipReason(f"into {log_store.logs_path}: " + "; ".join(parts))


def transcript_import_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sensor, STOPPED by default when ``settings`` switch every source off."""

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=4,  # as the live-alerts sensor: every daemon loop (~5 s) ticks
        default_status=dg.DefaultSensorStatus.RUNNING
        if any(source_enabled(settings, n) for n in SOURCES)
        else dg.DefaultSensorStatus.STOPPED,
        description="Every 5 s: new transcript lines of Claude Code, Codex, Gemini CLI, Copilot CLI, "
        "OpenCode, SWE-agent and mini-swe-agent → events in the log folder (AGENT_IMPORT_<SOURCE> "
        "switches each source).",
    )
    def sensor(context: dg.SensorEvaluationContext, log_store: LogStore) -> dg.SkipReason:
        return evaluate(context, log_store)

    return sensor


def build(settings: Settings) -> dg.Definitions:
    """The domain for ``settings`` (its resources are bound once, in :mod:`agent_pipelines.definitions`)."""
    return dg.Definitions(sensors=[transcript_import_sensor(settings)])
