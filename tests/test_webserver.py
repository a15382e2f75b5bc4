"""The real ``dagster-webserver`` loads our workspace and serves every asset, check, schedule and sensor.

Starts the webserver as a subprocess on a free port with a temporary ``DAGSTER_HOME``, waits for
``/server_info``, then asks its GraphQL API what the code location holds and compares that with the
``Definitions`` loaded in-process. Slow (the webserver takes a few seconds to import Dagster), so it
is marked ``slow`` and runs once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from agent_pipelines.core import paths

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT_S = 180
QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
  assetNodes {
    assetKey { path }
    groupName
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } }
  }
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes { name schedules { name cronSchedule } sensors { name } }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _webserver_binary() -> str:
    candidate = Path(sys.executable).parent / "dagster-webserver"
    return str(candidate) if candidate.exists() else "dagster-webserver"


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("webserver")
    home, logs, data = root / "dagster_home", root / "logs", root / "data"
    for folder in (home, logs, data):
        folder.mkdir()
    port = _free_port()
    env = dict(os.environ, DAGSTER_HOME=str(home), AGENT_WORK_LOGS_DIR=str(logs),
               AGENT_PIPELINES_DATA_DIR=str(data))  # fmt: skip
    log_file = open(root / "webserver.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [_webserver_binary(), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=paths.PROJECT_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: we stop it and its children together
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"webserver exited with {process.returncode}: {(root / 'webserver.log').read_text()}"
                )
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"webserver not up after {STARTUP_TIMEOUT_S} s: {(root / 'webserver.log').read_text()}"
                )
            time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log_file.close()


def _query(url: str) -> dict:
    """The workspace as GraphQL sees it, once the code location has finished loading."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        response = requests.post(f"{url}/graphql", json={"query": QUERY}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        entries = body["data"]["workspaceOrError"]["locationEntries"]
        states = [e["locationOrLoadError"] for e in entries]
        if states and all(s is not None for s in states):
            errors = [s["message"] for s in states if s["__typename"] == "PythonError"]
            assert not errors, f"code location failed to load: {errors}"
            return body["data"]
        if time.monotonic() > deadline:
            pytest.fail(f"code location still loading after {STARTUP_TIMEOUT_S} s: {entries}")
        time.sleep(1)


def test_webserver_serves_assets_checks_schedules_and_sensors(webserver: str) -> None:
    from agent_pipelines.definitions import defs

    data = _query(webserver)
    assets = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    checks = {
        ("/".join(n["assetKey"]["path"]), c["name"])
        for n in data["assetNodes"]
        if n["assetChecksOrError"]["__typename"] == "AssetChecks"
        for c in n["assetChecksOrError"]["checks"]
    }
    repos = data["repositoriesOrError"]["nodes"]
    schedules = {s["name"] for r in repos for s in r["schedules"]}
    sensors = {s["name"] for r in repos for s in r["sensors"]}

    graph = defs.resolve_asset_graph()
    expected_assets = {
        k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_materializable
    }
    expected_checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    expected_schedules = {s.name for s in defs.schedules or []}
    expected_sensors = {s.name for s in defs.sensors or []}

    assert expected_assets <= set(assets)
    assert expected_checks <= checks
    assert schedules == expected_schedules
    assert expected_sensors <= sensors
    # Ours, by name, so a definitions merge that silently drops them is caught.
    for name, group in (
        ("cleaned_events", "events"),
        ("session_metrics", "sessions"),
        ("executor_comparison", "insights"),
        ("success_metrics", "insights"),
    ):
        assert assets[name]["groupName"] == group
    assert {("cleaned_events", "matches_contract"), ("cleaned_events", "quarantine_share_below_threshold"),
            ("session_metrics", "one_consistent_row_per_attempt")} <= checks  # fmt: skip
    assert "log_days_sensor" in sensors
