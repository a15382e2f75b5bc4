"""Error clusters: which errors keep coming back, where, and since when.

The templating itself (masking, then templates learned over the whole set of messages) is
:mod:`agent_pipelines.analytics.clustering`, shared with the live sensor and ``agent-pipelines templates``.
What this module adds is the *batch* view:

* **Unification.** Orchestrators attach an ``error_fingerprint`` to some error events and not to
  others of the same kind (the original PowerShell logger's ``Write-AgentError`` made it
  optional). Clustering by "fingerprint else template" would then split one kind in two: ``git_not_repo`` and
  ``fatal: not a git repository ... <PATH>``. Over the whole table we know better: a template that
  appears with a fingerprint elsewhere in the data joins that fingerprint's cluster (the most
  frequent fingerprint when it appears with several). A single message can't know this; a table can.
* **The cluster table** (:func:`error_clusters`): one row per cluster with counts, reach, first and
  last seen, a redacted sample and a daily trend.
* **Grouping accuracy** (:func:`grouping_accuracy`): Loghub's GA metric against the generator's
  ``ground-truth-errors.jsonl``.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path
from typing import cast

import polars as pl

from agent_pipelines.analytics.clustering import add_cluster_columns, mined_templates
from agent_pipelines.core.contract import timestamp_expr
from agent_pipelines.core.inherit import inherit_into
from agent_pipelines.text.redaction import redact

GROUND_TRUTH_ERRORS_FILE = "ground-truth-errors.jsonl"
SAMPLE_CHARS = 300  # a sample message is for recognizing the error, not for reading a stack trace

OCCURRENCE_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "day": pl.Date(),
    "attempt_id": pl.String(),
    "task_id": pl.String(),
    "task_title": pl.String(),
    "executor": pl.String(),
    "model": pl.String(),
    "error_message": pl.String(),
    "error_fingerprint": pl.String(),
    "error_category": pl.String(),
    "error_template": pl.String(),
    "cluster_fingerprint": pl.String(),
    "cluster_key": pl.String(),
    "cluster_id": pl.String(),
    "cluster_label": pl.String(),
}
_EVENT_COLUMNS = [c for c in OCCURRENCE_SCHEMA if c in {
    "event_id", "timestamp", "day", "attempt_id", "task_id", "task_title", "executor", "model",
    "error_message", "error_fingerprint", "error_category",
}]  # fmt: skip

TREND_TYPE = pl.List(pl.Struct({"day": pl.Date(), "count": pl.UInt32()}))
CLUSTER_SCHEMA: dict[str, pl.DataType] = {
    "cluster_id": pl.String(),
    "cluster_label": pl.String(),
    "fingerprint": pl.String(),
    "template": pl.String(),
    "category": pl.String(),
    "occurrences": pl.UInt32(),
    "share": pl.Float64(),
    "tasks": pl.UInt32(),
    "attempts": pl.UInt32(),
    "executors": pl.List(pl.String()),
    "first_seen": pl.Datetime("us", "UTC"),
    "last_seen": pl.Datetime("us", "UTC"),
    "sample_message": pl.String(),
    "fingerprinted_share": pl.Float64(),
    "trend": TREND_TYPE,
    "example_attempts": pl.List(pl.String()),
}
EXAMPLE_ATTEMPTS = 3  # the latest attempts a cluster shows, to open their sessions


def _sha1_12(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


#: The error events of one slice of the data (a day partition) with their message templates: the
#: regex work of clustering, done once per day. :func:`occurrences_from_errors` unifies any number
#: of slices (that part needs all the data, but only group-bys and joins over templates).
ERROR_EVENTS_SCHEMA: dict[str, pl.DataType] = {
    **{c: OCCURRENCE_SCHEMA[c] for c in _EVENT_COLUMNS},
    "fingerprint": pl.String(),
    "error_template": pl.String(),
}


def error_events(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """The error events in ``events`` with their own (non-blank) ``fingerprint`` and message template.

    ``error_template`` is the message's masked text (:mod:`agent_pipelines.analytics.clustering`, masking
    only), before the data-dependent mining: a pure function of the message, so a day's result never
    changes when other days arrive. :func:`with_mined_templates` learns the templates over all days.
    """
    errs = (
        events.lazy().filter(pl.col("event_type") == "error").select(*_EVENT_COLUMNS, "event_type").collect()
    )
    # An error written without task or executor is its attempt's (its session start says which).
    lazy = inherit_into(errs, events).lazy().select(_EVENT_COLUMNS)
    # A blank fingerprint is no fingerprint (the same rule as clustering.cluster_key).
    fp = pl.col("error_fingerprint").str.strip_chars()
    lazy = lazy.with_columns(pl.when(fp != "").then(fp).alias("fingerprint"))
    errs = add_cluster_columns(lazy, "error_message", "fingerprint", mine=False).collect()
    return errs.select([pl.col(c).cast(t) for c, t in ERROR_EVENTS_SCHEMA.items()])


def with_mined_templates(errors: pl.DataFrame) -> pl.DataFrame:
    """:func:`error_events` rows with ``error_template`` learned over all of them.

    The miner (:mod:`agent_pipelines.analytics.clustering`) works on the set of distinct masked texts, so
    mining the union of the days' masked templates gives exactly what mining every message at once
    gives: the day-by-day path and the full recomputation agree.
    """
    if errors.is_empty():
        return errors
    table = mined_templates(errors.get_column("error_template").rename("__masked"), None)
    return (
        errors.rename({"error_template": "__masked"})
        .join(table, on="__masked", how="left", maintain_order="left")
        .drop("__masked")
        .select(errors.columns)
    )


def error_occurrences(events: pl.DataFrame | pl.LazyFrame, *, merge_variants: bool = True) -> pl.DataFrame:
    """One row per error event with its (unified) cluster: :func:`error_events`, then
    :func:`occurrences_from_errors` over all of them (what the day-by-day assets do in two steps)."""
    return occurrences_from_errors(error_events(events), merge_variants=merge_variants)


def occurrences_from_errors(
    errors: pl.DataFrame | pl.LazyFrame, *, merge_variants: bool = True
) -> pl.DataFrame:
    """Unify the :func:`error_events` of any number of days into clusters.

    ``error_template`` is the message's template learned over all the error messages in ``events``
    (:func:`agent_pipelines.analytics.clustering.cluster_messages`); with ``merge_variants`` off, only the
    masking of each message on its own (for measuring what the miner adds).

    ``cluster_fingerprint`` is the event's own fingerprint, else the fingerprint its template carries
    elsewhere in the data (majority vote; ties go to the alphabetically first, so runs agree), else
    null. ``cluster_key`` is that fingerprint or the template; ``cluster_id`` its stable hash (the same
    hash :func:`agent_pipelines.analytics.clustering.cluster_id` gives); ``cluster_label`` is what people
    read:
    the fingerprint when there is one, else the template.
    """
    errs = with_mined_templates(errors.lazy().collect()) if merge_variants else errors.lazy().collect()
    if errs.is_empty():
        return pl.DataFrame(schema=OCCURRENCE_SCHEMA)
    errs = errs.rename({"fingerprint": "_fp"})
    votes = (
        errs.filter(pl.col("_fp").is_not_null())
        .group_by("error_template", "_fp")
        .len("n")
        .sort(["error_template", "n", "_fp"], descending=[False, True, False])
        .group_by("error_template", maintain_order=True)
        .agg(pl.col("_fp").first().alias("_template_fp"))
    )
    errs = errs.join(votes, on="error_template", how="left", maintain_order="left").with_columns(
        pl.coalesce("_fp", "_template_fp").alias("cluster_fingerprint")
    )
    errs = errs.with_columns(pl.coalesce("cluster_fingerprint", "error_template").alias("cluster_key"))
    keys = errs.select(pl.col("cluster_key").unique())
    keys = keys.with_columns(
        pl.col("cluster_key").map_elements(_sha1_12, return_dtype=pl.String()).alias("cluster_id")
    )
    errs = errs.join(keys, on="cluster_key", how="left", maintain_order="left")
    return errs.with_columns(pl.col("cluster_key").alias("cluster_label")).select(
        [pl.col(c).cast(t) for c, t in OCCURRENCE_SCHEMA.items()]
    )


def error_clusters(events: pl.DataFrame | pl.LazyFrame, *, merge_variants: bool = True) -> pl.DataFrame:
    """The cluster table of the error events in ``events`` (see :func:`cluster_table`)."""
    return cluster_table(error_occurrences(events, merge_variants=merge_variants))


def cluster_table(
    occurrences: pl.DataFrame, *, sample_chars: int = SAMPLE_CHARS, with_trend: bool = True
) -> pl.DataFrame:
    """The cluster table: one row per cluster, most occurrences first.

    Takes :func:`error_occurrences` (so callers can filter a time window first without re-clustering:
    cluster identity comes from all the data, counts from the window). ``template`` is the
    cluster's most frequent template, ``category`` its most frequent ``error_category``,
    ``sample_message`` its latest message, redacted and cut to ``sample_chars``;
    ``fingerprinted_share`` the share of its events that carried a fingerprint themselves;
    ``trend`` the daily counts ``[{day, count}]`` (UTC days with at least one occurrence).
    """
    if occurrences.is_empty():
        return pl.DataFrame(schema=CLUSTER_SCHEMA)
    total = occurrences.height
    occ = occurrences.sort("timestamp")
    table = occ.group_by("cluster_id").agg(
        pl.col("cluster_label").first(),
        pl.col("cluster_fingerprint").first().alias("fingerprint"),
        pl.col("error_template").mode().sort().first().alias("template"),
        pl.col("error_category").drop_nulls().mode().sort().first().alias("category"),
        pl.len().cast(pl.UInt32()).alias("occurrences"),
        pl.col("task_id").drop_nulls().n_unique().cast(pl.UInt32()).alias("tasks"),
        pl.col("attempt_id").n_unique().cast(pl.UInt32()).alias("attempts"),
        pl.col("executor").drop_nulls().unique().sort().alias("executors"),
        pl.col("timestamp").min().alias("first_seen"),
        pl.col("timestamp").max().alias("last_seen"),
        pl.col("error_message").last().alias("sample_message"),
        pl.col("error_fingerprint")
        .str.strip_chars()
        .ne("")
        .fill_null(False)
        .mean()
        .alias("fingerprinted_share"),
    )
    examples = (
        occ.group_by("cluster_id", "attempt_id")
        .agg(pl.col("timestamp").max())
        .sort("timestamp", descending=True)
        .group_by("cluster_id", maintain_order=True)
        .agg(pl.col("attempt_id").head(EXAMPLE_ATTEMPTS).alias("example_attempts"))
    )
    table = table.join(examples, on="cluster_id", how="left").with_columns(
        (pl.col("occurrences") / total).alias("share"),
        pl.col("sample_message").map_elements(
            lambda m: _clip(redact(m), sample_chars), return_dtype=pl.String(), skip_nulls=True
        ),
    )
    if with_trend:
        trend = (
            occ.group_by("cluster_id", "day")
            .len("count")
            .sort("day")
            .group_by("cluster_id")
            .agg(pl.struct("day", pl.col("count").cast(pl.UInt32())).alias("trend"))
        )
        table = table.join(trend, on="cluster_id", how="left")
    else:
        table = table.with_columns(pl.lit(None, dtype=TREND_TYPE).alias("trend"))
    return table.select([pl.col(c).cast(t) for c, t in CLUSTER_SCHEMA.items()]).sort(
        ["occurrences", "cluster_label"], descending=[True, False]
    )


def daily_trend(occurrences: pl.DataFrame, cluster_ids: list[str] | None = None) -> pl.DataFrame:
    """Long table ``cluster_id, cluster_label, day, count`` with zero-filled days, for charts."""
    occ = occurrences if cluster_ids is None else occurrences.filter(pl.col("cluster_id").is_in(cluster_ids))
    if occ.is_empty():
        return pl.DataFrame(
            schema={
                "cluster_id": pl.String(),
                "cluster_label": pl.String(),
                "day": pl.Date(),
                "count": pl.UInt32(),
            }
        )
    first, last = cast(date, occ["day"].min()), cast(date, occ["day"].max())
    days = pl.date_range(first, last, "1d", eager=True).alias("day").to_frame()
    labels = occ.select("cluster_id", "cluster_label").unique("cluster_id")
    counts = occ.group_by("cluster_id", "day").len("count")
    return (
        labels.join(days, how="cross")
        .join(counts, on=["cluster_id", "day"], how="left")
        .with_columns(pl.col("count").fill_null(0).cast(pl.UInt32()))
        .sort("cluster_id", "day")
    )


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# Grouping accuracy against ground truth
# --------------------------------------------------------------------------------------------


def grouping_accuracy(predicted: pl.Series, truth: pl.Series) -> float:
    """Loghub's grouping accuracy: the share of messages whose predicted cluster is exactly their true one.

    A message counts as correct when the set of messages sharing its predicted cluster equals the set
    sharing its true cluster, i.e. its predicted cluster holds one true label only and that true label
    is spread over no other predicted cluster. Over-merging and splitting both cost.
    """
    if predicted.len() != truth.len():
        raise ValueError("predicted and truth must have the same length")
    if predicted.len() == 0:
        return 1.0
    frame = pl.DataFrame({"p": predicted.cast(pl.String()), "t": truth.cast(pl.String())})
    pure_p = frame.group_by("p").agg(pl.col("t").n_unique().alias("np"))
    pure_t = frame.group_by("t").agg(pl.col("p").n_unique().alias("nt"))
    judged = frame.join(pure_p, on="p").join(pure_t, on="t")
    return float(cast(float, ((judged["np"] == 1) & (judged["nt"] == 1)).mean()))


def load_error_truth(logs_dir: str | os.PathLike[str]) -> pl.DataFrame | None:
    """The generator's ``ground-truth-errors.jsonl``, typed; ``None`` when the folder has none."""
    path = Path(logs_dir) / GROUND_TRUTH_ERRORS_FILE
    if not path.exists():
        return None
    schema = {
        "attempt_id": pl.String(),
        "timestamp": pl.String(),
        "kind": pl.String(),
        "error_message": pl.String(),
    }
    truth = pl.read_ndjson(path, schema=schema)
    return truth.with_columns(timestamp_expr("timestamp").alias("timestamp")).unique(
        subset=["attempt_id", "timestamp", "error_message"], keep="first"
    )


def accuracy_against_truth(occurrences: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float | int]:
    """GA of our clusters on the error events the ground truth labels (joined by attempt, time, message).

    Also returns how many events were judged and how many true and predicted clusters they span, so a
    GA computed on a handful of matches can't pass for a real result.
    """
    occ = occurrences.unique(subset=["attempt_id", "timestamp", "error_message"], keep="first")
    judged = occ.join(truth, on=["attempt_id", "timestamp", "error_message"], how="inner")
    return {
        "grouping_accuracy": grouping_accuracy(judged["cluster_id"], judged["kind"]),
        "judged_events": judged.height,
        "truth_events": truth.height,
        "true_clusters": judged["kind"].n_unique(),
        "predicted_clusters": judged["cluster_id"].n_unique(),
    }


__all__ = [
    "CLUSTER_SCHEMA",
    "ERROR_EVENTS_SCHEMA",
    "OCCURRENCE_SCHEMA",
    "accuracy_against_truth",
    "cluster_table",
    "daily_trend",
    "error_clusters",
    "error_events",
    "error_occurrences",
    "grouping_accuracy",
    "load_error_truth",
    "occurrences_from_errors",
]
