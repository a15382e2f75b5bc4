"""Prediction judged on real sessions: SWE-bench runs of mini-swe-agent with their evaluated outcomes
(tests/data/swe_sessions, README there), imported as any user would, and the features never told
the outcome by the importer's verdict."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from agent_pipelines.core.reader import read_logs
from agent_pipelines.generator import generate
from agent_pipelines.ingest.importers import SOURCES, run_import
from agent_pipelines.predict import cost, external, risk
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


def test_bootstrap_interval_brackets_the_auc_and_narrows_with_more_sessions() -> None:
    rng = np.random.default_rng(3)
    small_y, big_y = rng.integers(0, 2, 12), rng.integers(0, 2, 400)
    small_p, big_p = small_y * 0.2 + rng.random(12), big_y * 0.2 + rng.random(400)
    auc, low, high = external.bootstrap_auc(small_y, small_p)
    big, big_low, big_high = external.bootstrap_auc(big_y, big_p)
    assert auc is not None and low is not None and high is not None and low <= auc <= high
    assert big is not None and big_low is not None and big_high is not None and big_low <= big <= big_high
    assert big_high - big_low < high - low
    assert external.bootstrap_auc(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9])) == (None, None, None)
    perfect = external.bootstrap_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect == (1.0, 1.0, 1.0)
    ties = (
        np.array([[0, 1, 1, 0, 1], [1, 0, 0, 1, 0]]),
        np.array([[0.2, 0.2, 0.9, 0.5, 0.5], [0.1, 0.1, 0.4, 0.3, 0.9]]),
    )
    expected = [roc_auc_score(y, p) for y, p in zip(*ties, strict=True)]
    assert external.rank_auc(*ties) == pytest.approx(expected)


@pytest.fixture(scope="module")
def generated_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[risk.RiskModel, cost.CostModel]:
    root = tmp_path_factory.mktemp("generated")
    generate(
        root, days=2, tasks=600, seed=11, start=date(2026, 3, 2), workers=1, signal=True, transcripts=False
    )
    events = read_logs(root).events
    risk_model, cost_model = risk.train(events), cost.train(cost.task_rows(events))
    assert risk_model is not None and cost_model is not None
    return risk_model, cost_model


def test_models_trained_on_generated_logs_score_the_real_runs(
    generated_models: tuple[risk.RiskModel, cost.CostModel], tmp_path: Path
) -> None:
    risk_model, cost_model = generated_models
    events = imported(REAL, tmp_path)
    rows = {r["cutoff"]: r for r in external.risk_rows(events, risk_model)}
    first = rows["3 events"]  # every run has its start and first step
    assert (first["n"], first["failures"]) == (11, 6)
    assert first["auc_low"] <= first["roc_auc"] <= first["auc_high"]
    assert 0.0 <= first["brier"] <= 1.0 and first["brier_base_rate"] == pytest.approx(6 / 11 * 5 / 11)
    assert rows["5 events"]["n"] == 5 and rows["10 events"]["n"] == 1  # the runs with that many steps kept
    assert rows["10 events"]["roc_auc"] is None  # one outcome: no AUC
    costs = external.cost_summary(events, cost_model)
    assert costs["n"] == 11 and costs["mean_cost_usd"] == pytest.approx(3.6640616 / 11, abs=1e-5)
    assert 0.0 <= costs["interval_coverage"] <= 1.0 and costs["mae_loo_mean"] > 0


def test_imported_runs_have_their_task_length_and_shell_share(tmp_path: Path) -> None:
    """Importers carry the task in the first prompt (no task_description) and call the shell "bash":
    the features read both, so a real run's task length is known to the risk and cost models."""
    events = imported(REAL, tmp_path)
    snaps = snapshots(events, [Cutoff(events=3)])
    words = dict(zip(snaps["attempt_id"].str.split("/").list.last(), snaps["description_words"], strict=True))
    assert 100 < words["django__django-11099"] < words["astropy__astropy-13977"]
    assert snaps["bash_share"].to_list() == [1.0] * 11
    rows = cost.task_rows(events)
    assert (rows["description_words"] > 50).all()
