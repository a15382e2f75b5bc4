"""Day-by-day analytics equal a full recomputation over the same logs.

The assets compute small per-day results once per day partition (``metrics.session_parts``,
``errors.error_events``) and combine them in the unpartitioned views. These tests compare that path
with the all-at-once functions on the same events: on generated logs (sessions across midnight,
retries, open sessions, fingerprint-less errors) and on random events split at random points.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from agent_pipelines.analytics import errors, metrics
from agent_pipelines.core.contract import CLEANED_SCHEMA
from agent_pipelines.core.partitions import log_days
from agent_pipelines.core.reader import dedupe, read_logs


@pytest.fixture(scope="module")
def day_frames(small_logs: Path) -> list[pl.DataFrame]:
    """Each log day's cleaned events, as the ``cleaned_events`` partitions hold them."""
    return [dedupe(read_logs(small_logs, days=[day]).events) for day in log_days(small_logs)]


@pytest.fixture(scope="module")
def all_events(day_frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Every partition as one frame, as the IO manager hands them to an unpartitioned asset."""
    return pl.concat(day_frames, how="diagonal_relaxed")


def test_sessions_by_day_equal_full_recomputation(
    day_frames: list[pl.DataFrame], all_events: pl.DataFrame
) -> None:
    parts = pl.concat([metrics.session_parts(frame) for frame in day_frames])
    incremental = metrics.sessions_from_parts(parts)
    full = metrics.session_metrics(all_events)
    assert_frame_equal(incremental, full)
    # The logs hold what makes merging days hard: attempts on two days, open ones, restarts.
    spans = parts.group_by("attempt_id").len().filter(pl.col("len") > 1)
    assert spans.height > 0, "generated logs should have sessions that cross midnight"
    assert full["is_open"].any() and (full["restarts"] > 0).any()
    # A day's parts are one row per attempt active that day: far fewer than its events.
    assert parts.height < all_events.height / 5


def test_session_across_midnight_is_one_row_with_both_days(small_logs: Path) -> None:
    import json

    truth = json.loads((small_logs / "ground-truth.json").read_text())
    crossing = [a for a in truth["attempts"] if a["crosses_midnight"] and a["completion_status"]]
    assert crossing
    parts = pl.concat(
        [metrics.session_parts(dedupe(read_logs(small_logs, days=[d]).events)) for d in log_days(small_logs)]
    )
    sessions = metrics.sessions_from_parts(parts).filter(
        pl.col("attempt_id").is_in([a["attempt_id"] for a in crossing])
    )
    by_id = {row["attempt_id"]: row for row in sessions.iter_rows(named=True)}
    for attempt in crossing:
        row = by_id[attempt["attempt_id"]]
        assert row["completion_status"] == attempt["completion_status"]
        assert row["duration_ms"] == attempt["duration_ms"]
        assert row["tool_call_count"] == attempt["tool_call_count"]
        assert row["error_count"] == attempt["error_count"]
        assert row["started_at"].isoformat().replace("+00:00", "")[:19] == attempt["start"][:19]


def test_error_clusters_by_day_equal_full_recomputation(
    day_frames: list[pl.DataFrame], all_events: pl.DataFrame
) -> None:
    daily = pl.concat([errors.error_events(frame) for frame in day_frames])
    incremental = errors.occurrences_from_errors(daily)
    full = errors.error_occurrences(all_events)
    assert incremental.height > 0
    assert_frame_equal(incremental, full)
    assert_frame_equal(errors.cluster_table(incremental), errors.cluster_table(full))


def test_error_loops_by_day_equal_full_recomputation(
    day_frames: list[pl.DataFrame], all_events: pl.DataFrame
) -> None:
    daily = pl.concat([errors.error_events(frame) for frame in day_frames])
    incremental = metrics.error_loops_from_errors(daily)
    full = metrics.detect_error_loops(all_events)
    assert full.height > 0
    assert_frame_equal(incremental, full)


# --------------------------------------------------------------------------------------------
# Random events, split into slices at random points
# --------------------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
EVENT = st.fixed_dictionaries(
    {
        "attempt_id": st.sampled_from(["ve-a", "ve-b", "ve-c"]),
        # few distinct times, so ties (equal timestamps) are common
        "minute": st.integers(0, 150),
        "event_type": st.sampled_from(
            ["session_start", "session_end", "error", "tool_call", "followup_sent"]
        ),
        "task_id": st.sampled_from([None, "task-1", "task-2"]),
        "executor": st.sampled_from([None, "CODEX", "COPILOT"]),
        "prompt_type": st.sampled_from([None, "initial", "retry", "followup"]),
        "completion_status": st.sampled_from([None, "success", "failed"]),
        "cost_usd": st.sampled_from([None, 0.1, 0.5]),
        "duration_ms": st.sampled_from([None, 1000, 5000]),
    }
)


def _frame(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(
        [
            {
                **{k: v for k, v in r.items() if k != "minute"},
                "timestamp": T0 + timedelta(minutes=r["minute"]),
            }
            for r in rows
        ],
        schema={
            "attempt_id": pl.String(),
            "event_type": pl.String(),
            "task_id": pl.String(),
            "executor": pl.String(),
            "prompt_type": pl.String(),
            "completion_status": pl.String(),
            "cost_usd": pl.Float64(),
            "duration_ms": pl.Int64(),
            "timestamp": CLEANED_SCHEMA["timestamp"],
        },
    )
    return frame


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(EVENT, min_size=0, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=4))
def test_random_events_any_split_equal_full(rows: list[dict], cuts: list[int]) -> None:
    """However the events are sliced (days, or any other contiguous pieces), the merge is exact."""
    frame = _frame(rows)
    bounds = sorted({0, frame.height, *[min(c, frame.height) for c in cuts]})
    slices = [frame.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    parts = pl.concat([metrics.session_parts(s) for s in slices]) if slices else metrics.session_parts(frame)
    assert_frame_equal(metrics.sessions_from_parts(parts), metrics.session_metrics(frame))
