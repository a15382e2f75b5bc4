"""Notifiers: format alerts, queue them durably, deliver them to Telegram.

How the pieces fit (typical sensor / job code)::

    from agent_pipelines.live.notifiers import Outbox, enqueue_alerts

    outbox = telegram.get_outbox(data_dir)       # TelegramResource; <data>/state/telegram-outbox
    enqueue_alerts(outbox, new_alerts)           # digest → outbox, idempotent by alert ids
    if telegram.warn_if_unconfigured(context.log):
        with telegram.get_client() as client:
            result = outbox.deliver(client)      # sends in order, marks each delivered, keeps failures
            context.log.info(f"telegram: {result}")

Enqueue first, always — even when Telegram is not configured — so nothing is lost and a later
run (or a fixed configuration) delivers the backlog exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_pipelines.live.notifiers.format import (
    TELEGRAM_MAX_MESSAGE_LENGTH,
    alert_ids,
    format_alert,
    format_digest,
    format_text,
    split_html,
    telegram_len,
)
from agent_pipelines.live.notifiers.outbox import DeliveryResult, Outbox, PendingMessage, stable_key
from agent_pipelines.live.notifiers.telegram import TelegramClient, TelegramError, TelegramRateLimited

__all__ = [
    "TELEGRAM_MAX_MESSAGE_LENGTH",
    "DeliveryResult",
    "Outbox",
    "PendingMessage",
    "TelegramClient",
    "TelegramError",
    "TelegramRateLimited",
    "alert_ids",
    "enqueue_alerts",
    "enqueue_text",
    "format_alert",
    "format_digest",
    "format_text",
    "split_html",
    "stable_key",
    "telegram_len",
]


def enqueue_alerts(outbox: Outbox, alerts: Sequence[Mapping[str, Any]], *, prefix: str = "alerts") -> int:
    """Queue a digest of the alerts the outbox has not seen yet; returns how many messages were queued.

    Alerts whose id is already pending or delivered are dropped first, so re-running a sensor over
    the same alerts never notifies twice. The key is a digest of the remaining alert ids, so
    re-enqueueing the same batch is a no-op too. (Two processes enqueuing overlapping batches at the
    same instant could both pass the filter; our sensors run one at a time, so we accept that.)
    """
    if not alerts:
        return 0
    known = outbox.known_alert_ids()
    ids = alert_ids(alerts)
    fresh = [(alert_id, alert) for alert_id, alert in zip(ids, alerts, strict=True) if alert_id not in known]
    if not fresh:
        return 0
    fresh_ids = [alert_id for alert_id, _ in fresh]
    messages = format_digest([alert for _, alert in fresh])
    return outbox.enqueue_many(stable_key(*fresh_ids, prefix=prefix), messages, alert_ids=fresh_ids)


def enqueue_text(
    outbox: Outbox, key: str, text: str, *, title: str | None = None, preformatted: bool = False
) -> int:
    """Queue a plain-text summary (e.g. the weekly report) under ``key``; split to fit Telegram."""
    return outbox.enqueue_many(key, format_text(text, title=title, preformatted=preformatted))
