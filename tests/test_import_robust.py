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
