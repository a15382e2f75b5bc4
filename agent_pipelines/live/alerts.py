"""Alert records in the original Node live analyzer's format, their stable ids, and publishing them.

An existing monitor (the original Telegram monitor, ``monitor.mjs``) polls ``agent-alerts.jsonl`` and acts on
each line, so records keep the original live analyzer's shape: ``{timestamp, type, attempt_id, task_id,
executor, recommendation, severity, ...per-type fields}``. We add ``alert_id``: a hash of the type, the
attempt and the key of the incident's first event, so the same incident found by a live run, a replay or a
retry after a crash has the same id — that is what lets us write it once and send it once.

``timestamp`` is *event time* (when the condition became true in the logs), not the wall clock of
the run that noticed it: a replay of old logs writes the same records as the live sensor did.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent_pipelines.core import paths
from agent_pipelines.core.contract import format_timestamp
from agent_pipelines.core.jsonl import json_objects, read_json_objects
from agent_pipelines.core.writer import append_records
from agent_pipelines.text.redaction import redact

logger = logging.getLogger(__name__)

# type -> (severity, recommendation), exactly as the original Node analyzer
# (agent-work-analyzer.mjs) wrote them: an existing monitor switches on these strings.
ALERT_KINDS: dict[str, tuple[str, str]] = {
    "error_loop": ("high", "trigger_ai_autofix"),
    "tool_loop": ("medium", "fresh_session"),
    "stuck_agent": ("medium", "check_agent_health"),
    "cost_anomaly": ("low", "review_prompt_efficiency"),
    "excessive_restarts": ("medium", "manual_review"),
    "failed_session_high_errors": ("high", "analyze_root_cause"),
}
# Per type, the fields the original analyzer added after the common ones (in its order). Ours may
# add more (``window_ms`` on an error loop, ``alert_id`` on all), never fewer.
ALERT_FIELDS: dict[str, tuple[str, ...]] = {
    "error_loop": ("error_fingerprint", "occurrences", "sample_message"),
    "tool_loop": ("tool_name", "occurrences", "window_ms"),
    "stuck_agent": ("idle_time_ms", "threshold_ms"),
    "cost_anomaly": ("cost_usd", "duration_ms", "threshold_usd"),
    "excessive_restarts": ("restart_count", "last_reason"),
    "failed_session_high_errors": ("error_count", "error_fingerprints"),
}
# Ours, advisory, beyond the original's: the failure-risk model expects an open session to fail.
ADVISORY_ALERT_KINDS: dict[str, tuple[str, str]] = {"predicted_failure": ("low", "consider_restart")}
COMMON_ALERT_FIELDS: tuple[str, ...] = (
    "timestamp", "type", "attempt_id", "task_id", "executor", "recommendation", "severity"
)  # fmt: skip
# Types an earlier version of agent-pipelines wrote, read as the original's names.
LEGACY_ALERT_TYPES: dict[str, str] = {"failed_session_errors": "failed_session_high_errors"}


def canonical_alert_type(alert_type: Any) -> str:
    """The original analyzer's name for an alert type (our earlier files used other names)."""
    text = str(alert_type or "")
    return LEGACY_ALERT_TYPES.get(text, text)


SAMPLE_MESSAGE_CHARS = 500
LIVE_RETRY_BUDGET_S = 20.0


def alert_id(alert_type: str, attempt_id: str, incident_key: str) -> str:
    """Stable id: same type, attempt and first event of the incident → same id, in any run."""
    text = f"{alert_type}\x1f{attempt_id}\x1f{incident_key}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def moment_of(at_ms: int) -> datetime:
    """Epoch milliseconds as a UTC datetime, clamped to the years Python holds (1-9999): an alert is
    always made, whatever time its event claimed."""
    try:
        return _EPOCH + timedelta(milliseconds=at_ms)
    except OverflowError:
        return _FIRST if at_ms < 0 else _LAST


