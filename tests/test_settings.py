"""One settings object: defaults, the original system's switch rule, one clear error for a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_pipelines.core.settings import Settings, SettingsError
from agent_pipelines.orchestration.log_store import LogStore

NUMERIC = {
    "AGENT_ERROR_LOOP_THRESHOLD": "error_loop_threshold",
    "AGENT_TOOL_LOOP_THRESHOLD": "tool_loop_threshold",
    "AGENT_STUCK_THRESHOLD_MS": "stuck_threshold_ms",
    "AGENT_COST_ANOMALY_THRESHOLD": "cost_anomaly_threshold",
    "AGENT_ALERT_TELEGRAM_MAX_AGE_SECONDS": "telegram_max_age_seconds",
    "AGENT_DETECTOR_RUN_RETENTION_DAYS": "detector_run_retention_days",
    "AGENT_PIPELINES_MAX_QUARANTINE_SHARE": "max_quarantine_share",
    "AGENT_PIPELINES_ROTATION_GRACE_SECONDS": "rotation_grace_seconds",
}


def test_defaults_are_the_original_systems() -> None:
    s = Settings({})
    assert (s.error_loop_threshold, s.tool_loop_threshold, s.stuck_threshold_ms) == (4, 10, 300_000)
    assert s.cost_anomaly_threshold == 1.0
    assert s.telegram_max_age_seconds == 3600.0
    assert s.max_quarantine_share == 0.01
    assert s.logging_enabled and s.analyzer_enabled and s.auto_analytics
    assert s.logs_dir is None and s.data_dir is None
    assert s.log_level == "WARNING"


@pytest.mark.parametrize("value", ["false", "0", "no", "OFF", " False "])
def test_a_switch_is_off_only_when_said_so(value: str) -> None:
    assert not Settings({"AGENT_WORK_ANALYZER_ENABLED": value}).analyzer_enabled


@pytest.mark.parametrize("value", ["true", "1", "yes", "enabled", ""])
def test_a_switch_is_on_otherwise(value: str) -> None:
    assert Settings({"AGENT_WORK_LOGGING_ENABLED": value}).logging_enabled


def test_values_are_parsed_and_an_empty_value_means_the_default() -> None:
    s = Settings(
        {
            "AGENT_ERROR_LOOP_THRESHOLD": " 6 ",
            "AGENT_STUCK_THRESHOLD_MS": "60000.0",
            "AGENT_COST_ANOMALY_THRESHOLD": "2.5",
            "AGENT_TOOL_LOOP_THRESHOLD": "",
            "AGENT_PIPELINES_LOG_LEVEL": "info",
        }
    )
    assert (s.error_loop_threshold, s.stuck_threshold_ms, s.cost_anomaly_threshold) == (6, 60_000, 2.5)
    assert s.tool_loop_threshold == 10
    assert s.log_level == "INFO"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENT_ERROR_LOOP_THRESHOLD", "four"),
        ("AGENT_ERROR_LOOP_THRESHOLD", "2.5"),
        ("AGENT_ERROR_LOOP_THRESHOLD", "0"),
        ("AGENT_COST_ANOMALY_THRESHOLD", "-1"),
        ("AGENT_PIPELINES_MAX_QUARANTINE_SHARE", "5"),
        ("AGENT_STUCK_THRESHOLD_MS", "inf"),
        ("AGENT_ALERT_TELEGRAM_MAX_AGE_SECONDS", "nan"),
    ],
)
def test_a_bad_value_is_one_line_naming_variable_and_value(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        getattr(Settings({name: value}), NUMERIC[name])
    message = str(caught.value)
    assert "\n" not in message
    assert name in message and repr(value) in message and "expected" in message


def test_a_bad_value_elsewhere_does_not_break_what_is_read() -> None:
    s = Settings({"AGENT_PIPELINES_ROTATION_GRACE_SECONDS": "soon"})
    assert s.error_loop_threshold == 4
    with pytest.raises(SettingsError):
        _ = s.rotation_grace_seconds


@given(name=st.sampled_from(sorted(NUMERIC)), value=st.text(max_size=30))
def test_any_text_either_parses_or_is_a_settings_error(name: str, value: str) -> None:
    try:
        result = getattr(Settings({name: value}), NUMERIC[name])
    except SettingsError as exc:
        assert name in str(exc)
    else:
        assert isinstance(result, int | float)
        assert result == result and result not in (float("inf"), float("-inf"))


def test_the_live_sensor_tick_gives_a_bad_setting_as_its_skip_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sensors.live_alerts import evaluate

    monkeypatch.setenv("AGENT_ERROR_LOOP_THRESHOLD", "many")
    logs = tmp_path / "logs"
    logs.mkdir()
    store = LogStore(logs_dir=str(logs), data_dir=str(tmp_path / "data"))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"log_store": store})
        result = evaluate(ctx, store)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message is not None
    assert "AGENT_ERROR_LOOP_THRESHOLD='many' is not valid" in result.skip_message


def test_the_command_line_prints_a_bad_setting_as_one_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "agent_pipelines.cli", "detect", "--once", "--logs-dir", str(logs)],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "AGENT_PIPELINES_DATA_DIR": str(tmp_path / "data"),
            "DAGSTER_HOME": str(tmp_path / "home"),
            "AGENT_STUCK_THRESHOLD_MS": "5 minutes",
        },
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "agent-pipelines: AGENT_STUCK_THRESHOLD_MS='5 minutes' is not valid: "
        "expected a whole number of milliseconds ≥ 1"
    ]
