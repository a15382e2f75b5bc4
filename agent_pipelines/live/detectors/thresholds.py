"""The detectors' thresholds: defaults, and the original Node live analyzer's four settings."""

from __future__ import annotations

from dataclasses import dataclass

from agent_pipelines.core.settings import Settings


@dataclass(frozen=True)
class Thresholds:
    """Detector settings; the detector run receives them in its config (see ``detector_job``)."""

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
    def from_settings(cls, settings: Settings) -> Thresholds:
        """The original analyzer's four variables, as the edge loaded them."""
        return cls(
            error_loop=settings.error_loop_threshold,
            tool_loop=settings.tool_loop_threshold,
            stuck_ms=settings.stuck_threshold_ms,
            cost_usd=settings.cost_anomaly_threshold,
        )
