"""Every setting read from the environment, in one typed object built once at the edge.

:meth:`Settings.load` reads the environment (through pydantic-settings) and checks every value at
once; it is called only at the edges — the command line's ``main``, the Dagster code location
(``agent_pipelines/definitions.py``) and the public Python logger — and the object is passed down
as an argument from there. Nothing below those edges reads ``os.environ``
(``tests/test_architecture.py`` checks it), so a run is decided by what it was given: the
detector thresholds travel in the detector run's config, like its clock.

A value that cannot be used raises :class:`SettingsError` when the settings are loaded, whose
message is one line naming the variable, the value and what is expected: the command line prints
it as its one-line error and exits 2, the code location fails to load with it (``agent-pipelines ui``
checks first, so it says so before starting Dagster).

An unset or empty variable means the default. The names, defaults and boolean reading are those of
the original system (its PowerShell logger and Node analyzer): users keep their configuration.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

T = TypeVar("T")

_OFF = ("false", "0", "no", "off")
_FOREVER = ("", "forever", "keep", "none")


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use; the message is one line for the user."""


def flag(value: object) -> bool:
    """A boolean switch: anything but ``false``/``0``/``no``/``off`` (any case) is on.

    The original logger and analyzer read ``AGENT_WORK_LOGGING_ENABLED`` and
    ``AGENT_WORK_ANALYZER_ENABLED`` as "on unless explicitly false"; every switch of ours reads the
    same way so users learn one rule (and a switch can never be a bad value).
    """
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in _OFF


def _number(
    kind: Callable[[str], T], at_least: float | None = None, at_most: float | None = None
) -> Callable[[object], T]:
    def parse(raw: object) -> T:
        value = kind(str(raw).strip()) if isinstance(raw, str) else raw
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError("not a finite number")
        if at_least is not None and value < at_least:
            raise ValueError("too small")
        if at_most is not None and value > at_most:
            raise ValueError("too large")
        return value  # type: ignore[return-value]

    return parse


def _whole(text: str) -> int:
    """A whole number; ``"4.0"`` is accepted (some shells and YAML files write numbers so)."""
    number = float(text)
    if not number.is_integer():
        raise ValueError("not whole")
    return int(number)


def _log_level(raw: object) -> str | None:
    if raw is None:
        return None
    level = str(raw).strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError("not a log level")
    return level


