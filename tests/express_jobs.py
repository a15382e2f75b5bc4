"""A tiny job for tests/test_run_launch.py, importable by path (Dagster reconstructs it in the worker)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from agent_pipelines.orchestration.run_launch import EXPRESS_TAG


@dg.op
def write_pid() -> None:
    target = Path(os.environ["EXPRESS_TEST_OUT"])
    target.write_text(f"{os.getpid()} {os.getppid()}")
    print("the op's own output")  # captured for plain runs; express runs capture none


@dg.job(executor_def=dg.in_process_executor, tags={EXPRESS_TAG: "true"})
def express_job() -> None:
    write_pid()


@dg.job(executor_def=dg.in_process_executor)
def plain_job() -> None:
    write_pid()
