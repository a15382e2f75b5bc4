"""The models judged on sessions they did not learn from and our generator did not make: imported real
sessions with known outcomes (SWE-bench runs of SWE-agent or mini-swe-agent, whose evaluation report
says which were resolved).

Why a module of its own: the time-split evaluation (:mod:`.evaluation`) trains and tests on one log
folder, so on generated logs it can only find the generator's own signal again. Here a model trained
elsewhere (the benchmark's generated history, or a fleet's own) scores sessions of another harness,
model and kind of task, as it would the day a team imports them: whether anything it learned carries
over is the question. Such sets are small (tens of sessions), so every ROC-AUC comes with a bootstrap
interval and the base rate and count beside it, and the cost forecast with the error of the plainest
baseline on the same sessions (their leave-one-out mean).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import brier_score_loss, roc_auc_score

from agent_pipelines.predict import cost, risk
from agent_pipelines.predict.features import Cutoff

BOOTSTRAP_ROUNDS = 2000
LEVEL = 0.95
EVENT_CUTOFFS = (3, 5, 10)  # a session's start and its first step; two steps; four and a half


def cutoffs() -> list[Cutoff]:
    """Event cutoffs only: imported trajectories carry no clock (one second a step), so minutes mean
    nothing there."""
    return [Cutoff(events=n) for n in EVENT_CUTOFFS]


def bootstrap_auc(
    y: np.ndarray, p: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> tuple[float | None, float | None, float | None]:
    """ROC-AUC and its 95% percentile interval over ``rounds`` resamples of the sessions (with
    replacement; a resample with one outcome only has no AUC and is left out). ``None`` each when the
    sample itself has one outcome."""
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    if len(set(y.tolist())) < 2:
        return None, None, None
    draws = np.random.default_rng(seed).integers(0, len(y), size=(rounds, len(y)))
    aucs = rank_auc(y[draws], p[draws])
    aucs = aucs[~np.isnan(aucs)]
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail]) if aucs.size else (np.nan, np.nan)
    return float(roc_auc_score(y, p)), float(low), float(high)


def rank_auc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row (the share of failure/success pairs the score orders right, ties counting
    half), NaN for a row with one outcome only. Sorting and binary search per row: 2,000 resamples in
    tens of milliseconds, where as many calls to scikit-learn's take seconds."""
    out = np.full(y.shape[0], np.nan)
    for i, (yi, pi) in enumerate(zip(y, p, strict=True)):
        pos, neg = pi[yi == 1], np.sort(pi[yi == 0])
        if pos.size and neg.size:
            below = np.searchsorted(neg, pos, side="left")
            ties = np.searchsorted(neg, pos, side="right") - below
            out[i] = (below.sum() + 0.5 * ties.sum()) / (pos.size * neg.size)
    return out


def risk_rows(events: pl.DataFrame | pl.LazyFrame, model: risk.RiskModel) -> list[dict[str, Any]]:
    """Per event cutoff the finished sessions lived past: count, failures, base rate, the model's
    ROC-AUC with its bootstrap interval, its Brier score and the Brier score of the sample's own base
    rate (an in-sample reference: no model that only knows the rate can do better)."""
    snaps = risk.labelled_snapshots(events, cutoffs())
    rows: list[dict[str, Any]] = []
    if snaps.is_empty():
        return rows
    for cut in cutoffs():
        at = snaps.filter(pl.col("cutoff") == cut.label)
        if at.is_empty():
            continue
        y, p = at["failed"].to_numpy(), model.score(at)
        auc, low, high = bootstrap_auc(y, p)
        rate = float(y.mean())
        rows.append({
            "cutoff": cut.label, "n": len(y), "failures": int(y.sum()), "failure_rate": rate,
            "roc_auc": auc, "auc_low": low, "auc_high": high,
            "brier": float(brier_score_loss(y, p)),
            "brier_base_rate": float(brier_score_loss(y, np.full(len(y), rate))),
            "mean_risk": float(p.mean()),
        })  # fmt: skip
    return rows


def cost_summary(events: pl.DataFrame | pl.LazyFrame, model: cost.CostModel) -> dict[str, Any]:
    """The forecast against the real costs: MAE beside the leave-one-out mean's, the interval's
    coverage, and the median ratio of forecast to actual (below 1: the model forecasts too little)."""
    rows = cost.task_rows(events).filter(pl.col("cost_usd").is_not_null())
    if rows.is_empty():
        return {}
    y = rows["cost_usd"].cast(pl.Float64).to_numpy()
    f = model.forecast(rows)
    mid, low, high = (f[c].to_numpy() for c in ("forecast_usd", "low_usd", "high_usd"))
    n = len(y)
    loo = (y.sum() - y) / (n - 1) if n > 1 else y
    return {
        "n": n,
        "mean_cost_usd": float(y.mean()),
        "mean_forecast_usd": float(mid.mean()),
        "mae_model": float(np.abs(mid - y).mean()),
        "mae_loo_mean": float(np.abs(loo - y).mean()),
        "interval_level": model.level,
        "interval_coverage": float(((y >= low) & (y <= high)).mean()),
        "median_ratio": float(np.median(mid / np.maximum(y, 1e-9))),
    }
