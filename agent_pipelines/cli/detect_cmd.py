"""``agent-pipelines detect --once``: one detector pass over what is new, for cron users and scripts.

It executes the sensor's own job (:mod:`agent_pipelines.orchestration.detector_job`, the same three ops) in
this
process, against the same committed state in the data folder, so cron and the sensor can take
turns without reading a line twice. ``--now`` sets the clock of the stuck-agent check when
replaying old logs (otherwise every session left open in them would look stuck for days).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from agent_pipelines.cli.common import (
    CommandError,
    add_data_dir,
    add_logs_dir,
    data_path,
    existing_logs_dir,
    fail,
    print_json,
)
from agent_pipelines.core import paths
from agent_pipelines.core.contract import parse_timestamp
from agent_pipelines.core.jsonl import read_json_objects
from agent_pipelines.core.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="run the live detectors once over new log lines",
        description=(
            "Read the lines appended since the last pass (sensor or command), run the error-loop, "
            "tool-loop, stuck-agent, cost, restart and failed-session detectors, append alerts to "
            "agent-alerts.jsonl and send them to Telegram when TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID "
            "are set, or route them by config/alerts.yaml (AGENT_PIPELINES_ALERTS_CONFIG). State is kept in "
            "<data>/state/."
        ),
    )
    parser.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    parser.add_argument(
        "--now", metavar="ISO8601", help="clock for the stuck-agent check (replays); default: now"
    )
    add_logs_dir(parser)
    add_data_dir(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        logs = existing_logs_dir(args)
        if args.now:
            try:
                parse_timestamp(args.now)
            except ValueError:
                raise CommandError(f"--now must be an ISO 8601 date-time, got {args.now!r}") from None
    except CommandError as exc:
        return fail(str(exc))
    data = data_path(args)
    summary = detect_once(str(logs), str(data), args.settings, now=args.now or "")
    if args.json:
        print_json(summary)
    else:
        print(
            f"{summary['alerts_written']} alert(s) written to {logs / paths.ALERTS_FILE}"
            + (f" ({summary['by_type']})" if summary["by_type"] else "")
        )
        if summary.get("receivers") is not None:
            sent = {name: d.get("sent", 0) for name, d in summary["receivers"].items()}
            silenced = summary["alerts_silenced"]
            print(f"alerts.yaml: {silenced} silenced; messages sent per receiver: {sent or 'none due'}")
        elif summary["telegram_configured"]:
            print(
                f"Telegram: {summary['telegram_sent']} message(s) sent, {summary['telegram_pending']} pending"
            )
        else:
            print("Telegram: not configured (set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID)")
        _explain_refusals(summary, logs)
    if not summary["success"]:
        return fail(f"detector run failed: {'; '.join(summary['errors']) or 'see the Dagster run logs'}", 1)
    return 0


def _explain_refusals(summary: dict[str, Any], logs: Any) -> None:
    """A pass that read lines but accepted none says so, and names the import for foreign transcripts."""
    from agent_pipelines.ingest.importers.sniff import foreign_hint

    if summary["lines_quarantined"] and not summary["events_read"]:
        print(f"read {summary['lines_quarantined']} line(s) but accepted none: every one was quarantined")
        hint = foreign_hint(logs)
        if hint:
            print(hint)


def detect_once(logs_dir: str, data_dir: str, settings: Settings, now: str = "") -> dict[str, Any]:
    """Execute the detector job in-process with ``settings``' thresholds, Telegram and folders
    (``logs_dir``/``data_dir`` win); returns the publish step's numbers."""
    from agent_pipelines.orchestration.detector_job import detect_config, live_detector_job
    from agent_pipelines.orchestration.log_store import LogStore
    from agent_pipelines.orchestration.resources import TelegramResource, detector_resources

    before = _alert_count(logs_dir)
    result = live_detector_job.execute_in_process(
        run_config={
            "ops": {"read_new_events": {"config": detect_config(settings, reason="cli", now=now)}},
            # unless a level is asked for, a failed step is reported below in one line; its
            # traceback stays in the run's own logs
            "loggers": {"console": {"config": {"log_level": settings.log_level or "CRITICAL"}}},
        },
        resources=detector_resources(
            LogStore.from_settings(settings, logs_dir, data_dir), TelegramResource.from_settings(settings)
        ),
        raise_on_error=False,
    )
    metadata: dict[str, Any] = {}
    read: dict[str, Any] = {}
    for event in result.events_for_node("read_new_events"):
        if event.is_successful_output and event.step_output_data.metadata:
            read = {k: v.value for k, v in event.step_output_data.metadata.items()}
    for event in result.events_for_node("publish_alerts"):
        if event.is_successful_output and event.step_output_data.metadata:
            metadata = {k: v.value for k, v in event.step_output_data.metadata.items()}
    new_alerts = _read_new_alerts(logs_dir, before)
    by_type: dict[str, int] = {}
    for alert in new_alerts:
        kind = str(alert.get("type"))
        by_type[kind] = by_type.get(kind, 0) + 1
    return {
        "success": result.success,
        "errors": _failures(result),
        "alerts_written": metadata.get("alerts_written", 0),
        "by_type": by_type,
        "telegram_configured": metadata.get("telegram_configured", False),
        "telegram_sent": metadata.get("telegram_sent", 0),
        "telegram_pending": metadata.get("telegram_pending", 0),
        "open_sessions": metadata.get("open_sessions", 0),
        "receivers": metadata.get("receivers"),
        "alerts_silenced": metadata.get("alerts_silenced", 0),
        "events_read": read.get("events_read", 0),
        "lines_quarantined": read.get("lines_quarantined", 0),
    }


def _failures(result: Any) -> list[str]:
    """One line per failed step: the innermost error's own message (``OSError: [Errno 28] ...``)."""
    out = []
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        message = (error.message if error is not None else "").strip().splitlines()
        out.append(f"step {event.step_key}: {message[0] if message else 'failed'}")
    return out


def _alert_count(logs_dir: str) -> int:
    try:
        with open(os.path.join(logs_dir, paths.ALERTS_FILE), "rb") as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        return 0


def _read_new_alerts(logs_dir: str, skip: int) -> list[dict[str, Any]]:
    # A line another tool wrote badly is not ours to count: skipped.
    return read_json_objects(os.path.join(logs_dir, paths.ALERTS_FILE), skip=skip)
