"""``agent-pipelines detect --once [--now]``: the detector job in-process, for cron and replays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_pipelines.cli import main
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.live.alerts import read_alerts

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def write(logs: Path) -> None:
    moments = iter([T0 + timedelta(seconds=i) for i in range(20)])
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: next(moments))
    log.start_session("ve-cli", executor="COPILOT", task_id="task-cli")
    for _ in range(4):
        log.error("ve-cli", "TS2345: Argument of type 'string' is not assignable", "ts_type_error")


def test_detect_once_replay_then_nothing_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs, data = tmp_path / "logs", tmp_path / "data"
    write(logs)
    args = ["detect", "--once", "--logs-dir", str(logs), "--data-dir", str(data), "--json"]
    assert main([*args, "--now", "2026-01-05T10:01:00Z"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["alerts_written"] == 1 and first["by_type"] == {"error_loop": 1}
    assert first["telegram_configured"] is False
    # Ten minutes later (replay clock): the session is silent → stuck; the loop is not repeated.
    assert main([*args, "--now", "2026-01-05T10:10:00Z"]) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["by_type"] == {"stuck_agent": 1}
    assert [a["type"] for a in read_alerts(logs)] == ["error_loop", "stuck_agent"]
    assert (data / "state" / "detector-state.json").exists()


def test_detect_requires_once_and_a_valid_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = tmp_path / "logs"
    write(logs)
    assert main(["detect", "--once", "--logs-dir", str(logs), "--now", "yesterday"]) == 2
    assert "ISO 8601" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["detect", "--logs-dir", str(logs)])
    assert main(["detect", "--once", "--logs-dir", str(tmp_path / "missing")]) == 2
