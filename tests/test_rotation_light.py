"""The alerts and metrics files judged a block at a time (``ops.rotation.light``): polars takes
the lines it can prove it reads as Python does, Python the rest, and the verdicts are those of
judging every line in Python (``line_day``), whatever the lines hold."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from agent_pipelines.core.reader.lines import text_lines
from agent_pipelines.ops.rotation.light import light_days, line_day, polars_days


def judged_in_python(block: bytes) -> tuple[list[int], list[date], dict[int, tuple[str, str]]]:
    """The reference: every line through ``line_day`` (what the rotation did line by line)."""
    idx: list[int] = []
    days: list[date] = []
    bad: dict[int, tuple[str, str]] = {}
    for i, line in enumerate(block.split(b"\n")[:-1]):
        if not line.strip():
            continue
        day = line_day(line)
        if isinstance(day, tuple):
            bad[i] = (day[0].value, day[1])
        else:
            idx.append(i)
            days.append(day)
    return idx, days, bad


def assert_same_as_python(block: bytes) -> pl.DataFrame:
    good, bad, n = light_days(block)
    idx, days, bad_python = judged_in_python(block)
    assert good["idx"].to_list() == idx
    assert good["day"].to_list() == days
    assert bad == bad_python
    assert n == block.count(b"\n")
    return good


STAMPS = [
    "2026-01-05T00:03:57.831Z",
    "2026-01-31T23:59:59Z",
    "2026-01-05T00:03:57.831123Z",
    "2026-02-30T00:00:00Z",  # no such day
    "2026-01-05T24:00:00Z",
    "2026-01-05T23:60:00.000Z",
    "0000-01-01T00:00:00Z",
    "2026-01-05T00:30:00+01:00",  # the day before in UTC
    "2026-01-05T23:30:00-01:00",  # the day after in UTC
    "2026-01-05 12:00:00Z",
    "2026-01-05T12:00:00",
    "2026-01-05T12:00:00.1234567Z",
    "2026-01-05",
    "yesterday",
    "",
]
KEYS = ["timestamp", "a", "b", ":c", " :d", "e:", "metrics"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["x", "a:b", ":", " :x", "{", "[", "é", "timestamp"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)
stamps = st.one_of(st.sampled_from(STAMPS), st.integers(0, 10**12), st.none(), st.just({"x": 1}))


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    record = {
        "timestamp": draw(stamps),
        **draw(st.dictionaries(st.sampled_from(KEYS[1:]), values, max_size=4)),
    }
    if draw(st.booleans()):
        record = {k: v for k, v in record.items() if k != "timestamp" or draw(st.booleans())}
    text = json.dumps(
        record, ensure_ascii=draw(st.booleans()), separators=draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    )
    edit = draw(
        st.sampled_from(["none", "none", "dup", "nested_dup", "raw", "escape", "nan", "big", "ctrl", "tail"])
    )
    if edit == "dup" and text != "{}":  # a top-level key written twice (the last wins in Python)
        text = text[:-1] + ',"a":1,"a":2}'
    elif edit == "nested_dup" and text != "{}":
        text = text[:-1] + ',"n":{"k":1,"k":2}}'
    elif edit == "escape":
        text = text.replace('"timestamp"', '"\\u0074imestamp"', 1)
    elif edit == "nan" and text != "{}":
        text = text[:-1] + ',"v":NaN}'
    elif edit == "big" and text != "{}":
        text = text[:-1] + ',"v":1e400}'
    elif edit == "ctrl":
        text = text.replace("x", "\x01", 1)
    elif edit == "tail":
        text = text + draw(st.sampled_from([" ", "{}", ",", "\r"]))
    if edit == "raw":
        return draw(
            st.sampled_from(
                [b"", b"   ", b"[1]", b'"x"', b"{", b"{}", b"\xff\xfe", b'{"timestamp":"\xff"}', b"null"]
            )
        )
    return text.encode()


@settings_(max_examples=300, deadline=None)
@given(st.lists(lines(), max_size=12))
def test_block_verdicts_are_those_of_every_line_in_python(block_lines: list[bytes]) -> None:
    assert_same_as_python(b"".join(line + b"\n" for line in block_lines))


USUAL = json.dumps({"timestamp": "2026-01-05T00:03:57.831Z", "metrics": {"errors": 0, "cost_usd": 0.1}})
# Lines polars reads (strict JSON, no blank line): whether each is taken by polars or left to Python is
# the screen's call, and either way the verdict must be Python's.
AWKWARD = [
    '{"timestamp":"2026-01-05T23:30:00-01:00","a":1}',  # another day in UTC
    '{"timestamp":"2026-01-05T00:00:00Z","a":1,"a":2}',  # a key twice: refused
    '{"timestamp":"2026-01-05T00:00:00Z","n":{"k":1,"k":2}}',  # a key twice, nested: refused
    '{"timestamp":"2026-01-05T00:00:00Z",":x":1,":x":2}',  # a key twice that starts with a colon
    '{"timestamp":"2026-01-05T00:00:00Z"," :x":1," :x":2}',
    '{"timestamp":"2026-01-05T00:00:00Z","\\u0061":1,"a":2}',  # the same key, once escaped
    '{"timestamp":"2026-01-05T00:00:00Z","\\u0074imestamp":"2026-01-07T00:00:00Z"}',
    '{"timestamp":"2026-01-05T00:00:00Z","n":{"timestamp":5}}',  # the same name at two depths
    '{"n":{"timestamp":"2026-01-05T00:00:00Z"}}',  # only nested: missing
    '{"n":"x","timestamp":12}',
    '{"timestamp":"2026-01-05T00:00:00Z","n":[":",{"a":1}],"a":2}',
    '{"timestamp":{"timestamp":"2026-01-05T00:00:00Z"}}',
    '{"timestamp":"2026-02-30T00:00:00Z"}',
    '{"timestamp":"2026-01-05T24:00:00Z"}',
    '{"timestamp":"2026-01-05T23:60:00Z"}',
    '{"timestamp":"0000-01-01T00:00:00Z"}',
    '{"timestamp":"2026-01-05T00:00:00.1234567Z"}',
    '{"timestamp" : "2026-01-05T00:00:00Z" , "b" : "c:d"}',
    '{"timestamp":"2026-01-05T00:00:00Z","e":"\\"x"}',
    "{" + ",".join(f'"k{i}":[' for i in range(70)) + "]" * 70 + "}",
]


@pytest.mark.parametrize("awkward", AWKWARD)
def test_awkward_lines_get_python_verdicts_and_usual_ones_are_read_by_polars(awkward: str) -> None:
    block = "\n".join([USUAL, awkward, USUAL]).encode() + b"\n"
    assert_same_as_python(block)
    text = text_lines(block)
    assert text is not None
    taken = polars_days(block, text, set())
    assert taken is not None and {0, 2} <= set(taken["idx"].to_list())


def test_a_block_polars_cannot_read_is_judged_line_by_line() -> None:
    block = "\n".join([USUAL, '{"timestamp":"2026-01-05T00:00:00Z","v":NaN}', "", "[1]", USUAL]).encode()
    good = assert_same_as_python(block + b"\n\xff\n")
    assert good["idx"].to_list() == [0, 4]


def test_a_line_polars_refuses_leaves_only_its_segment_to_python() -> None:
    lines = [USUAL] * 200
    lines[100] = '{"timestamp":"2026-01-05T00:00:00Z","v":NaN}'
    block = "\n".join(lines).encode() + b"\n"
    good = assert_same_as_python(block)
    assert 100 not in good["idx"].to_list()
    text = text_lines(block)
    assert text is not None
    taken = polars_days(block, text, set())["idx"].to_list()
    assert len(taken) >= 200 - 16 and 100 not in taken
