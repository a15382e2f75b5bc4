"""Tool calls counted per (attempt, call) in polars, for a whole batch at once.

A call is a tool *with its input* (:func:`tool_calls`): "the same call ten times in a minute"
is a loop, ten different commands through one shell tool are a busy agent. The tool-loop detector
asks, at each call, how many calls with the same key the same attempt made within
``tool_window_ms`` up to and including it. Row by row (:mod:`.rules`) that is a window list:
append, drop the front while it is older than the horizon. For the calls of a pair that starts in
the batch, whose rows come in event-time order, that list holds exactly the pair's calls since the
horizon: a binary search finds where they start. A pair with a window carried over from an earlier
run is left to the row-by-row count (a late event could sit behind newer carried-over ones).
"""

from __future__ import annotations

import hashlib
import json

import polars as pl

KEY_SEPARATOR = "\x1f"


def params_hash(text: str) -> str | None:
    """A short stable hash of a call's input (JSON text), keys in sorted order so the writer's key
    order does not matter; ``None`` for an empty input (the call compares by tool name alone)."""
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if value in (None, {}, [], ""):
        return None
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=8).hexdigest()


def tool_calls(frame: pl.DataFrame) -> pl.DataFrame:
    """The tool calls of ``frame`` that name their tool: ``_row`` (their position in ``frame``),
    ``attempt_id, ts, event_id`` and ``tool_key``: ``<tool name>\\x1f<params hash>`` for a call
    with input, the tool name for one without (logs that never carried ``tool_params`` keep the
    original analyzer's count by tool name). The input is hashed once per distinct text of the
    batch, and only the calls' rows are copied: a burst is half tool results, which never count."""
    name = frame.get_column("tool_name")
    named_call = (frame.get_column("event_type") == "tool_call") & name.is_not_null() & (name != "")
    calls = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
        "attempt_id",
        "ts",
        "event_id",
        "tool_name",
        "tool_params",
    ).filter(named_call)
    texts = calls.get_column("tool_params").drop_nulls().unique()
    hashes = pl.DataFrame(
        {"tool_params": texts, "_ph": pl.Series([params_hash(t) for t in texts.to_list()], dtype=pl.String)}
    )
    return calls.join(hashes, on="tool_params", how="left", maintain_order="left", nulls_equal=False).select(
        "_row",
        "attempt_id",
        "ts",
        "event_id",
        tool_key=pl.when(pl.col("_ph").is_null())
        .then("tool_name")
        .otherwise(pl.col("tool_name") + KEY_SEPARATOR + pl.col("_ph")),
    )


def count_tool_calls(
    calls: pl.DataFrame, carried: list[tuple[str, str]], window: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """For ``calls`` (:func:`tool_calls`, in event-time order), ``_row, tool_n, tool_first`` of
    each counted call: the calls of its (attempt, tool key) within ``window`` ms up to and
    including it, and the first of them; the ``carried`` pairs are not counted (no row). Also, per
    counted pair, the calls its window holds at the end of the batch (``attempt_id, tool_key, ts,
    event_id``), as the row-by-row count leaves them."""
    tools = calls
    if carried:
        old = pl.DataFrame(carried, schema={"attempt_id": pl.String, "tool_key": pl.String}, orient="row")
        tools = tools.join(old, on=["attempt_id", "tool_key"], how="anti", maintain_order="left")
    # Rows by (attempt, tool), in event-time order within each pair; a pair's calls since a horizon
    # then start where one binary search of (pair, time rank) finds them, for all pairs at once
    # (``over`` on thousands of small groups costs several times more).
    tools = tools.with_columns(_pair=pl.struct("attempt_id", "tool_key").rank("dense").cast(pl.Int64)).sort(
        "_pair", maintain_order=True
    )
    moments = tools.get_column("ts").unique().sort()
    span = len(moments) + 1
    pair = tools.get_column("_pair")
    ts = tools.get_column("ts")
    here = pair * span + moments.search_sorted(ts, side="left").cast(pl.Int64)
    since = here.search_sorted(pair * span + moments.search_sorted(ts - window, side="left").cast(pl.Int64))
    last_of_pair = pair != pair.shift(-1, fill_value=-1)
    tools = tools.with_columns(
        tool_n=(pl.int_range(0, tools.height, eager=True) - since.cast(pl.Int64) + 1),
        tool_first=tools.get_column("event_id").gather(since),
        _pair_last=pl.when(last_of_pair).then(ts).backward_fill(),
    )
    # The windows as the row-by-row count leaves them: each pair's calls since the horizon of its last
    # call, without the pairs of a busy attempt (over 4 tools) gone quiet before its last call.
    last = tools.filter(pl.col("ts") >= pl.col("_pair_last") - window)
    busy = (
        last.group_by("attempt_id")
        .agg(_tools=pl.col("tool_key").n_unique(), _attempt_last=pl.col("ts").max())
        .filter(pl.col("_tools") > 4)
    )
    if busy.height:
        last = last.join(busy, on="attempt_id", how="left", maintain_order="left").filter(
            pl.col("_tools").is_null() | (pl.col("_pair_last") >= pl.col("_attempt_last") - window)
        )
    last = last.sort("_row").select("attempt_id", "tool_key", "ts", "event_id")
    return tools.select("_row", "tool_n", "tool_first"), last
