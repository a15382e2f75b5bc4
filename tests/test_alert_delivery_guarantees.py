"""The outbox's guarantees for every receiver (issue 26): at least once, never twice per receiver and
alert, nothing lost on kill -9 or an outage, secrets redacted in what is stored, sent and reported."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hook_server import HookServer
from test_alert_routing import SECRET, alert, deliver

from agent_pipelines.live.notifiers.webhook import IDEMPOTENCY_HEADER
from agent_pipelines.live.routing import Router, parse_config

DELIVER = """
import json, sys
from pathlib import Path
from agent_pipelines.live.routing import Router, parse_config
from agent_pipelines.live.dispatch import make_sender
config, state = parse_config(json.loads(sys.argv[1])), Path(sys.argv[2])
router = Router(config, state, state / "telegram-outbox")
router.route(json.loads(sys.argv[3]))
router.flush()
router.deliver(lambda r: make_sender(r, lambda: None))
"""


def hook_config(url: str, timeout: str = "10s") -> dict[str, Any]:
    return {
        "receivers": [
            {"name": "orchestrator", "webhook": {"url": url, "secret": SECRET, "timeout": timeout}}
        ],
        "route": {"receiver": "orchestrator"},
    }


def test_kill_9_during_a_delivery_loses_nothing_and_the_key_lets_the_receiver_drop_the_repeat(
    tmp_path: Path,
) -> None:
    with HookServer(secret=SECRET, behaviour=["hang"], hang_s=1.0) as hook:
        state = tmp_path / "state"
        alerts = [alert("stuck_agent", "a1", 1), alert("stuck_agent", "a2", 2)]
        process = subprocess.Popen(
            [sys.executable, "-c", DELIVER, json.dumps(hook_config(hook.url)), str(state), json.dumps(alerts)]
        )
        deadline = time.monotonic() + 30
        while not hook.received and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # the request is in flight (the server is "hanging" on it)
        process.send_signal(signal.SIGKILL)
        process.wait()
        router = Router(parse_config(hook_config(hook.url)), state, state / "telegram-outbox")
        [message] = router.queues["orchestrator"].outbox.pending()
        assert sorted(message.alert_ids) == sorted(a["alert_id"] for a in alerts)
        time.sleep(1.0)  # let the hung request finish on the server's side
        router.route(alerts)  # the detector's recovery re-routes the same alerts: nothing new
        router.flush()
        assert deliver(router)["orchestrator"].sent == 1
        assert deliver(router) == {}
        keys = {r.headers[IDEMPOTENCY_HEADER] for r in hook.received}
        assert len(hook.accepted) == 1 and len(keys) == 1  # a repeat, if any, carries the same key


def test_a_crash_between_queueing_a_bundle_and_clearing_its_waiting_files_sends_it_once(
    tmp_path: Path,
) -> None:
    with HookServer(secret=SECRET) as hook:
        state = tmp_path / "state"
        router = Router(parse_config(hook_config(hook.url)), state, state / "t")
        alerts = [alert("stuck_agent", f"a{i}", i) for i in range(3)]
        router.route(alerts)
        waiting = state / "receivers" / "orchestrator" / "waiting"
        saved = tmp_path / "saved"
        shutil.copytree(waiting, saved)
        assert router.flush() == 1
        shutil.rmtree(waiting)
        shutil.copytree(saved, waiting)  # as if kill -9 came before the deletes
        assert router.flush() == 0 and not list(waiting.glob("*.json"))
        deliver(router)
        assert len(hook.accepted) == 1 and len(hook.accepted[0].json["alert_ids"]) == 3


def test_an_outage_keeps_everything_in_order_until_the_receiver_is_back(tmp_path: Path) -> None:
    with HookServer(secret=SECRET, behaviour=["500"] * 3) as hook:
        state = tmp_path / "state"
        router = Router(parse_config(hook_config(hook.url)), state, state / "t")
        first, second = alert("stuck_agent", "a1", 1), alert("stuck_agent", "a2", 2)
        router.route([first])
        router.flush()
        assert deliver(router)["orchestrator"].pending == 1
        router.route([second], time.time() + 400)
        router.flush(time.time() + 400)
        assert deliver(router)["orchestrator"].pending == 2
        assert deliver(router)["orchestrator"].pending == 2
        assert deliver(router)["orchestrator"].sent == 2
        assert [r.json["alert_ids"] for r in hook.accepted] == [[first["alert_id"]], [second["alert_id"]]]


def test_secrets_are_redacted_in_what_is_stored_sent_and_reported(tmp_path: Path) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    url_token = "xoxb-1234567890-abcdefghijklmnop"
    raw = {**alert("error_loop", "a1"), "sample_message": f"git push failed with {token}"}
    with HookServer(secret=SECRET, behaviour=["500"]) as hook:
        state = tmp_path / "state"
        config = {
            "receivers": [
                {"name": "orchestrator", "webhook": {"url": hook.url, "secret": SECRET}},
                {"name": "team-slack", "apprise": f"mmost://127.0.0.1:1/{url_token}"},  # nobody listens
            ],
            "route": {
                "routes": [{"receiver": "orchestrator", "continue": True}, {"receiver": "team-slack"}],
            },
        }
        router = Router(parse_config(config), state, state / "t")
        router.route([raw])
        router.flush()
        results = deliver(router)
        deliver(router)
        stored = "".join(p.read_text(errors="replace") for p in state.rglob("*") if p.is_file())
        sent = b"".join(r.body for r in hook.received).decode()
        reported = " ".join(str(r.last_error) for r in results.values())
        assert results["team-slack"].failed == 1 and hook.accepted
        for secret in (token, SECRET, url_token):
            assert secret not in stored and secret not in sent and secret not in reported
        assert "[REDACTED" in sent or "REDACTED" in sent
