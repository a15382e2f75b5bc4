"""What became of each alert: silenced, delivered to which receivers, waiting, and its action.

Read from the durable records the delivery path keeps (``silenced.jsonl``, each receiver's outbox
journal and queue, the action ledger), so ``agent-pipelines alerts list``, the alerts asset and the
``alert_actions`` table all tell the same story without a database of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines.live import state as detector_state
from agent_pipelines.live.actions.ledger import ActionLedger
from agent_pipelines.live.notifiers.outbox import Outbox
from agent_pipelines.live.routing.config import AlertsConfig
from agent_pipelines.live.routing.router import Router
from agent_pipelines.live.routing.silences import SilenceStore

STATUS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "alert_id": pl.String,
    "silenced_by": pl.String,
    "delivered_to": pl.String,
    "waiting_for": pl.String,
    "action": pl.String,
}
ACTIONS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "alert_id": pl.String,
    "recommendation": pl.String,
    "kind": pl.String,
    "target": pl.String,
    "status": pl.String,
    "attempts": pl.Int64,
    "exit_status": pl.Int64,
    "http_status": pl.Int64,
    "error": pl.String,
    "output": pl.String,
    "planned_at": pl.Datetime("ms", "UTC"),
    "finished_at": pl.Datetime("ms", "UTC"),
}


def _join(names: Sequence[str]) -> str | None:
    return ", ".join(sorted(names)) or None


def alert_status(
    data_dir: str | os.PathLike[str], alerts: Sequence[Mapping[str, Any]], config: AlertsConfig | None
) -> pl.DataFrame:
    """One row per alert id given: silenced_by, delivered_to, waiting_for (queued, not yet sent), action."""
    state = detector_state.state_dir(data_dir)
    silenced = SilenceStore(state).silenced_ids()
    delivered: dict[str, list[str]] = {}
    waiting: dict[str, list[str]] = {}
    telegram = Outbox(detector_state.outbox_dir(data_dir))
    if config is not None:
        router = Router(config, state, Path(telegram.path))
        delivered = router.delivered()
        for name, queue in router.queues.items():
            queued = {p.stem for p in queue.waiting.glob("*.json")}
            for message in queue.outbox.pending():
                queued.update(message.alert_ids)
            for alert_id in queued:
                waiting.setdefault(alert_id, []).append(name)
    else:
        for alert_id in _journal_ids(telegram):
            delivered.setdefault(alert_id, []).append("telegram")
        for message in telegram.pending():
            for alert_id in message.alert_ids:
                waiting.setdefault(alert_id, []).append("telegram")
    ledger = ActionLedger(state)
    rows = []
    for alert in alerts:
        alert_id = str(alert.get("alert_id"))
        record = ledger.get(alert_id)
        rows.append(
            {
                "alert_id": alert_id,
                "silenced_by": silenced.get(alert_id),
                "delivered_to": _join(delivered.get(alert_id, [])),
                "waiting_for": _join(waiting.get(alert_id, [])),
                "action": record.status if record else None,
            }
        )
    return pl.DataFrame(rows, schema=STATUS_SCHEMA)


def _journal_ids(outbox: Outbox) -> set[str]:
    return (
        outbox.known_alert_ids()
        - {i for m in outbox.pending() for i in m.alert_ids}
        - {i for m in outbox.dead() for i in m.alert_ids}
    )


def _moment(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(float(seconds), tz=UTC) if seconds else None


def actions_table(data_dir: str | os.PathLike[str]) -> pl.DataFrame:
    """Every action of the ledger with its last attempt: the ``alert_actions`` table."""
    rows = []
    for record in ActionLedger(detector_state.state_dir(data_dir)).all():
        last = record.last
        finished = last.get("finished_at")
        rows.append(
            {
                "alert_id": record.alert_id,
                "recommendation": record.recommendation,
                "kind": record.kind,
                "target": record.target,
                "status": record.status,
                "attempts": record.attempts,
                "exit_status": last.get("exit_status"),
                "http_status": last.get("http_status"),
                "error": last.get("error"),
                "output": last.get("output"),
                "planned_at": _moment(record.planned_at),
                "finished_at": _moment(finished),
            }
        )
    return pl.DataFrame(rows, schema=ACTIONS_SCHEMA)


def fates(
    data_dir: str | os.PathLike[str], alert_ids: Sequence[str], config: AlertsConfig | None
) -> pl.DataFrame:
    """alert_id, ``delivery`` in words (silenced / delivered to / waiting for / not sent) and ``action``:
    the columns the alerts view adds to its table."""
    status = alert_status(data_dir, [{"alert_id": a} for a in alert_ids], config)
    return status.select(
        "alert_id",
        pl.when(pl.col("silenced_by").is_not_null())
        .then(pl.lit("silenced (") + pl.col("silenced_by") + pl.lit(")"))
        .when(pl.col("delivered_to").is_not_null())
        .then(pl.lit("delivered to ") + pl.col("delivered_to"))
        .when(pl.col("waiting_for").is_not_null())
        .then(pl.lit("waiting for ") + pl.col("waiting_for"))
        .otherwise(pl.lit("not sent"))
        .alias("delivery"),
        "action",
    )
