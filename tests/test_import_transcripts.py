"""Importing Claude Code and Codex CLI transcripts: events, tokens and costs, checked exactly."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import transcript_fixtures as fx
from genai_prices import Usage as GUsage
from genai_prices import calc_price

from agent_pipelines.core import paths
from agent_pipelines.core.quarantine import read_quarantine
from agent_pipelines.core.reader import read_logs
from agent_pipelines.ingest.importers import SOURCES, run_import
from agent_pipelines.ingest.importers.pricing import PriceTable

NOW = datetime(2026, 3, 4, tzinfo=UTC)  # a day after the fixtures: every session is over


def events_in(logs: Path) -> list[dict]:
    out = []
    for path in sorted((logs / paths.STREAM_DIR).glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def by_attempt(events: list[dict], attempt: str) -> list[dict]:
    return [e for e in events if e["attempt_id"] == attempt]


def counts(events: list[dict]) -> dict[str, int]:
    return dict(Counter(e["event_type"] for e in events))


def reference_cost(model: str, requests: list[tuple[int, int, int, int]], openai: bool = False) -> float:
    """The price table's own calculator (genai-prices), request by request: the reference we match."""
    total = 0.0
    for inp, out, cw, cr in requests:
        usage = GUsage(
            input_tokens=inp + cw + cr,
            output_tokens=out,
            cache_write_tokens=cw or None,
            cache_read_tokens=cr or None,
        )
        total += float(
            calc_price(usage, model, genai_request_timestamp=datetime(2026, 3, 2, 12, tzinfo=UTC)).total_price
        )
    return round(total, 6)


@pytest.fixture
def claude(tmp_path: Path) -> tuple[Path, Path, Path]:
    return fx.write_claude_projects(tmp_path / "claude"), tmp_path / "logs", tmp_path / "data"


@pytest.fixture
def codex(tmp_path: Path) -> tuple[Path, Path, Path]:
    return fx.write_codex_home(tmp_path / "codex"), tmp_path / "logs", tmp_path / "data"


