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

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
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


STOP_GRACE_S = 3.0
"""How long ``dagster dev`` gets to stop its children after SIGINT before everything left of its tree
gets SIGTERM, and then as long again before SIGKILL: the whole tree is gone within 2x this."""


def run_filtered(argv: Sequence[str], level: str) -> int:
    """Run ``argv``, its output filtered at ``level``, and stop its whole process tree when we stop.

    ``dagster dev`` starts a webserver, a daemon, code servers and runs. SIGTERM to us alone (systemd,
    ``docker stop``, ``kill``) used to leave all of them running, and a Ctrl-C depended on every one
    of them honouring SIGINT. So the child gets a session of its own and we relay: SIGINT or SIGTERM
    to us sends SIGINT to its group (a graceful stop, as Ctrl-C would), then after
    :data:`STOP_GRACE_S` SIGTERM and then SIGKILL to whatever is left of its tree, found through
    ``/proc`` as well as by group (a process that made a session of its own is still a descendant).
    """
    reaper = become_subreaper()  # orphans of the tree become our children: still found, and reaped
    process = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    root = os.getpid() if reaper else process.pid
    assert process.stdout is not None
    relay = threading.Thread(
        target=pump, args=(process.stdout, sys.stdout.buffer, LEVELS[level]), daemon=True
    )
    relay.start()
    asked: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        asked.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while process.poll() is None and not asked:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)
        code = stop_tree(process, root) if asked else process.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_tree(process, root, grace=0.0)  # anything the tree left behind, whichever way we got here
    relay.join(timeout=2.0)
    if asked:
        return 128 + asked[0]
    return code


def descendants(pid: int) -> set[int]:
    """Every living descendant of ``pid`` (children, grandchildren...) from ``/proc``; empty where
    there is no ``/proc`` (the process group still covers those that kept it)."""
    parents: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[0] != b"Z":
            parents[int(name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier and child not in found}
        found |= frontier
    return found


def _signal_all(process: subprocess.Popen[bytes], pids: set[int], signum: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signum)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def become_subreaper() -> bool:
    """Linux: make this process the reaper of its descendants' orphans (``PR_SET_CHILD_SUBREAPER``),
    so a process whose parent died is still in our tree rather than init's."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(36, 1, 0, 0, 0) == 0)  # 36: PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap(skip: int) -> None:
    """Collect our dead adopted children (zombies), never ``skip`` (Popen waits for that one)."""
    me = os.getpid()
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not name.isdigit() or int(name) == skip:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[0] == b"Z" and int(fields[1]) == me:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(int(name), os.WNOHANG)


def stop_tree(process: subprocess.Popen[bytes], root: int | None = None, grace: float | None = None) -> int:
    """Stop ``process`` and all descendants of ``root`` (default: the process): SIGINT to its group,
    SIGTERM after ``grace``, SIGKILL after as long again. Returns its exit status."""
    root = process.pid if root is None else root
    grace = STOP_GRACE_S if grace is None else grace
    tree = descendants(root)
    steps = [(signal.SIGINT, grace), (signal.SIGTERM, grace), (signal.SIGKILL, 0.0)] if grace else []
    steps = steps or [(signal.SIGKILL, 0.0)]
    for signum, wait in steps:
        tree |= descendants(root)
        tree.discard(process.pid)
        alive = {pid for pid in tree if _alive(pid)}
        if process.poll() is not None and not alive:
            break
        _signal_all(process, alive, signum)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(process.pid)
            tree |= descendants(root) - {process.pid}
            if process.poll() is not None and not any(_alive(pid) for pid in tree):
                break
            time.sleep(0.05)
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be refused
        code = -signal.SIGKILL
    _reap(process.pid)
    return code


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


__all__ = ["LEVELS", "STOP_GRACE_S", "descendants", "keep", "pump", "run_filtered", "stop_tree"]
