"""The action ledger: what was planned, tried and achieved for each alert, and the at-most-once rules.

One JSON file per alert (``<data>/state/actions/<alert_id>.json``), every change an atomic rewrite
under ``actions.lock``. The states and who moves an entry between them::

    planned ──launch──▶ launching ──runner starts──▶ running ──▶ succeeded
       ▲                    │                          │  └──▶ failed ──(backoff due)──▶ launching …
       └── never again      │ (no runner after 30 s:   │          └─(max_attempts)──▶ gave_up
                            │  it never ran → relaunch) └──(runner gone, no result)──▶ interrupted

Why this is "at most once per alert across restarts and re-runs": an entry is created once per alert
id (a rerun of the detector, or its recovery after kill -9, finds the file and plans nothing); only
``planned``, a due ``failed`` and a ``launching`` whose runner never started are launched, and each
launch is claimed under the lock before the process starts. The runner marks ``running`` *before* it
executes; a ``running`` entry whose runner died (kill -9, reboot) becomes ``interrupted`` and is not
run again — the command may have done its work, and running it twice is what we promised not to do.
A failed attempt (non-zero exit, timeout, HTTP error) is retried after ``retry_backoff × 2^(n-1)``
up to ``max_attempts``: the issue asks for that, and the attempt's outcome was known.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_pipelines.core.atomic import atomic_write
from agent_pipelines.core.locks import exclusive
from agent_pipelines.live.routing.config import Action, AlertsConfig
from agent_pipelines.text.redaction import redact

ACTIONS_DIR = "actions"
LAUNCH_GRACE_S = 30.0
KEEP_FINISHED_S = (
    30 * 86400.0
)  # finished entries older than this are pruned (alerts older than max_age never act)
FINISHED = ("succeeded", "gave_up", "interrupted")
OUTPUT_CHARS = 4000


@dataclass
class ActionRecord:
    """One alert's action: its target, state and every attempt."""

    alert_id: str
    recommendation: str
    kind: str
    target: str
    status: str = "planned"
    attempts: int = 0
    max_attempts: int = 3
    retry_backoff: float = 30.0
    next_at: float = 0.0
    planned_at: float = 0.0
    launched_at: float | None = None
    pid: int | None = None
    alert: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        return self.history[-1] if self.history else {}


def describe(action: Action) -> tuple[str, str]:
    """(kind, what it runs) for the ledger and ``--dry-run``: the argv, or the URL, redacted."""
    if action.command is not None:
        return "command", redact(" ".join(action.command))
    return "http", redact(str(action.url))


class ActionLedger:
    """The ledger under ``<state>/actions``."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(state_dir) / ACTIONS_DIR
        self.dir.mkdir(parents=True, exist_ok=True)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return exclusive(self.dir / "actions.lock")

    def path(self, alert_id: str) -> Path:
        return self.dir / f"{alert_id}.json"

    def get(self, alert_id: str) -> ActionRecord | None:
        try:
            data = json.loads(self.path(alert_id).read_text(encoding="utf-8"))
            return ActionRecord(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def put(self, record: ActionRecord) -> None:
        atomic_write(self.path(record.alert_id), json.dumps(asdict(record), default=str).encode("utf-8"))

    def all(self) -> list[ActionRecord]:
        out = []
        for path in sorted(self.dir.glob("*.json")):
            if not path.name.startswith(".tmp-") and (record := self.get(path.stem)) is not None:
                out.append(record)
        return out

    def plan(
        self, config: AlertsConfig, alerts: Sequence[Mapping[str, Any]], now: float | None = None
    ) -> int:
        """An entry for each alert whose recommendation has an action and which has none yet."""
        at = time.time() if now is None else now
        planned = 0
        with self.lock():
            for alert in alerts:
                action = config.actions.get(str(alert.get("recommendation")))  # type: ignore[call-overload]
                alert_id = str(alert["alert_id"])
                if action is None or self.path(alert_id).exists():
                    continue
                kind, target = describe(action)
                self.put(
                    ActionRecord(
                        alert_id=alert_id,
                        recommendation=str(alert["recommendation"]),
                        kind=kind,
                        target=target,
                        max_attempts=action.max_attempts,
                        retry_backoff=action.retry_backoff,
                        next_at=at,
                        planned_at=at,
                        alert=dict(alert),
                    )
                )
                planned += 1
        return planned

    def _launchable(self, record: ActionRecord, now: float) -> bool:
        if record.status in ("planned", "failed"):
            return record.next_at <= now
        if record.status == "launching":  # claimed, but the runner never said it started
            return now - float(record.launched_at or 0) > LAUNCH_GRACE_S
        return False

    def reap(self, now: float | None = None) -> int:
        """``running`` entries whose runner is gone without a result become ``interrupted``; finished
        entries older than :data:`KEEP_FINISHED_S` are removed."""
        count = 0
        at = time.time() if now is None else now
        with self.lock():
            for record in self.all():
                if record.status in FINISHED and at - record.planned_at > KEEP_FINISHED_S:
                    self.path(record.alert_id).unlink(missing_ok=True)
                    continue
                if record.status == "running" and not _alive(record.pid):
                    record.status = "interrupted"
                    record.history.append(
                        {"attempt": record.attempts, "error": "runner ended without a result"}
                    )
                    self.put(record)
                    count += 1
        return count

    def launch_due(self, config_path: str | os.PathLike[str], now: float | None = None) -> list[str]:
        """Start a detached runner for each due entry; returns their alert ids. Never waits for one."""
        at = time.time() if now is None else now
        self.reap(at)
        launched = []
        with self.lock():
            for record in self.all():
                if not self._launchable(record, at):
                    continue
                if record.status != "launching":
                    record.attempts += 1
                record.status = "launching"
                record.launched_at = at
                self.put(record)
                launched.append(record)
        for record in launched:
            runner = "agent_pipelines.live.actions.runner"
            args = [str(self.dir.parent), record.alert_id, str(record.attempts), str(config_path)]
            process = subprocess.Popen(
                [sys.executable, "-m", runner, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a kill of the detector's group does not reach it
                close_fds=True,
            )
            _detach(process)
        return [r.alert_id for r in launched]

    def next_due(self) -> float | None:
        """When the next planned or retried action is due (for the sensor), or None."""
        dues = [r.next_at for r in self.all() if r.status in ("planned", "failed")]
        return min(dues) if dues else None

    def wait(self, alert_ids: Sequence[str], budget_s: float) -> None:
        """Wait up to ``budget_s`` for these actions to reach an outcome (reporting only, never needed)."""
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            records = [self.get(a) for a in alert_ids]
            if all(r is None or r.status not in ("launching", "running") for r in records):
                return
            time.sleep(0.05)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie (our own exited child) is not alive
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
        return status != "Z"
    return True


_children: list[subprocess.Popen[bytes]] = []


def _detach(process: subprocess.Popen[bytes]) -> None:
    """Keep the handle so the exit status is collected (no zombie) when a later launch polls."""
    _children.append(process)
    _children[:] = [p for p in _children if p.poll() is None]
