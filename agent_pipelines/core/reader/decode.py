"""One line in Python: the slow path, and the authority on what a line holds (strict JSON: no
duplicate keys, no NaN, bounded depth, valid UTF-8)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import polars as pl

from agent_pipelines.core.contract import (
    MAX_DEPTH,
    ContractError,
    Reason,
    check_event,
)
from agent_pipelines.core.reader.result import RAW_SCHEMA

Refused = ContractError  # a line refused in Python carries the same reason codes


_SURROGATE = re.compile("[\ud800-\udfff]")
_DEPTH_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than ``limit``; iterative and linear."""
    if text.count("{") + text.count("[") <= limit:
        return False
    depth = 0
    for match in _DEPTH_TOKENS.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise Refused(Reason.DUPLICATE_KEY, f"key {twice!r:.60} appears twice in one object")
    return obj


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Refused(Reason.MALFORMED_JSON, f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> object:
    raise Refused(Reason.MALFORMED_JSON, f"{name} is not JSON")


def decode_line(line: bytes) -> dict:
    """One line as a Python object, or :class:`Refused` with the reason it is not an event object.

    Strict about everything readers disagree on: invalid UTF-8, nesting deeper than ``MAX_DEPTH``,
    duplicate keys, NaN/Infinity and numbers out of range. Lone surrogates (``\\ud800``), which
    are valid JSON but not text, become U+FFFD wherever they appear.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(Reason.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start}") from None
    obj = decode_json(text)
    if not isinstance(obj, dict):
        raise Refused(Reason.NOT_AN_OBJECT, f"a line must be a JSON object, got {type(obj).__name__}")
    return obj


def decode_json(text: str) -> object:
    """JSON text as Python, refusing with a :class:`~agent_pipelines.core.contract.ContractError` what
    readers disagree on: nesting deeper than ``MAX_DEPTH``, a key twice in one object, NaN,
    Infinity and numbers beyond a double. Used for lines and for the ``log`` command's ``--data``."""
    if _too_deep(text):
        raise Refused(Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            text, object_pairs_hook=_unique_keys, parse_float=_finite, parse_constant=_no_constant
        )
    except ContractError:  # a duplicate key or a number out of range, from the hooks
        raise
    except RecursionError:  # pragma: no cover - _too_deep caught it first
        raise Refused(Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise Refused(Reason.MALFORMED_JSON, f"malformed JSON: {exc}") from None


def loads_finite(text: str) -> object:
    """JSON text as Python with numbers as the reader takes them (no NaN, no Infinity, nothing beyond a
    double), raising :class:`~agent_pipelines.core.contract.ContractError` with the reason. For other
    programs' files (transcripts): their keys are not ours to judge, so no duplicate-key check and
    none of its cost."""
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except ContractError:
        raise
    except RecursionError:
        raise Refused(Reason.TOO_DEEP, "nested too deep to read") from None
    except ValueError as exc:
        raise Refused(Reason.MALFORMED_JSON, f"malformed JSON: {exc}") from None


def loads_any(raw: bytes | str) -> object:
    """One JSON line of any of our files (alerts, metrics...) as Python, raising only ``ValueError``
    (malformed, invalid UTF-8, or a :class:`~agent_pipelines.core.contract.ContractError` for nesting
    over ``MAX_DEPTH``, duplicate keys, NaN): a hostile line is skipped by callers, never fatal."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return decode_json(text)


def as_text(value: object) -> str | None:
    """A decoded value as the raw frame holds it (polars' ``String`` reading): strings as
    themselves, everything else as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    return _SURROGATE.sub("\ufffd", json.dumps(value, ensure_ascii=False))


def python_rows(
    lines: Sequence[bytes], indices: list[int], max_line_bytes: int
) -> tuple[pl.DataFrame | None, list[int], list[tuple[int, Reason, str]]]:
    """Judge lines one by one: (raw rows of the good ones, their indices, (index, reason, detail)).

    Each line is decoded and checked by the contract in Python (:func:`check_event`), the authority
    on what a line holds; the rows it passes are marked ``_judged`` so the polars rules, which see
    every value as text, cannot refuse them again."""
    rows: list[dict[str, str | None]] = []
    kept: list[int] = []
    bad: list[tuple[int, Reason, str]] = []
    for i in indices:
        line = lines[i]
        if len(line) > max_line_bytes:
            bad.append(
                (i, Reason.LINE_TOO_LONG, f"line is {len(line)} bytes, over the {max_line_bytes}-byte bound")
            )
            continue
        if not line.strip():
            continue  # a blank line holds nothing to keep
        try:
            obj = decode_line(line)
            check_event(obj)  # the contract in Python decides: text alone cannot tell "{" from {
        except Refused as exc:
            bad.append((i, exc.reason, exc.detail))
            continue
        rows.append(
            {_SURROGATE.sub("\ufffd", k): as_text(v) for k, v in obj.items() if not k.startswith("_")}
        )
        kept.append(i)
    if not rows:
        return None, kept, bad
    schema = dict(RAW_SCHEMA)
    for row in rows:
        for key in row:
            if key not in schema:
                schema[key] = pl.String()
    frame = pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema)
    return frame.with_columns(_judged=pl.lit(True)), kept, bad
