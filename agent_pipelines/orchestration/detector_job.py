"""The live detector job: read the new log lines, run the detectors, write and send the alerts.

Three ops in one process (``in_process_executor``), handing one :class:`Batch` over in memory
(``detector_io`` is ``mem_io_manager``: :func:`agent_pipelines.orchestration.resources.detector_resources`
binds
it). ``sensors/live_alerts.py`` launches it every few seconds; ``agent-pipelines detect --once``
executes it in its own process: both run this one definition.
"""

# No ``from __future__ import annotations``: Dagster reads the ops' config and context types at run
# time, and string annotations would hide them.

import contextlib
import gc
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.core import tailer
from agent_pipelines.core.contract import parse_timestamp
from agent_pipelines.core.settings import Settings
from agent_pipelines.live import alerts as alerts_mod
from agent_pipelines.live import state as detector_state
from agent_pipelines.live.alerts_table import (
    alerts_table,
    day_window,
    read_alert_records_by_day,
    table_writers_lock,
)
from agent_pipelines.live.detectors import Thresholds, detect, stuck_watch
from agent_pipelines.live.routing.config import AlertsConfigError
from agent_pipelines.orchestration.alert_delivery import (
    delivery_metadata,
    fates_for,
    materialize_alert_actions,
    routing_config,
)
from agent_pipelines.orchestration.io_manager import table_path, tables_dir, write_parquet
from agent_pipelines.orchestration.links import files_url
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.partitions import register_partitions
from agent_pipelines.orchestration.resources import TelegramResource
from agent_pipelines.orchestration.run_launch import EXPRESS_TAG
from agent_pipelines.orchestration.ui_metadata import alerts_metadata, describe_columns
from agent_pipelines.predict import live as live_risk

ALERTS_ASSET = dg.AssetKey("alerts")
JOB_NAME = "live_detector_job"
# Blocks of a burst's file parsed ahead of the one being checked (``iter_read``'s ``parallel``).
# Measured on the 100k-event burst (57 MB, 4 blocks; ``bench_live.py``'s burst, best of 5-8): the
# read step 0.54 -> 0.50 s quiet, 1.15-1.17 -> 0.96 s with two CPU burners (load 2.5-3.6 on 2
# cores). An older measurement at load 8-10 found it slower (its two parsing threads waiting on each
# other for the GIL); a machine that loaded delays every run anyway.
PARSE_AHEAD = 1


class DetectConfig(dg.Config):
    """What the sensor asked for. The job reads from the *committed* cursor (so it never skips or
    re-reads a line); ``ranges`` records what the sensor saw, for the run page and the run key.

    The clock and the thresholds travel in the request (the sensor and ``detect --once`` fill them
    from the settings the edge loaded): re-executing a run decides the same."""

    ranges: str = "[]"
    reason: str = "manual"
    now: str = ""  # ISO 8601; empty = wall clock. For replays only.
    error_loop: int = Thresholds.error_loop
    tool_loop: int = Thresholds.tool_loop
    stuck_ms: int = Thresholds.stuck_ms
    cost_usd: float = Thresholds.cost_usd
    failure_risk: float = 0.8  # AGENT_FAILURE_RISK_THRESHOLD: the predicted_failure alert

    def thresholds(self) -> Thresholds:
        return Thresholds(
            error_loop=self.error_loop,
            tool_loop=self.tool_loop,
            stuck_ms=self.stuck_ms,
            cost_usd=self.cost_usd,
        )


def detect_config(settings: Settings, **values: str) -> dict[str, Any]:
    """The ``read_new_events`` op's config for ``settings``' thresholds (plus ``values``)."""
    t = Thresholds.from_settings(settings)
    return {
        **values,
        "error_loop": t.error_loop,
        "tool_loop": t.tool_loop,
        "stuck_ms": t.stuck_ms,
        "cost_usd": t.cost_usd,
        "failure_risk": settings.failure_risk_threshold,
    }


