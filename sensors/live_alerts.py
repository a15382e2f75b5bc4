"""Live alerts: a 5-second sensor over the log folder and the detector job it launches.

Thin Dagster wiring: the job is :mod:`agent_pipelines.orchestration.detector_job` (``agent-pipelines detect
--once``
executes the same one), over :mod:`agent_pipelines.core.tailer`, :mod:`agent_pipelines.live.detectors` and
:mod:`agent_pipelines.live.alerts`.

**Cadence.** Dagster's sensor daemon loops every 5 s (a fixed interval) and skips a sensor whose
``minimum_interval_seconds`` has not fully elapsed since its last tick; with 5 s, jitter makes
every other loop miss by milliseconds (5 s / 10 s gaps). With 4 s every loop qualifies, so ticks
come every ~5 s. A tick that only looked once would leave a new line waiting for the next tick,
2.5 s on average and up to 5 s, before any detector work: so a tick with nothing to do *watches*
the folder for :data:`WATCH_S` (3.5 s) — a ``stat`` of each log file and a read of the detector
state's head every 100 ms, ~0.2 ms of CPU each — and requests the run the moment a complete line
appears (or the run in flight ends with lines waiting). The original live analyzer reacted to
each write (``fs.watch``); this is as close as a 5-second daemon allows. The watch ends early
enough that the tick is done before the daemon's next loop (a tick still running then would be
skipped for a whole loop). Detector runs carry ``agent_pipelines/express=true``: with
``config/dagster.yaml``'s run coordinator and launcher (:mod:`agent_pipelines.orchestration.run_launch`) they
skip the run queue and start in a process forked from a warm fork server (no interpreter start, no
imports).

**Cheap runs.** The job runs its three ops in one process (``in_process_executor``), passes the
batch between them in memory, and the sensor requests at most one run per tick and none while a
detector run is queued or running (no pile-up: the next run simply covers more lines).

**What a tick does** (first that applies):

1. ``AGENT_WORK_ANALYZER_ENABLED=false`` → skip, saying so. (The sensor is also STOPPED by default
   when the variable is false at load time; the skip covers someone starting it by hand.) Every
   setting comes from the ``log_store`` resource, built from the settings the code location loaded
   (:mod:`agent_pipelines.definitions`); each run request carries the thresholds, like the clock.
2. Work to do (any of 3-5 below) while a detector run is queued or running → watch on: that run
   may cover it; if not, the next one is requested as soon as it ends (never two at once).
3. New complete lines since the committed cursor → run request, ``run_key`` = hash of the byte
   ranges (the same ranges → the same key; a request whose run failed is re-issued after 30 s
   with a ``-rN`` suffix, since the cursor did not move).
4. An open session's silence crosses the stuck threshold (read from a tiny digest the last run
   wrote, so no state is loaded) → a stuck-check run. This is checked on every look, even when no
   event arrives — the original live analyzer only checked when a new event came in.
5. Telegram messages left pending by a failed delivery → a delivery run, at most every 30 s.
6. Otherwise watch the folder (see Cadence), then skip, saying when the next stuck check is due.

Once an hour it also deletes detector runs older than ``AGENT_DETECTOR_RUN_RETENTION_DAYS``
(default 3): Dagster has tick retention (``config/dagster.yaml``) but no run retention, and a
5-second job makes up to ~17,000 runs a day.
"""

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from agent_pipelines.core import tailer
from agent_pipelines.core.settings import Settings
from agent_pipelines.live import state as detector_state
from agent_pipelines.orchestration.alert_delivery import routing_work_due
from agent_pipelines.orchestration.detector_job import JOB_NAME, detect_config, live_detector_job
from agent_pipelines.orchestration.log_store import LogStore

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
# Each tick watches the folder this long before it says "no new lines" (see "Cadence" above): the
# daemon submits the next tick 5 s after this one started, and a tick still running then is skipped
# for a whole loop, so the watch ends with a margin for the tick's own bookkeeping.
WATCH_S = 3.5
POLL_S = 0.1
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


# --------------------------------------------------------------------------------------------
# The sensor
# --------------------------------------------------------------------------------------------


