"""Prediction: the failure-risk model, the cost forecast and the experiment table, retrained daily.

Thin wiring over :mod:`agent_pipelines.predict`. Each model asset evaluates on a time split first
(:mod:`agent_pipelines.predict.evaluation`: earlier attempts train, later ones test, beside the
baselines), then trains on every finished attempt and writes a new version under the data folder's
``models/`` (what the live detector job and ``agent-pipelines estimate`` load); the evaluation is the
asset's metadata and table. ``prediction_schedule`` retrains them every day at 03:30 UTC.
"""

from typing import Any

import dagster as dg
import polars as pl

from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.core.settings import Settings
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.predict import comparisons, cost, evaluation, experiments, live, risk, store
from agent_pipelines.predict.live import MODEL_NAME as RISK_MODEL
from assets.events import table_asset

COST_MODEL = "cost_forecast"
PREDICTION_CRON = "30 3 * * *"
FEATURE_COLUMNS = (
    "timestamp", "attempt_id", "task_id", "event_type", "executor", "model", "task_title", "task_description",
    "prompt_type", "prompt", "tool_name", "tool_params", "success", "error_category", "error_fingerprint",
    "error_message", "new_status", "data", "completion_status", "duration_ms", "cost_usd", "total_tokens",
)  # fmt: skip


MAX_ATTEMPTS = 20_000  # the newest attempts learned from: seconds to train, and the recent fleet
# The models are retrained by the schedule (and built once when missing), not after every log day:
# a retrain reads every event of the newest attempts, which the daily cadence pays once.
MODEL_AUTOMATION = dg.AutomationCondition.newly_missing().since_last_handled().with_label("when missing")


def _events(cleaned_events: pl.LazyFrame) -> pl.DataFrame:
    """The columns the models read, for the newest :data:`MAX_ATTEMPTS` attempts."""
    have = cleaned_events.collect_schema().names()
    newest = (
        cleaned_events.filter(pl.col("event_type") == "session_start")
        .group_by("attempt_id")
        .agg(pl.col("timestamp").min())
        .top_k(MAX_ATTEMPTS, by="timestamp")
        .select("attempt_id")
    )
    return (
        cleaned_events.select([c for c in FEATURE_COLUMNS if c in have])
        .join(newest, on="attempt_id", how="semi")
        .collect()
    )


