"""The Codex import's fast path writes exactly what the reference path writes.

``Codex()`` takes the shortcuts (records whose handling reads no text are not screened for secrets,
event lines are built from a per-session prefix); ``Codex(fast=False)`` handles every record the
reference way. Both must leave the same log folder, quarantine, import state and report for every
rollout: the fixtures of the other import tests, the benchmark's generators, and generated rollouts
of any record order, repeats, missing fields, odd types and secrets.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shape_fixtures import write_codex_shapes
from transcript_fixtures import write_codex_home

from agent_pipelines.core.contract import parse_timestamp
from agent_pipelines.core.logger import build_event
from agent_pipelines.core.writer import serialize
from agent_pipelines.ingest.importers import run_import
from agent_pipelines.ingest.importers.codex import Codex
from agent_pipelines.ingest.importers.decoding import loads_text
from agent_pipelines.ingest.importers.lines import Prefixes, dumps, event_line, event_time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_import

NOW = datetime(2026, 6, 1, tzinfo=UTC)
REAL = Path(__file__).parent / "data" / "real_sessions" / "codex"


def snapshot(roots: list[Path], fast: bool, work: Path) -> dict[str, Any]:
    """Everything one import from a fresh state leaves behind (one process: the pool has its own test)."""
    logs, data = work / "logs", work / "data"
    report = run_import(Codex(fast=fast), roots, logs_dir=logs, data_dir=data, now=NOW, workers=1).to_json()
    report.pop("seconds")
    files = {str(p.relative_to(logs)): p.read_bytes() for p in sorted(logs.rglob("*")) if p.is_file()}
    quarantine = {
        p.name: sorted(
            json.dumps({k: v for k, v in json.loads(line).items() if k != "quarantined_at"}, sort_keys=True)
            for line in p.read_text().splitlines()
        )
        for p in sorted((data / "quarantine").rglob("*.jsonl"))
    }
    (db,) = (data / "state").glob("*.sqlite")
    with sqlite3.connect(db) as con:
        state = {
            "sessions": {k: json.loads(v) for k, v in con.execute("SELECT id, state FROM sessions")},
            "seen": sorted(h for (h,) in con.execute("SELECT h FROM seen")),
            "files": sorted(con.execute("SELECT path, offset, line, session FROM files")),
        }
    return {"report": report, "files": files, "quarantine": quarantine, "state": state}


def assert_alike(roots: list[Path]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        fast, reference = snapshot(roots, True, Path(a)), snapshot(roots, False, Path(b))
    for part in ("files", "quarantine", "state", "report"):
        assert fast[part] == reference[part], part
    return fast


def test_fixture_rollouts_import_alike(tmp_path: Path) -> None:
    shapes = write_codex_shapes(tmp_path / "shapes")
    home = write_codex_home(tmp_path / "home")
    out = assert_alike([REAL, shapes, home])
    assert out["report"]["events"] > 20 and out["report"]["tokens"] > 0


def test_generated_rollouts_import_alike(tmp_path: Path) -> None:
    """The benchmark's rollouts, whose prompts and answers hold words the secret screen flags."""
    rng = random.Random(3)
    for index in range(3):
        for make, name in ((bench_import.codex_session, "g"), (bench_import.real_codex_session, "r")):
            lines = "".join(bench_import._line(r) for r in make(rng, index, 4))
            (tmp_path / f"rollout-{name}{index}.jsonl").write_text(lines)
    out = assert_alike([tmp_path])
    assert out["report"]["sessions_touched"] == 6


# -- generated rollouts --------------------------------------------------------------------------

