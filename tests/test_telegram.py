"""TelegramClient and formatting, end to end through a real local HTTP server (tests/fake_telegram.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fake_telegram import DEFAULT_TOKEN, FakeTelegram, parse_html_text

from agent_pipelines.core.settings import Settings
from agent_pipelines.live.notifiers.format import (
    format_alert,
    format_alert_compact,
    format_digest,
    format_text,
)
from agent_pipelines.live.notifiers.html_split import (
    TELEGRAM_MAX_MESSAGE_LENGTH,
    split_html,
    telegram_len,
    utf16_len,
)
from agent_pipelines.live.notifiers.telegram import TelegramClient, TelegramError, TelegramRateLimited
from agent_pipelines.orchestration.resources import TelegramResource, _reset_warning_for_tests

CHAT = "4242"


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=DEFAULT_TOKEN, chat_ids={CHAT}) as server:
        yield server


def make_client(tg: FakeTelegram, **kwargs: Any) -> TelegramClient:
    options: dict[str, Any] = {
        "timeout": 2.0,
        "max_retries": 3,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "max_total_time": 10.0,
        "max_retry_after": 5.0,
    }
    options.update(kwargs)
    token = options.pop("token", DEFAULT_TOKEN)
    return TelegramClient(token, CHAT, api_base=tg.api_base, **options)


def alert(i: int = 0, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "alert_id": f"al-{i:04d}",
        "timestamp": "2025-01-01T00:00:00Z",
        "type": "error_loop",
        "attempt_id": f"ve-a1b2-implement-auth-{i}",
        "task_id": "t-1",
        "executor": "codex",
        "recommendation": "trigger_ai_autofix",
        "severity": "warning",
        "error_fingerprint": "git_push_failed",
        "occurrences": 4,
        "sample_message": "remote: Permission denied",
        "window_ms": 600_000,
    }
    base.update(extra)
    return base


# -- client --------------------------------------------------------------------------------------


def test_send_message_success_payload_and_result(tg: FakeTelegram) -> None:
    with make_client(tg) as client:
        result = client.send_message("<b>hello</b> &amp; bye")
    assert result["message_id"] == 1
    assert result["chat"]["id"] == int(CHAT)
    assert result["text"] == "hello & bye"
    (req,) = tg.requests
    assert req.method == "sendMessage"
    assert req.payload == {
        "chat_id": CHAT,
        "text": "<b>hello</b> &amp; bye",
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


def test_get_me(tg: FakeTelegram) -> None:
    with make_client(tg) as client:
        assert client.get_me()["is_bot"] is True


def test_500_then_success_is_retried(tg: FakeTelegram) -> None:
    tg.fail_next(2, status=500)
    with make_client(tg) as client:
        client.send_message("after two failures")
    assert [r.status for r in tg.requests] == [500, 500, 200]
    assert tg.texts() == ["after two failures"]


def test_5xx_gives_up_after_max_retries(tg: FakeTelegram) -> None:
    tg.fail_next(10, status=502)
    with make_client(tg, max_retries=2) as client, pytest.raises(TelegramError) as info:
        client.send_message("never")
    assert info.value.retryable
    assert info.value.status == 502
    assert len(tg.requests) == 3


class FakeTime:
    """A clock that moves only when the client sleeps: waits are recorded, never spent."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_total_time_budget_bounds_retries(tg: FakeTelegram) -> None:
    tg.fail_next(10, status=500)
    t = FakeTime()
    client = make_client(
        tg,
        max_retries=10,
        backoff_base=0.2,
        backoff_max=0.2,
        max_total_time=0.5,
        sleep=t.sleep,
        clock=t.clock,
    )
    with pytest.raises(TelegramError):
        client.send_message("x")
    # Waits of 0.1-0.2 s each: the client stops before one would pass 0.5 s since the call began.
    assert 0 < sum(t.sleeps) <= 0.5
    assert len(t.sleeps) >= 2
    assert len(tg.requests) == len(t.sleeps) + 1 < 10


def test_429_retry_after_is_honoured(tg: FakeTelegram) -> None:
    tg.rate_limit_next(1, retry_after=1)
    t = FakeTime()
    with make_client(tg, sleep=t.sleep, clock=t.clock) as client:
        client.send_message("patience")
    first, second = tg.requests
    assert (first.status, second.status) == (429, 200)
    assert t.sleeps == [1.0]
    assert tg.texts() == ["patience"]