def test_claude_code_session_events_tokens_and_cost(claude: tuple[Path, Path, Path]) -> None:
    root, logs, data = claude
    report = run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=NOW)
    events = events_in(logs)
    a = by_attempt(events, fx.CC_A)
    assert counts(a) == fx.A_EVENTS
    start, end = a[0], a[-1]
    assert start["event_type"] == "session_start" and start["executor"] == "CLAUDE_CODE"
    assert start["data"]["prompt"] == "Add a cart total to the checkout page"
    assert start["task_title"] == "Add a cart total to the checkout page"
    assert start["branch"] == "feature/cart" and start["project_id"] == fx.CWD
    assert start["task_id"].startswith("shop-") and start["session_id"] == fx.CC_A
    assert start["timestamp"] == "2026-03-02T10:00:00.000Z"
    # The sub-agent's Grep (written twice) is one call of the parent session, marked as a sidechain.
    calls = [e["data"]["tool_name"] for e in a if e["event_type"] == "tool_call"]
    assert calls == ["Bash", "Read", "Task", "Grep"]
    assert [e["data"].get("sidechain") for e in a if e["event_type"] == "tool_call"] == [
        None,
        None,
        None,
        True,
    ]
    errors = [e["data"] for e in a if e["event_type"] == "error"]
    assert errors[0]["error_category"] == "shell" and errors[0]["error_message"].startswith(
        "FAIL src/cart.test.ts"
    )
    assert errors[1]["error_category"] == "tool" and errors[1]["error_message"] == "File does not exist."
    assert errors[2]["error_category"] == "rate_limit" and errors[2]["error_message"].startswith(
        "API Error: 429"
    )
    assert all("error_fingerprint" not in e for e in errors)
    failed = next(e for e in a if e["event_type"] == "tool_result")
    assert failed["data"] == {"tool_name": "Bash", "success": False, "duration_ms": 7000, "exit_code": 1}
    # The last turn ended with the API error: failed, at the time of its last record.
    assert end["data"]["completion_status"] == "failed"
    assert end["timestamp"] == "2026-03-02T10:05:02.000Z" and end["data"]["duration_ms"] == 302_000
    assert end["data"]["total_tokens"] == fx.A_TOKENS
    assert end["model"] == fx.SONNET
    assert end["data"]["cost_usd"] == reference_cost(fx.SONNET, fx.A_REQUESTS) == 0.008742
    # Resumed session B: A's copied records are not imported again; its own cost wins.
    b = by_attempt(events, fx.CC_B)
    assert counts(b) == {"session_start": 1, "session_end": 1}
    assert b[-1]["data"]["total_tokens"] == fx.B_TOKENS and b[-1]["data"]["cost_usd"] == fx.B_COST
    assert b[-1]["data"]["completion_status"] == "success"
    # C: interrupted by the user; its only model is unknown: cost unknown, never zero.
    c = by_attempt(events, fx.CC_C)
    assert counts(c) == {
        "session_start": 1,
        "tool_call": 1,
        "tool_result": 1,
        "status_change": 1,
        "session_end": 1,
    }
    assert c[-1]["data"]["completion_status"] == "interrupted" and "cost_usd" not in c[-1]["data"]
    assert c[-1]["data"]["outcome"]["unpriced_models"] == {"claude-future-9": 200}
    assert report.unpriced_models == {"claude-future-9": 200}
    assert report.duplicate_records == 3 + 1  # B's three copies; the replayed sidechain call
    assert report.unknown_types == {"future-record-kind": 1}
    assert report.quarantined == {"malformed_json": 1, "invalid_utf8": 1}
    assert report.tokens == fx.A_TOKENS + fx.B_TOKENS + 200
    assert report.sessions_ended == {"failed": 1, "success": 1, "interrupted": 1}


def test_imported_events_pass_the_contract_and_land_where_our_logger_writes(
    claude: tuple[Path, Path, Path],
) -> None:
    root, logs, data = claude
    run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=NOW)
    result = read_logs(logs)
    assert result.quarantine.height == 0 and result.events.height == len(events_in(logs))
    assert (logs / "stream" / "2026-03-02.jsonl").exists()
    transcript = paths.session_file_path(logs, fx.CC_A).read_text().splitlines()
    assert len(transcript) == sum(fx.A_EVENTS.values())
    assert len((logs / paths.ERRORS_FILE).read_text().splitlines()) == 3
    metrics = [json.loads(x) for x in (logs / paths.METRICS_FILE).read_text().splitlines()]
    a = next(m for m in metrics if m["attempt_id"] == fx.CC_A)
    assert a["metrics"]["errors"] == 3 and a["tool_call_count"] == 4 and a["followup_count"] == 1
    assert a["completion_status"] == "failed" and a["metrics"]["total_tokens"] == fx.A_TOKENS
    assert a["metrics"]["cost_usd"] == 0.008742 and a["executor"] == "CLAUDE_CODE"
    assert a["error_summary"]["error_categories"] == ["shell", "tool", "rate_limit"]
    bad = read_quarantine(data)
    assert sorted(bad["reason"].to_list()) == ["invalid_utf8", "malformed_json"]
    assert bad["source_file"].str.ends_with(f"{fx.CC_A}.jsonl").all()


