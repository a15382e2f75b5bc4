"""What one import pass did: printed by the CLI, logged by the sensor, returned to tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ImportReport:
    """What one pass did; printed by the CLI, logged by the sensor, returned to tests."""

    source: str
    files_seen: int = 0
    files_read: int = 0
    files_skipped: int = 0  # could not be read this pass (said in notes); retried next pass
    bytes_read: int = 0
    records: int = 0
    duplicate_records: int = 0
    events: Counter[str] = field(default_factory=Counter)
    sessions_touched: int = 0
    sessions_ended: Counter[str] = field(default_factory=Counter)
    sessions_open: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    unknown_types: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    unpriced_models: Counter[str] = field(default_factory=Counter)  # model -> tokens without a price
    tokens: int = 0
    cost_usd: float = 0.0
    notes: list[str] = field(default_factory=list)
    more_pending: bool = False
    seconds: float = 0.0

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "files_seen": self.files_seen,
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
            "bytes_read": self.bytes_read,
            "records": self.records,
            "duplicate_records": self.duplicate_records,
            "events": self.total_events,
            "events_by_type": dict(sorted(self.events.items())),
            "sessions_touched": self.sessions_touched,
            "sessions_ended": dict(sorted(self.sessions_ended.items())),
            "sessions_open": self.sessions_open,
            "quarantined": dict(sorted(self.quarantined.items())),
            "unknown_record_types": dict(sorted(self.unknown_types.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "unpriced_models": dict(sorted(self.unpriced_models.items())),
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "more_pending": self.more_pending,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }
