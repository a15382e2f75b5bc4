"""Dagster's own processes (webserver, daemon) started for a test, each in its process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from agent_pipelines.core import paths

T = TypeVar("T")


def binary(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


@contextmanager
def dagster_process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run ``argv`` from the project root; stop it and its children (SIGTERM, then SIGKILL) after."""
    handle = open(log, "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        argv, cwd=paths.PROJECT_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        handle.close()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, process: subprocess.Popen,
             log: Path, every: float = 0.5) -> T:  # fmt: skip
    """Poll ``probe`` until it returns something truthy; fail with the process log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log.read_text()[-4000:]
            raise AssertionError(f"{what}: process exited with {process.returncode}: {tail}")
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s: {log.read_text()[-4000:]}")
        time.sleep(every)
