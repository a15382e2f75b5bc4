"""Cost before a task runs: an attempt's cost from what is known before it starts, with an interval.

What it reads: executor, model, the task's kind (its title's verb), the words in its description,
whether it is a retry, and the prompt variant. What it learns: a median of the log of the cost by
gradient boosting (``HistGradientBoostingRegressor``, absolute error), then a split-conformal
interval: the :data:`LEVEL` quantile of the absolute log errors on a third of the attempts the
booster never saw (so the interval is a factor either side: narrow for cheap tasks, wide for dear ones),
so the interval covers about that share of new attempts *if they are like the past ones*
(exchangeable); a new executor or a price change breaks that, and the benchmark measures it on
later days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from agent_pipelines.predict.features import prompt_variant, task_kind

LEVEL = 0.9
CATEGORICAL = ("executor", "model", "task_kind", "prompt_variant")
NUMERIC = ("description_words", "is_retry")
MIN_ATTEMPTS = 30
EPS = 0.005  # USD added before the log, so a free attempt is not minus infinity


def task_rows(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Per attempt: what was known when it started, and (if it ended) its cost and end time."""
    lazy = events.lazy()
    starts = (
        lazy.filter(pl.col("event_type") == "session_start")
        .sort("timestamp")
        .group_by("attempt_id")
        .agg(
            pl.col("timestamp").first().alias("started_at"),
            pl.col("executor").first(),
            pl.col("model").first(),
            pl.col("task_title").first(),
            pl.col("task_description").first(),
            pl.col("prompt").first()
            if "prompt" in lazy.collect_schema().names()
            else pl.lit(None).alias("prompt"),
            pl.col("prompt_type").first(),
            pl.col("data").first(),
        )
    )
    ends = (
        lazy.filter(pl.col("event_type") == "session_end")
        .sort("timestamp")
        .group_by("attempt_id")
        .agg(pl.col("cost_usd").last(), pl.col("timestamp").last().alias("ended_at"))
    )
    frame = starts.join(ends, on="attempt_id", how="left").collect()
    descriptions = pl.Series(
        "task_description",
        [d or p for d, p in zip(frame["task_description"], frame["prompt"], strict=True)],
        pl.String,
    )  # importers carry the task only as the first prompt
    return frame.with_columns(
        features(frame["task_title"], descriptions, frame["prompt_type"], frame["data"])
    ).drop("data", "prompt")


def features(
    titles: pl.Series, descriptions: pl.Series, prompt_types: pl.Series, data: pl.Series
) -> list[pl.Series]:
    return [
        pl.Series("task_kind", [task_kind(t) for t in titles.to_list()], pl.String),
        pl.Series("description_words", [len((d or "").split()) for d in descriptions.to_list()], pl.Float64),
        pl.Series("is_retry", [float(p == "retry") for p in prompt_types.to_list()], pl.Float64),
        pl.Series("prompt_variant", [prompt_variant(d) or "none" for d in data.to_list()], pl.String),
    ]


def _table(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        [pl.col(c).fill_null("unknown").cast(pl.String) for c in CATEGORICAL]
        + [pl.col(c).cast(pl.Float64).fill_null(0.0) for c in NUMERIC]
    )


@dataclass
class CostModel:
    pipeline: Pipeline
    margin: float  # half-width of the conformal interval, in log USD
    level: float
    trained_on: int
    version: str = ""

    def forecast(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``forecast_usd``, ``low_usd``, ``high_usd`` per row of a :func:`task_rows`-like frame."""
        log_mid = np.asarray(self.pipeline.predict(_table(frame)))
        low, high = log_mid - self.margin, log_mid + self.margin
        return pl.DataFrame({"forecast_usd": _usd(log_mid), "low_usd": _usd(low), "high_usd": _usd(high)})

    def one(self, *, description: str, executor: str, model: str, title: str | None = None,
            retry: bool = False, variant: str | None = None) -> dict[str, Any]:  # fmt: skip
        """The forecast for one task described in words."""
        title = title or description
        frame = pl.DataFrame({"task_title": [title], "task_description": [description],
                              "prompt_type": ["retry" if retry else "initial"],
                              "data": [None if variant is None else f'{{"prompt_variant": "{variant}"}}'],
                              "executor": [executor], "model": [model]})  # fmt: skip
        frame = frame.with_columns(
            features(frame["task_title"], frame["task_description"], frame["prompt_type"], frame["data"])
        )
        return self.forecast(frame).row(0, named=True)


def _log(costs: pl.Series) -> np.ndarray:
    return np.log(np.maximum(costs.cast(pl.Float64).to_numpy(), 0.0) + EPS)


def _usd(log_costs: np.ndarray) -> np.ndarray:
    return np.maximum(np.exp(log_costs) - EPS, 0.0)


def train(rows: pl.DataFrame, level: float = LEVEL) -> CostModel | None:
    """Fit on finished attempts (``cost_usd`` known); ``None`` with fewer than :data:`MIN_ATTEMPTS`."""
    done = rows.filter(pl.col("cost_usd").is_not_null())
    if done.height < MIN_ATTEMPTS:
        return None
    held = (done["attempt_id"].hash(seed=11) % 3 == 0).to_numpy()
    fit, cal = done.filter(~held), done.filter(held)
    prep = ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", min_frequency=5, sparse_output=False),
                list(CATEGORICAL),
            ),
            ("num", "passthrough", list(NUMERIC)),
        ]
    )
    booster = HistGradientBoostingRegressor(
        loss="absolute_error", max_iter=150, learning_rate=0.08, random_state=0
    )
    with threadpool_limits(1):  # OpenMP threads fighting over a shared machine's cores cost 20x
        pipeline = Pipeline([("prep", prep), ("model", booster)]).fit(_table(fit), _log(fit["cost_usd"]))
    errors = np.sort(np.abs(_log(cal["cost_usd"]) - pipeline.predict(_table(cal))))
    k = min(len(errors) - 1, math.ceil((len(errors) + 1) * level) - 1)
    return CostModel(pipeline, float(errors[k]), level, done.height)
