"""An import split over worker processes makes exactly what one process makes.

The trees below hold sessions that cross files (Claude Code sub-agents in ``<session>/subagents/``,
a resumed session copying another's records, copied and archived trees: the same session ids and
records in files far apart), so the pool's optimistic merge both takes workers' results and throws
some away to read their files again in order. Tasks are cut per session (``TASK_BYTES`` of 1) so
that even these small trees are spread over the workers.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import shape_fixtures as sx
import transcript_fixtures as fx

from agent_pipelines.ingest.importers import SOURCES, pool, run_import
from agent_pipelines.ingest.importers.files import Pending

NOW = datetime(2026, 6, 1, tzinfo=UTC)
REAL = Path(__file__).parent / "data" / "real_sessions"


def _claude_tree(root: Path) -> list[Path]:
    projects = fx.write_claude_projects(root / "claude")
    sx.write_claude_untyped(root / "claude")
    shutil.copytree(REAL / "claude", projects / "real")
    # A sub-agent of session A in its folder, and a resumed session that copied A's records.
    sub = [dict(r, isSidechain=True, uuid=f"sub-{r.get('uuid')}") for r in fx.session_a()[:6]]
    fx.write_jsonl(projects / "-home-dev-shop" / fx.CC_A / "subagents" / "agent-1.jsonl", sub)
    resumed = "0b5e1c2d-1111-4222-8333-944455556666"
    fx.write_jsonl(projects / "-home-dev-shop" / f"{resumed}.jsonl", fx.session_a())
    shutil.copytree(projects / "-home-dev-shop", root / "backup" / "-home-dev-shop")
    return [projects, root / "backup"]


def _codex_tree(root: Path) -> list[Path]:
    home = fx.write_codex_home(root / "codex")
    sessions = sx.write_codex_shapes(home)
    shutil.copytree(REAL / "codex" / "sessions", sessions / "real")
    shutil.copytree(sessions, home / "archived_sessions")
    return [sessions, home / "archived_sessions"]


def _logs(logs: Path) -> dict[str, list[str]]:
    """Every file of a log folder, its lines sorted (the order of sessions' lines may differ)."""
    return {str(p.relative_to(logs)): sorted(p.read_text().splitlines()) for p in logs.rglob("*.jsonl")}


def _summary(report: object) -> dict[str, object]:
    out = dict(report.to_json())  # type: ignore[attr-defined]
    out.pop("seconds")
    out["cost_usd"] = round(float(out["cost_usd"]), 6)  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize(
    "source, tree, steal",
    [("claude-code", _claude_tree, False), ("codex", _codex_tree, False), ("codex", _codex_tree, True)],
)
def test_workers_make_what_one_process_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, tree: object, steal: bool
) -> None:
    roots = tree(tmp_path / "in")  # type: ignore[operator]
    monkeypatch.setattr(pool, "TASK_BYTES", 1)
    # Without stealing every task but the first goes to a worker (merges and re-reads); with it, the
    # main process takes the tasks no worker has started (most, here: the pool starts slowly).
    monkeypatch.setattr(pool, "STEAL", steal)
    results = {}
    for workers in (1, 2):
        logs, data = tmp_path / f"logs{workers}", tmp_path / f"data{workers}"
        report = run_import(SOURCES[source], roots, logs_dir=logs, data_dir=data, now=NOW, workers=workers)
        results[workers] = (_summary(report), _logs(logs))
    assert results[1][0]["tokens"] > 0 and results[1][0]["duplicate_records"] > 0
    assert results[2][0] == results[1][0]
    assert results[2][1] == results[1][1]


def test_growth_after_a_pool_pass_reads_only_what_grew(tmp_path: Path) -> None:
    roots = _codex_tree(tmp_path / "in")
    logs, data = tmp_path / "logs", tmp_path / "data"
    first = run_import(SOURCES["codex"], roots, logs_dir=logs, data_dir=data, now=NOW, workers=2)
    before = _logs(logs)
    again = run_import(SOURCES["codex"], roots, logs_dir=logs, data_dir=data, now=NOW, workers=2)
    assert first.total_events > 0 and again.bytes_read == 0 and again.total_events == 0
    assert _logs(logs) == before
    # One rollout grows by a turn: only its new bytes are read, into its session.
    rollout = next(p for p in roots[0].rglob("rollout-2026-03-03T09*.jsonl"))
    grown = rollout.stat().st_size
    with rollout.open("a") as handle:
        handle.write(
            json.dumps(
                {
                    "timestamp": "2026-03-03T09:30:00.000Z",
                    "type": "event_msg",
                    "payload": {"type": "user_message", "message": "and the docs"},
                }
            )
            + "\n"
        )
    third = run_import(SOURCES["codex"], roots, logs_dir=logs, data_dir=data, now=NOW, workers=2)
    assert third.bytes_read == rollout.stat().st_size - grown
    assert third.events["followup_sent"] == 1


def test_tasks_keep_a_sessions_files_together(tmp_path: Path) -> None:
    sid = "06090cb1-3e64-433a-bc7e-a621c0f596d2"
    names = [
        f"{sid}.jsonl",
        f"{sid}/subagents/agent-1.jsonl",
        f"{sid}/subagents/agent-2.jsonl",
        "other.jsonl",
    ]
    items = [Pending(tmp_path / n, 0, i, 0, 1, 10 << 20, None) for i, n in enumerate(names)]
    cut = pool.tasks(items)
    assert [len(t) for t in cut] == [3, 1]
