"""Error clustering: one key per kind of error, from fingerprints where callers send them and from
templates learned over the whole set of messages where they do not.

Agents report errors as free text (``error_message``), sometimes with a stable
``error_fingerprint`` chosen by the tool that raised them.  To count and alert on *kinds* of
errors we need one key per kind:

* if a fingerprint is given, it *is* the cluster (the emitter knows best);
* otherwise the message's **template**, found in two steps:

  1. **masking** (:mod:`agent_pipelines.text.masking`): the variable parts a regex recognises in one
     message (URLs, paths, ids, hashes, addresses, numbers, quoted names...) become placeholders
     such as ``<PATH>`` and ``<NUM>``; vectorised in polars, so it runs at Rust speed;
  2. **mining** (:mod:`agent_pipelines.text.miner`): over the distinct masked messages of the whole
     set, token positions that vary (a function name, a branch, a user) become ``<VAR>``; so
     ``Cannot read properties of undefined (reading <QUOTED>) at dtkdr (<PATH>)`` and
     ``... at qzmw (<PATH>)`` share ``... at <VAR> (<PATH>)``, while ``npm ERR! code ENOENT`` and
     ``npm ERR! code EACCES`` stay apart.

The batch assets, ``agent-pipelines templates`` and the live error-loop detector all use these
functions; the detector keeps its :class:`~agent_pipelines.text.miner.TemplateMiner` in its state and
adds messages as they arrive, which gives the same clusters as mining them all at once.
``benchmarks/bench_clustering.py`` measures accuracy against ground truth and drain3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TypeVar

import polars as pl

from agent_pipelines.text.masking import EMPTY_TEMPLATE, mask, mask_expr, mask_series, masked_keys
from agent_pipelines.text.masking import PLACEHOLDERS as MASK_PLACEHOLDERS
from agent_pipelines.text.miner import VAR, TemplateMiner

__all__ = [
    "EMPTY_TEMPLATE",
    "PLACEHOLDERS",
    "VAR",
    "TemplateMiner",
    "add_cluster_columns",
    "cluster_id",
    "cluster_key",
    "cluster_messages",
    "derive_template",
    "mask_messages",
    "template_expr",
]

#: Placeholder tokens a template may contain: the masking's, then the miner's ``<VAR>``.
PLACEHOLDERS = (*MASK_PLACEHOLDERS, VAR)
_STRIP_CHARS = " \t\n\r\f\v"


def derive_template(message: str) -> str:
    """The template of a message on its own: its masked text (:func:`agent_pipelines.text.masking.mask`).

    With other messages around, :func:`cluster_messages` may generalise it further.
    """
    return mask(message)


def template_expr(message: pl.Expr) -> pl.Expr:
    """Polars expression computing :func:`derive_template` (the masking) for a string column."""
    return mask_expr(message)


def mask_messages(messages: pl.Series) -> pl.Series:
    """The masked text of every message, computed once per distinct message, in parallel."""
    return mask_series(messages)


def mined_templates(masked: pl.Series, miner: TemplateMiner | None) -> pl.DataFrame:
    """``__masked, error_template`` for each distinct masked text."""
    distinct = masked.unique().sort()
    templates = (miner if miner is not None else TemplateMiner()).learn(distinct.to_list())
    return pl.DataFrame({"__masked": distinct, "error_template": pl.Series(templates, dtype=pl.String)})


def _learned_templates(messages: pl.Series, miner: TemplateMiner | None) -> pl.Series:
    """The learned template of every message, in order (the batch path: mask, mine, look up)."""
    keys, table = masked_keys(messages)
    by_key = table.join(
        mined_templates(table.get_column("masked"), miner), left_on="masked", right_on="__masked", how="left"
    ).select("key", "error_template")
    # One lookup per message, by its masking key: the masked and mined texts are per key already.
    return (
        keys.to_frame().join(by_key, on="key", how="left", maintain_order="left").get_column("error_template")
    )


def cluster_messages(messages: Iterable[str | None], miner: TemplateMiner | None = None) -> list[str]:
    """The template of every message, learned over all of them (order kept; ``None`` is empty).

    With ``miner`` (an online model), the messages are added to it first and its templates used.
    """
    series = pl.Series("m", list(messages), dtype=pl.String)
    if series.is_empty():
        return []
    return _learned_templates(series, miner).to_list()


def cluster_key(fingerprint: str | None, message: str | None) -> str:
    """The cluster of one error: its fingerprint if non-blank, else its template.

    The fingerprint is used verbatim: the emitter chose it to identify the error.
    """
    if fingerprint is not None and fingerprint.strip(_STRIP_CHARS):
        return fingerprint
    return derive_template(message) if message is not None else EMPTY_TEMPLATE


def cluster_id(key: str) -> str:
    """A short stable id for a cluster key: the first 12 hex digits of its SHA-1.

    SHA-1 of the UTF-8 bytes, not ``hash()``, so ids agree across processes,
    machines and Python versions (48 bits: collisions are negligible for the
    thousands of clusters a fleet produces).
    """
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def _hash_keys(keys: pl.Series) -> pl.Series:
    # Few distinct keys per batch: hash each once in Python, map back in Rust.
    uniques = keys.unique()
    ids = [cluster_id(k) for k in uniques.to_list()]
    return keys.replace_strict(uniques, pl.Series(ids, dtype=pl.String), return_dtype=pl.String)


FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


def add_cluster_columns(
    df: FrameT,
    message_col: str = "error_message",
    fingerprint_col: str = "error_fingerprint",
    *,
    dedupe: bool = True,
    mine: bool = True,
    miner: TemplateMiner | None = None,
) -> FrameT:
    """Add ``error_template``, ``cluster_key`` and ``cluster_id`` columns.

    ``error_template`` is learned over every message of ``df`` (:func:`cluster_messages`), or is
    the masking alone with ``mine=False``; ``miner`` makes it use (and grow) an online model.
    Works on a ``DataFrame`` or a ``LazyFrame`` and returns the same type (a ``LazyFrame`` is
    collected once: mining needs the whole set). A missing ``fingerprint_col`` counts as
    all-null. With ``dedupe`` (default) the masking runs once per distinct message; both ways
    give the same result (``benchmarks/bench_clustering.py`` measures them).
    """
    lazy = df.lazy()
    names = lazy.collect_schema().names()
    msg = pl.col(message_col).cast(pl.String)
    if not dedupe:
        frame = lazy.with_columns(mask_expr(msg).alias("__masked")).collect()
        if mine:
            table = mined_templates(frame.get_column("__masked"), miner)
            frame = frame.join(table, on="__masked", how="left", maintain_order="left").drop("__masked")
        else:
            frame = frame.rename({"__masked": "error_template"})
    else:
        frame = lazy.collect()
        messages = frame.get_column(message_col)
        template = _learned_templates(messages, miner) if mine else mask_series(messages)
        frame = frame.with_columns(template.alias("error_template"))
    if fingerprint_col in names:
        fp = pl.col(fingerprint_col).cast(pl.String)
        key = (
            pl.when(fp.is_not_null() & (fp.str.strip_chars(_STRIP_CHARS) != ""))
            .then(fp)
            .otherwise(pl.col("error_template"))
        )
    else:
        key = pl.col("error_template")
    frame = frame.with_columns(key.alias("cluster_key")).with_columns(
        pl.col("cluster_key").map_batches(_hash_keys, return_dtype=pl.String).alias("cluster_id")
    )
    if isinstance(df, pl.DataFrame):
        return frame
    return frame.lazy()
