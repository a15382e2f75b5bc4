"""A tiny job for tests/test_run_launch.py, importable by path (Dagster reconstructs it in the worker)."""

# No ``from __future__ import annotations``: Dagster reads the op's context type at run time.

import os
import sys
from pathlib import Path

import dagster as dg

from agent_pipelines.orchestration.run_launch import EXPRESS_TAG, WARMUP_MODULE


@dg.op
def write_pid(context: dg.OpExecutionContext) -> None:
    """Writes its pid, its parent's and whether the run executes with the instance the fork server
    opened before forking it."""
    warm = getattr(sys.modules.get(WARMUP_MODULE), "WARM_INSTANCE", None)
    target = Path(os.environ["EXPRESS_TEST_OUT"])
    target.write_text(f"{os.getpid()} {os.getppid()} {context.instance is warm}")
    print("the op's own output")  # captured for plain runs; express runs capture none


@dg.job(executor_def=dg.in_process_executor, tags={EXPRESS_TAG: "true"})
def express_job() -> None:
    write_pid()


@dg.job(executor_def=dg.in_process_executor)
def plain_job() -> None:
    write_pid()
