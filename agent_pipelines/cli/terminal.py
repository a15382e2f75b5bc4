"""A quiet terminal for ``agent-pipelines ui``: Dagster's output, filtered by log level.

``dagster dev --log-level`` quiets the webserver and the daemon, but each run is a process of its
own that prints every event at DEBUG through Dagster's default console logger (its level comes from
the instance, and lowering it there would also drop those events from the UI's event log). With a
5-second detector job that is hundreds of lines a minute. So ``agent-pipelines ui`` reads everything
``dagster dev`` and its children print and passes on only lines at or above the chosen level, and
every line that carries no level (a traceback, the webserver's banner) unchanged.

A tick that did nothing is DEBUG here (``dagster_internals.ROUTINE_LINE``): the daemon logs every
sensor tick, skip and automation evaluation at INFO — a line every 5 seconds from the live sensor
alone (208 "skipped" lines in 18 minutes) — so ``--log-level info`` shows what happened (runs
launched, partitions added) and ``--log-level debug`` shows everything.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from typing import IO

# Dagster's log format and the wording of its routine lines are Dagster's to change: they live with
# the other Dagster internals, re-checked on an upgrade (tests/test_dagster_internals.py).
from agent_pipelines.orchestration.dagster_internals import LOG_LEVEL, ROUTINE_LINE

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_ANSI = re.compile(rb"\x1b\[[0-9;]*m")


def keep(line: bytes, threshold: int) -> bool:
    """Whether a line of Dagster's output is at or above ``threshold`` (lines without a level: yes)."""
    head = _ANSI.sub(b"", line[:400])
    found = LOG_LEVEL.search(head)
    if found is None:
        return True
    level = LEVELS[found.group(1).decode().lower()]
    if level == LEVELS["info"] and ROUTINE_LINE.search(head, found.end()):
        level = LEVELS["debug"]
    return level >= threshold


def pump(source: IO[bytes], sink: IO[bytes], threshold: int) -> tuple[int, int]:
    """Copy the lines of ``source`` that :func:`keep` keeps; returns (lines kept, lines dropped)."""
    kept = dropped = 0
    for line in source:
        if keep(line, threshold):
            sink.write(line)
            sink.flush()
            kept += 1
        else:
            dropped += 1
    return kept, dropped


def run_filtered(argv: Sequence[str], level: str) -> int:
    """Run ``argv``, its output filtered at ``level``; Ctrl-C stops it as it would stop it directly."""
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    while True:
        try:
            pump(process.stdout, sys.stdout.buffer, LEVELS[level])
            break
        except KeyboardInterrupt:
            # The terminal sent SIGINT to the whole group, dagster included: keep relaying what it
            # prints while it shuts down (a pipe nobody reads would block it).
            continue
    return process.wait()


__all__ = ["LEVELS", "keep", "pump", "run_filtered"]
