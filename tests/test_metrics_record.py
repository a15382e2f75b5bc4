"""The ``agent-metrics.jsonl`` record carries every field of the design's schema we can know.

The schema is the original design document's (``virtengine/virtengine``,
``scripts/codex-monitor/docs/agent-work-logging-design.md``, "Metrics Log"): ``metrics.{duration_ms,
total_tokens, cost_usd, tool_calls, errors, files_modified, lines_added, lines_deleted, commits,
success, first_shot_success, retry_count}``, ``outcome.status`` in ``completed | failed |
manual_review``, ``error_summary.{..., resolved_by_agent, resolved_by_intervention}``. Sessions are
written through the real logger; what cannot be known must be absent, not zero.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent_pipelines.core import paths
from agent_pipelines.core.logger import AgentWorkLogger


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=5)
        return self.now


def summaries(root: Path) -> dict[str, dict[str, Any]]:
    lines = (root / paths.METRICS_FILE).read_text(encoding="utf-8").splitlines()
    return {r["attempt_id"]: r for r in map(json.loads, lines)}


@pytest.fixture
def log(tmp_path: Path) -> AgentWorkLogger:
    return AgentWorkLogger(tmp_path, enabled=True, clock=Clock())


def test_first_shot_and_retries_come_from_the_prompt_types(log: AgentWorkLogger) -> None:
    # first attempt, restarted once after a follow-up, then succeeded: still the task's first shot
    log.start_session("ve-1", task_id="t", executor="CODEX", prompt_type="initial")
    log.followup("ve-1", "Please also run the linter", "lint")
    log.start_session("ve-1", prompt_type="followup", followup_reason="lint")
    log.stop_session("ve-1", "success")
    # the task's second attempt: never a first shot
    log.start_session("ve-2", task_id="t", executor="CODEX", prompt_type="retry")
    log.stop_session("ve-2", "success")
    # the task's first attempt, failed
    log.start_session("ve-3", task_id="u", executor="CODEX")
    log.stop_session("ve-3", "failed")
    got = {k: v["metrics"] for k, v in summaries(log.root).items()}
    assert {k: (m["success"], m["first_shot_success"], m["retry_count"]) for k, m in got.items()} == {
        "ve-1": (True, True, 1),
        "ve-2": (True, False, 1),
        "ve-3": (False, False, 0),
    }


def test_without_a_session_start_first_shot_and_retries_are_left_out(log: AgentWorkLogger) -> None:
    log.error("ve-9", "boom", task_id="t", executor="CODEX")
    log.stop_session("ve-9", "success")
    (record,) = summaries(log.root).values()
    assert "first_shot_success" not in record["metrics"] and "retry_count" not in record["metrics"]
    assert record["metrics"]["success"] is True
    assert record["error_summary"]["resolved_by_agent"] == 1  # it succeeded, nobody helped


def test_git_figures_are_written_only_when_the_session_end_carries_them(log: AgentWorkLogger) -> None:
    log.start_session("ve-g", task_id="t")
    log.stop_session("ve-g", "success", files_modified=5, lines_added=120, lines_deleted=45, commits=3)
    log.start_session("ve-n", task_id="t")
    log.stop_session("ve-n", "success")
    log.start_session("ve-s", task_id="t")  # as shell writers write them: strings; a negative is no count
    log.log("session_end", "ve-s", {"completion_status": "success", "lines_added": "7", "commits": -1})
    got = {k: v["metrics"] for k, v in summaries(log.root).items()}
    git = ("files_modified", "lines_added", "lines_deleted", "commits")
    assert {k: got["ve-g"][k] for k in git} == {"files_modified": 5, "lines_added": 120, "lines_deleted": 45,
                                                "commits": 3}  # fmt: skip
    assert not set(git) & set(got["ve-n"])
    assert {k: got["ve-s"][k] for k in git if k in got["ve-s"]} == {"lines_added": 7}


@pytest.mark.parametrize(
    ("completion", "outcome", "last_status", "expected"),
    [
        ("success", None, None, {"status": "completed"}),
        ("failed", None, None, {"status": "failed"}),
        ("timeout", None, None, {"status": "failed"}),  # ours stays beside it: completion_status
        ("interrupted", {"pr_created": False}, None, {"status": "failed", "pr_created": False}),
        ("failed", None, "manual_review", {"status": "manual_review"}),
        ("failed", {"status": "manual_review", "pr": 6}, None, {"status": "manual_review", "pr": 6}),
        ("success", {"status": "done"}, None, {"status": "completed", "orchestrator_status": "done"}),
    ],
)  # fmt: skip
def test_outcome_status_is_in_the_designs_vocabulary(
    log: AgentWorkLogger,
    completion: str,
    outcome: dict[str, Any] | None,
    last_status: str | None,
    expected: dict[str, Any],
) -> None:
    log.start_session("ve-o", task_id="t")
    if last_status:
        log.status_change("ve-o", last_status, "inprogress")
        log.end_turn("ve-o")  # the agent's turn marker after it is not the orchestrator's word
    log.stop_session("ve-o", completion, outcome=outcome)
    (record,) = summaries(log.root).values()
    assert record["outcome"] == expected
    assert record["completion_status"] == completion


def test_resolved_errors_are_known_only_for_a_session_that_succeeded(log: AgentWorkLogger) -> None:
    log.start_session("ve-r", task_id="t")
    log.error("ve-r", "first")  # then a restart: overcome with help
    log.start_session("ve-r", prompt_type="retry")
    log.error("ve-r", "second")  # then a follow-up
    log.followup("ve-r", "try again")
    log.error("ve-r", "third")  # nothing after it: the agent's own doing
    log.stop_session("ve-r", "success")
    log.start_session("ve-f", task_id="t")
    log.error("ve-f", "boom")
    log.stop_session("ve-f", "failed")
    got = {k: v["error_summary"] for k, v in summaries(log.root).items()}
    assert (got["ve-r"]["resolved_by_agent"], got["ve-r"]["resolved_by_intervention"]) == (1, 2)
    assert "resolved_by_agent" not in got["ve-f"] and "resolved_by_intervention" not in got["ve-f"]
    assert got["ve-f"]["total_errors"] == 1
