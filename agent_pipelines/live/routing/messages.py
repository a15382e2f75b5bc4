"""What one bundled message says, per kind of receiver: Telegram HTML, plain text, signed JSON.

Every text is built from alert records that were redacted when they were made; the outbox text is
redacted once more here (a last line, cheap) before it is written to disk or sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from agent_pipelines.live.notifiers.format import format_digest
from agent_pipelines.live.notifiers.outbox import stable_key
from agent_pipelines.text.redaction import redact

_ICONS = {"high": "🔴", "medium": "🟠", "low": "🟡"}
_DETAIL = (
    "sample_message", "tool_name", "occurrences", "idle_time_ms", "cost_usd", "restart_count", "error_count"
)  # fmt: skip


def message_key(receiver: str, alert_ids: Sequence[str]) -> str:
    """The outbox key and idempotency key: the alert id itself for one alert, a digest for a group."""
    if len(alert_ids) == 1:
        return str(alert_ids[0])
    return stable_key(*alert_ids, prefix=f"group-{receiver}")


def plain_text(alerts: Sequence[Mapping[str, Any]]) -> str:
    """Title line, then one line per alert: what apprise sends (Slack, Discord, e-mail, ntfy...)."""
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[str(alert.get("type"))] = counts.get(str(alert.get("type")), 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    lines = [f"agent-pipelines: {len(alerts)} alert(s) ({summary})"]
    for alert in alerts:
        who = " ".join(str(alert[k]) for k in ("executor", "task_id", "attempt_id") if alert.get(k))
        detail = "; ".join(f"{k}={alert[k]}" for k in _DETAIL if alert.get(k) is not None)
        icon = _ICONS.get(str(alert.get("severity")), "•")
        lines.append(
            f"{icon} {alert.get('type')} [{alert.get('severity')}] {who} → {alert.get('recommendation')} "
            f"({alert.get('timestamp')}){': ' + detail if detail else ''}"
        )
    return redact("\n".join(lines))


def webhook_body(
    receiver: str, alerts: Sequence[Mapping[str, Any]], fmt: str = "json", now: float | None = None
) -> str:
    """The exact JSON text a webhook receiver gets (signed as is). ``slack`` puts the text in ``text``
    (Slack, Mattermost and Rocket.Chat incoming webhooks) and keeps the alerts alongside."""
    ids = [str(a["alert_id"]) for a in alerts]
    body: dict[str, Any] = {
        "idempotency_key": message_key(receiver, ids),
        "receiver": receiver,
        "sent_at": round(time.time() if now is None else now, 3),
        "alert_ids": ids,
        "alerts": [dict(a) for a in alerts],
    }
    if fmt == "slack":
        body = {"text": plain_text(alerts), **body}
    return redact(json.dumps(body, ensure_ascii=False, sort_keys=False, default=str))


def render(
    kind: str, receiver: str, alerts: Sequence[Mapping[str, Any]], fmt: str = "json"
) -> tuple[list[str], str]:
    """The outbox texts and their parse mode for one bundle sent to one kind of receiver."""
    if kind == "telegram":
        return format_digest(list(alerts)), "HTML"
    if kind == "webhook":
        return [webhook_body(receiver, alerts, fmt)], "json"
    return [plain_text(alerts)], "text"
