"""Whatever a JSON document holds, the document importers go on and write only valid events."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_pipelines.core.reader import read_logs
from agent_pipelines.ingest.importers import SOURCES, run_import

NOW = datetime(2026, 6, 1, tzinfo=UTC)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    st.sampled_from(
        ["2026-03-02T10:00:00.000Z", "../../etc", "", "user", "gemini", "tool", "completed", "error"]
    ),
)
KEYS = [
    "sessionId",
    "messages",
    "id",
    "timestamp",
    "type",
    "content",
    "toolCalls",
    "tokens",
    "status",
    "sessionID",
    "role",
    "time",
    "created",
    "completed",
    "state",
    "trajectory",
    "info",
    "exit_status",
    "model_stats",
    "history",
    "action",
    "execution_time",
    "tool_calls",
    "function",
    "extra",
]
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=14,
)
PLACES = {
    "gemini-cli": "tmp/h/chats/session-1.json",
    "opencode": "storage/message/ses_x/msg_1.json",
    "swe-agent": "run/i/i.traj",
    "mini-swe-agent": "run/i/i.traj.json",
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=values, source=st.sampled_from(sorted(PLACES)))
def test_any_document_imports_without_crashing(doc: object, source: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "in" / PLACES[source]
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(doc))
        run_import(SOURCES[source], [root / "in"], logs_dir=root / "logs", data_dir=root / "data", now=NOW)
        if (root / "logs").exists():
            assert read_logs(root / "logs").quarantine.height == 0


records = st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=6), max_size=4)
ids = st.one_of(st.sampled_from(["4f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "../x", "", "ses_1"]), values)
times = st.one_of(st.integers(-(10**18), 10**18), st.floats(allow_nan=False), values)
SHAPED = {
    "gemini-cli": st.fixed_dictionaries({"sessionId": ids, "messages": records}),
    "opencode": st.fixed_dictionaries(
        {
            "id": ids,
            "sessionID": ids,
            "role": st.sampled_from(["user", "assistant", 3]),
            "time": st.fixed_dictionaries({"created": times, "completed": times}),
            "tokens": values,
            "error": values,
            "cost": values,
        }
    ),
    "swe-agent": st.fixed_dictionaries(
        {"trajectory": records, "info": st.dictionaries(st.sampled_from(KEYS), values), "history": records}
    ),
    "mini-swe-agent": st.fixed_dictionaries(
        {"messages": records, "info": st.dictionaries(st.sampled_from(KEYS), values)}
    ),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), source=st.sampled_from(sorted(SHAPED)))
def test_documents_of_the_right_outline_and_any_content_import_without_crashing(
    data: st.DataObject, source: str
) -> None:
    test_any_document_imports_without_crashing.hypothesis.inner_test(data.draw(SHAPED[source]), source)  # type: ignore[attr-defined]


COPILOT_TYPES = [
    "session.start",
    "user.message",
    "tool.execution_start",
    "tool.execution_complete",
    "abort",
    "assistant.message",
    "assistant.turn_end",
    "assistant.usage",
    "session.shutdown",
    "session.error",
    "x.y",
]
copilot_event = st.fixed_dictionaries(
    {
        "type": st.one_of(st.sampled_from(COPILOT_TYPES), values),
        "data": values,
        "id": ids,
        "timestamp": st.one_of(st.just("2026-03-02T10:00:00.000Z"), values),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(copilot_event, max_size=8))
def test_any_copilot_events_import_without_crashing(events: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "in" / "4f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b" / "events.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        run_import(
            SOURCES["copilot-cli"], [root / "in"], logs_dir=root / "logs", data_dir=root / "data", now=NOW
        )
        if (root / "logs").exists():
            assert read_logs(root / "logs").quarantine.height == 0