@dataclass
class Batch:
    """Handed from op to op in memory."""

    state: detector_state.DetectorState
    new: tailer.NewData | None
    now_ms: int
    reason: str
    thresholds: Thresholds = field(default_factory=Thresholds)
    failure_risk: float = 0.8
    risk_state: live_risk.LiveRisk | None = None  # saved after the commit (predict.live)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    watch: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def old_objects_left_alone() -> Iterator[None]:
    """While a detector op works, the cyclic garbage collector walks only the objects made since it
    started (:func:`gc.freeze`, undone at the end). A burst's detector state is tens of thousands
    of new dicts and lists: enough to set off a full collection, which walks every object of the
    Dagster process (~350,000) and cost 0.1–0.4 s on a burst of 100,000 events that takes about
    a second. Nothing stays uncollected: the old objects go back to the collector afterwards.
    Left as it is when something else froze objects already (their freezing is not ours to undo)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dg.op(out=dg.Out(io_manager_key="detector_io"))
def read_new_events(context: dg.OpExecutionContext, config: DetectConfig, log_store: LogStore) -> Batch:
    """The lines appended since the last committed run (quarantining bad ones)."""
    from agent_pipelines.core.quarantine import write_quarantine

    now_ms = int(parse_timestamp(config.now).timestamp() * 1000) if config.now else int(time.time() * 1000)
    state = detector_state.load(log_store.data_path)
    new = tailer.read_new(log_store.logs_path, tailer.Cursor.from_json(state.cursor), parallel=PARSE_AHEAD)
    for note in new.notes:
        context.log.warning(note)
    quarantined = write_quarantine(log_store.data_path, new.result.quarantine)
    context.add_output_metadata(
        {"events_read": new.result.events.height, "lines_quarantined": new.result.quarantine.height}
    )
    context.log.info(
        f"read {new.result.events.height} events ({new.bytes_read} bytes) "
        f"from {len(new.ranges)} file range(s); {quarantined} bad line(s) quarantined; "
        f"reason: {config.reason}"
    )
    return Batch(
        state=state,
        new=new,
        now_ms=now_ms,
        reason=config.reason,
        thresholds=config.thresholds(),
        failure_risk=config.failure_risk,
    )


def predicted_failures(
    data_dir: Path, events: pl.DataFrame, threshold: float
) -> tuple[list[dict[str, Any]], pl.DataFrame, live_risk.LiveRisk]:
    """Advisory ``predicted_failure`` alerts: the latest failure-risk model over the new events
    (:mod:`agent_pipelines.predict.live`); nothing while no model has been trained. Also the risk
    of every open session, for the run's page, and the risk state to save once the batch is committed."""
    findings, risks, state = live_risk.run(data_dir, events, threshold)
    alerts = [
        alerts_mod.make_alert(
            "predicted_failure",
            f.attempt_id,
            f"risk>{threshold:g}",
            f.at_ms,
            task_id=f.task_id,
            executor=f.executor,
            threshold=threshold,
            **live_risk.finding_fields(f),
        )
        for f in findings
    ]
    return alerts, risks, state


@dg.op(out=dg.Out(io_manager_key="detector_io"))
def run_detectors(context: dg.OpExecutionContext, batch: Batch, log_store: LogStore) -> Batch:
    """Every detector over the new events (event time), then the live stuck check at ``now``."""
    thresholds = batch.thresholds
    events = batch.new.result.events if batch.new else None
    with old_objects_left_alone(), ThreadPoolExecutor(1, thread_name_prefix="failure-risk") as pool:
        # The failure-risk feed reads the same events and its own state only: it runs beside the
        # detectors, its polars queries (which release the GIL) on the core the detectors' Python
        # leaves idle. Every module it uses is imported with this one, on the main thread (a first
        # import racing another thread's is what once broke pandera's dispatch). It runs with no
        # model too: its per-session counters make the first model's scores right for sessions
        # already open. Its alerts still come last.
        risk = (
            pool.submit(predicted_failures, log_store.data_path, events, batch.failure_risk)
            if events is not None
            else None
        )
        batch.alerts = detect(
            events if events is not None else pl.DataFrame(), batch.state, thresholds, now_ms=batch.now_ms
        )
        if risk is not None:
            predicted, risks, batch.risk_state = risk.result()
            batch.alerts += predicted
            if risks.height:
                context.add_output_metadata(
                    {"open_session_risk": dg.MetadataValue.md(markdown_table(risks.head(20), limit=20))}
                )
    batch.state.cursor = batch.new.cursor.to_json() if batch.new else batch.state.cursor
    batch.watch = stuck_watch(batch.state, thresholds)
    counts: dict[str, int] = {}
    for alert in batch.alerts:
        counts[alert["type"]] = counts.get(alert["type"], 0) + 1
    context.log.info(f"{len(batch.alerts)} alert(s): {counts or 'none'}")
    return batch


