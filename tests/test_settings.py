"""One settings object, loaded once at the edge: defaults, the original system's switch rule and
names, one clear line for a bad value (at start: the CLI and the code location), and settings that
travel with a detector run instead of being read inside it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_pipelines.core.settings import Settings, SettingsError, defaults
from agent_pipelines.orchestration.log_store import LogStore

ROOT = Path(__file__).resolve().parent.parent

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
    s = defaults()
    assert (s.error_loop_threshold, s.tool_loop_threshold, s.stuck_threshold_ms) == (4, 10, 300_000)
    assert s.cost_anomaly_threshold == 1.0
    assert s.telegram_max_age_seconds == 3600.0
    assert s.max_quarantine_share == 0.01
    assert s.logging_enabled and s.analyzer_enabled and s.auto_analytics
    assert s.logs_dir is None and s.data_dir is None
    assert s.log_level is None and s.instance == "sqlite"
    assert (s.retention_stream_days, s.retention_metrics_months, s.retention_sessions_keep) == (30, None, 100)


def test_every_variable_users_have_keeps_its_name() -> None:
    """The README's table of variables (the original system's names among them) is what loads."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| `AGENT_WORK_LOGS_DIR` |") :]
    table = table[: table.index("\n\n")]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    documented |= {f"AGENT_LOG_RETENTION_{s}" for s in re.findall(r"`_([A-Z_]+)`", table)}
    sources = next(line for line in table.splitlines() if "`AGENT_IMPORT_<SOURCE>`" in line)
    named = set(re.findall(r"`([A-Z][A-Z_]+)`", sources))
    documented = (documented - named) | {f"AGENT_IMPORT_{name}" for name in named}
    documented = {n for n in documented if not n.startswith("AWS_")} - {"WARNING"}  # AWS_*: the libraries'
    aliases = {str(f.validation_alias) for f in Settings.model_fields.values() if f.validation_alias}
    # Read by Dagster itself (the instance's dagster.yaml names them), checked by the edge.
    dagster_own = {
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
    }
    assert documented - dagster_own <= aliases, sorted(documented - dagster_own - aliases)
    for original in ("AGENT_WORK_LOGS_DIR", "AGENT_WORK_LOGGING_ENABLED", "AGENT_WORK_ANALYZER_ENABLED",
                     "AGENT_ERROR_LOOP_THRESHOLD", "AGENT_TOOL_LOOP_THRESHOLD", "AGENT_STUCK_THRESHOLD_MS",
                     "AGENT_COST_ANOMALY_THRESHOLD"):  # fmt: skip
        assert original in aliases


def test_the_process_environment_is_read_through_pydantic_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_TOOL_LOOP_THRESHOLD", "7")
    monkeypatch.setenv("agent_error_loop_threshold", "9")  # names are case-sensitive, as in the original
    monkeypatch.setenv("AGENT_COST_ANOMALY_THRESHOLD", "   ")  # blank: the default
    monkeypatch.setenv("DAGSTER_PG_HOST", "db.internal")
    s = Settings.load()
    assert (s.tool_loop_threshold, s.error_loop_threshold, s.cost_anomaly_threshold) == (7, 4, 1.0)
    assert s.postgres == {"DAGSTER_PG_HOST": "db.internal"}


@pytest.mark.parametrize("value", ["false", "0", "no", "OFF", " False "])
def test_a_switch_is_off_only_when_said_so(value: str) -> None:
    assert not Settings.load({"AGENT_WORK_ANALYZER_ENABLED": value}).analyzer_enabled


@pytest.mark.parametrize("value", ["true", "1", "yes", "enabled", ""])
def test_a_switch_is_on_otherwise(value: str) -> None:
    assert Settings.load({"AGENT_WORK_LOGGING_ENABLED": value}).logging_enabled