def test_codex_session_events_tokens_and_cost(codex: tuple[Path, Path, Path]) -> None:
    root, logs, data = codex
    report = run_import(SOURCES["codex"], [root / "sessions"], logs_dir=logs, data_dir=data, now=NOW)
    events = events_in(logs)
    one = by_attempt(events, fx.CODEX_1)
    assert counts(one) == fx.CODEX_1_EVENTS
    start, end = one[0], one[-1]
    assert start["executor"] == "CODEX" and start["branch"] == "fix/login" and start["model"] == "gpt-5-codex"
    assert (
        start["executor_variant"] == "codex 0.39.0"
        and start["data"]["prompt"] == "Fix the failing login test"
    )
    assert start["timestamp"] == "2026-03-03T09:00:00.000Z"  # the session's first record
    shell_error = next(e for e in one if e["event_type"] == "error")["data"]
    assert shell_error["error_category"] == "shell"
    assert shell_error["error_message"].startswith("FAILED tests/test_login.py::test_login")
    results = [e["data"] for e in one if e["event_type"] == "tool_result"]
    assert [(r["tool_name"], r["success"], r["exit_code"]) for r in results] == [
        ("shell", False, 1),
        ("apply_patch", True, 0),
    ]
    categories = [e["data"]["error_category"] for e in one if e["event_type"] == "error"]
    assert categories == ["shell", "api", "rate_limit"]
    assert end["data"]["completion_status"] == "failed"
    assert end["data"]["total_tokens"] == fx.CODEX_1_TOKENS
    inp, _out, _cw, cached = fx.CODEX_1_USAGE
    assert (
        end["data"]["outcome"]["input_tokens"] == inp
        and end["data"]["outcome"]["cache_read_tokens"] == cached
    )
    expected = reference_cost("gpt-5-codex", [(1000 - 200, 100, 0, 200), (1500 - 1000, 150, 0, 1000)])
    assert end["data"]["cost_usd"] == expected == 0.004275
    two = by_attempt(events, fx.CODEX_2)
    assert counts(two) == {"session_start": 1, "tool_call": 1, "status_change": 1, "session_end": 1}
    assert two[-1]["data"]["completion_status"] == "interrupted" and "cost_usd" not in two[-1]["data"]
    assert report.unpriced_models == {"gpt-9-mystery": 430}
    assert report.skipped["token_count without info"] == 2 and report.skipped["repeated token_count"] == 1
    assert report.unknown_types == {"event_msg:future_event_kind": 1, "telemetry": 1}
    assert report.quarantined == {"malformed_json": 1}


def test_importing_twice_adds_nothing(
    claude: tuple[Path, Path, Path], codex: tuple[Path, Path, Path]
) -> None:
    for source, (root, logs, data) in (("claude-code", claude), ("codex", codex)):
        first = run_import(SOURCES[source], [root], logs_dir=logs, data_dir=data, now=NOW)
        snapshot = {p: p.read_bytes() for p in logs.rglob("*") if p.is_file()}
        second = run_import(SOURCES[source], [root], logs_dir=logs, data_dir=data, now=NOW)
        assert first.total_events > 0 and second.total_events == 0 and second.bytes_read == 0
        assert {p: p.read_bytes() for p in logs.rglob("*") if p.is_file()} == snapshot


def test_appended_lines_continue_the_session_across_passes(tmp_path: Path) -> None:
    """A session read in pieces gives the same events as read at once (tokens, ends, counts)."""
    records = fx.session_a()
    whole, pieces = tmp_path / "whole", tmp_path / "pieces"
    fx.write_jsonl(whole / "p" / f"{fx.CC_A}.jsonl", records)
    growing = pieces / "p" / f"{fx.CC_A}.jsonl"
    growing.parent.mkdir(parents=True)
    done = 0
    for cut in (3, 4, 10, len(records)):
        with open(growing, "ab") as handle:
            handle.writelines(json.dumps(r).encode() + b"\n" for r in records[done:cut])
        done = cut
        run_import(
            SOURCES["claude-code"], [pieces], logs_dir=tmp_path / "logs2", data_dir=tmp_path / "d2", now=NOW
        )
    run_import(
        SOURCES["claude-code"], [whole], logs_dir=tmp_path / "logs1", data_dir=tmp_path / "d1", now=NOW
    )
    at_once, in_pieces = events_in(tmp_path / "logs1"), events_in(tmp_path / "logs2")
    ends = [e for e in in_pieces if e["event_type"] == "session_end"]
    # Read in pieces with "now" a day later, each pause closes the session; the last end has the totals.
    assert ends[-1]["data"]["total_tokens"] == fx.A_TOKENS
    assert ends[-1]["data"]["cost_usd"] == at_once[-1]["data"]["cost_usd"]
    same = [e for e in in_pieces if e["event_type"] != "session_end"]
    assert same == [e for e in at_once if e["event_type"] != "session_end"]


