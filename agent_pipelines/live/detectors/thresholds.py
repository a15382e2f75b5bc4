"""The detectors' thresholds: defaults, and the original Node live analyzer's environment variables."""

from __future__ import annotations

from dataclasses import dataclass

from agent_pipelines.core.settings import settings


@dataclass(frozen=True)
class Thresholds:
    """Detector settings; :meth:`from_env` reads the original Node live analyzer's environment variables."""

    error_loop: int = 4
    error_window_ms: int = 600_000
    tool_loop: int = 10
    tool_window_ms: int = 60_000
    stuck_ms: int = 300_000
    cost_usd: float = 1.0
    restarts: int = 3
    failed_errors: int = 4
    suppress_ms: int = 300_000
    retain_ms: int = 86_400_000  # forget an attempt this long after its last event
    seen_ms: int = 2 * 86_400_000  # remember processed event ids this long (rotation re-appends a day)
    seen_max: int = 1_000_000

    @classmethod
    def from_env(cls) -> Thresholds:
        """The original analyzer's four variables; :class:`SettingsError` names a bad one."""
        env = settings()
        return cls(
            error_loop=env.error_loop_threshold,
            tool_loop=env.tool_loop_threshold,
            stuck_ms=env.stuck_threshold_ms,
            cost_usd=env.cost_anomaly_threshold,
        )
