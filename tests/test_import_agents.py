"""Gemini CLI, GitHub Copilot CLI, OpenCode, SWE-agent and mini-swe-agent: the same contract as
Claude Code and Codex (sessions, prompts, tool calls, tokens with and without cache, cost, status)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import agent_fixtures as ax
import pytest

from agent_pipelines.cli import main
from agent_pipelines.core import paths
from agent_pipelines.core.reader import read_logs
from agent_pipelines.ingest.importers import SOURCES, SWITCHES, run_import
from agent_pipelines.ingest.importers.pricing import PriceTable, Usage
from agent_pipelines.ingest.importers.sniff import foreign_files, foreign_hint

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def events_in(logs: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((logs / paths.STREAM_DIR).glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def of(events: list[dict[str, Any]], attempt: str) -> list[dict[str, Any]]:
    return [e for e in events if e["attempt_id"] == attempt]


def kinds(events: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(e["event_type"] for e in events))


def priced(model: str, requests: list[tuple[int, int, int, int]], day: datetime) -> float | None:
    """The existing price table, request by request (what every importer charges)."""
    table, total = PriceTable(), 0.0
    for inp, out, cw, cr in requests:
        cost = table.cost(model, Usage(input=inp, output=out, cache_write=cw, cache_read=cr), day)
        if cost is None:
            return None
        total += cost
    return round(total, 6)


def check_contract(logs: Path) -> None:
    assert read_logs(logs).quarantine.height == 0


def test_gemini_cli_chat(tmp_path: Path) -> None:
    root, logs, data = ax.write_gemini(tmp_path / "home"), tmp_path / "logs", tmp_path / "data"
    report = run_import(SOURCES["gemini-cli"], [root], logs_dir=logs, data_dir=data, now=NOW)
    events = of(events_in(logs), ax.GEM)
    assert kinds(events) == {
        "session_start": 1,
        "tool_call": 2,
        "tool_result": 2,
        "error": 2,
        "followup_sent": 1,
        "status_change": 1,  # the API error ends the turn: awaiting input
        "session_end": 1,
    }
    assert events[0]["data"]["prompt"] == "Add a health endpoint" and events[0]["executor"] == "GEMINI_CLI"
    assert [e["data"]["tool_name"] for e in events if e["event_type"] == "tool_call"] == [
        "run_shell_command",
        "write_file",
    ]
    assert [e["data"]["success"] for e in events if e["event_type"] == "tool_result"] == [False, True]
    assert [e["data"]["error_category"] for e in events if e["event_type"] == "error"] == [
        "tool",
        "rate_limit",
    ]
    end = events[-1]["data"]
    assert end["completion_status"] == "failed" and end["total_tokens"] == ax.GEMINI_TOKENS == report.tokens
    assert (end["outcome"]["input_tokens"], end["outcome"]["cache_read_tokens"]) == (1100, 1400)
    assert end.get("cost_usd") == priced("gemini-2.5-pro", ax.GEMINI_USAGE, datetime(2025, 9, 20, tzinfo=UTC))
    assert end["cost_usd"] is not None
    check_contract(logs)
    # Gemini rewrites the file as the chat grows: a later version adds only what is new.
    ax.write_gemini(tmp_path / "home", extra_output=20, more=True)
    again = run_import(SOURCES["gemini-cli"], [root], logs_dir=logs, data_dir=data, now=NOW)
    assert again.tokens == 20 + 110
    assert kinds(of(events_in(logs), ax.GEM))["tool_call"] == 2


def test_copilot_cli_session(tmp_path: Path) -> None:
    root, logs = ax.write_copilot(tmp_path / "home"), tmp_path / "logs"
    report = run_import(SOURCES["copilot-cli"], [root], logs_dir=logs, data_dir=tmp_path / "data", now=NOW)
    events = of(events_in(logs), ax.COP)
    assert kinds(events) == {
        "session_start": 1,
        "tool_call": 2,
        "tool_result": 2,
        "error": 1,
        "status_change": 1,  # assistant.turn_end: awaiting input
        "session_end": 1,
    }
    start, end = events[0], events[-1]
    assert start["data"]["prompt"] == "Why does the build fail?" and start["branch"] == "main"
    assert start["executor_variant"] == "copilot 0.0.350" and start["model"] == "claude-sonnet-4.5"
    assert (
        next(e for e in events if e["event_type"] == "error")["data"]["error_message"]
        == "make: *** [all] Error 2"
    )
    assert end["data"]["completion_status"] == "success"
    assert end["data"]["total_tokens"] == 4200 == report.tokens
    assert end["data"]["outcome"]["cache_read_tokens"] == 1000
    assert end["data"].get("cost_usd") == priced(
        "claude-sonnet-4.5", [(3000, 200, 0, 1000)], datetime(2025, 11, 2, tzinfo=UTC)
    )
    assert not report.unknown_types
    check_contract(logs)


def test_opencode_storage(tmp_path: Path) -> None:
    storage, logs = ax.write_opencode(tmp_path / "opencode"), tmp_path / "logs"
    report = run_import(SOURCES["opencode"], [storage], logs_dir=logs, data_dir=tmp_path / "data", now=NOW)
    events = events_in(logs)
    one, two = of(events, "ses_1"), of(events, "ses_2")
    assert kinds(one) == {
        "session_start": 1,
        "tool_call": 2,
        "tool_result": 2,
        "error": 1,
        "status_change": 1,  # the answer completed: awaiting input
        "session_end": 1,
    }
    assert (
        next(e for e in one if e["event_type"] == "status_change")["data"]["new_status"] == "awaiting_input"
    )
    assert one[0]["data"]["prompt"] == "Fix the flaky test" and one[0]["project_id"] == "/home/dev/app"
    assert [e["data"]["tool_name"] for e in one if e["event_type"] == "tool_call"] == ["bash", "edit"]
    assert one[-1]["data"]["completion_status"] == "success"
    assert one[-1]["data"]["total_tokens"] == ax.OPENCODE_TOKENS["ses_1"]
    assert one[-1]["data"]["cost_usd"] == 0.0123  # the message's own cost, as ccusage takes it
    assert one[-1]["data"]["outcome"]["cache_write_tokens"] == 800
    assert two[0]["executor_variant"] == "opencode (sub-agent of ses_1)"
    assert two[-1]["data"]["total_tokens"] == 30  # reasoning is not added (ccusage's rule)
    assert report.tokens == sum(ax.OPENCODE_TOKENS.values())
    check_contract(logs)


def test_swe_agent_trajectories_and_their_evaluation(tmp_path: Path) -> None:
    root, logs = ax.write_swe_agent(tmp_path), tmp_path / "logs"
    report = run_import(SOURCES["swe-agent"], [root], logs_dir=logs, data_dir=tmp_path / "data", now=NOW)
    events = events_in(logs)
    ends = {e["attempt_id"]: e["data"] for e in events if e["event_type"] == "session_end"}
    run = "default__gpt-4o__t-0.00"
    assert {k: v["completion_status"] for k, v in ends.items()} == {
        f"{run}/django__django-1": "success",  # resolved in results.json
        f"{run}/django__django-2": "failed",  # submitted, but the evaluation says unresolved
        f"{run}/django__django-3": "failed",  # stopped by its cost limit
    }
    one = of(events, f"{run}/django__django-1")
    assert kinds(one) == {"session_start": 1, "tool_call": 3, "tool_result": 3, "session_end": 1}
    assert one[0]["data"]["prompt"] == "QuerySet.none() on combined queries returns all results"
    assert one[0]["model"] == "gpt-4o-2024-08-06" and one[0]["executor"] == "SWE_AGENT"
    assert (
        ends[f"{run}/django__django-1"]["total_tokens"] == 12800
        and ends[f"{run}/django__django-1"]["cost_usd"] == 0.42
    )
    assert one[-1]["data"]["duration_ms"] >= 2100  # the steps' execution times
    assert report.tokens == 12800 + 3100 + 1050
    check_contract(logs)


def test_mini_swe_agent_bash_blocks_and_tool_calls(tmp_path: Path) -> None:
    root, logs = ax.write_mini(tmp_path), tmp_path / "logs"
    report = run_import(SOURCES["mini-swe-agent"], [root], logs_dir=logs, data_dir=tmp_path / "data", now=NOW)
    events = events_in(logs)
    one, two = of(events, "mini-out/astropy__astropy-1"), of(events, "mini-out/astropy__astropy-2")
    assert kinds(one) == {"session_start": 1, "tool_call": 3, "tool_result": 3, "error": 1, "session_end": 1}
    assert one[0]["data"]["prompt"] == "Consider the following PR description:\nFix separability"
    calls = [e["data"]["tool_params"]["command"] for e in one if e["event_type"] == "tool_call"]
    assert calls[:2] == ["ls", "python -c 'import astropy'"]
    assert [e["data"].get("exit_code") for e in one if e["event_type"] == "tool_result"] == [0, 1, 0]
    end = one[-1]["data"]
    inp, out, _cw, cached = ax.MINI_V1_USAGE
    assert end["completion_status"] == "success" and end["total_tokens"] == inp + out + cached
    assert (end["outcome"]["input_tokens"], end["outcome"]["cache_read_tokens"]) == (inp, cached)
    assert end["cost_usd"] == 0.0123
    assert kinds(two)["tool_call"] == 1 and two[-1]["data"]["completion_status"] == "failed"
    assert report.tokens == inp + out + cached
    check_contract(logs)


def test_every_source_is_registered_with_its_switch_and_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(SOURCES) == {
        "claude-code",
        "codex",
        "gemini-cli",
        "copilot-cli",
        "opencode",
        "swe-agent",
        "mini-swe-agent",
    }
    assert (
        SWITCHES["gemini-cli"] == "AGENT_IMPORT_GEMINI_CLI"
        and SWITCHES["mini-swe-agent"] == "AGENT_IMPORT_MINI_SWE_AGENT"
    )
    root = ax.write_mini(tmp_path)
    code = main(
        [
            "import",
            "mini-swe-agent",
            str(root),
            "--logs-dir",
            str(tmp_path / "logs"),
            "--data-dir",
            str(tmp_path / "d"),
            "--now",
            "2026-06-01T00:00:00Z",
            "--json",
        ]
    )
    assert code == 0 and json.loads(capsys.readouterr().out)["events"] > 0


def test_a_log_folder_of_their_files_names_the_import_to_run(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    ax.write_copilot(logs)
    ax.write_gemini(logs)
    ax.write_opencode(logs / "oc")
    ax.write_mini(logs)
    ax.write_swe_agent(logs)
    found = foreign_files(logs)
    assert {k: len(v) for k, v in found.items()} == {
        "copilot-cli": 1,
        "gemini-cli": 1,
        "opencode": 4,
        "mini-swe-agent": 2,
        "swe-agent": 3,
    }
    assert "agent-pipelines import opencode" in (foreign_hint(logs) or "")
