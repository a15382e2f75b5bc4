"""validate, summary and detect recognise Claude Code and Codex transcripts and name the import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import transcript_fixtures as fx

from agent_pipelines.cli import main
from agent_pipelines.ingest.importers.sniff import foreign_files


@pytest.fixture
def foreign_logs(tmp_path: Path) -> Path:
    """A log folder someone filled with transcripts: as the stream, and in sub-folders."""
    logs = tmp_path / "logs"
    fx.write_jsonl(logs / "stream" / "2026-03-02.jsonl", fx.session_a()[1:])
    fx.write_jsonl(logs / "agent-work-stream.jsonl", fx.codex_one())
    fx.write_jsonl(logs / "other" / "app.jsonl", [{"level": "info", "msg": "hello"}])
    return logs


def test_foreign_files_are_named_by_kind(foreign_logs: Path) -> None:
    found = foreign_files(foreign_logs)
    assert [p.name for p in found["claude-code"]] == ["2026-03-02.jsonl"]
    assert [p.name for p in found["codex"]] == ["agent-work-stream.jsonl"]
    assert [p.name for p in found["other"]] == ["app.jsonl"]


def test_validate_names_the_import_commands(foreign_logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--logs-dir", str(foreign_logs)]) == 0
    out = capsys.readouterr().out
    assert f"agent-pipelines import claude-code {foreign_logs / 'stream'}" in out
    assert f"agent-pipelines import codex {foreign_logs}" in out
    assert "not agent work events" in out
    main(["validate", "--logs-dir", str(foreign_logs), "--json"])
    assert "agent-pipelines import codex" in json.loads(capsys.readouterr().out)["hint"]


def test_summary_names_the_import_instead_of_only_failing(
    foreign_logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["summary", "--logs-dir", str(foreign_logs), "--now", "latest"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "agent-pipelines import claude-code" in err and "\n" not in err


def test_detect_says_it_read_lines_but_accepted_none(
    foreign_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["detect", "--once", "--logs-dir", str(foreign_logs), "--data-dir", str(tmp_path / "data")])
    out = capsys.readouterr().out
    assert "but accepted none" in out and "agent-pipelines import codex" in out


def test_our_own_logs_get_no_hint(small_logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert foreign_files(small_logs) == {}


def test_lines_whose_type_is_a_list_or_an_object_are_foreign_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``{"type": []}`` as the first lines of a file in the log folder: the hint's sniffing raised
    ``TypeError: unhashable type`` (looking the kind up in a set), and validate with it."""
    logs = tmp_path / "logs"
    fx.write_jsonl(
        logs / "other" / "odd.jsonl", [{"type": []}, {"type": {"a": 1}}, {"type": [1], "payload": {}}]
    )
    assert [p.name for p in foreign_files(logs)["other"]] == ["odd.jsonl"]
    assert main(["validate", "--logs-dir", str(logs)]) == 0
    assert "not agent work events" in capsys.readouterr().out
