"""Log rotation and retention as a Dagster job: weekly on Sunday 03:00 UTC, and on demand.

Thin wiring over :mod:`agent_pipelines.ops.rotation` (the CLI's ``agent-pipelines rotate`` runs the same
functions). Three ops, each taking the rotation lock for its own phase and each idempotent, so a
run killed between them is finished by the next run: finish what an interrupted rotation left
staged, archive closed days, apply retention. Every op records what it did as output metadata;
the last one also records the whole run (files and bytes before and after, compression ratio,
lines archived, quarantined with reasons, deleted by retention).

A second rotation started while one runs does not wait: its ops log why and record ``skipped``.
"""

import time
from typing import Any

import dagster as dg

from agent_pipelines.core.settings import Settings
from agent_pipelines.ops import rotation
from agent_pipelines.ops.retention import RetentionPolicy
from agent_pipelines.orchestration.log_store import LogStore


class RotationConfig(dg.Config):
    """Run config, given once per run (a config mapping hands it to every op). Retention fields left
    empty fall back to their environment variable, then to the original rotation script's default."""

    today: str = ""  # YYYY-MM-DD: rotate as if it were this UTC day (backfills, tests)
    stream_days: int | None = None
    errors_days: int | None = None
    alerts_days: int | None = None
    metrics_months: int | None = None
    sessions_keep: int | None = None
    keep_forever: list[str] = []  # noqa: RUF012 - pydantic copies defaults; e.g. ["stream_days"]

    def settings(self, log_store: LogStore) -> rotation.Settings:
        overrides: dict[str, int | str | None] = {
            name: getattr(self, name)
            for name in ("stream_days", "errors_days", "alerts_days", "metrics_months", "sessions_keep")
        }
        overrides.update({name: "forever" for name in self.keep_forever})
        return rotation.settings(
            log_store.logs_path,
            log_store.data_path,
            today=self.today or None,
            policy=RetentionPolicy.from_settings(log_store.settings, **overrides),
            environment=log_store.settings,
        )


def _phase(
    context: dg.OpExecutionContext, s: rotation.Settings, step: Any, report: rotation.RotationReport
) -> bool:
    """Run one phase under the lock; ``False`` (and a log line) when another rotation holds it."""
    started = time.monotonic()
    try:
        with rotation.rotation_lock(s.logs_root):
            step(s, report)
    except rotation.RotationBusy as exc:
        context.log.warning(str(exc))
        return False
    finally:
        report.seconds = time.monotonic() - started
        report.after = rotation.inventory(s.logs_root)
    return True


def _output(report: rotation.RotationReport, ran: bool) -> dg.Output[dict[str, Any]]:
    return dg.Output(report.to_dict(), metadata={"skipped": not ran, **report.metadata()})


@dg.op(out=dg.Out(dict[str, Any]))
def finish_interrupted_rotation(
    context: dg.OpExecutionContext, config: RotationConfig, log_store: LogStore
) -> dg.Output[dict[str, Any]]:
    """Complete whatever a killed rotation left in ``archive/.staging`` (nothing, usually)."""
    s = config.settings(log_store)
    report = rotation.RotationReport(s.today, rotation.inventory(s.logs_root))
    ran = _phase(context, s, rotation.resume_interrupted, report)
    return _output(report, ran)


@dg.op(out=dg.Out(dict[str, Any]))
def archive_closed_days(
    context: dg.OpExecutionContext, config: RotationConfig, log_store: LogStore, resumed: dict[str, Any]
) -> dg.Output[dict[str, Any]]:
    """Stage, validate (reader + pandera), compress and quarantine every closed day."""
    s = config.settings(log_store)
    report = rotation.RotationReport(s.today, rotation.inventory(s.logs_root))
    ran = _phase(context, s, rotation.archive_closed, report)
    for line in report.describe()[1:-1]:
        context.log.info(line)
    return _output(report, ran)


@dg.op(out=dg.Out(dict[str, Any]))
def apply_retention(
    context: dg.OpExecutionContext,
    config: RotationConfig,
    log_store: LogStore,
    resumed: dict[str, Any],
    archived: dict[str, Any],
) -> dg.Output[dict[str, Any]]:
    """Delete expired archives and old transcripts; record the whole run's numbers."""
    s = config.settings(log_store)
    report = rotation.RotationReport(s.today, resumed["before"])
    ran = _phase(context, s, rotation.apply_retention, report)
    for part in (resumed, archived):  # the run as a whole: earlier phases' outcomes
        report.outcome.absorb(_outcome_from(part))
        report.resumed.extend(part.get("resumed", []))
    report.seconds += resumed.get("seconds", 0) + archived.get("seconds", 0)
    for line in report.describe():
        context.log.info(line)
    return _output(report, ran)


def _outcome_from(d: dict[str, Any]) -> rotation.Outcome:
    return rotation.Outcome(
        sources=list(d.get("sources", [])),
        archives={k: dict(v) for k, v in d.get("archives", {}).items()},
        returned=dict(d.get("returned", {})),
        quarantined=dict(d.get("quarantine_reasons", {})),
        blank_lines=d.get("blank_lines", 0),
    )


@dg.config_mapping
def rotation_run_config(config: RotationConfig) -> dg.RunConfig:
    """One config for the whole run (``today``, retention overrides), handed to each op."""
    return dg.RunConfig(
        ops={
            name: config for name in ("finish_interrupted_rotation", "archive_closed_days", "apply_retention")
        }
    )


@dg.job(
    config=rotation_run_config,
    description="Archive closed days of the agent logs (validated, compressed, bad lines quarantined) "
    "and apply retention. Weekly, and on demand (also: `agent-pipelines rotate`).",
    executor_def=dg.in_process_executor,
    tags={"domain": "rotation"},
)
def rotate_logs() -> None:
    resumed = finish_interrupted_rotation()
    archived = archive_closed_days(resumed)
    apply_retention(resumed, archived)


weekly_rotation_schedule = dg.ScheduleDefinition(
    name="weekly_log_rotation",
    job=rotate_logs,
    cron_schedule=rotation.SCHEDULE_CRON,
    execution_timezone=rotation.SCHEDULE_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The original rotation script's weekly cron: Sundays 03:00 UTC.",
)


def build(settings: Settings) -> dg.Definitions:
    """The domain (no setting changes it: the runs read theirs from the ``log_store`` resource,
    bound once in :mod:`agent_pipelines.definitions`)."""
    del settings
    return dg.Definitions(jobs=[rotate_logs], schedules=[weekly_rotation_schedule])