def test_open_session_ends_only_after_it_is_quiet(tmp_path: Path) -> None:
    root = tmp_path / "cc"
    fx.write_jsonl(root / "p" / f"{fx.CC_A}.jsonl", fx.session_a()[:4])  # a tool call without its result
    logs, data = tmp_path / "logs", tmp_path / "data"
    soon = datetime(2026, 3, 2, 10, 10, tzinfo=UTC)
    report = run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=soon)
    assert report.sessions_open == 1 and "session_end" not in report.events
    # Mid-turn and quiet for longer than the stale limit: the client is gone.
    later = datetime(2026, 3, 2, 17, tzinfo=UTC)
    report = run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=later)
    assert report.sessions_ended == {"interrupted": 1} and report.sessions_open == 0
    end = events_in(logs)[-1]
    assert end["data"]["outcome"]["reason"] == "quiet_mid_turn"


def test_answered_session_waiting_for_its_user_closes_after_idle(tmp_path: Path) -> None:
    root = tmp_path / "cc"
    records = fx.session_a()[:15]  # through the final answer (msg_04)
    fx.write_jsonl(root / "p" / f"{fx.CC_A}.jsonl", records)
    logs, data = tmp_path / "logs", tmp_path / "data"
    answered = datetime(2026, 3, 2, 10, 0, 25, tzinfo=UTC)
    report = run_import(
        SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=answered.replace(second=59)
    )
    assert report.sessions_open == 1  # 34 s quiet: not yet
    report = run_import(
        SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=answered.replace(minute=3)
    )
    assert report.sessions_ended == {"success": 1}


def test_cost_mode_tokens_ignores_the_records_own_cost(claude: tuple[Path, Path, Path]) -> None:
    root, logs, data = claude
    run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=NOW, cost_mode="tokens")
    b_end = by_attempt(events_in(logs), fx.CC_B)[-1]
    assert b_end["data"]["cost_usd"] == reference_cost(fx.SONNET, [(50, 60, 0, 2000)])


def test_user_price_file_overrides_the_table(claude: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, logs, data = claude
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "claude-future-9": {"input": 1, "output": 2},
                "claude-sonnet-4-5": {"input": 10, "output": 10, "cache_write": 10, "cache_read": 10},
            }
        )
    )
    run_import(
        SOURCES["claude-code"], [root], logs_dir=logs, data_dir=data, now=NOW, prices=PriceTable(prices)
    )
    events = events_in(logs)
    assert by_attempt(events, fx.CC_A)[-1]["data"]["cost_usd"] == round(fx.A_TOKENS * 10 / 1e6, 6)
    assert by_attempt(events, fx.CC_C)[-1]["data"]["cost_usd"] == round((100 * 1 + 100 * 2) / 1e6, 6)


def test_hostile_session_id_is_quarantined_not_written(tmp_path: Path) -> None:
    root = tmp_path / "cc"
    record = fx.user("h-1", "2026-03-02T10:00:00.000Z", "hello", session="../../etc/passwd")
    fx.write_jsonl(root / "p" / "x.jsonl", [record])
    report = run_import(
        SOURCES["claude-code"], [root], logs_dir=tmp_path / "logs", data_dir=tmp_path / "d", now=NOW
    )
    assert report.quarantined == {"invalid_id": 1} and report.total_events == 0
    assert not (tmp_path / "etc").exists()
