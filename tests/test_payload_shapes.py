"""Both shapes of every payload read alike, and events inherit their attempt's context.

The original PowerShell logger (``virtengine/virtengine``,
``scripts/codex-monitor/lib/agent-work-logger.ps1``) writes a follow-up as ``data.prompt`` +
``data.followup_reason`` (``Write-AgentFollowup``) and fills task, executor and model from the
session's memory; the design document (``docs/agent-work-logging-design.md``) describes
``tool_result`` as ``data.result`` ("success" | "error") + ``data.result_data``, and its
``Write-AgentWorkLog`` writes events with ``attempt_id`` only. The lines below are in those
shapes, beside ours.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_pipelines.analytics import errors, insights, metrics
from agent_pipelines.core.cleaned import clean_days
from agent_pipelines.core.contract import PAYLOAD_ALIASES, canonical_payload
from agent_pipelines.core.inherit import ContextCarry, inherit_context
from agent_pipelines.core.reader import dedupe, read_logs
from agent_pipelines.core.reader.blocks import parse_block
from agent_pipelines.orchestration.io_manager import tables_dir, write_parquet
from agent_pipelines.orchestration.partitions import register_partitions
from assets.analytics import analytics_assets, build_resources
from assets.events import DAILY_ASSETS

START = {"timestamp": "2026-02-09T14:00:00.000Z", "attempt_id": "ve-1", "task_id": "task-1",
         "task_title": "Export report", "executor": "CODEX", "model": "gpt-5", "branch": "ve/1",
         "event_type": "session_start", "data": {"prompt_type": "initial", "prompt": "Do it"}}  # fmt: skip


def line(minute: int, event_type: str, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A bare line as other writers write it: attempt_id only, no task or executor."""
    return {"timestamp": f"2026-02-09T14:{minute:02d}:00.000Z", "attempt_id": "ve-1",
            "event_type": event_type, "data": data, **fields}  # fmt: skip


def end(minute: int, status: str = "failed") -> dict[str, Any]:
    return line(minute, "session_end", {"completion_status": status, "duration_ms": minute * 60_000})


def read(
    tmp_path: Path, records: list[dict[str, Any]], name: str = "agent-work-stream.jsonl"
) -> pl.DataFrame:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = read_logs(tmp_path)
    assert result.quarantine.height == 0, result.quarantine.to_dicts()
    return dedupe(result.events)


# --------------------------------------------------------------------------------------------
# One test per shape
# --------------------------------------------------------------------------------------------


def test_a_followup_in_the_original_loggers_shape_reads_as_ours(tmp_path: Path) -> None:
    theirs = read(
        tmp_path / "a",
        [START, line(1, "followup_sent", {"prompt": "Also add CSV", "followup_reason": "new requirement"})],
    )
    ours = read(
        tmp_path / "b",
        [START, line(1, "followup_sent", {"message": "Also add CSV", "reason": "new requirement"})],
    )
    cols = ["event_type", "message", "reason"]
    assert theirs.select(cols).rows() == ours.select(cols).rows()
    assert theirs.filter(pl.col("event_type") == "followup_sent").select(cols).row(0) == (
        "followup_sent", "Also add CSV", "new requirement"
    )  # fmt: skip
    # their fields are kept where they were
    row = theirs.filter(pl.col("event_type") == "followup_sent").row(0, named=True)
    assert (row["prompt"], row["followup_reason"]) == ("Also add CSV", "new requirement")


