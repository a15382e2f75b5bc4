"""Our files read by the original system's readers, and the original's files read by ours.

The original system's source is public (``virtengine/virtengine``, ``scripts/codex-monitor/``). Its
readers reach into our files by fixed field paths; they are written down below, from its source, so
a change of shape on our side fails here instead of silently reading as $0, 0 s and 0 errors there:

* ``analyze-agent-work.mjs`` (the Node analytics CLI) reads ``agent-metrics.jsonl`` with
  ``m.outcome?.status === "completed"``, ``m.metrics?.duration_ms || 0``, ``m.metrics?.cost_usd || 0``,
  ``m.metrics?.total_tokens || 0``, ``m.error_summary?.total_errors || 0``,
  ``m.error_summary?.error_fingerprints || []``, ``m.error_summary?.error_categories || []``,
  ``m.metrics?.first_shot_success === true`` (its "First-shot %"), ``m.executor``, ``m.task_id``,
  ``m.timestamp``; and ``agent-errors.jsonl`` with
  ``e.data?.error_fingerprint || "unknown"``, ``e.data?.error_message``, ``e.data?.error_category``,
  ``e.task_id``, ``e.attempt_id``, ``e.timestamp``.
* ``Show-AgentWorkSummary`` (the PowerShell logger) reads ``$_.outcome.status -eq 'completed'``,
  ``$_.metrics.duration_ms``, ``$_.metrics.cost_usd``, ``$_.metrics.errors``, ``executor``.
* ``agent-work-analyzer.mjs`` (the live analyzer) reads stream events by ``attempt_id``,
  ``event_type``, ``timestamp``, ``task_id``, ``executor``, ``data.error_fingerprint``,
  ``data.error_message``, ``data.tool_name``, ``data.prompt_type``, ``data.followup_reason``,
  ``data.completion_status``, ``data.duration_ms``, ``data.cost_usd``, and writes alerts
  ``{timestamp, type, attempt_id, task_id, executor, ...per type, recommendation, severity}``; the
  monitor acts on ``alert.type`` + ``alert.recommendation`` (``error_loop``/``trigger_ai_autofix``
  with ``alert.error_fingerprint``, ``tool_loop``/``fresh_session``).

Every command of that CLI is ported line for line in ``tests/original_cli.py``; the last section runs
each over our files and over records built from the generator's ground truth alone
(``tests/truth_records.py``), and asks for the same figures.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import original_cli
import polars as pl
import pytest
from original_cli import js_get, js_or0
from truth_records import assert_same, truth_records

from agent_pipelines.analytics.metrics import read_error_loop_alerts, session_metrics
from agent_pipelines.core import paths
from agent_pipelines.core.metrics_line import read_metrics_lines
from agent_pipelines.core.reader import dedupe, read_logs
from agent_pipelines.live.alerts import ALERT_FIELDS, ALERT_KINDS, COMMON_ALERT_FIELDS
from agent_pipelines.live.detectors import detect
from agent_pipelines.live.state import DetectorState

# ---------------------------------------------------------------------------------------------
# The original's field access paths (JavaScript optional chaining; `|| 0` where it wrote that)
# ---------------------------------------------------------------------------------------------

METRICS_PATHS_NODE = {
    "success": "outcome.status",  # === "completed"
    "duration_ms": "metrics.duration_ms",
    "cost_usd": "metrics.cost_usd",
    "total_tokens": "metrics.total_tokens",
    "total_errors": "error_summary.total_errors",
    "error_fingerprints": "error_summary.error_fingerprints",
    "error_categories": "error_summary.error_categories",
    "executor": "executor",
    "task_id": "task_id",
    "timestamp": "timestamp",
}
METRICS_PATHS_POWERSHELL = {
    "success": "outcome.status",
    "duration_ms": "metrics.duration_ms",
    "cost_usd": "metrics.cost_usd",
    "errors": "metrics.errors",
    "executor": "executor",
}
ERRORS_PATHS_NODE = {
    "fingerprint": "data.error_fingerprint",
    "message": "data.error_message",
    "category": "data.error_category",
    "task_id": "task_id",
    "attempt_id": "attempt_id",
    "timestamp": "timestamp",
}
STREAM_PATHS_ANALYZER = (
    "attempt_id", "event_type", "timestamp", "task_id", "executor", "data.error_fingerprint",
    "data.error_message", "data.tool_name", "data.prompt_type", "data.followup_reason",
    "data.completion_status", "data.duration_ms", "data.cost_usd",
)  # fmt: skip
# From agent-work-analyzer.mjs: the common fields of every alert, and each type's own.
ORIGINAL_ALERTS = {
    "error_loop": ({"error_fingerprint", "occurrences", "sample_message"}, "trigger_ai_autofix", "high"),
    "tool_loop": ({"tool_name", "occurrences", "window_ms"}, "fresh_session", "medium"),
    "excessive_restarts": ({"restart_count", "last_reason"}, "manual_review", "medium"),
    "cost_anomaly": ({"cost_usd", "duration_ms", "threshold_usd"}, "review_prompt_efficiency", "low"),
    "failed_session_high_errors": ({"error_count", "error_fingerprints"}, "analyze_root_cause", "high"),
    "stuck_agent": ({"idle_time_ms", "threshold_ms"}, "check_agent_health", "medium"),
}
ORIGINAL_ALERT_COMMON = {
    "timestamp", "type", "attempt_id", "task_id", "executor", "recommendation", "severity"
}  # fmt: skip


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


# ---------------------------------------------------------------------------------------------
# Our files through the original's readers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ours(small_logs: Path) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """Our generator's (= our logger's) metrics lines, and our session metrics on the same logs."""
    events = dedupe(read_logs(small_logs).events)
    return lines(small_logs / paths.METRICS_FILE), session_metrics(events)


def test_metrics_lines_read_by_the_node_analytics_cli_give_our_numbers(
    ours: tuple[list[dict[str, Any]], pl.DataFrame],
) -> None:
    records, sessions = ours
    assert records, "the generator wrote no metrics lines"
    # Every path the original reads resolves on every line (nothing reads as undefined).
    for record in records:
        for name, path in {**METRICS_PATHS_NODE, **METRICS_PATHS_POWERSHELL}.items():
            assert js_get(record, path) is not None, (name, path, record)
    # The last line per attempt speaks for it (a restarted session ends twice).
    last: dict[str, dict[str, Any]] = {}
    for record in records:
        last[record["attempt_id"]] = record
    closed = sessions.filter(~pl.col("is_open")).filter(pl.col("attempt_id").is_in(list(last)))
    assert closed.height == len(last)
    cost = sum(js_or0(js_get(r, METRICS_PATHS_NODE["cost_usd"])) for r in last.values())
    assert cost == pytest.approx(closed["cost_usd"].fill_null(0).sum(), abs=0.005)  # to the cent
    duration = sum(js_or0(js_get(r, METRICS_PATHS_NODE["duration_ms"])) for r in last.values())
    assert duration == closed["duration_ms"].fill_null(0).sum()
    completed = sum(1 for r in last.values() if js_get(r, METRICS_PATHS_NODE["success"]) == "completed")
    assert completed == closed["succeeded"].sum() > 0
    tokens = sum(js_or0(js_get(r, METRICS_PATHS_NODE["total_tokens"])) for r in last.values())
    assert tokens == closed["total_tokens"].fill_null(0).sum() > 0
    # Errors: the original counted the session log's errors at session end.
    errors = sum(js_or0(js_get(r, METRICS_PATHS_NODE["total_errors"])) for r in last.values())
    ps_errors = sum(js_or0(js_get(r, METRICS_PATHS_POWERSHELL["errors"])) for r in last.values())
    assert errors == ps_errors == closed["error_count"].sum() > 0
    per_executor: dict[str, int] = defaultdict(int)
    for r in last.values():
        per_executor[js_get(r, "executor")] += 1
    ours_by_executor = dict(closed.group_by("executor").len().iter_rows())
    assert per_executor == ours_by_executor
    # Fingerprints listed per session are the session's error fingerprints.
    listed = [fp for r in last.values() for fp in js_get(r, METRICS_PATHS_NODE["error_fingerprints"])]
    assert listed and all(isinstance(fp, str) and fp for fp in listed)


def test_error_lines_read_by_the_node_analytics_cli(small_logs: Path) -> None:
    records = lines(small_logs / paths.ERRORS_FILE)
    assert records
    for record in records[:500]:
        for path in ("data.error_message", "attempt_id", "timestamp", "task_id"):
            assert js_get(record, path) is not None, path
    fingerprinted = [r for r in records if js_get(r, ERRORS_PATHS_NODE["fingerprint"])]
    assert 0 < len(fingerprinted) < len(records)  # generated kinds give theirs always, never or half


def test_stream_lines_carry_every_path_the_live_analyzer_reads(small_logs: Path) -> None:
    seen: set[str] = set()
    for path in sorted((small_logs / paths.STREAM_DIR).glob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # the generator's deliberately malformed lines
            seen.update(p for p in STREAM_PATHS_ANALYZER if js_get(record, p) is not None)
    assert seen == set(STREAM_PATHS_ANALYZER)


def test_our_alerts_have_the_original_analyzers_types_fields_and_recommendations(small_logs: Path) -> None:
    events = read_logs(small_logs).events
    alerts = detect(events, DetectorState())
    assert set(ALERT_KINDS) == set(ORIGINAL_ALERTS)
    fired = {a["type"] for a in alerts}
    assert fired == set(ORIGINAL_ALERTS), fired
    for alert in alerts:
        fields, recommendation, severity = ORIGINAL_ALERTS[alert["type"]]
        assert ORIGINAL_ALERT_COMMON | fields <= set(alert), (alert["type"], set(alert))
        assert (alert["recommendation"], alert["severity"]) == (recommendation, severity)
        if alert["type"] == "failed_session_high_errors":
            assert isinstance(alert["error_fingerprints"], list) and alert["error_fingerprints"]
    assert set(COMMON_ALERT_FIELDS) == ORIGINAL_ALERT_COMMON
    assert {k: set(v) for k, v in ALERT_FIELDS.items()} == {k: v[0] for k, v in ORIGINAL_ALERTS.items()}


# ---------------------------------------------------------------------------------------------
# The original's files through our readers
# ---------------------------------------------------------------------------------------------

# As Write-AgentWorkLog wrote them: a hashtable serialized by ConvertTo-Json (no key order), the
# optional metadata present as null when the orchestrator did not give it, "o" timestamps with 7
# fractional digits.
ORIGINAL_STREAM = [
    {"data": {"prompt_type": "initial", "prompt": "Implement auth"}, "attempt_id": "ve-orig-1",
     "event_type": "session_start", "timestamp": "2026-02-09T14:23:45.1230000Z", "task_id": "task-456",
     "task_title": "Implement user authentication", "task_description": None, "project_id": None,
     "executor": "CODEX", "executor_variant": None, "model": "claude-sonnet-4-5", "branch": "ve/a1b2",
     "base_branch": "main", "commits_ahead": None, "commits_behind": None},
    {"elapsed_ms": 12340, "data": {"error_message": "fatal: not a git repository",
     "error_fingerprint": "git_not_repo", "error_category": "git"}, "attempt_id": "ve-orig-1",
     "event_type": "error", "timestamp": "2026-02-09T14:23:57.4630000Z", "task_id": "task-456",
     "task_title": "Implement user authentication", "task_description": None, "project_id": None,
     "executor": "CODEX", "executor_variant": None, "model": "claude-sonnet-4-5"},
    {"elapsed_ms": 32340, "data": {"prompt": "Tests fail, please fix", "followup_reason": "tests_failing"},
     "attempt_id": "ve-orig-1", "event_type": "followup_sent", "timestamp": "2026-02-09T14:24:17.4630000Z",
     "task_id": "task-456", "executor": "CODEX", "model": "claude-sonnet-4-5"},
    {"elapsed_ms": 122340, "data": {"completion_status": "success", "duration_ms": 122340,
     "total_tokens": 18234, "cost_usd": 0.0731, "outcome": {"status": "completed", "pr_created": True}},
     "attempt_id": "ve-orig-1", "event_type": "session_end", "timestamp": "2026-02-09T14:25:47.4630000Z",
     "task_id": "task-456", "executor": "CODEX", "model": "claude-sonnet-4-5"},
]  # fmt: skip
# Write-AgentSessionMetrics: one error category unrolled to a bare string by PowerShell, none → null.
ORIGINAL_METRICS = [
    {"outcome": {"status": "completed", "pr_created": True}, "executor": "CODEX",
     "model": "claude-sonnet-4-5",
     "error_summary": {"error_fingerprints": "git_not_repo", "total_errors": 1, "error_categories": "git"},
     "task_id": "task-456", "attempt_id": "ve-orig-1", "timestamp": "2026-02-09T14:25:47.4630000Z",
     "metrics": {"errors": 1, "cost_usd": 0.0731, "total_tokens": 18234, "duration_ms": 122340}},
    {"outcome": None, "executor": "COPILOT", "model": "gpt-4.1", "task_id": "task-457",
     "error_summary": {"error_fingerprints": None, "total_errors": 0, "error_categories": None},
     "attempt_id": "ve-orig-2", "timestamp": "2026-02-09T15:00:00.0000000Z",
     "metrics": {"errors": 0, "cost_usd": 0, "total_tokens": 0, "duration_ms": 5000}},
]  # fmt: skip
# What agent-pipelines wrote before it used the original's shape (still read).
OUR_EARLIER_METRICS = {
    "timestamp": "2026-02-09T16:00:00.000Z", "attempt_id": "ve-flat", "metric_type": "session_summary",
    "task_id": "task-9", "executor": "CODEX", "model": "gpt-5", "completion_status": "failed",
    "success": False,
    "duration_ms": 1000, "total_tokens": 10, "cost_usd": 0.5, "error_count": 3,
}  # fmt: skip
# new Date().toISOString() and the analyzer's own fields (no alert_id).
ORIGINAL_ALERT_LINES = [
    {"timestamp": "2026-02-09T14:30:00.000Z", "type": "error_loop", "attempt_id": "ve-orig-1",
     "task_id": "task-456", "executor": "CODEX", "error_fingerprint": "git_not_repo", "occurrences": 4,
     "sample_message": "fatal: not a git repository", "recommendation": "trigger_ai_autofix",
     "severity": "high"},
    {"timestamp": "2026-02-09T14:31:00.000Z", "type": "excessive_restarts", "attempt_id": "ve-orig-3",
     "task_id": "task-458", "executor": "COPILOT", "restart_count": 3, "recommendation": "manual_review",
     "severity": "medium"},
]  # fmt: skip


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_the_original_loggers_stream_reads_without_quarantine(tmp_path: Path) -> None:
    write_jsonl(tmp_path / paths.STREAM_FILE, ORIGINAL_STREAM)
    write_jsonl(tmp_path / paths.ERRORS_FILE, [ORIGINAL_STREAM[1]])
    result = read_logs(tmp_path)
    assert result.quarantine.height == 0, result.quarantine.to_dicts()
    events = result.events
    assert events.height == 4
    sessions = session_metrics(events)
    row = sessions.row(0, named=True)
    assert (row["executor"], row["task_id"], row["error_count"]) == ("CODEX", "task-456", 1)
    assert row["succeeded"] is True
    assert (row["cost_usd"], row["total_tokens"], row["duration_ms"]) == (0.0731, 18234, 122340)


def test_metrics_lines_of_both_shapes_read_alike(tmp_path: Path) -> None:
    path = tmp_path / paths.METRICS_FILE
    write_jsonl(path, [*ORIGINAL_METRICS, OUR_EARLIER_METRICS])
    frame = read_metrics_lines(path)
    rows = {r["attempt_id"]: r for r in frame.to_dicts()}
    first = rows["ve-orig-1"]
    assert (first["succeeded"], first["completion_status"], first["cost_usd"], first["errors"]) == (
        True, "success", 0.0731, 1
    )  # fmt: skip
    assert first["error_categories"] == ["git"] and first["error_fingerprints"] == ["git_not_repo"]
    assert first["timestamp"].isoformat() == "2026-02-09T14:25:47.463000+00:00"
    second = rows["ve-orig-2"]
    assert second["succeeded"] is None and second["error_categories"] == [] and second["duration_ms"] == 5000
    flat = rows["ve-flat"]
    assert (flat["shape"], flat["succeeded"], flat["outcome_status"], flat["errors"], flat["cost_usd"]) == (
        "flat", False, "failed", 3, 0.5
    )  # fmt: skip


def test_our_metrics_lines_read_back_through_our_reader(small_logs: Path) -> None:
    frame = read_metrics_lines(small_logs / paths.METRICS_FILE)
    assert frame.height and set(frame["shape"].unique()) == {"nested"}
    assert frame["timestamp"].null_count() == 0 and frame["succeeded"].null_count() == 0


def test_the_original_analyzers_alerts_are_read(tmp_path: Path) -> None:
    write_jsonl(tmp_path / paths.ALERTS_FILE, ORIGINAL_ALERT_LINES)
    loops = read_error_loop_alerts(tmp_path)
    assert loops is not None and loops["attempt_id"].to_list() == ["ve-orig-1"]


# ---------------------------------------------------------------------------------------------
# Every figure of the original analytics CLI, on our files, against the generator's ground truth
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def both(
    small_logs: Path,
) -> tuple[tuple[list[dict[str, Any]], list[dict[str, Any]]], tuple[Any, Any], float]:
    """(our metrics and error lines, the truth's, the CLI's "now": just after the generated period)."""
    ours = lines(small_logs / paths.METRICS_FILE), lines(small_logs / paths.ERRORS_FILE)
    truth = truth_records(small_logs)
    end = max(datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00")) for m in truth[0])
    return ours, truth, (end.timestamp() + 60) * 1000


def test_the_original_clis_executor_comparison_reads_the_truth_first_shot_included(both: Any) -> None:
    (metrics, _), (truth_metrics, _), now = both
    executors = sorted({m["executor"] for m in truth_metrics})
    ours = original_cli.executor_comparison(metrics, executors, now)
    truth = original_cli.executor_comparison(truth_metrics, executors, now)
    assert_same(ours, truth, "executor_comparison")
    assert len(ours) >= 2 and all(0 < row["first_shot_rate"] < row["success_rate"] for row in ours.values())


def test_the_original_clis_backlog_reads_the_truth(both: Any) -> None:
    (metrics, _), (truth_metrics, _), now = both
    ours, truth = original_cli.backlog(metrics, now), original_cli.backlog(truth_metrics, now)
    assert_same(ours, truth, "backlog")
    # and the summary is the ground truth's own: first-shot over every task with a closed attempt
    assert 0 < ours["first_shot_rate"] < ours["success_rate"]


@pytest.mark.parametrize("failed_only", [False, True])
def test_the_original_clis_task_planning_reads_the_truth(both: Any, failed_only: bool) -> None:
    (metrics, _), (truth_metrics, _), now = both
    ours = original_cli.task_planning(metrics, now, failed_only=failed_only)
    assert_same(ours, original_cli.task_planning(truth_metrics, now, failed_only=failed_only), "planning")
    assert ours["analyzed"] > 0 and ours["issue_counts"]


def test_the_original_clis_error_clustering_reads_the_truth(both: Any) -> None:
    (_, errs), (_, truth_errors), now = both
    ours = original_cli.error_clusters(errs, now)
    assert_same(ours, original_cli.error_clusters(truth_errors, now), "error_clustering")
    assert "unknown" in ours["clusters"] and ours["unique_error_types"] > 5


def test_the_original_clis_weekly_report_reads_the_truth(both: Any) -> None:
    (metrics, errs), (truth_metrics, truth_errors), now = both
    ours = original_cli.weekly_report(metrics, errs, now)
    assert_same(ours, original_cli.weekly_report(truth_metrics, truth_errors, now), "weekly_report")
    assert ours["total_sessions"] == len(truth_metrics) and ours["completed"] > 0
