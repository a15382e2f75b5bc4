"""Honest evaluation: fit on earlier finished attempts, score later ones, beside simple baselines.

Why a time split: a model is used on sessions that start after it was trained, so its figures must
come from attempts that ended after everything it learned from (a random split lets it learn a day's
quirks and find them again). When every attempt falls in one short period (an import of one day),
the split falls back to a hash of the attempt id: still no attempt on both sides, said in the result.

The baselines a model must beat: the training failure rate (one number for all), the failure rate
per executor, and the last week's rate per executor (the last 7 days of training).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from agent_pipelines.predict import cost, risk
from agent_pipelines.predict.features import EVENT_CUTOFFS, MINUTE_CUTOFFS, Cutoff

TEST_SHARE = 0.25
MIN_SPAN = timedelta(days=2)  # shorter than this: split by hash, not by time


def split_mode(ends: pl.Series) -> tuple[str, Any]:
    """``("time", moment)`` (test: ended after it) or ``("hash", None)``."""
    ends = ends.drop_nulls()
    if ends.len() < 2 or (ends.max() - ends.min()) < MIN_SPAN:  # type: ignore[operator]
        return "hash", None
    return "time", ends.sort()[int(ends.len() * (1 - TEST_SHARE))]


def is_test(frame: pl.DataFrame, mode: str, moment: Any, column: str) -> pl.Series:
    if mode == "time":
        return frame[column] > moment
    return frame["attempt_id"].hash(seed=3) % 4 == 0


def eval_cutoffs() -> list[Cutoff]:
    return [Cutoff(minutes=m) for m in MINUTE_CUTOFFS] + [Cutoff(events=n) for n in EVENT_CUTOFFS]


def _rate_by(train: pl.DataFrame, test: pl.DataFrame, default: float) -> np.ndarray:
    rates = train.group_by("executor").agg(pl.col("failed").mean().alias("rate"))
    joined = test.select("executor").join(rates, on="executor", how="left")
    return joined["rate"].fill_null(default).to_numpy()


def failure_risk(
    events: pl.DataFrame | pl.LazyFrame,
) -> tuple[risk.RiskModel | None, list[dict[str, Any]], str]:
    """Train on the earlier attempts, evaluate at each cutoff on the later ones; the rows and the split."""
    snaps = risk.labelled_snapshots(events, risk.training_cutoffs() + eval_cutoffs())
    if snaps.is_empty():
        return None, [], "none"
    mode, moment = split_mode(snaps["ended_at"])
    test_mask = is_test(snaps, mode, moment, "ended_at")
    train_all, test_all = snaps.filter(~test_mask), snaps.filter(test_mask)
    train_labels = {c.label for c in risk.training_cutoffs()}
    model = risk.train(None, snaps=train_all.filter(pl.col("cutoff").is_in(list(train_labels))))
    split = (
        f"time: trained on attempts ended by {moment}"
        if mode == "time"
        else "hash of the attempt id (1 in 4 held out)"
    )
    if model is None:
        return None, [], split
    base = float(train_all.unique("attempt_id")["failed"].cast(pl.Float64).to_numpy().mean())
    per_attempt = train_all.unique("attempt_id")
    last_week = per_attempt
    if mode == "time":
        last_week = per_attempt.filter(pl.col("ended_at") > moment - timedelta(days=7))
    rows: list[dict[str, Any]] = []
    for cut in eval_cutoffs():
        test = test_all.filter(pl.col("cutoff") == cut.label)
        if test.height < 10 or test["failed"].n_unique() < 2:
            continue
        y = test["failed"].to_numpy()
        predictions = {
            "model": model.score(test),
            "base rate": np.full(len(y), base),
            "per-executor rate": _rate_by(per_attempt, test, base),
            "last-week mean": _rate_by(last_week, test, base),
        }
        for name, p in predictions.items():
            rows.append({"cutoff": cut.label, "predictor": name, **risk.metrics(y, p)})
    return model, rows, split


def cost_forecast(events: pl.DataFrame | pl.LazyFrame) -> tuple[cost.CostModel | None, dict[str, Any]]:
    """Train on the earlier attempts; MAE and interval coverage on the later ones, with the baselines."""
    rows = cost.task_rows(events).filter(pl.col("cost_usd").is_not_null())
    if rows.is_empty():
        return None, {}
    mode, moment = split_mode(rows["ended_at"])
    mask = is_test(rows, mode, moment, "ended_at")
    train, test = rows.filter(~mask), rows.filter(mask)
    model = cost.train(train)
    if model is None or test.is_empty():
        return model, {}
    y = test["cost_usd"].to_numpy()
    f = model.forecast(test)
    per_exec = train.group_by("executor").agg(pl.col("cost_usd").mean().alias("m"))
    mean_all = float(train["cost_usd"].mean() or 0.0)  # type: ignore[arg-type]
    by_exec = (
        test.select("executor").join(per_exec, on="executor", how="left")["m"].fill_null(mean_all).to_numpy()
    )
    low, high = f["low_usd"].to_numpy(), f["high_usd"].to_numpy()
    return model, {
        "n_test": len(y),
        "mae_model": float(np.abs(f["forecast_usd"].to_numpy() - y).mean()),
        "mae_mean": float(np.abs(mean_all - y).mean()),
        "mae_per_executor_mean": float(np.abs(by_exec - y).mean()),
        "interval_level": model.level,
        "interval_coverage": float(((y >= low) & (y <= high)).mean()),
        "interval_width_usd": float((high - low).mean()),
        "split": mode,
    }
