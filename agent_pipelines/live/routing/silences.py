"""Silences: "do not tell anyone about alerts like these until then", set from the command line.

A silence is a set of matchers (the routing's names: ``type``, ``severity``, ``executor``,
``project``, ``task``) and an expiry. An alert matching a live silence is still written to the alerts
file, but reaches no receiver and runs no action; the alert id and the silence are recorded in
``silenced.jsonl`` so ``agent-pipelines alerts list`` and the alerts view show it as silenced.

Stored in ``<data>/state/silences.json`` (atomic rewrite under a lock): the detector and the command
line change it from different processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_pipelines.core.atomic import atomic_write
from agent_pipelines.core.locks import exclusive
from agent_pipelines.core.writer import append_records
from agent_pipelines.live.routing.config import MATCH_FIELDS

SILENCES_FILE = "silences.json"
SILENCED_LOG = "silenced.jsonl"


@dataclass(frozen=True)
class Silence:
    """Matchers (all must hold) and the moment (epoch seconds) the silence ends."""

    id: str
    matchers: dict[str, str]
    expires_at: float
    created_at: float
    comment: str = ""
    created_by: str = field(default="")

    def active(self, now: float) -> bool:
        return now < self.expires_at

    def matches(self, alert: Mapping[str, Any]) -> bool:
        return all(field_value(alert, name) == value for name, value in self.matchers.items())


def field_value(alert: Mapping[str, Any], name: str) -> str | None:
    """The alert's value for a matcher name (``project`` reads ``project_id``), as text."""
    for key in MATCH_FIELDS.get(name, (name,)):
        value = alert.get(key)
        if value is not None:
            return str(value)
    return None


class SilenceStore:
    """Silences under one state folder."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / SILENCES_FILE
        self.log_path = self.dir / SILENCED_LOG

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return exclusive(self.dir / "silences.lock")

    def all(self) -> list[Silence]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return []
        out = []
        for item in raw if isinstance(raw, list) else []:
            with contextlib.suppress(TypeError, KeyError, ValueError):
                out.append(
                    Silence(
                        id=str(item["id"]),
                        matchers={str(k): str(v) for k, v in dict(item["matchers"]).items()},
                        expires_at=float(item["expires_at"]),
                        created_at=float(item.get("created_at") or 0),
                        comment=str(item.get("comment") or ""),
                        created_by=str(item.get("created_by") or ""),
                    )
                )
        return out

    def active(self, now: float | None = None) -> list[Silence]:
        at = time.time() if now is None else now
        return [s for s in self.all() if s.active(at)]

    def _write(self, silences: list[Silence]) -> None:
        data = json.dumps([asdict(s) for s in silences], indent=1, ensure_ascii=False)
        atomic_write(self.path, data.encode("utf-8"))

    def add(self, matchers: Mapping[str, str], duration_s: float, comment: str = "", by: str = "") -> Silence:
        """A new silence from now for ``duration_s``; expired ones older than a week are dropped."""
        if not matchers:
            raise ValueError("a silence needs at least one matcher (a silence of everything is an outage)")
        unknown = sorted(set(matchers) - set(MATCH_FIELDS))
        if unknown:
            raise ValueError(f"cannot silence on {', '.join(unknown)} (known: {', '.join(MATCH_FIELDS)})")
        now = time.time()
        silence = Silence(
            id=secrets.token_hex(4),
            matchers=dict(matchers),
            expires_at=now + duration_s,
            created_at=now,
            comment=comment,
            created_by=by,
        )
        with self._lock():
            kept = [s for s in self.all() if s.expires_at > now - 7 * 86400]
            self._write([*kept, silence])
        return silence

    def expire(self, silence_id: str) -> bool:
        """End a silence now; False when no silence has that id."""
        now = time.time()
        with self._lock():
            silences = self.all()
            found = any(s.id == silence_id for s in silences)
            if found:
                self._write(
                    [
                        Silence(**{**asdict(s), "expires_at": min(s.expires_at, now)})
                        if s.id == silence_id
                        else s
                        for s in silences
                    ]
                )
        return found

    def silencing(self, alert: Mapping[str, Any], now: float | None = None) -> Silence | None:
        """The first live silence matching the alert, if any."""
        return next((s for s in self.active(now) if s.matches(alert)), None)

    def record(self, alert_id: str, silence: Silence) -> None:
        """Remember that the alert was silenced (shown by ``alerts list`` and the alerts view)."""
        append_records(
            self.log_path,
            [{"alert_id": alert_id, "silence_id": silence.id, "at": time.time(), "comment": silence.comment}],
        )

    def silenced_ids(self) -> dict[str, str]:
        """alert id → id of the silence that held it."""
        out: dict[str, str] = {}
        with contextlib.suppress(FileNotFoundError), open(self.log_path, encoding="utf-8") as handle:
            for line in handle:
                with contextlib.suppress(ValueError, AttributeError, KeyError):
                    record = json.loads(line)
                    out[str(record["alert_id"])] = str(record["silence_id"])
        return out