def test_429_longer_than_cap_raises_rate_limited_without_waiting(tg: FakeTelegram) -> None:
    tg.rate_limit_next(1, retry_after=30)
    t = FakeTime()
    with (
        make_client(tg, max_retry_after=2, sleep=t.sleep, clock=t.clock) as client,
        pytest.raises(TelegramRateLimited) as info,
    ):
        client.send_message("later")
    assert t.sleeps == []
    assert info.value.retry_after == 30
    assert info.value.retryable
    assert len(tg.requests) == 1


def test_timeout_is_retried(tg: FakeTelegram) -> None:
    # Timeouts with room to spare: on a loaded machine a local round trip can take a few hundred ms,
    # and a retry that also timed out would fail the test for the wrong reason.
    tg.delay_next(1, seconds=2.5, deliver=False)
    with make_client(tg, timeout=1.0) as client:
        client.send_message("slow network")
    assert tg.texts() == ["slow network"]
    assert len(tg.requests) >= 1


def test_read_timeout_after_telegram_accepted_can_duplicate(tg: FakeTelegram) -> None:
    """The documented duplicate window: Telegram posted the message but we timed out waiting."""
    tg.delay_next(1, seconds=2.0, deliver=True)
    with make_client(tg, timeout=1.0) as client:
        client.send_message("maybe twice")
    tg.wait_for_messages(2, timeout=5)
    assert tg.texts() == ["maybe twice", "maybe twice"]


def test_connection_refused_is_retried_then_raised_without_token() -> None:
    server = FakeTelegram()
    server.start()
    base = server.api_base
    server.stop()
    client = TelegramClient(DEFAULT_TOKEN, CHAT, api_base=base, timeout=0.5, max_retries=1, backoff_base=0.01)
    with pytest.raises(TelegramError) as info:
        client.send_message("nobody home")
    err = info.value
    assert err.retryable
    assert DEFAULT_TOKEN not in str(err)
    assert DEFAULT_TOKEN not in repr(err)
    assert err.__context__ is None and err.__cause__ is None  # no chain carrying the raw URL
    assert "/bot[REDACTED]/" in str(err) or "connection" in str(err).lower()


