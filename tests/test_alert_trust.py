"""Alerts a person can trust (issue 21) and late lines that alert once (issue 22, item 5).

Each case here raised a wrong alert (or one too many) before: ten different commands in a minute,
an agent waiting for its person, four look-alike errors that their caller said were four, late
lines of a pruned attempt. The same on real transcript shapes: :mod:`transcript_day`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import transcript_day as day

from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.tailer import Cursor, read_new
from agent_pipelines.ingest.importers import SOURCES, run_import
from agent_pipelines.live import state as detector_state
from agent_pipelines.live.detectors import Thresholds, detect, stuck_watch
from agent_pipelines.live.state import AttemptState, DetectorState, StateVersionError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clocked:
    def __init__(self, root: Path) -> None:
        self.now = T0
        self.log = AgentWorkLogger(root, enabled=True, clock=lambda: self.now)

    def at(self, seconds: float) -> AgentWorkLogger:
        self.now = T0 + timedelta(seconds=seconds)
        return self.log


def run(root: Path, state: DetectorState, now: datetime | None = None) -> list[dict]:
    new = read_new(root, Cursor.from_json(state.cursor))
    state.cursor = new.cursor.to_json()
    return detect(new.result.events, state, Thresholds(), now_ms=int(now.timestamp() * 1000) if now else None)


def types(alerts: list[dict]) -> list[str]:
    return [a["type"] for a in alerts]


def start(c: Clocked, attempt: str) -> None:
    c.at(0).start_session(attempt, prompt="Fix the tests", task_id="task-1", executor="CODEX")


# -- tool loops are repeated calls -------------------------------------------------------------


def test_ten_different_commands_in_a_minute_are_work_not_a_loop(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-busy")
    for i in range(12):
        c.at(5 + 4.5 * i).tool_call(
            "ve-busy", "exec_command", {"cmd": f"sed -n '{i * 40},{i * 40 + 40}p' a.py"}
        )
    assert run(tmp_path, DetectorState()) == []


def test_ten_identical_calls_in_a_minute_are_a_loop(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-loop")
    for i in range(10):  # the same call; the writer's key order does not make it another one
        params = {"cmd": "pytest -x", "workdir": "/w"} if i % 2 else {"workdir": "/w", "cmd": "pytest -x"}
        c.at(5 + 6 * i).tool_call("ve-loop", "exec_command", params)
        c.at(5 + 6 * i + 1).tool_call("ve-loop", "exec_command", {"cmd": f"cat f{i}.py", "workdir": "/w"})
    alerts = run(tmp_path, DetectorState())
    assert types(alerts) == ["tool_loop"]
    assert alerts[0]["tool_name"] == "exec_command" and alerts[0]["occurrences"] == 10


def test_calls_without_params_compare_by_tool_name_as_the_original(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-bare")
    for i in range(10):
        c.at(5 + 5 * i).tool_call("ve-bare", "Read")
    assert types(run(tmp_path, DetectorState())) == ["tool_loop"]


def test_an_identical_loop_split_over_two_runs_is_one_loop(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-split")
    state = DetectorState()
    alerts = []
    for i in range(10):
        c.at(5 + 5 * i).tool_call("ve-split", "Bash", {"command": "npm test"})
        c.at(6 + 5 * i).tool_call("ve-split", "Bash", {"command": f"cat {i}"})
        if i == 4:
            alerts += run(tmp_path, state)
            state = DetectorState.from_json(json.loads(json.dumps(state.to_json())))
    alerts += run(tmp_path, state)
    assert types(alerts) == ["tool_loop"]


# -- turn state: stuck only while the agent owes the next step -----------------------------------


def test_idle_gap_after_a_finished_turn_is_no_stuck_agent(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-wait")
    c.at(10).tool_call("ve-wait", "Bash", {"command": "npm test"})
    c.at(15).tool_result("ve-wait", "Bash", success=True)
    c.at(20).end_turn("ve-wait", reason="task_complete")
    state = DetectorState()
    assert run(tmp_path, state, now=T0 + timedelta(hours=2)) == []  # the live check: waiting, not stuck
    assert stuck_watch(state, Thresholds())["due_ms"] is None  # nothing for the sensor to watch
    c.at(20 + 11.7 * 3600).followup("ve-wait", "Good morning, go on")  # the person came back
    c.at(20 + 11.7 * 3600 + 5).tool_call("ve-wait", "Bash", {"command": "git status"})
    assert run(tmp_path, state, now=T0 + timedelta(seconds=20 + 11.7 * 3600 + 60)) == []
    # The next turn is open again: a silence in it is an agent stuck.
    assert types(run(tmp_path, state, now=T0 + timedelta(hours=13))) == ["stuck_agent"]


def test_the_same_gap_in_one_replay_is_no_stuck_agent(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-replay")
    c.at(20).end_turn("ve-replay")
    c.at(20 + 3 * 3600).followup("ve-replay", "next")
    c.at(20 + 3 * 3600 + 30).stop_session("ve-replay", "success")
    assert run(tmp_path, DetectorState()) == []


def test_idle_gap_during_an_open_tool_call_is_one_alert_not_one_per_cooldown(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-hung")
    c.at(10).end_turn("ve-hung")  # turns are known for this attempt...
    c.at(60).followup("ve-hung", "deploy it")
    c.at(65).tool_call("ve-hung", "Bash", {"command": "./deploy.sh"})  # ...and this one never returns
    state = DetectorState()
    alerts = []
    for minutes in (4, 6, 12, 18, 30, 60, 120):  # the sensor's checks, past many 5-minute cooldowns
        alerts += run(tmp_path, state, now=T0 + timedelta(seconds=65, minutes=minutes))
    c.at(65 + 7300).tool_result("ve-hung", "Bash", success=False)  # it came back: same silence
    alerts += run(tmp_path, state, now=T0 + timedelta(seconds=65 + 7301))
    assert types(alerts) == ["stuck_agent"]
    assert alerts[0]["timestamp"] == "2026-03-02T09:06:05.000Z"  # the call + 5 minutes


def test_sessions_without_turn_information_keep_the_original_rule(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-plain")
    c.at(10).tool_call("ve-plain", "Read")
    c.at(10 + 3600).tool_call("ve-plain", "Read")
    assert types(run(tmp_path, DetectorState())) == ["stuck_agent"]


# -- fingerprints win ------------------------------------------------------------------------------


def test_four_look_alike_errors_with_four_fingerprints_are_no_loop(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-fp")
    for i, kind in enumerate(["git", "npm", "tsc", "test"]):
        c.at(10 + 10 * i).error("ve-fp", f"scenario error {i} ({kind})", error_fingerprint=f"scenario_{kind}")
    assert run(tmp_path, DetectorState()) == []


def test_look_alike_errors_without_fingerprints_still_loop_by_template(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-nofp")
    for i, kind in enumerate(["git", "npm", "tsc", "test"]):
        c.at(10 + 10 * i).error("ve-nofp", f"scenario error {i} ({kind})")
    assert types(run(tmp_path, DetectorState())) == ["error_loop"]


def test_one_fingerprint_four_times_loops_whatever_the_text(tmp_path: Path) -> None:
    c = Clocked(tmp_path)
    start(c, "ve-samefp")
    for i, text in enumerate(["push rejected", "remote hung up", "could not read from remote", "EOF"]):
        c.at(10 + 10 * i).error("ve-samefp", text, error_fingerprint="git_push_failed")
    alerts = run(tmp_path, DetectorState())
    assert types(alerts) == ["error_loop"] and alerts[0]["error_fingerprint"] == "git_push_failed"


def test_an_error_without_fingerprint_joins_the_fingerprint_its_template_carries(tmp_path: Path) -> None:
    """As batch clustering: two errors the caller fingerprinted and two of the same kind it did not
    are one loop of that fingerprint."""
    c = Clocked(tmp_path)
    start(c, "ve-mixed")
    for i, name in enumerate(["HOME_DIR", "API_URL", "DB_HOST", "TOKEN_TTL"]):
        fp = "env_var_missing" if i % 2 else None
        c.at(10 + 30 * i).error("ve-mixed", f"KeyError: '{name}' environment variable is not set", fp)
    alerts = run(tmp_path, DetectorState())
    assert types(alerts) == ["error_loop"] and alerts[0]["error_fingerprint"] == "env_var_missing"


# -- late lines alert once (issue 22, item 5) ------------------------------------------------------


def _late_scenario(root: Path, late_by_hours: float) -> list[dict]:
    """A recent event sets the watermark; then four runs each bring four more errors, four more
    identical calls and the session's last lines of an attempt ``late_by_hours`` behind it."""
    c = Clocked(root)
    state = DetectorState()
    c.at(late_by_hours * 3600).start_session("ve-now", prompt="x")
    alerts = run(root, state)
    for k in range(4):
        base = 40 * k
        if k == 0:
            c.at(0).start_session("ve-late", prompt="y", executor="CODEX")
        for i in range(4):
            c.at(base + 1 + 2 * i).error("ve-late", "fatal: not a git repository", "git_not_repo")
            c.at(base + 2 + 2 * i).tool_call("ve-late", "Bash", {"command": "git push"})
            c.at(base + 2.5 + 2 * i).tool_call("ve-late", "Bash", {"command": "git push"})
            c.at(base + 3 + 2 * i).tool_call("ve-late", "Bash", {"command": "git push"})
        alerts += run(root, state, now=T0 + timedelta(hours=late_by_hours, minutes=1 + k))
    return alerts


