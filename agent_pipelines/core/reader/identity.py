"""A line's identity (``event_id``): what the reader's deduplication counts once."""

from __future__ import annotations

import functools

import polars as pl

from agent_pipelines.core.contract import TOP_LEVEL_FIELDS


def event_hash(extras: list[str]) -> pl.Expr:
    """A line's identity: the same line has the same id whichever file (and block) it is read from.

    The hash of its known fields; a line with unknown top-level fields (``sequence_num``, ``tags``:
    other writers') adds each non-null one by name, order-free. A block's unknown fields are the
    columns of every row in it, so the null ones must not count: our logger's line read from the
    original's single file beside such a writer's lines is the same line as in its day's partition
    (counted once when both are written, see ``AGENT_WORK_STREAM_FILE_ENABLED``).
    """
    known = pl.struct(TOP_LEVEL_FIELDS).hash(seed=0)
    if not extras:
        return known
    parts = [
        pl.when(pl.col(c).is_not_null())
        .then(pl.struct(pl.lit(c).alias("k"), pl.col(c).cast(pl.String).alias("v")).hash(seed=0))
        .otherwise(pl.lit(0, pl.UInt64))
        for c in extras
    ]
    unknown = functools.reduce(lambda a, b: a.xor(b), parts)
    has_extra = pl.any_horizontal([pl.col(c).is_not_null() for c in extras])
    return (
        pl.when(has_extra).then(pl.struct(known.alias("k"), unknown.alias("u")).hash(seed=0)).otherwise(known)
    )


__all__ = ["event_hash"]
