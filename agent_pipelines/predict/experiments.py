"""Experiments: variants (prompt variants, executors, models) compared with confidence intervals.

Per variant: success (closed attempts), first-shot success (tasks whose first attempt ran under it),
mean cost and mean time, each with a 95% interval (Wilson for shares, normal for means). Against the
baseline (the variant named first in sort order, or ``baseline``): the difference with a 95% interval
(Newcombe's hybrid score interval for two shares, Welch's normal interval for means), how many more
attempts each side needs to tell a difference of that size (80% power, two-sided 5%), and a plain
sentence. Why these: Wilson and Newcombe keep their stated coverage with small counts and shares near
0 or 1, where the textbook normal interval does not; the benchmark checks the coverage against the
generator's true effect over many seeds.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from agent_pipelines.core.contract import SUCCESS_STATUS

Z = 1.959963984540054  # two-sided 95%
Z_POWER = 0.8416212335729143  # 80% power
METRICS = ("success", "first_shot", "cost_usd", "minutes")
NAMES = {"success": "success", "first_shot": "first-shot success", "cost_usd": "cost", "minutes": "time"}
MIN_DIFF = {"success": 0.05, "first_shot": 0.05, "cost_usd": 0.01, "minutes": 1.0}  # smallest worth finding


def attempt_table(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Per attempt: task, start, executor, model, prompt variant, and if finished: success, cost, minutes."""
    from agent_pipelines.predict.features import prompt_variant

    lazy = events.lazy()
    starts = (
        lazy.filter(pl.col("event_type") == "session_start").sort("timestamp").group_by("attempt_id")
        .agg(pl.col("task_id").first(), pl.col("timestamp").first().alias("started_at"),
             pl.col("executor").first(), pl.col("model").first(), pl.col("data").drop_nulls().first())
    )  # fmt: skip
    ends = (
        lazy.filter(pl.col("event_type") == "session_end").sort("timestamp").group_by("attempt_id")
        .agg(pl.col("completion_status").last(), pl.col("cost_usd").last(), pl.col("duration_ms").last())
    )  # fmt: skip
    frame = starts.join(ends, on="attempt_id", how="left").collect()
    return frame.with_columns(
        pl.Series("prompt_variant", [prompt_variant(d) for d in frame["data"].to_list()], pl.String),
        success=(pl.col("completion_status") == SUCCESS_STATUS).cast(pl.Float64),
        minutes=pl.col("duration_ms") / 60_000,
    ).drop("data")


def wilson(k: float, n: float, z: float = Z) -> tuple[float, float]:
    """Wilson's score interval of a share (95% at the default ``z``)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def newcombe(k1: float, n1: float, k2: float, n2: float, z: float = Z) -> tuple[float, float]:
    """Interval of p2 - p1 (Newcombe 1998, method 10; 95% at the default ``z``)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p2 - p1
    return (d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2))


def metric_values(frame: pl.DataFrame, by: str, variant: str, metric: str) -> pl.Series:
    """The values of ``metric`` for one variant: per finished attempt, or per task's first attempt
    for first-shot success."""
    if metric == "first_shot":
        firsts = frame.sort("started_at").group_by("task_id", maintain_order=True).first()
        rows = firsts.filter((pl.col(by) == variant) & pl.col("completion_status").is_not_null())
        return rows["success"]
    return frame.filter((pl.col(by) == variant) & pl.col(metric).is_not_null())[metric].cast(pl.Float64)


def mean_ci(values: pl.Series) -> tuple[float, float, float, float]:
    """Mean, its 95% normal interval and the sample variance (NaN where too few values)."""
    n = values.len()
    array = values.cast(pl.Float64).to_numpy()
    mean = float(array.mean()) if n else math.nan
    var = float(array.var(ddof=1)) if n > 1 else math.nan
    half = Z * math.sqrt(var / n) if n > 1 else math.nan
    return mean, mean - half, mean + half, var