def _save_risk_state(log_store: LogStore, batch: Batch) -> None:
    """The live risk counters, saved once the batch is committed (never before: a batch read again
    after a failed run would count twice)."""
    if batch.risk_state is not None:
        live_risk.save_state(log_store.data_path, batch.risk_state)


@dg.op
def publish_alerts(
    context: dg.OpExecutionContext, batch: Batch, log_store: LogStore, telegram: TelegramResource
) -> Iterator[dg.AssetMaterialization | dg.Output[None]]:
    """Commit, append to ``agent-alerts.jsonl``, then route (``alerts.yaml``) or send the Telegram
    digest; deliveries and actions per alert go into the step's metadata.

    From the append until the materializations of the alerts' days are recorded (each ``yield``
    returns once Dagster stored the event), the run holds the alerts table's writers' lock: a day's
    run of the ``alerts`` asset cannot read the file before the append and record after us."""
    config, config_path, config_error = routing_config(log_store.settings)
    with old_objects_left_alone(), table_writers_lock(log_store.data_path):
        recovered = list(batch.state.unpublished)  # written ahead by a run that failed after
        try:
            result = alerts_mod.publish(
                log_store.logs_path,
                log_store.data_path,
                batch.state,
                batch.alerts,
                batch.watch,
                telegram=telegram,
                now_ms=batch.now_ms,
                max_age_ms=int(telegram.max_age_seconds * 1000),
                log=context.log,
                config=config,
                config_path=config_path,
                config_error=config_error,
            )
        except AlertsConfigError as exc:  # the alerts are written and stay unpublished
            _save_risk_state(log_store, batch)  # the batch is committed: its risk counters count
            raise dg.Failure(description=str(exc)) from None
        _save_risk_state(log_store, batch)
        run_alerts = alerts_table(batch.alerts)
        run_fates = fates_for(log_store.data_path, run_alerts, log_store.settings)
        yield from alert_day_materializations(
            context.instance, log_store, alerts_table([*recovered, *batch.alerts])
        )
    if result.routed is not None and (result.routed.actions_launched or result.routed.actions):
        materialize_alert_actions(context, log_store)
    t = result.telegram
    yield dg.Output(
        None,
        metadata={
            **alerts_metadata(
                run_alerts,
                f"this run ({batch.reason}); alert time = event time",
                files_url(log_store.settings),
                fates=run_fates,
            ),
            "alerts_written": result.written,
            "alerts_recovered": result.recovered,
            "telegram_configured": t.configured,
            "telegram_sent": t.sent,
            "telegram_failed": t.failed,
            "telegram_pending": t.pending,
            "open_sessions": batch.watch.get("open_sessions", 0),
            **delivery_metadata(result, run_fates, log_store.data_path),
        },
    )


def alert_day_materializations(
    instance: dg.DagsterInstance, log_store: LogStore, alerts: pl.DataFrame
) -> Iterator[dg.AssetMaterialization]:
    """Feed the ``alerts`` asset: rewrite the partitions of the days ``alerts`` fell on (the day's
    whole table, read back from the alerts file) and yield their materializations, so the asset
    page lists an alert seconds after it fires."""
    days = sorted({d for d in alerts["day"].to_list() if d is not None})
    if not days:
        return
    register_partitions(instance, days)
    base = tables_dir(log_store.data_path)
    records = read_alert_records_by_day(log_store.logs_path, days)
    for day in days:
        table = alerts_table(records[day])
        target = table_path(base, ALERTS_ASSET, day.isoformat())
        rows = write_parquet(table, target)
        yield dg.AssetMaterialization(
            asset_key=ALERTS_ASSET,
            partition=day.isoformat(),
            metadata={
                **alerts_metadata(
                    table,
                    day_window(day),
                    files_url(log_store.settings),
                    fates=fates_for(log_store.data_path, table, log_store.settings),
                ),
                "dagster/row_count": rows,
                "dagster/column_schema": describe_columns(table.schema),
                "path": dg.MetadataValue.path(str(target)),
            },
        )


@dg.job(
    name=JOB_NAME,
    executor_def=dg.in_process_executor,
    description="Read new log lines, run the live detectors, write and send alerts.",
    tags={"agent_pipelines/kind": "live_detector", EXPRESS_TAG: "true"},
)
def live_detector_job() -> None:
    publish_alerts(run_detectors(read_new_events()))
