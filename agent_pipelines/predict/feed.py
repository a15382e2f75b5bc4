"""A batch of events into the live prefixes at once: what :meth:`Prefix.add` does row by row, in polars.

Why: the live detector job feeds every new event to the failure-risk prefixes. Row by row in Python
that was two thirds of a 100,000-event burst's detector run (a run the live path waits for). Here
the counters are aggregated per attempt in a few queries, and Python touches each attempt of the
batch a few times instead of each event; only the first session start of an attempt, its first
task text and its first tool call of the batch go through the row-level rules. ``tests/test_predict_feed``
holds the result to :meth:`Prefix.add`'s, field by field.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from agent_pipelines.predict.features import (
    ERROR_CATEGORIES,
    EVENT_COLUMNS,
    OUTCOME_STATUSES,
    VERDICT_CATEGORY,
    Prefix,
    event_rows,
    prompt_variant,
    task_words,
)

_KIND = pl.col("event_type")
_OUTCOME = (
    (_KIND == "session_end")
    | ((_KIND == "status_change") & pl.col("new_status").is_in(list(OUTCOME_STATUSES)).fill_null(False))
    | ((_KIND == "error") & (pl.col("error_category") == VERDICT_CATEGORY).fill_null(False))
)
_IDENTITY = {"task_id": "task_id", "executor": "executor", "model": "model", "task_title": "title"}


def _text(name: str) -> pl.Expr:
    """The column where it holds text (``x or ...`` in :meth:`Prefix.add`: null and "" are nothing)."""
    return pl.when(pl.col(name) != "").then(pl.col(name))


def feed(prefixes: dict[str, Prefix], events: pl.DataFrame) -> tuple[dict[str, int], set[str], int]:
    """Add ``events`` to ``prefixes`` (a new one per attempt not seen yet, none for an attempt that
    ended in the batch). Returns the attempts whose prefix counted an event with the time of its last
    one, the attempts that ended, and the batch's newest event time (ms)."""
    rows = _rows(events)
    if rows.is_empty():
        return {}, set(), 0
    # A column the frame lacks comes as nulls of no type: give each its type (text, but ``success``).
    texts = [c for c in EVENT_COLUMNS if c not in ("timestamp", "success")]
    rows = rows.with_columns(*[pl.col(c).cast(pl.String) for c in texts], pl.col("success").cast(pl.Boolean))
    rows = rows.with_columns(ms=pl.col("timestamp").dt.epoch("ms"), outcome=_OUTCOME)
    newest = int(rows.get_column("ms").max())  # type: ignore[arg-type]
    ended = set(rows.filter(_KIND == "session_end").get_column("attempt_id").to_list())
    live = rows.filter(~pl.col("attempt_id").is_in(list(ended)))
    for attempt in live.get_column("attempt_id").unique().sort().to_list():  # in event_rows' order
        prefixes.setdefault(attempt, Prefix(attempt))
    counted = live.filter(~pl.col("outcome"))
    if counted.is_empty():
        return {}, ended, newest
    category = (
        pl.when(_text("error_category").is_in(list(ERROR_CATEGORIES)))
        .then(pl.col("error_category"))
        .otherwise(pl.lit("other"))
    )
    counted = counted.with_columns(
        category=pl.when(_KIND == "error").then(category),
        tool=pl.when(_KIND == "tool_call").then(_text("tool_name").fill_null("unknown")),
    ).with_columns(
        error_key=pl.when(_KIND == "error").then(
            pl.coalesce(
                _text("error_fingerprint"),
                pl.concat_str(
                    pl.col("category"), pl.lit(":"), pl.col("error_message").fill_null("").str.slice(0, 40)
                ),
            )
        )
    )
    totals = (
        counted.group_by("attempt_id", maintain_order=True)
        .agg(
            pl.col("ms").min().alias("first_ms"),
            pl.col("ms").max().alias("last_ms"),
            pl.len().alias("events"),
            *[_text(c).drop_nulls().first().alias(c) for c in _IDENTITY],
            *[pl.col(c).last().alias(f"{c}_last") for c in _IDENTITY],
            (_KIND == "session_start").sum().alias("starts"),
            pl.col("prompt_type").filter(_KIND == "session_start").first().alias("first_prompt_type"),
            ((_KIND == "tool_result") & pl.col("success").eq(False).fill_null(False))
            .sum()
            .alias("tool_failures"),
            (_KIND == "error").sum().alias("errors"),
            (_KIND == "followup_sent").sum().alias("followups"),
            pl.col("error_key").drop_nulls().unique().alias("error_keys"),
        )
        .sort("attempt_id")
    )  # the attempts in event_rows' order, whichever order the rows came in
    for row in totals.iter_rows(named=True):
        _merge_totals(prefixes[row["attempt_id"]], row)
    _merge_counts(prefixes, counted, "tool", "tools")
    _merge_counts(prefixes, counted, "category", "categories")
    _merge_calls(prefixes, counted.filter(_KIND == "tool_call"))
    _merge_first_texts(prefixes, counted)
    touched = dict(
        zip(totals.get_column("attempt_id").to_list(), totals.get_column("last_ms").to_list(), strict=True)
    )
    return touched, ended, newest