def compare(frame: pl.DataFrame, by: str = "prompt_variant", baseline: str | None = None) -> pl.DataFrame:
    """One row per variant and metric: value with its interval, and against the baseline the
    difference, its interval, the attempts still needed, and the sentence."""
    variants: list[str] = sorted(str(v) for v in frame[by].drop_nulls().unique().to_list())
    if len(variants) < 1:
        return pl.DataFrame()
    base = baseline if baseline is not None and baseline in variants else variants[0]
    rows: list[dict[str, Any]] = []
    for metric in METRICS:
        b = metric_values(frame, by, base, metric)
        for variant in variants:
            v = metric_values(frame, by, variant, metric)
            row = _row(by, base, variant, metric, b, v)
            rows.append(row)
    return pl.DataFrame(rows)


def _row(by: str, base: str, variant: str, metric: str, b: pl.Series, v: pl.Series) -> dict[str, Any]:
    share = metric in ("success", "first_shot")
    n, nb = v.len(), b.len()
    if share:
        k, kb = float(v.sum()), float(b.sum())
        value = k / n if n else math.nan
        low, high = wilson(k, n)
        diff = value - kb / nb if n and nb else math.nan
        d_low, d_high = newcombe(kb, nb, k, n) if n and nb else (math.nan, math.nan)
        pv, pb = (value if n else 0.5), (kb / nb if nb else 0.5)
        spread = pv * (1 - pv) + pb * (1 - pb)
    else:
        value, low, high, var = mean_ci(v)
        mb, _, _, var_b = mean_ci(b)
        diff = value - mb
        half = Z * math.sqrt(var / n + var_b / nb) if n > 1 and nb > 1 else math.nan
        d_low, d_high = diff - half, diff + half
        spread = (var if n > 1 else 0.0) + (var_b if nb > 1 else 0.0)
    effect = max(abs(diff) if not math.isnan(diff) else 0.0, MIN_DIFF[metric])
    needed = math.ceil((Z + Z_POWER) ** 2 * spread / effect**2) if spread > 0 else 0
    return {
        "by": by, "variant": variant, "baseline": base, "metric": metric, "n": n,
        "value": value, "low": low, "high": high,
        "diff": None if variant == base else diff,
        "diff_low": None if variant == base else d_low,
        "diff_high": None if variant == base else d_high,
        "n_needed_each": needed, "n_more_each": max(0, needed - min(n, nb)),
        "sentence": "" if variant == base else sentence(variant, base, metric, diff, d_low, d_high),
    }  # fmt: skip


def _amount(metric: str, x: float) -> str:
    if metric in ("success", "first_shot"):
        return f"{x * 100:.0f}"
    return f"${x:.3f}" if metric == "cost_usd" else f"{x:.1f} min"


def sentence(variant: str, base: str, metric: str, diff: float, low: float, high: float) -> str:
    """ "B beats A on first-shot success by 9 points, 95% CI 3–15" or "on cost they are even ..."."""
    name = NAMES[metric]
    if any(math.isnan(x) for x in (diff, low, high)):
        return f"{variant} vs {base} on {name}: too few sessions to say"
    unit = " points" if metric in ("success", "first_shot") else ""
    ci = f"95% CI {_amount(metric, low)}–{_amount(metric, high)}{unit}"
    if low <= 0 <= high:
        return f"on {name} {variant} and {base} are even (difference {_amount(metric, diff)}{unit}, {ci})"
    higher_is_better = metric in ("success", "first_shot")
    better = (diff > 0) == higher_is_better
    verb = "beats" if better else "trails"
    return f"{variant} {verb} {base} on {name} by {_amount(metric, abs(diff))}{unit}, {ci}"


def summary(table: pl.DataFrame) -> list[str]:
    """The sentences of a comparison, one per variant and metric (baseline rows have none)."""
    return [s for s in table["sentence"].to_list() if s] if table.height else []
