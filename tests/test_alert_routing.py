"""Routing alerts (issue 26) against real local HTTP servers: apprise to a Slack-shaped webhook, our
signed webhook, receivers that answer 500 / 429 or hang; bundling; silences; one-line config errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hook_server import HookServer

from agent_pipelines.live.alerts import make_alert
from agent_pipelines.live.dispatch import make_sender
from agent_pipelines.live.notifiers.webhook import IDEMPOTENCY_HEADER
from agent_pipelines.live.routing import (
    AlertsConfigError,
    Router,
    SilenceStore,
    load_config,
    parse_config,
    resolve,
)

SECRET = "s3cret-hmac-key-for-tests"


def alert(kind: str, attempt: str, n: int = 0, executor: str = "CODEX") -> dict[str, Any]:
    extra: dict[str, Any] = {
        "error_loop": {"error_fingerprint": "ts", "occurrences": 4, "sample_message": "boom"},
        "stuck_agent": {"idle_time_ms": 400_000, "threshold_ms": 300_000},
        "cost_anomaly": {"cost_usd": 3.2, "duration_ms": 1, "threshold_usd": 1.0},
    }[kind]
    return make_alert(
        kind, attempt, f"k{n}", int(time.time() * 1000), task_id="task-1", executor=executor, **extra
    )


def config(slack: HookServer, hook: HookServer, **route: Any) -> Any:
    return parse_config(
        {
            "receivers": [
                {"name": "team-slack", "apprise": f"mmost://127.0.0.1:{slack.port}/slacktoken0123456789"},
                {
                    "name": "orchestrator",
                    "webhook": {"url": hook.url + "/alerts", "secret": SECRET, "timeout": "1s"},
                },
            ],
            "route": {
                "group_wait": "0s",
                **route,
                "routes": [
                    {"match": {"type": "error_loop"}, "receiver": "team-slack", "continue": True},
                    {"match": {"type": ["stuck_agent", "error_loop"]}, "receiver": "orchestrator"},
                ],
            },
        }
    )


def deliver(router: Router) -> dict[str, Any]:
    return router.deliver(lambda r: make_sender(r, lambda: None))


def test_each_alert_reaches_each_matching_receiver_once(tmp_path: Path) -> None:
    with HookServer() as slack, HookServer(secret=SECRET) as hook:
        router = Router(config(slack, hook), tmp_path / "state", tmp_path / "state" / "telegram-outbox")
        loop, stuck, cost = alert("error_loop", "a1"), alert("stuck_agent", "a2"), alert("cost_anomaly", "a3")
        outcome = router.route([loop, stuck, cost])
        assert outcome.routed == {
            loop["alert_id"]: ["team-slack", "orchestrator"],
            stuck["alert_id"]: ["orchestrator"],
        }
        assert outcome.unrouted == [cost["alert_id"]]  # no default receiver: goes nowhere
        router.flush()
        deliver(router)
        # A rerun over the same alerts (a retried detector run) and more delivery passes change nothing.
        router.route([loop, stuck, cost])
        router.flush()
        deliver(router)
        deliver(router)
        assert len(slack.accepted) == 1 and slack.accepted[0].path == "/hooks/slacktoken0123456789"
        assert "error_loop" in slack.accepted[0].json["text"]  # Slack's shape: {"text": ...}
        assert [r.status for r in hook.received] == [200]  # the signature checked out
        # One run's alerts for one receiver are one message (group_wait 0 still bundles a run).
        ids = [i for r in hook.accepted for i in r.json["alert_ids"]]
        assert sorted(ids) == sorted([loop["alert_id"], stuck["alert_id"]])
        assert hook.accepted[0].headers[IDEMPOTENCY_HEADER] == hook.accepted[0].json["idempotency_key"]
        assert router.delivered()[loop["alert_id"]] == ["team-slack", "orchestrator"]


def test_a_wrong_signature_is_refused_and_stays_pending(tmp_path: Path) -> None:
    with HookServer() as slack, HookServer(secret="another-secret-entirely") as hook:
        router = Router(config(slack, hook), tmp_path / "state", tmp_path / "t")
        router.route([alert("stuck_agent", "a2")])
        router.flush()
        result = deliver(router)["orchestrator"]
        assert hook.received[0].status == 401 and result.pending == 1 and result.sent == 0


def test_a_burst_of_twenty_within_group_wait_is_one_message(tmp_path: Path) -> None:
    with HookServer() as slack, HookServer(secret=SECRET) as hook:
        router = Router(config(slack, hook, group_wait="30s"), tmp_path / "state", tmp_path / "t")
        now = time.time()
        burst = [alert("stuck_agent", f"att-{i}", i) for i in range(20)]
        for i, a in enumerate(burst):  # arriving over 10 seconds, one detector run each
            router.route([a], now + i / 2)
            assert router.flush(now + i / 2) == 0
        assert router.flush(now + 29) == 0
        assert router.next_due() == pytest.approx(now + 30)
        assert router.flush(now + 31) == 1
        deliver(router)
        assert len(hook.accepted) == 1
        body = hook.accepted[0].json
        assert sorted(body["alert_ids"]) == sorted(a["alert_id"] for a in burst)
        assert hook.accepted[0].headers[IDEMPOTENCY_HEADER] == body["idempotency_key"]
        # An alert after the message waits for group_interval (default 5 min), then goes alone.
        late = alert("stuck_agent", "att-late", 99)
        router.route([late], now + 40)
        assert router.flush(now + 100) == 0 and router.flush(now + 31 + 301) == 1


def test_failing_receivers_keep_their_messages_and_do_not_hold_up_others(tmp_path: Path) -> None:
    with (
        HookServer() as slack,
        HookServer(secret=SECRET, behaviour=["hang", "500", "429"], hang_s=2.5) as hook,
    ):
        router = Router(config(slack, hook), tmp_path / "state", tmp_path / "t")
        loop = alert("error_loop", "a1")
        router.route([loop])
        router.flush()
        started = time.monotonic()
        first = deliver(router)
        assert time.monotonic() - started < 2.4  # the hang costs the webhook's 1 s timeout, not more
        assert first["team-slack"].sent == 1 and first["orchestrator"].pending == 1
        assert deliver(router)["orchestrator"].pending == 1  # 500
        assert deliver(router)["orchestrator"].pending == 1  # 429
        assert deliver(router)["orchestrator"].sent == 1
        assert deliver(router) == {}
        assert len(hook.accepted) == 1 and len(slack.accepted) == 1
        # The hung request may reach the server after we gave up: the idempotency key lets it drop it.
        assert {r.headers[IDEMPOTENCY_HEADER] for r in hook.received} == {loop["alert_id"]}


def test_a_silenced_alert_reaches_nobody_and_is_recorded(tmp_path: Path) -> None:
    with HookServer() as slack, HookServer(secret=SECRET) as hook:
        state = tmp_path / "state"
        router = Router(config(slack, hook), state, tmp_path / "t")
        silence = SilenceStore(state).add(
            {"type": "error_loop", "executor": "CODEX"}, 3600, "known flaky test"
        )
        held, other = alert("error_loop", "a1"), alert("error_loop", "a9", executor="CLAUDE")
        outcome = router.route([held, other])
        router.flush()
        deliver(router)
        assert outcome.silenced == {held["alert_id"]: silence.id}
        texts = [r.body.decode() for r in slack.accepted + hook.accepted]
        assert texts and not any(held["alert_id"] in t for t in texts if "alert_ids" in t)
        assert (
            len(slack.accepted) == 1
            and "a9" in slack.accepted[0].json["text"]
            and "a1" not in slack.accepted[0].json["text"]
        )
        assert SilenceStore(state).silenced_ids() == {held["alert_id"]: silence.id}
        assert SilenceStore(state).expire(silence.id) and not SilenceStore(state).active()


def test_routing_tree_is_alertmanagers() -> None:
    cfg = parse_config(
        {
            "receivers": [{"name": n, "webhook": {"url": "http://x/"}} for n in ("default", "ops", "cost")],
            "route": {
                "receiver": "default",
                "group_wait": "10s",
                "routes": [
                    {"match": {"severity": "high"}, "receiver": "ops", "group_wait": "1s", "continue": True},
                    {
                        "match_re": {"executor": "CLAUDE.*"},
                        "receiver": "cost",
                        "routes": [{"match": {"type": "cost_anomaly"}}],
                    },
                ],
            },
        }
    )
    high = alert("error_loop", "a", executor="CODEX")
    assert [(n, t.group_wait) for n, t in resolve(cfg, high)] == [("ops", 1.0)]
    assert [n for n, _ in resolve(cfg, alert("cost_anomaly", "b", executor="CLAUDE_CODE"))] == ["cost"]
    assert [(n, t.group_wait) for n, t in resolve(cfg, alert("stuck_agent", "c"))] == [("default", 10.0)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("route: {receiver: nobody}", "receiver 'nobody'"),
        ("receivers: [{name: a, webhook: {url: 'ftp://x'}}]", "receivers.0.webhook.url"),
        ("route: {group_wait: soon}", "route.group_wait"),
        ("route: {routes: [{match: {colour: red}}]}", "cannot match on colour"),
        ("actions: {make_coffee: {command: [true]}}", "actions.make_coffee"),
        (
            "receivers: [{name: a, webhook: {url: 'http://x/', secret: '${NOT_SET_ANYWHERE_X}'}}]",
            "NOT_SET_ANYWHERE_X",
        ),
        ("route: [", "line"),
    ],
)
def test_a_bad_file_fails_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(AlertsConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value) and "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_no_file_means_no_routing_and_the_example_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_config(tmp_path / "missing.yaml") is None
    for name in ("SLACK_WEBHOOK_URL", "ORCHESTRATOR_URL", "ORCHESTRATOR_SECRET", "SMTP_URL"):
        monkeypatch.setenv(
            name, "mailto://u:p@example.org" if name == "SMTP_URL" else "https://example.org/x"
        )
    example = load_config(Path(__file__).parent.parent / "config" / "alerts.example.yaml")
    assert example is not None and {r.name for r in example.receivers} >= {"team-slack", "orchestrator"}
    assert json.dumps(example.model_dump(mode="json"))  # plain data, nothing unserialisable
