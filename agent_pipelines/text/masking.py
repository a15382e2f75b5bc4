"""Masking applied: one message at a time (Python), as a polars expression, and in batch.

The rules (:mod:`agent_pipelines.text.masking_rules`) say what is variable in one message; this module
runs them. Three paths give identical results (the test suite holds them to it):

* :func:`mask`: one message, Python ``re``; the reference, and what a single lookup uses;
* :func:`mask_expr`: a polars expression, one row at a time in Rust regex, outside the GIL;
* the batch path (:func:`masked_keys`, :func:`mask_series`, :func:`mask_values`): many messages
  per regex pass (joined by newlines), each rule only over the messages that can match it (gates),
  and the later rules only over the distinct texts the earlier ones left (stages). Masking is the
  bulk of clustering's cost, so this is where throughput is won.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import polars as pl

from agent_pipelines.text.masking_rules import (
    EMPTY_TEMPLATE,
    LINE_RULES,
    MAX_INPUT_CHARS,
    MAX_LINE_CHARS,
    PLACEHOLDERS,
    RULES,
    Rule,
)

__all__ = [
    "EMPTY_TEMPLATE",
    "PLACEHOLDERS",
    "MaskedKeys",
    "mask",
    "mask_expr",
    "mask_one_line_frame",
    "mask_series",
    "mask_values",
    "masked_keys",
]

_PY_LINE_RULES = tuple((re.compile(r.pattern, re.ASCII), r.python_replacement) for r in LINE_RULES)
_PY_RULES = tuple((re.compile(r.pattern, re.ASCII), r.python_replacement) for r in RULES)

# Gates: characters without which a rule cannot match. Much of the cost of masking is the regex
# engine scanning text that a rule will never match (a number rule over a message without a digit),
# so the batch path (:func:`masked_keys`) groups messages by the gates they pass and runs each rule
# only over groups that pass all of its gates. Gates are checked once, on the one-line text before
# the first rule. That is exact because no rule writes what a later rule's gate looks for
# (placeholders are capitals in <>, markers are letters, _ and \x02-\x05, and the digit gate counts
# those; the whitespace rule, the only one behind the space gate, runs first), so a rule skipped
# there would have changed nothing: tests/test_masking_fast.py holds gated against ungated. Only
# cheap gates pay: checking a gate costs a pass over every message, so a gate must spare more than
# that (measured: the digit, quote and space gates do; path or tool-word gates cost more than they
# saved on the generated errors).
_GATES: dict[str, tuple[str, ...]] = {
    # Each gate is any of its patterns: patterns simple enough for the regex engine's fast literal
    # search (a digit, a marker, two spaces: each alone a few times faster than one class of all).
    "digit": ("[0-9]", "[\\x02-\\x05]"),
    "quote": ("['\"`‘“]",),
    # What the whitespace rule rewrites: a whitespace character other than a space, or two in a row.
    "space": ("[\\t\\n\\v\\f\\r]", "  "),
}
_RULE_GATES: dict[str, tuple[str, ...]] = {
    "whitespace": ("space",),
    "keep_status_number": ("digit",),
    "keep_http_reason": ("digit",),
    "keep_json_key_dq": ("quote",),
    "keep_json_key_sq": ("quote",),
    "keep_kind_value_dq": ("quote",),
    "keep_kind_value_sq": ("quote",),
    "killed_process": ("digit",),
    "date": ("digit",),
    "hex": ("digit",),
    "time": ("digit",),
    "quoted": ("quote",),
    "duration": ("digit",),
    "size": ("digit",),
    "version": ("digit",),
    "number": ("digit",),
    "number_again": ("digit",),
    "id_mark_long": ("digit",),
    "id_mark": ("digit",),
    "id": ("digit",),
    "id_unmark": ("digit",),
    "unprotect_number": ("digit",),
}
# Gate signatures to mask apart at most (the rest join the cheapest group that covers them: running
# a rule over a message its gates would have spared is harmless, only slower).
_MAX_GATE_GROUPS = 12

# Two stages. Rules are functions of the text alone, so messages whose texts have become equal
# part way through the rules end equal: the batch path masks the distinct messages up to the
# quoted names (stage one: URLs, addresses, paths, quoted names, the values that make most
# messages distinct), then only the distinct texts left (stage two: numbers, hashes, ids, tidying).
# On the generated errors 197,529 distinct messages are 58,765 distinct texts at the cut, and the
# number, hash and id rules, a third of the regex work, run over those alone.
_STAGE_TWO_FROM = next(i for i, rule in enumerate(RULES) if rule.name == "user")


def _mask_uncached(message: str) -> str:
    text = message[:MAX_INPUT_CHARS]
    for regex, repl in _PY_LINE_RULES:
        text = regex.sub(repl, text)
    text = text[:MAX_LINE_CHARS]
    for regex, repl in _PY_RULES:
        text = regex.sub(repl, text)
    text = text.strip(" ")
    return text or EMPTY_TEMPLATE


@lru_cache(maxsize=65_536)
def mask(message: str) -> str:
    """The masked text of one message (pure; cached).

    Variable parts become placeholder tokens (see :data:`PLACEHOLDERS`), whitespace is collapsed
    to single spaces, and a multi-line message is represented by the line that names the error
    (see :mod:`agent_pipelines.text.masking_rules`).  An empty message gives :data:`EMPTY_TEMPLATE`.
    The result equals what :func:`mask_expr` computes for the same message.
    """
    return _mask_uncached(message)


# The one-line path masks many messages at a time: joined by "\n" into one string per chunk, every
# rule runs once per chunk instead of once per message (a pass over a column costs about as much per
# row as the regex work itself), then the chunk is split back.  This is exact because no message
# contains "\n", no rule writes or removes one (classes that may consume it put it back through
# their group), and with (?m) "^"/"$" match at the message boundaries exactly as at the ends of one
# message; the whitespace rule alone must leave "\n" alone.  tests/test_masking_fast.py holds this
# against the per-message rules on a varied corpus.
_CHUNK_ROWS = 2_048
_JOINED_WHITESPACE = r"[\t\v\f\r][\t\v\f\r ]*| [\t\v\f\r ]+"


def _joined_pattern(rule: Rule) -> str:
    return "(?m)" + (_JOINED_WHITESPACE if rule.name == "whitespace" else rule.rust_pattern)


def _finished(text: pl.Expr) -> pl.Expr:
    """The last step of :func:`mask`: surrounding spaces go, and nothing left is :data:`EMPTY_TEMPLATE`."""
    stripped = text.str.strip_chars(" ")
    return pl.when(stripped == "").then(pl.lit(EMPTY_TEMPLATE)).otherwise(stripped)


def _chunked(frame: pl.LazyFrame, column: str, rules: Sequence[Rule], *, finish: bool) -> pl.LazyFrame:
    """One column, ``column``: ``rules`` applied to each value (non-null, one-line: promised), in order."""
    joined = pl.col(column)
    for rule in rules:
        joined = joined.str.replace_all(_joined_pattern(rule), rule.replacement)
    out = (
        frame.select(column)
        .with_row_index("__row")
        .group_by((pl.col("__row") // _CHUNK_ROWS).alias("__chunk"), maintain_order=True)
        .agg(pl.col(column).str.join("\n"))
        .select(joined.str.split("\n"))
        .explode(column)
    )
    return out.select(_finished(pl.col(column)).alias(column)) if finish else out


def _rules_behind(gates: frozenset[str] | None, rules: Sequence[Rule]) -> list[Rule]:
    """The ``rules`` a text that passes only ``gates`` (``None``: every gate) can match."""
    return [r for r in rules if gates is None or all(g in gates for g in _RULE_GATES.get(r.name, ()))]


def mask_one_line_frame(
    frame: pl.LazyFrame, column: str, out: str, *, gates: frozenset[str] | None = None
) -> pl.LazyFrame:
    """``column, out`` with ``out`` = :func:`mask` of ``column``, for values without ``\n`` (promised).

    Same result as ``mask_expr(pl.col(column), multiline=False)``, several times faster: the rules
    run over chunks of messages joined by newlines (see the comment above). ``gates`` is a promise
    that no value passes any other gate (:data:`_GATES`): rules behind other gates are skipped.
    """
    text = frame.select(pl.col(column).cast(pl.String).fill_null("").str.slice(0, MAX_LINE_CHARS))
    masked = _chunked(text, column, _rules_behind(gates, RULES), finish=True).rename({column: out})
    return pl.concat([frame.select(column), masked], how="horizontal")


def _one_line(values: pl.Series) -> pl.Series:
    """What the one-line rules work on: null as "", a multi-line message as the line naming its error."""
    text = values.cast(pl.String).fill_null("").rename("__text")
    multi = text.str.contains("\n", literal=True).arg_true()
    if len(multi):
        lines = text.gather(multi).str.slice(0, MAX_INPUT_CHARS)
        for rule in LINE_RULES:
            lines = lines.str.replace_all(rule.rust_pattern, rule.replacement)
        text = text.scatter(multi, lines)
    return text.str.slice(0, MAX_LINE_CHARS)


def _parts(height: int) -> list[tuple[int, int]]:
    """(offset, length) of the parts a column of ``height`` rows is masked in: one per pool thread."""
    size = max(_CHUNK_ROWS, -(-height // max(1, pl.thread_pool_size())))
    return [(offset, min(size, height - offset)) for offset in range(0, height, size)]


def _stage_one(texts: pl.Series) -> pl.Series:
    """``texts`` (non-null, one-line) through the stage-one rules, in order; gates skip what they can."""
    frame = pl.DataFrame({"__text": texts}).with_columns(
        pl.any_horizontal(*(pl.col("__text").str.contains(p) for p in patterns)).alias(f"__{gate}")
        for gate, patterns in _GATES.items()
    )
    signature = pl.sum_horizontal(
        *(pl.col(f"__{gate}").cast(pl.UInt8) * (1 << bit) for bit, gate in enumerate(_GATES))
    )
    frame = frame.select("__text", signature.alias("__sig")).with_row_index("__row")
    counts = dict(frame.get_column("__sig").value_counts().iter_rows())
    group_of = _gate_groups(counts)
    frame = frame.with_columns(pl.col("__sig").replace_strict(group_of, return_dtype=pl.Int64))
    rows: list[pl.Series] = []
    queries: list[pl.LazyFrame] = []
    for (sig,), group in frame.partition_by("__sig", as_dict=True, include_key=False).items():
        gates = frozenset(gate for bit, gate in enumerate(_GATES) if int(sig) >> bit & 1)
        rules = _rules_behind(gates, RULES[:_STAGE_TWO_FROM])
        for offset, length in _parts(group.height):
            part = group.slice(offset, length)
            rows.append(part.get_column("__row"))
            queries.append(_chunked(part.lazy(), "__text", rules, finish=False))
    masked = pl.concat([q.get_column("__text") for q in pl.collect_all(queries)])
    return masked.gather(pl.concat(rows).arg_sort())


def _stage_two(texts: pl.Series) -> pl.Series:
    """``texts`` (out of :func:`_stage_one`) through the stage-two rules and the final strip, in order."""
    frame = texts.rename("__text").to_frame()
    queries = [
        _chunked(frame.lazy().slice(offset, length), "__text", RULES[_STAGE_TWO_FROM:], finish=True)
        for offset, length in _parts(frame.height)
    ]
    return pl.concat([q.get_column("__text") for q in pl.collect_all(queries)])


class MaskedKeys(NamedTuple):
    """The masking of many messages, as a key per message and the masked text of each key.

    Equal keys mean equal masked texts; there are usually far fewer keys than messages, so work
    on masked texts (mining, joining) is done once per key, and each message looked up by its key.
    """

    #: One key per message, in order (the message's text part way through the rules).
    keys: pl.Series
    #: ``key``, ``masked``: one row per distinct key.
    table: pl.DataFrame


def masked_keys(values: pl.Series) -> MaskedKeys:
    """:func:`mask` of every value (null: empty), as :class:`MaskedKeys`; the batch path.

    A message repeated is masked once (when the distinct messages are fewer than half the rows, they
    are found first); the rules run in two stages (see :data:`_STAGE_TWO_FROM`), over chunks of
    messages at a time, skipping the rules a message's gates rule out (see :data:`_GATES`), the
    parts in parallel on every pool thread.
    """
    text = values.cast(pl.String).fill_null("")
    if text.is_empty():
        return MaskedKeys(text.rename("key"), pl.DataFrame(schema={"key": pl.String, "masked": pl.String}))
    if text.n_unique() * 2 <= text.len():
        distinct = text.unique()
        halfway = pl.DataFrame({"__value": distinct, "key": _stage_one(_one_line(distinct))})
        keys = (
            text.rename("__value")
            .to_frame()
            .join(halfway, on="__value", how="left", maintain_order="left")
            .get_column("key")
        )
    else:
        keys = _stage_one(_one_line(text)).rename("key")
    distinct_keys = keys.unique()
    table = pl.DataFrame({"key": distinct_keys, "masked": _stage_two(distinct_keys)})
    return MaskedKeys(keys, table)


def _gate_groups(counts: dict[int, int]) -> dict[int, int]:
    """Gate signature (bit i: passes gate i) -> signature of the group that masks it.

    The :data:`_MAX_GATE_GROUPS` most common signatures are masked apart; every other one joins the
    chosen signature that covers it with the fewest gates (all gates, at worst: every rule).
    """
    every = (1 << len(_GATES)) - 1
    chosen = sorted(counts, key=lambda sig: (-counts[sig], sig))[:_MAX_GATE_GROUPS]
    if every not in chosen:
        chosen.append(every)
    return {
        sig: min((c for c in chosen if c & sig == sig), key=lambda c: (c.bit_count(), c)) for sig in counts
    }


def mask_values(values: pl.Series, out: str = "masked") -> pl.DataFrame:
    """Each distinct value of ``values`` (a column named like ``values``) and its :func:`mask` (``out``)."""
    distinct = values.cast(pl.String).unique()
    keys, table = masked_keys(distinct)
    return (
        pl.DataFrame({values.name: distinct, "key": keys})
        .join(table, on="key", how="left", maintain_order="left")
        .select(values.name, pl.col("masked").alias(out))
    )


def mask_series(values: pl.Series) -> pl.Series:
    """:func:`mask` of every value (null: empty), in order, named like ``values``; the batch path."""
    keys, table = masked_keys(values)
    return (
        keys.to_frame()
        .join(table, on="key", how="left", maintain_order="left")
        .get_column("masked")
        .alias(values.name)
    )


def mask_expr(message: pl.Expr, *, multiline: bool = True) -> pl.Expr:
    """Polars expression computing :func:`mask` for a string column.

    Every step is ``str.replace_all`` with a Rust regex, so it runs outside the GIL.  Nulls give
    :data:`EMPTY_TEMPLATE`.  ``multiline=False`` is a promise that no value contains ``\\n``: the
    rules that pick a line out of a multi-line message (no-ops on one line) are then skipped.
    """
    expr = message.cast(pl.String).fill_null("")
    if multiline:
        expr = expr.str.slice(0, MAX_INPUT_CHARS)
        for rule in LINE_RULES:
            expr = expr.str.replace_all(rule.rust_pattern, rule.replacement)
    expr = expr.str.slice(0, MAX_LINE_CHARS)
    for rule in RULES:
        expr = expr.str.replace_all(rule.rust_pattern, rule.replacement)
    return _finished(expr)
