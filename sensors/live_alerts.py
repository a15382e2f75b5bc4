"""Live alerts: a 5-second sensor over the log folder and the detector job it launches.

Thin Dagster wiring: the job is :mod:`agent_pipelines.detector_job` (``agent-pipelines detect --once``
executes the same one), over :mod:`agent_pipelines.tailer`, :mod:`agent_pipelines.detectors` and
:mod:`agent_pipelines.alerts`.

**Cadence.** The sensor daemon loops every 5 s at best and skips a sensor whose
``minimum_interval_seconds`` has not fully elapsed since its last tick; with 5 s, jitter makes
every other loop miss by milliseconds (5 s / 10 s gaps). With 4 s every loop qualifies, so ticks
come every ~5 s. Detector runs carry ``agent_pipelines/express=true``: with ``config/dagster.yaml``'s
run coordinator and launcher (:mod:`agent_pipelines.run_launch`) they skip the run queue and start
in a process forked from a warm fork server (no interpreter start, no imports).

**Cheap runs.** The job runs its three ops in one process (``in_process_executor``), passes the
batch between them in memory, and the sensor requests at most one run per tick and none while a
detector run is queued or running (no pile-up: the next run simply covers more lines).

**What a tick does** (first that applies):

1. ``AGENT_WORK_ANALYZER_ENABLED=false`` → skip, saying so. (The sensor is also STOPPED by default
   when the variable is false at load time; the skip covers someone starting it by hand.)
2. A detector run is queued or running → skip.
3. New complete lines since the committed cursor → run request, ``run_key`` = hash of the byte
   ranges (the same ranges → the same key; a request whose run failed is re-issued after 30 s
   with a ``-rN`` suffix, since the cursor did not move).
4. An open session's silence crosses the stuck threshold (read from a tiny digest the last run
   wrote, so no state is loaded) → a stuck-check run. This is checked every tick, i.e. every 5 s
   even when no event arrives — the original live analyzer only checked when a new event came in.
5. Telegram messages left pending by a failed delivery → a delivery run, at most every 30 s.
6. Otherwise skip, saying when the next stuck check is due.

Once an hour it also deletes detector runs older than ``AGENT_DETECTOR_RUN_RETENTION_DAYS``
(default 3): Dagster has tick retention (``config/dagster.yaml``) but no run retention, and a
5-second job makes up to ~17,000 runs a day.
"""

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from agent_pipelines import detector_state, tailer
from agent_pipelines.detector_job import JOB_NAME, analyzer_enabled, live_detector_job
from agent_pipelines.log_store import LogStore
from agent_pipelines.resources import detector_resources
from agent_pipelines.settings import SettingsError, settings

SENSOR_NAME = "live_alerts_sensor"
RETRY_AFTER_S = 30
PURGE_EVERY_S = 3600
PURGE_BATCH = 200
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


# --------------------------------------------------------------------------------------------
# The sensor
# --------------------------------------------------------------------------------------------


def _key(*parts: str) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=10).hexdigest()


def _request(
    cursor: dict[str, Any], key: str, now: float, config: dict[str, Any], reason: str
) -> dg.RunRequest | dg.SkipReason:
    """A run request under ``key``; the same key again means the last run did not commit (failed):
    re-issue it with a ``-rN`` suffix after a pause, so a failure neither blocks nor hammers."""
    retries = 0
    if cursor.get("k") == key:
        if now - float(cursor.get("t") or 0) < RETRY_AFTER_S:
            return dg.SkipReason(
                f"{reason}: the previous run did not commit; retrying after {RETRY_AFTER_S}s"
            )
        retries = int(cursor.get("n") or 0) + 1
    cursor.update({"k": key, "t": now, "n": retries})
    return dg.RunRequest(
        run_key=f"{key}-r{retries}" if retries else key,
        run_config={"ops": {"read_new_events": {"config": {**config, "reason": reason}}}},
        tags={"agent_pipelines/reason": reason, "dagster/priority": "10"},
    )