def test_a_tool_result_in_the_design_docs_shape_reads_as_ours(tmp_path: Path) -> None:
    theirs = read(tmp_path / "a", [
        START,
        line(1, "tool_result", {"tool_name": "Bash", "result": "error", "result_data": "exit 1: failed"}),
        line(2, "tool_result", {"tool_name": "Edit", "result": "success", "result_data": "ok"}),
        line(3, "tool_result", {"tool_name": "Read", "result": "partial"}),  # not theirs: unknown
    ])  # fmt: skip
    ours = read(tmp_path / "b", [
        START,
        line(1, "tool_result", {"tool_name": "Bash", "success": False, "exit_code": 1}),
        line(2, "tool_result", {"tool_name": "Edit", "success": True}),
        line(3, "tool_result", {"tool_name": "Read"}),
    ])  # fmt: skip
    pick = pl.col("event_type") == "tool_result"
    assert (
        theirs.filter(pick)["success"].to_list()
        == ours.filter(pick)["success"].to_list()
        == [False, True, None]
    )
    kept = json.loads(theirs.filter(pick)["data"][0])
    assert kept["result_data"] == "exit 1: failed" and kept["result"] == "error"


def test_ours_wins_when_a_line_carries_both_shapes(tmp_path: Path) -> None:
    both = read(tmp_path, [
        line(1, "followup_sent", {"message": "ours", "reason": "ours_r",
                                  "prompt": "theirs", "followup_reason": "theirs_r"}),
        line(2, "tool_result", {"tool_name": "Bash", "success": True, "result": "error"}),
    ])  # fmt: skip
    assert both.select("message", "reason").row(0) == ("ours", "ours_r")
    assert both["success"].to_list() == [None, True]


def test_an_alias_applies_only_to_its_event_type(tmp_path: Path) -> None:
    # session_start's prompt and followup_reason are its own fields, not a follow-up's message
    events = read(
        tmp_path, [{**START, "data": {"prompt_type": "followup", "prompt": "p", "followup_reason": "r"}}]
    )
    assert events.select("message", "reason").row(0) == (None, None)


texts = st.sampled_from(["success", "error", "x", "new requirement", "also add CSV"])


@given(
    event_type=st.sampled_from(["followup_sent", "tool_result", "session_start", "status_change"]),
    text_fields=st.dictionaries(
        st.sampled_from(["message", "reason", "prompt", "followup_reason", "result"]), texts
    ),
    success=st.one_of(st.none(), st.booleans()),
)
def test_python_and_the_reader_apply_the_same_table(
    event_type: str, text_fields: dict[str, str], success: bool | None
) -> None:
    """``canonical_payload`` (Python, e.g. the logger's summary) and the reader's expressions agree."""
    data: dict[str, Any] = dict(text_fields)
    if success is not None:
        data["success"] = success
    data |= {"session_start": {"prompt_type": "initial"}, "tool_result": {"tool_name": "Bash"},
             "status_change": {"new_status": "done"}}.get(event_type, {})  # fmt: skip
    record = {
        "timestamp": "2026-02-09T14:00:00.000Z",
        "attempt_id": "a",
        "event_type": event_type,
        "data": data,
    }
    events, bad = parse_block((json.dumps(record) + "\n").encode(), "x.jsonl", 1, 0, 1 << 20)
    assert not bad and events.height == 1
    expected = canonical_payload(event_type, data)
    row = events.row(0, named=True)
    for ours in dict.fromkeys(a.ours for a in PAYLOAD_ALIASES):
        assert row[ours] == expected.get(ours), (ours, data)


# --------------------------------------------------------------------------------------------
# The original's follow-ups give the same planning advice as ours
# --------------------------------------------------------------------------------------------


def planning(events: pl.DataFrame) -> pl.DataFrame:
    sessions = metrics.session_metrics(events)
    return insights.task_planning_insights(sessions, errors.error_occurrences(events), events)


