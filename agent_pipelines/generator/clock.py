"""Time in the generator: integer microseconds since the Unix epoch, formatted from tables.

Scenarios used to move ``datetime`` objects forward and format one per event; that was a fifth of
the hot loop. Here a moment is an ``int`` and every step rounds exactly as ``datetime`` does, so
the output is the same bytes (a test checks each function against its ``datetime`` form):

* :func:`seconds` — ``timedelta(seconds=x)`` in microseconds (``datetime`` rounds half to even);
* :func:`epoch_ms` — ``int(moment.timestamp() * 1000)``, the same float steps;
* :func:`timestamp` — :func:`agent_pipelines.core.contract.format_timestamp` (the original PowerShell
  logger's ``2026-02-09T14:23:45.123Z``), from a table of the day's seconds;
* :func:`isoformat` — ``datetime.isoformat()`` (microseconds, ``+00:00``), for the ground truth.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
_ONE_US = timedelta(microseconds=1)
# What timestamp() assembles: the day (by day number since the epoch, filled by day()), the time of
# day to the second, the milliseconds. Public for the generator's inlined copy (work.tool_calls).
HMS = tuple(f"T{h:02d}:{m:02d}:{s:02d}." for h in range(24) for m in range(60) for s in range(60))
MS = tuple(f"{ms:03d}Z" for ms in range(1000))
DAY_TEXT: dict[int, str] = {}


def from_datetime(moment: datetime) -> int:
    """Microseconds since the epoch of an aware ``datetime``."""
    return (moment - EPOCH) // _ONE_US


def to_datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def seconds(value: float) -> int:
    """``timedelta(seconds=value)`` in microseconds, for ``value >= 0``, rounded as ``datetime`` rounds.

    CPython's ``timedelta`` takes the whole seconds exactly, then ``1e6 * fraction`` split into
    whole microseconds and a leftover it rounds half to even on the total. The same steps here cost
    a fifth of building a ``timedelta`` (a test compares the two on random and halfway values).
    """
    whole = int(value)
    us = whole * US_PER_SECOND
    fraction = value - whole  # exact: the fractional part of a float is a float
    if not fraction:
        return us
    scaled = 1e6 * fraction
    whole_us = int(scaled)
    us += whole_us
    left = scaled - whole_us
    if left > 0.5 or (left == 0.5 and us & 1):
        us += 1
    return us


def epoch_ms(us: int) -> int:
    """``int(moment.timestamp() * 1000)``: ``timestamp()`` divides the integer microseconds by 10**6."""
    return int(us / US_PER_SECOND * 1000)


def day(us: int) -> str:
    """``YYYY-MM-DD`` of a moment (UTC)."""
    number = us // US_PER_DAY
    text = DAY_TEXT.get(number)
    if text is None:
        text = DAY_TEXT[number] = (EPOCH + timedelta(days=number)).date().isoformat()
    return text


def timestamp(us: int) -> str:
    """``2026-02-09T14:23:45.123Z``: UTC, milliseconds truncated (as ``isoformat`` truncates)."""
    ms = us // 1000
    sec = ms // 1000
    number = sec // 86_400
    text = DAY_TEXT.get(number)
    if text is None:
        text = day(us)
    return text + HMS[sec - number * 86_400] + MS[ms - sec * 1000]


def isoformat(us: int) -> str:
    """``datetime.isoformat()`` of the moment: ``2026-03-02T10:00:00.250000+00:00``."""
    return to_datetime(us).isoformat()
