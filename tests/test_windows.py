"""One definition of each window: the CLI and the UI give the same numbers for the same logs and say
which window they are over, the same way ("last 7 days to 2026-03-10 23:58 UTC").

The assets are materialized with ``dg.materialize`` on generated logs that end in the past (so the
wall clock would be the wrong end); the commands run as the installed entry point on that folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from conftest import DEMO_START, cli_env
from test_report import materialize_all

from agent_pipelines.core.windows import Window, data_end, last_complete_week
from agent_pipelines.orchestration.io_manager import tables_dir

CLI = str(Path(sys.executable).parent / "agent-pipelines")
DAYS = 10  # more than a week, so "the last 7 days" is not every day


def test_a_window_states_itself_the_same_way_everywhere() -> None:
    end = datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert Window(end, 7).describe() == "last 7 days to 2026-11-29 23:59 UTC"
    assert Window(end, 1).describe() == "last 1 day to 2026-11-29 23:59 UTC"
    assert Window(end, None).describe() == "all days to 2026-11-29 23:59 UTC"
    assert Window.week(date(2026, 11, 23)) == Window(end, 7)
    assert Window(end, 7).previous().describe() == "last 7 days to 2026-11-22 23:59 UTC"
    with pytest.raises(ValueError):
        Window(end, 0)
    # (end - 7 days, end]: a session that started exactly at the start belongs to the week before.
    started = [end - timedelta(days=7), end - timedelta(days=7) + timedelta(microseconds=1), end]
    frame = pl.DataFrame({"started_at": started}, schema={"started_at": pl.Datetime("us", "UTC")})
    assert Window(end, 7).sessions(frame).height == 2
    assert Window(end, 7).previous().sessions(frame).height == 1


def test_windows_end_at_the_newest_event_never_after_the_wall_clock() -> None:
    wall = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    schema = {"last_event_at": pl.Datetime("us", "UTC")}
    old = pl.DataFrame({"last_event_at": [datetime(2026, 3, 5, 17, 2, tzinfo=UTC)]}, schema=schema)
    assert data_end(old, wall) == datetime(2026, 3, 5, 17, 2, tzinfo=UTC)
    ahead = pl.DataFrame({"last_event_at": [wall + timedelta(days=400)]}, schema=schema)
    assert data_end(ahead, wall) == wall  # a host with its clock ahead does not move every window
    assert data_end(pl.DataFrame(schema=schema), wall) == wall


def test_the_last_complete_week() -> None:
    monday_morning = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert last_complete_week(monday_morning) == date(2026, 11, 23)
    assert last_complete_week(monday_morning, date(2026, 11, 29)) == date(2026, 11, 23)
    assert last_complete_week(monday_morning, monday_morning) == date(2026, 11, 23)  # live logs
    assert last_complete_week(monday_morning, date(2026, 3, 5)) == date(2026, 3, 2)  # old logs


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Logs of 10 days in March 2026, every asset materialized on them, and what the UI shows."""
    from agent_pipelines.generator import generate

    root = tmp_path_factory.mktemp("windows")
    logs, data = root / "logs", root / "data"
    generate(logs, days=DAYS, tasks=150, seed=23, start=DEMO_START, workers=1)
    with dg.instance_for_test() as instance:
        materialize_all(logs, data, instance)

        def metadata(asset: str) -> dict[str, Any]:
            event = instance.get_latest_materialization_event(dg.AssetKey(asset))
            assert event is not None and event.asset_materialization is not None
            return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}

        ui = {name: metadata(name) for name in ("success_metrics", "session_metrics", "executor_comparison")}
    tables = tables_dir(data)
    return {
        "logs": logs,
        "ui": ui,
        "success": pl.read_parquet(tables / "success_metrics" / "asset.parquet"),
        "sessions": pl.read_parquet(tables / "session_metrics" / "asset.parquet"),
    }


def cli(logs: Path, *args: str) -> str:
    done = subprocess.run(
        [CLI, *args, "--logs-dir", str(logs)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_and_ui_give_the_same_success_rate_for_the_same_window(product: dict[str, Any]) -> None:
    logs, ui = product["logs"], product["ui"]
    success = product["success"].filter(pl.col("metric") == "success_rate").row(0, named=True)
    summary = json.loads(cli(logs, "summary", "--json"))  # the defaults: last 7 days, to the newest event
    # The same window, stated the same way, and the same number in it.
    assert summary["window"].startswith("last 7 days to ")
    assert f"; {summary['window']}, compared with the 7 days before" in ui["success_metrics"]["window"]
    assert ui["success_metrics"]["success_rate"] == f"{success['value'] * 100:.1f}%"  # formatted
    assert summary["window"] in ui["success_metrics"]["scorecard"]
    assert summary["success_rate"] == pytest.approx(success["last_7d"])
    # The window is not every day here: the numbers differ from the whole-history ones.
    sessions = product["sessions"]
    assert 0 < summary["total_sessions"] < sessions.height
    assert success["last_7d"] != pytest.approx(success["value"])
    text = cli(logs, "summary")
    assert f"Window: {summary['window']} (sessions by start time" in text
    assert f"Success Rate: {success['last_7d'] * 100:.1f}%" in text


def test_whole_history_outputs_state_the_same_window(product: dict[str, Any]) -> None:
    logs, ui = product["logs"], product["ui"]
    stated = {ui[name]["window"] for name in ("session_metrics", "executor_comparison")}
    (window,) = stated
    assert re.fullmatch(r"all days to \d{4}-\d\d-\d\d \d\d:\d\d UTC", window), window
    assert ui["success_metrics"]["window"].startswith(f"Value: {window}; ")
    for args in (("analyze", "--executor-comparison"), ("analyze", "--error-clustering"),
                 ("analyze", "--backlog-tasks", "3"), ("analyze", "--correlation")):  # fmt: skip
        assert f"Window: {window} (" in cli(logs, *args), args
    closed = product["sessions"].filter(~pl.col("is_open"))
    assert ui["session_metrics"]["success_rate"] == f"{closed['succeeded'].mean() * 100:.1f}%"


def test_now_now_is_the_wall_clock(product: dict[str, Any]) -> None:
    """``--now now`` is the original's rolling window to the wall clock: on logs from March, empty."""
    done = subprocess.run(
        [CLI, "summary", "--json", "--now", "now", "--logs-dir", str(product["logs"])],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    out = json.loads(done.stdout)
    assert out["total_sessions"] == 0 and "--now latest" in done.stderr
    assert out["window"].startswith(f"last 7 days to {datetime.now(UTC):%Y-%m-%d}")
