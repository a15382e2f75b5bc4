"""Experiments across more than two variants: every pair with Holm's correction and simultaneous
intervals, each variant's probability of being best, and the sessions still needed."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from agent_pipelines.cli import main
from agent_pipelines.core.reader import read_logs
from agent_pipelines.generator import generate
from agent_pipelines.predict import comparisons, experiments


def attempts(
    rates: dict[str, float], n: int, seed: int = 0, cost: dict[str, float] | None = None
) -> pl.DataFrame:
    """One finished attempt per task for each variant, succeeding at its rate (an attempt table)."""
    rng = np.random.default_rng(seed)
    rows = []
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    for variant, rate in rates.items():
        for i in range(n):
            ok = bool(rng.random() < rate)
            rows.append({
                "attempt_id": f"{variant}-{i}", "task_id": f"{variant}-{i}",
                "started_at": t0 + timedelta(minutes=i),
                "executor": "CODEX", "model": "gpt-5", "prompt_variant": variant,
                "completion_status": "success" if ok else "failed", "success": float(ok),
                "cost_usd": float(rng.normal((cost or {}).get(variant, 0.1), 0.02)),
                "duration_ms": int(rng.integers(60_000, 600_000)),
            })  # fmt: skip
    return pl.DataFrame(rows).with_columns(minutes=pl.col("duration_ms") / 60_000)


def test_holm_matches_the_step_down_by_hand() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> kept non-decreasing: 0.06
    assert comparisons.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert comparisons.holm([0.5, 0.9]) == [1.0, 1.0]
    assert comparisons.holm([]) == []


def test_holm_keeps_the_family_wise_error_at_its_level() -> None:
    """Four variants that are all the same, 400 experiments: uncorrected tests of the six pairs claim a
    difference in about a fifth of them; after Holm, in at most about 5%."""
    rng = np.random.default_rng(7)
    raw_any = holm_any = 0
    runs, n = 400, 150
    for _ in range(runs):
        wins = rng.binomial(n, 0.4, size=4)
        ps = [comparisons.share_test(wins[i], n, wins[j], n) for i in range(4) for j in range(i + 1, 4)]
        raw_any += min(ps) < 0.05
        holm_any += min(comparisons.holm(ps)) < 0.05
    assert raw_any / runs > 0.12
    assert holm_any / runs <= 0.07


def test_pairs_find_the_better_variant_and_only_it() -> None:
    frame = attempts({"A": 0.40, "B": 0.42, "C": 0.70}, n=300, seed=1, cost={"C": 0.2})
    pairs = comparisons.pairwise(frame, "prompt_variant")
    success = {(r["a"], r["b"]): r for r in pairs.filter(pl.col("metric") == "success").iter_rows(named=True)}
    assert set(success) == {("A", "B"), ("A", "C"), ("B", "C")} and success[("A", "C")]["pairs"] == 3
    assert success[("A", "C")]["claimed"] and success[("B", "C")]["claimed"]
    assert not success[("A", "B")]["claimed"]
    assert success[("A", "C")]["sentence"].startswith("C beats A on success by")
    assert (
        "are even" in success[("A", "B")]["sentence"]
        and "more sessions each" in success[("A", "B")]["sentence"]
    )
    assert success[("A", "B")]["p_holm"] >= success[("A", "B")]["p"]
    # the simultaneous interval is wider than the single 95% one against the baseline
    single = experiments.compare(frame, "prompt_variant").filter(
        (pl.col("metric") == "success") & (pl.col("variant") == "C")
    )
    assert (
        success[("A", "C")]["high"] - success[("A", "C")]["low"]
        > single["diff_high"].item() - single["diff_low"].item()
    )
    cost = {(r["a"], r["b"]): r for r in pairs.filter(pl.col("metric") == "cost_usd").iter_rows(named=True)}
    assert cost[("A", "C")]["claimed"] and cost[("A", "C")]["sentence"].startswith(
        "A beats C on cost"
    )  # cheaper wins


def test_probability_of_being_best() -> None:
    frame = attempts({"A": 0.40, "B": 0.42, "C": 0.70}, n=300, seed=1, cost={"C": 0.2})
    best = comparisons.p_best(frame, "prompt_variant", "success")
    assert set(best) == {"A", "B", "C"} and math.isclose(sum(best.values()), 1.0)
    assert best["C"] > 0.99
    assert comparisons.p_best(frame, "prompt_variant", "success") == best  # seeded: same data, same answer
    cheapest = comparisons.p_best(frame, "prompt_variant", "cost_usd")
    assert cheapest["C"] < 0.01
    a = attempts({"A": 0.5}, n=400, seed=2)
    twins = pl.concat([a, a.with_columns(prompt_variant=pl.lit("B"))])  # the very same outcomes
    even = comparisons.p_best(twins, "prompt_variant", "success")
    assert 0.45 < even["A"] < 0.55
    table = comparisons.variant_table(frame, "prompt_variant")
    assert table.filter((pl.col("metric") == "success") & (pl.col("variant") == "C"))["p_best"].item() > 0.99


def test_one_variant_has_no_pairs() -> None:
    assert comparisons.pairwise(attempts({"A": 0.5}, n=20), "prompt_variant").is_empty()


def test_the_assets_metadata_lists_claims_first_and_the_likely_best() -> None:
    from assets.prediction import best_markdown, pairs_markdown

    frame = attempts({"A": 0.40, "B": 0.42, "C": 0.70}, n=300, seed=1, cost={"C": 0.2})
    text = pairs_markdown(comparisons.pairwise(frame, "prompt_variant"))
    lines = text.splitlines()
    assert (
        len(lines) == 3 * len(experiments.METRICS) and "beats" in lines[0] and "C beats A on success" in text
    )
    best = best_markdown(comparisons.variant_table(frame, "prompt_variant"))
    assert "| prompt_variant | success | C |" in best
    assert pairs_markdown(pl.DataFrame()) == "fewer than two variants"


def test_experiments_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = tmp_path / "logs"
    generate(
        logs, days=2, tasks=400, seed=3, start=date(2026, 3, 2), workers=1, signal=True, transcripts=False
    )
    assert main(["experiments", "--logs-dir", str(logs), "--by", "executor", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    executors = {r["variant"] for r in out["variants"]}
    k = len(executors)
    assert k >= 3 and len(out["pairs"]) == len(experiments.METRICS) * k * (k - 1) // 2
    assert {r["pairs"] for r in out["pairs"]} == {k * (k - 1) // 2}
    assert main(["experiments", "--logs-dir", str(logs), "--metric", "first_shot"]) == 0
    text = capsys.readouterr().out
    assert (
        "P(best)" in text and "1 pair(s) per metric, Holm-corrected" in text and "first-shot success" in text
    )
    bare = tmp_path / "bare"
    generate(bare, days=1, tasks=30, seed=4, start=date(2026, 3, 2), workers=1, transcripts=False)
    assert main(["experiments", "--logs-dir", str(bare)]) == 2
    assert capsys.readouterr().err.strip() == f"agent-pipelines: no prompt variant in the attempts of {bare}"


def test_the_risk_models_page_lists_open_sessions(tmp_path: Path) -> None:
    """The failure_risk_model asset's page: the sessions the live detector follows, riskiest first."""
    from agent_pipelines.orchestration.log_store import LogStore
    from agent_pipelines.predict import live, risk
    from assets.prediction import open_sessions_markdown

    logs = tmp_path / "logs"
    generate(
        logs, days=2, tasks=300, seed=6, start=date(2026, 3, 2), workers=1, signal=True, transcripts=False
    )
    events = read_logs(logs).events
    model = risk.train(events)
    store = LogStore(logs_dir=str(logs), data_dir=str(tmp_path / "data"))
    assert open_sessions_markdown(store, None).startswith("no model yet")
    assert open_sessions_markdown(store, model).startswith("no open sessions")
    state = live.LiveRisk()
    live.update(state, events.filter(pl.col("event_type") != "session_end").head(400), model, threshold=1.0)
    live.save_state(tmp_path / "data", state)
    page = open_sessions_markdown(store, model)
    assert page.startswith("| attempt\\_id | executor |") and "| reasons |" in page and page.count("\n") >= 3
