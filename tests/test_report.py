"""The weekly report: its renderings, the asset (with Telegram through the fake Bot API) and the schedule."""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from conftest import DEMO_START
from fake_telegram import DEFAULT_TOKEN, FakeTelegram
from test_insights import DEP, Fleet

from agent_pipelines.analytics import errors, metrics, report
from agent_pipelines.core import paths
from agent_pipelines.core.partitions import LOG_WEEKS, log_days, week_key
from agent_pipelines.core.reader import dedupe, read_logs
from agent_pipelines.core.settings import Settings
from agent_pipelines.definitions import defs
from agent_pipelines.orchestration.partitions import register_partitions
from assets.analytics import analytics_assets, build_resources
from assets.reports import WEEKLY_REPORT_CRON, weekly_report_schedule

WEEK = DEMO_START.isoformat()
SVG_NS = "http://www.w3.org/2000/svg"


def build(logs: Path, week: date) -> report.WeeklyReport:
    events = dedupe(read_logs(logs).events)
    sessions = metrics.session_metrics(events)
    occ = errors.error_occurrences(events)
    return report.build_weekly_report(
        sessions,
        occ,
        events,
        week,
        error_loops=metrics.detect_error_loops(events),
        generated_at=datetime.now(UTC),
    )


@pytest.fixture(scope="module")
def weekly(small_logs: Path) -> report.WeeklyReport:
    return build(small_logs, DEMO_START)


