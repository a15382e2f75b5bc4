"""The live risk prefixes fed a batch at once (``predict.feed``) hold exactly what
:meth:`Prefix.add` row by row would: on generated logs cut into batches, and on rows with every edge
the row-level rules have (empty strings, nulls, outcome events, repeated calls across batches)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_pipelines.core.reader import read_logs
from agent_pipelines.generator import generate
from agent_pipelines.predict.features import EVENT_COLUMNS, Prefix, event_rows
from agent_pipelines.predict.feed import feed


def fed_row_by_row(prefixes: dict[str, Prefix], events: pl.DataFrame) -> tuple[dict[str, int], set[str], int]:
    """What the live update did before, one row at a time (the reference)."""
    touched: dict[str, int] = {}
    ended: set[str] = set()
    newest = 0
    for row in event_rows(events).iter_rows(named=True):
        attempt = str(row["attempt_id"])
        ms = (row["timestamp"] - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
        newest = max(newest, ms)
        if row["event_type"] == "session_end":
            ended.add(attempt)
            continue
        prefix = prefixes.setdefault(attempt, Prefix(attempt))
        before = prefix.events
        prefix.add(row)
        if prefix.events != before:
            touched[attempt] = ms
    for attempt in ended:  # an ended attempt is never scored: only the others' times matter
        prefixes.pop(attempt, None)
        touched.pop(attempt, None)
    return touched, ended, newest


def same_after(batches: list[pl.DataFrame]) -> None:
    ours: dict[str, Prefix] = {}
    theirs: dict[str, Prefix] = {}
    for batch in batches:
        got = feed(ours, batch)
        for attempt in got[1]:
            ours.pop(attempt, None)
        want = fed_row_by_row(theirs, batch)
        assert got == want
        assert ours.keys() == theirs.keys()
        for attempt, prefix in ours.items():
            mine, reference = dataclasses.asdict(prefix), dataclasses.asdict(theirs[attempt])
            assert {k: v for k, v in mine.items() if reference[k] != v} == {}, (attempt, reference)


@pytest.mark.slow
def test_generated_logs_in_batches(tmp_path: Any) -> None:
    generate(tmp_path, days=1, tasks=300, seed=11, start=date(2026, 3, 2), workers=1, signal=True,
             transcripts=False)  # fmt: skip
    events = read_logs(tmp_path).events.sort("timestamp", maintain_order=True)
    cuts = [0, events.height // 5, events.height // 2, events.height]
    same_after([events.slice(a, b - a) for a, b in itertools.pairwise(cuts)])


KINDS = ["session_start", "tool_call", "tool_result", "error", "followup_sent", "status_change",
         "session_end", "agent_output"]  # fmt: skip
texts = st.sampled_from([None, "", " ", "x", "Bash", "task"])


@st.composite
def event_batches(draw: st.DrawFn) -> list[pl.DataFrame]:
    start = datetime(2026, 3, 2, tzinfo=UTC)
    rows = []
    for i in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(KINDS))
        rows.append(
            {
                "timestamp": start + timedelta(microseconds=draw(st.integers(0, 10**9)) + i),
                "attempt_id": draw(st.sampled_from(["a", "b", "c"])),
                "task_id": draw(texts),
                "event_type": kind,
                "executor": draw(texts),
                "model": draw(texts),
                "task_title": draw(texts),
                "task_description": draw(st.sampled_from([None, "", "  ", "fix the bug"])),
                "prompt_type": draw(st.sampled_from([None, "initial", "retry"])),
                "tool_name": draw(st.sampled_from([None, "", "Bash", "Edit"])),
                "tool_params": draw(st.sampled_from([None, '{"c":"ls"}', '{"c":"pwd"}'])),
                "success": draw(st.sampled_from([None, True, False])),
                "error_category": draw(st.sampled_from([None, "", "git", "task", "weird"])),
                "error_fingerprint": draw(st.sampled_from([None, "", "fp"])),
                "error_message": draw(st.sampled_from([None, "", "boom " * 20])),
                "new_status": draw(st.sampled_from([None, "done", "working"])),
                "data": draw(st.sampled_from([None, "{}", '{"prompt_variant":"B"}'])),
                "prompt": draw(st.sampled_from([None, "", "do it now"])),
            }
        )
    schema = {c: pl.String() for c in EVENT_COLUMNS} | {
        "timestamp": pl.Datetime("us", "UTC"),
        "success": pl.Boolean(),
    }
    frame = pl.DataFrame(rows, schema=schema)
    cut = draw(st.integers(0, frame.height))
    return [frame.slice(0, cut), frame.slice(cut)]


@settings(max_examples=150, deadline=None)
@given(event_batches())
def test_any_rows_in_two_batches(batches: list[pl.DataFrame]) -> None:
    same_after(batches)


def test_a_frame_without_some_columns() -> None:
    """The detector job's frames may lack a column (no tool call yet, no payload): nulls of no type."""
    frame = pl.DataFrame(
        {
            "timestamp": [datetime(2026, 3, 2, tzinfo=UTC)] * 2,
            "attempt_id": ["a", "a"],
            "event_type": ["session_start", "error"],
            "error_message": [None, "boom"],
        }
    )
    same_after([frame])


@settings(max_examples=100, deadline=None)
@given(event_batches())
def test_a_batch_in_time_order_is_fed_as_the_sorted_one(batches: list[pl.DataFrame]) -> None:
    """A batch already in time order skips event_rows' sort (the live case): the attempts touched
    and the prefixes come out the same, in the same order, as from the batch sorted by attempt (no
    longer in time order, so sorted again), ties in time included."""
    in_time = pl.concat(batches).sort("timestamp", maintain_order=True)
    by_attempt = in_time.sort("attempt_id", maintain_order=True)
    ours: dict[str, Prefix] = {}
    theirs: dict[str, Prefix] = {}
    got, want = feed(ours, in_time), feed(theirs, by_attempt)
    assert list(got[0].items()) == list(want[0].items())
    assert got[1:] == want[1:]
    assert [(a, dataclasses.asdict(p)) for a, p in ours.items()] == [
        (a, dataclasses.asdict(p)) for a, p in theirs.items()
    ]
