"""Prediction judged on real sessions: SWE-bench runs of mini-swe-agent with their evaluated outcomes
(tests/data/swe_sessions, README there), imported as any user would, and the features never told
the outcome by the importer's verdict."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from agent_pipelines.core.reader import read_logs
from agent_pipelines.ingest.importers import SOURCES, run_import
from agent_pipelines.predict.features import Cutoff, snapshots

REAL = Path(__file__).parent / "data" / "swe_sessions"
RUN_END = datetime(2025, 11, 19, tzinfo=UTC)


def imported(root: Path, tmp: Path) -> pl.DataFrame:
    """The trajectories under ``root`` imported into a fresh log folder, every run closed."""
    logs = tmp / "logs"
    last = max(p.stat().st_mtime for p in root.rglob("*.traj.json"))  # trajectories end at their mtime
    now = datetime.fromtimestamp(last + 86_400, UTC)  # a day later: every run is over
    run_import(SOURCES["mini-swe-agent"], [root], logs_dir=logs, data_dir=tmp / "data", now=now)
    return read_logs(logs).events


def mini_run(folder: Path, instance: str, commands: list[tuple[str, int]], resolved: bool) -> None:
    """A mini-swe-agent trajectory of ``commands`` (command, return code) and its evaluation report."""
    task = "<pr_description>\nFix the parser\n</pr_description>"
    messages = [{"role": "system", "content": "You help."}, {"role": "user", "content": task}]
    for command, code in commands:
        messages.append({"role": "assistant", "content": f"THOUGHT: next.\n\n```bash\n{command}\n```"})
        messages.append({"role": "user", "content": f"<returncode>{code}</returncode>\n<output>\n</output>"})
    stats = {"instance_cost": 0.2, "api_calls": len(commands)}
    info = {"exit_status": "Submitted", "model_stats": stats, "config": {"model": {"model_name": "m"}}}
    doc = {"info": info, "messages": messages}
    path = folder / instance / f"{instance}.traj.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    os.utime(path, (RUN_END.timestamp() - 3600,) * 2)
    report = folder / "results.json"
    empty: dict[str, list[str]] = {"resolved_ids": [], "unresolved_ids": []}
    verdicts = json.loads(report.read_text()) if report.exists() else empty
    verdicts["resolved_ids" if resolved else "unresolved_ids"].append(instance)
    report.write_text(json.dumps(verdicts))


STEPS = [("ls", 0), ("grep -n x a.py", 0), ("cat a.py", 0), ("python t.py", 0)]


def test_the_importers_verdict_is_not_a_feature(tmp_path: Path) -> None:
    """A failed run's "not resolved" error comes just before its end: it tells the outcome, so a
    snapshot must never count it (four steps: nine events, then the verdict would be the tenth, and
    10 events is a training cutoff)."""
    run = tmp_path / "run"
    mini_run(run, "pkg__pkg-1", STEPS, False)
    mini_run(run, "pkg__pkg-2", STEPS, True)
    events = imported(run, tmp_path)
    verdicts = events.filter((pl.col("event_type") == "error") & (pl.col("error_category") == "task"))
    assert verdicts["attempt_id"].to_list() == ["run/pkg__pkg-1"]
    snaps = snapshots(events, [Cutoff(events=n) for n in (3, 5, 9, 10)])
    assert sorted(set(snaps["cutoff"].to_list())) == ["3 events", "5 events", "9 events"]
    assert snaps["errors"].sum() == 0
    failed, ok = (snaps.filter(pl.col("attempt_id").str.ends_with(i)) for i in ("pkg-1", "pkg-2"))
    assert failed.drop("attempt_id").equals(ok.drop("attempt_id"))  # same prefix, same features


def test_real_runs_import_with_their_outcomes_and_costs(tmp_path: Path) -> None:
    events = imported(REAL, tmp_path)
    ends = events.filter(pl.col("event_type") == "session_end")
    counts = ends["completion_status"].value_counts().sort("completion_status").rows()
    assert ends.height == 11 and counts == [("failed", 6), ("success", 5)]
    assert ends.filter(pl.col("attempt_id").str.ends_with("django__django-11099"))["cost_usd"].item() == (
        pytest.approx(0.1337308, abs=1e-6)
    )
    assert events["executor"].drop_nulls().unique().to_list() == ["MINI_SWE_AGENT"]