def test_late_lines_alert_once_like_lines_on_time(tmp_path: Path) -> None:
    on_time = _late_scenario(tmp_path / "on-time", 0.01)
    late = _late_scenario(tmp_path / "late", 30)
    assert sorted(types(on_time)) == ["error_loop", "tool_loop"]  # within 5 min of each other: once
    # 30 h late: pruned after every run, yet once each (and stuck once: silent for 30 h at the check)
    assert sorted(types(late)) == ["error_loop", "stuck_agent", "tool_loop"]


def test_suppression_of_a_pruned_attempt_is_kept_for_the_seen_window_then_forgotten(tmp_path: Path) -> None:
    state = DetectorState()
    c = Clocked(tmp_path)
    start(c, "ve-old")
    for i in range(4):
        c.at(10 + i).error("ve-old", "boom", "boom")
    c.at(30 * 3600).start_session("ve-new", prompt="x")
    assert types(run(tmp_path, state)) == ["error_loop"]
    assert "ve-old" not in state.attempts and state.retired["ve-old"].fired["error_loop"]
    c.at(49.5 * 3600).start_session("ve-newer", prompt="x")  # the seen window (48 h) moved past it
    run(tmp_path, state)
    assert "ve-old" not in state.retired


# -- the typed state ------------------------------------------------------------------------------

