"""Imported errors carry no fingerprint: they must cluster on their text, through the library's clustering."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import transcript_fixtures as fx

from agent_pipelines.cli import main
from agent_pipelines.ingest.importers import SOURCES, run_import


def failing_session(index: int) -> list[dict]:
    """The same two failures in each session, with their variable parts (paths, numbers, ids) varied."""
    sid = f"c1a55e55-0000-4000-8000-{index:012d}"
    d = f"2026-03-0{2 + index % 3}T1{index}:"
    tool = f"toolu_x{index}"
    return [
        fx.user(f"x{index}-1", d + "00:00.000Z", f"Fix issue #{100 + index}", session=sid),
        fx.assistant(
            f"x{index}-2",
            d + "00:01.000Z",
            f"msg_x{index}",
            f"req_x{index}",
            [fx.tool_use(tool, "Bash", command="npm test")],
            fx._u(5, 5),
            session=sid,
        ),
        fx.user(
            f"x{index}-3",
            d + "00:05.000Z",
            fx.tool_result(
                tool,
                f"Exit code 1\nError: Cannot find module "
                f"'@org/pkg-{index * 7}' imported from src/mod{index}/index.ts",
                True,
            ),
            session=sid,
        ),
        fx.assistant(
            f"x{index}-4",
            d + "00:06.000Z",
            f"msg_e{index}",
            f"req_e{index}",
            fx.text(
                f'API Error: 429 {{"type":"error","error":{{"type":"rate_limit_error","message":'
                f'"Rate limited, retry after {10 + index}s (request req_{index}abc)"}}}}'
            ),
            fx._u(0, 0),
            session=sid,
            model="<synthetic>",
            isApiErrorMessage=True,
        ),
    ]


def test_imported_errors_form_one_cluster_per_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cc"
    for i in range(4):
        fx.write_jsonl(root / "p" / f"s{i}.jsonl", failing_session(i))
    logs = tmp_path / "logs"
    run_import(
        SOURCES["claude-code"],
        [root],
        logs_dir=logs,
        data_dir=tmp_path / "d",
        now=datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert main(["summary", "--logs-dir", str(logs), "--now", "latest", "--last-n-days", "30", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_errors"] == 8
    assert sorted(e["count"] for e in summary["top_errors"]) == [4, 4]
