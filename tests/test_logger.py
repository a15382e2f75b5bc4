"""The logger: the original PowerShell logger's functions, many writers at once, path safety, the
off switch."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_pipelines.core import paths
from agent_pipelines.core.contract import ContractError
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import read_logs


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_a_session_writes_stream_errors_transcript_and_metrics(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 3, 2, 23, 58, tzinfo=UTC))
    log = AgentWorkLogger(tmp_path, clock=clock)
    log.start_session("ve-a1b2", task_id="t-1", task_title="Implement auth", executor="CODEX",
                      model="claude-sonnet-4-5", branch="ve/a1b2", prompt="Implement auth")  # fmt: skip
    clock.tick(30)
    log.tool_call("ve-a1b2", "Bash", {"command": "npm test"})
    clock.tick(2)
    log.tool_result("ve-a1b2", "Bash", success=False, duration_ms=2000)
    log.error("ve-a1b2", "fatal: not a git repository", "git_not_repo", "git")
    clock.tick(120)  # past midnight: the session crosses into the next day's partition
    log.followup("ve-a1b2", "Please fix the tests", "tests_failing")
    log.status_change("ve-a1b2", "inreview", "inprogress")
    clock.tick(10)
    end = log.stop_session(
        "ve-a1b2", "success", total_tokens=1200, cost_usd=0.04, outcome={"pr_created": True}
    )
    assert end is not None and end["elapsed_ms"] == 162_000 and end["data"]["duration_ms"] == 162_000
    # Context came from the session start, not from the caller.
    assert end["executor"] == "CODEX" and end["task_title"] == "Implement auth"
    assert sorted(p.name for p in (tmp_path / "stream").iterdir()) == ["2026-03-02.jsonl", "2026-03-03.jsonl"]
    errors = [json.loads(x) for x in (tmp_path / paths.ERRORS_FILE).read_text().splitlines()]
    assert [e["data"]["error_fingerprint"] for e in errors] == ["git_not_repo"]
    transcript = paths.session_file_path(tmp_path, "ve-a1b2").read_text().splitlines()
    assert len(transcript) == 7
    (summary,) = [json.loads(x) for x in (tmp_path / paths.METRICS_FILE).read_text().splitlines()]
    # The original logger's nested shape (see test_original_formats for its readers' paths).
    assert summary["metrics"] == {
        "duration_ms": 162_000, "total_tokens": 1200, "cost_usd": 0.04, "errors": 1, "tool_calls": 1,
        "success": True, "first_shot_success": True, "retry_count": 0,
    }  # fmt: skip
    assert summary["outcome"] == {"pr_created": True, "status": "completed"}
    assert summary["error_summary"]["error_fingerprints"] == ["git_not_repo"]
    # the error was followed by a follow-up before the session succeeded
    resolved = summary["error_summary"]
    assert (resolved["resolved_by_agent"], resolved["resolved_by_intervention"]) == (0, 1)
    assert summary["completion_status"] == "success"
    assert (summary["followup_count"], summary["tool_call_count"]) == (1, 1)
    result = read_logs(tmp_path)
    assert result.quarantine.height == 0 and result.events.height == 7


def test_context_survives_a_new_process_per_event(tmp_path: Path) -> None:
    """Orchestrators call the CLI once per event: context comes from the transcript."""
    AgentWorkLogger(tmp_path).start_session("ve-x", task_id="t-9", executor="COPILOT", model="gpt-4.1")
    event = AgentWorkLogger(tmp_path).error("ve-x", "boom")
    assert event is not None and (event["task_id"], event["executor"], event["model"]) == (
        "t-9",
        "COPILOT",
        "gpt-4.1",
    )
    assert event["elapsed_ms"] >= 0


def test_disabled_logging_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_WORK_LOGGING_ENABLED", "false")
    log = AgentWorkLogger(tmp_path / "logs")
    assert log.start_session("ve-1", task_id="t") is None
    assert log.stop_session("ve-1", "success") is None
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    "attempt_id", ["ve/a1b2/task", "weird name with spaces", "ünïcode-✓", ".hidden", "x" * 250]
)
def test_attempt_ids_never_escape_the_sessions_folder(tmp_path: Path, attempt_id: str) -> None:
    AgentWorkLogger(tmp_path).start_session(attempt_id, task_id="t")
    files = list((tmp_path / paths.SESSIONS_DIR).iterdir())
    assert len(files) == 1
    assert files[0].parent == tmp_path / paths.SESSIONS_DIR
    assert not files[0].name.startswith(".")
    assert json.loads(files[0].read_text())["attempt_id"] == attempt_id
    assert sorted(p.name for p in tmp_path.iterdir()) == [paths.SESSIONS_DIR, "stream"]


@pytest.mark.parametrize("attempt_id", ["../../x", "../escape", "a/../../b", "/etc/passwd", "bad\nid", ""])
def test_hostile_attempt_ids_are_refused_before_anything_is_written(tmp_path: Path, attempt_id: str) -> None:
    with pytest.raises(ContractError):
        AgentWorkLogger(tmp_path / "logs").start_session(attempt_id, task_id="t")
    assert not (tmp_path / "logs").exists()
    assert list(tmp_path.iterdir()) == [] or not any(tmp_path.rglob("*.jsonl"))


def test_distinct_ids_get_distinct_files(tmp_path: Path) -> None:
    names = {paths.session_file_name(x) for x in ["ve/a", "ve_a", "ve%2Fa", "x" * 300, "x" * 301]}
    assert len(names) == 5


# Each writer is a separate Python process, as orchestrators are: no pool, no shared memory.
_WRITER = """
import sys
from agent_pipelines.core.logger import AgentWorkLogger

root, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
log = AgentWorkLogger(root)
aid = f"ve-worker-{worker}"
log.start_session(aid, task_id=f"t-{worker}", executor="CODEX", prompt="p" * 5000)
for i in range(count):
    # Long lines (over PIPE_BUF) are the ones that tear without locking.
    log.tool_call(aid, "Bash", {"command": f"echo {worker}-{i} " + "z" * 6000})
log.stop_session(aid, "success", cost_usd=0.01)
"""


def test_several_processes_logging_at_once_never_tear_or_interleave_lines(tmp_path: Path) -> None:
    workers, count = 4, 600
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(w), str(count)])
        for w in range(workers)
    ]
    try:
        assert [p.wait(timeout=240) for p in procs] == [0] * workers
    finally:
        for p in procs:
            p.kill()
    result = read_logs(tmp_path)
    assert result.quarantine.height == 0
    assert result.events.height == workers * (count + 2)
    for w in range(workers):
        commands = (
            result.events.filter(result.events["attempt_id"] == f"ve-worker-{w}")["tool_params"]
            .drop_nulls()
            .to_list()
        )
        assert [json.loads(c)["command"].split()[1] for c in commands] == [f"{w}-{i}" for i in range(count)]
    metrics = (tmp_path / paths.METRICS_FILE).read_text().splitlines()
    assert len(metrics) == workers and all(json.loads(m)["tool_call_count"] == count for m in metrics)


def test_cli_log_writes_events_and_refuses_bad_input(tmp_path: Path) -> None:
    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent_pipelines.cli", "log", *args, "--logs-dir", str(tmp_path)],
            capture_output=True, text=True, input=stdin, timeout=60,
        )  # fmt: skip

    assert cli("session_start", "--attempt-id", "ve-cli", "--task-id", "t-1", "--executor", "CODEX",
               "--data", '{"prompt_type": "initial", "prompt": "hi"}').returncode == 0  # fmt: skip
    assert (
        cli("error", "--attempt-id", "ve-cli", "--data", "-", stdin='{"error_message": "boom"}').returncode
        == 0
    )
    done = cli(
        "session_end", "--attempt-id", "ve-cli", "--data", '{"completion_status": "failed"}', "--print"
    )
    assert done.returncode == 0 and json.loads(done.stdout)["executor"] == "CODEX"
    bad_json = cli("error", "--attempt-id", "ve-cli", "--data", "{nope")
    assert bad_json.returncode == 2 and "not valid JSON" in bad_json.stderr
    missing = cli("session_end", "--attempt-id", "ve-cli", "--data", "{}")
    assert missing.returncode == 2 and "completion_status" in missing.stderr
    hostile = cli("error", "--attempt-id", "../../etc", "--data", '{"error_message": "x"}')
    assert hostile.returncode == 2 and "attempt_id" in hostile.stderr
    result = read_logs(tmp_path)
    assert result.events["event_type"].to_list() == ["session_start", "error", "session_end"]
    assert (tmp_path / paths.METRICS_FILE).exists() and (tmp_path / paths.ERRORS_FILE).exists()
