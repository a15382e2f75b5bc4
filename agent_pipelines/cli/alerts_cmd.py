"""``agent-pipelines alerts``: silences, what became of recent alerts, and the configured actions.

* ``alerts list`` — live silences, then the latest alerts with silenced / delivered / waiting / action.
* ``alerts silence --type stuck_agent --executor CODEX --for 2h --comment "..."`` — hold matching
  alerts back from every receiver and action until then; ``alerts unsilence ID`` ends one early.
* ``alerts check`` — read ``alerts.yaml`` and say in one line whether it is usable.
* ``alerts actions [--dry-run]`` — run the due actions now, or show what would run for recent alerts.
"""

from __future__ import annotations

import argparse
import getpass
import json
import time
from datetime import UTC, datetime
from typing import Any

from agent_pipelines.cli.common import CommandError, add_data_dir, add_logs_dir, fail, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="silences, alert deliveries and actions",
        description="Silence alerts, see what became of them, check alerts.yaml, run or preview actions.",
    )
    sub = parser.add_subparsers(dest="alerts_command", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser("list", help="live silences and the latest alerts with their delivery")
    listing.add_argument("--limit", type=int, default=20, help="how many of the latest alerts (default 20)")
    listing.add_argument("--json", action="store_true")
    silence = sub.add_parser("silence", help="hold matching alerts back from receivers and actions")
    for name in ("type", "severity", "executor", "project", "task"):
        silence.add_argument(f"--{name}", help=f"match the alert's {name}")
    silence.add_argument("--for", dest="duration", required=True, help="how long: 30m, 2h, 1d")
    silence.add_argument("--comment", default="", help="why (shown by alerts list)")
    unsilence = sub.add_parser("unsilence", help="end a silence now")
    unsilence.add_argument("silence_id")
    sub.add_parser("check", help="validate alerts.yaml in one line")
    actions = sub.add_parser("actions", help="run due actions now (or --dry-run: show what would run)")
    actions.add_argument("--dry-run", action="store_true", help="run nothing; print what would run")
    actions.add_argument("--limit", type=int, default=50, help="latest alerts considered by --dry-run")
    for child in (listing, silence, unsilence, actions, sub.choices["check"]):
        add_logs_dir(child)
        add_data_dir(child)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agent_pipelines.core import paths
    from agent_pipelines.live import state as detector_state
    from agent_pipelines.live.routing.config import AlertsConfigError, load_config
    from agent_pipelines.live.routing.silences import SilenceStore

    data = paths.data_dir(args.data_dir)
    config_path = args.settings.alerts_config_path
    store = SilenceStore(detector_state.state_dir(data))
    try:
        if args.alerts_command == "silence":
            return _silence(args, store)
        if args.alerts_command == "unsilence":
            if not store.expire(args.silence_id):
                raise CommandError(
                    f"no silence with id {args.silence_id!r} (see: agent-pipelines alerts list)"
                )
            print(f"silence {args.silence_id} ended")
            return 0
        config = load_config(config_path)
        if args.alerts_command == "check":
            if config is None:
                print(f"{config_path}: no file; alerts go to Telegram when its variables are set")
            else:
                print(
                    f"{config_path}: ok, {len(config.receivers)} receiver(s), {len(config.actions)} action(s)"
                )
            return 0
        logs = paths.logs_dir(args.logs_dir)
        if args.alerts_command == "actions":
            return _actions(args, data, logs, config, str(config_path))
        return _list(args, data, logs, config, store)
    except (CommandError, AlertsConfigError, ValueError) as exc:
        return fail(str(exc))


def _silence(args: argparse.Namespace, store: Any) -> int:
    from agent_pipelines.live.routing.config import parse_duration

    matchers = {
        n: getattr(args, n) for n in ("type", "severity", "executor", "project", "task") if getattr(args, n)
    }
    try:
        seconds = parse_duration(args.duration)
    except ValueError as exc:
        raise CommandError(f"--for: {exc}") from None
    silence = store.add(matchers, seconds, args.comment, getpass.getuser())
    until = datetime.fromtimestamp(silence.expires_at, UTC).isoformat(timespec="seconds")
    print(f"silence {silence.id}: {_matchers(silence.matchers)} until {until}")
    return 0


def _matchers(matchers: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in matchers.items())


def _latest(logs: Any, limit: int) -> list[dict[str, Any]]:
    from agent_pipelines.live.alerts import read_alerts

    return read_alerts(logs)[-max(0, limit) :] if limit else []


def _list(args: argparse.Namespace, data: Any, logs: Any, config: Any, store: Any) -> int:
    from agent_pipelines.live.alert_status import alert_status

    alerts = _latest(logs, args.limit)
    status = {r["alert_id"]: r for r in alert_status(data, alerts, config).iter_rows(named=True)}
    silences = store.active()
    if args.json:
        print_json(
            {
                "silences": [
                    {"id": s.id, "matchers": s.matchers, "expires_at": s.expires_at, "comment": s.comment}
                    for s in silences
                ],
                "alerts": [{**a, **status.get(str(a.get("alert_id")), {})} for a in alerts],
            }
        )
        return 0
    print(f"{len(silences)} live silence(s)")
    for s in silences:
        left = max(0, int(s.expires_at - time.time()))
        print(f"  {s.id}  {_matchers(s.matchers)}  {left // 3600}h{left % 3600 // 60:02d}m left  {s.comment}")
    print(f"latest {len(alerts)} alert(s)")
    for alert in alerts:
        row = status.get(str(alert.get("alert_id")), {})
        if row.get("silenced_by"):
            fate = f"silenced ({row['silenced_by']})"
        elif row.get("delivered_to"):
            fate = f"delivered to {row['delivered_to']}"
        elif row.get("waiting_for"):
            fate = f"waiting for {row['waiting_for']}"
        else:
            fate = "not sent"
        action = f"; action {row['action']}" if row.get("action") else ""
        print(f"  {alert.get('timestamp')}  {alert.get('type')}  {alert.get('attempt_id')}  {fate}{action}")
    return 0


def _actions(args: argparse.Namespace, data: Any, logs: Any, config: Any, config_path: str) -> int:
    from agent_pipelines.live import state as detector_state
    from agent_pipelines.live.actions.ledger import ActionLedger, describe

    if config is None or not config.actions:
        print("no actions configured (alerts.yaml: actions)")
        return 0
    ledger = ActionLedger(detector_state.state_dir(data))
    if not args.dry_run:
        launched = ledger.launch_due(config_path)
        ledger.wait(launched, 30.0)
        for alert_id in launched:
            record = ledger.get(alert_id)
            print(f"{alert_id}: {record.status if record else 'unknown'}")
        print(f"{len(launched)} action(s) run")
        return 0
    would = 0
    for alert in _latest(logs, args.limit):
        action = config.actions.get(str(alert.get("recommendation")))
        record = ledger.get(str(alert.get("alert_id")))
        if action is None or (record is not None and record.status not in ("planned", "failed")):
            continue
        kind, target = describe(action)
        would += 1
        what = f"{alert.get('type')} {alert.get('alert_id')}"
        print(f"would run {kind} {target} for {what} (timeout {action.timeout:g}s)")
        print(f"  input: {json.dumps(alert, ensure_ascii=False)}")
    print(f"{would} action(s) would run (dry run: nothing ran)")
    return 0
