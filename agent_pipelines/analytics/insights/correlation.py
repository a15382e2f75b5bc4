"""Correlation of error clusters with task characteristics (executor, model, prompt type, title words)."""

from __future__ import annotations

import polars as pl

# --------------------------------------------------------------------------------------------
# Correlation: error clusters vs task characteristics
# --------------------------------------------------------------------------------------------

CORRELATION_DIMENSIONS: tuple[str, ...] = ("executor", "model", "prompt_type", "title_keyword")
MIN_SUPPORT = 5  # attempts having both the cluster and the characteristic
MIN_GROUP = 10  # attempts having the characteristic
_STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "the",
        "of",
        "for",
        "to",
        "in",
        "on",
        "with",
        "from",
        "by",
        "into",
        "via",
        "at",
        "as",
        "is",
        "are",
        "be",
        "or",
        "not",
        "no",
        "add",
        "fix",
        "use",
        "new",
        "update",
        "support",
        "implement",
        "make",
        "create",
        "set",
        "get",
        "our",
        "all",
    )
)  # fmt: skip


def title_keywords(title: pl.Expr) -> pl.Expr:
    """Distinct lower-case words of a task title (3+ characters, stop words removed)."""
    words = title.str.to_lowercase().str.extract_all(r"[a-z][a-z0-9]{2,}")
    return words.list.eval(pl.element().filter(~pl.element().is_in(sorted(_STOPWORDS)))).list.unique()


def correlation(
    sessions: pl.DataFrame,
    errors: pl.DataFrame,
    *,
    min_support: int = MIN_SUPPORT,
    min_group: int = MIN_GROUP,
) -> pl.DataFrame:
    """Which error clusters go with which attempt characteristics, as lift over the base rate.

    The unit is the attempt. For cluster *c* and characteristic *f* (``executor = CODEX``,
    ``title_keyword = oauth``...): ``base_rate`` = share of all attempts hitting *c*,
    ``rate`` = share of attempts with *f* hitting *c*, ``lift`` = rate / base_rate. ``support`` is the
    number of attempts with both; pairs with support below ``min_support`` or fewer than
    ``min_group`` attempts with *f* are dropped, since a lift of 5 from two attempts is noise.
    Sorted by lift, then support.
    """
    schema = {
        "cluster_id": pl.String(),
        "cluster_label": pl.String(),
        "dimension": pl.String(),
        "value": pl.String(),
        "support": pl.UInt32(),
        "group_attempts": pl.UInt32(),
        "cluster_attempts": pl.UInt32(),
        "total_attempts": pl.UInt32(),
        "rate": pl.Float64(),
        "base_rate": pl.Float64(),
        "lift": pl.Float64(),
    }
    total = sessions["attempt_id"].n_unique()
    if total == 0 or errors.is_empty():
        return pl.DataFrame(schema=schema)
    features = (
        pl.concat(
            [
                sessions.select(
                    "attempt_id",
                    pl.lit(dim).alias("dimension"),
                    pl.col(dim).cast(pl.String()).alias("value"),
                )
                for dim in ("executor", "model", "prompt_type")
            ]
            + [
                sessions.select(
                    "attempt_id",
                    pl.lit("title_keyword").alias("dimension"),
                    title_keywords(pl.col("task_title")).alias("value"),
                ).explode("value")
            ],
            how="vertical",
        )
        .filter(pl.col("value").is_not_null())
        .unique()
    )
    group_sizes = features.group_by("dimension", "value").agg(
        pl.len().cast(pl.UInt32()).alias("group_attempts")
    )
    hits = errors.select("attempt_id", "cluster_id", "cluster_label").unique(
        subset=["attempt_id", "cluster_id"]
    )
    cluster_sizes = hits.group_by("cluster_id").agg(
        pl.len().cast(pl.UInt32()).alias("cluster_attempts"), pl.col("cluster_label").first()
    )
    pairs = (
        hits.select("attempt_id", "cluster_id")
        .join(features, on="attempt_id", how="inner")
        .group_by("cluster_id", "dimension", "value")
        .agg(pl.len().cast(pl.UInt32()).alias("support"))
    )
    return (
        pairs.join(group_sizes, on=["dimension", "value"])
        .join(cluster_sizes, on="cluster_id")
        .filter((pl.col("support") >= min_support) & (pl.col("group_attempts") >= min_group))
        .with_columns(
            pl.lit(total, dtype=pl.UInt32()).alias("total_attempts"),
            (pl.col("support") / pl.col("group_attempts")).alias("rate"),
            (pl.col("cluster_attempts") / total).alias("base_rate"),
        )
        .with_columns((pl.col("rate") / pl.col("base_rate")).alias("lift"))
        .select(list(schema))
        .sort(
            ["lift", "support", "cluster_id", "dimension", "value"],
            descending=[True, True, False, False, False],
        )
    )