def test_values_are_parsed_and_an_empty_value_means_the_default() -> None:
    s = Settings.load(
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


def test_an_empty_retention_limit_keeps_for_ever_as_the_original_script_read_it() -> None:
    s = Settings.load({"AGENT_LOG_RETENTION_STREAM_DAYS": "", "AGENT_LOG_RETENTION_SESSIONS": " Forever "})
    assert s.retention_stream_days is None and s.retention_sessions_keep is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENT_ERROR_LOOP_THRESHOLD", "four"),
        ("AGENT_ERROR_LOOP_THRESHOLD", "2.5"),
        ("AGENT_ERROR_LOOP_THRESHOLD", "0"),
        ("AGENT_COST_ANOMALY_THRESHOLD", "-1"),
        ("AGENT_PIPELINES_MAX_QUARANTINE_SHARE", "5"),
        ("AGENT_PIPELINES_MAX_QUARANTINE_SHARE", "1%"),
        ("AGENT_STUCK_THRESHOLD_MS", "inf"),
        ("AGENT_ALERT_TELEGRAM_MAX_AGE_SECONDS", "nan"),
        ("AGENT_LOG_RETENTION_ERRORS_DAYS", "-3"),
        ("AGENT_PIPELINES_INSTANCE", "mysql"),
        ("AGENT_PIPELINES_LOG_LEVEL", "loud"),
    ],
)
def test_a_bad_value_is_one_line_naming_variable_and_value(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load({name: value})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{name}={value!r} is not valid: expected ")


@given(name=st.sampled_from(sorted(NUMERIC)), value=st.text(max_size=30))
def test_any_text_either_parses_or_is_a_settings_error(name: str, value: str) -> None:
    try:
        result = getattr(Settings.load({name: value}), NUMERIC[name])
    except SettingsError as exc:
        assert str(exc).startswith(f"{name}=")
    else:
        assert isinstance(result, int | float)
        assert result == result and result not in (float("inf"), float("-inf"))


def test_the_sensor_puts_the_thresholds_in_the_run_request(tmp_path: Path) -> None:
    """The run decides with what the request says, like its clock: a rerun decides the same."""
    from sensors.live_alerts import evaluate

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "agent-work-stream.jsonl").write_text(
        json.dumps({"timestamp": "2026-03-02T10:00:00Z", "attempt_id": "a", "event_type": "session_start"})
        + "\n"
    )
    settings = Settings.load({"AGENT_ERROR_LOOP_THRESHOLD": "2", "AGENT_COST_ANOMALY_THRESHOLD": "0.25"})
    store = LogStore.from_settings(settings, str(logs), str(tmp_path / "data"))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"log_store": store})
        result = evaluate(ctx, store)
    assert isinstance(result, dg.SensorResult) and result.run_requests
    config = result.run_requests[0].run_config["ops"]["read_new_events"]["config"]
    assert (config["error_loop"], config["tool_loop"], config["cost_usd"]) == (2, 10, 0.25)


def test_the_log_store_carries_the_settings_into_runs_without_the_token() -> None:
    settings = Settings.load(
        {"AGENT_PIPELINES_MAX_QUARANTINE_SHARE": "0.2", "TELEGRAM_BOT_TOKEN": "123:secret"}
    )
    store = LogStore.from_settings(settings)
    assert store.settings.max_quarantine_share == 0.2
    assert "secret" not in str(store.settings_environ)
    assert LogStore().settings == defaults()


@given(
    values=st.dictionaries(
        st.sampled_from([*sorted(NUMERIC), "AGENT_LOG_RETENTION_STREAM_DAYS", "AGENT_WORK_ANALYZER_ENABLED"]),
        st.sampled_from(["", "0", "1", "2.0", "0.5", "forever", "false", "7"]),
    )
)
def test_settings_travel_into_runs_unchanged(values: dict[str, str]) -> None:
    try:
        settings = Settings.load(values)
    except SettingsError:
        return
    assert Settings.load(settings.to_environ()) == settings


BAD = {"AGENT_PIPELINES_MAX_QUARANTINE_SHARE": "lots"}
ONE_LINE = "AGENT_PIPELINES_MAX_QUARANTINE_SHARE='lots' is not valid: expected a share from 0 to 1"


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "AGENT_PIPELINES_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "home"),
        **extra,
    }


@pytest.mark.parametrize("command", [["validate"], ["detect", "--once"], ["status"], ["ui", "--no-demo"]])
def test_the_command_line_fails_at_start_in_one_line(tmp_path: Path, command: list[str]) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "agent_pipelines.cli", *command, "--logs-dir", str(logs)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(tmp_path, **BAD),
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"agent-pipelines: {ONE_LINE}"]
    assert not (tmp_path / "data").exists()  # failed before any work


def test_the_code_location_fails_to_load_naming_the_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import agent_pipelines.definitions"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=_clean_env(tmp_path, **BAD),
    )
    assert result.returncode != 0
    assert (
        result.stderr.strip().splitlines()[-1] == f"agent_pipelines.core.settings.SettingsError: {ONE_LINE}"
    )
