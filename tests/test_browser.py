"""A new user's first look, in a real browser: the product freshly started on generated logs.

Starts ``agent-pipelines ui`` (the webserver and the daemon, as ``scripts/start.sh`` does) on a free
port over a log folder generated to end yesterday, waits until what follows on its own has happened
(days registered and cleaned, the analytics recomputed, the detector run, the last complete week's
report), then drives headless Chromium (Debian's ``chromium``; Playwright for Python, never its
own browser download) through the UI and checks what a person would look for:

* an error cluster's placeholder (``<PATH>``, ``<URL>``...) is visible in the clusters' Markdown;
* the ``alerts`` asset shows a table of alerts with a row per alert of the day (not only its columns);
* the weekly report of the last complete week exists, renders, and its page with charts opens from the UI;
* a click leads from an error cluster to a session's replay, and from an alert to its session (issue 25).

With ``UPDATE_SCREENSHOTS=1`` it also retakes the README's screenshots (``docs/*.png``).
Slow (a few minutes on a loaded 2-core machine): marked ``slow``; CI runs it (``.ci/run`` installs
Chromium when it is missing).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from agent_pipelines.core import paths

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("AGENT_PIPELINES_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY_TIMEOUT_S = 900
DOCS = paths.PROJECT_ROOT / "docs"


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium; .ci/run does it)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def last_complete_week(today: date) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(days=7)


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = {"query": query, "variables": variables or {}}
    response = requests.post(f"{url}/graphql", json=payload, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


MATERIALIZED = """
query ($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset { assetMaterializations(limit: 200) { partition } }
  }
}
"""


def materialized_partitions(url: str, asset: str) -> list[str | None]:
    data = graphql(url, MATERIALIZED, {"path": [asset]})["assetOrError"]
    if data["__typename"] != "Asset":
        return []
    return [m["partition"] for m in data["assetMaterializations"]]


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    missing = _missing_browser()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from agent_pipelines.generator import generate

    root = tmp_path_factory.mktemp("product")
    logs, data = root / "logs", root / "data"
    today = datetime.now(UTC).date()
    week = last_complete_week(today)
    # From the Sunday before the last complete week to yesterday: that week whole, and a day of
    # the week before it to compare with.
    start = week - timedelta(days=1)
    generate(logs, days=(today - start).days, tasks=160, seed=1, start=start, workers=1)
    port, files_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", "AGENT_WORK_LOGS_DIR", "AGENT_PIPELINES_FILES_URL")}  # fmt: skip
    env.update(AGENT_PIPELINES_DATA_DIR=str(data))
    log_file = open(root / "ui.log", "wb")  # noqa: SIM115 - closed in finally
    cli = Path(sys.executable).parent / "agent-pipelines"
    process = subprocess.Popen(
        [
            str(cli),
            "ui",
            "--logs-dir",
            str(logs),
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--files-port",
            str(files_port),
        ],
        cwd=paths.PROJECT_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()

    def log_tail() -> str:
        return (root / "ui.log").read_text(errors="replace")[-4000:]

    try:
        deadline = started + READY_TIMEOUT_S
        needed = {"error_clusters": None, "alerts": "any", "weekly_report": week.isoformat(),
                  "session_replays": "any"}  # fmt: skip
        while True:
            if process.poll() is not None:
                pytest.fail(f"agent-pipelines ui exited with {process.returncode}: {log_tail()}")
            try:
                done = {}
                for asset, partition in needed.items():
                    have = materialized_partitions(url, asset)
                    done[asset] = bool(have) if partition in (None, "any") else partition in have
                alerts_file = logs / paths.ALERTS_FILE  # the detector run has written its alerts
                done["alerts_file"] = alerts_file.exists() and alerts_file.stat().st_size > 0
                if all(done.values()):
                    break
            except requests.RequestException:
                done = {}
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after {READY_TIMEOUT_S} s ({done}): {log_tail()}")
            time.sleep(3)
        yield {
            "url": url,
            "files_url": f"http://127.0.0.1:{files_port}",
            "week": week,
            "data": data,
            "ready_s": time.monotonic() - started,
            "log": root / "ui.log",
            "logs": logs,
        }
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log_file.close()


@pytest.fixture(scope="module")
def browser(product: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1440, "height": 1000})
        yield context
        chromium.close()


def _open(context: Any, url: str, wait_for: str) -> Any:
    """Open a page and wait for ``wait_for``, answering Dagster's "join the community" dialog
    (shown once per browser profile) when it comes up."""
    page = context.new_page()
    page.goto(url, timeout=120_000)
    target = page.get_by_text(wait_for).first
    skip = page.get_by_role("button", name="Skip")
    target.or_(skip).first.wait_for(timeout=120_000)
    if skip.count() and skip.first.is_visible():
        skip.first.click()
    target.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)  # let the metadata table settle before a screenshot
    return page


def _screenshot(page: Any, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / name))


def _dismiss_community_dialog(page: Any) -> None:
    """Dagster's "join the community" dialog may open after the page has loaded; its portal then
    covers the page and takes the next click."""
    skip = page.get_by_role("button", name="Skip")
    if skip.count() and skip.first.is_visible():
        skip.first.click()
        page.wait_for_timeout(500)


def _show_markdown(page: Any, label: str) -> str:
    """Open a Markdown metadata entry's dialog (the overview's metadata table) and return its text."""
    row = page.locator("tr", has_text=label).first
    _dismiss_community_dialog(page)
    link = row.get_by_text("[Show Markdown]")
    try:
        link.click(timeout=20_000)
    except Exception:  # a portal (dialog, toast) still over the page: dismiss it, click the link itself
        _dismiss_community_dialog(page)
        page.keyboard.press("Escape")
        link.dispatch_event("click")
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    # The dialog focuses its Close button, scrolled to the end: show its beginning (the scrolling
    # element may be the dialog's overlay, outside it: reset every scrolled element of the page).
    page.evaluate("() => document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    page.wait_for_timeout(300)
    return str(dialog.inner_text())


def test_error_cluster_placeholders_are_visible(product: dict[str, Any], browser: Any) -> None:
    page = _open(browser, f"{product['url']}/assets/error_clusters", "Latest materialization")
    text = _show_markdown(page, "top_clusters")
    placeholders = [p for p in ("<PATH>", "<URL>", "<UUID>", "<NUM>", "<QUOTED>", "<HEX>") if p in text]
    assert placeholders, text[:2000]
    assert "Docker daemon at <PATH>" in text or "GET <URL>" in text, text[:2000]
    _screenshot(page, "ui-error-clusters.png")
    page.close()


def busiest_alert_day(logs: Path) -> tuple[str, list[str]]:
    """The UTC day with the most alerts in ``agent-alerts.jsonl``, and their attempt ids."""
    by_day: dict[str, dict[str, str]] = {}
    for line in (logs / paths.ALERTS_FILE).read_text(encoding="utf-8").splitlines():
        alert = json.loads(line)
        day = by_day.setdefault(str(alert["timestamp"])[:10], {})
        day[str(alert["alert_id"])] = str(alert["attempt_id"])
    assert by_day, "the detector run wrote no alert"
    busiest = max(sorted(by_day), key=lambda d: len(by_day[d]))
    return busiest, list(by_day[busiest].values())


ALERT_MATERIALIZATIONS = """
query ($day: String!) {
  assetOrError(assetKey: {path: ["alerts"]}) {
    ... on Asset { assetMaterializations(partitions: [$day], limit: 20) {
      runId timestamp partition
      metadataEntries { label ... on IntMetadataEntry { intValue } }
    } }
  }
}
"""


def _alert_materializations(url: str, day: str) -> Any:
    """What the instance holds for a day's alerts partition (for a failing assertion's message)."""
    return graphql(url, ALERT_MATERIALIZATIONS, {"day": day})


def test_alerts_asset_shows_a_table_with_rows(product: dict[str, Any], browser: Any) -> None:
    day, attempts = busiest_alert_day(product["logs"])
    # The partition's materialization (Events tab): its metadata renders the alerts table inline.
    # A wide window of its own, so the table keeps most of its columns in view (and in the screenshot).
    wide = browser.browser.new_context(viewport={"width": 1920, "height": 820})
    page = _open(wide, f"{product['url']}/assets/alerts?view=events&partition={day}", "alerts_table")
    _dismiss_community_dialog(page)
    table = page.locator("tr", has_text="alerts_table").first.locator("table").first
    table.wait_for(timeout=60_000)
    header = str(table.locator("tr").first.inner_text())
    for column in ("timestamp", "type", "severity", "attempt_id", "task_id", "recommendation", "summary"):
        assert column in header, header
    # Rows of real alerts, not only the columns. The detector run that wrote them re-materializes
    # their day a moment after writing the file: until then the day's latest table may be the
    # daily run's, made before; reload for up to a minute.
    rows = [str(r) for r in table.locator("tr").all_inner_texts()[1:]]
    deadline = time.monotonic() + 60
    while not rows and time.monotonic() < deadline:
        page.wait_for_timeout(3000)
        page.reload()
        table = page.locator("tr", has_text="alerts_table").first.locator("table").first
        table.wait_for(timeout=60_000)
        rows = [str(r) for r in table.locator("tr").all_inner_texts()[1:]]
    assert 1 <= len(rows) <= len(attempts), (rows, _alert_materializations(product["url"], day))
    assert all(any(a in row for a in attempts) for row in rows), (rows, attempts)
    kinds = ("error_loop", "tool_loop", "stuck_agent", "cost_anomaly", "excessive_restarts",
             "failed_session_high_errors")  # fmt: skip
    assert all(any(kind in row for kind in kinds) for row in rows), rows
    if os.environ.get("UPDATE_SCREENSHOTS"):
        page.get_by_text("Hide navigation").first.click()  # room for the table's columns
        page.wait_for_timeout(1000)
    _screenshot(page, "ui-alerts.png")
    wide.close()


def test_weekly_report_of_the_last_complete_week_exists(product: dict[str, Any], browser: Any) -> None:
    week = product["week"].isoformat()
    assert week in materialized_partitions(product["url"], "weekly_report")
    html = Path(product["data"]) / "reports" / f"weekly-report-{week}.html"
    assert html.exists(), sorted(Path(product["data"]).glob("reports/*"))
    # The week's own materialization (every complete week has a report: the overview shows the latest).
    page = _open(
        browser, f"{product['url']}/assets/weekly_report?view=events&partition={week}", "partial_week"
    )
    text = _show_markdown(page, "report")
    assert f"week of {week}" in text and "partial" not in text.split("\n")[0], text[:1000]
    assert "Success metrics" in text
    _screenshot(page, "ui-weekly-report.png")
    # The page with its charts opens from the UI: the `html` entry is a link to where `ui` serves it.
    _close_dialog(page)
    link = page.locator(f"a[href$='/reports/weekly-report-{week}.html']").filter(visible=True).first
    link.wait_for(timeout=60_000)
    assert link.get_attribute("href") == f"{product['files_url']}/reports/weekly-report-{week}.html"
    report = _follow(page, link)
    report.locator("svg").first.wait_for(timeout=60_000)
    assert report.locator("svg").count() >= 3
    assert f"weekly report, week of {week}" in report.locator("h1").inner_text().lower()
    if os.environ.get("UPDATE_SCREENSHOTS"):
        report.screenshot(path=str(DOCS / "weekly-report.png"), full_page=True)
    report.close()
    if not page.is_closed():
        page.close()
    if os.environ.get("UPDATE_SCREENSHOTS"):  # the README's lineage picture: the report's upstream
        lineage = browser.new_page()
        lineage.goto(f"{product['url']}/assets/weekly_report?view=lineage", timeout=120_000)
        _dismiss_community_dialog(lineage)
        lineage.get_by_text("session_metrics").first.wait_for(timeout=120_000)
        lineage.wait_for_timeout(3000)  # the graph lays itself out
        _screenshot(lineage, "ui-lineage.png")
        lineage.close()


def _close_dialog(page: Any) -> None:
    """Close the Markdown dialog (its Close button, else Escape) and wait until it is gone."""
    dialog = page.get_by_role("dialog")
    close = dialog.get_by_role("button", name="Close")
    if close.count() and close.first.is_visible():
        close.first.click()
    else:
        page.keyboard.press("Escape")
    dialog.first.wait_for(state="hidden", timeout=30_000)
    _dismiss_community_dialog(page)


def _follow(page: Any, link: Any) -> Any:
    """Click ``link`` as a person would; returns the page it opened (a new tab, or this one)."""
    if link.get_attribute("target") == "_blank":
        with page.context.expect_page(timeout=60_000) as opened:
            link.click()
        new = opened.value
        new.wait_for_load_state(timeout=60_000)
        return new
    link.click()
    page.wait_for_load_state(timeout=60_000)
    return page


def _replay_link(page: Any, label: str) -> Any:
    """The first link to a session replay in the Markdown entry ``label``: rendered in place on a
    materialization's page (Events), behind "[Show Markdown]" on an asset's overview."""
    inline = page.locator("tr", has_text=label).first.locator("a[href*='/replays/']").first
    if not inline.count():
        _show_markdown(page, label)
        inline = page.get_by_role("dialog").locator("a[href*='/replays/']").first
    inline.wait_for(timeout=30_000)
    return inline


def test_an_error_cluster_leads_to_a_session_replay(product: dict[str, Any], browser: Any) -> None:
    page = _open(browser, f"{product['url']}/assets/error_clusters", "Latest materialization")
    link = _replay_link(page, "top_clusters")
    href = str(link.get_attribute("href"))
    assert href.startswith(f"{product['files_url']}/replays/"), href
    replay = _follow(page, link)
    replay.locator("#timeline li").first.wait_for(timeout=60_000)
    attempt = href.rsplit("/", 1)[-1].removesuffix(".html")
    assert attempt in replay.locator("h1").inner_text()
    assert replay.locator("#timeline li.error").count() >= 1  # the cluster's error is on its timeline
    assert replay.locator("#timeline li.prompt").count() >= 1
    _screenshot(replay, "ui-session-replay.png")
    replay.close()
    if not page.is_closed():
        page.close()


def test_an_alert_leads_to_its_session(product: dict[str, Any], browser: Any) -> None:
    day, attempts = busiest_alert_day(product["logs"])
    page = _open(browser, f"{product['url']}/assets/alerts?view=events&partition={day}", "alerts_table")
    link = _replay_link(page, "alert_sessions")
    replay = _follow(page, link)
    replay.locator("#timeline li").first.wait_for(timeout=60_000)
    heading = replay.locator("h1").inner_text()
    assert any(a in heading for a in attempts), (heading, attempts)
    # The alert is on the session's timeline (the day's replays re-render after the detector's alerts).
    deadline = time.monotonic() + 180
    while not replay.locator("#timeline li.alert").count() and time.monotonic() < deadline:
        replay.wait_for_timeout(5000)
        replay.reload()
    assert replay.locator("#timeline li.alert").count() >= 1
    replay.close()
    if not page.is_closed():
        page.close()
