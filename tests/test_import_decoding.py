"""The importers' fast decoder (orjson) reads every record exactly as ``json.loads`` did, or refuses it
with the same reason: huge integers, NaN/Infinity, 1e400, lone surrogates, duplicate keys, deep nesting
and open-ended text (agent_pipelines/ingest/importers/decoding.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_pipelines.core.contract import ContractError
from agent_pipelines.core.reader.decode import loads_finite
from agent_pipelines.ingest.importers.decoding import loads_record


def _exact(value: object) -> object:
    """A value with every type and key order spelled out (``1 == 1.0 == True`` in Python)."""
    if isinstance(value, dict):
        return ("dict", [(k, _exact(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_exact(v) for v in value])
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


def _outcome(fn, raw: bytes) -> object:  # type: ignore[no-untyped-def]
    try:
        return ("ok", _exact(fn(raw)))
    except ContractError as exc:
        return ("refused", exc.reason, exc.detail)


def _same(raw: bytes) -> None:
    old = _outcome(lambda r: loads_finite(r.decode("utf-8")), raw)
    new = _outcome(lambda r: loads_record(r, r.decode("utf-8")), raw)
    assert new == old, raw[:200]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": 1e400}',
        b'{"a": -1e400}',
        b'{"a": 1e-400}',
        b'{"n": 123456789012345678901234567890}',
        b'{"n": -9223372036854775809}',
        b'{"n": 9223372036854775808}',
        b'{"n": 18446744073709551615}',
        b'{"n": 18446744073709551616}',
        b'{"n": 1234567890123456789.5}',
        b'{"s": "\\ud800"}',
        b'{"s": "\\udc00\\ud800"}',
        b'{"s": "\\ud83d\\ude00"}',
        b'{"a": 1, "b": 2, "a": 3}',
        b'{"a": {"x": 1}, "a": [2]}',
        b"[" * 249 + b"]" * 249,
        b'{"a":' * 990 + b"1" + b"}" * 990,
        b'{"a":' * 1030 + b"1" + b"}" * 1030,
        b"[" * 300 + b"]" * 300,
        b'"just a string"',
        b"[1, 2]",
        b"",
        b"{",
        b'{"a": 1} x',
        b'{"a": 01}',
        b'{"a": "\x01"}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": -0, "b": -0.0, "c": 0.1, "d": 2.2250738585072011e-308}',
    ],
)
def test_edges_read_as_json_loads_reads_them(raw: bytes) -> None:
    _same(raw)


def test_a_huge_integer_stays_an_exact_int() -> None:
    record = loads_record(b'{"n": 123456789012345678901234567890}', '{"n": 123456789012345678901234567890}')
    assert record == {"n": 123456789012345678901234567890}


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_values, st.booleans())
def test_any_json_value_decodes_the_same(value: object, ascii_only: bool) -> None:
    try:
        raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate written raw is not UTF-8: the importer refuses it first
        return
    _same(raw)


_pieces = st.sampled_from(
    ['{"a":', '"k":', "[", "]", "{", "}", ",", ":", '"', "\\u", "d800", "\\n", "1", "-", "0", "e", "E", ".",
     "400", "9" * 19, "NaN", "Infinity", "true", "null", " ", "\t", "x", "é", "\x00", '"a"', '"a":1']
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(_pieces, max_size=30).map("".join) | st.text(max_size=40))
def test_any_text_decodes_or_is_refused_the_same(text: str) -> None:
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return
    _same(raw)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), _values), max_size=6))
def test_duplicate_keys_keep_the_last_value_in_the_first_place(pairs: list[tuple[str, object]]) -> None:
    body = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs)
    _same(("{" + body + "}").encode("utf-8"))
