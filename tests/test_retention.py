"""Retention: the original rotation script's defaults, env and run-config overrides, and the exact edges."""

from __future__ import annotations

import gzip
import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from agent_pipelines.core import paths
from agent_pipelines.core.archive import Kind, archive_path, archived
from agent_pipelines.core.settings import Settings, defaults
from agent_pipelines.ops import rotation
from agent_pipelines.ops.retention import RetentionPolicy

TODAY = date(2026, 3, 31)


def test_defaults_are_the_seeds() -> None:
    policy = RetentionPolicy.from_settings(defaults())
    assert policy == RetentionPolicy(
        stream_days=30, errors_days=90, alerts_days=30, metrics_months=None, sessions_keep=100
    )


def test_env_vars_then_run_config_override() -> None:
    env = {"AGENT_LOG_RETENTION_STREAM_DAYS": "7", "AGENT_LOG_RETENTION_METRICS_MONTHS": "12"}
    policy = RetentionPolicy.from_settings(
        Settings.load(env), stream_days=None, errors_days=5, alerts_days="forever"
    )
    assert policy.stream_days == 7  # None = not given: the env var stands
    assert policy.metrics_months == 12
    assert policy.errors_days == 5
    assert policy.alerts_days is None
    assert (
        RetentionPolicy.from_settings(
            Settings.load({"AGENT_LOG_RETENTION_SESSIONS": " Forever "})
        ).sessions_keep
        is None
    )


@pytest.mark.parametrize("value", ["-1", "ten", "1.5"])
def test_bad_values_name_the_setting(value: str) -> None:
    with pytest.raises(ValueError, match="AGENT_LOG_RETENTION_ERRORS_DAYS"):
        RetentionPolicy.from_settings(Settings.load({"AGENT_LOG_RETENTION_ERRORS_DAYS": value}))
    with pytest.raises(TypeError):
        RetentionPolicy.from_settings(defaults(), streams_days=3)


def test_exactly_n_days_old_is_kept_one_more_is_deleted() -> None:
    policy = RetentionPolicy()
    assert policy.keeps(Kind.STREAM, "2026-03-01", TODAY)  # 30 days old
    assert not policy.keeps(Kind.STREAM, "2026-02-28", TODAY)  # 31
    assert policy.keeps(Kind.ERRORS, str(TODAY - timedelta(days=90)), TODAY)
    assert not policy.keeps(Kind.ERRORS, str(TODAY - timedelta(days=91)), TODAY)
    assert policy.keeps(Kind.METRICS, "2001-01", TODAY)  # kept for ever by default
    monthly = RetentionPolicy(metrics_months=2)
    assert monthly.keeps(Kind.METRICS, "2026-01", TODAY)  # two months before March
    assert not monthly.keeps(Kind.METRICS, "2025-12", TODAY)
    assert not RetentionPolicy(stream_days=0).keeps(Kind.STREAM, "2026-03-30", TODAY)


def _archive(root: Path, kind: Kind, period: str, lines: int = 3) -> Path:
    path = archive_path(root, kind, period)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = b"".join(b'{"timestamp":"%s"}\n' % period.encode() for _ in range(lines))
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path


def test_rotation_deletes_exactly_the_expired_archives(tmp_path: Path) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    edge, beyond = TODAY - timedelta(days=30), TODAY - timedelta(days=31)
    for day in (edge, beyond, TODAY - timedelta(days=1)):
        _archive(root, Kind.STREAM, str(day))
        _archive(root, Kind.ALERTS, str(day))
    _archive(root, Kind.ERRORS, str(TODAY - timedelta(days=90)))
    _archive(root, Kind.ERRORS, str(TODAY - timedelta(days=91)))
    _archive(root, Kind.METRICS, "2020-01")
    s = rotation.settings(root, data, today=TODAY, grace_seconds=0)
    plan = rotation.plan_rotation(s, simulate=True)
    report = rotation.rotate(s)
    gone = sorted(d.path for d in report.deleted)
    assert gone == sorted(
        [
            f"archive/stream/{beyond}.jsonl.gz",
            f"archive/alerts/{beyond}.jsonl.gz",
            f"archive/errors/{TODAY - timedelta(days=91)}.jsonl.gz",
        ]
    )
    assert sorted(d.path for d in plan.deletions) == gone
    assert all(d.lines == 3 for d in report.deleted)
    assert [p for p, _ in archived(root, Kind.STREAM)] == [str(edge), str(TODAY - timedelta(days=1))]
    assert [p for p, _ in archived(root, Kind.METRICS)] == ["2020-01"]


def test_a_closed_day_older_than_retention_is_archived_then_deleted(tmp_path: Path) -> None:
    """A live partition already past retention: its lines are counted as deleted, not lost silently."""
    root, data = tmp_path / "logs", tmp_path / "data"
    old = TODAY - timedelta(days=45)
    partition = paths.stream_partition_path(root, old)
    partition.parent.mkdir(parents=True)
    line = (
        b'{"timestamp":"%sT10:00:00.000Z","attempt_id":"a","event_type":"tool_call","data":{"tool_name":"x"}}\n'
        % str(old).encode()
    )
    partition.write_bytes(line * 4)
    report = rotation.rotate(rotation.settings(root, data, today=TODAY, grace_seconds=0))
    assert report.outcome.lines_archived == 4
    assert [(d.path, d.lines) for d in report.deleted] == [(f"archive/stream/{old}.jsonl.gz", 4)]
    assert not partition.exists()


def test_only_the_newest_transcripts_are_kept(tmp_path: Path) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    sessions = root / paths.SESSIONS_DIR
    sessions.mkdir(parents=True)
    for i in range(8):
        path = sessions / f"ve-{i}.jsonl"
        path.write_text('{"timestamp":"2026-03-30T10:00:00Z"}\n')
        os.utime(path, (1_000_000 + i * 60, 1_000_000 + i * 60))  # ve-7 is the newest
    policy = RetentionPolicy.from_settings(defaults(), sessions_keep=3)
    report = rotation.rotate(rotation.settings(root, data, today=TODAY, policy=policy, grace_seconds=0))
    assert sorted(p.name for p in sessions.iterdir()) == ["ve-5.jsonl", "ve-6.jsonl", "ve-7.jsonl"]
    assert len(report.deleted) == 5
    again = rotation.rotate(rotation.settings(root, data, today=TODAY, policy=policy, grace_seconds=0))
    assert again.deleted == []  # idempotent
