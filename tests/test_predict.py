"""Prediction: failure risk, cost forecast and experiments, on generated logs with a known signal,
judged on later days than they learned from; and the live predicted_failure alert end to end."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from agent_pipelines.core.reader import read_logs
from agent_pipelines.core.writer import serialize
from agent_pipelines.generator import generate
from agent_pipelines.predict import evaluation, experiments, live, risk, store

START = date(2026, 3, 2)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    root = tmp_path_factory.mktemp("history")
    generate(root, days=6, tasks=2400, seed=5, start=START, workers=1, signal=True, transcripts=False)
    return root, read_logs(root).events


def test_failure_risk_beats_the_baselines_on_later_days(history: tuple[Path, pl.DataFrame]) -> None:
    _, events = history
    model, rows, split = evaluation.failure_risk(events)
    assert model is not None and split.startswith("time")
    table = pl.DataFrame(rows)
    for cutoff in ("2 min", "5 min", "5 events", "10 events"):
        at = {r["predictor"]: r for r in table.filter(pl.col("cutoff") == cutoff).iter_rows(named=True)}
        assert at["model"]["roc_auc"] > at["per-executor rate"]["roc_auc"] + 0.05
        assert at["model"]["brier"] < at["base rate"]["brier"]


def test_reasons_are_words_about_what_the_session_did(history: tuple[Path, pl.DataFrame]) -> None:
    _, events = history
    model = risk.train(events)
    assert model is not None
    snaps = risk.labelled_snapshots(events, [risk.Cutoff(events=10)])
    worst = snaps.sort("errors", descending=True).row(0, named=True)
    calm = snaps.filter(pl.col("errors") == 0).row(0, named=True)
    p_worst, p_calm = model.score(pl.DataFrame([worst, calm]))
    assert p_worst > p_calm
    reasons = model.reasons(worst)
    assert reasons and any("error" in r for r in reasons)


def test_cost_interval_covers_later_attempts_at_its_level(history: tuple[Path, pl.DataFrame]) -> None:
    _, events = history
    model, scores = evaluation.cost_forecast(events)
    assert model is not None
    assert scores["mae_model"] < scores["mae_per_executor_mean"]
    assert 0.85 <= scores["interval_coverage"] <= 0.96
    small = model.one(
        description="Fix CSV export in the web-app project (small task).", executor="CODEX", model="gpt-5"
    )
    large = model.one(
        description="Migrate caching layer in the infra project (large task). Requirements: "
        + "; ".join(["add unit tests"] * 8),
        executor="CODEX",
        model="gpt-5",
    )
    assert small["low_usd"] <= small["forecast_usd"] <= small["high_usd"]
    assert large["forecast_usd"] > small["forecast_usd"]


def test_estimate_command(history: tuple[Path, pl.DataFrame], tmp_path: Path) -> None:
    root, _ = history
    cmd = [sys.executable, "-m", "agent_pipelines.cli", "estimate", "Fix CSV export (small task).",
           "--executor", "CODEX", "--logs-dir", str(root), "--data-dir", str(tmp_path), "--json"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout)
    assert result["low_usd"] <= result["forecast_usd"] <= result["high_usd"] and result["level"] == 0.9
    bad = subprocess.run([*cmd[:-5], "--logs-dir", str(tmp_path / "none"), "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_experiment_finds_the_true_variant_effect(history: tuple[Path, pl.DataFrame]) -> None:
    root, events = history
    truth = json.loads((root / "ground-truth.json").read_text())
    table = experiments.compare(experiments.attempt_table(events), "prompt_variant")
    row = table.filter((pl.col("metric") == "first_shot") & (pl.col("variant") == "B")).row(0, named=True)
    firsts = [a for a in truth["attempts"] if a["attempt_number"] == 1 and a["p_success_if"]]
    true_effect = float(np.mean([a["p_success_if"]["B"] - a["p_success_if"]["A"] for a in firsts]))
    assert row["diff_low"] <= true_effect <= row["diff_high"]
    assert row["sentence"].startswith("B beats A on first-shot success by ")
    cost_row = table.filter((pl.col("metric") == "cost_usd") & (pl.col("variant") == "B")).row(0, named=True)
    assert cost_row["diff_low"] <= 0 <= cost_row["diff_high"] and "even" in cost_row["sentence"]


def test_wilson_and_newcombe_match_published_values() -> None:
    # Newcombe (1998), table II example: 56/70 vs 48/80 → difference 0.2, 95% CI 0.0524 to 0.3339
    low, high = experiments.newcombe(48, 80, 56, 70)
    assert math.isclose(low, 0.0524, abs_tol=5e-4) and math.isclose(high, 0.3339, abs_tol=5e-4)
    w_low, w_high = experiments.wilson(0, 10)
    assert w_low == pytest.approx(0.0, abs=1e-12) and math.isclose(w_high, 0.2775, abs_tol=5e-4)
    assert experiments.sentence("B", "A", "first_shot", 0.09, 0.03, 0.15) == (
        "B beats A on first-shot success by 9 points, 95% CI 3–15 points"
    )


def test_false_alarm_rate_on_held_out_sessions(history: tuple[Path, pl.DataFrame]) -> None:
    """Replayed event by batch through the live scorer: sessions that went on to fail are flagged
    before they end far more often than sessions that succeeded (the false alarms)."""
    _, events = history
    held_out = sorted(events["day"].unique().to_list())[-2:]  # the last day and the tail after midnight
    model = risk.train(events.filter(~pl.col("day").is_in(held_out)))
    later = events.filter(pl.col("day").is_in(held_out)).sort("timestamp")
    flagged = live.replay(later, model, (0.8,))[0.8]  # 30-second batches, as the live sensor reads them
    ends = later.filter(pl.col("event_type") == "session_end").select(
        "attempt_id", "completion_status", pl.col("timestamp").dt.epoch("ms").alias("end_ms")
    )
    failed = ends.filter(pl.col("completion_status") != "success")
    ok = ends.filter(pl.col("completion_status") == "success")
    false_alarms = sum(a in flagged for a in ok["attempt_id"]) / ok.height
    caught = (
        sum(flagged.get(a, 1 << 62) < e for a, e in failed.select("attempt_id", "end_ms").iter_rows())
        / failed.height
    )
    print(
        f"false alarms {false_alarms:.1%} of {ok.height} successes; "
        f"caught {caught:.1%} of {failed.height} failures"
    )
    assert false_alarms < 0.10 and caught > 3 * false_alarms


def _line(at: datetime, attempt: str, kind: str, data: dict, **context: str) -> str:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return serialize({"timestamp": stamp, "attempt_id": attempt, "task_id": f"t-{attempt}", **context,
                      "event_type": kind, "data": data})  # fmt: skip


def test_live_detector_alerts_a_failing_session_before_it_ends(
    history: tuple[Path, pl.DataFrame], tmp_path: Path
) -> None:
    _, events = history
    data_dir, logs = tmp_path / "data", tmp_path / "logs"
    model = risk.train(events)
    store.save(data_dir, live.MODEL_NAME, model, {})
    t0 = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
    bad = {"executor": "GEMINI_CLI", "model": "gemini-2.5-pro", "task_title": "Migrate database migration"}
    good = {"executor": "CLAUDE_CODE", "model": "claude-sonnet-4-5", "task_title": "Document CSV export"}
    lines = []
    for attempt, ctx, errors in (("ve-bad", bad, True), ("ve-good", good, False)):
        lines.append(_line(t0, attempt, "session_start", {"prompt_type": "initial"}, **ctx))
        for i in range(8):
            at = t0 + timedelta(seconds=25 * (i + 1))
            lines.append(
                _line(
                    at,
                    attempt,
                    "tool_call",
                    {"tool_name": "Bash", "tool_params": {"command": "npm test"}},
                    **ctx,
                )
            )
            lines.append(
                _line(
                    at + timedelta(seconds=1),
                    attempt,
                    "tool_result",
                    {"tool_name": "Bash", "success": not errors},
                    **ctx,
                )
            )
            if errors and i in (1, 2, 4):
                message = [
                    "connect ECONNREFUSED 10.0.0.5:5432",
                    "Killed: out of memory (OOM)",
                    "docker: Cannot connect to the Docker daemon",
                ][i % 3]
                category = "environment" if i != 2 else "resources"
                lines.append(
                    _line(
                        at + timedelta(seconds=2),
                        attempt,
                        "error",
                        {"error_message": message, "error_category": category},
                        **ctx,
                    )
                )
    stream = logs / "stream"
    stream.mkdir(parents=True)
    (stream / "2026-03-20.jsonl").write_text("\n".join(sorted(lines)) + "\n")
    cmd = [sys.executable, "-m", "agent_pipelines.cli", "detect", "--once", "--logs-dir", str(logs),
           "--data-dir", str(data_dir), "--now", "2026-03-20T10:04:00Z"]  # fmt: skip
    subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300)
    alerts = [json.loads(x) for x in (logs / "agent-alerts.jsonl").read_text().splitlines() if x.strip()]
    predicted = [a for a in alerts if a["type"] == "predicted_failure"]
    assert [a["attempt_id"] for a in predicted] == ["ve-bad"]
    alert = predicted[0]
    assert alert["risk"] > 0.8 and alert["severity"] == "low" and alert["reasons"]
    assert alert["timestamp"] < "2026-03-20T10:04:00"  # event time, before the session has ended


def test_materialize_builds_versioned_models_and_the_tables(tmp_path: Path) -> None:
    """The prediction assets through `agent-pipelines materialize`: a model version each, with its
    evaluation, the forecast and experiment tables, and a second training is a new version."""
    logs, data = tmp_path / "logs", tmp_path / "data"
    generate(logs, days=3, tasks=900, seed=8, start=START, workers=1, signal=True, transcripts=False)
    cmd = [sys.executable, "-m", "agent_pipelines.cli", "materialize", "--logs-dir", str(logs),
           "--data-dir", str(data), "--quiet"]  # fmt: skip
    env = {**os.environ, "DAGSTER_HOME": str(data / "dagster_home")}
    subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600, env=env)
    loaded = store.load_latest(data, live.MODEL_NAME)
    assert loaded is not None and isinstance(loaded[0], risk.RiskModel)
    assert {r["predictor"] for r in loaded[1]["evaluation"]["rows"]} >= {"model", "base rate"}
    cost_info = json.loads((data / "models" / "cost_forecast" / "latest.json").read_text())
    assert 0.7 < cost_info["evaluation"]["interval_coverage"] <= 1.0
    tables = data / "tables"
    forecasts = pl.read_parquet(next((tables / "cost_forecast").rglob("*.parquet")))
    assert (forecasts["low_usd"] <= forecasts["forecast_usd"]).all()
    exp = pl.read_parquet(next((tables / "experiments_table").rglob("*.parquet")))
    assert (
        set(exp["by"]) == {"prompt_variant", "executor", "model"}
        and exp["sentence"].str.len_chars().max() > 0
    )
    best = exp.filter(pl.col("p_best").is_not_null()).group_by("by", "metric").agg(pl.col("p_best").sum())
    assert best.height and ((best["p_best"] - 1.0).abs() < 1e-3).all()  # one distribution each (rounded)


def test_open_sessions_riskiest_first_with_reasons(history: tuple[Path, pl.DataFrame]) -> None:
    """The UI's page of open sessions: riskiest first, the top ones explained in words."""
    _, events = history
    model = risk.train(events)
    assert model is not None
    t0 = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
    rows = []
    for attempt, errors in (("calm", 0), ("noisy", 4)):
        ctx = {"attempt_id": attempt, "executor": "CODEX", "model": "gpt-5", "task_title": "Fix export"}
        rows.append({**ctx, "timestamp": t0, "event_type": "session_start"})
        for i in range(errors):
            rows.append({**ctx, "timestamp": t0 + timedelta(seconds=10 * (i + 1)), "event_type": "error",
                         "error_category": "environment", "error_message": f"ECONNREFUSED {i}"})  # fmt: skip
        rows.append(
            {**ctx, "timestamp": t0 + timedelta(seconds=60), "event_type": "tool_call", "tool_name": "Bash"}
        )
    state = live.LiveRisk()
    live.update(state, pl.DataFrame(rows), model, threshold=1.0)
    page = live.open_risks(state, model, top=1)
    assert page["attempt_id"].to_list() == ["noisy", "calm"] and page["risk"][0] > page["risk"][1]
    assert "error" in page["reasons"][0] and page["reasons"][1] == ""
    assert live.open_risks(live.LiveRisk(), model).is_empty()