def parse_limit(value: int | str | None, name: str) -> int | None:
    """A retention limit: a non-negative count, or ``None`` for "keep for ever"; a clear error
    naming the setting (an environment variable or a run-config / CLI option)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip().lower()
        if text in _FOREVER:
            return None
        try:
            number = int(text)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number or 'forever', got {value!r}") from None
    if number < 0:
        raise SettingsError(f"{name} must not be negative, got {number}")
    return number


def _limit(raw: object) -> int | None:
    try:
        return parse_limit(raw if isinstance(raw, int | str) or raw is None else str(raw), "limit")
    except SettingsError as exc:
        raise ValueError(str(exc)) from None


def _instance_kind(raw: object) -> str:
    kind = str(raw).strip().lower()
    if kind not in ("sqlite", "postgres"):
        raise ValueError("unknown instance")
    return kind


Whole1 = Annotated[int, BeforeValidator(_number(_whole, 1))]
NonNegative = Annotated[float, BeforeValidator(_number(float, 0.0))]
Share = Annotated[float, BeforeValidator(_number(float, 0.0, 1.0))]
Flag = Annotated[bool, BeforeValidator(flag)]
Limit = Annotated[int | None, BeforeValidator(_limit)]
LogLevel = Annotated[str | None, BeforeValidator(_log_level)]
Kind = Annotated[str, BeforeValidator(_instance_kind)]

_LIMIT = "a whole number ≥ 0 or 'forever'"


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``os.environ`` by default)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return dict(self._environ)  # names are case-sensitive (model_config); blanks: _blank_is_unset


_SOURCE: ContextVar[Mapping[str, str] | None] = ContextVar("settings_source", default=None)


class Settings(BaseSettings):
    """The environment's settings, checked when loaded (see the module doc).

    Field names are ours; each field's alias is the environment variable users set (the README's
    table lists them). ``Settings.load({})`` is every default, for tests and tools.
    """

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True, populate_by_name=True)

    # -- folders (local paths or s3:// URLs; None: the default, see ``paths``) ------------------
    logs_location: str | None = Field(None, validation_alias="AGENT_WORK_LOGS_DIR")
    data_location: str | None = Field(None, validation_alias="AGENT_PIPELINES_DATA_DIR")
    local_dir: Path | None = Field(None, validation_alias="AGENT_PIPELINES_LOCAL_DIR")
    dagster_home: Path | None = Field(None, validation_alias="DAGSTER_HOME")

    # -- switches ------------------------------------------------------------------------------
    logging_enabled: Flag = Field(True, validation_alias="AGENT_WORK_LOGGING_ENABLED")
    # the logger also appends every event to the original's single agent-work-stream.jsonl (a
    # migration: its analyzer keeps working)
    stream_file_enabled: Flag = Field(False, validation_alias="AGENT_WORK_STREAM_FILE_ENABLED")
    analyzer_enabled: Flag = Field(True, validation_alias="AGENT_WORK_ANALYZER_ENABLED")
    auto_analytics: Flag = Field(True, validation_alias="AGENT_PIPELINES_AUTO_ANALYTICS")
    import_claude_code: Flag = Field(True, validation_alias="AGENT_IMPORT_CLAUDE_CODE")
    import_codex: Flag = Field(True, validation_alias="AGENT_IMPORT_CODEX")
    import_gemini_cli: Flag = Field(True, validation_alias="AGENT_IMPORT_GEMINI_CLI")
    import_copilot_cli: Flag = Field(True, validation_alias="AGENT_IMPORT_COPILOT_CLI")
    import_opencode: Flag = Field(True, validation_alias="AGENT_IMPORT_OPENCODE")
    import_swe_agent: Flag = Field(True, validation_alias="AGENT_IMPORT_SWE_AGENT")
    import_mini_swe_agent: Flag = Field(True, validation_alias="AGENT_IMPORT_MINI_SWE_AGENT")

    # -- live detectors (the original analyzer's thresholds) -----------------------------------
    error_loop_threshold: Whole1 = Field(4, validation_alias="AGENT_ERROR_LOOP_THRESHOLD")
    tool_loop_threshold: Whole1 = Field(10, validation_alias="AGENT_TOOL_LOOP_THRESHOLD")
    stuck_threshold_ms: Whole1 = Field(300_000, validation_alias="AGENT_STUCK_THRESHOLD_MS")
    cost_anomaly_threshold: NonNegative = Field(1.0, validation_alias="AGENT_COST_ANOMALY_THRESHOLD")
    # ours: predicted failure risk (0-1) above which an open session gets an advisory alert (1: none)
    failure_risk_threshold: Share = Field(0.8, validation_alias="AGENT_FAILURE_RISK_THRESHOLD")

    # -- delivery ------------------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_chat_id: str | None = Field(None, validation_alias="TELEGRAM_CHAT_ID")
    telegram_api_base_url: str | None = Field(None, validation_alias="TELEGRAM_API_BASE_URL")
    telegram_max_age_seconds: NonNegative = Field(
        3600.0, validation_alias="AGENT_ALERT_TELEGRAM_MAX_AGE_SECONDS"
    )
    # alert routing, receivers and actions (live/routing); the file absent = Telegram only
    alerts_config: Path | None = Field(None, validation_alias="AGENT_PIPELINES_ALERTS_CONFIG")

    # -- housekeeping --------------------------------------------------------------------------
    detector_run_retention_days: NonNegative = Field(
        3.0, validation_alias="AGENT_DETECTOR_RUN_RETENTION_DAYS"
    )
    max_quarantine_share: Share = Field(0.01, validation_alias="AGENT_PIPELINES_MAX_QUARANTINE_SHARE")
    rotation_grace_seconds: NonNegative = Field(
        2.0, validation_alias="AGENT_PIPELINES_ROTATION_GRACE_SECONDS"
    )
    rotation_crash_at: str | None = Field(None, validation_alias="AGENT_PIPELINES_ROTATION_CRASH_AT")
    retention_stream_days: Limit = Field(30, validation_alias="AGENT_LOG_RETENTION_STREAM_DAYS")
    retention_errors_days: Limit = Field(90, validation_alias="AGENT_LOG_RETENTION_ERRORS_DAYS")
    retention_alerts_days: Limit = Field(30, validation_alias="AGENT_LOG_RETENTION_ALERTS_DAYS")
    retention_metrics_months: Limit = Field(None, validation_alias="AGENT_LOG_RETENTION_METRICS_MONTHS")
    retention_sessions_keep: Limit = Field(100, validation_alias="AGENT_LOG_RETENTION_SESSIONS")

    # -- transcript import ---------------------------------------------------------------------
    claude_config_dir: str | None = Field(None, validation_alias="CLAUDE_CONFIG_DIR")
    codex_home: Path | None = Field(None, validation_alias="CODEX_HOME")
    gemini_cli_home: Path | None = Field(None, validation_alias="GEMINI_CLI_HOME")
    copilot_home: Path | None = Field(None, validation_alias="COPILOT_HOME")
    opencode_data_dir: Path | None = Field(None, validation_alias="OPENCODE_DATA_DIR")
    mini_swe_agent_config_dir: Path | None = Field(None, validation_alias="MSWEA_GLOBAL_CONFIG_DIR")
    prices_file: Path | None = Field(None, validation_alias="AGENT_IMPORT_PRICES_FILE")

    # -- Dagster ------------------------------------------------------------------------------
    instance: Kind = Field("sqlite", validation_alias="AGENT_PIPELINES_INSTANCE")
    postgres: dict[str, str] = Field(default_factory=dict, exclude=True)
    log_level: LogLevel = Field(None, validation_alias="AGENT_PIPELINES_LOG_LEVEL")
    # Where the UI's links find session replays and weekly reports (`agent-pipelines ui` sets it).
    files_url: str | None = Field(None, validation_alias="AGENT_PIPELINES_FILES_URL")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment only (no ``.env`` file, no secrets folder): what :meth:`load` was given."""
        given = _SOURCE.get()
        return (_Environment(settings_cls, os.environ if given is None else given),)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """An unset or empty (or blank) variable means the default; but an empty retention limit
        means "keep for ever", as the original rotation script read it."""
        if isinstance(data, Mapping):
            return {
                k: v
                for k, v in data.items()
                if not (isinstance(v, str) and not v.strip()) or str(k).startswith("AGENT_LOG_RETENTION_")
            }
        return data

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of ``environ`` (default: the process environment), every value checked.

        Call this at an edge only (see the module doc); tests pass a mapping of their own.
        """
        source = os.environ if environ is None else environ
        token = _SOURCE.set(dict(source))
        try:
            loaded = cls()  # type: ignore[call-arg]  # pydantic-settings reads the environment
        except ValidationError as exc:
            raise SettingsError(_describe(exc, source)) from None
        finally:
            _SOURCE.reset(token)
        pg = {name: source[name] for name in POSTGRES_VARIABLES if source.get(name, "").strip()}
        return loaded.model_copy(update={"postgres": pg})

    def to_environ(self) -> dict[str, str]:
        """The variables that load back to these settings (``Settings.load(s.to_environ())``): how
        they travel into Dagster runs (the ``log_store`` resource's config). Never a secret: a set
        Telegram token is written as ``(set)`` (Dagster's ``EnvVar`` reads the real one) and the
        PostgreSQL connection, read by Dagster itself, is left out."""
        out: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            if not field.validation_alias:
                continue
            value = getattr(self, name)
            if value is None:
                if name.startswith("retention_"):
                    out[str(field.validation_alias)] = "forever"
                continue
            if isinstance(value, SecretStr):
                text = "(set)"
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            out[str(field.validation_alias)] = text
        return out

    # -- derived values ------------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path | None:
        """``AGENT_WORK_LOGS_DIR`` as a local path (``None``: unset)."""
        return Path(self.logs_location) if self.logs_location else None

    @property
    def data_dir(self) -> Path | None:
        """``AGENT_PIPELINES_DATA_DIR`` as a local path (``None``: unset)."""
        return Path(self.data_location) if self.data_location else None

    @property
    def alerts_config_path(self) -> Path:
        """``AGENT_PIPELINES_ALERTS_CONFIG``, or ``config/alerts.yaml`` (relative to where we run)."""
        return self.alerts_config or Path("config") / "alerts.yaml"

    def switch(self, name: str) -> bool:
        """A transcript source's switch by its name (``claude-code``: ``AGENT_IMPORT_CLAUDE_CODE``)."""
        value = getattr(self, "import_" + name.replace("-", "_"), None)
        if not isinstance(value, bool):
            raise KeyError(f"no switch for the transcript source {name!r}")
        return value


POSTGRES_VARIABLES = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
)
_EXPECTED: dict[str, str] = {
    "AGENT_ERROR_LOOP_THRESHOLD": "a whole number ≥ 1",
    "AGENT_TOOL_LOOP_THRESHOLD": "a whole number ≥ 1",
    "AGENT_STUCK_THRESHOLD_MS": "a whole number of milliseconds ≥ 1",
    "AGENT_COST_ANOMALY_THRESHOLD": "a number of USD ≥ 0",
    "AGENT_ALERT_TELEGRAM_MAX_AGE_SECONDS": "a number of seconds ≥ 0",
    "AGENT_DETECTOR_RUN_RETENTION_DAYS": "a number of days ≥ 0",
    "AGENT_PIPELINES_MAX_QUARANTINE_SHARE": "a share from 0 to 1",
    "AGENT_PIPELINES_ROTATION_GRACE_SECONDS": "a number of seconds ≥ 0",
    "AGENT_PIPELINES_LOG_LEVEL": "a log level such as INFO",
    "AGENT_PIPELINES_INSTANCE": "sqlite or postgres",
    "AGENT_LOG_RETENTION_STREAM_DAYS": _LIMIT,
    "AGENT_LOG_RETENTION_ERRORS_DAYS": _LIMIT,
    "AGENT_LOG_RETENTION_ALERTS_DAYS": _LIMIT,
    "AGENT_LOG_RETENTION_METRICS_MONTHS": _LIMIT,
    "AGENT_LOG_RETENTION_SESSIONS": _LIMIT,
}


def _describe(exc: ValidationError, source: Mapping[str, str]) -> str:
    """The first bad variable as one line: its name, its value and what it should be."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "a setting"
    raw = source.get(name, error.get("input"))
    expected = _EXPECTED.get(name, "a valid value")
    return f"{name}={raw!r} is not valid: expected {expected}"


def drop_empty_aws_variables() -> None:
    """The object-store libraries read ``AWS_*`` themselves; an empty one (a compose file passes
    ``${AWS_ENDPOINT_URL:-}``) must count as unset, not become an empty endpoint. Edges call this
    next to :meth:`Settings.load`."""
    for name in list(os.environ):
        if name.startswith("AWS_") and not os.environ[name].strip():
            del os.environ[name]


def defaults() -> Settings:
    """Every default, read from no environment (tests, tools that must not see the caller's)."""
    return Settings.load({})


__all__ = [
    "POSTGRES_VARIABLES",
    "Settings",
    "SettingsError",
    "defaults",
    "drop_empty_aws_variables",
    "flag",
    "parse_limit",
]