VERSION_1: dict[str, Any] = {
    "version": 1,
    "generation": 3,
    "cursor": '{"stream/2026-03-02.jsonl": [120, 2]}',
    "attempts": {
        "ve-a": {
            "last": 1000,
            "lid": "e1",
            "open": True,
            "errs": {"f:x": [[900, "e0"]]},
            "tools": {"Bash": [[950, "e2"]]},
            "rs": 1,
            "ne": 2,
            "fired": {"error_loop": 900},
            "ids": ["abc"],
            "task": "t",
            "exec": "CODEX",
            "stuck": "e0",
            "rs_fired": True,
            "fps": ["x", "unknown"],
        },
        "ve-b": {
            "last": 5,
            "lid": None,
            "open": False,
            "errs": {},
            "tools": {},
            "rs": 0,
            "ne": 0,
            "fired": {},
            "ids": [],
        },
    },
    "template_fingerprints": {"boom": "boom"},
    "template_model": {},
    "watermark_ms": 1000,
    "unpublished": [{"alert_id": "abc"}],
}


def test_a_version_1_state_file_still_loads(tmp_path: Path) -> None:
    folder = detector_state.state_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / detector_state.STATE_FILE).write_text(json.dumps(VERSION_1), encoding="utf-8")
    state = detector_state.load(tmp_path)
    assert state.generation == 3 and state.cursor == VERSION_1["cursor"] and state.watermark_ms == 1000
    a = state.attempts["ve-a"]
    assert isinstance(a, AttemptState) and a.open and a.fired == {"error_loop": 900} and a.rs_fired
    assert a.tools == {"Bash": [[950, "e2"]]} and a.fps == ["x", "unknown"] and a.turn is None
    assert state.attempts["ve-b"] == AttemptState(last=5)
    assert state.unpublished == [{"alert_id": "abc"}] and state.retired == {}
    # Written back as the current version; read again, the same state.
    detector_state.commit(tmp_path, state, {})
    raw = json.loads((folder / detector_state.STATE_FILE).read_text())
    assert raw["version"] == detector_state.STATE_VERSION
    assert raw["attempts"]["ve-a"] == VERSION_1["attempts"]["ve-a"]  # the attempt's shape is unchanged
    assert detector_state.load(tmp_path).to_json() == state.to_json()


