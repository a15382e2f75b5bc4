"""More than two variants: every pair compared with the multiple comparisons accounted for (Holm), and
each variant's probability of being the best, with the sessions still needed.

Why: :func:`.experiments.compare` sets each variant against one baseline. With four prompt variants
there are six pairs; tested each at 5%, a "real" difference among variants that are all the same turns
up by chance alone about a quarter of the time. Holm's step-down keeps the chance of even one false
claim at 5% or less over the whole family, and is never weaker than Bonferroni. The intervals shown
for pairs are simultaneous (Bonferroni: each at 1 - 5%/m, so all hold together at 95%), and the
sessions still needed are counted at that stricter level. The probability of being best answers what
an operator asks ("which one do I keep?") directly: for shares a Beta(1 + successes, 1 + failures)
posterior per variant (uniform prior), for cost and time a normal one (mean, variance / n; lower is
better), compared by Monte Carlo with a fixed seed, so the same data give the same numbers.
"""

from __future__ import annotations

import math
from itertools import combinations
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from agent_pipelines.predict.experiments import (
    METRICS,
    MIN_DIFF,
    NAMES,
    Z_POWER,
    compare,
    mean_ci,
    metric_values,
    newcombe,
)

ALPHA = 0.05
DRAWS = 20_000
SHARES = ("success", "first_shot")
LOWER_IS_BETTER = ("cost_usd", "minutes")


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given: the i-th smallest is multiplied by m - i + 1, then
    made non-decreasing (a claim is made where the adjusted value is below the level)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [1.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2)) if not math.isnan(z) else math.nan


def share_test(ka: float, na: float, kb: float, nb: float) -> float:
    """p-value of the two-proportion z-test (pooled under no difference)."""
    if not na or not nb:
        return math.nan
    pooled = (ka + kb) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    return two_sided_p((kb / nb - ka / na) / se) if se > 0 else 1.0


def pairwise(frame: pl.DataFrame, by: str = "prompt_variant", alpha: float = ALPHA) -> pl.DataFrame:
    """One row per pair of variants and metric: the difference (second minus first) with its
    simultaneous interval, the p-value and its Holm adjustment over the metric's pairs, whether the
    difference is claimed, the sessions each side needs at the corrected level, and a sentence."""
    variants: list[str] = sorted(str(v) for v in frame[by].drop_nulls().unique().to_list())
    pairs = list(combinations(variants, 2))
    if not pairs:
        return pl.DataFrame()
    z_sim = NormalDist().inv_cdf(1 - alpha / (2 * len(pairs)))
    rows: list[dict[str, Any]] = []
    for metric in METRICS:
        values = {v: metric_values(frame, by, v, metric) for v in variants}
        found = [_pair(metric, a, b, values[a], values[b], z_sim) for a, b in pairs]
        for row, adjusted in zip(
            found, holm([r["p"] if not math.isnan(r["p"]) else 1.0 for r in found]), strict=True
        ):
            row.update(by=by, p_holm=adjusted, claimed=adjusted < alpha, pairs=len(pairs))
            row["sentence"] = pair_sentence(row)
            rows.append(row)
    columns = ["by", "metric", "a", "b", "n_a", "n_b", "diff", "low", "high", "p", "p_holm", "claimed",
               "pairs", "n_needed_each", "n_more_each", "sentence"]  # fmt: skip
    return pl.DataFrame(rows).select(columns)


def _pair(metric: str, a: str, b: str, va: pl.Series, vb: pl.Series, z_sim: float) -> dict[str, Any]:
    na, nb = va.len(), vb.len()
    if metric in SHARES:
        ka, kb = float(va.sum()), float(vb.sum())
        diff = kb / nb - ka / na if na and nb else math.nan
        low, high = newcombe(ka, na, kb, nb, z_sim) if na and nb else (math.nan, math.nan)
        p = share_test(ka, na, kb, nb)
        pa, pb = (ka / na if na else 0.5), (kb / nb if nb else 0.5)
        spread = pa * (1 - pa) + pb * (1 - pb)
    else:
        ma, _, _, var_a = mean_ci(va)
        mb, _, _, var_b = mean_ci(vb)
        diff = mb - ma
        se = math.sqrt(var_a / na + var_b / nb) if na > 1 and nb > 1 else math.nan
        low, high = diff - z_sim * se, diff + z_sim * se
        p = two_sided_p(diff / se) if se and not math.isnan(se) else math.nan
        spread = (var_a if na > 1 else 0.0) + (var_b if nb > 1 else 0.0)
    effect = max(abs(diff) if not math.isnan(diff) else 0.0, MIN_DIFF[metric])
    needed = math.ceil((z_sim + Z_POWER) ** 2 * spread / effect**2) if spread > 0 else 0
    return {"metric": metric, "a": a, "b": b, "n_a": na, "n_b": nb, "diff": diff, "low": low, "high": high,
            "p": p, "n_needed_each": needed, "n_more_each": max(0, needed - min(na, nb))}  # fmt: skip