def make_alert(
    alert_type: str,
    attempt_id: str,
    incident_key: str,
    at_ms: int,
    *,
    task_id: str | None,
    executor: str | None,
    **fields: Any,
) -> dict[str, Any]:
    """One alert record in the original live analyzer's field order. Free text (``sample_message``) is
    redacted here, before it can reach the alerts file or Telegram."""
    severity, recommendation = ALERT_KINDS.get(alert_type) or ADVISORY_ALERT_KINDS[alert_type]
    record: dict[str, Any] = {
        "timestamp": format_timestamp(moment_of(at_ms)),
        "type": alert_type,
        "attempt_id": attempt_id,
        "task_id": task_id,
        "executor": executor,
        "recommendation": recommendation,
        "severity": severity,
    }
    for name, value in fields.items():
        if name == "sample_message" and value is not None:
            value = redact(str(value))[:SAMPLE_MESSAGE_CHARS]
        record[name] = value
    record["alert_id"] = alert_id(alert_type, attempt_id, incident_key)
    return record


def alerts_path(logs_dir: str | os.PathLike[str]) -> Path:
    return Path(logs_dir) / paths.ALERTS_FILE


def append_alerts(logs_dir: str | os.PathLike[str], alerts: Sequence[Mapping[str, Any]]) -> None:
    """Append records as one locked write (the shared writer): a reader never sees half a batch."""
    if alerts:
        append_records(alerts_path(logs_dir), alerts)


def written_alert_ids(logs_dir: str | os.PathLike[str], tail_bytes: int = 4 << 20) -> set[str]:
    """Alert ids in the last ``tail_bytes`` of the alerts file (crash recovery: what already landed)."""
    path = alerts_path(logs_dir)
    ids: set[str] = set()
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - tail_bytes))
            data = handle.read()
    except FileNotFoundError:
        return ids
    for value in json_objects(data.splitlines()):
        if isinstance(value.get("alert_id"), str):
            ids.add(value["alert_id"])
    return ids