def test_html_is_standalone_with_three_charts(weekly: report.WeeklyReport, tmp_path: Path) -> None:
    path = report.write_report(weekly, tmp_path)
    assert path == tmp_path / "reports" / f"weekly-report-{WEEK}.html"
    page = path.read_text(encoding="utf-8")
    assert path.with_suffix(".md").read_text(encoding="utf-8").startswith("# Agent work")
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    assert len(svgs) == 3
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed XML, or a browser shows nothing
        assert root.tag == f"{{{SVG_NS}}}svg"
        assert root.findall(f".//{{{SVG_NS}}}rect") or root.findall(f".//{{{SVG_NS}}}polyline")
    # Nothing to fetch: no scripts, stylesheets, images or URLs other than the SVG namespace.
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|@import|url\(", page, flags=re.I)
    # URLs may appear as text (an error sample quoting a registry URL), never as something to follow.
    assert not re.search(r"\b(?:href|xlink:href|action)\s*=\s*[\"']?https?://", page, flags=re.I)
    for heading in (
        "Success metrics vs targets",
        "Executor comparison",
        "error clusters",
        "Backlog",
        "planning",
    ):
        assert heading in page


def test_report_numbers_come_from_the_shared_functions(weekly: report.WeeklyReport, small_logs: Path) -> None:
    events = dedupe(read_logs(small_logs).events)
    sessions = metrics.session_metrics(events)
    in_week = sessions.filter(pl.col("day") < DEMO_START + timedelta(days=7))
    assert weekly.totals["sessions"] == in_week.height > 100
    assert weekly.executors["sessions"].sum() == in_week.height
    rate = weekly.success.filter(pl.col("metric") == "success_rate")["last_7d"][0]
    closed = in_week.filter(~pl.col("is_open"))
    assert rate == pytest.approx(closed["succeeded"].mean())
    assert weekly.cost_per_day["cost_usd"].sum() == pytest.approx(in_week["cost_usd"].sum())
    assert weekly.cost_per_day.height == 7
    assert weekly.clusters.height == report.TOP_CLUSTERS
    assert weekly.trend["count"].sum() == weekly.clusters["occurrences"].sum()
    md = report.render_markdown(weekly)
    for label in weekly.success["label"]:
        assert label in md
    assert_marks_follow_targets(md, weekly.success)


def assert_marks_follow_targets(markdown: str, success: pl.DataFrame) -> None:
    """Each metric's row says "met" when its target is met, "missed" when missed, "no data" when
    unknown: words under a "Target met" header, never an emoji alone."""
    rows = {line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| ")}
    for label, met in zip(success["label"], success["met"], strict=True):
        assert f"| {metrics.met_mark(met)} |" in rows[label], (label, met, rows[label])
    assert metrics.met_mark(True) == "met" and metrics.met_mark(False) == "missed"
    header = next(line for line in markdown.splitlines() if line.startswith("| Metric"))
    assert "Target met" in header
    assert not any(ord(ch) > 0x2FFF for line in rows.values() for ch in line.split("|")[4])


def test_report_executor_table_matches_the_generators_ground_truth(
    weekly: report.WeeklyReport, small_logs: Path
) -> None:
    """An oracle independent of our metrics: what the generator says it wrote, per executor."""
    truth = json.loads((small_logs / paths.GROUND_TRUTH_FILE).read_text())
    expected: dict[str, list[float]] = {}
    for attempt in truth["attempts"]:
        row = expected.setdefault(attempt["executor"], [0, 0, 0.0])
        row[0] += 1
        row[1] += attempt["completion_status"] == "success"
        row[2] += attempt["cost_usd"] or 0.0
    got = {r["executor"]: r for r in weekly.executors.iter_rows(named=True)}
    assert set(got) == set(expected)
    for executor, (sessions, succeeded, cost) in expected.items():
        assert got[executor]["sessions"] == sessions, executor
        assert got[executor]["succeeded"] == succeeded, executor
        assert got[executor]["total_cost_usd"] == pytest.approx(cost, abs=1e-6), executor


def test_secrets_never_reach_a_report(tmp_path: Path) -> None:
    token = "ghp_" + "Zx9Yw8Vu7T" * 4
    fleet = Fleet(tmp_path / "logs")
    leak = (f"fatal: could not push with token {token} to origin", None, "auth")
    for i in range(4):
        fleet.attempt(f"t{i}", status="failed", errors=(leak, DEP), title=f"Rotate key {token}")
    weekly = build(tmp_path / "logs", DEMO_START)
    assert weekly.clusters.height and weekly.backlog.height and weekly.planning.height
    path = report.write_report(weekly, tmp_path / "data")
    # Sample messages and task titles; in Markdown the marker is escaped (it renders as [REDACTED]).
    for text, marker in ((path.read_text(), "[REDACTED]"), (report.render_markdown(weekly), r"\[REDACTED\]")):
        assert token not in text and marker in text
    assert token not in report.render_summary(weekly, path)


def test_empty_week_renders(small_logs: Path) -> None:
    weekly = build(small_logs, DEMO_START + timedelta(days=14))
    assert weekly.totals["sessions"] == 0
    page = report.render_html(weekly)
    assert page.count("<svg") == 3 and "no data" in page
    assert "_none_" in report.render_markdown(weekly)


# --------------------------------------------------------------------------------------------
# The asset, through dg.materialize, with Telegram through the fake Bot API server
# --------------------------------------------------------------------------------------------


def materialize_all(logs: Path, data: Path, instance: dg.DagsterInstance) -> None:
    days = log_days(logs)
    register_partitions(instance, days)
    assets, checks = analytics_assets()
    resources = build_resources(str(logs), str(data))
    by_group: dict[str, list[dg.AssetKey]] = {"daily": [], "none": [], "weekly": []}
    for a in assets:
        name = getattr(a.partitions_def, "name", None)
        by_group["none" if name is None else "weekly" if name == LOG_WEEKS else "daily"].extend(a.keys)
    for day in days:
        dg.materialize([*assets, *checks], selection=by_group["daily"], partition_key=day.isoformat(),
                       instance=instance, resources=resources)  # fmt: skip
    dg.materialize([*assets, *checks], selection=by_group["none"], instance=instance, resources=resources)


def materialize_week(logs: Path, data: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    assets, checks = analytics_assets()
    return dg.materialize(
        [*assets, *checks],
        selection=["weekly_report"],
        partition_key=WEEK,
        instance=instance,
        # bound as the code location binds them: from the settings of the (test's) environment
        resources=build_resources(str(logs), str(data), Settings.load()),
    )


def _report_metadata(result: dg.ExecuteInProcessResult) -> dict:
    (mat,) = result.asset_materializations_for_node("weekly_report")
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


@pytest.fixture(scope="module")
def upstream(small_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """Every daily and unpartitioned asset materialized once; the tests run the weekly report on top."""
    data = tmp_path_factory.mktemp("report-data")
    with dg.instance_for_test() as instance:
        materialize_all(small_logs, data, instance)
        yield instance, data


def test_weekly_report_asset_posts_once_to_telegram(
    small_logs: Path, upstream: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, data = upstream
    with FakeTelegram(chat_ids={"42"}) as tg:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", DEFAULT_TOKEN)
        monkeypatch.setenv("TELEGRAM_CHAT_ID", "42")
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", tg.api_base)
        first = materialize_week(small_logs, data, instance)
        assert first.success
        meta = _report_metadata(first)
        assert meta["telegram_sent"] == 1 and meta["sessions_value"] > 100
        assert meta["report"].startswith("# Agent work — weekly report")
        html = Path(meta["html_file"])
        assert html == data / "reports" / f"weekly-report-{WEEK}.html" and html.exists()
        # Issue 25: the page opens from the UI (a URL where `agent-pipelines ui` serves it).
        assert meta["html"] == f"http://127.0.0.1:3001/reports/weekly-report-{WEEK}.html"
        (text,) = tg.texts()
        assert f"Weekly report {WEEK}" in text and "Success Rate" in text
        # A retried or re-materialized week is not posted again (the outbox key is the week).
        again = materialize_week(small_logs, data, instance)
        assert again.success and _report_metadata(again)["telegram_sent"] == 0
        assert len(tg.texts()) == 1


def test_weekly_report_without_telegram_warns_once_and_succeeds(small_logs: Path, upstream: tuple) -> None:
    instance, data = upstream
    result = materialize_week(small_logs, data, instance)
    assert result.success
    assert _report_metadata(result)["telegram"] == "not configured"
    assert (data / "reports" / f"weekly-report-{WEEK}.html").exists()
    warnings = [
        e.user_message
        for e in instance.all_logs(result.run_id)
        if e.level == logging.WARNING and "Telegram" in e.user_message
    ]
    assert len(warnings) == 1 and "TELEGRAM_BOT_TOKEN" in warnings[0], warnings


# --------------------------------------------------------------------------------------------
# Schedule
# --------------------------------------------------------------------------------------------


def test_schedule_runs_monday_morning_for_the_previous_week() -> None:
    assert weekly_report_schedule.cron_schedule == WEEKLY_REPORT_CRON == "0 8 * * 1"
    assert weekly_report_schedule.execution_timezone == "UTC"
    assert weekly_report_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(LOG_WEEKS, [WEEK])
        monday = datetime.combine(DEMO_START + timedelta(days=7), datetime.min.time(), UTC).replace(hour=8)
        repo = defs.get_repository_def()
        ctx = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=monday, repository_def=repo
        )
        (request,) = weekly_report_schedule.evaluate_tick(ctx).run_requests or []
        assert request.partition_key == WEEK == week_key(DEMO_START)
        later = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=monday + timedelta(days=7)
        )
        skipped = weekly_report_schedule.evaluate_tick(later)
        assert not skipped.run_requests and "no logs" in (skipped.skip_message or "")


def test_a_week_not_yet_over_is_labelled_partial_and_not_compared(small_logs: Path) -> None:
    events = dedupe(read_logs(small_logs).events)
    sessions = metrics.session_metrics(events)
    monday = DEMO_START
    midweek = datetime.combine(monday + timedelta(days=2), datetime.min.time(), UTC).replace(hour=9)
    partial = report.build_weekly_report(
        sessions, errors.error_occurrences(events), events, monday, now=midweek
    )
    assert partial.partial and "partial: to" in partial.label
    assert partial.success["wow_change"].null_count() == partial.success.height
    md = report.render_markdown(partial)
    assert md.splitlines()[0].endswith("UTC)") and "Partial week so far" in md
    assert "not compared" in md and "+" not in "".join(r[5] for r in report.rows.success_rows(partial))
    full = report.build_weekly_report(
        sessions, errors.error_occurrences(events), events, monday, now=midweek + timedelta(days=30)
    )
    text = report.render_markdown(full)
    assert not full.partial and "compared with the 7 days before" in text
    assert f"Week of {monday}: last 7 days to {monday + timedelta(days=6)} 23:59 UTC" in text


def test_first_start_builds_every_complete_weeks_report_once(small_logs: Path) -> None:
    """The sensor asks for the report of every complete week that has none as soon as its inputs are
    current, then never again (the schedule keeps its Monday rebuild); after an import of an older
    week, that week's too (issue 25: 1 of 2 weeks was built, 1 of 5 after an import)."""
    from assets.reports import complete_week_requests

    def done(asset: str, partition: str | None = None) -> None:
        fresh.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=partition))

    def weeks(found: object) -> list[str | None]:
        assert isinstance(found, list), found
        return [r.partition_key for r in found]

    monday_after = datetime.combine(DEMO_START + timedelta(days=7), datetime.min.time(), UTC)
    with dg.instance_for_test() as fresh:
        waiting = complete_week_requests(fresh, monday_after)
        assert isinstance(waiting, dg.SkipReason) and "no logs" in (waiting.skip_message or "")
        register_partitions(fresh, log_days(small_logs))
        waiting = complete_week_requests(fresh, monday_after)
        assert isinstance(waiting, dg.SkipReason) and "cleaned" in (waiting.skip_message or "")
        done("cleaned_events", DEMO_START.isoformat())
        done("session_metrics")
        done("error_occurrences")
        assert weeks(complete_week_requests(fresh, monday_after)) == [WEEK]
        # Logs that ended long ago: their last week is the last complete one, not an empty week.
        assert weeks(complete_week_requests(fresh, monday_after + timedelta(days=60))) == [WEEK]
        done("cleaned_events", DEMO_START.isoformat())  # a day grew: wait for the analytics again
        waiting = complete_week_requests(fresh, monday_after)
        assert isinstance(waiting, dg.SkipReason) and "catch up" in (waiting.skip_message or "")
        done("session_metrics")
        done("error_occurrences")
        done("weekly_report", WEEK)
        exists = complete_week_requests(fresh, monday_after)
        assert isinstance(exists, dg.SkipReason) and "exists" in (exists.skip_message or "")
        # An import brings two older weeks: both get their report (oldest first: the newest is then
        # the asset's latest materialization, the one its overview shows).
        register_partitions(fresh, [DEMO_START - timedelta(days=14), DEMO_START - timedelta(days=7)])
        older = [week_key(DEMO_START - timedelta(days=n)) for n in (14, 7)]
        assert weeks(complete_week_requests(fresh, monday_after)) == older
