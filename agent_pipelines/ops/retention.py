"""How long rotated logs are kept: the original rotation script's policy, configurable per kind.

The original rotation script (``rotate-agent-logs.sh``) kept the stream 30 days, errors 90, alerts 30,
archived metrics monthly and kept them, and kept the newest 100 session transcripts. Each is
overridable by an environment variable (for cron-style deployments) and by run config (for
one-off runs); run config wins. A value of ``forever`` (or ``keep``, ``none``, or empty) keeps a
kind for ever.

The edge, defined once here: with ``N`` days, the archive of day ``D`` is kept while
``today - D <= N`` days. So with 30 days on 2026-03-31 the day 2026-03-01 (exactly 30 days old) is
kept and 2026-02-28 is deleted: the archive always covers the last ``N`` closed days. Monthly kinds
count whole months the same way (``N`` months: the month ``N`` months before this one is kept).
Session transcripts are ranked by modification time; the newest ``N`` are kept. Transcripts are
copies of stream events (the logger writes each event to both), so pruning them loses no event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date

from agent_pipelines.core.archive import MONTHLY, Kind, period_start
from agent_pipelines.core.settings import Settings, parse_limit

ENV_VARS: dict[str, str] = {
    "stream_days": "AGENT_LOG_RETENTION_STREAM_DAYS",
    "errors_days": "AGENT_LOG_RETENTION_ERRORS_DAYS",
    "alerts_days": "AGENT_LOG_RETENTION_ALERTS_DAYS",
    "metrics_months": "AGENT_LOG_RETENTION_METRICS_MONTHS",
    "sessions_keep": "AGENT_LOG_RETENTION_SESSIONS",
}


@dataclass(frozen=True)
class RetentionPolicy:
    """Retention per kind; ``None`` keeps for ever."""

    stream_days: int | None = 30
    errors_days: int | None = 90
    alerts_days: int | None = 30
    metrics_months: int | None = None
    sessions_keep: int | None = 100

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: int | str | None) -> RetentionPolicy:
        """The settings' limits (defaults, then ``AGENT_LOG_RETENTION_*``), then explicit overrides
        (run config, CLI).

        An override of ``None`` means "not given" (keep what the settings say); pass ``"forever"``
        to keep a kind for ever.
        """
        values: dict[str, int | None] = {
            "stream_days": settings.retention_stream_days,
            "errors_days": settings.retention_errors_days,
            "alerts_days": settings.retention_alerts_days,
            "metrics_months": settings.retention_metrics_months,
            "sessions_keep": settings.retention_sessions_keep,
        }
        for name, value in overrides.items():
            if name not in ENV_VARS:
                raise TypeError(f"unknown retention setting {name!r}")
            if value is not None:
                values[name] = parse_limit(value, name)
        return replace(cls(), **values)

    def limit(self, kind: Kind) -> int | None:
        """Days (months for monthly kinds) an archive of ``kind`` is kept."""
        return {
            Kind.STREAM: self.stream_days,
            Kind.ERRORS: self.errors_days,
            Kind.ALERTS: self.alerts_days,
            Kind.METRICS: self.metrics_months,
        }[kind]

    def keeps(self, kind: Kind, period: str, today: date) -> bool:
        """Whether the archive of ``period`` (a day, or a month for monthly kinds) is kept today."""
        limit = self.limit(kind)
        if limit is None:
            return True
        start = period_start(kind, period)
        if kind in MONTHLY:
            age = (today.year - start.year) * 12 + (today.month - start.month)
        else:
            age = (today - start).days
        return age <= limit

    def as_dict(self) -> dict[str, int | None]:
        return asdict(self)


__all__ = ["ENV_VARS", "RetentionPolicy", "parse_limit"]
