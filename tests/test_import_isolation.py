"""One bad record or file never stops an import (issue 22, items 3 and 4): a record holding an
absurd number is quarantined with its reason and position and the rest goes on, in the CLI and the
import sensor; a file that cannot be read is reported and skipped; only regular files inside the
tree are opened (a symlink to a transcript elsewhere, or ``notes.jsonl -> id_rsa``, is not)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import transcript_fixtures as fx

from agent_pipelines.cli import main
from agent_pipelines.core.quarantine import read_quarantine
from agent_pipelines.core.reader import read_logs
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers import SOURCES, run_import
from agent_pipelines.orchestration.log_store import LogStore
from sensors.transcript_import import transcript_import_sensor

NOW = datetime(2026, 3, 3, tzinfo=UTC)  # every fixture session is long over
KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def _with_usage(records: list[dict], **usage: object) -> list[dict]:
    """The records with the first assistant usage's fields replaced."""
    for r in records:
        if r["type"] == "assistant" and isinstance(r["message"].get("usage"), dict):
            r["message"]["usage"].update(usage)
            return records
    raise AssertionError("no usage")


def _lines(records: list[dict], replace: tuple[str, str] | None = None) -> str:
    text = "".join(json.dumps(r) + "\n" for r in records)
    return text.replace(*replace) if replace else text


def _ends(logs: Path) -> list[dict]:
    events = read_logs(logs).events
    return (
        events.filter(events["event_type"] == "session_end")
        .select("session_id", "cost_usd", "total_tokens")
        .to_dicts()
    )


def test_a_400_digit_token_count_costs_one_record(tmp_path: Path) -> None:
    projects = tmp_path / "claude" / "-home-dev-shop"
    projects.mkdir(parents=True)
    (projects / f"{fx.CC_C}.jsonl").write_text(_lines(fx.session_c()))
    (projects / f"{fx.CC_A}.jsonl").write_text(_lines(_with_usage(fx.session_a(), input_tokens=10**400)))
    codex = fx.write_codex_home(tmp_path / "codex")
    logs, data = tmp_path / "logs", tmp_path / "data"
    report = run_import(SOURCES["claude-code"], [tmp_path / "claude"], logs_dir=logs, data_dir=data, now=NOW)
    assert report.quarantined == {"wrong_type": 1}
    (bad,) = read_quarantine(data).to_dicts()
    assert bad["source_file"].endswith(f"{fx.CC_A}.jsonl") and bad["byte_offset"] > 0
    first = [r["type"] == "assistant" and "usage" in r["message"] for r in fx.session_a()].index(True)
    assert bad["line_number"] == first + 1
    assert "input_tokens" in bad["detail"] and "digits" in bad["detail"]
    assert report.events["session_end"] == 2 and report.events["tool_call"] >= fx.A_EVENTS["tool_call"]
    assert run_import(SOURCES["codex"], [codex], logs_dir=logs, data_dir=data, now=NOW).total_events > 5


