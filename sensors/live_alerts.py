"""Live alerts: a 5-second sensor over the log folder and the detector job it launches.

Thin Dagster wiring: the job is :mod:`agent_pipelines.orchestration.detector_job` (``agent-pipelines detect
--once``
executes the same one), over :mod:`agent_pipelines.core.tailer`, :mod:`agent_pipelines.live.detectors` and
:mod:`agent_pipelines.live.alerts`.

**Cadence.** Dagster's sensor daemon starts a loop every 5 s, submits the tick of each sensor
that is due (one tick in flight per sensor), and has no setting to loop faster. A tick that looked
once would leave a new line waiting up to 5 s for the next tick. So a tick with nothing to do
*watches* the folder — a ``stat`` of each log file and a read of the detector state's head every
:data:`POLL_S` (50 ms), ~0.3 ms of CPU each — for up to :data:`WATCH_S`, and requests the run the
moment a complete line appears (or the run in flight ends with lines waiting); a half-written last
line does not count. A tick that requested a run has ended, though, and the daemon starts the next
one at its next loop: ``config/dagster.yaml``'s ``sensor_loop_seconds: 0.5`` (read by
:mod:`agent_pipelines.orchestration.run_launch`'s coordinator) makes that loop 0.5 s, so the folder
is watched all the time but for that half second after a request — while the run it requested is
starting anyway. ``minimum_interval_seconds`` is 1 (every loop after a watching tick qualifies).
With Dagster's plain 5-second loop (``config/dagster-postgres.yaml``) the same sensor watches as
long, and a request leaves up to 5 s unwatched, as before. :data:`WATCH_S` (9 s) ends a watch
before the daemon's second 5-second loop with a margin for the tick's bookkeeping, and bounds how
long stopping the daemon waits for a tick. The original live analyzer reacted to each write
(``fs.watch``). Detector runs carry ``agent_pipelines/express=true``: with ``config/dagster.yaml``'s
run coordinator and launcher (:mod:`agent_pipelines.orchestration.run_launch`) they skip the run
queue and start in a process forked from a warm fork server (no interpreter start, no imports).

**Cheap runs.** The job runs its three ops in one process (``in_process_executor``), passes the
batch between them in memory, and the sensor requests at most one run per tick and none while a
detector run is queued or running (no pile-up: the next run simply covers more lines).

**What a tick does** (first that applies):

1. ``AGENT_WORK_ANALYZER_ENABLED=false`` → skip, saying so. (The sensor is also STOPPED by default
   when the variable is false at load time; the skip covers someone starting it by hand.) Every
   setting comes from the ``log_store`` resource, built from the settings the code location loaded
   (:mod:`agent_pipelines.definitions`); each run request carries the thresholds, like the clock.
2. Work to do (any of 3-5 below) while a detector run is queued or running → watch on: that run
   may cover it; if not, the next one is requested as soon as it ends (never two at once). The
   same while a failed run's request waits to be re-issued (3).
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
# Each tick watches the folder this long before it says "no new lines" (see "Cadence" above): two
# of Dagster's 5-second loops (and twenty of ours) less a margin for the tick's own bookkeeping,
# since a tick still in flight when a loop starts is passed over by that loop.
WATCH_S = 9.0
POLL_S = 0.05
MIN_INTERVAL_S = 1  # after a tick that requested a run at once, the next waits this long
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
) -> dg.RunRequest | dg.SkipReason:
    """What the folder asks for at ``now``: a run, or why not yet (no new line, nothing due, a
    detector run still in flight, a failed run's request waiting to be re-issued) — worth watching
    on, since any of those may change the next moment."""
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
            return dg.SkipReason(f"detector run {run.run_id[:8]} is still {run.status.value.lower()}")
    if ranges:
        key = tailer.ranges_key(ranges)
        config = detect_config(settings, ranges=tailer.ranges_to_json(ranges))
        return _request(cursor, key, now, config, "new_data")
    if stuck_due:
        key = _key("stuck", str(watch.get("due_attempt")), str(watch.get("due_event")))
        # The tick's clock travels with the request: re-executing the run decides the same.
        at = datetime.fromtimestamp(now, tz=UTC).isoformat()
        return _request(cursor, key, now, detect_config(settings, now=at), "stuck_check")
    if pending:
        first = min(p.name for p in outbox.glob("*.json"))
        return _request(cursor, _key("deliver", first), now, detect_config(settings), "deliver_pending")
    if routed:  # alerts.yaml: a bundle's group_wait passed, a receiver's backlog, an action retry
        return _request(cursor, _key("route", routed), now, detect_config(settings), "deliver_routed")
    when = (
        f"next stuck check due in {max(0, due / 1000 - now):.0f}s"
        if due is not None
        else "no silence to watch for"
    )
    return dg.SkipReason(f"no new lines; {watch.get('open_sessions', 0)} open session(s), {when}")


def evaluate(
    context: dg.SensorEvaluationContext,
    log_store: LogStore,
    now: float | None = None,
    watch_s: float = 0.0,
) -> dg.SensorResult | dg.SkipReason:
    """One tick (see the module docstring for the order of decisions).

    With ``watch_s`` the tick does not stop at "not yet": it looks again every :data:`POLL_S` for
    up to ``watch_s`` seconds (a ``stat`` of each log file, and the detector state's head), and
    requests the run the moment there is work. ``now`` (tests, replays) is the clock at the tick's
    start.
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
        decision = _decide(context, log_store, cursor, base + elapsed)
        if isinstance(decision, dg.RunRequest) or elapsed + POLL_S > watch_s:
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
        # Every daemon loop after a watching tick qualifies (see "Cadence"); a sensor turned off
        # by the environment but started by hand ticks rarely, since its ticks do not watch.
        minimum_interval_seconds=MIN_INTERVAL_S if settings.analyzer_enabled else 30,
        default_status=dg.DefaultSensorStatus.RUNNING
        if settings.analyzer_enabled
        else dg.DefaultSensorStatus.STOPPED,
        description="Watches the log folder: new lines or a due stuck check → a detector run, one at a time.",
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
