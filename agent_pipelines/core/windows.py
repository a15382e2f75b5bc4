"""One definition of each time window, stated the same way in every output.

Before this, five success rates could be printed for one data set: the CLI's "last 7 days" ended at
the wall clock, the assets' at the newest event, the report's at midnight, and none said which. Now
every window is a :class:`Window` and every output (``summary``, ``analyze``, asset metadata, the
weekly report) states it with :meth:`Window.describe`, e.g. ``last 7 days to 2026-11-29 23:59 UTC``.

* **Where a window ends** (:func:`data_end`): at the newest event in the logs (the latest
  ``last_event_at`` of a session), never later than the wall clock. On a live fleet that is a few
  seconds ago; on old or generated logs it is their last moment, so "the last 7 days" is a full week of
  data instead of an empty one. The CLI's ``--now`` can set it (``--now now``: the wall clock, as the
  original's ``Show-AgentWorkSummary`` did; or an ISO time).
* **What belongs to a window**: a session by the time it *started* (computed from all its events, so
  none is cut in half), an error or other event by its own time; the window is ``(end - N days, end]``.
* **A week** (the weekly report) is an ISO week, Monday 00:00 to Sunday 23:59 UTC: the window of 7
  days that ends at the end of its Sunday (:meth:`Window.week`). **The last complete week**
  (:func:`last_complete_week`) is the one the UI reports on at start and the CLI by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

# Displayed to the minute: a window that ends at the end of a day reads "23:59".
_FORMAT = "%Y-%m-%d %H:%M"
# The end of a day, as a moment inside it (windows include their end).
_LAST_MOMENT = timedelta(microseconds=1)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive time is taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def data_end(
    sessions: pl.DataFrame | pl.LazyFrame,
    wall_clock: datetime | None = None,
    *,
    column: str = "last_event_at",
) -> datetime:
    """Where windows end by default: the newest event of any session, no later than the wall clock
    (a host with its clock ahead must not move every window into the future); the wall clock when
    there are no sessions. A table without sessions (error occurrences) gives its time ``column``."""
    now = utc(wall_clock) if wall_clock is not None else datetime.now(UTC)
    frame = sessions.lazy().select(pl.col(column).max()).collect()
    latest = frame.item() if frame.height else None
    return min(utc(latest), now) if isinstance(latest, datetime) else now


@dataclass(frozen=True)
class Window:
    """The ``days`` days that end at ``end`` (included); ``days=None`` is every day up to ``end``."""

    end: datetime
    days: float | None = 7

    def __post_init__(self) -> None:
        object.__setattr__(self, "end", utc(self.end))
        if self.days is not None and self.days <= 0:
            raise ValueError(f"a window lasts a positive number of days, not {self.days:g}")

    @classmethod
    def week(cls, monday: date) -> Window:
        """The ISO week starting ``monday``: 7 days to the end of its Sunday."""
        midnight = datetime.combine(monday + timedelta(days=7), time(), tzinfo=UTC)
        return cls(midnight - _LAST_MOMENT, 7)

    @property
    def start(self) -> datetime | None:
        """The moment before the window (excluded); ``None`` for every day."""
        if self.days is None:
            return None
        return self.end - timedelta(days=min(self.days, 365_000))

    def previous(self) -> Window:
        """The window of the same length just before this one."""
        if self.start is None:
            raise ValueError("every day has no window before it")
        return Window(self.start, self.days)

    def describe(self) -> str:
        """``last 7 days to 2026-11-29 23:59 UTC``, ``all days to 2026-11-29 23:59 UTC``."""
        span = "all days" if self.days is None else f"last {self.days:g} day{'' if self.days == 1 else 's'}"
        return f"{span} to {self.end.strftime(_FORMAT)} UTC"

    def contains(self, column: str) -> pl.Expr:
        """``column`` (a UTC datetime) falls in the window."""
        inside = pl.col(column) <= self.end
        return inside if self.start is None else inside & (pl.col(column) > self.start)

    def sessions(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The sessions that started in the window."""
        return frame.filter(self.contains("started_at"))


def all_days(sessions: pl.DataFrame | pl.LazyFrame) -> str:
    """The window of a table over every session, stated: ``all days to 2026-11-29 23:59 UTC``."""
    return Window(data_end(sessions), None).describe()


def monday(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def last_complete_week(wall_clock: datetime, latest_data: date | datetime | None = None) -> date:
    """The Monday of the last complete ISO week: the week before the wall clock's, or, when the logs
    end earlier, the week they end in (it is over too), so old or generated logs get their own
    last week rather than an empty one."""
    week = monday(utc(wall_clock).date()) - timedelta(days=7)
    if latest_data is None:
        return week
    day = utc(latest_data).date() if isinstance(latest_data, datetime) else latest_data
    return min(week, monday(day))


SESSION_RULE = "sessions by start time, errors by their own time"
