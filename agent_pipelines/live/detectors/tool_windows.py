"""Tool calls counted per (attempt, tool) in polars, for a whole batch at once.

The tool-loop detector asks, at each call, how many calls of the same tool the same attempt made
within ``tool_window_ms`` up to and including it. Row by row (:mod:`.rules`) that is a window list:
append, drop the front while it is older than the horizon. For the calls of a pair that starts in
the batch, whose rows come in event-time order, that list holds exactly the pair's calls since the
horizon: a binary search finds where they start. A pair with a window carried over from an earlier
run is left to the row-by-row count (a late event could sit behind newer carried-over ones).
"""

from __future__ import annotations

import polars as pl


def count_tool_calls(
    frame: pl.DataFrame, carried: list[tuple[str, str]], window: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame`` (``ts`` in ms, event-time order) with ``tool_n``: the calls of the row's (attempt,
    tool) within ``window`` ms up to and including it, and ``tool_first``: the first of them; null
    for other rows and for the ``carried`` pairs. Also, per counted pair, the calls its window holds
    at the end of the batch (``attempt_id, tool_name, ts, event_id``), as the row-by-row count
    leaves them."""
    calls = (
        (pl.col("event_type") == "tool_call")
        & pl.col("tool_name").is_not_null()
        & (pl.col("tool_name") != "")
    )
    frame = frame.with_row_index("_row")
    tools = frame.filter(calls).select("_row", "attempt_id", "tool_name", "ts", "event_id")
    if carried:
        old = pl.DataFrame(carried, schema={"attempt_id": pl.String, "tool_name": pl.String}, orient="row")
        tools = tools.join(old, on=["attempt_id", "tool_name"], how="anti", maintain_order="left")
    # Rows by (attempt, tool), in event-time order within each pair; a pair's calls since a horizon
    # then start where one binary search of (pair, time rank) finds them, for all pairs at once
    # (``over`` on thousands of small groups costs several times more).
    tools = tools.with_columns(_pair=pl.struct("attempt_id", "tool_name").rank("dense").cast(pl.Int64)).sort(
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
        .agg(_tools=pl.col("tool_name").n_unique(), _attempt_last=pl.col("ts").max())
        .filter(pl.col("_tools") > 4)
    )
    if busy.height:
        last = last.join(busy, on="attempt_id", how="left", maintain_order="left").filter(
            pl.col("_tools").is_null() | (pl.col("_pair_last") >= pl.col("_attempt_last") - window)
        )
    last = last.sort("_row").select("attempt_id", "tool_name", "ts", "event_id")
    frame = frame.join(
        tools.select("_row", "tool_n", "tool_first"), on="_row", how="left", maintain_order="left"
    ).drop("_row")
    return frame, last