@dataclass
class SensorCursor:
    """What the sensor remembers between ticks (Dagster stores it as the sensor's cursor string).

    ``key`` is the run key last requested and ``requested_at`` when; ``retries`` counts re-issues of
    that key (its run did not commit); ``purged_at`` is when old detector runs were last deleted.
    Written as :data:`CURSOR_VERSION` 2; version 1 (no ``v``) was ``{"k", "t", "n", "p"}``, read
    still, so a sensor upgraded mid-flight neither repeats nor loses a request.
    """

    key: str | None = None
    requested_at: float = 0.0
    retries: int = 0
    purged_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "key": self.key,
                "requested_at": self.requested_at,
                "retries": self.retries,
                "purged_at": self.purged_at,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> "SensorCursor":
        """The cursor of ``text``; a fresh one when there is none or it cannot be read (the worst
        that costs is one early purge and one retry without waiting)."""
        try:
            d = json.loads(text) if text else {}
            if not isinstance(d, dict):
                return cls()
            if d.get("v") is None:  # version 1
                d = {
                    "key": d.get("k"),
                    "requested_at": d.get("t"),
                    "retries": d.get("n"),
                    "purged_at": d.get("p"),
                }
            elif d.get("v") != CURSOR_VERSION:
                return cls()
            key = d.get("key")
            return cls(
                key=key if isinstance(key, str) else None,
                requested_at=float(d.get("requested_at") or 0),
                retries=int(d.get("retries") or 0),
                purged_at=float(d.get("purged_at") or 0),
            )
        except (ValueError, TypeError):
            return cls()


CURSOR_VERSION = 2


def _key(*parts: str) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=10).hexdigest()


def _request(
    cursor: SensorCursor, key: str, now: float, config: dict[str, Any], reason: str
) -> dg.RunRequest | dg.SkipReason:
    """A run request under ``key``; the same key again means the last run did not commit (failed):
    re-issue it with a ``-rN`` suffix after a pause, so a failure neither blocks nor hammers."""
    retries = 0
    if cursor.key == key:
        if now - cursor.requested_at < RETRY_AFTER_S:
            return dg.SkipReason(
                f"{reason}: the previous run did not commit; retrying after {RETRY_AFTER_S}s"
            )
        retries = cursor.retries + 1
    cursor.key, cursor.requested_at, cursor.retries = key, now, retries
    return dg.RunRequest(
        run_key=f"{key}-r{retries}" if retries else key,
        run_config={"ops": {"read_new_events": {"config": {**config, "reason": reason}}}},
        tags={"agent_pipelines/reason": reason, "dagster/priority": "10"},
    )


def _purge_old_runs(
    context: dg.SensorEvaluationContext, cursor: SensorCursor, now: float, settings: Settings
) -> int:
    if now - cursor.purged_at < PURGE_EVERY_S:
        return 0
    cursor.purged_at = now
    days = settings.detector_run_retention_days
    before = datetime.now(UTC) - timedelta(days=days)
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=JOB_NAME, statuses=FINISHED, created_before=before), limit=PURGE_BATCH
    )
    for record in records:
        context.instance.delete_run(record.dagster_run.run_id)
    return len(records)