@pytest.mark.parametrize(
    ("usage", "replace"),
    [
        ({"output_tokens": 2 * 10**19}, None),
        ({}, ('"requestId": "req_20"', '"requestId": "req_20", "costUSD": 1e400')),
        ({}, ('"requestId": "req_20"', '"requestId": "req_20", "costUSD": NaN')),
        ({"input_tokens": 1e400}, None),
    ],
)
def test_absurd_tokens_or_cost_are_refused_per_record_and_the_session_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], usage: dict, replace: tuple[str, str] | None
) -> None:
    projects = tmp_path / "claude" / "-home-dev-shop"
    projects.mkdir(parents=True)
    records = _with_usage(fx.session_c(), **usage) if usage else fx.session_c()
    text = _lines(records, replace).replace("Infinity", "1e400")
    (projects / f"{fx.CC_C}.jsonl").write_text(text)
    logs, data = tmp_path / "logs", tmp_path / "data"
    args = [
        "import",
        "claude-code",
        str(tmp_path / "claude"),
        "--logs-dir",
        str(logs),
        "--data-dir",
        str(data),
    ]
    assert main([*args, "--now", NOW.isoformat().replace("+00:00", "Z")]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower() and "inf" not in out.lower().replace("info", ""), out
    (end,) = _ends(logs)  # the session ended, with sane totals
    assert end["cost_usd"] < 1 and end["total_tokens"] < 10**6
    assert read_quarantine(data).height == 1


def test_one_unreadable_file_is_reported_and_skipped(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads a chmod 000 file")
    projects = tmp_path / "claude" / "-home-dev-shop"
    projects.mkdir(parents=True)
    locked = projects / f"{fx.CC_C}.jsonl"
    locked.write_text(_lines(fx.session_c()))
    (projects / f"{fx.CC_A}.jsonl").write_text(_lines(fx.session_a()))
    locked.chmod(0)
    report = run_import(SOURCES["claude-code"], [tmp_path / "claude"], logs_dir=tmp_path / "logs",
                        data_dir=tmp_path / "data", now=NOW)  # fmt: skip
    assert report.files_skipped == 1 and any(fx.CC_C in n and "cannot be read" in n for n in report.notes)
    assert report.events["session_end"] == 1  # session A, whole


def test_the_import_sensor_goes_on_past_a_bad_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    projects = tmp_path / "claude" / "projects" / "-home-dev-shop"
    projects.mkdir(parents=True)
    (projects / f"{fx.CC_A}.jsonl").write_text(_lines(_with_usage(fx.session_a(), input_tokens=10**400)))
    fx.write_codex_home(tmp_path / "codex")
    logs, data = tmp_path / "logs", tmp_path / "data"
    logs.mkdir()
    with dg.instance_for_test() as instance:
        store = LogStore.from_settings(Settings.load(), str(logs), str(data))
        ctx = dg.build_sensor_context(instance=instance, resources={"log_store": store})
        message = transcript_import_sensor(Settings.load()).evaluate_tick(ctx).skip_message or ""
    assert "claude-code:" in message and "1 line(s) quarantined" in message, message
    assert "codex:" in message and "import failed" not in message
    executors = set(read_logs(logs).events["executor"].to_list())
    assert len(executors) == 2, executors  # both sources imported


# --------------------------------------------------------------------------------------------
# Item 4: only regular files inside the tree
# --------------------------------------------------------------------------------------------


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "home" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True)
    secret.write_text(KEY)
    outside = tmp_path / "elsewhere" / "other.jsonl"
    outside.parent.mkdir()
    outside.write_text(_lines(fx.session_c()))
    projects = tmp_path / "claude" / "-home-dev-shop"
    projects.mkdir(parents=True)
    (projects / f"{fx.CC_A}.jsonl").write_text(_lines(fx.session_a()))
    (projects / "notes.jsonl").symlink_to(secret)
    (projects / "linked.jsonl").symlink_to(outside)
    (projects / "dir-link").symlink_to(outside.parent, target_is_directory=True)
    os.mkfifo(projects / "pipe.jsonl")  # opening it would block the import forever
    logs, data = tmp_path / "logs", tmp_path / "data"
    report = run_import(SOURCES["claude-code"], [tmp_path / "claude"], logs_dir=logs, data_dir=data, now=NOW)
    assert report.events["session_end"] == 1  # session A only: not C through the links
    sessions = set(read_logs(logs).events["session_id"].to_list())
    assert sessions == {fx.CC_A}, sessions
    written = "".join(
        p.read_text(errors="replace") for p in [*logs.rglob("*"), *data.rglob("*")] if p.is_file()
    )
    assert "b3BlbnNzaC1rZXkt" not in written and "PRIVATE KEY" not in written
    notes = " ".join(report.notes)
    assert "notes.jsonl" in notes and "linked.jsonl" in notes and "pipe.jsonl" in notes, notes