def _amount(metric: str, x: float, unit: bool = True) -> str:
    if metric in SHARES:
        return f"{x * 100:.0f}" + (" points" if unit else "")
    return f"${x:.3f}" if metric == "cost_usd" else f"{x:.1f}" + (" min" if unit else "")


def pair_sentence(row: dict[str, Any]) -> str:
    """ "C beats A on success by 30 points (simultaneous 95% CI 21 to 39 points, Holm p 0.000)": the
    interval is of the winner's advantage; "even" pairs say the difference (second minus first) and
    the sessions it would take to tell."""
    metric, a, b, diff = row["metric"], row["a"], row["b"], row["diff"]
    name = NAMES[metric]
    low, high = row["low"], row["high"]
    if any(math.isnan(x) for x in (diff, low, high)):
        return f"{b} vs {a} on {name}: too few sessions to say"
    holm_p = f"Holm p {row['p_holm']:.3f}"
    if not row["claimed"]:
        ci = f"simultaneous 95% CI {_amount(metric, low, False)} to {_amount(metric, high)}"
        more = f"; about {row['n_more_each']:,} more sessions each to tell" if row["n_more_each"] else ""
        return f"on {name} {b} and {a} are even ({b} − {a}: {_amount(metric, diff)}, {ci}, {holm_p}){more}"
    better = (diff < 0) if metric in LOWER_IS_BETTER else (diff > 0)
    winner, loser = (b, a) if better else (a, b)
    sign = 1.0 if diff > 0 else -1.0  # the advantage's interval: |diff| and its bounds, in order
    lo, hi = sorted((sign * low, sign * high))
    ci = f"simultaneous 95% CI {_amount(metric, lo, False)} to {_amount(metric, hi)}"
    return f"{winner} beats {loser} on {name} by {_amount(metric, abs(diff))} ({ci}, {holm_p})"


def p_best(frame: pl.DataFrame, by: str, metric: str, draws: int = DRAWS, seed: int = 0) -> dict[str, float]:
    """Each variant's posterior probability of being the best on ``metric`` (highest share, lowest
    cost or time); variants without enough values (none; one for a mean) are left out."""
    rng = np.random.default_rng(seed)
    samples: dict[str, np.ndarray] = {}
    for variant in sorted(str(v) for v in frame[by].drop_nulls().unique().to_list()):
        values = metric_values(frame, by, variant, metric)
        n = values.len()
        if metric in SHARES and n:
            k = float(values.sum())
            samples[variant] = rng.beta(1 + k, 1 + n - k, draws)
        elif metric not in SHARES and n > 1:
            mean, _, _, var = mean_ci(values)
            samples[variant] = -rng.normal(mean, math.sqrt(var / n), draws)  # lower is better: negate
    if not samples:
        return {}
    stacked = np.vstack(list(samples.values()))
    wins = np.bincount(stacked.argmax(axis=0), minlength=len(samples)) / draws
    return {v: float(w) for v, w in zip(samples, wins, strict=True)}


def variant_table(frame: pl.DataFrame, by: str = "prompt_variant") -> pl.DataFrame:
    """:func:`.experiments.compare`'s table (each variant against the baseline) with each variant's
    probability of being the best on the metric."""
    table = compare(frame, by)
    if table.is_empty():
        return table
    best = [
        {"metric": metric, "variant": variant, "p_best": share}
        for metric in METRICS
        for variant, share in p_best(frame, by, metric).items()
    ]
    if not best:
        return table.with_columns(p_best=pl.lit(None, pl.Float64))
    return table.join(pl.DataFrame(best), on=["metric", "variant"], how="left")