def _decide(
    context: dg.SensorEvaluationContext, log_store: LogStore, cursor: SensorCursor, now: float
) -> tuple[dg.RunRequest | dg.SkipReason, bool]:
    """What the folder asks for at ``now``, and whether that is worth watching on (``True``: nothing
    to do yet — no new line, nothing due, or a detector run still in flight)."""
    logs, data, settings = log_store.logs_path, log_store.data_path, log_store.settings
    committed = tailer.Cursor.from_json(detector_state.committed_cursor(data))
    found = tailer.scan(logs, committed)
    ranges = [r for r in found.ranges if tailer.has_complete_line(logs, r)]
    watch = detector_state.read_watch(data) if not ranges else {}
    due = watch.get("due_ms")
    stuck_due = due is not None and now * 1000 >= due
    outbox = detector_state.outbox_dir(data) / "pending"
    pending = not ranges and not stuck_due and outbox.is_dir() and any(outbox.glob("*.json"))
    routed = None if ranges or stuck_due or pending else routing_work_due(data, now, settings)
    if ranges or stuck_due or pending or routed:
        # Something to do: the instance is asked (once a tick, or once a poll while work waits)
        # whether a detector run is still on it: that run may cover it, the next surely will.
        in_flight = context.instance.get_runs(
            filters=dg.RunsFilter(job_name=JOB_NAME, statuses=IN_FLIGHT), limit=1
        )
        if in_flight:
            run = in_flight[0]
            return dg.SkipReason(f"detector run {run.run_id[:8]} is still {run.status.value.lower()}"), True
    if ranges:
        key = tailer.ranges_key(ranges)
        config = detect_config(settings, ranges=tailer.ranges_to_json(ranges))
        return _request(cursor, key, now, config, "new_data"), False
    if stuck_due:
        key = _key("stuck", str(watch.get("due_attempt")), str(watch.get("due_event")))
        # The tick's clock travels with the request: re-executing the run decides the same.
        at = datetime.fromtimestamp(now, tz=UTC).isoformat()
        return _request(cursor, key, now, detect_config(settings, now=at), "stuck_check"), False
    if pending:
        first = min(p.name for p in outbox.glob("*.json"))
        return _request(
            cursor, _key("deliver", first), now, detect_config(settings), "deliver_pending"
        ), False
    if routed:  # alerts.yaml: a bundle's group_wait passed, a receiver's backlog, an action retry
        return _request(cursor, _key("route", routed), now, detect_config(settings), "deliver_routed"), False
    when = (
        f"next stuck check due in {max(0, due / 1000 - now):.0f}s"
        if due is not None
        else "no silence to watch for"
    )
    return dg.SkipReason(f"no new lines; {watch.get('open_sessions', 0)} open session(s), {when}"), True


def evaluate(
    context: dg.SensorEvaluationContext,
    log_store: LogStore,
    now: float | None = None,
    watch_s: float = 0.0,
) -> dg.SensorResult | dg.SkipReason:
    """One tick (see the module docstring for the order of decisions).

    With ``watch_s`` the tick does not stop at "nothing to do": it looks again every
    :data:`POLL_S` for up to ``watch_s`` seconds (a ``stat`` of each log file, and the detector
    state's head), and requests the run the moment there is work. ``now`` (tests, replays) is the
    clock at the tick's start.
    """
    started = time.monotonic()
    base = time.time() if now is None else now
    settings = log_store.settings
    if not settings.analyzer_enabled:
        return dg.SkipReason("AGENT_WORK_ANALYZER_ENABLED=false: live alerts are turned off")
    cursor = SensorCursor.from_json(context.cursor)
    purged = _purge_old_runs(context, cursor, base, settings)
    while True:
        elapsed = time.monotonic() - started
        decision, idle = _decide(context, log_store, cursor, base + elapsed)
        if not idle or elapsed + POLL_S > watch_s:
            break
        time.sleep(POLL_S)
    if isinstance(decision, dg.SkipReason):
        message = decision.skip_message or ""
        if watch_s:
            message += f"; watched the log folder for {time.monotonic() - started:.1f}s"
        if purged:
            message += f"; purged {purged} old detector run(s)"
        return dg.SensorResult(skip_reason=message, cursor=cursor.to_json())
    return dg.SensorResult(run_requests=[decision], cursor=cursor.to_json())


def live_alerts_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sensor, RUNNING by default unless ``settings`` turn the analyzer off."""

    @dg.sensor(
        name=SENSOR_NAME,
        job=live_detector_job,
        minimum_interval_seconds=4,  # < the daemon's 5 s loop, so every loop ticks (see module doc)
        default_status=dg.DefaultSensorStatus.RUNNING
        if settings.analyzer_enabled
        else dg.DefaultSensorStatus.STOPPED,
        description="Every 5 s: new log lines or a due stuck check → one detector run (never two at once).",
    )
    def sensor(context: dg.SensorEvaluationContext, log_store: LogStore) -> dg.SensorResult | dg.SkipReason:
        return evaluate(context, log_store, watch_s=WATCH_S)

    return sensor


def build(settings: Settings) -> dg.Definitions:
    """The domain for ``settings`` (its resources are bound once, in :mod:`agent_pipelines.definitions`)."""
    return dg.Definitions(jobs=[live_detector_job], sensors=[live_alerts_sensor(settings)])


__all__ = [
    "CURSOR_VERSION",
    "JOB_NAME",
    "SENSOR_NAME",
    "SensorCursor",
    "build",
    "evaluate",
    "live_alerts_sensor",
    "live_detector_job",
]
