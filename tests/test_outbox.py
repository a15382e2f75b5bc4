"""Outbox: no alert lost, none sent twice — through the real fake Telegram server."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import DEFAULT_TOKEN, FakeTelegram

from agent_pipelines.live.notifiers import enqueue_alerts, enqueue_text
from agent_pipelines.live.notifiers.outbox import Outbox, stable_key
from agent_pipelines.live.notifiers.telegram import TelegramClient

CHAT = "77"


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=DEFAULT_TOKEN, chat_ids={CHAT}) as server:
        yield server


def client_for(base: str, **kwargs: Any) -> TelegramClient:
    options: dict[str, Any] = {"timeout": 1.0, "max_retries": 1, "backoff_base": 0.01, "backoff_max": 0.02}
    options.update(kwargs)
    return TelegramClient(DEFAULT_TOKEN, CHAT, api_base=base, **options)


def test_enqueue_is_idempotent_and_ordered(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    assert box.enqueue("k1", "first")
    assert box.enqueue("k2", "second")
    assert not box.enqueue("k1", "first again")  # pending: ignored
    assert [m.key for m in box.pending()] == ["k1", "k2"]
    result = box.deliver(client_for(tg.api_base))
    assert (result.sent, result.failed, result.pending) == (2, 0, 0)
    assert tg.texts() == ["first", "second"]
    assert not box.enqueue("k1", "first once more")  # delivered: ignored
    assert box.deliver(client_for(tg.api_base)).sent == 0
    assert tg.texts() == ["first", "second"]


def test_server_down_keeps_pending_then_delivers_exactly_once(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    for i in range(3):
        box.enqueue(f"k{i}", f"msg {i}")
    tg.stop()
    result = box.deliver(client_for(tg.api_base))
    assert (result.sent, result.failed, result.pending) == (0, 1, 3)
    assert result.last_error and DEFAULT_TOKEN not in result.last_error
    assert box.pending()[0].attempts == 1
    assert box.pending()[0].last_error == result.last_error
    tg.start()  # same port
    result = box.deliver(client_for(tg.api_base))
    assert (result.sent, result.failed, result.pending) == (3, 0, 0)
    assert box.deliver(client_for(tg.api_base)).sent == 0
    assert tg.texts() == ["msg 0", "msg 1", "msg 2"]


def test_failure_midway_keeps_order_and_rest_pending(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    for i in range(4):
        box.enqueue(f"k{i}", f"msg {i}")
    client = client_for(tg.api_base, max_retries=0)
    assert box.deliver(client, max_messages=1).sent == 1
    tg.fail_next(1, status=503)
    result = box.deliver(client)
    assert (result.sent, result.failed, result.pending) == (0, 1, 3)
    assert "503" in (result.last_error or "")
    result = box.deliver(client)
    assert (result.sent, result.pending) == (3, 0)
    assert tg.texts() == ["msg 0", "msg 1", "msg 2", "msg 3"]


def test_restart_while_pending_new_outbox_instance(tmp_path: Path, tg: FakeTelegram) -> None:
    """Process restart: a fresh Outbox over the same directory sees and delivers the backlog."""
    Outbox(tmp_path / "outbox").enqueue("a", "survives restarts")
    tg.restart()
    tg.fail_next(5, status=500)
    first = Outbox(tmp_path / "outbox").deliver(client_for(tg.api_base, max_retries=0))
    assert first.pending == 1 and first.sent == 0
    tg.restart()
    tg.clear_script()
    second = Outbox(tmp_path / "outbox").deliver(client_for(tg.api_base))
    assert second.sent == 1
    assert tg.texts() == ["survives restarts"]


def test_server_restarts_during_delivery_run(tmp_path: Path, tg: FakeTelegram) -> None:
    """The server goes away after the first message; the rest wait and go out once it is back."""
    box = Outbox(tmp_path / "outbox")
    for i in range(3):
        box.enqueue(f"k{i}", f"m{i}")

    class StopAfterFirst:
        def __init__(self, inner: TelegramClient) -> None:
            self.inner = inner
            self.calls = 0

        def send_message(self, text: str, parse_mode: str | None = "HTML") -> dict[str, Any]:
            self.calls += 1
            if self.calls == 2:
                tg.stop()
            return self.inner.send_message(text, parse_mode=parse_mode)

    result = box.deliver(StopAfterFirst(client_for(tg.api_base)))
    assert (result.sent, result.failed, result.pending) == (1, 1, 2)
    tg.start()
    assert box.deliver(client_for(tg.api_base)).sent == 2
    assert tg.texts() == ["m0", "m1", "m2"]


def test_crash_after_journal_before_unlink_does_not_resend(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    box.enqueue("k", "once")
    # Simulate: Telegram accepted, journal written, crash before the pending file was removed.
    (tmp_path / "outbox" / "delivered.jsonl").write_text(json.dumps({"key": "k"}) + "\n")
    result = box.deliver(client_for(tg.api_base))
    assert (result.sent, result.skipped, result.pending) == (0, 1, 0)
    assert tg.texts() == []


def test_torn_journal_line_is_tolerated(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    (tmp_path / "outbox" / "delivered.jsonl").write_text('{"key": "old"}\n{"key": "tor')
    box.enqueue("new", "hello")
    assert box.deliver(client_for(tg.api_base)).sent == 1
    lines = (tmp_path / "outbox" / "delivered.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["key"] == "new"
    assert box.delivered_keys() >= {"old", "new"}


def test_permanent_rejection_goes_to_dead_letter_and_queue_moves_on(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    box.enqueue("bad", "<b>unbalanced")
    box.enqueue("good", "fine")
    result = box.deliver(client_for(tg.api_base))
    assert (result.sent, result.dead, result.pending) == (1, 1, 0)
    assert [m.key for m in box.dead()] == ["bad"]
    assert "can't parse entities" in (box.dead()[0].last_error or "")
    assert tg.texts() == ["fine"]
    assert not box.enqueue("bad", "<b>unbalanced")  # still known: no duplicate queueing


def test_wrong_token_keeps_everything_pending(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    box.enqueue("k1", "one")
    box.enqueue("k2", "two")
    bad = TelegramClient("111111111:AAwrongwrongwrongwrongwrongwrongwrong", CHAT, api_base=tg.api_base)
    result = box.deliver(bad)
    assert (result.sent, result.failed, result.pending, result.dead) == (0, 1, 2, 0)
    assert "AAwrong" not in (result.last_error or "")
    assert box.deliver(client_for(tg.api_base)).sent == 2


def test_rate_limited_message_is_retried_in_call(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    box.enqueue("k", "later")
    tg.rate_limit_next(1, retry_after=1)
    result = box.deliver(client_for(tg.api_base, max_retry_after=5))
    assert result.sent == 1
    assert [r.status for r in tg.requests] == [429, 200]


def test_history_is_bounded_and_compacted(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox", history_limit=4)
    client = client_for(tg.api_base)
    for i in range(10):
        box.enqueue(f"k{i}", f"m{i}")
        box.deliver(client)
    keys = box.delivered_keys()
    assert len(keys) <= 6
    assert "k9" in keys and "k0" not in keys
    assert not box.enqueue("k9", "again")


def test_concurrent_deliverers_never_double_send(tmp_path: Path, tg: FakeTelegram) -> None:
    box_path = tmp_path / "outbox"
    box = Outbox(box_path)
    for i in range(20):
        box.enqueue(f"k{i}", f"m{i}")
    tg.delay_next(3, seconds=0.1)  # widen the race window
    results = []

    def run() -> None:
        results.append(Outbox(box_path).deliver(client_for(tg.api_base, timeout=5)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while Outbox(box_path).pending():  # threads that found the lock busy left work for later
        Outbox(box_path).deliver(client_for(tg.api_base))
    assert sorted(tg.texts(), key=lambda t: int(t[1:])) == [f"m{i}" for i in range(20)]
    assert len(tg.texts()) == 20
    assert sum(r.sent for r in results) <= 20
    assert any(r.busy for r in results) or sum(r.sent for r in results) == 20


def _deliver_in_process(box_path: str, base: str, queue: Any) -> None:
    result = Outbox(box_path).deliver(client_for(base, timeout=5))
    queue.put((result.sent, result.busy))


def test_two_processes_delivering_do_not_double_send(tmp_path: Path, tg: FakeTelegram) -> None:
    box_path = tmp_path / "outbox"
    box = Outbox(box_path)
    for i in range(6):
        box.enqueue(f"k{i}", f"m{i}")
    tg.delay_next(6, seconds=0.1)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_deliver_in_process, args=(str(box_path), tg.api_base, queue)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=20)
    outcomes = [queue.get(timeout=5) for _ in procs]
    assert sum(sent for sent, _ in outcomes) == 6
    assert any(busy for _, busy in outcomes)
    assert tg.texts() == [f"m{i}" for i in range(6)]


def test_enqueue_alerts_digest_is_idempotent_per_alert(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    alerts = [
        {
            "alert_id": f"al-{i}",
            "type": "tool_loop",
            "attempt_id": f"ve-{i}",
            "executor": "copilot",
            "tool_name": "Bash",
            "occurrences": 12,
            "window_ms": 60_000,
            "recommendation": "fresh_session",
        }
        for i in range(5)
    ]
    assert enqueue_alerts(box, alerts) == 1  # one digest message
    assert enqueue_alerts(box, alerts) == 0  # same batch again: nothing
    box.deliver(client_for(tg.api_base))
    assert enqueue_alerts(box, alerts[:3]) == 0  # already delivered alerts are never repeated
    new = {**alerts[0], "alert_id": "al-new"}
    assert enqueue_alerts(box, [*alerts, new]) == 1  # only the new one
    box.deliver(client_for(tg.api_base))
    texts = tg.texts()
    assert len(texts) == 2
    assert texts[0].startswith("🚨 <b>5 agent alerts</b>")
    assert "TOOL LOOP DETECTED" in texts[1]  # a single new alert gets the full format


def test_secrets_in_alerts_are_redacted_before_they_reach_telegram(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    leaky = {
        "alert_id": "al-leak",
        "type": "error_loop",
        "attempt_id": "ve-leak",
        "executor": "codex",
        "error_fingerprint": "auth_failed",
        "occurrences": 3,
        "window_ms": 600_000,
        "sample_message": "curl -H 'Authorization: Bearer sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUVWXYZ' "
        "password=hunter2 ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "recommendation": "trigger_ai_autofix",
    }
    enqueue_alerts(box, [leaky])
    on_disk = "".join(p.read_text() for p in (tmp_path / "outbox" / "pending").glob("*.json"))
    assert "hunter2" not in on_disk  # redacted before it is even persisted
    box.deliver(client_for(tg.api_base))
    (text,) = tg.texts()
    for secret in ("sk-ant-api03", "hunter2", "ghp_abc"):
        assert secret not in text
    assert "password=[REDACTED]" in text


def test_enqueue_text_splits_long_reports(tmp_path: Path, tg: FakeTelegram) -> None:
    box = Outbox(tmp_path / "outbox")
    report = "\n".join(f"attempt ve-{i:04d}: 12 sessions, $3.21" for i in range(400))
    queued = enqueue_text(box, "weekly:2025-W01", report, title="Weekly report")
    assert queued > 1
    assert enqueue_text(box, "weekly:2025-W01", report, title="Weekly report") == 0
    assert box.deliver(client_for(tg.api_base)).sent == queued
    assert "ve-0399" in tg.texts()[-1]


def test_stable_key_is_order_insensitive() -> None:
    assert stable_key("a", "b") == stable_key("b", "a")
    assert stable_key("a", "b") != stable_key("a", "c")
