"""One log folder, said everywhere; import state per source file *and* destination."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import transcript_fixtures as fx

from agent_pipelines.cli import main
from agent_pipelines.core import paths
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers import SOURCES, run_import
from agent_pipelines.ingest.importers.state import state_path
from agent_pipelines.orchestration.log_store import LogStore
from sensors.transcript_import import transcript_import_sensor

NOW = datetime(2026, 3, 4, tzinfo=UTC)


def events_in(logs: Path) -> list[dict]:
    out = []
    for path in sorted((logs / paths.STREAM_DIR).glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def shape(logs: Path) -> Counter[tuple[str, str]]:
    return Counter((e["attempt_id"], e["event_type"]) for e in events_in(logs))


def test_a_second_log_folder_gets_every_session_whole(tmp_path: Path) -> None:
    root = fx.write_codex_home(tmp_path / "codex")
    data = tmp_path / "data"
    first = run_import(SOURCES["codex"], [root], logs_dir=tmp_path / "a", data_dir=data, now=NOW)
    second = run_import(SOURCES["codex"], [root], logs_dir=tmp_path / "b", data_dir=data, now=NOW)
    assert first.total_events > 0 and second.total_events == first.total_events
    assert shape(tmp_path / "b") == shape(tmp_path / "a")
    assert shape(tmp_path / "b")[(fx.CODEX_1, "session_start")] == 1
    # ... and each folder still knows what it has: again into either adds nothing.
    for folder in ("a", "b"):
        again = run_import(SOURCES["codex"], [root], logs_dir=tmp_path / folder, data_dir=data, now=NOW)
        assert again.total_events == 0 and again.tokens == 0


def test_the_state_of_older_versions_is_taken_over_not_forgotten(tmp_path: Path) -> None:
    root = fx.write_claude_projects(tmp_path / "claude")
    logs, data = tmp_path / "logs", tmp_path / "data"
    run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=NOW)
    current = state_path(data, "claude-code", logs)
    current.replace(state_path(data, "claude-code"))  # as an older version left it
    again = run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=NOW)
    assert again.total_events == 0 and current.exists() and not state_path(data, "claude-code").exists()


@pytest.fixture
def demo_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What the UI sees on a first start: no logs in the default folder, demo logs in the data folder."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    monkeypatch.setenv("AGENT_PIPELINES_DATA_DIR", str(data))
    fx.write_jsonl(data / "demo-logs" / "stream" / "2026-03-01.jsonl", [{"x": 1}])
    return data


def test_import_refuses_to_write_where_the_ui_is_not_looking(
    demo_only: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fx.write_codex_home(tmp_path / "codex")
    assert main(["import", "codex", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"--logs-dir {demo_only / 'demo-logs'}" in err and "--logs-dir" in err
    assert not (tmp_path / paths.DEFAULT_LOGS_DIR).exists()
    # Choosing either folder works, and says where it went.
    assert main(["import", "codex", str(root), "--logs-dir", str(demo_only / "demo-logs"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["logs_dir"] == str(demo_only / "demo-logs") and report["events"] > 0


def test_the_sensor_says_where_it_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    for name in ("GEMINI_CLI_HOME", "COPILOT_HOME", "OPENCODE_DATA_DIR", "MSWEA_GLOBAL_CONFIG_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.chdir(tmp_path)
    fx.write_codex_home(tmp_path / "codex")
    logs = tmp_path / "logs"
    with dg.instance_for_test() as instance:
        # bound as the code location binds it: from the settings of the (test's) environment
        store = LogStore.from_settings(Settings.load(), str(logs), str(tmp_path / "data"))
        ctx = dg.build_sensor_context(instance=instance, resources={"log_store": store})
        message = transcript_import_sensor(Settings.load()).evaluate_tick(ctx).skip_message or ""
    assert message.startswith(f"into {logs}: ") and "codex: 16 event(s) from 2 session(s)" in message


def test_status_reads_the_folder_the_ui_shows(demo_only: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    captured = capsys.readouterr()
    assert f"Log folder: {demo_only / 'demo-logs'}" in captured.out and "as the UI shows" in captured.err


def test_a_copied_claude_code_tree_adds_nothing(tmp_path: Path) -> None:
    import shutil

    root = fx.write_claude_projects(tmp_path / "claude")
    logs, data = tmp_path / "logs", tmp_path / "data"
    first = run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=NOW)
    shutil.copytree(root, tmp_path / "backup" / "projects")
    again = run_import(
        SOURCES["claude-code"], [root, tmp_path / "backup"], logs_dir=logs, data_dir=data, now=NOW
    )
    assert first.tokens > 0 and again.files_read == 3 and again.tokens == 0 and again.total_events == 0