def test_wrong_token_clear_error_and_no_token_in_logs(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "987654321:AAwrongTokenButRealisticShape_0123456789"
    with caplog.at_level(logging.DEBUG):
        with make_client(tg, token=wrong) as client, pytest.raises(TelegramError) as info:
            client.send_message("hi")
        logging.getLogger("agent_pipelines.test").error("failed: %s (%r)", info.value, client)
    err = info.value
    assert err.status == 401
    assert not err.retryable
    assert err.is_auth_error
    assert "Unauthorized" in str(err)
    assert "TELEGRAM_BOT_TOKEN" in str(err)
    assert len(tg.requests) == 1  # 4xx is not retried
    for secret in (wrong, "AAwrongTokenButRealisticShape"):
        assert secret not in str(err)
        assert secret not in caplog.text  # includes urllib3's DEBUG request lines
    assert "token='***'" in repr(client)
    assert wrong not in repr(client) and wrong not in str(client)


def test_bad_request_is_not_retried(tg: FakeTelegram) -> None:
    with make_client(tg) as client, pytest.raises(TelegramError) as info:
        client.send_message("<b>unbalanced")
    assert info.value.status == 400
    assert "can't parse entities" in str(info.value)
    assert len(tg.requests) == 1


def test_unknown_chat_is_a_clear_error(tg: FakeTelegram) -> None:
    client = TelegramClient(DEFAULT_TOKEN, "999", api_base=tg.api_base, max_retries=0)
    with pytest.raises(TelegramError, match=r"chat not found.*TELEGRAM_CHAT_ID"):
        client.send_message("hi")


def test_token_inside_text_is_scrubbed_before_sending(tg: FakeTelegram) -> None:
    with make_client(tg) as client:
        client.send_message(f"oops the token is {DEFAULT_TOKEN}")
    assert DEFAULT_TOKEN not in tg.texts()[0]


def test_fake_server_restarts_on_same_port() -> None:
    with FakeTelegram() as server:
        port = server.port
        server.restart()
        assert server.port == port
        client = TelegramClient(DEFAULT_TOKEN, CHAT, api_base=server.api_base, max_retries=0)
        client.send_message("still here")
        assert server.texts() == ["still here"]


def test_fake_server_accepts_form_bodies(tg: FakeTelegram) -> None:
    import requests

    response = requests.post(
        f"{tg.api_base}/bot{DEFAULT_TOKEN}/sendMessage", data={"chat_id": CHAT, "text": "form"}, timeout=5
    )
    assert response.json()["ok"] is True
    assert tg.texts() == ["form"]


# -- formatting ----------------------------------------------------------------------------------


def test_format_alert_matches_seed_layout() -> None:
    text = format_alert(alert(sample_message=""))
    assert text == (
        "⚠️ <b>ERROR LOOP DETECTED</b>\n"
        "Attempt: ve-a1b2-implement-auth-0\n"
        "Executor: CODEX\n"
        "Error: git_push_failed (4 occurrences in 10 min)\n"
        "Recommendation: trigger_ai_autofix"
    )
    tool = format_alert(
        {
            "type": "tool_loop",
            "attempt_id": "ve-c3d4-refactor-api",
            "executor": "copilot",
            "tool_name": "Bash",
            "occurrences": 12,
            "window_ms": 60_000,
            "recommendation": "fresh_session",
        }
    )
    assert "TOOL LOOP DETECTED" in tool and "Tool: Bash (12 calls in 1 min)" in tool
    cost = format_alert(
        {
            "type": "cost_anomaly",
            "attempt_id": "ve-x9y8-complex-migration",
            "cost_usd": 1.23,
            "threshold_usd": 1.0,
            "duration_ms": 510_000,
            "recommendation": "review_prompt_efficiency",
        }
    )
    assert cost.startswith("ℹ️ <b>COST ANOMALY</b>")
    assert "Cost: $1.23 (threshold: $1.00)\nDuration: 8.5 minutes" in cost


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"type": "stuck_agent", "idle_time_ms": 900_000, "threshold_ms": 600_000}, "Idle: 15 minutes"),
        ({"type": "excessive_restarts", "restart_count": 5}, "Restarts: 5"),
        ({"type": "failed_session_errors", "error_count": 7}, "Errors: 7"),
        ({"type": "brand_new_kind", "severity": "critical", "weird_field": "<x>"}, "Weird field: &lt;x&gt;"),
    ],
)
def test_format_other_types(extra: dict[str, Any], expected: str) -> None:
    text = format_alert({"attempt_id": "a", "executor": "claude", **extra})
    assert expected in text
    parse_html_text(text)  # Telegram would accept it


def test_format_escapes_and_redacts_values(tg: FakeTelegram) -> None:
    nasty = alert(
        attempt_id="<script>&x",
        sample_message=f"push https://bot:{DEFAULT_TOKEN}@x failed password=hunter2 <b>",
        error_fingerprint="a&b<c>",
    )
    text = format_alert(nasty)
    assert "hunter2" not in text
    assert DEFAULT_TOKEN not in text
    assert "&lt;script&gt;&amp;x" in text
    with make_client(tg) as client:
        client.send_message(text)  # the fake validates the HTML like Telegram
    sent = tg.messages[0]["text"]
    assert "password=[REDACTED]" in sent
    assert "<script>&x" in sent


def test_format_tolerates_missing_fields() -> None:
    text = format_alert({"type": "error_loop"})
    assert "Attempt: ?" in text
    parse_html_text(text)


def test_split_respects_limit_and_never_cuts_tags_or_entities() -> None:
    body = "\n".join(f"<b>line {i}</b> &amp; <code>x&lt;y</code> 😀" for i in range(2000))
    text = f"<pre>{body}</pre>"
    parts = split_html(text, 1000)
    assert len(parts) > 1
    for part in parts:
        assert telegram_len(part) <= 1000
        parse_html_text(part)  # balanced tags, intact entities
    joined = "".join(parse_html_text(p) + "\n" for p in parts)
    assert joined.count("😀") == 2000


def test_split_overlong_single_word() -> None:
    text = "😀" * 5000 + "a" * 3000
    parts = split_html(text)
    assert all(utf16_len(p) <= TELEGRAM_MAX_MESSAGE_LENGTH for p in parts)
    assert "".join(parts) == text


