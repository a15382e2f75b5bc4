"""Session replay (issue 25): the timeline, its page, its terminal twin and the daily asset.

Logs are written by the real logger (and, for a transcript, by the real Claude Code importer over a
fixture written from its public format), read back by the real reader; the asset runs through
``dg.materialize`` on an instance on disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from conftest import cli_env

from agent_pipelines.analytics import replay
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import dedupe, read_logs
from agent_pipelines.orchestration.partitions import register_partitions
from assets.analytics import analytics_assets, build_resources

CLI = str(Path(sys.executable).parent / "agent-pipelines")
SECRET = "sk-ant-api03-" + "A1b2C3d4E5f6G7h8I9j0" * 3
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def write_session(logs: Path) -> None:
    """One failed session: a prompt, a tool call and its failed result, an error carrying a secret,
    a 20-minute pause, a follow-up, a status change and the end with tokens and cost."""
    now = [START]
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: now[0])

    def at(minutes: float) -> None:
        now[0] = START + timedelta(minutes=minutes)

    log.start_session("att-replay-1", prompt="Fix the <PATH> parser & add tests", task_id="T-9",
                      task_title="Parser <fix>", executor="CODEX", model="gpt-5")  # fmt: skip
    at(1)
    log.tool_call("att-replay-1", "Bash", {"command": "npm test"})
    at(2)
    log.tool_result("att-replay-1", "Bash", success=False, extra={"output": "3 tests failed"})
    at(3)
    log.error("att-replay-1", f"401 Unauthorized with key {SECRET}", error_category="auth")
    at(23)
    log.followup("att-replay-1", "Please use the test key", reason="auth error")
    at(24)
    log.status_change("att-replay-1", "failed", old_status="in_progress", reason="gave up")
    at(25)
    log.stop_session("att-replay-1", "failed", duration_ms=25 * 60_000, total_tokens=12_345, cost_usd=0.4321)
    log.start_session("att-other", prompt="another task", task_id="T-1", executor="CLAUDE_CODE")
    log.stop_session("att-other", "success", duration_ms=1000, total_tokens=10, cost_usd=0.01)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("replay-logs")
    write_session(root)
    return root


def test_timeline_orders_marks_idle_accrues_cost_and_redacts(logs: Path) -> None:
    events = dedupe(read_logs(logs).events)
    alerts = pl.DataFrame(
        {
            "timestamp": [START + timedelta(minutes=3, seconds=30)],
            "attempt_id": ["att-replay-1"],
            "type": ["error_loop"],
            "severity": ["high"],
            "summary": [f"4 errors: {SECRET}"],
            "recommendation": ["look"],
            "sample": [None],
        }
    )
    t = replay.build_timeline("att-replay-1", events, alerts)
    kinds = [s.kind for s in t.steps]
    # One pause of 20 minutes after the error, though an alert fired during it.
    assert kinds == [
        "prompt",
        "tool_call",
        "tool_result",
        "error",
        "idle",
        "alert",
        "followup",
        "status",
        "end",
    ]
    idle = t.steps[kinds.index("idle")]
    assert idle.title == "idle 20 min 00 s" and idle.at == START + timedelta(minutes=3)
    assert t.steps[2].failed and t.steps[3].failed and "npm test" in t.steps[1].detail
    assert "3 tests failed" in t.steps[2].detail
    assert (t.tokens, t.cost_usd, t.status, t.task_id) == (12_345, 0.4321, "failed", "T-9")
    assert t.steps[-2].tokens == 0  # cost appears when it accrued, not before
    text = replay.render_text(t)
    page = replay.render_html(t, "2026-03-02")
    for out in (text, page, json.dumps([s.detail for s in t.steps])):
        assert SECRET not in out and "sk-ant-api03-A1b2" not in out
    assert "Fix the &lt;PATH&gt; parser &amp; add tests" in page  # autoescaped, placeholders visible
    assert "idle 20 min 00 s" in page and "$0.4321" in page and "12,345" in page


def test_session_command_prints_the_timeline_and_fails_in_one_line(logs: Path, tmp_path: Path) -> None:
    page = tmp_path / "replay.html"
    done = subprocess.run([CLI, "session", "att-replay", "--logs-dir", str(logs), "--html", str(page)],
                          capture_output=True, text=True, env=cli_env(), timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Session att-replay-1 — Parser <fix>" in done.stdout
    assert "tool_call" in done.stdout and "idle 20 min 00 s" in done.stdout and SECRET not in done.stdout
    assert "<h1>Session att-replay-1</h1>" in page.read_text()
    missing = subprocess.run([CLI, "session", "nope", "--logs-dir", str(logs)],
                             capture_output=True, text=True, env=cli_env(), timeout=120)  # fmt: skip
    assert missing.returncode == 2 and "no attempt 'nope'" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1  # one line, no traceback
    ambiguous = subprocess.run([CLI, "session", "att-", "--logs-dir", str(logs)],
                               capture_output=True, text=True, env=cli_env(), timeout=120)  # fmt: skip
    assert ambiguous.returncode == 2 and "2 attempts start with" in ambiguous.stderr


def test_replays_asset_writes_a_page_per_session_and_links_them(logs: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assets, checks = analytics_assets()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        register_partitions(instance, [date(2026, 3, 2)])
        result = dg.materialize(
            [*assets, *checks],
            selection=["cleaned_events", "alerts", "session_replays"],
            partition_key="2026-03-02",
            instance=instance,
            resources=build_resources(str(logs), str(data)),
        )
        assert result.success
        [event] = [
            e.materialization
            for e in result.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey("session_replays")
        ]
    meta = event.metadata
    assert (meta["sessions"].value, meta["failed_sessions"].value) == (2, 1)
    assert meta["replays"].value.endswith("/replays/2026-03-02.html")
    assert "(<http://127.0.0.1:3001/replays/att-replay-1.html>)" in meta["failed_sessions_preview"].value
    folder = data / "replays"
    assert sorted(p.name for p in folder.iterdir()) == [
        "2026-03-02.html",
        "att-other.html",
        "att-replay-1.html",
    ]
    assert 'href="att-replay-1.html"' in (folder / "2026-03-02.html").read_text()
    assert SECRET not in (folder / "att-replay-1.html").read_text()


def test_replay_file_names_are_safe_and_distinct() -> None:
    assert replay.replay_file_name("att-1") == "att-1.html"
    odd = replay.replay_file_name("a/../b c")
    assert "/" not in odd and " " not in odd and odd != replay.replay_file_name("a_.._b_c")


def test_files_server_serves_replays_and_reports_only(tmp_path: Path) -> None:
    import socket

    import requests

    from agent_pipelines.cli.files_server import serve_files

    (tmp_path / "replays").mkdir()
    (tmp_path / "reports").mkdir()
    (tmp_path / "replays" / "a.html").write_text("<h1>replay</h1>")
    (tmp_path / "reports" / "weekly-report-2026-03-02.html").write_text("<svg></svg>")
    (tmp_path / "dagster.yaml").write_text("secret: 1")
    (tmp_path / "replays" / "escape.html").symlink_to(tmp_path / "dagster.yaml")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = serve_files(tmp_path, "127.0.0.1", port)
    base = f"http://127.0.0.1:{port}"
    try:
        page = requests.get(f"{base}/replays/a.html", timeout=10)
        assert page.status_code == 200 and page.text == "<h1>replay</h1>"
        assert page.headers["Content-Type"].startswith("text/html")
        assert requests.get(f"{base}/reports/weekly-report-2026-03-02.html", timeout=10).status_code == 200
        for path in ("/dagster.yaml", "/replays/", "/replays/../dagster.yaml", "/replays/%2e%2e/dagster.yaml",
                     "/replays/escape.html", "/", "/tables/x.parquet"):  # fmt: skip
            assert requests.get(base + path, timeout=10).status_code == 404, path
        assert requests.post(f"{base}/replays/a.html", data="x", timeout=10).status_code == 501
    finally:
        server.shutdown()
        server.server_close()


def test_replays_follow_alerts_that_come_after_the_day(logs: Path, tmp_path: Path) -> None:
    """A day's run writes alerts and replays together (nothing more to do); an alert the detector
    adds later re-renders that day's replays, so the alert's session shows it."""
    from agent_pipelines.core.settings import defaults
    from assets.analytics import build

    data = tmp_path / "data"
    assets, checks = analytics_assets()
    domain = [a for a in build(defaults()).assets or [] if isinstance(a, dg.AssetsDefinition)]
    graph = dg.Definitions(assets=domain, resources=build_resources(str(logs), str(data)))
    key = dg.AssetKey("session_replays")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        register_partitions(instance, [date(2026, 3, 2)])
        first = dg.evaluate_automation_conditions(defs=graph, instance=instance)
        result = dg.materialize([*assets, *checks], selection=["cleaned_events", "alerts", "session_replays"],
                                partition_key="2026-03-02", instance=instance,
                                resources=build_resources(str(logs), str(data)))  # fmt: skip
        assert result.success
        after_day = dg.evaluate_automation_conditions(defs=graph, instance=instance, cursor=first.cursor)
        assert after_day.get_num_requested(key) == 0
        instance.report_runless_asset_event(dg.AssetMaterialization("alerts", partition="2026-03-02"))
        after_alert = dg.evaluate_automation_conditions(
            defs=graph, instance=instance, cursor=after_day.cursor
        )
        assert after_alert.get_num_requested(key) == 1


def test_an_imported_claude_code_session_replays_like_ours(tmp_path: Path) -> None:
    """A transcript imported from Claude Code's public format (tests/transcript_fixtures.py) reads
    back as a timeline: its prompt, tool calls with their inputs, their results, cost as it accrued."""
    import transcript_fixtures as fx

    from agent_pipelines.ingest.importers import SOURCES, run_import

    root, logs = fx.write_claude_projects(tmp_path / "claude"), tmp_path / "logs"
    run_import(SOURCES["claude-code"], [root], logs_dir=logs, data_dir=tmp_path / "data",
               now=datetime(2026, 3, 4, tzinfo=UTC))  # fmt: skip
    events = dedupe(read_logs(logs).events)
    t = replay.build_timeline(fx.CC_A, events)
    assert t.steps[0].kind == "prompt" and "Add a cart total to the checkout page" in t.steps[0].detail
    calls = [s.title for s in t.steps if s.kind == "tool_call"]
    assert calls == ["tool call: Bash", "tool call: Read", "tool call: Task", "tool call: Grep"]
    assert any(s.kind == "tool_result" for s in t.steps)
    assert t.executor == "CLAUDE_CODE" and t.tokens > 0 and t.cost_usd > 0
    assert t.steps[-1].cost_usd == t.cost_usd
