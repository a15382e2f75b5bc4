"""Every setting read from the environment, in one typed object with one kind of error.

``settings()`` returns a :class:`Settings` over the current environment. Each property reads and
checks its variable when it is used, not when the object is made: a typo in a retention variable
must not stop the live alerts, which never read it. A value that cannot be used raises
:class:`SettingsError`, whose message is one line naming the variable, the value and what is
expected. Where it surfaces:

* a sensor tick returns it as the skip reason (the UI shows it on the tick, never a traceback);
* an asset, check or op raises it as a ``dg.Failure`` (the run's failure reason in the UI);
* the command line prints it as its one-line error.

An unset or empty variable means the default. The names, defaults and boolean reading are those of
the original system (its PowerShell logger and Node analyzer): users keep their configuration.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_OFF = ("false", "0", "no", "off")


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use; the message is one line for the user."""


def env_flag(name: str, default: bool = True) -> bool:
    """A boolean switch: anything but ``false``/``0``/``no``/``off`` (any case) is on.

    The original logger and analyzer read ``AGENT_WORK_LOGGING_ENABLED`` and
    ``AGENT_WORK_ANALYZER_ENABLED`` as "on unless explicitly false"; every switch of ours reads the
    same way so users learn one rule (and a switch can never be a bad value).
    """
    return _flag(os.environ, name, default)


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() not in _OFF


def _number(
    kind: Callable[[str], T], at_least: float | None = None, at_most: float | None = None
) -> Callable[[str], T]:
    def parse(text: str) -> T:
        value = kind(text)
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise ValueError
        if at_least is not None and value < at_least:  # type: ignore[operator]
            raise ValueError
        if at_most is not None and value > at_most:  # type: ignore[operator]
            raise ValueError
        return value

    return parse


def _whole(text: str) -> int:
    """A whole number; ``"4.0"`` is accepted (some shells and YAML files write numbers so)."""
    number = float(text)
    if not number.is_integer():
        raise ValueError
    return int(number)


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError
    return level


