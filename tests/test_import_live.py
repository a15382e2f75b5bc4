"""The transcript import sensor, live: through Dagster's real sensor context, instance and job."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import transcript_fixtures as fx

from agent_pipelines.core.settings import Settings
from agent_pipelines.live.alerts import read_alerts
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.resources import TelegramResource, detector_resources
from sensors import live_alerts
from sensors.transcript_import import transcript_import_sensor

SID = "5a5e55a0-0000-4000-8000-00000000100f"


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """Every source's home of our own (never the developer's), a log and a data folder."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    for name in ("GEMINI_CLI_HOME", "COPILOT_HOME", "OPENCODE_DATA_DIR", "MSWEA_GLOBAL_CONFIG_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.chdir(tmp_path)  # SWE-agent's ./trajectories
    logs, data = tmp_path / "logs", tmp_path / "data"
    logs.mkdir()
    return tmp_path / "claude" / "projects" / "-home-dev-shop" / f"{SID}.jsonl", logs, data


def store(logs: Path, data: Path) -> LogStore:
    """The resource as the code location binds it: from the settings of the (test's) environment."""
    return LogStore.from_settings(Settings.load(), str(logs), str(data))


def import_tick(instance: dg.DagsterInstance, logs: Path, data: Path) -> str:
    ctx = dg.build_sensor_context(instance=instance, resources={"log_store": store(logs, data)})
    result = transcript_import_sensor(Settings.load()).evaluate_tick(ctx)
    assert not result.run_requests
    return result.skip_message or ""


def append(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.writelines(json.dumps(r).encode() + b"\n" for r in records)


def test_a_claude_code_tool_loop_appended_live_raises_a_tool_loop_alert(
    homes: tuple[Path, Path, Path],
) -> None:
    transcript, logs, data = homes
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    ts = lambda s: (t0 + timedelta(seconds=s)).isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
    append(transcript, [fx.user("l-0", ts(0), "Make the flaky test pass", session=SID)])
    with dg.instance_for_test() as instance:
        assert "claude-code: 1 event(s) from 1 session(s), 1 open" in import_tick(instance, logs, data)
        # The agent now loops: the same command, again and again, within a minute.
        loop = []
        for i in range(12):
            tool = f"toolu_loop_{i}"
            loop.append(
                fx.assistant(
                    f"l-a{i}",
                    ts(2 + 4 * i),
                    f"msg_l{i}",
                    f"req_l{i}",
                    [fx.tool_use(tool, "Bash", command="npm test -- flaky")],
                    fx._u(5, 20),
                    session=SID,
                )
            )
            loop.append(
                fx.user(
                    f"l-u{i}",
                    ts(3 + 4 * i),
                    fx.tool_result(tool, "Exit code 1\nflaky failed", True),
                    session=SID,
                )
            )
        append(transcript, loop)
        message = import_tick(instance, logs, data)
        assert "claude-code: 36 event(s)" in message  # 12 calls, 12 results, 12 errors
        # The live-alerts sensor sees the new lines and requests one detector run; run it.
        ctx = dg.build_sensor_context(instance=instance, resources={"log_store": store(logs, data)})
        tick = live_alerts.live_alerts_sensor(Settings.load()).evaluate_tick(ctx)
        assert len(tick.run_requests) == 1
        result = live_alerts.live_detector_job.execute_in_process(
            run_config=tick.run_requests[0].run_config,
            resources=detector_resources(store(logs, data), TelegramResource()),
            instance=instance,
        )
        assert result.success
    alerts = read_alerts(logs)
    loops = [a for a in alerts if a["type"] == "tool_loop"]
    assert len(loops) == 1 and loops[0]["attempt_id"] == SID
    assert loops[0]["tool_name"] == "Bash" and loops[0]["executor"] == "CLAUDE_CODE"
    assert any(a["type"] == "error_loop" and a["attempt_id"] == SID for a in alerts)


def test_each_source_has_its_own_switch(
    homes: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    transcript, logs, data = homes
    fx.write_jsonl(transcript, fx.session_c())
    fx.write_codex_home(Path(str(transcript).split("/claude/")[0]) / "codex")
    monkeypatch.setenv("AGENT_IMPORT_CLAUDE_CODE", "false")
    with dg.instance_for_test() as instance:
        message = import_tick(instance, logs, data)
        assert "claude-code: off (AGENT_IMPORT_CLAUDE_CODE=false)" in message
        assert "codex: 16 event(s) from 2 session(s)" in message
        monkeypatch.setenv("AGENT_IMPORT_CLAUDE_CODE", "1")
        monkeypatch.setenv("AGENT_IMPORT_CODEX", "off")
        message = import_tick(instance, logs, data)
        assert "codex: off" in message and "claude-code: 5 event(s) from 1 session(s)" in message
    assert read_alerts(logs) == []


def test_no_folders_no_work(homes: tuple[Path, Path, Path]) -> None:
    _transcript, logs, data = homes
    with dg.instance_for_test() as instance:
        message = import_tick(instance, logs, data)
    assert "claude-code: no transcripts folder" in message and "codex: no transcripts folder" in message
    assert not any(logs.iterdir())