@pytest.mark.parametrize("context", [True, False], ids=["with-task-id", "attempt-id-only"])
def test_a_new_requirement_followup_in_either_shape_raises_scope_creep(tmp_path: Path, context: bool) -> None:
    fields = {k: START[k] for k in ("task_id", "executor", "model")} if context else {}
    theirs = [
        START,
        line(
            5, "followup_sent", {"prompt": "Also export CSV", "followup_reason": "new requirement"}, **fields
        ),
        end(9),
    ]
    ours = [
        START,
        line(5, "followup_sent", {"message": "Also export CSV", "reason": "new requirement"}, **fields),
        end(9),
    ]
    a = planning(read(tmp_path / "a", theirs))
    b = planning(read(tmp_path / "b", ours))
    cols = ["task_id", "rule", "evidence"]
    assert a.select(cols).rows() == b.select(cols).rows()
    assert ("task-1", "scope_creep") in a.select("task_id", "rule").rows()
    assert "scope follow-ups: 1" in a.filter(pl.col("rule") == "scope_creep")["evidence"][0]


# --------------------------------------------------------------------------------------------
# Inheritance from the attempt's session start
# --------------------------------------------------------------------------------------------


def six_bare_followups() -> list[dict[str, Any]]:
    reasons = [
        line(1 + i, "followup_sent", {"prompt": f"And {i}", "followup_reason": "new requirement"})
        for i in range(6)
    ]
    return [
        START,
        *reasons,
        line(8, "error", {"error_message": "boom", "error_category": "dependency"}),
        end(9),
    ]


def test_six_followups_without_task_id_count_for_their_task(tmp_path: Path) -> None:
    events = read(tmp_path, six_bare_followups())
    found = planning(events)
    scope = found.filter(pl.col("rule") == "scope_creep")
    assert scope["task_id"].to_list() == ["task-1"]
    assert "scope follow-ups: 6, follow-ups: 6" in scope["evidence"][0]
    # errors too: the error's task and executor are its attempt's
    occurrences = errors.error_occurrences(events)
    assert occurrences.select("task_id", "executor", "model").row(0) == ("task-1", "CODEX", "gpt-5")
    assert ("task-1", "missing_dependency_setup") in found.select("task_id", "rule").rows()


def test_the_latest_session_start_speaks_and_an_events_own_field_wins() -> None:
    frame = pl.DataFrame({
        "attempt_id": ["a", "a", "a", "a", "a", "b"],
        "event_type": ["error", "session_start", "followup_sent", "session_start", "error", "error"],
        "timestamp": [0, 1, 2, 3, 4, 5],
        "model": [None, "m1", None, "m2", None, None],
        "executor": [None, "X", "own", None, None, None],
    })  # fmt: skip
    out = inherit_context(frame)
    # before any start: the attempt's first; after a restart with another model: the new one
    assert out["model"].to_list() == ["m1", "m1", "m1", "m2", "m2", None]
    assert out["executor"].to_list() == ["X", "X", "own", "X", "X", None]


def test_context_carries_across_blocks() -> None:
    carry = ContextCarry()
    first = pl.DataFrame({"attempt_id": ["a"], "event_type": ["session_start"], "timestamp": [1],
                          "task_id": ["t"], "executor": ["X"]})  # fmt: skip
    second = pl.DataFrame(
        {"attempt_id": ["a", "z"], "event_type": ["followup_sent"] * 2, "timestamp": [2, 3],
         "task_id": [None, None], "executor": [None, None]},
        schema_overrides={"task_id": pl.String, "executor": pl.String},
    )  # fmt: skip
    carry(first)
    assert carry(second).select("task_id", "executor").rows() == [("t", "X"), (None, None)]


