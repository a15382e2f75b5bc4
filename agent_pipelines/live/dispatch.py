"""The detector run's routed delivery: silence, route, plan actions, bundle, deliver, act.

Called by :func:`agent_pipelines.live.alerts.publish` when ``alerts.yaml`` exists. Split in two like
the Telegram path it extends: :func:`route_step` runs while the run's alerts are still listed as
*unpublished* in the committed state (so a kill -9 before it ends repeats it, and every write in it is
idempotent by alert id); :func:`deliver_step` runs after, and only drains durable queues.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_pipelines.live.actions.ledger import ActionLedger
from agent_pipelines.live.notifiers.apprise_sender import AppriseSender
from agent_pipelines.live.notifiers.outbox import MessageSender
from agent_pipelines.live.notifiers.webhook import DeliveryError, WebhookSender
from agent_pipelines.live.routing.config import AlertsConfig, Receiver
from agent_pipelines.live.routing.router import RouteOutcome, Router

logger = logging.getLogger(__name__)
ACTION_REPORT_WAIT_S = 1.0  # how long a run waits to *report* an action's outcome; never needed


@dataclass
class RoutedOutcome:
    """What routing, delivery and actions did in one run (counts, names; no secrets)."""

    route: RouteOutcome = field(default_factory=RouteOutcome)
    queued_messages: int = 0
    actions_planned: int = 0
    actions_launched: list[str] = field(default_factory=list)
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivered: dict[str, list[str]] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(int(d.get("failed", 0)) for d in self.deliveries.values())

    @property
    def pending(self) -> int:
        return sum(int(d.get("pending", 0)) for d in self.deliveries.values())


def route_step(
    router: Router, config: AlertsConfig, alerts: Sequence[Mapping[str, Any]], now_s: float
) -> tuple[RouteOutcome, int]:
    """Silence or queue each fresh alert for its receivers; plan the actions of those not silenced."""
    outcome = router.route(alerts, now_s)
    acting = [a for a in alerts if str(a["alert_id"]) not in outcome.silenced]
    planned = ActionLedger(router.state_dir).plan(config, acting, now_s)
    return outcome, planned


def make_sender(
    receiver: Receiver, telegram_client: Callable[[], MessageSender | None]
) -> MessageSender | None:
    """The client for one receiver; ``None`` (its messages wait) when it cannot be built now."""
    try:
        if receiver.webhook is not None:
            hook = receiver.webhook
            return WebhookSender(hook.url, hook.secret, timeout=hook.timeout, headers=hook.headers)
        if receiver.apprise is not None:
            return AppriseSender(receiver.apprise)
        return telegram_client()
    except DeliveryError as exc:
        logger.error("receiver %s cannot be used: %s", receiver.name, exc)
        return None


def deliver_step(
    router: Router,
    config_path: str | os.PathLike[str],
    telegram_client: Callable[[], MessageSender | None],
    now_s: float,
    run_alert_ids: Sequence[str] = (),
    log: Any = None,
) -> RoutedOutcome:
    """Bundle due groups, drain every receiver (in parallel), launch due actions; report per alert."""
    log = log or logger
    result = RoutedOutcome()
    result.queued_messages = router.flush(now_s)
    for name, delivery in router.deliver(lambda r: make_sender(r, telegram_client)).items():
        result.deliveries[name] = {
            "sent": delivery.sent,
            "failed": delivery.failed,
            "pending": delivery.pending,
            "dead": delivery.dead,
        }
        if delivery.failed:
            log.warning(
                f"receiver {name}: delivery failed, {delivery.pending} pending: {delivery.last_error}"
            )
    ledger = ActionLedger(router.state_dir)
    result.actions_launched = ledger.launch_due(Path(config_path), now_s)
    ledger.wait([a for a in result.actions_launched if a in set(run_alert_ids)], ACTION_REPORT_WAIT_S)
    delivered = router.delivered()
    for alert_id in run_alert_ids:
        result.delivered[alert_id] = sorted(delivered.get(alert_id, []))
        record = ledger.get(alert_id)
        if record is not None:
            result.actions[alert_id] = record.status
    return result


def routing_due(router: Router, now_s: float) -> str | None:
    """What routed work a detector run has now (a due group, a pending message, a due action), as a
    token that stays the same while that work stays undone (the sensor's run key), or None."""
    pending = sorted(
        f"{name}/{p.name}" for name, q in router.queues.items() for p in q.outbox.pending_dir.glob("*.json")
    )
    if pending:
        return f"pending:{pending[0]}"
    due = router.next_due()
    if due is not None and due <= now_s:
        return f"group:{due}"
    action_due = ActionLedger(router.state_dir).next_due()
    if action_due is not None and action_due <= now_s:
        return f"action:{action_due}"
    return None
