"""Session metrics, executor comparison and success metrics against the generator's ground truth."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from agent_pipelines.analytics import metrics
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import dedupe, read_logs

COMPARED = (
    "task_id",
    "attempt_number",
    "executor",
    "model",
    "prompt_type",
    "completion_status",
    "duration_ms",
    "cost_usd",
    "total_tokens",
    "error_count",
    "followup_count",
    "tool_call_count",
    "restarts",
)


@pytest.fixture(scope="module")
def truth(small_logs: Path) -> dict:
    return json.loads((small_logs / "ground-truth.json").read_text())


@pytest.fixture(scope="module")
def events(small_logs: Path) -> pl.DataFrame:
    return dedupe(read_logs(small_logs).events)


@pytest.fixture(scope="module")
def sessions(events: pl.DataFrame) -> pl.DataFrame:
    return metrics.session_metrics(events)


class Clock:
    """A settable clock for the logger: each event at the time we say."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> Clock:
        self.now = moment
        return self


def make_logger(root: Path, start: datetime) -> tuple[AgentWorkLogger, Clock]:
    clock = Clock(start)
    return AgentWorkLogger(root, enabled=True, clock=clock), clock


# --------------------------------------------------------------------------------------------
# session_metrics
# --------------------------------------------------------------------------------------------


def test_one_row_per_attempt_matching_ground_truth(sessions: pl.DataFrame, truth: dict) -> None:
    expected = pl.DataFrame(truth["attempts"], infer_schema_length=None)
    assert sessions.height == expected.height == sessions["attempt_id"].n_unique()
    assert list(sessions.schema) == list(metrics.SESSION_METRICS_SCHEMA)
    joined = sessions.join(expected, on="attempt_id", how="full", suffix="_truth", coalesce=True)
    assert joined.height == expected.height
    for column in COMPARED:
        differ = joined.filter(pl.col(column).ne_missing(pl.col(f"{column}_truth")))
        assert differ.is_empty(), (
            f"{column}: {differ.select('attempt_id', column, f'{column}_truth').head(3)}"
        )
    starts = expected.select("attempt_id", pl.col("start").str.to_datetime(time_zone="UTC", time_unit="us"))
    check = sessions.join(starts, on="attempt_id")
    assert (check["started_at"] == check["start"]).all()


def test_session_crossing_midnight_is_one_row(sessions: pl.DataFrame, truth: dict) -> None:
    crossing = [a for a in truth["attempts"] if a["crosses_midnight"]]
    assert crossing, "the fixture should hold a session that crosses midnight"
    for attempt in crossing:
        rows = sessions.filter(pl.col("attempt_id") == attempt["attempt_id"])
        assert rows.height == 1
        row = rows.row(0, named=True)
        assert row["day"].isoformat() == attempt["start"][:10]
        assert row["last_event_at"].date() > row["day"]
        assert row["completion_status"] == attempt["completion_status"]


def test_open_sessions_are_open_not_failed(sessions: pl.DataFrame, truth: dict) -> None:
    open_ids = {a["attempt_id"] for a in truth["attempts"] if a["completion_status"] is None}
    assert open_ids
    flagged = sessions.filter(pl.col("is_open"))
    assert set(flagged["attempt_id"]) == open_ids
    assert flagged["completion_status"].is_null().all()
    assert flagged["ended_at"].is_null().all() and flagged["duration_ms"].is_null().all()
    assert not flagged["succeeded"].any()
    assert flagged["last_event_at"].is_not_null().all()


def test_restarted_and_reopened_sessions(tmp_path: Path) -> None:
    log, clock = make_logger(tmp_path, datetime(2026, 3, 2, 23, 50, tzinfo=UTC))
    log.start_session("a-1", task_id="t-1", task_title="Fix", executor="CODEX", model="m1")
    clock.at(datetime(2026, 3, 2, 23, 55, tzinfo=UTC))
    log.start_session("a-1", prompt_type="followup", followup_reason="tests failing")
    clock.at(datetime(2026, 3, 3, 0, 10, tzinfo=UTC))
    log.stop_session("a-1", "failed", cost_usd=0.05, total_tokens=1000)
    clock.at(datetime(2026, 3, 3, 0, 20, tzinfo=UTC))
    log.start_session("a-1", prompt_type="retry")  # reopened after its end: running again
    clock.at(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))
    log.start_session("a-2", task_id="t-1", executor="COPILOT")
    log.stop_session("a-2", "success", duration_ms=1234, cost_usd=0.01)
    rows = {r["attempt_id"]: r for r in metrics.session_metrics(read_logs(tmp_path).events).to_dicts()}
    first = rows["a-1"]
    assert first["restarts"] == 2 and first["prompt_type"] == "initial"
    assert first["is_open"] and first["completion_status"] is None and not first["succeeded"]
    assert first["started_at"] == datetime(2026, 3, 2, 23, 50, tzinfo=UTC)
    assert first["day"].isoformat() == "2026-03-02"
    second = rows["a-2"]
    assert second["attempt_number"] == 2 and second["succeeded"] and not second["is_first_shot"]
    assert second["duration_ms"] == 1234  # the session_end's own duration wins