def test_format_text_splits_to_4096_and_delivers(tg: FakeTelegram) -> None:
    report = "\n".join(f"row {i:05d} | <tag> | cost $1.00 | token=abc{i}" for i in range(800))
    parts = format_text(report, title="Weekly report", preformatted=True)
    assert len(parts) > 1
    assert all(telegram_len(p) <= TELEGRAM_MAX_MESSAGE_LENGTH for p in parts)
    with make_client(tg) as client:
        for part in parts:
            client.send_message(part)
    received = "".join(m["text"] for m in tg.messages)
    assert "token=abc" not in received
    assert "row 00799" in received and "<tag>" in received


def test_digest_of_50_alerts_uses_as_few_messages_as_possible(tg: FakeTelegram) -> None:
    alerts = [alert(i, sample_message="x" * 200) for i in range(50)]
    messages = format_digest(alerts)
    assert messages[0].startswith("🚨 <b>50 agent alerts</b>")
    assert len(messages) == 2  # ~100 chars per alert: 50 alerts need two messages, not more
    # As few as possible: no message had room for even the shortest next alert.
    shortest = min(telegram_len(format_alert_compact(a)) for a in alerts)
    for m in messages[:-1]:
        assert telegram_len(m) + 2 + shortest > TELEGRAM_MAX_MESSAGE_LENGTH
    for m in messages:
        assert telegram_len(m) <= TELEGRAM_MAX_MESSAGE_LENGTH
    with make_client(tg) as client:
        for m in messages:
            client.send_message(m)
    shown = "\n".join(m["text"] for m in tg.messages)
    for i in range(50):
        assert f"ve-a1b2-implement-auth-{i}\n" in shown or f"ve-a1b2-implement-auth-{i} " in shown


def test_big_digest_splits_with_part_numbers() -> None:
    alerts = [alert(i, error_fingerprint="f" * 100, recommendation="r" * 70) for i in range(200)]
    messages = format_digest(alerts)
    assert len(messages) > 1
    assert all(telegram_len(m) <= TELEGRAM_MAX_MESSAGE_LENGTH for m in messages)
    assert messages[0].startswith(f"🚨 <b>200 agent alerts</b> (1/{len(messages)})")
    # Greedy packing is optimal: no message except the last had room for another alert.
    shortest = min(telegram_len(format_alert_compact(a)) for a in alerts)
    for m in messages[:-1]:
        assert telegram_len(m) + 2 + shortest > TELEGRAM_MAX_MESSAGE_LENGTH
    for m in messages:
        parse_html_text(m)


def test_digest_of_one_is_the_full_alert_and_empty_is_nothing() -> None:
    assert format_digest([]) == []
    assert format_digest([alert()]) == [format_alert(alert())]


# -- resource ------------------------------------------------------------------------------------


def test_resource_from_settings_unset_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for var in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    _reset_warning_for_tests()
    resource = TelegramResource.from_settings(Settings.load())
    assert not resource.configured
    log = logging.getLogger("test.telegram.resource")
    with caplog.at_level(logging.WARNING, logger="test.telegram.resource"):
        assert resource.warn_if_unconfigured(log) is False
        assert resource.warn_if_unconfigured(log) is False
    assert len(caplog.records) == 1
    assert "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID" in caplog.text
    with pytest.raises(RuntimeError, match="not configured"):
        resource.get_client()


def test_resource_in_a_dagster_run(monkeypatch: pytest.MonkeyPatch, tg: FakeTelegram) -> None:
    import dagster as dg

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("TELEGRAM_CHAT_ID", CHAT)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", tg.api_base)
    resource = TelegramResource.from_settings(Settings.load())
    assert DEFAULT_TOKEN not in repr(resource)

    @dg.asset
    def notify(telegram: TelegramResource) -> None:
        assert telegram.configured
        with telegram.get_client() as client:
            client.send_message("from dagster")

    assert dg.materialize([notify], resources={"telegram": resource}).success
    assert tg.texts() == ["from dagster"]

    # Unset variables must not fail the run: the resource is simply "not configured".
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    monkeypatch.delenv("TELEGRAM_CHAT_ID")

    @dg.asset
    def maybe_notify(telegram: TelegramResource) -> None:
        assert not telegram.configured

    assert dg.materialize(
        [maybe_notify], resources={"telegram": TelegramResource.from_settings(Settings.load())}
    ).success
