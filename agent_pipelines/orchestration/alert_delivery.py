"""What the detector run shows of routing, delivery and actions (issue 26), and the ``alert_actions``
table it keeps fresh.

Per alert of a run: silenced by which silence, delivered to which receivers (or waiting for them) and
its action's state, as columns of the run's alerts table; per receiver: sent / failed / pending.
"""

# No ``from __future__ import annotations``: Dagster reads some signatures at run time.

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from agent_pipelines.core.settings import Settings
from agent_pipelines.live.alert_status import actions_table, fates
from agent_pipelines.live.routing.config import AlertsConfig, AlertsConfigError, load_config
from agent_pipelines.orchestration.io_manager import table_path, tables_dir, write_parquet
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.ui_metadata import describe_columns, table_metadata

ALERT_ACTIONS_ASSET = dg.AssetKey("alert_actions")


def routing_config(settings: Settings) -> tuple[AlertsConfig | None, str, str | None]:
    """(config or None, its path, a one-line error when the file is broken)."""
    path = settings.alerts_config_path
    try:
        return load_config(path), str(path), None
    except AlertsConfigError as exc:
        return None, str(path), str(exc)


def fates_for(data_path: Path, table: pl.DataFrame, settings: Settings) -> pl.DataFrame | None:
    """The delivery and action of each alert of ``table`` (None when it has none)."""
    if table.is_empty() or "alert_id" not in table.columns:
        return None
    config, _, error = routing_config(settings)
    return fates(data_path, [str(a) for a in table["alert_id"].to_list()], None if error else config)


def delivery_metadata(
    result: Any, run_fates: pl.DataFrame | None, data_path: Path | None = None
) -> dict[str, Any]:
    """Counts of this run's silenced alerts, per-receiver delivery numbers, launched actions, and
    the live silences (so the run page shows what is being held back, and until when)."""
    out: dict[str, Any] = {"alerts_silenced": len(result.silenced or {})}
    if data_path is not None:
        from agent_pipelines.live import state as detector_state
        from agent_pipelines.live.routing.silences import SilenceStore

        live = SilenceStore(detector_state.state_dir(data_path)).active()
        if live:
            out["silences"] = table_metadata(
                pl.DataFrame(
                    {
                        "id": [s.id for s in live],
                        "matchers": [" ".join(f"{k}={v}" for k, v in s.matchers.items()) for s in live],
                        "until": [
                            datetime.fromtimestamp(s.expires_at, UTC).isoformat(timespec="seconds")
                            for s in live
                        ],
                        "comment": [s.comment for s in live],
                    }
                ),
                limit=50,
            )
    routed = result.routed
    if routed is not None:
        out["receivers"] = dg.MetadataValue.json(routed.deliveries or {})
        out["actions_launched"] = len(routed.actions_launched)
        out["routed_to"] = dg.MetadataValue.json(routed.route.routed)
    if run_fates is not None and not run_fates.is_empty():
        out["deliveries"] = table_metadata(run_fates, limit=100)
    return out


def alert_actions_metadata(table: pl.DataFrame) -> dict[str, Any]:
    counts = table.group_by("status").len().sort("status") if table.height else None
    return {
        "actions": table.height,
        "by_status": ", ".join(f"{s}: {n}" for s, n in counts.iter_rows()) if counts is not None else "none",
        "actions_table": table_metadata(
            table.select(
                "alert_id",
                "recommendation",
                "kind",
                "status",
                "attempts",
                "exit_status",
                "http_status",
                "error",
            ).tail(100),
            limit=100,
        ),
    }


def materialize_alert_actions(context: dg.OpExecutionContext, log_store: LogStore) -> int:
    """Rewrite the ``alert_actions`` table from the ledger and record a materialization of it."""
    table = actions_table(log_store.data_path)
    target = table_path(tables_dir(log_store.data_path), ALERT_ACTIONS_ASSET, None)
    rows = write_parquet(table, target)
    context.log_event(
        dg.AssetMaterialization(
            asset_key=ALERT_ACTIONS_ASSET,
            metadata={
                **alert_actions_metadata(table),
                "dagster/row_count": rows,
                "dagster/column_schema": describe_columns(table.schema),
                "path": dg.MetadataValue.path(str(target)),
            },
        )
    )
    return rows


def routing_work_due(data_path: Path, now_s: float, settings: Settings) -> str | None:
    """Routed work alone worth a detector run (a bundle whose group_wait passed, a message waiting
    for a receiver, an action due), as a token stable while it stays undone; None when there is
    none. A missing or broken ``alerts.yaml`` is None (a broken one fails the next run with alerts)."""
    from agent_pipelines.live import state as detector_state
    from agent_pipelines.live.dispatch import routing_due
    from agent_pipelines.live.routing.router import Router

    config, _, error = routing_config(settings)
    if config is None or error:
        return None
    state = detector_state.state_dir(data_path)
    return routing_due(Router(config, state, detector_state.outbox_dir(data_path)), now_s)
