"""The team deployment run for real: every service deploy/docker-compose.yml declares, on this machine.

README's "Running for a team" commands are run as a person runs them (tests/stack_fixture.py), which
starts PostgreSQL, the code location's gRPC server, the read-only and the operators' webservers, the
daemon and nginx from the compose file's own commands (scripts/local_stack.py). The logs and tables
live in a bucket of the test S3 server; an agent host ships to it with deploy/shipper/. Then, through
nginx only: logins are asked for and checked, viewers cannot launch runs and operators can, a shipped
error loop becomes an alert, a partition materializes, its run is in PostgreSQL, and the internal
services listen on loopback only. One stack for the module (~40 s to start on 2 cores).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from stack_fixture import (
    OPERATOR,
    PG_PASSWORD,
    VIEWER,
    host_env,
    listening_addresses,
    run_readme,
    ship_once,
    stop,
    wait_up,
)

from agent_pipelines import AgentWorkLogger

pytestmark = pytest.mark.slow
ATTEMPT = "ve-stack-host1"
CHROMIUM = os.environ.get("AGENT_PIPELINES_CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    from pg_server import find_bin_dir

    if find_bin_dir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)"
    for tool, package in (
        ("nginx", "nginx-light"),
        ("htpasswd", "apache2-utils"),
        ("openssl", "openssl"),
        ("rclone", "rclone"),
    ):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (apt-get install {package}; .ci/run does it)"
    return None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, s3_server: Any) -> Iterator[dict[str, Any]]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from pg_server import free_port

    root = tmp_path_factory.mktemp("stack")
    bucket = s3_server.new_bucket("team-logs")
    settings = {
        "DAGSTER_PG_PASSWORD": PG_PASSWORD,
        "PUBLIC_HOSTNAME": "localhost",
        "HTTPS_PORT": str(free_port()),
        "AGENT_WORK_LOGS_DIR": f"s3://{bucket}/fleet",
        "AGENT_PIPELINES_DATA_DIR": f"s3://{bucket}/pipelines",
        **s3_server.env(),
    }
    log = root / "stack.log"
    process = run_readme(root / "checkout", settings, log)
    manifest = None
    try:
        manifest = wait_up(root / "checkout", process, log)
        yield {"root": root, "work": root / "checkout", "bucket": bucket, "s3": s3_server, **manifest}
    finally:
        stop(process, manifest)


def get(
    stack: dict[str, Any], path: str, auth: tuple[str, str] | None = None, **kw: Any
) -> requests.Response:
    """A request through nginx, checking its certificate (the one README's openssl line made)."""
    url = f"https://localhost:{stack['ports']['proxy']}{path}"
    cert = stack["work"] / "deploy" / "tls" / "tls.crt"
    method = "post" if "json" in kw else "get"
    return requests.request(method, url, auth=auth, verify=str(cert), timeout=60, **kw)


def graphql(stack: dict[str, Any], prefix: str, auth: tuple[str, str], query: str, **variables: Any) -> dict:
    response = get(stack, f"{prefix}/graphql", auth, json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def wait(what: str, probe: Any, timeout: float = 120) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(1)


@pytest.fixture(scope="module")
def shipped(stack: dict[str, Any]) -> str:
    """An agent host's error loop, written to its own folder and shipped with deploy/shipper/."""
    s3 = stack["s3"]
    env = host_env(stack["root"] / "host-1", "host-1", stack["bucket"], s3.env(), s3.endpoint)
    base = datetime.now(UTC) - timedelta(minutes=1)
    moments = iter([base + timedelta(seconds=i) for i in range(10)])
    log = AgentWorkLogger(Path(env["AGENT_WORK_LOGS_DIR"]), enabled=True, clock=lambda: next(moments))
    log.start_session(ATTEMPT, task_id="task-stack", executor="CODEX")
    for _ in range(4):
        log.error(ATTEMPT, "fatal: could not read Username for 'https://github.com'", "git_auth")
    ship_once(env)
    return base.date().isoformat()


def test_the_ui_asks_for_a_login_and_keeps_viewers_out_of_ops(stack: dict[str, Any]) -> None:
    for path in ("/", "/graphql", "/ops/", "/ops/graphql"):
        assert get(stack, path).status_code == 401, path
    assert get(stack, "/", ("alice", "wrong")).status_code == 401
    assert get(stack, "/", VIEWER).status_code == 200
    assert get(stack, "/ops/", VIEWER).status_code == 401  # a viewer's login is refused there
    assert get(stack, "/ops/", OPERATOR).status_code == 200
    headers = get(stack, "/", VIEWER).headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_proxy_serves_the_data_volumes_files_behind_the_login(stack: dict[str, Any]) -> None:
    """The compose file mounts the code location's data volume into the proxy (replays, reports)."""
    replays = stack["work"] / ".cache" / "stack" / "data" / "replays"
    replays.mkdir(parents=True, exist_ok=True)
    (replays / "stack-check.html").write_text("<p>a replay</p>")
    assert get(stack, "/files/replays/stack-check.html").status_code == 401
    served = get(stack, "/files/replays/stack-check.html", VIEWER)
    assert served.status_code == 200 and "a replay" in served.text


def test_internal_services_listen_on_loopback_only(stack: dict[str, Any]) -> None:
    """The webservers, the gRPC server and PostgreSQL: reachable from this machine's loopback only."""
    for name in ("webserver", "webserver-ops", "code", "postgres", "proxy"):
        assert listening_addresses(stack["ports"][name]) == {"127.0.0.1"}, name


def test_a_shipped_error_loop_becomes_an_alert(stack: dict[str, Any], shipped: str) -> None:
    data = stack["work"] / ".cache" / "stack" / "data"

    def alerts() -> list[str]:
        return [
            line
            for f in data.rglob("agent-alerts.jsonl")
            for line in f.read_text().splitlines()
            if ATTEMPT in line
        ]

    (line,) = wait("the alert of the shipped error loop", alerts)
    assert '"error_loop"' in line


LAUNCH = """
mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on UnauthorizedError { message } ... on InvalidSubsetError { message } } }
"""
PARTITIONS = (
    'query { assetNodeOrError(assetKey: {path: ["cleaned_events"]}) { ... on AssetNode { partitionKeys } } }'
)
RUN = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def test_operators_launch_a_partition_viewers_cannot_and_the_run_is_in_postgres(
    stack: dict[str, Any], shipped: str
) -> None:
    params = {
        "selector": {
            "repositoryLocationName": "agent_pipelines",
            "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": ["cleaned_events"]}],
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": shipped}]},
    }
    refused = graphql(stack, "", VIEWER, LAUNCH, params=params)["launchRun"]
    assert refused["__typename"] == "UnauthorizedError", refused

    def registered() -> bool:  # the day's partition, added by the log_days sensor once shipped
        node = graphql(stack, "/ops", OPERATOR, PARTITIONS)["assetNodeOrError"]
        return shipped in (node.get("partitionKeys") or [])

    wait("the shipped day's partition", registered)

    def launched() -> str | None:
        result = graphql(stack, "/ops", OPERATOR, LAUNCH, params=params)["launchRun"]
        return result["run"]["runId"] if result["__typename"] == "LaunchRunSuccess" else None

    run_id = wait("the operator's launch", launched)

    def finished() -> str | None:
        status = graphql(stack, "/ops", OPERATOR, RUN, id=run_id)["runOrError"]["status"]
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    assert wait("the run", finished, 180) == "SUCCESS"
    import psycopg2

    conn = psycopg2.connect(
        host="127.0.0.1",
        port=stack["ports"]["postgres"],
        user="dagster",
        password=PG_PASSWORD,
        dbname="dagster",
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status, partition FROM runs WHERE run_id = %s", (run_id,))
            assert cur.fetchone() == ("SUCCESS", shipped)
    finally:
        conn.close()


def test_a_browser_logs_in_through_nginx_and_sees_the_shipped_alert(
    stack: dict[str, Any], shipped: str
) -> None:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            f"{CHROMIUM} is missing (apt-get install chromium)"
        )
    test_a_shipped_error_loop_becomes_an_alert(stack, shipped)  # the alert exists: now look for it
    url = f"https://localhost:{stack['ports']['proxy']}/assets/alerts?view=events&partition={shipped}"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            anonymous = browser.new_context(ignore_https_errors=True).new_page()
            try:  # headless Chromium, asked for a login it has none for, gives up on the page
                assert anonymous.goto(url).status == 401
            except PlaywrightError as exc:
                assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc), exc
            context = browser.new_context(
                http_credentials={"username": VIEWER[0], "password": VIEWER[1]},
                ignore_https_errors=True,  # the trial certificate is self-signed
                viewport={"width": 1600, "height": 1000},
            )
            page = context.new_page()
            assert page.goto(url, timeout=120_000).status == 200
            page.get_by_text(ATTEMPT).first.wait_for(timeout=120_000)
            assert "error_loop" in page.inner_text("body")
        finally:
            browser.close()