def test_cleaned_events_inherit_across_days_and_a_later_days_run_still_counts(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    day1 = [START, line(30, "followup_sent", {"prompt": "a", "followup_reason": "new requirement"})]
    day2 = [{**line(0, "followup_sent", {"prompt": f"b{i}", "followup_reason": "new requirement"}),
             "timestamp": f"2026-02-10T09:0{i}:00.000Z"} for i in range(5)]  # fmt: skip
    day2.append({**end(0), "timestamp": "2026-02-10T10:00:00.000Z"})
    for day, records in (("2026-02-09", day1), ("2026-02-10", day2)):
        path = logs / "stream" / f"{day}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    days = [date(2026, 2, 9), date(2026, 2, 10)]

    def run(which: list[date], out: Path) -> pl.DataFrame:
        def write(day: date, rows: pl.LazyFrame) -> int:
            write_parquet(rows, out / f"{day}.parquet")
            return 0

        list(clean_days(logs, which, write, final_before=date(2027, 1, 1)))
        return pl.concat([pl.read_parquet(out / f"{d}.parquet") for d in which])

    both = run(days, tmp_path / "both")
    assert both["task_id"].null_count() == 0 and set(both["executor"]) == {"CODEX"}
    # A run of the second day alone cannot see the session start: the insights take the task
    # from the sessions (which span every day).
    alone = run([days[1]], tmp_path / "alone")
    assert alone["task_id"].null_count() == alone.height
    day_one = pl.read_parquet(tmp_path / "both" / "2026-02-09.parquet")
    events = pl.concat([day_one, alone])
    scope = planning(events).filter(pl.col("rule") == "scope_creep")
    assert "scope follow-ups: 6" in scope["evidence"][0]


def test_a_carry_loads_what_came_before_only_when_a_line_needs_it() -> None:
    calls: list[int] = []

    def earlier() -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"attempt_id": ["a"], "task_id": ["t"], "executor": ["X"]})

    full = pl.DataFrame({"attempt_id": ["a"], "event_type": ["error"], "timestamp": [1], "task_id": ["t"],
                         "executor": ["X"]})  # fmt: skip
    carry = ContextCarry(earlier)
    assert carry(full).equals(full) and not calls  # lines that carry their context never pay for it
    bare = full.with_columns(
        pl.lit(None, pl.String).alias("task_id"), pl.lit(None, pl.String).alias("executor")
    )
    assert carry(bare).select("task_id", "executor").row(0) == ("t", "X") and calls == [1]
    carry(bare)
    assert calls == [1]  # loaded once


def test_todays_partition_cleaned_alone_inherits_from_the_day_before(tmp_path: Path) -> None:
    """The usual incremental run: yesterday's partition is stored, today's is cleaned on its own, and
    a follow-up after midnight written without its task still belongs to yesterday's session."""
    logs, data = tmp_path / "logs", tmp_path / "data"
    followup = line(0, "followup_sent", {"prompt": "also CSV", "followup_reason": "new requirement"})
    after_midnight = {**followup, "timestamp": "2026-02-10T00:30:00.000Z"}
    for day, records in (("2026-02-09", [START]), ("2026-02-10", [after_midnight])):
        path = logs / "stream" / f"{day}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assets, checks = analytics_assets()
    with dg.instance_for_test() as instance:
        register_partitions(instance, [date(2026, 2, 9), date(2026, 2, 10)])
        for day in ("2026-02-09", "2026-02-10"):  # one run per day, as the sensor does
            resources = build_resources(str(logs), str(data))
            run = dg.materialize(
                [*assets, *checks],
                selection=DAILY_ASSETS,
                partition_key=day,
                instance=instance,
                resources=resources,
            )
            assert run.success
    today = pl.read_parquet(next((tables_dir(data) / "cleaned_events").rglob("2026-02-10*.parquet")))
    assert today.select("task_id", "executor", "model", "branch").row(0) == (
        "task-1",
        "CODEX",
        "gpt-5",
        "ve/1",
    )


def test_errors_without_their_task_count_for_it_from_the_sessions(tmp_path: Path) -> None:
    """Error occurrences of a day whose session start is on another day carry no task; the planning
    heuristics take it from the sessions, which span every day."""
    events = read(tmp_path, six_bare_followups())
    day_errors = errors.error_occurrences(events.filter(pl.col("event_type") != "session_start"))
    assert day_errors["task_id"].to_list() == [None]
    found = insights.task_planning_insights(metrics.session_metrics(events), day_errors, events)
    assert ("task-1", "missing_dependency_setup") in found.select("task_id", "rule").rows()