def test_empty_events_give_empty_metrics() -> None:
    empty = metrics.session_metrics(pl.DataFrame())
    assert empty.is_empty() and list(empty.schema) == list(metrics.SESSION_METRICS_SCHEMA)
    table = metrics.success_metrics(empty)
    assert table["value"].is_null().all() and table["met"].is_null().all()


# --------------------------------------------------------------------------------------------
# executor_comparison
# --------------------------------------------------------------------------------------------


def test_executor_comparison_matches_ground_truth(sessions: pl.DataFrame, truth: dict) -> None:
    table = metrics.executor_comparison(sessions)
    attempts = truth["attempts"]
    for row in table.iter_rows(named=True):
        mine = [a for a in attempts if a["executor"] == row["executor"]]
        closed = [a for a in mine if a["completion_status"] is not None]
        won = [a for a in closed if a["completion_status"] == "success"]
        assert row["sessions"] == len(mine)
        assert row["success_pct"] == pytest.approx(100 * len(won) / len(closed))
        first = [a for a in won if a["attempt_number"] == 1]
        assert row["first_shot_pct"] == pytest.approx(100 * len(first) / len(won))
        costs = [a["cost_usd"] for a in mine if a["cost_usd"] is not None]
        assert row["total_cost_usd"] == pytest.approx(sum(costs))
        assert row["avg_cost_usd"] == pytest.approx(sum(costs) / len(costs))
        durations = [a["duration_ms"] for a in closed]
        assert row["avg_duration_s"] == pytest.approx(sum(durations) / len(durations) / 1000)
        assert row["errors_per_session"] == pytest.approx(sum(a["error_count"] for a in mine) / len(mine))
    assert table["sessions"].sum() == len(attempts)
    assert table["sessions"].is_sorted(descending=True)


def test_executor_comparison_filters_and_models(sessions: pl.DataFrame) -> None:
    names = metrics.executor_comparison(sessions)["executor"].to_list()
    picked = metrics.executor_comparison(sessions, executors=[names[0].lower(), "NOPE"])
    assert picked["executor"].to_list() == [names[0]]
    by_model = metrics.executor_comparison(sessions, by="model")
    assert by_model["sessions"].sum() == sessions.height
    assert set(by_model["model"]) == set(sessions["model"].drop_nulls())
    with pytest.raises(ValueError):
        metrics.executor_comparison(sessions, by="task_id")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# success_metrics
# --------------------------------------------------------------------------------------------


def test_success_metrics_match_ground_truth(
    sessions: pl.DataFrame, events: pl.DataFrame, truth: dict
) -> None:
    table = metrics.success_metrics(sessions, error_loops=metrics.detect_error_loops(events))
    values = dict(zip(table["metric"], table["value"], strict=True))
    expected = truth["metrics"]
    for name in ("success_rate", "first_shot_rate", "avg_attempts_per_task", "cost_per_task"):
        assert values[name] == pytest.approx(expected[name], rel=1e-6), name
    assert values["mean_time_to_completion_ms"] == pytest.approx(expected["mean_time_to_completion_ms"])
    loops = [i for i in truth["incidents"] if i["type"] == "error_loop"]
    assert values["error_loop_frequency"] == pytest.approx(len(loops) / len(truth["attempts"]))
    met = dict(zip(table["metric"], table["met"], strict=True))
    assert met["success_rate"] is (expected["success_rate"] > 0.8)
    assert met["avg_attempts_per_task"] is (expected["avg_attempts_per_task"] < 2.0)
    markdown = metrics.success_metrics_markdown(table)
    assert markdown.count("\n") == 7
    rows = {line.split("|")[1].strip(): line for line in markdown.splitlines()[2:]}
    for label, is_met in zip(table["label"], table["met"], strict=True):
        assert f"| {metrics.met_mark(is_met)} |" in rows[label], label


