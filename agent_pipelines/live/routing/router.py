"""Route alerts to receivers, bundle bursts, and deliver through one durable outbox per receiver.

The path of an alert, each step idempotent so a crash (kill -9) anywhere only repeats safe work:

1. **Silence or route.** A live silence records the alert as silenced and stops it there. Otherwise
   the routing tree names its receivers; for each, the alert is written to that receiver's
   ``waiting/<alert_id>.json`` (atomic) unless the receiver's outbox already carries it.
2. **Bundle.** A receiver's waiting alerts are grouped by the route's ``group_by``; a group is due
   ``group_wait`` after its first alert, or ``group_interval`` after the group's last message. A due
   group becomes *one* outbox message (key: the alert id, or a digest of the ids), then its waiting
   files are removed. ``repeat_interval`` drops an alert whose (type, attempt, task) this receiver was
   sent less than that long ago.
3. **Deliver.** Each receiver's :class:`~agent_pipelines.live.notifiers.outbox.Outbox` is drained in
   its own thread: one hanging or failing receiver delays nobody else, and what fails stays pending.

Layout: ``<data>/state/receivers/<name>/{waiting/, pending/, dead/, delivered.jsonl, groups.json}``;
a ``telegram`` receiver keeps the original ``<data>/state/telegram-outbox`` (its backlog carries over).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_pipelines.core.atomic import atomic_write
from agent_pipelines.live.notifiers.outbox import DeliveryResult, MessageSender, Outbox
from agent_pipelines.live.routing.config import AlertsConfig, Receiver, Route
from agent_pipelines.live.routing.messages import message_key, render
from agent_pipelines.live.routing.silences import SilenceStore, field_value

RECEIVERS_DIR = "receivers"
DEFAULT_GROUP_WAIT = 0.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 0.0  # off: every alert id is a new incident (see README)


@dataclass(frozen=True)
class Timing:
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float


@dataclass
class RouteOutcome:
    """What routing did in one run: per alert, its receivers (or the silence that held it)."""

    routed: dict[str, list[str]] = field(default_factory=dict)
    silenced: dict[str, str] = field(default_factory=dict)
    unrouted: list[str] = field(default_factory=list)


def _matches(route: Route, alert: Mapping[str, Any]) -> bool:
    import re

    for name, wanted in route.match.items():
        value = field_value(alert, name)
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if value not in [str(w) for w in allowed]:
            return False
    for name, pattern in route.match_re.items():
        value = field_value(alert, name)
        if value is None or not re.fullmatch(pattern, value):
            return False
    return True


def _inherit(parent: Timing, route: Route) -> Timing:
    return Timing(
        group_by=tuple(route.group_by) if route.group_by is not None else parent.group_by,
        group_wait=route.group_wait if route.group_wait is not None else parent.group_wait,
        group_interval=route.group_interval if route.group_interval is not None else parent.group_interval,
        repeat_interval=route.repeat_interval
        if route.repeat_interval is not None
        else parent.repeat_interval,
    )


def resolve(config: AlertsConfig, alert: Mapping[str, Any]) -> list[tuple[str, Timing]]:
    """The receivers (with their timing) the routing tree sends ``alert`` to, Alertmanager's way."""
    root = _inherit(
        Timing((), DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL), config.route
    )

    def walk(route: Route, timing: Timing) -> list[tuple[str, Timing]]:
        found: list[tuple[str, Timing]] = []
        for child in route.routes:
            if not _matches(child, alert):
                continue
            child_timing = _inherit(timing, child)
            below = walk(child, child_timing)
            found.extend(below or ([(child.receiver, child_timing)] if child.receiver else []))
            if not child.continue_:
                break
        if not found and route.receiver:
            return [(route.receiver, timing)]
        return found

    seen: set[str] = set()
    out = []
    for name, timing in walk(config.route, root):
        if name not in seen:
            seen.add(name)
            out.append((name, timing))
    return out


