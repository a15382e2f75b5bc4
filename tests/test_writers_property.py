"""Our own writers never write a line our reader refuses (property tests), and a failed write leaves
nothing behind: the Python API and the ``log`` command either write a valid line or refuse with a
clear error, whatever the input."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_pipelines.cli import main as cli_main
from agent_pipelines.core.contract import EVENT_TYPES, ContractError
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import read_logs

EXAMPLES = int(os.environ.get("AGENT_PIPELINES_FUZZ_EXAMPLES", "40"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

hostile_text = st.text(alphabet=st.characters(codec=None, categories=None), max_size=40) | st.sampled_from(
    ["\t", "\x00", "\ud800", "\\", '"', "C:\\x\\", "😀", "\u2028", "", "../../etc"]
)
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | hostile_text
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3),
    max_leaves=12,
)
payload_keys = st.sampled_from(
    ["prompt_type", "prompt", "completion_status", "duration_ms", "cost_usd", "outcome", "error_message",
     "stack_trace", "tool_name", "tool_params", "success", "new_status", "reason", "extra"]
)  # fmt: skip
payloads = st.dictionaries(payload_keys | hostile_text, values, max_size=5)


def deep(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"k": value}
    return value


@PROPERTY
@given(
    event_type=st.sampled_from(EVENT_TYPES),
    attempt=hostile_text,
    data=payloads | st.builds(lambda d: {"tool_name": "x", "tool_params": deep(d)}, st.integers(50, 2000)),
    task=hostile_text | st.none(),
)
def test_python_api_writes_only_lines_the_reader_accepts(
    tmp_path_factory, event_type: str, attempt: str, data: dict, task: str | None
) -> None:
    root = tmp_path_factory.mktemp("api")
    logger = AgentWorkLogger(root, enabled=True)
    try:
        written = logger.log(event_type, attempt, data, {"task_id": task})
    except (ContractError, ValueError, TypeError):
        written = None  # refused before anything was written
    result = read_logs(root)
    assert result.quarantine.is_empty(), result.quarantine.rows(named=True)
    assert result.events.height == (1 if written else 0)
    for path in root.rglob("*.jsonl"):
        content = path.read_bytes()
        assert not content or content.endswith(b"\n")


@PROPERTY
@given(event_type=st.sampled_from(EVENT_TYPES), data=payloads, attempt=hostile_text)
def test_log_command_writes_only_lines_the_reader_accepts(
    tmp_path_factory, event_type: str, data: dict, attempt: str
) -> None:
    root = tmp_path_factory.mktemp("cli")
    text = json.dumps(data, ensure_ascii=True, allow_nan=True)
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        code = cli_main(
            ["log", event_type, f"--attempt-id={attempt or 'x'}", f"--data={text}", "--logs-dir", str(root)]
        )
    assert "Traceback" not in err.getvalue()
    if code != 0:
        assert err.getvalue().count("\n") == 1, err.getvalue()  # one clear line
    result = read_logs(root)
    assert result.quarantine.is_empty(), result.quarantine.rows(named=True)
    assert result.events.height == (1 if code == 0 else 0)