class Settings:
    """The environment's settings; each property is checked when read (see the module doc).

    ``environ`` defaults to ``os.environ`` as it is now; tests pass a mapping of their own.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ

    def _read(self, name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        raw = self._environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            return parse(raw.strip())
        except (ValueError, TypeError, OverflowError):
            raise SettingsError(f"{name}={raw!r} is not valid: expected {expected}") from None

    def _path(self, name: str) -> Path | None:
        raw = self._environ.get(name)
        return Path(raw) if raw and raw.strip() else None

    # -- folders -----------------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path | None:
        """``AGENT_WORK_LOGS_DIR``: the log folder (``None``: the default, see ``paths``)."""
        return self._path("AGENT_WORK_LOGS_DIR")

    @property
    def data_dir(self) -> Path | None:
        """``AGENT_PIPELINES_DATA_DIR``: our data folder (``None``: the default, see ``paths``)."""
        return self._path("AGENT_PIPELINES_DATA_DIR")

    # -- switches ----------------------------------------------------------------------------

    @property
    def logging_enabled(self) -> bool:
        """``AGENT_WORK_LOGGING_ENABLED``: ``false`` makes the logger a no-op."""
        return _flag(self._environ, "AGENT_WORK_LOGGING_ENABLED", True)

    @property
    def stream_file_enabled(self) -> bool:
        """``AGENT_WORK_STREAM_FILE_ENABLED``: ``true`` makes the logger also append every event to the
        original's single ``agent-work-stream.jsonl`` (a migration: its analyzer keeps working)."""
        return _flag(self._environ, "AGENT_WORK_STREAM_FILE_ENABLED", False)

    @property
    def analyzer_enabled(self) -> bool:
        """``AGENT_WORK_ANALYZER_ENABLED``: ``false`` stops the live-alerts sensor."""
        return _flag(self._environ, "AGENT_WORK_ANALYZER_ENABLED", True)

    @property
    def auto_analytics(self) -> bool:
        """``AGENT_PIPELINES_AUTO_ANALYTICS``: ``false`` leaves the analytics sensors stopped."""
        return _flag(self._environ, "AGENT_PIPELINES_AUTO_ANALYTICS", True)

    # -- live detectors (the original analyzer's thresholds) ---------------------------------

    @property
    def error_loop_threshold(self) -> int:
        """``AGENT_ERROR_LOOP_THRESHOLD``: errors with one fingerprint in 10 minutes (default 4)."""
        return self._read("AGENT_ERROR_LOOP_THRESHOLD", 4, _number(_whole, 1), "a whole number ≥ 1")

    @property
    def tool_loop_threshold(self) -> int:
        """``AGENT_TOOL_LOOP_THRESHOLD``: calls of one tool in a minute (default 10)."""
        return self._read("AGENT_TOOL_LOOP_THRESHOLD", 10, _number(_whole, 1), "a whole number ≥ 1")

    @property
    def stuck_threshold_ms(self) -> int:
        """``AGENT_STUCK_THRESHOLD_MS``: silence before an open session counts as stuck (5 min)."""
        return self._read(
            "AGENT_STUCK_THRESHOLD_MS", 300_000, _number(_whole, 1), "a whole number of milliseconds ≥ 1"
        )

    @property
    def cost_anomaly_threshold(self) -> float:
        """``AGENT_COST_ANOMALY_THRESHOLD``: USD per session above which it is an anomaly (1.0)."""
        return self._read("AGENT_COST_ANOMALY_THRESHOLD", 1.0, _number(float, 0.0), "a number of USD ≥ 0")

    # -- delivery and housekeeping -----------------------------------------------------------

    @property
    def telegram_max_age_seconds(self) -> float:
        """``AGENT_ALERT_TELEGRAM_MAX_AGE_SECONDS``: older alerts are written but not sent (3600)."""
        return self._read(
            "AGENT_ALERT_TELEGRAM_MAX_AGE_SECONDS", 3600.0, _number(float, 0.0), "a number of seconds ≥ 0"
        )

    @property
    def detector_run_retention_days(self) -> float:
        """``AGENT_DETECTOR_RUN_RETENTION_DAYS``: finished detector runs older than this are deleted."""
        return self._read(
            "AGENT_DETECTOR_RUN_RETENTION_DAYS", 3.0, _number(float, 0.0), "a number of days ≥ 0"
        )

    @property
    def max_quarantine_share(self) -> float:
        """``AGENT_PIPELINES_MAX_QUARANTINE_SHARE``: the quarantine-share check warns above it (1%)."""
        return self._read(
            "AGENT_PIPELINES_MAX_QUARANTINE_SHARE", 0.01, _number(float, 0.0, 1.0), "a share from 0 to 1"
        )

    @property
    def rotation_grace_seconds(self) -> float:
        """``AGENT_PIPELINES_ROTATION_GRACE_SECONDS``: how long rotation waits for lock-less writers."""
        return self._read(
            "AGENT_PIPELINES_ROTATION_GRACE_SECONDS", 2.0, _number(float, 0.0), "a number of seconds ≥ 0"
        )

    def check_live(self) -> None:
        """Read every setting a detector run uses: a bad one stops before the run, not inside it."""
        _ = (
            self.error_loop_threshold,
            self.tool_loop_threshold,
            self.stuck_threshold_ms,
            self.cost_anomaly_threshold,
            self.telegram_max_age_seconds,
            self.detector_run_retention_days,
        )

    @property
    def log_level(self) -> str:
        """``AGENT_PIPELINES_LOG_LEVEL``: Dagster's console log level for CLI-launched runs."""
        return self._read("AGENT_PIPELINES_LOG_LEVEL", "WARNING", _log_level, "a log level such as INFO")


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of the current environment (read afresh: tests and the CLI change it)."""
    return Settings(environ)


__all__ = ["Settings", "SettingsError", "env_flag", "settings"]
