"""Every shape the tools write, counted as the reference counter (ccusage) counts it.

The reference counters below follow ccusage's data loaders line by line (ryoppippi/ccusage):

* Claude Code (``apps/ccusage/src/data-loader.ts``): a line counts when ``timestamp`` and
  ``message.usage.input_tokens/output_tokens`` parse (``usageDataSchema``, no ``type`` needed);
  lines with a ``message.id`` are deduplicated by ``message.id:requestId`` (``createUniqueHash``),
  keeping the one with the most input + output tokens (``shouldReplaceExisting``); lines without
  an id are all counted.
* Codex (``apps/codex/src/data-loader.ts``): one session per file, named by its path; per
  ``event_msg`` ``token_count``, ``info.last_token_usage`` if present, else the growth of
  ``info.total_token_usage`` over the previous total; a zero delta is skipped; tokens are
  input (cached included) + output.

Tool calls are counted as the issue's reference does: Claude Code ``tool_use`` blocks (once per id),
Codex ``function_call``, ``custom_tool_call``, ``local_shell_call`` and ``web_search_call`` items.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shape_fixtures as sx

from agent_pipelines.core import paths
from agent_pipelines.core.reader import read_logs
from agent_pipelines.ingest.importers import SOURCES, run_import

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CODEX_CALLS = frozenset({"function_call", "custom_tool_call", "local_shell_call", "web_search_call"})


def events_in(logs: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((logs / paths.STREAM_DIR).glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for raw in path.read_text().splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def ccusage_claude_tokens(files: list[Path]) -> int:
    best: dict[str, tuple[int, int]] = {}  # hash -> (input + output, all tokens)
    loose = 0
    for path in files:
        for r in lines(path):
            message = r.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if not isinstance(r.get("timestamp"), str) or not isinstance(usage, dict):
                continue
            if not isinstance(usage.get("input_tokens"), int) or not isinstance(
                usage.get("output_tokens"), int
            ):
                continue
            tokens = sum(
                usage.get(k, 0)
                for k in (
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                )
            )
            msg_id = message.get("id")
            if msg_id is None:
                loose += tokens
                continue
            key = f"{msg_id}:{r['requestId']}" if r.get("requestId") is not None else msg_id
            size = usage["input_tokens"] + usage["output_tokens"]
            if key not in best or size > best[key][0]:
                best[key] = (size, tokens)
    return loose + sum(t for _size, t in best.values())


def ccusage_codex(files: list[Path]) -> tuple[int, int, int]:
    """(sessions with tokens, tokens, tool calls) over rollout files."""
    sessions, total, calls = 0, 0, 0
    for path in files:
        previous: dict[str, int] | None = None
        file_tokens = 0
        for r in lines(path):
            item = r.get("payload") if "payload" in r else r
            if isinstance(item, dict) and item.get("type") in CODEX_CALLS:
                calls += 1
            if r.get("type") != "event_msg" or not isinstance(r.get("payload"), dict):
                continue
            p = r["payload"]
            if p.get("type") != "token_count" or not isinstance(p.get("info"), dict):
                continue
            last, tot = p["info"].get("last_token_usage"), p["info"].get("total_token_usage")
            raw = last
            if raw is None and tot is not None:
                raw = {k: max(tot.get(k, 0) - (previous or {}).get(k, 0), 0) for k in tot}
            if tot is not None:
                previous = tot
            if raw is None:
                continue
            file_tokens += raw.get("input_tokens", 0) + raw.get("output_tokens", 0)
        total += file_tokens
        sessions += file_tokens > 0
    return sessions, total, calls


def test_claude_code_lines_without_type_count_as_ccusage_counts_them(tmp_path: Path) -> None:
    root = sx.write_claude_untyped(tmp_path / "claude")
    logs = tmp_path / "logs"
    report = run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=tmp_path / "data", now=NOW)
    expected = ccusage_claude_tokens(sorted(root.rglob("*.jsonl")))
    assert expected == 180 + 730 + 1016 + 11
    assert report.tokens == expected and not report.unknown_types and not report.quarantined
    events = events_in(logs)
    assert {e["attempt_id"] for e in events} == {
        sx.CC_OLD
    }  # the untyped lines belong to their file's session
    end = events[-1]
    assert end["event_type"] == "session_end" and end["data"]["total_tokens"] == expected
    assert [e["data"]["tool_name"] for e in events if e["event_type"] == "tool_call"] == ["Edit"]
    assert end["data"]["completion_status"] == "success"
    assert read_logs(logs).quarantine.height == 0


def test_every_codex_shape_counts_as_ccusage_counts_it(tmp_path: Path) -> None:
    sessions = sx.write_codex_shapes(tmp_path / "codex")
    logs = tmp_path / "logs"
    report = run_import(SOURCES["codex"], [sessions], logs_dir=logs, data_dir=tmp_path / "data", now=NOW)
    ref_sessions, ref_tokens, ref_calls = ccusage_codex(sorted(sessions.rglob("*.jsonl")))
    assert (ref_sessions, ref_tokens, ref_calls) == (4, 2800 + 960 + 6580 + 420, 6)
    events = events_in(logs)
    ends = {e["attempt_id"]: e for e in events if e["event_type"] == "session_end"}
    # ccusage's sessions with tokens, plus the legacy one (its era wrote no token counts)
    assert set(ends) == {"project-1", sx.CX_NO_META, sx.CX_LEGACY, sx.CX_ITEMS, sx.CX_SUB}
    assert report.tokens == ref_tokens == sum(e["data"]["total_tokens"] for e in ends.values())
    assert ends["project-1"]["data"]["total_tokens"] == 2800  # ccusage's own expected figures
    assert Counter(e["event_type"] for e in events)["tool_call"] == ref_calls
    assert not report.quarantined and not report.unknown_types
    assert read_logs(logs).quarantine.height == 0

    legacy = [e for e in events if e["attempt_id"] == sx.CX_LEGACY]
    assert [e["event_type"] for e in legacy] == ["session_start", "tool_call", "tool_result", "session_end"]
    assert legacy[0]["data"]["prompt"] == "What is here?" and legacy[0]["branch"] == "main"
    assert legacy[-1]["data"]["completion_status"] == "success"

    items = [e for e in events if e["attempt_id"] == sx.CX_ITEMS]
    calls = [e["data"]["tool_name"] for e in items if e["event_type"] == "tool_call"]
    assert calls == ["web_search", "web_search", "local_shell", "apply_patch"]
    assert all(e["data"]["success"] for e in items if e["event_type"] == "tool_result")
    assert ends[sx.CX_ITEMS]["data"]["completion_status"] == "success"  # the compaction ends no turn
    assert report.skipped["compaction"] == 1

    sub = [e for e in events if e["attempt_id"] == sx.CX_SUB]
    assert sub[0]["executor_variant"] == f"codex 0.60.0 (sub-agent of {sx.CX_ITEMS})"
    assert ends[sx.CX_NO_META]["data"]["completion_status"] == "success"


def test_a_copied_or_archived_tree_adds_no_token_and_no_session(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    sessions = sx.write_codex_shapes(home)
    logs, data = tmp_path / "logs", tmp_path / "data"
    first = run_import(SOURCES["codex"], [sessions], logs_dir=logs, data_dir=data, now=NOW)
    # Codex archives old sessions; here copied (another file identity), and the tree copied whole.
    shutil.copytree(sessions, home / "archived_sessions")
    shutil.copytree(sessions, tmp_path / "backup" / "sessions")
    roots = [sessions, home / "archived_sessions", tmp_path / "backup"]
    again = run_import(SOURCES["codex"], roots, logs_dir=logs, data_dir=data, now=NOW)
    assert first.tokens > 0 and again.tokens == 0 and again.total_events == 0
    assert again.files_read == 10 and again.duplicate_records > 0


def test_lines_skipped_undecoded_are_exactly_the_quiet_kinds() -> None:
    """Records read by their first bytes only (reasoning, command output events) are the quiet kinds,
    whatever the spacing; everything that makes an event or a token is decoded."""
    import transcript_fixtures as fx

    from agent_pipelines.ingest.importers.codex import QUIET_EVENTS, quiet_line

    extra = [
        {
            "timestamp": "2026-01-01T00:00:00.000Z",
            "type": "event_msg",
            "payload": {"type": "exec_command_end"},
        },
        {"timestamp": "2026-01-01T00:00:00.000Z", "type": "response_item", "payload": {"type": "reasoning"}},
    ]
    records = fx.codex_one() + fx.codex_two() + sx.codex_items() + sx.codex_legacy() + extra
    seen_quiet = 0
    for record in records:
        for raw in (json.dumps(record).encode(), json.dumps(record, separators=(",", ":")).encode()):
            payload = record.get("payload") if isinstance(record.get("payload"), dict) else {}
            expected = (record.get("type") == "event_msg" and payload.get("type") in QUIET_EVENTS) or (
                record.get("type") == "response_item"
                and payload.get("type") in ("reasoning", "ghost_snapshot")
            )
            assert quiet_line(raw) == expected, raw[:120]
            seen_quiet += expected
    assert seen_quiet >= 4
