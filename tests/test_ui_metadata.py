"""What asset pages show: described columns, formatted headlines, daily numbers, ccusage-style usage."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from agent_pipelines.analytics import errors, insights, usage
from agent_pipelines.analytics.metrics import (
    SESSION_METRICS_SCHEMA,
    executor_comparison,
    session_metrics,
    success_metrics,
)
from agent_pipelines.core.contract import CLEANED_SCHEMA
from agent_pipelines.core.reader import dedupe, read_logs
from agent_pipelines.live.alerts_table import ALERTS_TABLE_SCHEMA
from agent_pipelines.orchestration.ui_metadata import describe_columns, pct, usd


@pytest.mark.parametrize(
    "schema", [CLEANED_SCHEMA, SESSION_METRICS_SCHEMA, ALERTS_TABLE_SCHEMA, usage.DAILY_USAGE_SCHEMA]
)
def test_every_column_has_a_description(schema: dict[str, pl.DataType]) -> None:
    described = describe_columns(schema)
    missing = [c.name for c in described.columns if not c.description]
    assert not missing, missing


def test_every_analytics_tables_columns_are_described(small_logs: Path) -> None:
    """The tables computed from sessions and errors (their schemas are not constants)."""
    events = dedupe(read_logs(small_logs).events)
    sessions = session_metrics(events)
    occurrences = errors.error_occurrences(events)
    tables = {
        "executor_comparison": executor_comparison(sessions),
        "model_comparison": executor_comparison(sessions, by="model"),
        "success_metrics": success_metrics(sessions),
        "error_occurrences": occurrences,
        "error_clusters": errors.cluster_table(occurrences),
        "backlog_tasks": insights.backlog_tasks(sessions, occurrences, events),
        "task_planning_insights": insights.task_planning_insights(sessions, occurrences, events),
        "error_correlation": insights.correlation(sessions, occurrences),
    }
    for name, table in tables.items():
        missing = [c.name for c in describe_columns(table.schema).columns if not c.description]
        assert not missing, (name, missing)


def test_headlines_are_formatted() -> None:
    assert pct(0.6239870340356564) == "62.4%" and usd(63.14159) == "$63.14" and pct(None) == "–"


def test_daily_usage_adds_up_to_the_sessions(small_logs: Path) -> None:
    events = dedupe(read_logs(small_logs).events)
    sessions = session_metrics(events)
    table = usage.daily_usage(sessions)
    closed = sessions.filter(~pl.col("is_open"))
    assert table["sessions"].sum() == closed.height
    assert table["cost_usd"].sum() == pytest.approx(closed["cost_usd"].fill_null(0).sum())
    assert table["total_tokens"].sum() == closed["total_tokens"].fill_null(0).sum()
    text = usage.ccusage_markdown(table)
    assert text.startswith("| Date | Models |") and "**Total**" in text
    # A day's numbers (the Plots tab of the daily partitions) from that day's events alone.
    day = table["day"].min()
    numbers = usage.day_numbers(events.filter(pl.col("timestamp").dt.date() == day))
    assert numbers["day/sessions_ended"] > 0 and 0 <= numbers["day/success_rate"] <= 1
    by_executor = sum(v for k, v in numbers.items() if k.startswith("cost_usd/executor/"))
    assert by_executor == pytest.approx(numbers["day/cost_usd"])


def test_column_descriptions_render_as_written() -> None:
    """Issue 25: descriptions are Markdown in the UI; "<URL>" vanished and "> or <" became a quote."""
    from markdown_it import MarkdownIt

    from agent_pipelines.orchestration.ui_metadata import describe

    render = MarkdownIt("commonmark").render
    template = render(describe("error_template"))
    assert "&lt;URL&gt;, &lt;PATH&gt;" in template
    comparator = render(describe("comparator"))
    assert "<blockquote>" not in comparator and "&gt; or &lt;: which side" in comparator
    schema = describe_columns({"cluster_label": pl.String(), "comparator": pl.String()})
    assert all(c.description and "\\<" in c.description for c in schema.columns)


def test_links_to_sessions_survive_the_markdown_table() -> None:
    from agent_pipelines.orchestration.ui_metadata import linked, with_durations
    from agent_pipelines.text.markdown import table

    frame = pl.DataFrame({"attempt_id": ["att_1"], "duration_ms": [725_000], "title": ["a | <b>"]})
    out = table(linked(with_durations(frame), "attempt_id", "http://127.0.0.1:3001"))
    assert "[att\\_1](<http://127.0.0.1:3001/replays/att_1.html>)" in out
    assert "12 min 05 s" in out and "a \\| \\<b\\>" in out


def test_daily_usage_page_shows_two_weeks_not_the_whole_history() -> None:
    """Issue 25: with 100 rows by day and model and every day in Markdown the page was 7,000 px tall."""
    from datetime import UTC, datetime, timedelta

    from assets.sessions import DAILY_ROWS_SHOWN, DAILY_SHOWN, daily_usage

    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    sessions = pl.DataFrame(
        {
            "attempt_id": [f"a{i}" for i in range(120)],
            "is_open": [False] * 120,
            "started_at": [start + timedelta(days=i // 2) for i in range(120)],
            "ended_at": [start + timedelta(days=i // 2, minutes=5) for i in range(120)],
            "last_event_at": [start + timedelta(days=i // 2, minutes=5) for i in range(120)],
            "model": ["gpt-5" if i % 2 else "claude-sonnet-4" for i in range(120)],
            "executor": ["CODEX" if i % 2 else "CLAUDE_CODE" for i in range(120)],
            "succeeded": [True] * 120,
            "total_tokens": [1_000] * 120,
            "cost_usd": [0.25] * 120,
        }
    )
    result = daily_usage(sessions)
    assert result.value.height == 120  # the table keeps every day and model
    text = result.metadata["daily"].value
    assert text.count("\n| 2026-") == DAILY_SHOWN and "**Last 14 days**" in text and "**28**" in text
    assert len(result.metadata["by_day_and_model"].value.records) == DAILY_ROWS_SHOWN