def _rows(events: pl.DataFrame) -> pl.DataFrame:
    """:func:`event_rows` without its sort when the batch is in time order already (a log appended
    in order, the live case): every attempt's rows are then in the order that sort gives them
    (time, ties as read), which is all the queries here depend on; the attempts' order is made
    the sort's where it shows (the prefixes added, the attempts touched). The sort of every column
    (the payload's text among them) was most of a 100,000-event burst's feed."""
    stamps = events.get_column("timestamp") if "timestamp" in events.columns else None
    if stamps is None or stamps.null_count() or not stamps.is_sorted():
        return event_rows(events)
    have = events.columns
    return events.select([pl.col(c) if c in have else pl.lit(None).alias(c) for c in EVENT_COLUMNS]).filter(
        pl.col("attempt_id").is_not_null()
    )


def _merge_totals(prefix: Prefix, row: dict[str, Any]) -> None:
    prefix.first_ms = row["first_ms"] if prefix.first_ms is None else prefix.first_ms
    prefix.last_ms = max(prefix.last_ms, row["last_ms"])
    prefix.events += row["events"]
    # ``x = x or value`` row by row: the first text, else the batch's last value
    for column, name in _IDENTITY.items():
        value = row[column] if row[column] is not None else row[f"{column}_last"]
        setattr(prefix, name, getattr(prefix, name) or value)
    if prefix.starts == 0 and row["starts"]:
        prefix.is_retry = row["first_prompt_type"] == "retry"
    prefix.starts += row["starts"]
    prefix.tool_failures += row["tool_failures"]
    prefix.errors += row["errors"]
    prefix.followups += row["followups"]
    prefix.error_keys.update(row["error_keys"])


def _merge_counts(prefixes: dict[str, Prefix], counted: pl.DataFrame, column: str, field: str) -> None:
    """Per attempt and value of ``column``, its count added to the prefix's dict ``field``."""
    counts = counted.filter(pl.col(column).is_not_null()).group_by("attempt_id", column).len()
    for attempt, value, n in counts.iter_rows():
        into: dict[str, int] = getattr(prefixes[attempt], field)
        into[value] = into.get(value, 0) + n


def _merge_calls(prefixes: dict[str, Prefix], calls: pl.DataFrame) -> None:
    """``repeat_calls``: a call equal to the one before it (name and parameters), across batches."""
    if calls.is_empty():
        return
    same = pl.col("tool").eq_missing(pl.col("tool").shift(1).over("attempt_id")) & pl.col(
        "tool_params"
    ).eq_missing(pl.col("tool_params").shift(1).over("attempt_id"))
    per_attempt = (
        calls.with_columns(repeat=same)
        .group_by("attempt_id", maintain_order=True)
        .agg(
            pl.col("repeat").sum(),
            pl.col("tool").first().alias("first_tool"),
            pl.col("tool_params").first().alias("first_params"),
            pl.col("tool").last().alias("last_tool"),
            pl.col("tool_params").last().alias("last_params"),
        )
    )
    for attempt, repeats, first_tool, first_params, last_tool, last_params in per_attempt.iter_rows():
        prefix = prefixes[attempt]
        prefix.repeat_calls += repeats + ((first_tool, first_params) == prefix.last_call)
        prefix.last_call = (last_tool, last_params)


def _merge_first_texts(prefixes: dict[str, Prefix], counted: pl.DataFrame) -> None:
    """The task's length in words and the prompt variant: the first event that has them, read by
    the row-level rules on the few rows that can set them."""
    wanting_words = [a for a, p in prefixes.items() if not p.description_words]
    texts = counted.filter(
        pl.col("attempt_id").is_in(wanting_words)
        & (_text("task_description").is_not_null() | _text("prompt").is_not_null())
    )
    for attempt, description, prompt in texts.select("attempt_id", "task_description", "prompt").iter_rows():
        prefix = prefixes[attempt]
        if not prefix.description_words:
            prefix.description_words = task_words(description, prompt)
    starts = counted.filter(
        (_KIND == "session_start") & pl.col("data").str.contains("prompt_variant", literal=True)
    )
    for attempt, data in starts.select("attempt_id", "data").iter_rows():
        prefix = prefixes[attempt]
        prefix.variant = prefix.variant or prompt_variant(data)