def test_week_over_week(tmp_path: Path) -> None:
    monday = datetime(2026, 3, 2, 9, tzinfo=UTC)
    log, clock = make_logger(tmp_path, monday)
    outcomes = {0: ["success", "failed"], 7: ["success", "success", "success", "failed"]}
    n = 0
    for offset, statuses in outcomes.items():
        for status in statuses:
            n += 1
            clock.at(monday + timedelta(days=offset, minutes=n))
            log.start_session(f"a-{n}", task_id=f"t-{n}", executor="CODEX")
            clock.at(monday + timedelta(days=offset, minutes=n, seconds=30))
            log.stop_session(f"a-{n}", status, cost_usd=0.02)
    sessions = metrics.session_metrics(read_logs(tmp_path).events)
    table = metrics.success_metrics(sessions, now=monday + timedelta(days=7, hours=1))
    row = table.filter(pl.col("metric") == "success_rate").row(0, named=True)
    assert row["value"] == pytest.approx(4 / 6)
    assert row["last_7d"] == pytest.approx(3 / 4) and row["previous_7d"] == pytest.approx(1 / 2)
    assert row["wow_change"] == pytest.approx(0.25)
    cost = table.filter(pl.col("metric") == "cost_per_task").row(0, named=True)
    assert cost["value"] == pytest.approx(6 * 0.02 / 4) and cost["met"] is True
    # Without `now`, "last week" ends at the latest event: the same answer for historical data.
    assert metrics.success_metrics(sessions).filter(pl.col("metric") == "success_rate")["last_7d"].item() == (
        pytest.approx(3 / 4)
    )


# --------------------------------------------------------------------------------------------
# Error loops
# --------------------------------------------------------------------------------------------


def test_error_loops_found_and_near_misses_ignored(events: pl.DataFrame, truth: dict) -> None:
    found = set(metrics.detect_error_loops(events)["attempt_id"])
    loops = {i["attempt_id"] for i in truth["incidents"] if i["type"] == "error_loop"}
    near = {n["attempt_id"] for n in truth["near_misses"] if n["type"] == "near_error_loop"}
    assert loops and near
    assert loops <= found
    assert not (near & found)


@pytest.mark.parametrize(("last_minute", "fires"), [(10.0, True), (10.02, False)])
def test_error_loop_window_is_ten_minutes(tmp_path: Path, last_minute: float, fires: bool) -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    log, clock = make_logger(tmp_path, start)
    log.start_session("a-1", task_id="t-1")
    for minute in (0, 3, 6, last_minute):
        clock.at(start + timedelta(minutes=minute))
        log.error("a-1", f"npm ERR! network timeout at https://registry.npmjs.org/pkg-{minute}")
    assert (metrics.detect_error_loops(read_logs(tmp_path).events).height == 1) is fires


def test_alerts_file_is_preferred_shape_tolerant(tmp_path: Path) -> None:
    assert metrics.read_error_loop_alerts(tmp_path) is None
    lines: list[Callable[[], str]] = [
        lambda: json.dumps(
            {"timestamp": "2026-03-02T09:00:00.000Z", "type": "error_loop", "attempt_id": "a"}
        ),
        lambda: json.dumps(
            {"timestamp": "2026-03-02T09:01:00.000Z", "alert_type": "ERROR_LOOP", "attempt_id": "b"}
        ),
        lambda: json.dumps({"timestamp": "2026-03-02T09:02:00.000Z", "type": "tool_loop", "attempt_id": "c"}),
        lambda: "not json",
    ]
    (tmp_path / "agent-alerts.jsonl").write_text("".join(f"{make()}\n" for make in lines))
    alerts = metrics.read_error_loop_alerts(tmp_path)
    assert alerts is not None and alerts["attempt_id"].to_list() == ["a", "b"]
    assert alerts["detected_at"].dtype == pl.Datetime("us", "UTC")


def test_markdown_table_limits_rows() -> None:
    frame = pl.DataFrame({"a": list(range(30)), "b": ["x"] * 30})
    text = metrics.markdown_table(frame, limit=5)
    assert text.splitlines()[0].startswith("|") and "25 more rows" in text
    assert len([line for line in text.splitlines() if line.startswith("| ")]) == 6  # header + 5
