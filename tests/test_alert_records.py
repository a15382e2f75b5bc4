"""Alert records by day: the live ``agent-alerts.jsonl`` and each day's archive, each alert once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from agent_pipelines.core import archive, paths
from agent_pipelines.live.alerts_table import read_alert_records, read_alert_records_by_day

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


def _line(alert_id: str, day: date, hour: int = 10) -> bytes:
    record = {"timestamp": f"{day.isoformat()}T{hour:02d}:00:00Z", "type": "error_loop", "alert_id": alert_id}
    return json.dumps(record).encode() + b"\n"


def test_several_days_from_one_read_of_the_live_file_and_each_days_archive(tmp_path: Path) -> None:
    # The live file: both days, a third, and a line of day 2 that names day 1 in its text only.
    mention = b'{"timestamp":"2026-03-02T09:00:00Z","type":"x","alert_id":"m","note":"2026-03-01"}\n'
    live = _line("a1", D1, 23) + _line("b1", D2, 0) + _line("c1", D3) + mention + _line("a2", D1)
    (tmp_path / paths.ALERTS_FILE).write_bytes(live)
    # Day 1's archive: one alert also in the live file (rotation's overlap), one only there.
    old = archive.archive_path(tmp_path, archive.Kind.ALERTS, D1.isoformat())
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(archive.gzip_member(_line("a1", D1, 23) + _line("a0", D1, 1)))

    by_day = read_alert_records_by_day(tmp_path, [D1, D2])

    assert {day: [r["alert_id"] for r in records] for day, records in by_day.items()} == {
        D1: ["a1", "a2", "a0"],
        D2: ["b1", "m"],
    }
    assert [r["alert_id"] for r in read_alert_records(tmp_path, D3)] == ["c1"]
    assert sorted(r["alert_id"] for r in read_alert_records(tmp_path)) == ["a0", "a1", "a2", "b1", "c1", "m"]
    assert read_alert_records_by_day(tmp_path / "nowhere", [D1]) == {D1: []}
