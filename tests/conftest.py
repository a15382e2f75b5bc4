"""Shared fixtures. ``tests/`` is on ``sys.path`` (rootdir conftest), so helpers import as modules."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

DEMO_START = date(2026, 3, 2)  # a Monday; fixed so generated data is the same on every run


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the developer's real logs, data folder or Telegram settings."""
    for name in ("AGENT_WORK_LOGS_DIR", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENT_PIPELINES_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("AGENT_WORK_LOGGING_ENABLED", "true")


@pytest.fixture(autouse=True)
def _forget_disposed_dagster_instances() -> Iterator[None]:
    """Keep one test's Dagster instance from leaking into the next.

    In Dagster 1.13, ``with DagsterInstance(...)`` publishes the instance's defs-state storage in a
    context variable that ``__exit__`` never resets. Once that instance is garbage-collected, the
    next test that builds a repository without an instance of its own fails with "Attempted to
    resolve undefined DagsterInstance weakref" - an order-dependent failure, not a bug of ours.
    """
    yield
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)


@pytest.fixture(scope="session")
def small_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated log folder shared (read-only!) by tests: 4 days, 400 tasks."""
    from agent_pipelines.generator import generate

    out = tmp_path_factory.mktemp("small-logs")
    generate(out, days=4, tasks=400, seed=11, start=DEMO_START, workers=1)
    return out


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A real PostgreSQL server on 127.0.0.1, started for this test session (see ``pg_server``).

    Missing binaries skip the tests on a developer's machine but fail in CI, whose ``.ci/run``
    installs them: a green CI must have run the PostgreSQL tests.
    """
    from pg_server import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries not found: .ci/run should have installed the postgresql package")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql); CI installs it")
    with PostgresServer(bin_dir) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[object]:
    """moto's S3 API server on 127.0.0.1 for this test session (see ``s3_server``)."""
    from s3_server import S3Server

    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch: pytest.MonkeyPatch):
    """The S3 server with its ``AWS_*`` settings exported for this test."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server
