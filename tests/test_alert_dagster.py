"""Routing and actions as the Dagster UI shows them (issue 26): the detector run's metadata per
alert (delivery, action), the ``alert_actions`` asset, and the alerts table's delivery column."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from hook_server import HookServer
from test_alert_actions import SECRET, action_script, wait_for, write_config, write_loop

from agent_pipelines.core.settings import Settings
from agent_pipelines.live.actions import ActionLedger
from agent_pipelines.orchestration.detector_job import live_detector_job
from agent_pipelines.orchestration.io_manager import table_path, tables_dir
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.resources import TelegramResource, analytics_resources, detector_resources
from assets.alerts import alert_actions


def store_for(tmp_path: Path) -> LogStore:
    """The folders, and the settings as an edge loads them (the test set AGENT_PIPELINES_ALERTS_CONFIG)."""
    variable = "AGENT_PIPELINES_ALERTS_CONFIG"
    settings = Settings.load({variable: os.environ[variable]} if variable in os.environ else {})
    return LogStore.from_settings(settings, str(tmp_path / "logs"), str(tmp_path / "data"))


def run_detector(tmp_path: Path) -> dict[str, Any]:
    store = store_for(tmp_path)
    result = live_detector_job.execute_in_process(
        run_config={"ops": {"read_new_events": {"config": {"reason": "test"}}}},
        resources=detector_resources(store, TelegramResource()),
    )
    assert result.success
    assert gc.get_freeze_count() == 0  # the ops froze the process's old objects only while they worked
    [output] = [e for e in result.events_for_node("publish_alerts") if e.is_successful_output]
    metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
    materialized = [
        m.asset_key.to_user_string() for m in result.asset_materializations_for_node("publish_alerts")
    ]
    return {"metadata": metadata, "materialized": materialized}


def rows(table: Any) -> list[dict[str, Any]]:
    return [dict(r.data) for r in table.records]


def test_run_metadata_shows_deliveries_and_actions_per_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HookServer(secret=SECRET) as hook:
        config = write_config(tmp_path, hook, action_script(tmp_path))
        monkeypatch.setenv("AGENT_PIPELINES_ALERTS_CONFIG", str(config))
        write_loop(tmp_path / "logs")
        run = run_detector(tmp_path)
        meta = run["metadata"]
        [delivery] = rows(meta["deliveries"])
        assert delivery["delivery"] == "delivered to orchestrator"
        assert delivery["action"] in ("running", "succeeded")  # the run waits at most 1 s to report it
        assert meta["receivers"]["orchestrator"]["sent"] == 1 and meta["actions_launched"] == 1
        [shown] = rows(meta["alerts_table"])
        assert shown["type"] == "error_loop" and shown["delivery"] == "delivered to orchestrator"
        assert "alert_actions" in run["materialized"] and "alerts" in run["materialized"]
        ledger = ActionLedger(tmp_path / "data" / "state")
        wait_for(lambda: [r.status for r in ledger.all()] == ["succeeded"])
        resources = analytics_resources(str(tmp_path / "logs"), str(tmp_path / "data"))
        assert dg.materialize([alert_actions], resources=resources).success
        table = pl.read_parquet(table_path(tables_dir(tmp_path / "data"), dg.AssetKey("alert_actions")))
        assert table["status"].to_list() == ["succeeded"] and table["exit_status"].to_list() == [0]
        assert table["recommendation"].to_list() == ["trigger_ai_autofix"]


def test_without_a_config_file_the_run_is_telegram_only_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_PIPELINES_ALERTS_CONFIG", str(tmp_path / "no-such.yaml"))
    write_loop(tmp_path / "logs")
    from agent_pipelines.live.routing import SilenceStore

    meta = run_detector(tmp_path)["metadata"]
    assert meta["telegram_configured"] is False and "receivers" not in meta and meta["alerts_silenced"] == 0
    assert [r["delivery"] for r in rows(meta["deliveries"])] == ["not sent"]
    # A silence holds Telegram-only alerts back too, and the run page lists it.
    silence = SilenceStore(tmp_path / "data" / "state").add({"type": "error_loop"}, 3600, "known")
    write_loop(tmp_path / "logs", attempt="ve-other")
    meta = run_detector(tmp_path)["metadata"]
    assert meta["alerts_silenced"] == 1 and [r["delivery"] for r in rows(meta["deliveries"])] == [
        f"silenced ({silence.id})"
    ]
    assert [r["id"] for r in rows(meta["silences"])] == [silence.id]
    assert not (tmp_path / "data" / "state" / "receivers").exists()


def test_a_broken_config_fails_the_run_in_one_line_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HookServer(secret=SECRET) as hook:
        config = write_config(tmp_path, hook, action_script(tmp_path))
        good = config.read_text()
        config.write_text("route: {receiver: nobody}")
        monkeypatch.setenv("AGENT_PIPELINES_ALERTS_CONFIG", str(config))
        write_loop(tmp_path / "logs")
        store = store_for(tmp_path)
        result = live_detector_job.execute_in_process(
            run_config={"ops": {"read_new_events": {"config": {"reason": "test"}}}},
            resources=detector_resources(store, TelegramResource()),
            raise_on_error=False,
        )
        assert not result.success
        assert gc.get_freeze_count() == 0  # the failed op gave the collector its old objects back too
        [failure] = [e for e in result.all_events if e.is_step_failure]
        message = failure.step_failure_data.user_failure_data.description
        assert "receiver 'nobody'" in message and message.strip().count("\n") == 0
        config.write_text(good)  # fixed: the next run routes what the broken one held back
        time.sleep(0.1)
        run_detector(tmp_path)
        assert len(hook.accepted) == 1


def test_the_sensor_starts_a_run_when_a_bundle_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """group_wait outlives the run that routed the alert: the sensor comes back for the bundle."""
    import json

    from sensors.live_alerts import evaluate

    with HookServer(secret=SECRET) as hook:
        config = write_config(tmp_path, hook, action_script(tmp_path))
        data = json.loads(config.read_text())
        data["route"]["group_wait"] = "30s"
        config.write_text(json.dumps(data))
        monkeypatch.setenv("AGENT_PIPELINES_ALERTS_CONFIG", str(config))
        write_loop(tmp_path / "logs")
        meta = run_detector(tmp_path)["metadata"]
        assert [r["delivery"] for r in rows(meta["deliveries"])] == ["waiting for orchestrator"]
        assert hook.accepted == []
        store = store_for(tmp_path)
        with dg.instance_for_test() as instance:
            ctx = dg.build_sensor_context(instance=instance, resources={"log_store": store})
            early = evaluate(ctx, store, now=time.time() + 5)
            assert not getattr(early, "run_requests", None)
            due = evaluate(ctx, store, now=time.time() + 31)
            [request] = getattr(due, "run_requests", None) or []
            assert request.tags["agent_pipelines/reason"] == "deliver_routed"


@pytest.mark.parametrize("with_phone", [True, False])
def test_a_telegram_receiver_and_a_backlog_from_before_the_file_are_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_phone: bool
) -> None:
    """Turning routing on neither strands Telegram messages queued before it nor sends them twice."""
    import json

    from fake_telegram import FakeTelegram
    from test_live_sensor import CHAT, telegram_for

    from agent_pipelines.live import state as detector_state
    from agent_pipelines.live.notifiers.outbox import Outbox

    with FakeTelegram(chat_ids={CHAT}) as fake, HookServer(secret=SECRET) as hook:
        Outbox(detector_state.outbox_dir(tmp_path / "data")).enqueue("old-key", "queued before alerts.yaml")
        config = write_config(tmp_path, hook, action_script(tmp_path))
        data = json.loads(config.read_text())
        if with_phone:
            data["receivers"].append({"name": "phone", "telegram": {}})
            data["route"] = {
                "routes": [{"receiver": "orchestrator", "continue": True}, {"receiver": "phone"}]
            }
        config.write_text(json.dumps(data))
        monkeypatch.setenv("AGENT_PIPELINES_ALERTS_CONFIG", str(config))
        write_loop(tmp_path / "logs")
        store = store_for(tmp_path)
        for _ in range(2):
            result = live_detector_job.execute_in_process(
                run_config={"ops": {"read_new_events": {"config": {"reason": "test"}}}},
                resources=detector_resources(store, telegram_for(fake)),
            )
            assert result.success
        texts = fake.texts()
        outbox = Outbox(detector_state.outbox_dir(tmp_path / "data"))
        assert outbox.pending() == [] and outbox.dead() == []
        assert texts[0] == "queued before alerts.yaml"
        assert len(texts) == (2 if with_phone else 1)
        assert "ERROR LOOP" in texts[-1].upper() or not with_phone
        assert len(hook.accepted) == 1
