"""The reader's screens change what it costs, never what it finds: a block read with the screens (rules
skipped on rows a count proves cannot break them, rules run over distinct values, the duplicate-key
count screened) gives the same events and the same quarantine as every rule run on every row, and
each line gets the verdict of the contract in Python.

Lines are built to hit the screens' edges: objects and lists in fields that must be scalars (top
level and payload), brackets and colons inside strings, unsafe ids, unknown event types, ``data``
that is not an object, keys written twice, mixed in one block with ordinary lines.
"""

from __future__ import annotations

import copy
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_pipelines.core.contract import EVENT_TYPES, MAX_LINE_BYTES
from agent_pipelines.core.reader import check_line
from agent_pipelines.core.reader.blocks import parse_block

EXAMPLES = int(os.environ.get("AGENT_PIPELINES_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ORDINARY = {
    "timestamp": "2026-03-02T10:00:00.123Z",
    "attempt_id": "ve-1-a",
    "session_id": "sess-1",
    "task_id": "task-1",
    "task_title": "Fix it",
    "executor": "CODEX",
    "commits_ahead": 0,
    "event_type": "tool_call",
    "data": {"tool_name": "Bash", "tool_params": {"command": "ls"}},
    "elapsed_ms": 12,
}

# Values that sit on a screen's edge: brackets or colons inside strings, objects and lists where a
# scalar belongs, ids a path could be made of, text that only looks like a number.
TRICKY = st.sampled_from(
    [
        "plain",
        "a[b",
        "x{y}",
        "a:b:c",
        "[]",
        "..",
        "../x",
        "a/../b",
        "/abs",
        "\\win",
        "",
        "x" * 300,
        "tab\there",
        "del\x7f",
        "\x01",
        "12",
        "-3",
        "0.5",
        "true",
        "success",
        "initial",
        "2026-03-02T10:00:00Z",
        "2026-03-02 10:00:00+01:00",
        "2026-02-30T10:00:00Z",
        0,
        -1,
        1.5,
        10**20,
        True,
        None,
        {},
        {"a": 1},
        {"a": "x:y", "b": [1, {"c": 2}]},
        [],
        [1, "a:b"],
        [[{"k": 1}]],
    ]
).map(copy.deepcopy)  # a fresh copy per draw: event_line mutates what it draws (a shared dict could
# end up inside itself: "Circular reference detected" in json.dumps, seen once in CI)
TOP_KEYS = [*ORDINARY, "project_id", "model", "branch", "commits_behind", "extra_field"]
DATA_KEYS = [
    "tool_name",
    "tool_params",
    "outcome",
    "prompt_type",
    "prompt",
    "completion_status",
    "duration_ms",
    "total_tokens",
    "cost_usd",
    "error_message",
    "stack_trace",
    "success",
    "new_status",
    "reason",
    "exit_code",
]


@st.composite
def event_line(draw: st.DrawFn) -> bytes:
    obj: dict = json.loads(json.dumps(ORDINARY))
    obj["event_type"] = draw(st.sampled_from([*EVENT_TYPES, "bogus", 3]))
    for key in draw(st.lists(st.sampled_from(TOP_KEYS), max_size=3)):
        obj[key] = draw(TRICKY)
    data = draw(st.sampled_from(["object", "object", "object", "other"]))
    if data == "other":
        obj["data"] = draw(TRICKY)
    elif isinstance(obj["data"], dict):  # unless a tricky value took its place above
        for key in draw(st.lists(st.sampled_from(DATA_KEYS), max_size=4)):
            obj["data"][key] = draw(TRICKY)
    spaced = draw(st.booleans())
    text = json.dumps(
        obj, separators=(", ", ": ") if spaced else (",", ":"), ensure_ascii=draw(st.booleans())
    )
    if draw(st.integers(0, 5)) == 0:  # a key written twice, at the top or in data
        member = draw(st.sampled_from(['"attempt_id":"dup",', '"tool_name":"dup",', '"k":1,"k":2,']))
        braces = [i for i, c in enumerate(text) if c == "{"]
        at = braces[draw(st.integers(0, len(braces) - 1))] + 1
        text = text[:at] + member + text[at:]
    return text.encode()


@FUZZ
@given(lines=st.lists(event_line(), min_size=1, max_size=12), ordinary=st.integers(0, 40))
def test_screened_reading_equals_every_rule_on_every_row(lines: list[bytes], ordinary: int) -> None:
    lines = [json.dumps(ORDINARY).encode()] * ordinary + lines  # the screens clear these
    block = b"\n".join(lines) + b"\n"
    screened = parse_block(block, "t", 1, 0, MAX_LINE_BYTES)
    every_rule = parse_block(block, "t", 1, 0, MAX_LINE_BYTES, screen=False)
    assert screened[0].equals(every_rule[0])
    assert screened[1] == every_rule[1]
    events = set(screened[0]["line_number"].to_list())
    reasons = {r["line_number"]: r["reason"] for r in screened[1]}
    for number, line in enumerate(lines, 1):
        problem = check_line(line)
        if problem is None:
            assert number in events, (line, reasons.get(number))
        else:
            assert reasons.get(number) == problem[0].value, (line, problem)
