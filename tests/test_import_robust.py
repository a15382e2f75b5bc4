"""Whatever a transcript holds, the import goes on: no line stops it, every bad line is kept."""

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
    st.integers(-5, 10**6),
    st.text(max_size=12),
    st.sampled_from(["2026-03-02T10:00:00.000Z", "../../etc", "", "user", "assistant"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
CLAUDE_KEYS = [
    "type",
    "sessionId",
    "timestamp",
    "uuid",
    "message",
    "isSidechain",
    "requestId",
    "toolUseResult",
]
CODEX_KEYS = ["type", "timestamp", "payload"]


def records(keys: list[str]) -> st.SearchStrategy[bytes]:
    record = st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))
    line = st.one_of(
        record.map(lambda r: json.dumps(r).encode()), st.binary(max_size=40).filter(lambda b: b"\n" not in b)
    )
    return st.lists(line, max_size=12).map(lambda lines: b"".join(x + b"\n" for x in lines))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claude=records(CLAUDE_KEYS), codex=records(CODEX_KEYS))
def test_any_lines_import_without_crashing_and_write_only_valid_events(claude: bytes, codex: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "cc").mkdir()
        (root / "cc" / "s.jsonl").write_bytes(claude)
        (root / "cx").mkdir()
        (root / "cx" / "rollout-x.jsonl").write_bytes(codex)
        for source, folder in (("claude-code", "cc"), ("codex", "cx")):
            report = run_import(
                SOURCES[source], [root / folder], logs_dir=root / "logs", data_dir=root / "data", now=NOW
            )
            assert report.bytes_read == (root / folder).stat().st_size or report.bytes_read == len(
                claude if source == "claude-code" else codex
            )
        if (root / "logs").exists():
            assert read_logs(root / "logs").quarantine.height == 0  # what we write always passes the contract


def test_codex_record_kinds_of_any_json_type_are_judged_not_raised(tmp_path: Path) -> None:
    """A record kind that is a list or an object (not a string) in a well-timed record: found by the
    reader fuzz test (``TypeError: unhashable type: 'list'`` in the plain-record shortcut); the
    import goes on and the rest of the rollout lands."""
    ts = "2026-03-02T10:00:00.000Z"
    lines = [
        {"timestamp": ts, "type": "session_meta", "payload": {"id": "odd-kinds", "cwd": "/w"}},
        {"timestamp": ts, "type": "event_msg", "payload": {"type": ["token_count"]}},
        {"timestamp": ts, "type": "event_msg", "payload": {"type": {"a": 1}}},
        {"timestamp": ts, "type": ["event_msg"], "payload": {"type": "token_count"}},
        {"timestamp": ts, "type": "event_msg", "payload": {"type": "user_message", "message": "hi"}},
    ]
    folder = tmp_path / "cx"
    folder.mkdir()
    (folder / "rollout-odd.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    for fast in (True, False):
        logs = tmp_path / f"logs-{fast}"
        report = run_import(
            type(SOURCES["codex"])(fast=fast),
            [folder],
            logs_dir=logs,
            data_dir=tmp_path / f"d-{fast}",
            now=NOW,
        )
        assert report.records == len(lines)
        events = read_logs(logs).events
        assert "session_start" in events["event_type"].to_list()