def _round(rows: list[dict[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows) if rows else pl.DataFrame()
    return frame.with_columns(pl.col(pl.Float64).round(4)) if frame.height else frame


@table_asset("prediction", automation_condition=MODEL_AUTOMATION)
def failure_risk_model(
    context: dg.AssetExecutionContext, log_store: LogStore, cleaned_events: pl.LazyFrame
) -> dg.Output[pl.DataFrame]:
    """The early failure-risk model: evaluated on later attempts (ROC-AUC, Brier at 2/5/10 minutes
    and after 5/10/20 events, beside the base rate, per-executor and last-week baselines), then
    retrained on every finished attempt and saved as a new version for the live detector job."""
    events = _events(cleaned_events)
    _, rows, split = evaluation.failure_risk(events)
    table = _round(rows)
    model = risk.train(events)
    info: dict[str, Any] = {"version": None}
    if model is not None:
        info = store.save(log_store.data_path, RISK_MODEL, model, {"split": split, "rows": rows})
        context.log.info(f"failure-risk model {info['version']} from {model.trained_on} finished attempts")
    return dg.Output(
        table,
        metadata={
            "open_sessions": dg.MetadataValue.md(open_sessions_markdown(log_store, model)),
            "model_version": str(info["version"]),
            "trained_on_attempts": model.trained_on if model else 0,
            "failure_rate": round(model.base_rate, 4) if model else None,
            "split": split,
            "evaluation": dg.MetadataValue.md(
                markdown_table(table, limit=40) if table.height else "too few finished attempts"
            ),
        },
    )


def open_sessions_markdown(log_store: LogStore, model: risk.RiskModel | None) -> str:
    """The sessions the live detector is following now, riskiest first with their top reasons, as
    the new model scores them (the detector run's page has the same table, refreshed live)."""
    if model is None:
        return "no model yet: too few finished attempts"
    page = live.open_risks(live.load_state(log_store.data_path), model).head(live.TOP_OPEN)
    if page.is_empty():
        return "no open sessions (the live detector keeps them while they run)"
    return markdown_table(page, limit=live.TOP_OPEN)


@table_asset("prediction", automation_condition=MODEL_AUTOMATION)
def cost_forecast(
    context: dg.AssetExecutionContext, log_store: LogStore, cleaned_events: pl.LazyFrame
) -> dg.Output[pl.DataFrame]:
    """Cost before a task runs: the forecast (median, 90% conformal interval) per executor, model and
    task kind at the typical description length; evaluated on later attempts (MAE beside the mean
    and per-executor mean, interval coverage), retrained on all and saved for `agent-pipelines estimate`."""
    events = _events(cleaned_events)
    _, scores = evaluation.cost_forecast(events)
    rows = cost.task_rows(events)
    model = cost.train(rows)
    if model is None:
        return dg.Output(
            pl.DataFrame(), metadata={"model_version": "none", "reason": "too few finished attempts"}
        )
    info = store.save(log_store.data_path, COST_MODEL, model, scores)
    grid = (
        rows.group_by("executor", "model", "task_kind")
        .agg(
            pl.len().alias("attempts"),
            pl.col("description_words").median(),
            pl.col("cost_usd").mean().alias("mean_cost_usd"),
        )
        .with_columns(is_retry=pl.lit(0.0), prompt_variant=pl.lit("none"))
        .sort("executor", "model", "task_kind")
    )
    table = pl.concat([grid, model.forecast(grid)], how="horizontal").drop("is_retry", "prompt_variant")
    table = table.with_columns(pl.col(pl.Float64).round(4))
    return dg.Output(
        table,
        metadata={
            "model_version": info["version"],
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()},
            "forecasts": dg.MetadataValue.md(markdown_table(table, limit=40)),
        },
    )


@table_asset("prediction")
def experiments_table(cleaned_events: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """Variants compared on success, first-shot success, cost and time, with 95% intervals, the
    sessions still needed, each variant's probability of being best and a sentence each: by
    `prompt_variant` (session_start) when the logs carry one, and by executor and by model. With more
    than two variants, every pair too (Holm-corrected, simultaneous intervals) in the metadata."""
    attempts = experiments.attempt_table(_events(cleaned_events))
    bys = ("prompt_variant", "executor", "model")
    table = _stack([comparisons.variant_table(attempts, by) for by in bys])
    pairs = _stack([comparisons.pairwise(attempts, by) for by in bys])
    sentences = experiments.summary(table)
    claimed = pairs.filter(pl.col("claimed")) if pairs.height else pairs
    return dg.Output(
        table.with_columns(pl.col(pl.Float64).round(4)) if table.height else table,
        metadata={
            "sentences": dg.MetadataValue.md("\n".join(f"- {s}" for s in sentences) or "no variants"),
            "pairs": dg.MetadataValue.md(pairs_markdown(pairs)),
            "pairs_claimed": claimed.height,
            "best": dg.MetadataValue.md(best_markdown(table)),
        },
    )


def _stack(tables: list[pl.DataFrame]) -> pl.DataFrame:
    present = [t for t in tables if t.height]
    return pl.concat(present, how="vertical_relaxed") if present else pl.DataFrame()


def pairs_markdown(pairs: pl.DataFrame) -> str:
    """Every pair's sentence, the differences Holm lets us claim first."""
    if pairs.is_empty():
        return "fewer than two variants"
    ordered = pairs.sort(["claimed", "by", "metric", "p_holm"], descending=[True, False, False, False])
    lines = [f"- **{r['by']}**: {r['sentence']}" for r in ordered.iter_rows(named=True)]
    return "\n".join(lines)


def best_markdown(table: pl.DataFrame) -> str:
    """Per grouping and metric, the variant most likely best and its probability."""
    if table.is_empty() or "p_best" not in table.columns:
        return "no variants"
    top = (
        table.drop_nulls("p_best")
        .sort("p_best", descending=True)
        .group_by(["by", "metric"], maintain_order=True)
        .first()
        .sort(["by", "metric"])
    )
    rows = [
        f"| {r['by']} | {experiments.NAMES[r['metric']]} | {r['variant']} | {r['p_best']:.0%} |"
        for r in top.iter_rows(named=True)
    ]
    return "\n".join(["| by | metric | most likely best | P(best) |", "|---|---|---|---|", *rows])


prediction_job = dg.define_asset_job(
    "prediction_job",
    selection=[failure_risk_model, cost_forecast, experiments_table],
    description="Retrain the failure-risk and cost models and rebuild the experiment table.",
)


@dg.schedule(
    cron_schedule=PREDICTION_CRON,
    job=prediction_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 03:30 UTC: retrain the prediction models on every finished attempt.",
)
def prediction_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=None)


def build(settings: Settings) -> dg.Definitions:
    """The prediction assets, their job and schedule (no setting changes them)."""
    return dg.Definitions(
        assets=[failure_risk_model, cost_forecast, experiments_table],
        jobs=[prediction_job],
        schedules=[prediction_schedule],
    )