def _purge_old_runs(context: dg.SensorEvaluationContext, cursor: dict[str, Any], now: float) -> int:
    if now - float(cursor.get("p") or 0) < PURGE_EVERY_S:
        return 0
    cursor["p"] = now
    days = settings().detector_run_retention_days
    before = datetime.now(UTC) - timedelta(days=days)
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=JOB_NAME, statuses=FINISHED, created_before=before), limit=PURGE_BATCH
    )
    for record in records:
        context.instance.delete_run(record.dagster_run.run_id)
    return len(records)


def evaluate(
    context: dg.SensorEvaluationContext, log_store: LogStore, now: float | None = None
) -> dg.SensorResult | dg.SkipReason:
    """One tick (see the module docstring for the order of decisions)."""
    now = time.time() if now is None else now
    if not analyzer_enabled():
        return dg.SkipReason("AGENT_WORK_ANALYZER_ENABLED=false: live alerts are turned off")
    try:  # every setting the detector run reads: a bad one is this tick's reason, not a failed run
        settings().check_live()
    except SettingsError as exc:
        return dg.SkipReason(f"live alerts paused by a setting: {exc}")
    try:
        cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    except ValueError:
        cursor = {}
    purged = _purge_old_runs(context, cursor, now)
    in_flight = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=JOB_NAME, statuses=IN_FLIGHT), limit=1
    )
    if in_flight:
        run = in_flight[0]
        return dg.SensorResult(
            skip_reason=f"detector run {run.run_id[:8]} is still {run.status.value.lower()}",
            cursor=json.dumps(cursor),
        )
    logs, data = log_store.logs_path, log_store.data_path
    committed = tailer.Cursor.from_json(detector_state.committed_cursor(data))
    found = tailer.scan(logs, committed)
    ranges = [r for r in found.ranges if tailer.has_complete_line(logs, r)]
    decision: dg.RunRequest | dg.SkipReason
    if ranges:
        decision = _request(
            cursor, tailer.ranges_key(ranges), now, {"ranges": tailer.ranges_to_json(ranges)}, "new_data"
        )
    else:
        watch = detector_state.read_watch(data)
        due = watch.get("due_ms")
        outbox = detector_state.outbox_dir(data) / "pending"
        if due is not None and now * 1000 >= due:
            key = _key("stuck", str(watch.get("due_attempt")), str(watch.get("due_event")))
            # The tick's clock travels with the request: re-executing the run decides the same.
            at = datetime.fromtimestamp(now, tz=UTC).isoformat()
            decision = _request(cursor, key, now, {"now": at}, "stuck_check")
        elif outbox.is_dir() and any(outbox.glob("*.json")):
            first = min(p.name for p in outbox.glob("*.json"))
            decision = _request(cursor, _key("deliver", first), now, {}, "deliver_pending")
        else:
            when = (
                f"next stuck check due in {max(0, due / 1000 - now):.0f}s"
                if due is not None
                else "no silence to watch for"
            )
            decision = dg.SkipReason(
                f"no new lines; {watch.get('open_sessions', 0)} open session(s), {when}"
                + (f"; purged {purged} old detector run(s)" if purged else "")
            )
    if isinstance(decision, dg.SkipReason):
        return dg.SensorResult(skip_reason=decision.skip_message, cursor=json.dumps(cursor))
    return dg.SensorResult(run_requests=[decision], cursor=json.dumps(cursor))


@dg.sensor(
    name=SENSOR_NAME,
    job=live_detector_job,
    minimum_interval_seconds=4,  # < the daemon's 5 s loop, so every loop ticks (see module doc)
    default_status=dg.DefaultSensorStatus.RUNNING if analyzer_enabled() else dg.DefaultSensorStatus.STOPPED,
    description="Every 5 s: new log lines or a due stuck check → one detector run (never two at once).",
)
def live_alerts_sensor(
    context: dg.SensorEvaluationContext, log_store: LogStore
) -> dg.SensorResult | dg.SkipReason:
    return evaluate(context, log_store)


defs = dg.Definitions(
    jobs=[live_detector_job],
    sensors=[live_alerts_sensor],
    resources=detector_resources(),
)

__all__ = ["JOB_NAME", "SENSOR_NAME", "defs", "evaluate", "live_alerts_sensor", "live_detector_job"]