def test_a_state_from_a_newer_version_is_refused_not_misread() -> None:
    with pytest.raises(StateVersionError, match="newer"):
        DetectorState.from_json({**VERSION_1, "version": detector_state.STATE_VERSION + 1})


# -- real transcript shapes ---------------------------------------------------------------------

END = day.DAY + timedelta(days=2)


def _import_and_detect(tmp_path: Path, codex: dict, claude: dict, now: datetime) -> list[dict]:
    logs, data = tmp_path / "logs", tmp_path / "data"
    if codex:
        day.write_rollouts(tmp_path / "codex", codex)
        run_import(SOURCES["codex"], [tmp_path / "codex" / "sessions"], logs_dir=logs, data_dir=data, now=now)
    if claude:
        day.write_rollouts(tmp_path / "claude", claude)
        run_import(SOURCES["claude-code"], [tmp_path / "claude"], logs_dir=logs, data_dir=data, now=now)
    return run(logs, DetectorState(), now=now)


def test_a_healthy_working_day_raises_no_loop_and_no_stuck_agent(tmp_path: Path) -> None:
    codex, claude = day.codex_day(), day.claude_day()
    calls = sum(1 for recs in codex.values() for r in recs if r["payload"].get("type") == "function_call")
    assert calls > 500  # a day of work through one shell tool
    alerts = _import_and_detect(tmp_path, codex, claude, END)
    assert [a for a in alerts if a["type"] in ("tool_loop", "stuck_agent", "error_loop")] == []


@pytest.mark.parametrize("source", ["codex", "claude"])
def test_a_call_that_never_returns_is_one_stuck_agent(tmp_path: Path, source: str) -> None:
    start = day.DAY + timedelta(hours=3)
    healthy = day.codex_day() if source == "codex" else day.claude_day()
    if source == "codex":
        name = "sessions/2026/03/09/rollout-2026-03-09T11-30-00-0199c0de-0000-7000-8000-00000000dead.jsonl"
        files = {**healthy, name: day.codex_stuck(start)}
        alerts = _import_and_detect(tmp_path, files, {}, start + timedelta(minutes=40))
    else:
        files = {
            **healthy,
            "-home-dev-shop/5c1a0de0-0000-4000-8000-00000000dead.jsonl": day.claude_stuck(start),
        }
        alerts = _import_and_detect(tmp_path, {}, files, start + timedelta(minutes=40))
    stuck = [a for a in alerts if a["type"] == "stuck_agent"]
    assert [a["attempt_id"][-4:] for a in stuck] == ["dead"]


def test_a_codex_agent_repeating_one_command_is_a_tool_loop(tmp_path: Path) -> None:
    name = "sessions/2026/03/09/rollout-2026-03-09T08-30-00-0199c0de-0000-7000-8000-00000000100b.jsonl"
    alerts = _import_and_detect(tmp_path, {name: day.codex_loop()}, {}, END)
    loops = [a for a in alerts if a["type"] == "tool_loop"]
    assert [(a["tool_name"], a["occurrences"]) for a in loops] == [("exec_command", 10)]