def receiver_dir(data_state: Path, receiver: Receiver, telegram_outbox: Path) -> Path:
    if receiver.kind == "telegram":
        return telegram_outbox
    return data_state / RECEIVERS_DIR / receiver.name


class ReceiverQueue:
    """One receiver's waiting alerts, group memory and outbox."""

    def __init__(self, receiver: Receiver, path: Path) -> None:
        self.receiver = receiver
        self.path = path
        self.outbox = Outbox(path)
        self.waiting = path / "waiting"
        self.waiting.mkdir(parents=True, exist_ok=True)
        self.groups_path = path / "groups.json"

    def add(self, alert: Mapping[str, Any], timing: Timing, now: float, known: set[str]) -> bool:
        alert_id = str(alert["alert_id"])
        target = self.waiting / f"{alert_id}.json"
        if alert_id in known or target.exists():
            return False
        group = "|".join(
            f"{k}={field_value(alert, k) if k != 'attempt' else alert.get('attempt_id')}"
            for k in timing.group_by
        )
        record = {
            "alert": dict(alert),
            "group": group,
            "routed_at": now,
            "timing": timing.__dict__ | {"group_by": list(timing.group_by)},
        }
        atomic_write(target, json.dumps(record, ensure_ascii=False, default=str).encode("utf-8"))
        return True

    def _groups(self) -> dict[str, Any]:
        try:
            data = json.loads(self.groups_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (FileNotFoundError, ValueError):
            return {}

    def _waiting(self) -> list[tuple[Path, dict[str, Any]]]:
        out = []
        for path in sorted(self.waiting.glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                record = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(record, dict) and isinstance(record.get("alert"), dict):
                    out.append((path, record))
        return sorted(out, key=lambda item: (float(item[1].get("routed_at") or 0), item[0].name))

    def next_due(self) -> float | None:
        """When the earliest waiting group is due (epoch seconds), or None when nothing waits."""
        groups = self._groups().get("last_flush", {})
        dues = [self._due(records, groups.get(group)) for group, records in self._by_group().items()]
        return min(dues) if dues else None

    def _by_group(self) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
        by_group: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
        for path, record in self._waiting():
            by_group.setdefault(str(record.get("group", "")), []).append((path, record))
        return by_group

    @staticmethod
    def _due(records: list[tuple[Path, dict[str, Any]]], last_flush: float | None) -> float:
        first = min(float(r["routed_at"]) for _, r in records)
        timing = records[0][1]["timing"]
        wait_due = first + float(timing["group_wait"])
        if last_flush is None:
            return wait_due
        return max(wait_due, float(last_flush) + float(timing["group_interval"]))

    def flush(self, now: float) -> tuple[int, int]:
        """Turn every due group into one outbox message; returns (messages, alerts dropped as repeats)."""
        state = self._groups()
        last_flush: dict[str, float] = state.setdefault("last_flush", {})
        last_sent: dict[str, float] = state.setdefault("last_sent", {})
        known = self.outbox.known_alert_ids()
        messages = repeats = 0
        for group, records in self._by_group().items():
            fresh = [(p, r) for p, r in records if str(r["alert"]["alert_id"]) not in known]
            for path in {p for p, _ in records} - {p for p, _ in fresh}:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # a crash after enqueue, before this delete: already queued
            if not fresh or now < self._due(fresh, last_flush.get(group)):
                continue
            repeat = float(fresh[0][1]["timing"]["repeat_interval"])
            alerts = []
            for _, record in fresh:
                alert = record["alert"]
                signature = f"{alert.get('type')}|{alert.get('attempt_id')}|{alert.get('task_id')}"
                if repeat > 0 and now - float(last_sent.get(signature, -1e18)) < repeat:
                    repeats += 1
                    continue
                last_sent[signature] = now
                alerts.append(alert)
            if alerts:
                fmt = self.receiver.webhook.format if self.receiver.webhook else "json"
                texts, mode = render(self.receiver.kind, self.receiver.name, alerts, fmt)
                ids = [str(a["alert_id"]) for a in alerts]
                messages += self.outbox.enqueue_many(message_key(self.receiver.name, ids), texts, mode, ids)
            last_flush[group] = now
            atomic_write(self.groups_path, json.dumps(state).encode("utf-8"))
            for path, _ in fresh:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return messages, repeats

    def delivered_alert_ids(self) -> set[str]:
        ids: set[str] = set()
        with (
            contextlib.suppress(FileNotFoundError),
            open(self.outbox.journal_path, encoding="utf-8") as handle,
        ):
            for line in handle:
                with contextlib.suppress(ValueError, AttributeError):
                    ids.update(json.loads(line).get("alert_ids") or [])
        return ids


class Router:
    """The configured receivers of one data folder."""

    def __init__(
        self, config: AlertsConfig, state_dir: str | os.PathLike[str], telegram_outbox: Path
    ) -> None:
        self.config = config
        self.state_dir = Path(state_dir)
        self.silences = SilenceStore(self.state_dir)
        self.queues = {
            r.name: ReceiverQueue(r, receiver_dir(self.state_dir, r, telegram_outbox))
            for r in config.receivers
        }

    def route(self, alerts: Sequence[Mapping[str, Any]], now: float | None = None) -> RouteOutcome:
        """Step 1 for a run's (fresh) alerts: silence or queue each for its receivers."""
        at = time.time() if now is None else now
        outcome = RouteOutcome()
        known = {name: q.outbox.known_alert_ids() for name, q in self.queues.items()} if alerts else {}
        for alert in alerts:
            alert_id = str(alert["alert_id"])
            silence = self.silences.silencing(alert, at)
            if silence is not None:
                self.silences.record(alert_id, silence)
                outcome.silenced[alert_id] = silence.id
                continue
            targets = resolve(self.config, alert)
            if not targets:
                outcome.unrouted.append(alert_id)
            for name, timing in targets:
                self.queues[name].add(alert, timing, at, known[name])
                outcome.routed.setdefault(alert_id, []).append(name)
        return outcome

    def flush(self, now: float | None = None) -> int:
        at = time.time() if now is None else now
        return sum(q.flush(at)[0] for q in self.queues.values())

    def next_due(self) -> float | None:
        dues = [d for q in self.queues.values() if (d := q.next_due()) is not None]
        return min(dues) if dues else None

    def has_pending(self) -> bool:
        return any(any(q.outbox.pending_dir.glob("*.json")) for q in self.queues.values())

    def deliver(
        self, sender_for: Callable[[Receiver], MessageSender | None], max_workers: int = 8
    ) -> dict[str, DeliveryResult]:
        """Step 3: drain every receiver's outbox in parallel; a receiver without a sender is skipped."""
        work = [(name, q) for name, q in self.queues.items() if q.outbox.pending()]

        def one(item: tuple[str, ReceiverQueue]) -> tuple[str, DeliveryResult]:
            name, queue = item
            sender = sender_for(queue.receiver)
            if sender is None:
                return name, DeliveryResult(sent=0, failed=0, pending=len(queue.outbox.pending()))
            try:
                return name, queue.outbox.deliver(sender)
            finally:
                with contextlib.suppress(Exception):
                    sender.close()  # type: ignore[attr-defined]

        if not work:
            return {}
        with ThreadPoolExecutor(max_workers=min(max_workers, len(work))) as pool:
            return dict(pool.map(one, work))

    def delivered(self) -> dict[str, list[str]]:
        """alert id → receivers whose journal says it was delivered."""
        out: dict[str, list[str]] = {}
        for name, queue in self.queues.items():
            for alert_id in queue.delivered_alert_ids():
                out.setdefault(alert_id, []).append(name)
        return out
