"""One attempt of one action, in its own process: ``python -m agent_pipelines.live.actions.runner
<state_dir> <alert_id> <attempt> <alerts.yaml>``.

Started detached by :meth:`~agent_pipelines.live.actions.ledger.ActionLedger.launch_due`. It claims the
entry (``launching`` → ``running``, under the lock, only for the attempt it was started for), runs the
command with the alert JSON on stdin or POSTs it to the URL, within the action's timeout, and records
the exit status or HTTP status and the output (redacted, truncated). The action's settings are read
from the configuration file here, so no secret (a header, a token in a URL) is written to the ledger.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from agent_pipelines.live.actions.ledger import OUTPUT_CHARS, ActionLedger
from agent_pipelines.live.routing.config import Action, AlertsConfigError, load_config
from agent_pipelines.text.redaction import redact


def run_command(action: Action, body: bytes) -> dict[str, Any]:
    """Run the command (its own process group, killed whole on timeout); exit status and output."""
    assert action.command is not None
    try:
        process = subprocess.Popen(
            action.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return {"ok": False, "error": f"cannot start: {exc.strerror or exc}"}
    try:
        output, _ = process.communicate(body, timeout=action.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return {"ok": False, "exit_status": None, "error": f"timed out after {action.timeout:g}s",
                "output": _text(output)}  # fmt: skip
    return {"ok": process.returncode == 0, "exit_status": process.returncode, "output": _text(output)}


def run_http(action: Action, body: bytes) -> dict[str, Any]:
    """POST the alert JSON; 2xx is success."""
    import requests

    try:
        response = requests.post(
            str(action.url),
            data=body,
            headers={"Content-Type": "application/json", **action.headers},
            timeout=action.timeout,
        )
    except requests.Timeout:
        return {"ok": False, "error": f"timed out after {action.timeout:g}s"}
    except requests.RequestException as exc:
        return {"ok": False, "error": f"request failed ({type(exc).__name__})"}
    return {
        "ok": 200 <= response.status_code < 300,
        "http_status": response.status_code,
        "output": _text(response.content),
    }


def _text(data: bytes | None) -> str:
    return redact((data or b"").decode("utf-8", "replace"))[-OUTPUT_CHARS:]


def main(argv: list[str]) -> int:
    state_dir, alert_id, attempt, config_path = argv[:4]
    ledger = ActionLedger(state_dir)
    with ledger.lock():
        record = ledger.get(alert_id)
        if record is None or record.status != "launching" or record.attempts != int(attempt):
            return 0  # another runner has it, or it is done: at most once
        record.status, record.pid = "running", os.getpid()
        ledger.put(record)
    started = time.time()
    try:
        config = load_config(config_path)
        action = config.actions.get(record.recommendation) if config else None  # type: ignore[call-overload]
    except AlertsConfigError as exc:
        action, outcome = None, {"ok": False, "error": str(exc)}
    if action is None:
        outcome = {"ok": False, "error": "the action is no longer configured"}
    else:
        body = json.dumps(record.alert, ensure_ascii=False).encode("utf-8")
        outcome = run_command(action, body) if action.command is not None else run_http(action, body)
    with ledger.lock():
        record = ledger.get(alert_id) or record
        outcome = {"attempt": record.attempts, "started_at": started, "finished_at": time.time(), **outcome}
        record.history.append(outcome)
        if outcome.pop("ok"):
            record.status = "succeeded"
        elif record.attempts >= record.max_attempts or action is None:
            record.status = "gave_up"
        else:
            record.status = "failed"
            record.next_at = time.time() + record.retry_backoff * 2 ** (record.attempts - 1)
        record.pid = None
        ledger.put(record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