SECRETS = ["sk-ant-api03-" + "x" * 30, "token: abc", "password=hunter2", "ghp_" + "a" * 36, "plain words"]
odd = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**13), st.floats(allow_nan=False), st.text(max_size=5)
)
text = st.one_of(st.sampled_from(SECRETS), st.text(max_size=20))
stamp = st.one_of(
    st.integers(0, 500).map(lambda s: f"2026-03-02T10:{s // 60:02d}:{s % 60:02d}.{s % 7:03d}Z"),
    st.sampled_from(["2026-03-02T10:00:00Z", "2026-03-02T10:00:00.5+02:00", "yesterday", "", "2026-03-02"]),
    odd,
)
usage = st.one_of(
    st.none(),
    odd,
    st.fixed_dictionaries(
        {},
        optional={
            k: st.one_of(st.integers(0, 5000), odd)
            for k in ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
        },
    ),
)
call_id = st.one_of(st.sampled_from(["c1", "c2", "c3"]), odd)
payloads = st.one_of(
    st.fixed_dictionaries({"type": st.just("user_message"), "message": st.one_of(text, odd)}),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["agent_message", "task_complete", "task_started"])},
        optional={"message": text, "last_agent_message": text, "token": text},
    ),
    st.fixed_dictionaries(
        {"type": st.just("token_count")},
        optional={
            "info": st.one_of(
                odd,
                st.fixed_dictionaries({}, optional={"total_token_usage": usage, "last_token_usage": usage}),
            )
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["turn_aborted", "error", "stream_error", "agent_reasoning", "mystery"])},
        optional={"reason": st.one_of(text, odd), "message": st.one_of(text, odd)},
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["function_call", "custom_tool_call", "local_shell_call"]),
            "call_id": call_id,
        },
        optional={
            "name": st.one_of(text, odd),
            "arguments": st.one_of(text, odd),
            "input": text,
            "action": odd,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["function_call_output", "custom_tool_call_output"]), "call_id": call_id},
        optional={
            "output": st.one_of(
                text,
                odd,
                st.builds(lambda t, c: json.dumps({"output": t, "metadata": {"exit_code": c}}), text, odd),
                st.fixed_dictionaries({}, optional={"content": text, "success": odd}),
            )
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "web_search_call", "reasoning"])},
        optional={
            "role": st.sampled_from(["assistant", "user", "sk-" + "k" * 22]),
            "id": call_id,
            "status": odd,
        },
    ),
    st.fixed_dictionaries({}, optional={"model": st.one_of(text, odd), "cwd": st.one_of(text, odd)}),
)
records = st.one_of(
    st.builds(
        lambda ts, kind, p: {"timestamp": ts, "type": kind, "payload": p},
        stamp,
        st.sampled_from(["event_msg", "response_item", "turn_context", "compacted", "other"]),
        payloads,
    ),
    st.builds(
        lambda ts, sid, cwd: {"timestamp": ts, "type": "session_meta", "payload": {"id": sid, "cwd": cwd}},
        stamp,
        st.sampled_from(["0199c0de-0000-7000-8000-0000000000aa", "0199c0de-0000-7000-8000-0000000000bb", 5]),
        text,
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.lists(records, max_size=25),
    second=st.lists(records, max_size=12),
    repeat=st.booleans(),
    named=st.booleans(),
)
def test_any_rollout_imports_alike(
    first: list[dict[str, Any]], second: list[dict[str, Any]], repeat: bool, named: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "in"
        root.mkdir()
        name = "rollout-2026-03-02T10-00-00-0199c0de-0000-7000-8000-0000000000aa" if named else "rollout-x"
        lines = [json.dumps(r) for r in first] + (["not json", ""] if repeat else [])
        if repeat:
            lines += lines[: len(lines) // 2]  # a record written twice
        (root / f"{name}.jsonl").write_text("".join(line + "\n" for line in lines))
        (root / "rollout-y.jsonl").write_text("".join(json.dumps(r) + "\n" for r in second))
        assert_alike([root])


# -- event lines -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
context_names = st.sampled_from(
    [
        "session_id",
        "task_id",
        "task_title",
        "project_id",
        "executor",
        "executor_variant",
        "model",
        "branch",
        "x",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    ts=st.one_of(
        st.datetimes(
            min_value=datetime(1000, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
        ).map(lambda d: d.isoformat()),
        st.sampled_from(["2026-03-02T10:00:00.123Z", "2026-03-02T10:00:00Z", "2026-03-02 10:00:00.5-03:00"]),
    ),
    attempt=st.text(min_size=1, max_size=10),
    contexts=st.lists(st.dictionaries(context_names, st.one_of(st.none(), st.text(max_size=8))), max_size=3),
    event_type=st.sampled_from(["tool_call", "error", "status_change", "followup_sent"]),
    data=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    elapsed=st.integers(0, 10**12),
)
def test_event_lines_are_the_logger_s(
    ts: str, attempt: str, contexts: list[dict[str, Any]], event_type: str, data: dict[str, Any], elapsed: int
) -> None:
    prefixes = Prefixes()
    for context in [*contexts, {}]:  # the prefix follows every change of the context
        expected = serialize(
            build_event(
                event_type,
                attempt,
                data,
                context,
                timestamp=parse_timestamp(ts),
                elapsed_ms=elapsed,
                check=False,
            )
        )
        line = event_line(event_time(ts), prefixes.get(attempt, context), event_type, data, elapsed)
        assert line == expected
    assert dumps(data) == serialize(data)


json_texts = st.one_of(
    st.text(max_size=30),
    json_values.map(json.dumps),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.sampled_from(
        ["NaN", "[Infinity]", "1e400", "-0", " {} ", "\ufeff{}", '"\\ud800"', "[" * 600 + "]" * 600]
    ),
    st.builds(lambda n: str(n), st.integers(-(10**30), 10**30)),
)


@settings(max_examples=300, deadline=None)
@given(text=json_texts)
def test_json_in_records_decodes_as_json_loads(text: str) -> None:
    def outcome(loads: Any) -> str:
        try:
            return repr(loads(text))
        except (ValueError, RecursionError) as exc:
            return type(exc).__name__

    assert outcome(loads_text) == outcome(json.loads)


def test_a_nan_inside_tool_arguments_is_quarantined_and_the_import_goes_on(tmp_path: Path) -> None:
    """JSON inside a string may hold NaN (json.loads takes it); no event may carry it. It used to stop
    the whole import when the pass wrote its events (ValueError out of run_import)."""
    sid = "0199c0de-0000-7000-8000-0000000000aa"
    records = [
        {
            "timestamp": "2026-03-02T10:00:00.000Z",
            "type": "session_meta",
            "payload": {"id": sid, "cwd": "/x"},
        },
        {
            "timestamp": "2026-03-02T10:00:01.000Z",
            "type": "event_msg",
            "payload": {"type": "user_message", "message": "hi"},
        },
        {
            "timestamp": "2026-03-02T10:00:02.000Z",
            "type": "response_item",
            "payload": {"type": "function_call", "name": "shell", "call_id": "c1", "arguments": '{"a": NaN}'},
        },
        {"timestamp": "2026-03-02T10:00:03.000Z", "type": "event_msg", "payload": {"type": "agent_message"}},
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rollout-n.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    out = assert_alike([tmp_path / "in"])
    assert out["report"]["quarantined"] == {"wrong_type": 1}
    assert out["report"]["events_by_type"]["session_start"] == 1
