"""The generator's fast parts give exactly what the slow, obvious forms give.

The generator keeps time as integer microseconds and draws from ``random.Random`` without going
through ``choices``/``randint``; its output must not change for that (see the pinned digests in
``test_generator.py``). Here each part is compared with the standard-library form it replaces.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_pipelines.core.contract import format_timestamp
from agent_pipelines.generator import clock
from agent_pipelines.generator.malformed import MALFORMED_EVERY, bad_lines
from agent_pipelines.generator.profiles import (
    ERRORS_DRAW,
    EXECUTOR_DRAW,
    EXECUTOR_WEIGHTS,
    TOOL_DRAW,
    TOOL_WEIGHTS,
    TOOLS,
    below,
    pick,
)

ONE_US = timedelta(microseconds=1)
MOMENTS = st.integers(min_value=0, max_value=clock.from_datetime(datetime(2100, 1, 1, tzinfo=UTC)))


@given(st.floats(min_value=0, max_value=200_000, allow_nan=False, allow_infinity=False))
def test_seconds_rounds_as_timedelta_does(value: float) -> None:
    assert clock.seconds(value) == timedelta(seconds=value) // ONE_US


def test_seconds_rounds_halfway_to_even_as_timedelta_does() -> None:
    values = [k + 0.5e-6 for k in range(200)] + [k + 1.5e-6 for k in range(200)] + [2.5e-6, 0.5e-6, 97.0]
    values += [random.Random(1).uniform(5, 45) for _ in range(2000)]
    assert [clock.seconds(v) for v in values] == [timedelta(seconds=v) // ONE_US for v in values]


@given(MOMENTS)
def test_timestamps_are_the_loggers(us: int) -> None:
    moment = clock.to_datetime(us)
    assert clock.timestamp(us) == format_timestamp(moment)
    assert clock.epoch_ms(us) == int(moment.timestamp() * 1000)
    assert clock.isoformat(us) == moment.isoformat()
    assert clock.day(us) == moment.date().isoformat()
    assert clock.from_datetime(moment) == us


def test_draws_are_the_standard_librarys() -> None:
    ours, theirs = random.Random("7:3"), random.Random("7:3")
    for n in (1, 2, 3, 4, 6, 60, 3981, 1 << 20, (1 << 20) + 1):
        for _ in range(300):
            assert below(ours, n) == theirs.randrange(n)
    for _ in range(3000):
        assert pick(ours, TOOL_DRAW) == theirs.choices(TOOLS, TOOL_WEIGHTS)[0]
        assert (
            pick(ours, EXECUTOR_DRAW)
            == theirs.choices(list(EXECUTOR_WEIGHTS), list(EXECUTOR_WEIGHTS.values()))[0]
        )
        assert pick(ours, ERRORS_DRAW) == theirs.choices((0, 1, 2), (0.55, 0.3, 0.15))[0]
    assert ours.random() == theirs.random()  # and the two streams are still in step


def test_bad_lines_grow_with_the_day_and_cover_every_reason() -> None:
    assert sum(bad_lines(1, 3 * MALFORMED_EVERY).counts().values()) == 3
    assert bad_lines(0, 50_000).huge and not bad_lines(0, 49_999).huge and not bad_lines(4, 10**6).huge
    assert [bad_lines(i, 10).duplicate for i in range(6)] == [False, True, False, False, True, False]
    reasons = set()
    for day_index in range(32):
        reasons |= set(bad_lines(day_index, 1000).counts())
    assert len(reasons) == 8  # every malformed kind within 32 days of small files


def test_constants_written_unescaped_must_be_json_safe() -> None:
    """The generator formats titles, projects, models... into lines without escaping; importing
    its profiles checks them, and a constant that needs escaping is refused."""
    from agent_pipelines.generator.profiles import check_json_safe

    check_json_safe(["Fix CSV export", "gpt-5"])
    for bad in ('say "hi"', "back\\slash", "tab\there", "bell\x07"):
        with pytest.raises(ValueError, match="escaping"):
            check_json_safe([bad])
