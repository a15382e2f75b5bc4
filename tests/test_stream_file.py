"""``AGENT_WORK_STREAM_FILE_ENABLED``: our logger also appends to the original's single stream file.

The original analyzer (``virtengine/virtengine``, ``scripts/codex-monitor/agent-work-analyzer.mjs``)
and analytics CLI read ``.cache/agent-work-logs/agent-work-stream.jsonl`` only; during a migration
they keep working when our logger writes there too. The reader reads both that file and the daily
partitions: a line written to both must count once, also beside the lines of other writers that
carry fields of their own (the design document's ``sequence_num``, ``tags``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from agent_pipelines.analytics.metrics import session_metrics
from agent_pipelines.core import paths
from agent_pipelines.core.cleaned import clean_days
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import dedupe, read_logs
from agent_pipelines.core.settings import Settings
from agent_pipelines.orchestration.io_manager import write_parquet

ON = "AGENT_WORK_STREAM_FILE_ENABLED"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=7)
        return self.now


def a_session(log: AgentWorkLogger, attempt: str = "ve-s1") -> None:
    """Every event type, crossing midnight (two day partitions)."""
    log.start_session(attempt, task_id="t-1", executor="CODEX", model="gpt-5", branch="ve/s1", prompt="go")
    log.tool_call(attempt, "Bash", {"command": "npm test"})
    log.tool_result(attempt, "Bash", success=False, duration_ms=900, extra={"exit_code": 1})
    for _ in range(4):
        log.error(attempt, "fatal: not a git repository", "git_not_repo", "git")
    log.followup(attempt, "Please fix the tests", "tests_failing")
    log.status_change(attempt, "inreview", "inprogress")
    log.stop_session(attempt, "failed", cost_usd=0.2, total_tokens=900)


def partition_lines(root: Path) -> list[str]:
    return [x for p in sorted((root / paths.STREAM_DIR).glob("*.jsonl")) for x in p.read_text().splitlines()]


def test_the_setting_is_off_unless_said_and_reads_like_the_others() -> None:
    assert Settings.load({}).stream_file_enabled is False
    assert Settings.load({ON: "true"}).stream_file_enabled is True
    assert Settings.load({ON: "1"}).stream_file_enabled is True
    assert Settings.load({ON: "false"}).stream_file_enabled is False


def test_off_by_default_nothing_is_written_to_the_single_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ON, raising=False)
    a_session(AgentWorkLogger(tmp_path, clock=Clock()))
    assert not (tmp_path / paths.STREAM_FILE).exists()


def test_with_the_setting_the_original_analyzers_file_receives_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ON, "true")
    a_session(AgentWorkLogger(tmp_path, clock=Clock()))
    single = (tmp_path / paths.STREAM_FILE).read_text(encoding="utf-8").splitlines()
    ours = partition_lines(tmp_path)
    assert len(ours) == 10 and len({p.name for p in (tmp_path / paths.STREAM_DIR).iterdir()}) == 2
    assert single == ours  # the same bytes, in the order written
    # What the original analyzer destructures from each event (analyzeEvent and its analyzers)
    needs: dict[str, tuple[str, ...]] = {
        "error": ("error_fingerprint", "error_message"), "tool_call": ("tool_name",),
        "session_start": ("prompt_type",), "session_end": ("completion_status", "duration_ms", "cost_usd"),
    }  # fmt: skip
    for event in map(json.loads, single):
        assert {"attempt_id", "event_type", "timestamp", "task_id", "executor"} <= set(event)
        assert all(event["data"].get(k) is not None for k in needs.get(event["event_type"], ()))


def test_a_line_written_to_both_counts_once_everywhere(tmp_path: Path) -> None:
    a_session(AgentWorkLogger(tmp_path, clock=Clock(), stream_file=True))
    result = read_logs(tmp_path)
    assert result.quarantine.height == 0 and result.events.height == 20  # read from both files...
    events = dedupe(result.events)
    assert events.height == 10  # ...counted once
    (session,) = session_metrics(events).iter_rows(named=True)
    assert (session["error_count"], session["followup_count"], session["tool_call_count"]) == (4, 1, 1)

    def write(day: date, rows: pl.LazyFrame) -> int:
        write_parquet(rows, tmp_path / "tables" / f"{day}.parquet")
        return 0

    days = sorted(date.fromisoformat(p.stem) for p in (tmp_path / paths.STREAM_DIR).glob("*.jsonl"))
    done = list(clean_days(tmp_path, days, write, final_before=date(2027, 1, 1)))
    assert sum(d.events for d in done) == 10 and sum(d.duplicates_dropped for d in done) == 10


def test_counted_once_beside_other_writers_lines_with_fields_of_their_own(tmp_path: Path) -> None:
    """The original's file also holds other writers' lines; our line read from it among those is
    still the same line as in its partition."""
    theirs: list[dict[str, Any]] = [
        {"timestamp": "2026-03-02T23:58:00.000Z", "attempt_id": "ve-other", "event_type": "session_start",
         "data": {"prompt_type": "initial"}, "sequence_num": 1, "tags": ["migration"]},
        {"timestamp": "2026-03-02T23:58:30.000Z", "attempt_id": "ve-other", "event_type": "error",
         "data": {"error_message": "boom"}, "sequence_num": 2, "manual_notes": "flaky"},
    ]  # fmt: skip
    (tmp_path / paths.STREAM_FILE).write_text("".join(json.dumps(t) + "\n" for t in theirs))
    a_session(AgentWorkLogger(tmp_path, clock=Clock(), stream_file=True))
    events = dedupe(read_logs(tmp_path).events)
    assert events.height == 12
    assert events.group_by("attempt_id").len().sort("attempt_id").rows() == [("ve-other", 2), ("ve-s1", 10)]
    assert "_extra" in json.loads(events.filter(pl.col("attempt_id") == "ve-other")["data"][0])


_WRITER = """
import sys
from agent_pipelines.core.logger import AgentWorkLogger

root, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
log = AgentWorkLogger(root)  # the setting comes from the environment
aid = f"ve-w{worker}"
log.start_session(aid, task_id=f"t-{worker}", executor="CODEX")
for i in range(count):
    log.tool_call(aid, "Bash", {"command": f"echo {worker}-{i} " + "z" * 6000})  # over PIPE_BUF
log.stop_session(aid, "success")
"""


def test_processes_logging_at_once_never_tear_the_single_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ON, "true")
    workers, count = 3, 150
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(w), str(count)])
        for w in range(workers)
    ]
    try:
        assert [p.wait(timeout=120) for p in procs] == [0] * workers
    finally:
        for p in procs:
            p.kill()
    single = [
        json.loads(x) for x in (tmp_path / paths.STREAM_FILE).read_text().splitlines()
    ]  # every line whole
    assert len(single) == workers * (count + 2)
    for w in range(workers):
        calls = [e for e in single if e["attempt_id"] == f"ve-w{w}" and e["event_type"] == "tool_call"]
        mine = [e["data"]["tool_params"]["command"].split()[1] for e in calls]
        assert mine == [f"{w}-{i}" for i in range(count)]
    assert dedupe(read_logs(tmp_path).events).height == workers * (count + 2)
