"""`agent-pipelines analyze` and `summary` print the numbers the assets hold, and fail clearly.

The assets are materialized with ``dg.materialize`` on generated logs; the commands run as real
subprocesses (the installed entry point) on the same log folder, which no command has seen before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from conftest import DEMO_START, cli_env
from test_report import materialize_all

from agent_pipelines.cli import main as cli_main
from agent_pipelines.orchestration.io_manager import tables_dir

CLI = str(Path(sys.executable).parent / "agent-pipelines")


@pytest.fixture(scope="module")
def tables(small_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    data = tmp_path_factory.mktemp("cli-data")
    with dg.instance_for_test() as instance:
        materialize_all(small_logs, data, instance)
    names = ("session_metrics", "error_occurrences", "error_clusters", "backlog_tasks", "executor_comparison",
             "model_comparison", "task_planning_insights", "error_correlation")  # fmt: skip
    return {name: pl.read_parquet(tables_dir(data) / name / "asset.parquet") for name in names}


def run(logs: Path, *args: str) -> Any:
    done = subprocess.run(
        [CLI, *args, "--logs-dir", str(logs), "--json"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_summary_matches_the_assets(small_logs: Path, tables: dict[str, pl.DataFrame]) -> None:
    out = run(small_logs, "summary", "--last-n-days", "30", "--now", "latest")
    sessions, clusters = tables["session_metrics"], tables["error_clusters"]
    closed = sessions.filter(~pl.col("is_open"))
    assert out["total_sessions"] == sessions.height > 100
    assert out["open_sessions"] == sessions.height - closed.height
    assert out["success_rate"] == pytest.approx(closed["succeeded"].mean())
    assert 0 <= out["success_rate"] <= 1
    assert out["avg_duration_s"] == pytest.approx(closed["duration_ms"].mean() / 1000)
    assert out["total_cost_usd"] == pytest.approx(sessions["cost_usd"].sum())
    assert out["total_errors"] == tables["error_occurrences"].height
    comparison = tables["executor_comparison"]
    assert out["by_executor"] == {
        r["executor"]: {"sessions": r["sessions"], "success_rate": pytest.approx(r["success_pct"] / 100)}
        for r in comparison.iter_rows(named=True)
    }
    top = clusters.head(5)
    assert out["top_errors"] == [
        {"fingerprint": r["cluster_label"], "count": r["occurrences"], "cluster_id": r["cluster_id"],
         "category": r["category"]}
        for r in top.iter_rows(named=True)
    ]  # fmt: skip


def test_last_n_days_counts_sessions_started_in_the_window(
    small_logs: Path, tables: dict[str, pl.DataFrame]
) -> None:
    out = run(small_logs, "summary", "--last-n-days", "1", "--now", "latest")
    sessions = tables["session_metrics"]
    latest = sessions["last_event_at"].max()
    expected = sessions.filter(pl.col("started_at") > latest - timedelta(days=1))
    assert 0 < out["total_sessions"] == expected.height < sessions.height


def test_analyze_matches_the_assets(small_logs: Path, tables: dict[str, pl.DataFrame]) -> None:
    clusters = run(small_logs, "analyze", "--error-clustering", "--top", "1000")
    expected = tables["error_clusters"]
    assert (
        clusters["clusters"] == expected.height and clusters["total_errors"] == expected["occurrences"].sum()
    )
    assert [(c["cluster_id"], c["occurrences"], c["tasks"], c["attempts"]) for c in clusters["top"]] == list(
        expected.select("cluster_id", "occurrences", "tasks", "attempts").iter_rows()
    )
    assert clusters["top"][0]["trend"]  # the daily trend is in the JSON too
    # Issue 25: from a cluster to the sessions behind it (the latest attempts that hit it).
    occurrences = tables["error_occurrences"]
    for c in clusters["top"][:20]:
        hit = set(occurrences.filter(pl.col("cluster_id") == c["cluster_id"])["attempt_id"])
        assert 0 < len(c["example_attempts"]) <= 3 and set(c["example_attempts"]) <= hit

    backlog = run(small_logs, "analyze", "--backlog-tasks", "100000")
    expected = tables["backlog_tasks"]
    assert backlog["total"] == expected.height > 0
    assert [(t["task_id"], t["attempts"], t["reason"]) for t in backlog["tasks"]] == list(
        expected.select("task_id", "attempts", "reason").iter_rows()
    )

    comparison = run(small_logs, "analyze", "--executor-comparison")
    assert comparison["window"].startswith("all days to ") and comparison["by"] == "executor"
    assert (
        pl.DataFrame(comparison["executors"])
        .select(tables["executor_comparison"].columns)
        .equals(tables["executor_comparison"])
    )
    by_model = run(small_logs, "analyze", "--executor-comparison", "--by", "model")
    assert [r["model"] for r in by_model["models"]] == tables["model_comparison"]["model"].to_list()
    two = run(small_logs, "analyze", "--executor-comparison", "codex", "COPILOT")
    assert sorted(r["executor"] for r in two["executors"]) == ["CODEX", "COPILOT"]

    planning = run(small_logs, "analyze", "--task-planning", "--top", "100000")
    expected = tables["task_planning_insights"]
    assert planning["tasks"] == expected["task_id"].n_unique() > 0
    assert [(i["task_id"], i["rule"]) for i in planning["insights"]] == list(
        expected.select("task_id", "rule").iter_rows()
    )
    failed = run(small_logs, "analyze", "--task-planning", "--failed-only", "--top", "100000")
    assert {i["task_id"] for i in failed["insights"]} == set(
        expected.filter(~pl.col("succeeded"))["task_id"].to_list()
    )

    correlation = run(small_logs, "analyze", "--correlation", "--top", "100000")
    expected = tables["error_correlation"]
    assert correlation["window"] == comparison["window"] and correlation["total"] == expected.height
    assert [
        (r["cluster_id"], r["dimension"], r["value"], r["support"]) for r in correlation["correlations"]
    ] == list(expected.select("cluster_id", "dimension", "value", "support").iter_rows())


def test_weekly_report_command(small_logs: Path, tables: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    out = run(small_logs, "analyze", "--weekly-report", "--week", str(DEMO_START + timedelta(days=3)),
              "--data-dir", str(tmp_path))  # fmt: skip
    assert out["week_start"] == DEMO_START.isoformat()
    in_week = tables["session_metrics"].filter(pl.col("day") < DEMO_START + timedelta(days=7))
    assert out["totals"]["sessions"] == in_week.height
    assert Path(out["html"]) == tmp_path / "reports" / f"weekly-report-{DEMO_START}.html"
    assert Path(out["html"]).read_text().count("<svg") == 3
    assert {m["metric"] for m in out["success_metrics"]} >= {"success_rate", "cost_per_task"}


# --------------------------------------------------------------------------------------------
# Terminal output and errors (in process: fast)
# --------------------------------------------------------------------------------------------


def test_terminal_output_uses_the_seed_layout(small_logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["summary", "--logs-dir", str(small_logs), "--now", "latest"]) == 0
    text = capsys.readouterr().out
    for line in ("=== Agent Work Summary (Last 7 Days) ===", "Overall Metrics:", "  Total Sessions: ",
                 "  Success Rate: ", "By Executor:", "Top Errors:", " occurrences"):  # fmt: skip
        assert line in text
    assert cli_main(["analyze", "--executor-comparison", "--logs-dir", str(small_logs)]) == 0
    table = capsys.readouterr().out
    window, _, table = table.partition("\n")
    assert window.startswith("Window: all days to ")
    assert window.endswith(" UTC (sessions by start time, errors by their own time)")
    assert table.startswith("┌") and "│ Executor" in table and "│ CODEX" in table
    assert cli_main(["analyze", "--error-clustering", "--top", "2", "--logs-dir", str(small_logs)]) == 0
    clusters = capsys.readouterr().out
    assert clusters.startswith("=== Error Clustering Analysis ===\nWindow: all days to ")
    assert clusters.count("  Sample: ") == 2
    assert (
        cli_main(["analyze", "--task-planning", "--failed-only", "--top", "1", "--logs-dir", str(small_logs)])
        == 0
    )
    assert "💡 Planning Improvements:" in capsys.readouterr().out


def test_an_empty_window_says_how_to_replay_old_logs(
    small_logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The generated logs are in March 2026; with the default --now (the wall clock) a 1-day window
    # far from them is empty: the command still answers, and says why on stderr.
    assert (
        cli_main(["summary", "--logs-dir", str(small_logs), "--now", "2030-01-01", "--last-n-days", "1"]) == 0
    )
    captured = capsys.readouterr()
    assert "Total Sessions: 0" in captured.out and "--now latest" in captured.err


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("agent-pipelines: ")
    return err


def test_missing_empty_and_garbage_folders_fail_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    for argv in (["summary"], ["analyze", "--error-clustering"], ["analyze", "--backlog-tasks", "5"]):
        assert cli_main([*argv, "--logs-dir", str(missing)]) == 2
        assert "does not exist" in _error_line(capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["analyze", "--weekly-report", "--logs-dir", str(empty)]) == 2
    assert "no agent work logs" in _error_line(capsys)
    garbage = tmp_path / "garbage"
    (garbage / "stream").mkdir(parents=True)
    (garbage / "stream" / "2026-03-02.jsonl").write_text('not json\n{"also": "bad"}\n')
    assert cli_main(["summary", "--logs-dir", str(garbage)]) == 2
    err = _error_line(capsys)
    assert "no valid events" in err and "2 lines quarantined" in err
    assert cli_main(["summary", "--logs-dir", str(garbage), "--now", "yesterday"]) == 2
    assert "--now" in _error_line(capsys)


def test_without_a_log_folder_the_cli_uses_the_uis_demo_logs(
    small_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Right after `scripts/start.sh` on a machine without logs, the UI shows <data>/demo-logs; the
    CLI answers from the same folder and says so (it used to exit 2: no .cache/agent-work-logs)."""
    import shutil

    from agent_pipelines.core import paths

    data = tmp_path / "data"
    shutil.copytree(small_logs, data / "demo-logs")
    monkeypatch.setenv("AGENT_PIPELINES_DATA_DIR", str(data))
    monkeypatch.setattr(paths, "DEFAULT_LOGS_DIR", tmp_path / "no-logs-here")
    assert cli_main(["summary", "--last-n-days", "7", "--now", "latest"]) == 0
    out, err = capsys.readouterr()
    assert "using the demo logs in" in err and str(data / "demo-logs") in err
    assert "Total Sessions:" in out and "Window: last 7 days to " in out
