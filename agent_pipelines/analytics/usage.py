"""Daily usage by model, the way ``ccusage daily`` shows it: per UTC day, the models used, tokens and cost.

A session's tokens and cost are known when it ends (its ``session_end``), so they count on the UTC
day it *ended*; open sessions have none yet. The same definition feeds the ``daily_usage`` asset,
its time series in the UI and the per-day numbers on ``cleaned_events``.
"""

from __future__ import annotations

import polars as pl

from agent_pipelines.text import markdown as md

DAILY_USAGE_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "model": pl.String(),
    "executor": pl.String(),
    "sessions": pl.UInt32(),
    "succeeded": pl.UInt32(),
    "total_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
}


def daily_usage(sessions: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per (UTC day ended, model, executor) of closed sessions: sessions, successes, tokens,
    cost (:data:`DAILY_USAGE_SCHEMA`)."""
    closed = sessions.lazy().filter(~pl.col("is_open") & pl.col("ended_at").is_not_null())
    return (
        closed.with_columns(
            pl.col("ended_at").dt.date().alias("day"),
            pl.col("model").fill_null("unknown"),
            pl.col("executor").fill_null("unknown"),
        )
        .group_by("day", "model", "executor")
        .agg(
            pl.len().alias("sessions"),
            pl.col("succeeded").sum().alias("succeeded"),
            pl.col("total_tokens").fill_null(0).sum().alias("total_tokens"),
            pl.col("cost_usd").fill_null(0.0).sum().alias("cost_usd"),
        )
        .select([pl.col(c).cast(t) for c, t in DAILY_USAGE_SCHEMA.items()])
        .sort("day", "cost_usd", "model", descending=[False, True, False])
        .collect()
    )


def daily_totals(usage: pl.DataFrame) -> pl.DataFrame:
    """Per day: the models used (by cost), sessions, success rate, tokens, cost."""
    return (
        usage.sort("cost_usd", descending=True)
        .group_by("day", maintain_order=True)
        .agg(
            pl.col("model").unique(maintain_order=True).alias("models"),
            pl.col("sessions").sum(),
            pl.col("succeeded").sum(),
            pl.col("total_tokens").sum(),
            pl.col("cost_usd").sum(),
        )
        .with_columns((pl.col("succeeded") / pl.col("sessions")).alias("success_rate"))
        .sort("day")
    )


def ccusage_markdown(usage: pl.DataFrame, limit: int = 31) -> str:
    """The ccusage-style table: Date | Models | Sessions | Total Tokens | Cost (USD), and a total (of
    the days shown, and labelled so when older days are left out)."""
    every_day = daily_totals(usage)
    totals = every_day.tail(limit)
    label = "**Total**" if totals.height == every_day.height else f"**Last {totals.height} days**"
    lines = ["| Date | Models | Sessions | Total Tokens | Cost (USD) |", "|---|---|---:|---:|---:|"]
    for row in totals.iter_rows(named=True):
        models = ", ".join(row["models"])
        lines.append(
            f"| {row['day'].isoformat()} | {md.escape(models)} | {row['sessions']:,} "
            f"| {row['total_tokens']:,} | ${row['cost_usd']:,.2f} |"
        )
    if totals.height:
        sessions, tokens = int(totals["sessions"].sum()), int(totals["total_tokens"].sum())
        cost = float(totals["cost_usd"].sum())
        lines.append(f"| {label} | | **{sessions:,}** | **{tokens:,}** | **${cost:,.2f}** |")
    return "\n".join(lines)


__all__ = ["DAILY_USAGE_SCHEMA", "ccusage_markdown", "daily_totals", "daily_usage"]


def _key(name: object) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.\-]", "_", str(name or "unknown"))[:60]


def day_numbers(events: pl.DataFrame, top: int = 12) -> dict[str, float | int]:
    """One UTC day's numbers from its events, for the Plots tab of the daily partitions: sessions
    ended, success rate, cost and tokens, overall and by executor and model (each attempt's last
    ``session_end`` of the day)."""
    if events.is_empty() or "event_type" not in events.columns:
        return {"day/sessions_ended": 0}
    cols = ("attempt_id", "executor", "model", "completion_status", "cost_usd", "total_tokens")
    ends = events.filter(pl.col("event_type") == "session_end")
    ends = ends.select([pl.col(c) if c in ends.columns else pl.lit(None).alias(c) for c in cols])
    ends = ends.unique("attempt_id", keep="last", maintain_order=True)
    out: dict[str, float | int] = {"day/sessions_ended": ends.height}
    if ends.is_empty():
        return out
    successes = int((ends["completion_status"] == "success").sum())
    out["day/success_rate"] = successes / ends.height
    out["day/cost_usd"] = float(ends["cost_usd"].fill_null(0.0).sum())
    out["day/tokens"] = int(ends["total_tokens"].fill_null(0).sum())
    for by in ("executor", "model"):
        grouped = (
            ends.group_by(pl.col(by).fill_null("unknown"))
            .agg(
                pl.len().alias("n"),
                pl.col("cost_usd").fill_null(0.0).sum().alias("cost"),
                pl.col("total_tokens").fill_null(0).sum().alias("tokens"),
            )
            .sort("cost", descending=True)
            .head(top)
        )
        for name, n, cost, tokens in grouped.iter_rows():
            out[f"sessions/{by}/{_key(name)}"] = int(n)
            out[f"cost_usd/{by}/{_key(name)}"] = float(cost)
            out[f"tokens/{by}/{_key(name)}"] = int(tokens)
    return out
