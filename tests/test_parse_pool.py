"""The parse pool runs the most urgent job first, urgency asked when a thread is free."""

from __future__ import annotations

import threading

import pytest

from agent_pipelines.core.reader.pool import ParsePool


def _held(pool: ParsePool) -> threading.Event:
    """Occupy the pool's one thread until the returned event is set, so jobs queue behind it."""
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait()

    pool.submit(lambda: 0, hold)
    started.wait()
    return release


def test_the_most_urgent_job_goes_first_and_equals_in_order() -> None:
    pool = ParsePool(1)
    release = _held(pool)
    done: list[str] = []
    jobs = [pool.submit(lambda u=u: u, done.append, name) for name, u in
            (("next-day-1", 1), ("writing-1", 2), ("next-day-2", 1), ("writing-2", 2))]  # fmt: skip
    release.set()
    for job in jobs:
        job.result()
    assert done == ["writing-1", "writing-2", "next-day-1", "next-day-2"]


def test_urgency_is_asked_when_a_thread_picks_not_at_submission() -> None:
    """A reader's day becomes the one being written while its block waits: it then goes first."""
    pool = ParsePool(1)
    release = _held(pool)
    writing = ["monday"]
    done: list[str] = []
    tuesday = pool.submit(lambda: 2 if writing[0] == "tuesday" else 1, done.append, "tuesday")
    wednesday = pool.submit(lambda: 1, done.append, "wednesday")
    writing[0] = "tuesday"
    release.set()
    tuesday.result(), wednesday.result()
    assert done == ["tuesday", "wednesday"]


def test_a_failing_job_raises_in_its_caller_and_the_pool_goes_on() -> None:
    pool = ParsePool(2)

    def fail() -> None:
        raise ValueError("bad block")

    with pytest.raises(ValueError, match="bad block"):
        pool.submit(lambda: 0, fail).result()
    assert pool.submit(lambda: 0, sum, [1, 2]).result() == 3
