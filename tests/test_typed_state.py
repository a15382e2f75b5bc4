"""Typed state with versioned layouts: what an older version wrote still loads.

The live sensor's cursor (Dagster keeps it between ticks) and the rotation's staging records
(``origin.json``, ``manifest.json``, left behind by an interrupted rotation) outlive the code that
wrote them; each is a dataclass whose loader reads every layout it ever had.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.settings import defaults
from agent_pipelines.ops.rotation.manifest import Manifest, ManifestError, StagedOrigin
from agent_pipelines.orchestration.log_store import LogStore
from sensors.live_alerts import CURSOR_VERSION, SensorCursor, evaluate

# -- the live sensor's cursor ------------------------------------------------------------------


def test_the_cursor_round_trips_and_names_its_version() -> None:
    cursor = SensorCursor(key="abc", requested_at=100.5, retries=2, purged_at=50.0)
    text = cursor.to_json()
    assert json.loads(text)["v"] == CURSOR_VERSION == 2
    assert SensorCursor.from_json(text) == cursor


def test_a_version_1_cursor_still_loads() -> None:
    """Version 1 was ``{"k", "t", "n", "p"}`` (a sensor running before the upgrade left one)."""
    old = json.dumps({"k": "abc", "t": 100.5, "n": 2, "p": 50})
    assert SensorCursor.from_json(old) == SensorCursor(
        key="abc", requested_at=100.5, retries=2, purged_at=50.0
    )
    assert SensorCursor.from_json(json.dumps({"p": 7})) == SensorCursor(purged_at=7.0)  # before any request


@pytest.mark.parametrize(
    "text", [None, "", "not json", "[1, 2]", '{"v": 99, "key": "x"}', '{"k": 5, "t": "soon"}']
)
def test_an_unreadable_cursor_starts_afresh(text: str | None) -> None:
    assert SensorCursor.from_json(text) == SensorCursor()


def test_a_tick_honours_the_request_a_version_1_cursor_remembers(tmp_path: Path) -> None:
    """Upgraded between a request and its run: the old cursor's key is not requested again at once."""
    logs = tmp_path / "logs"
    AgentWorkLogger(logs, enabled=True).start_session("ve-1", task_id="t-1")
    store = LogStore.from_settings(defaults(), str(logs), str(tmp_path / "data"))
    with dg.instance_for_test() as instance:
        first = evaluate(
            dg.build_sensor_context(instance=instance, resources={"log_store": store}), store, now=1000.0
        )
        assert isinstance(first, dg.SensorResult) and first.run_requests and first.cursor
        new = SensorCursor.from_json(first.cursor)
        old = json.dumps({"k": new.key, "t": new.requested_at, "n": new.retries, "p": new.purged_at})
        ctx = dg.build_sensor_context(instance=instance, cursor=old, resources={"log_store": store})
        again = evaluate(ctx, store, now=1005.0)
    assert isinstance(again, dg.SensorResult) and not again.run_requests
    assert "did not commit; retrying after" in (again.skip_reason.skip_message or "")  # type: ignore[union-attr]
    assert SensorCursor.from_json(again.cursor).key == new.key


# -- the rotation's staging records ------------------------------------------------------------

# A manifest as rotations wrote it before over-long lines were kept whole (no "oversize").
OLD_MANIFEST = {
    "version": 1,
    "token": "20260301T000000000000Z-0000",
    "kind": "stream",
    "origin": "stream/2026-03-01.jsonl",
    "source_bytes": 120,
    "source_lines": 3,
    "blank_lines": 0,
    "archives": [
        {
            "target": "archive/stream/2026-03-01.jsonl.gz",
            "tmp": "archive-000.gz",
            "merged": False,
            "lines_new": 2,
            "lines_total": 2,
            "raw_bytes": 80,
            "compressed_bytes": 60,
        },
    ],
    "returns": [],
    "quarantine": {"file": "quarantine.jsonl", "lines": 1, "reasons": {"malformed_json": 1}},
    "quarantine_dir": "/data/quarantine",
}


def test_an_old_manifest_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(OLD_MANIFEST, indent=1))
    manifest = Manifest.load(path)
    assert manifest.version == 1 and manifest.oversize == () and manifest.lines_routed == 3
    assert json.loads(manifest.to_json()) == {**OLD_MANIFEST, "oversize": []}


def test_an_origin_without_a_version_still_loads_and_an_unknown_one_stops(tmp_path: Path) -> None:
    path = tmp_path / "origin.json"
    old = {"token": "t", "kind": "stream", "origin": "stream/2026-03-01.jsonl", "staged_at": 0}
    path.write_text(json.dumps(old))  # as rotations wrote it before origin.json had a version
    origin = StagedOrigin.load(path)
    assert origin == StagedOrigin("t", "stream", "stream/2026-03-01.jsonl", 0.0)
    assert json.loads(origin.to_json())["version"] == 1
    path.write_text(json.dumps({**old, "version": 2}))
    with pytest.raises(ManifestError, match="origin version 2 is not known") as info:
        StagedOrigin.load(path)
    assert "\n" not in str(info.value)
