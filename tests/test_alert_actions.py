"""Actions (issue 26): a real command and a real HTTP call per recommendation, at most once per alert
across reruns and kill -9, retried with backoff when they fail; and the detector job routing through
alerts.yaml end to end (webhook + silence + metadata)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hook_server import HookServer

from agent_pipelines.cli import main
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.live.actions import ActionLedger
from agent_pipelines.live.alerts import make_alert, read_alerts
from agent_pipelines.live.routing import parse_config

SECRET = "hmac-secret-for-action-tests"
ACTION = """
import json, pathlib, sys, time
alert = json.load(sys.stdin)
out = pathlib.Path(sys.argv[1])
count = len(out.read_text().splitlines()) if out.exists() else 0
with out.open("a") as handle:
    handle.write(alert["alert_id"] + "\\n")
time.sleep(float(sys.argv[2]))
print("handled", alert["type"], alert["attempt_id"], "token ghp_abcdefghijklmnopqrstuvwxyz0123456789")
sys.exit(int(sys.argv[3]) if count < int(sys.argv[4]) else 0)
"""


def action_script(tmp_path: Path, sleep: float = 0.0, fail_code: int = 0, fail_times: int = 0) -> list[str]:
    script = tmp_path / "act.py"
    script.write_text(ACTION)
    return [
        sys.executable,
        str(script),
        str(tmp_path / "ran.txt"),
        str(sleep),
        str(fail_code),
        str(fail_times),
    ]


def ran(tmp_path: Path) -> list[str]:
    path = tmp_path / "ran.txt"
    return path.read_text().splitlines() if path.exists() else []


def write_loop(logs: Path, attempt: str = "ve-act") -> None:
    start = datetime.now(UTC) - timedelta(seconds=30)
    moments = iter([start + timedelta(seconds=i) for i in range(20)])
    log = AgentWorkLogger(logs, enabled=True, clock=lambda: next(moments))
    log.start_session(attempt, executor="CODEX", task_id="task-act")
    for _ in range(4):
        log.error(attempt, "TS2345: Argument of type 'string' is not assignable", "ts_type_error")


def write_config(tmp_path: Path, hook: HookServer, command: list[str], **action: Any) -> Path:
    path = tmp_path / "alerts.yaml"
    config = {
        "receivers": [
            {"name": "orchestrator", "webhook": {"url": hook.url, "secret": SECRET, "timeout": "2s"}}
        ],
        "route": {"receiver": "orchestrator"},
        "actions": {"trigger_ai_autofix": {"command": command, "timeout": "20s", **action}},
    }
    path.write_text(json.dumps(config))
    return path


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def detect(tmp_path: Path) -> int:
    args = ["--logs-dir", str(tmp_path / "logs"), "--data-dir", str(tmp_path / "data")]
    return main(["detect", "--once", *args, "--json"])


def test_detector_job_routes_acts_once_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with HookServer(secret=SECRET) as hook:
        monkeypatch.setenv(
            "AGENT_PIPELINES_ALERTS_CONFIG", str(write_config(tmp_path, hook, action_script(tmp_path)))
        )
        write_loop(tmp_path / "logs")
        assert detect(tmp_path) == 0
        ledger = ActionLedger(tmp_path / "data" / "state")
        wait_for(lambda: [r.status for r in ledger.all()] == ["succeeded"])
        assert detect(tmp_path) == 0 and detect(tmp_path) == 0  # reruns: nothing new to send or do
        (alert,) = read_alerts(tmp_path / "logs")
        assert [r.json["alert_ids"] for r in hook.accepted] == [[alert["alert_id"]]]
        assert ran(tmp_path) == [alert["alert_id"]]
        record = ledger.get(alert["alert_id"])
        assert (
            record is not None
            and record.last["exit_status"] == 0
            and "handled error_loop" in record.last["output"]
        )
        assert "ghp_" not in record.last["output"]  # the output is redacted before it is stored
        capsys.readouterr()
        assert (
            main(
                ["alerts", "list", "--logs-dir", str(tmp_path / "logs"), "--data-dir", str(tmp_path / "data")]
            )
            == 0
        )
        assert "delivered to orchestrator; action succeeded" in capsys.readouterr().out


def test_a_silenced_alert_is_shown_as_silenced_and_not_acted_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with HookServer(secret=SECRET) as hook:
        monkeypatch.setenv(
            "AGENT_PIPELINES_ALERTS_CONFIG", str(write_config(tmp_path, hook, action_script(tmp_path)))
        )
        folders = ["--logs-dir", str(tmp_path / "logs"), "--data-dir", str(tmp_path / "data")]
        assert (
            main(["alerts", "silence", "--type", "error_loop", "--for", "1h", "--comment", "known", *folders])
            == 0
        )
        write_loop(tmp_path / "logs")
        assert detect(tmp_path) == 0
        time.sleep(0.3)
        assert (
            hook.received == []
            and ran(tmp_path) == []
            and ActionLedger(tmp_path / "data" / "state").all() == []
        )
        capsys.readouterr()
        assert main(["alerts", "list", "--json", *folders]) == 0
        listing = json.loads(capsys.readouterr().out)
        assert listing["alerts"][0]["silenced_by"] == listing["silences"][0]["id"]


def test_an_action_runs_once_across_kill_9_and_a_rerun(tmp_path: Path) -> None:
    """The detector process is killed (-9) while its action runs; the rerun does not run it again."""
    with HookServer(secret=SECRET) as hook:
        config = write_config(tmp_path, hook, action_script(tmp_path, sleep=1.5))
        write_loop(tmp_path / "logs")
        env = {**os.environ, "AGENT_PIPELINES_ALERTS_CONFIG": str(config)}
        args = ["--logs-dir", str(tmp_path / "logs"), "--data-dir", str(tmp_path / "data")]
        process = subprocess.Popen(
            [sys.executable, "-m", "agent_pipelines.cli", "detect", "--once", *args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(lambda: ran(tmp_path) != [], timeout=60)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        rerun = subprocess.run(
            [sys.executable, "-m", "agent_pipelines.cli", "detect", "--once", *args],
            env=env,
            capture_output=True,
        )
        assert rerun.returncode == 0, rerun.stderr
        ledger = ActionLedger(tmp_path / "data" / "state")
        wait_for(lambda: [r.status for r in ledger.all()] == ["succeeded"])
        subprocess.run(
            [sys.executable, "-m", "agent_pipelines.cli", "detect", "--once", *args], env=env, check=True
        )
        assert len(ran(tmp_path)) == 1 and len(hook.accepted) == 1


def alert_for(kind: str = "error_loop") -> dict[str, Any]:
    fields = {"error_fingerprint": "f", "occurrences": 4, "sample_message": "x"}
    return make_alert(kind, "att-1", "k", int(time.time() * 1000), task_id="t", executor="CODEX", **fields)


def ledger_with(tmp_path: Path, action: dict[str, Any]) -> tuple[ActionLedger, Path, dict[str, Any]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "alerts.yaml"
    path.write_text(json.dumps({"actions": {"trigger_ai_autofix": action}}))
    ledger, alert = ActionLedger(tmp_path / "state"), alert_for()
    assert ledger.plan(parse_config(json.loads(path.read_text())), [alert]) == 1
    return ledger, path, alert


def test_a_runner_killed_mid_action_is_interrupted_not_repeated(tmp_path: Path) -> None:
    ledger, config, alert = ledger_with(tmp_path, {"command": action_script(tmp_path, sleep=5)})
    assert ledger.launch_due(config) == [alert["alert_id"]]
    wait_for(
        lambda: ran(tmp_path) != [] and (r := ledger.get(alert["alert_id"])) is not None and r.pid is not None
    )
    record = ledger.get(alert["alert_id"])
    assert record is not None and record.pid
    os.kill(record.pid, signal.SIGKILL)  # the machine "loses" the runner: did the command finish? unknown
    wait_for(
        lambda: ledger.reap() == 1 or getattr(ledger.get(alert["alert_id"]), "status", "") == "interrupted"
    )
    assert ledger.launch_due(config, time.time() + 3600) == []
    assert len(ran(tmp_path)) == 1


def test_a_failed_action_is_retried_with_backoff_then_succeeds(tmp_path: Path) -> None:
    ledger, config, alert = ledger_with(
        tmp_path, {"command": action_script(tmp_path, fail_code=3, fail_times=1), "retry_backoff": "2s"}
    )
    ledger.launch_due(config)
    wait_for(lambda: getattr(ledger.get(alert["alert_id"]), "status", "") == "failed")
    record = ledger.get(alert["alert_id"])
    assert record is not None and record.last["exit_status"] == 3 and record.next_at > time.time()
    assert ledger.launch_due(config) == []  # not before its backoff
    assert ledger.launch_due(config, time.time() + 2.5) == [alert["alert_id"]]
    wait_for(lambda: getattr(ledger.get(alert["alert_id"]), "status", "") == "succeeded")
    record = ledger.get(alert["alert_id"])
    assert (
        record is not None
        and [h.get("exit_status") for h in record.history] == [3, 0]
        and record.attempts == 2
    )


def test_timeouts_give_up_after_max_attempts_and_http_actions_get_the_alert(tmp_path: Path) -> None:
    ledger, config, alert = ledger_with(
        tmp_path, {"command": action_script(tmp_path, sleep=10), "timeout": "0.5s", "max_attempts": 1}
    )
    started = time.monotonic()
    ledger.launch_due(config)
    wait_for(lambda: getattr(ledger.get(alert["alert_id"]), "status", "") == "gave_up")
    assert time.monotonic() - started < 8
    record = ledger.get(alert["alert_id"])
    assert record is not None and "timed out" in record.last["error"]
    with HookServer() as server:
        ledger2, config2, alert2 = ledger_with(tmp_path / "http", {"url": server.url + "/act"})
        ledger2.launch_due(config2)
        wait_for(lambda: getattr(ledger2.get(alert2["alert_id"]), "status", "") == "succeeded")
        assert [r.json["alert_id"] for r in server.accepted] == [alert2["alert_id"]]


def test_dry_run_shows_what_would_run_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with HookServer(secret=SECRET) as hook:
        monkeypatch.setenv(
            "AGENT_PIPELINES_ALERTS_CONFIG", str(write_config(tmp_path, hook, action_script(tmp_path)))
        )
        write_loop(tmp_path / "logs")
        from agent_pipelines.live.alerts import append_alerts

        append_alerts(tmp_path / "logs", [alert_for()])
        folders = ["--logs-dir", str(tmp_path / "logs"), "--data-dir", str(tmp_path / "data")]
        capsys.readouterr()
        assert main(["alerts", "actions", "--dry-run", *folders]) == 0
        out = capsys.readouterr().out
        assert "would run command" in out and "act.py" in out and "1 action(s) would run" in out
        assert ran(tmp_path) == []
