"""``agent-pipelines rotate`` and ``agent-pipelines status``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_rotation import TODAY, at, build_logs, event_line, snapshot

from agent_pipelines.cli import main
from agent_pipelines.cli.status_cmd import folder_status, next_rotation
from agent_pipelines.core import paths
from agent_pipelines.core.writer import append_bytes
from agent_pipelines.ops import rotation


@pytest.fixture
def logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv(rotation.GRACE_ENV, "0")
    root, data = tmp_path / "logs", tmp_path / "data"
    build_logs(root)
    return root, data


def _args(root: Path, data: Path, *extra: str) -> list[str]:
    return ["rotate", "--logs-dir", str(root), "--data-dir", str(data), "--today", str(TODAY), *extra]


def test_dry_run_prints_the_plan_and_changes_nothing(
    logs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, data = logs
    state = snapshot(root, data)
    assert main(_args(root, data, "--dry-run", "--stream-days", "2")) == 0
    out = capsys.readouterr().out
    assert "nothing will be changed" in out
    yesterday = TODAY - timedelta(days=1)
    assert f"stage stream/{yesterday}.jsonl" in out
    assert f"write archive/stream/{yesterday}.jsonl.gz:" in out
    assert f"delete archive/stream/{TODAY - timedelta(days=3)}.jsonl.gz" in out
    assert "quarantine 1 lines: malformed_json" in out
    assert snapshot(root, data) == state

    assert main(_args(root, data, "--dry-run", "--json")) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["dry_run"] is True
    assert plan["outcome"]["lines_quarantined"] == 3
    assert snapshot(root, data) == state


def test_rotate_reports_what_it_did(logs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, data = logs
    assert main(_args(root, data, "--json", "--sessions-keep", "forever")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is False
    assert report["lines_quarantined"] == 3
    assert report["lines_archived"] > 0
    assert report["compression_ratio"] > 1
    assert report["deleted_files"] == 0
    assert report["after"]["archive/stream"]["files"] == 5
    assert main(_args(root, data)) == 0  # a second run has nothing left to do
    assert "archived 0 lines from 0 files" in capsys.readouterr().out


def test_busy_and_bad_settings_exit_cleanly(
    logs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, data = logs
    with rotation.rotation_lock(root):
        assert main(_args(root, data)) == 3
    assert "another rotation is running" in capsys.readouterr().err
    assert main(_args(root, data, "--errors-days", "-4")) == 2
    assert "errors_days must not be negative" in capsys.readouterr().err
    assert main(["rotate", "--logs-dir", str(root / "nope")]) == 2


def test_status_shows_sizes_days_quarantine_and_next_rotation(
    logs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, data = logs
    assert main(_args(root, data)) == 0
    capsys.readouterr()
    append_bytes(paths.stream_partition_path(root, TODAY), event_line(at(TODAY, 23), "late"))
    assert main(["status", "--logs-dir", str(root), "--data-dir", str(data), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    # the original logger's single file reached back 5 days
    assert status["oldest_day"] == str(TODAY - timedelta(days=5))
    assert status["newest_day"] == str(TODAY)
    assert status["quarantined"] == 3
    assert status["sizes"]["archive/stream"]["files"] == 5
    assert status["sizes"]["stream/partitions"]["files"] == 1
    assert status["interrupted_rotation"] == []
    nxt = datetime.fromisoformat(status["next_rotation"])
    assert nxt.weekday() == 6 and (nxt.hour, nxt.minute) == (3, 0) and nxt.utcoffset() == timedelta(0)
    assert main(["status", "--logs-dir", str(root), "--data-dir", str(data)]) == 0
    text = capsys.readouterr().out
    assert "archive/stream" in text and "Quarantine" in text and "Next scheduled rotation" in text


def test_next_rotation_is_the_next_sunday_3am_utc() -> None:
    wednesday = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert next_rotation(wednesday) == datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    sunday_before = datetime(2026, 3, 8, 2, 59, tzinfo=UTC)
    assert next_rotation(sunday_before) == datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    sunday_at = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    assert next_rotation(sunday_at) == datetime(2026, 3, 15, 3, 0, tzinfo=UTC)


def test_status_counts_an_interrupted_rotation(tmp_path: Path) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    (root / "archive" / ".staging" / "20260301T030000Z-0000").mkdir(parents=True)
    status = folder_status(root, data)
    assert status["interrupted_rotation"] == ["20260301T030000Z-0000"]
    assert status["oldest_day"] is None
