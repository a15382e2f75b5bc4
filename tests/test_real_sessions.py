"""Real public sessions (tests/data/real_sessions, sources in its README.md) through the importers
and the live detectors: counted as the reference counter (ccusage) counts them, and quiet while
their agent waits for its person after a finished turn (issue 21's idle-after-turn gap)."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_import_shapes import CODEX_CALLS, ccusage_claude_tokens, ccusage_codex, events_in, lines

from agent_pipelines.core.reader import read_logs
from agent_pipelines.core.tailer import Cursor, read_new
from agent_pipelines.ingest.importers import SOURCES, run_import
from agent_pipelines.live.detectors import Thresholds, detect
from agent_pipelines.live.state import DetectorState

REAL = Path(__file__).parent / "data" / "real_sessions"
LAST_TURN_END = datetime(2026, 6, 5, 4, 58, 27, tzinfo=UTC)  # the newest session's last turn


def _import(tmp_path: Path, now: datetime) -> tuple[Path, int, int]:
    """Import a copy of both sources; (logs folder, codex tokens, claude tokens)."""
    root = tmp_path / "real"
    shutil.copytree(REAL, root)
    logs, data = tmp_path / "logs", tmp_path / "data"
    codex = run_import(SOURCES["codex"], [root / "codex" / "sessions"], logs_dir=logs, data_dir=data, now=now)
    claude = run_import(SOURCES["claude-code"], [root / "claude"], logs_dir=logs, data_dir=data, now=now)
    assert not codex.quarantined and not claude.quarantined
    return logs, codex.tokens, claude.tokens


def test_real_sessions_count_tokens_and_tool_calls_as_ccusage(tmp_path: Path) -> None:
    logs, codex_tokens, claude_tokens = _import(tmp_path, LAST_TURN_END + timedelta(hours=1))
    codex_files = sorted((REAL / "codex").rglob("*.jsonl"))
    claude_files = sorted((REAL / "claude").rglob("*.jsonl"))
    ref_sessions, ref_tokens, ref_calls = ccusage_codex(codex_files)
    assert (ref_sessions, ref_tokens) == (1, 22_539 + 10)
    assert codex_tokens == ref_tokens
    assert claude_tokens == ccusage_claude_tokens(claude_files)
    assert claude_tokens > 6 + 1045 + 3057 + 16  # the SDK turn and the four-turn session
    claude_calls = sum(
        1
        for r in (rec for f in claude_files for rec in lines(f))
        for block in (r.get("message") or {}).get("content") or []
        if isinstance(block, dict) and block.get("type") == "tool_use"
    )
    events = events_in(logs)
    assert Counter(e["event_type"] for e in events)["tool_call"] == ref_calls + claude_calls == 4
    calls = [e["data"]["tool_name"] for e in events if e["event_type"] == "tool_call"]
    assert calls == ["Bash", "Write", "Read", "Bash"]
    results = [e["data"]["success"] for e in events if e["event_type"] == "tool_result"]
    assert results == [True, True, True, False]  # `cat nonexistent.txt` failed
    assert not CODEX_CALLS & {r.get("payload", {}).get("type") for f in codex_files for r in lines(f)}
    ends = {e["attempt_id"]: e["data"] for e in events if e["event_type"] == "session_end"}
    per_file = [ccusage_claude_tokens([f]) for f in claude_files] + [codex_tokens]
    assert sorted(d["total_tokens"] for d in ends.values()) == sorted(per_file)  # one end per session
    assert {d["completion_status"] for d in ends.values()} == {"success"}
    assert read_logs(logs).quarantine.height == 0


@pytest.mark.parametrize("idle", [timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6)])
def test_real_sessions_waiting_after_their_turn_raise_no_loop_and_no_stuck_agent(
    tmp_path: Path, idle: timedelta
) -> None:
    now = LAST_TURN_END + idle
    logs, _codex, _claude = _import(tmp_path, now)
    state = DetectorState()
    new = read_new(logs, Cursor.from_json(state.cursor))
    alerts = detect(new.result.events, state, Thresholds(), now_ms=int(now.timestamp() * 1000))
    assert [a for a in alerts if a["type"] in ("tool_loop", "stuck_agent")] == []
