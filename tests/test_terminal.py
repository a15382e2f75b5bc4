"""The quiet terminal of ``agent-pipelines ui``: lines below the chosen level are dropped."""

from __future__ import annotations

import io

from agent_pipelines.cli.terminal import LEVELS, keep, pump

RUN_DEBUG = (
    b"2026-11-30 06:23:36 +0000 - dagster - DEBUG - live_detector_job - d193c00f - 4203 - publish_alerts"
    b' - STEP_SUCCESS - Finished execution of step "publish_alerts" in 480ms.\n'
)
DAEMON_SKIP = (
    b"\x1b[32m2026-11-30 06:23:38 +0000\x1b[0m - dagster.daemon.SensorDaemon - \x1b[34mINFO\x1b[0m - "
    b"Sensor live_alerts_sensor skipped: no new lines\n"
)
AUTOMATION_TICK = (
    b"2026-11-30 06:24:08 +0000 - dagster.daemon.AssetDaemon - INFO - analytics_automation_sensor - "
    b"Tick produced 0 runs and 12 asset evaluations for evaluation ID 4\n"
)
LAUNCH = (
    b"2026-11-30 06:24:09 +0000 - dagster.daemon.SensorDaemon - INFO - Completed launch of run "
    b"d193c00f for live_alerts_sensor\n"
)
WARNING = b"2026-11-30 06:23:38 +0000 - dagster - WARNING - live_detector_job - Telegram is not configured\n"
TRACEBACK = b'  File "x.py", line 1, in <module>\n'


def test_only_lines_at_or_above_the_level_pass() -> None:
    source = io.BytesIO(RUN_DEBUG * 50 + DAEMON_SKIP * 20 + WARNING + TRACEBACK)
    sink = io.BytesIO()
    kept, dropped = pump(source, sink, LEVELS["warning"])
    assert sink.getvalue() == WARNING + TRACEBACK and (kept, dropped) == (2, 70)
    assert not keep(RUN_DEBUG, LEVELS["info"]) and keep(RUN_DEBUG, LEVELS["debug"])


def test_ticks_that_did_nothing_are_debug() -> None:
    """A sensor skip every 5 s is not news at INFO; a launched run is."""
    bookkeeping = (
        b"2026-11-30 10:36:15 +0000 - dagster.daemon.AssetDaemon - INFO - Prefetching asset records for 13 "
        b"records.\n",
        b"2026-11-30 10:36:16 +0000 - dagster.daemon.AssetDaemon - INFO - Submitting 0 runs for evaluation 4 "
        b"for analytics_automation_sensor in agent_pipelines\n",
    )
    for routine in (DAEMON_SKIP, AUTOMATION_TICK, *bookkeeping):
        assert not keep(routine, LEVELS["info"]) and keep(routine, LEVELS["debug"])
    assert keep(LAUNCH, LEVELS["info"]) and not keep(LAUNCH, LEVELS["warning"])
    source = io.BytesIO(DAEMON_SKIP * 208 + LAUNCH + AUTOMATION_TICK * 30)
    sink = io.BytesIO()
    assert pump(source, sink, LEVELS["info"]) == (1, 238) and sink.getvalue() == LAUNCH