def read_alerts(logs_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All alert records (tests, benchmarks, the CLI's summary)."""
    return read_json_objects(alerts_path(logs_dir))


@dataclass
class TelegramOutcome:
    """What publishing to Telegram did in one run (no secrets: counts and a redacted error)."""

    configured: bool
    queued_messages: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    too_old: int = 0
    last_error: str | None = None


def queue_digest(outbox: Any, alerts: Sequence[Mapping[str, Any]]) -> int:
    """Queue one digest (split only past Telegram's size limit) for the alerts of one run.

    The outbox key is derived from the alert ids, so queuing the same alerts again (a retried
    run) is a no-op, and a message is never sent twice.
    """
    from agent_pipelines.live.notifiers.format import format_digest
    from agent_pipelines.live.notifiers.outbox import stable_key

    if not alerts:
        return 0
    texts = format_digest(list(alerts))
    key = stable_key(*(str(a["alert_id"]) for a in alerts), prefix="alerts")
    return outbox.enqueue_many(key, texts)


def fresh_for_telegram(
    alerts: Iterable[Mapping[str, Any]], now_ms: int, max_age_ms: int
) -> tuple[list[Mapping[str, Any]], int]:
    """Alerts recent enough to interrupt someone, and how many were too old.

    A first start over months of history, or a replay, finds old incidents: they are written to
    the alerts file like any other, but nobody should be paged for an attempt that ended last week.
    """
    fresh, old = [], 0
    for alert in alerts:
        at = int(datetime.fromisoformat(str(alert["timestamp"]).replace("Z", "+00:00")).timestamp() * 1000)
        if now_ms - at <= max_age_ms:
            fresh.append(alert)
        else:
            old += 1
    return fresh, old


_warned = False


def _warn_unconfigured(log: Any, telegram: Any | None) -> None:
    """One clear warning per process, not one per 5-second run."""
    global _warned
    if _warned:
        return
    _warned = True
    missing = (
        telegram.missing_settings() if telegram is not None else ["TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"]
    )
    log.warning(
        "Telegram is not configured (set %s): alerts are written to agent-alerts.jsonl only, "
        "nothing is queued for sending.",
        " and ".join(missing),
    )


@dataclass
class PublishResult:
    """What one publish step did (``routed`` when ``alerts.yaml`` is in use)."""

    written: int
    recovered: int
    telegram: TelegramOutcome
    routed: Any = None
    silenced: dict[str, str] | None = None


def publish(
    logs_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    state: Any,
    alerts: Sequence[Mapping[str, Any]],
    watch: Mapping[str, Any],
    *,
    telegram: Any | None,
    now_ms: int,
    max_age_ms: int,
    log: Any = None,
    config: Any = None,
    config_path: str | os.PathLike[str] | None = None,
    config_error: str | None = None,
) -> PublishResult:
    """Commit the run, write its alerts, queue and deliver their Telegram digest — crash-safe.

    Order matters. (1) The new state (cursor advanced, detector windows updated) is committed with
    the alerts listed as *unpublished*: from here on the run's events are never processed again.
    (2) Alerts are appended to ``agent-alerts.jsonl``, skipping ids already there (a crashed
    run's partial work). (3) The digest is queued in the durable outbox under a key derived from
    the alert ids. (4) The unpublished list is cleared. (5) The outbox is delivered: anything that
    fails stays pending for the next run. A crash anywhere repeats only steps that are idempotent.

    ``telegram`` is a ``TelegramResource`` (or ``None``); not configured → one warning, alerts
    still written, nothing queued (an outbox nobody drains would only grow).

    ``config`` (an ``AlertsConfig`` read from ``config_path``) replaces the Telegram-only step 3 by
    routing (:mod:`agent_pipelines.live.dispatch`): silences, receivers, bundling, actions.
    Without it a live silence still holds its alerts back from Telegram. ``config_error`` (the file
    is broken) writes the alerts and raises it with the alerts still unpublished: the run fails in
    one line and the next run after the fix routes them.
    """
    from agent_pipelines.live import state as detector_state
    from agent_pipelines.live.notifiers.outbox import Outbox

    log = log or logger
    recovered = list(state.unpublished)
    state.unpublished = [*recovered, *alerts]
    detector_state.commit(data_dir, state, dict(watch))
    pending = state.unpublished
    if recovered:
        already = written_alert_ids(logs_dir)
        to_write = [a for a in pending if a["alert_id"] not in already]
    else:
        to_write = list(pending)
    append_alerts(logs_dir, to_write)
    if config_error is not None:
        from agent_pipelines.live.routing.config import AlertsConfigError

        raise AlertsConfigError(config_error)
    outcome = TelegramOutcome(configured=bool(telegram is not None and telegram.configured))
    outbox = Outbox(detector_state.outbox_dir(data_dir))
    if config is not None:
        return _publish_routed(
            data_dir, state, pending, watch, telegram, config, config_path, now_ms, to_write, recovered, log
        )
    silenced = _silence(data_dir, pending, now_ms)
    pending = [a for a in pending if a["alert_id"] not in silenced]
    if outcome.configured:
        fresh, outcome.too_old = fresh_for_telegram(pending, now_ms, max_age_ms)
        outcome.queued_messages = queue_digest(outbox, fresh)
        if outcome.too_old:
            log.info(
                "%d alert(s) older than %d s were written but not sent to Telegram",
                outcome.too_old,
                max_age_ms // 1000,
            )
    elif pending:
        _warn_unconfigured(log, telegram)
    if state.unpublished:  # nothing written ahead → nothing to clear (one commit per quiet run)
        state.unpublished = []
        detector_state.commit(data_dir, state, dict(watch), write_seen=False, only_unpublished=True)
    if telegram is not None and outcome.configured and outbox.pending():
        client = telegram.get_client()
        # A live run must not sit in retries for minutes: what does not go now stays pending.
        client.max_total_time = min(client.max_total_time, LIVE_RETRY_BUDGET_S)
        client.max_retry_after = min(client.max_retry_after, LIVE_RETRY_BUDGET_S)
        try:
            result = outbox.deliver(client)
        finally:
            client.close()
        outcome.sent, outcome.failed, outcome.pending = result.sent, result.failed, result.pending
        outcome.last_error = result.last_error
        if result.failed:
            log.warning(
                "Telegram delivery failed, %d message(s) stay pending: %s", result.pending, result.last_error
            )
    return PublishResult(written=len(to_write), recovered=len(recovered), telegram=outcome, silenced=silenced)


def _silence(
    data_dir: str | os.PathLike[str], alerts: Sequence[Mapping[str, Any]], now_ms: int
) -> dict[str, str]:
    """Record and return (alert id → silence id) the alerts a live silence holds back."""
    from agent_pipelines.live import state as detector_state
    from agent_pipelines.live.routing.silences import SilenceStore

    store = SilenceStore(detector_state.state_dir(data_dir))
    active = store.active(now_ms / 1000) if alerts else []
    held: dict[str, str] = {}
    for alert in alerts:
        silence = next((s for s in active if s.matches(alert)), None)
        if silence is not None:
            store.record(str(alert["alert_id"]), silence)
            held[str(alert["alert_id"])] = silence.id
    return held


def _publish_routed(
    data_dir: str | os.PathLike[str],
    state: Any,
    pending: Sequence[Mapping[str, Any]],
    watch: Mapping[str, Any],
    telegram: Any | None,
    config: Any,
    config_path: str | os.PathLike[str] | None,
    now_ms: int,
    to_write: Sequence[Mapping[str, Any]],
    recovered: Sequence[Mapping[str, Any]],
    log: Any,
) -> PublishResult:
    """Steps 3-5 through ``alerts.yaml``: route while unpublished, clear, then deliver and act."""
    from agent_pipelines.live import state as detector_state
    from agent_pipelines.live.dispatch import deliver_step, route_step
    from agent_pipelines.live.notifiers.outbox import Outbox
    from agent_pipelines.live.routing.router import Router

    router = Router(config, detector_state.state_dir(data_dir), detector_state.outbox_dir(data_dir))
    fresh, too_old = fresh_for_telegram(pending, now_ms, int(config.max_age * 1000))
    route, _ = route_step(router, config, fresh, now_ms / 1000)
    if state.unpublished:
        state.unpublished = []
        detector_state.commit(data_dir, state, dict(watch), write_seen=False, only_unpublished=True)

    def telegram_client() -> Any:
        if telegram is None or not telegram.configured:
            return None
        client = telegram.get_client()
        client.max_total_time = min(client.max_total_time, LIVE_RETRY_BUDGET_S)
        client.max_retry_after = min(client.max_retry_after, LIVE_RETRY_BUDGET_S)
        return client

    routed = deliver_step(
        router, config_path or "", telegram_client, now_ms / 1000, [str(a["alert_id"]) for a in pending], log
    )
    routed.route = route
    legacy = Outbox(detector_state.outbox_dir(data_dir))
    if not any(r.kind == "telegram" for r in config.receivers) and legacy.pending():
        client = telegram_client()  # a backlog from before alerts.yaml: drained, not stranded
        if client is not None:
            try:
                legacy.deliver(client)
            finally:
                client.close()
    outcome = TelegramOutcome(configured=bool(telegram is not None and telegram.configured), too_old=too_old)
    outcome.queued_messages, outcome.failed, outcome.pending = (
        routed.queued_messages,
        routed.failed,
        routed.pending,
    )
    outcome.sent = sum(int(d.get("sent", 0)) for d in routed.deliveries.values())
    return PublishResult(
        written=len(to_write),
        recovered=len(recovered),
        telegram=outcome,
        routed=routed,
        silenced=route.silenced,
    )
