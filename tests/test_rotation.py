"""Rotation: every line ends up exactly once (archive, live file or quarantine), even with writers
appending, after a kill at any step, and the archived days stay readable."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from agent_pipelines.core import paths
from agent_pipelines.core.archive import Kind, archive_path, archived, count_lines
from agent_pipelines.core.contract import format_timestamp
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.quarantine import read_quarantine
from agent_pipelines.core.reader import dedupe, read_file, read_logs
from agent_pipelines.core.writer import append_bytes, serialize
from agent_pipelines.ops import rotation
from agent_pipelines.ops.retention import RetentionPolicy
from agent_pipelines.orchestration.log_store import LogStore

TODAY = date(2026, 3, 10)
LIVE_NAMES = (paths.STREAM_FILE, paths.ERRORS_FILE, paths.ALERTS_FILE, paths.METRICS_FILE)


# --------------------------------------------------------------------------------------------
# Building log folders and looking at them
# --------------------------------------------------------------------------------------------


def event_line(moment: datetime, tag: str, **extra: object) -> bytes:
    record = {
        "timestamp": format_timestamp(moment),
        "attempt_id": f"att-{tag}",
        "task_id": "task-1",
        "event_type": "tool_call",
        "data": {"tool_name": "Bash", "tool_params": {"tag": tag}},
        **extra,
    }
    return (serialize(record) + "\n").encode()


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def build_logs(root: Path, *, sessions: int = 24) -> None:
    """Partitions of 4 closed days + today (logger), the original logger's single file spanning 6 days,
    errors, alerts and metrics (with a closed month), and a few bad lines."""
    clock_at = [at(TODAY - timedelta(days=4), 0, 5)]

    def clock() -> datetime:
        clock_at[0] += timedelta(minutes=50)
        return clock_at[0]

    logger = AgentWorkLogger(root, enabled=True, clock=clock)
    for i in range(sessions):
        attempt = f"ve-{i:03d}"
        logger.start_session(attempt, prompt="do it", task_id=f"t-{i % 5}", executor="CODEX", model="m")
        logger.tool_call(attempt, "Bash", {"command": f"ls {i}"})
        logger.error(attempt, f"fatal: push {i} failed", "git_push_failed", "git")
        logger.stop_session(attempt, "success" if i % 3 else "failed", cost_usd=0.01 * i, total_tokens=100)
    legacy = root / paths.STREAM_FILE
    for back in range(5, -1, -1):
        day = TODAY - timedelta(days=back)
        append_bytes(legacy, b"".join(event_line(at(day, 8, m), f"legacy-{day}-{m}") for m in range(6)))
    for back in (3, 1, 0):
        day = TODAY - timedelta(days=back)
        alert = {"timestamp": format_timestamp(at(day, 9)), "type": "error_loop", "attempt_id": f"ve-{back}"}
        append_bytes(root / paths.ALERTS_FILE, (serialize(alert) + "\n").encode())
    feb = {"timestamp": "2026-02-27T10:00:00.000Z", "attempt_id": "ve-feb", "metric_type": "session_summary"}
    metrics = root / paths.METRICS_FILE
    existing = metrics.read_bytes()
    metrics.write_bytes((serialize(feb) + "\n").encode() + existing)  # test setup, no writer running
    closed = paths.stream_partition_path(root, TODAY - timedelta(days=2))
    append_bytes(closed, b"{this is not json\n")
    append_bytes(closed, event_line(at(TODAY - timedelta(days=2)), "negative", commits_ahead=-3))
    append_bytes(root / paths.ERRORS_FILE, b"\xff\xfe not utf-8\n")


def settings(root: Path, data: Path, **kw: object) -> rotation.Settings:
    kw.setdefault("grace_seconds", 0.0)
    return rotation.settings(root, data, today=TODAY, **kw)  # type: ignore[arg-type]


def live_lines(root: Path) -> Counter[str]:
    """Every non-blank line of the rotating live files (transcripts are copies and excluded)."""
    files = [*(root / paths.STREAM_DIR).glob("*.jsonl"), *(root / n for n in LIVE_NAMES)]
    return Counter(line for p in files if p.exists() for line in _lines(p))


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    return [
        line.decode("utf-8", "backslashreplace") for line in data.split(b"\n") if line.strip()
    ]  # a last line without newline counts too


def everything(root: Path, data: Path) -> Counter[str]:
    """Lines anywhere after a rotation: live files, archives and the quarantine's raw lines."""
    found = live_lines(root)
    for kind in Kind:
        for _, path in archived(root, kind):
            found.update(_lines(path))
    quarantine = read_quarantine(data)
    found.update(quarantine.filter(quarantine["source_file"].str.starts_with("rotated/"))["raw"].to_list())
    return found


def snapshot(root: Path, data: Path) -> dict[str, object]:
    """The state a rotation leaves: every file's bytes (archives too), and the quarantine records."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != ".rotation.lock":
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    q = read_quarantine(data).to_dicts()
    for record in q:  # the token in the name differs between runs; what it holds must not
        record["source_file"] = record["source_file"].split("/", 2)[-1]
    return {"files": files, "quarantine": sorted(q, key=lambda r: (r["source_file"], r["byte_offset"]))}


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, Path]:
    root, data = tmp_path / "logs", tmp_path / "data"
    build_logs(root)
    return root, data


# --------------------------------------------------------------------------------------------
# What a rotation does
# --------------------------------------------------------------------------------------------


def test_every_line_ends_up_exactly_once(logs: tuple[Path, Path]) -> None:
    root, data = logs
    before = live_lines(root)
    report = rotation.rotate(settings(root, data))
    assert everything(root, data) == before
    # Live files keep only today (or later); closed days are archived, the original logger's single
    # file is split.
    assert [p.name for p in (root / paths.STREAM_DIR).glob("*.jsonl")] == [f"{TODAY}.jsonl"]
    assert not (root / paths.STREAM_FILE).exists()
    assert {p for p, _ in archived(root, Kind.STREAM)} == {
        str(TODAY - timedelta(days=n)) for n in range(1, 6)
    }
    for name in (paths.ERRORS_FILE, paths.ALERTS_FILE):
        assert {json.loads(x)["timestamp"][:10] for x in _lines(root / name)} == {str(TODAY)}
    assert [p for p, _ in archived(root, Kind.METRICS)] == ["2026-02"]  # March is not closed
    assert report.outcome.quarantined == {
        "malformed_json": 1,
        "pandera:greater_than_or_equal_to(0)": 1,
        "invalid_utf8": 1,
    }
    assert not list((root / "archive" / ".staging").iterdir())


_KINDS_OF_LINE = st.sampled_from(
    ["closed", "today", "future", "bad_json", "latin1", "negative", "blank", "crlf"]
)


def _line(kind: str, n: int) -> bytes:
    day = {"today": TODAY, "future": TODAY + timedelta(days=1)}.get(kind, TODAY - timedelta(days=1 + n % 3))
    return {
        "bad_json": b'{"timestamp": "2026-03-08T10:00:00Z", "attempt_id": \n',
        "latin1": b'{"attempt_id": "caf\xe9"}\n',
        "negative": event_line(at(day, n % 24), f"neg{n}", commits_ahead=-1),
        "blank": b"\n",
        "crlf": event_line(at(day, n % 24), f"crlf{n}")[:-1] + b"\r\n",
    }.get(kind) or event_line(at(day, n % 24, n % 60), f"p{n}")


@settings_(max_examples=12, deadline=None)
@given(st.lists(st.tuples(_KINDS_OF_LINE, st.sampled_from(["partition", "legacy", "errors"])), max_size=25))
def test_property_every_line_ends_up_exactly_once_and_a_rerun_changes_nothing(
    tmp_path_factory: pytest.TempPathFactory, lines: list[tuple[str, str]]
) -> None:
    """Whatever the mix of good, bad and blank lines over the live files: archived + appended back +
    quarantined = the input's non-blank lines, and a second rotation changes nothing."""
    base = tmp_path_factory.mktemp("prop")
    root, data = base / "logs", base / "data"
    targets = {
        "partition": paths.stream_partition_path(root, TODAY - timedelta(days=2)),
        "legacy": root / paths.STREAM_FILE,
        "errors": root / paths.ERRORS_FILE,
    }
    for n, (kind, where) in enumerate(lines):
        targets[where].parent.mkdir(parents=True, exist_ok=True)
        with open(targets[where], "ab") as handle:
            handle.write(_line(kind, n))
    before = live_lines(root)
    rotation.rotate(settings(root, data))
    assert everything(root, data) == before
    after = snapshot(root, data)
    rotation.rotate(settings(root, data))
    assert snapshot(root, data) == after


def test_rotation_runs_its_queries_in_memory_and_puts_polars_setting_back(logs: tuple[Path, Path]) -> None:
    """The rotation sets polars' engine for its own queries only: whatever the process had set is
    there again afterwards, after a dry run too (polars' setting is one per process)."""
    import polars as pl

    root, data = logs
    pl.Config.set_engine_affinity("streaming")
    try:
        rotation.plan_rotation(settings(root, data), simulate=True)
        assert os.environ.get("POLARS_ENGINE_AFFINITY") == "streaming"
        with rotation.run.in_memory_queries():
            assert os.environ.get("POLARS_ENGINE_AFFINITY") == "in-memory"
        rotation.rotate(settings(root, data))
        assert os.environ.get("POLARS_ENGINE_AFFINITY") == "streaming"
    finally:
        pl.Config.set_engine_affinity(None)


def test_archives_hold_the_original_lines_byte_for_byte(logs: tuple[Path, Path]) -> None:
    root, data = logs
    day = TODAY - timedelta(days=3)
    partition = paths.stream_partition_path(root, day).read_bytes()
    legacy = [
        x for x in (root / paths.STREAM_FILE).read_bytes().splitlines(keepends=True) if str(day) in x.decode()
    ]
    rotation.rotate(settings(root, data))
    with gzip.open(archive_path(root, Kind.STREAM, str(day)), "rb") as handle:
        # partitions first, then the original logger's file
        assert handle.read() == partition + b"".join(legacy)


def test_archived_days_are_still_read_by_the_reader(logs: tuple[Path, Path]) -> None:
    root, data = logs
    before = dedupe(read_logs(root).events)
    rotation.rotate(settings(root, data))
    after = read_logs(root)
    assert set(dedupe(after.events)["event_id"]) == set(before["event_id"]) - set(
        before.filter(before["commits_ahead"] == -3)["event_id"]  # that one went to the quarantine
    )
    assert after.quarantine.is_empty()
    day = TODAY - timedelta(days=1)
    one_day = read_logs(root, days=[day])
    assert one_day.events.height > 0
    assert set(one_day.events["day"]) == {day}
    assert set(one_day.events["source_file"]) == {f"archive/stream/{day}.jsonl.gz"}
    direct = read_file(archive_path(root, Kind.STREAM, str(day)), final=True)
    assert direct.events.height == one_day.events.height
    assert direct.offsets[str(archive_path(root, Kind.STREAM, str(day)))] == len(
        gzip.decompress(archive_path(root, Kind.STREAM, str(day)).read_bytes())
    )


def test_reader_reads_archive_and_late_partition_of_the_same_day(tmp_path: Path) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    day = TODAY - timedelta(days=1)
    append_bytes(
        paths.stream_partition_path(root, day), b"".join(event_line(at(day), f"a{i}") for i in range(5))
    )
    rotation.rotate(settings(root, data))
    append_bytes(paths.stream_partition_path(root, day), event_line(at(day, 23), "late"))  # after rotation
    assert read_logs(root, days=[day]).events.height == 6
    report = rotation.rotate(settings(root, data))  # the late line is merged into the archive
    assert report.outcome.archives[f"archive/stream/{day}.jsonl.gz"]["merged"] is True
    assert count_lines(archive_path(root, Kind.STREAM, str(day))) == 6
    assert not paths.stream_partition_path(root, day).exists()
    assert read_logs(root, days=[day]).events.height == 6


def test_corrupted_input_reaches_the_quarantine_whole(tmp_path: Path) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    day = TODAY - timedelta(days=1)
    huge = event_line(at(day), "huge", task_description="x" * (2 << 20))
    bad = [
        (b"{not json\n", "malformed_json"),
        (b"\xff\xfe\x00garbage\n", "invalid_utf8"),
        (b"[1, 2]\n", "not_an_object"),
        (event_line(at(day), "neg", commits_ahead=-3), "pandera:greater_than_or_equal_to(0)"),
        (huge, "line_too_long"),
        (b'{"timestamp": "2026-03-09T10:00:00Z", "event_type": "tool_call"}\n', "missing_field"),
    ]
    partition = paths.stream_partition_path(root, day)
    append_bytes(partition, event_line(at(day), "ok-1") + b"".join(line for line, _ in bad))
    with open(partition, "ab") as handle:  # a writer that died mid-line, long ago
        handle.write(event_line(at(day), "cut")[:40])
    report = rotation.rotate(settings(root, data))
    q = read_quarantine(data)
    assert sorted(q["reason"].to_list()) == sorted([r for _, r in bad] + ["truncated_line"])
    assert report.outcome.lines_archived == 1
    by_reason = {r["reason"]: r for r in q.to_dicts()}
    assert by_reason["line_too_long"]["raw_bytes"] == len(huge) - 1
    assert len(by_reason["line_too_long"]["raw"]) == len(huge) - 1  # kept whole: it left the logs
    assert by_reason["malformed_json"]["line_number"] == 2
    assert by_reason["malformed_json"]["byte_offset"] == len(event_line(at(day), "ok-1"))
    assert by_reason["pandera:greater_than_or_equal_to(0)"]["detail"].startswith("commits_ahead")
    assert by_reason["invalid_utf8"]["raw"] == "\\xff\\xfe\x00garbage"
    assert by_reason["truncated_line"]["raw"] == event_line(at(day), "cut")[:40].decode()
    assert all(s.startswith("rotated/") and s.endswith(f"stream/{day}.jsonl") for s in q["source_file"])


def test_lines_are_judged_as_written_and_no_secret_reaches_the_quarantine(tmp_path: Path) -> None:
    """The rotation parses lines without redacting them (it keeps only verdicts; the archive is the
    original bytes), so the records it makes of refused lines must be redacted on their own."""
    root, data = tmp_path / "logs", tmp_path / "data"
    day = TODAY - timedelta(days=1)
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    good = event_line(at(day), "ok", task_title=f"deploy with {token}")
    refused = event_line(at(day, 13), "neg", commits_ahead=-3, task_title=f"deploy with {token}")
    append_bytes(paths.stream_partition_path(root, day), good + refused)
    rotation.rotate(settings(root, data))
    q = read_quarantine(data)
    assert q["reason"].to_list() == ["pandera:greater_than_or_equal_to(0)"]
    assert token not in q["raw"][0] and token not in q["detail"][0]
    assert "deploy with" in q["raw"][0]
    assert gzip.decompress(archive_path(root, Kind.STREAM, str(day)).read_bytes()) == good


def test_a_line_written_twice_is_archived_twice_and_judged_as_one(tmp_path: Path) -> None:
    """The model holds one row per distinct line (``event_id`` unique): a line written twice is
    judged once, so both copies go where one would (archived, or both quarantined), and the
    duplicate is never refused for being one."""
    root, data = tmp_path / "logs", tmp_path / "data"
    day = TODAY - timedelta(days=1)
    twice = event_line(at(day, 9), "twice")
    refused = event_line(at(day, 10), "neg", commits_ahead=-1)
    other = event_line(at(day, 11), "other")
    append_bytes(paths.stream_partition_path(root, day), twice + twice + other + refused + refused)
    report = rotation.rotate(settings(root, data))
    assert gzip.decompress(archive_path(root, Kind.STREAM, str(day)).read_bytes()) == twice + twice + other
    assert report.outcome.quarantined == {"pandera:greater_than_or_equal_to(0)": 2}
    assert sorted(read_quarantine(data)["line_number"].to_list()) == [4, 5]


def _routed(root: Path, data: Path) -> dict[str, object]:
    """Where every line went, in order (archives decompressed: their members follow the blocks)."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != ".rotation.lock":
            files[path.relative_to(root).as_posix()] = _lines(path)
    q = read_quarantine(data).drop("source_file").to_dicts()
    return {"files": files, "quarantine": sorted(q, key=lambda r: (r["line_number"], r["byte_offset"]))}


def test_blocks_judged_ahead_in_threads_route_as_one_block_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small blocks, judged two ahead in worker threads, with bad lines in several of them: every
    line lands where one whole-file block sends it, and each quarantined line keeps its number and
    offset (counted while reading, before its block is judged)."""
    from agent_pipelines.ops.rotation import route

    outcomes = []
    for block_bytes in (1 << 30, 700):
        root, data = tmp_path / f"logs-{block_bytes}", tmp_path / f"data-{block_bytes}"
        build_logs(root)
        day = TODAY - timedelta(days=2)
        lines = [event_line(at(day, 9, m), f"many-{m}") for m in range(40)]
        lines[7], lines[23] = b"{not json\n", event_line(at(day, 9, 23), "neg", commits_ahead=-1)
        append_bytes(paths.stream_partition_path(root, day), b"".join(lines))
        monkeypatch.setattr(route, "ROUTE_BLOCK_BYTES", block_bytes)
        rotation.rotate(settings(root, data))
        outcomes.append(_routed(root, data))
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0]["quarantine"]) == 5  # type: ignore[arg-type]


def test_dry_run_changes_nothing_and_predicts_the_run(logs: tuple[Path, Path]) -> None:
    root, data = logs
    s = settings(root, data, policy=RetentionPolicy(stream_days=2, sessions_keep=5))
    state = snapshot(root, data)
    plan = rotation.plan_rotation(s, simulate=True)
    assert snapshot(root, data) == state
    assert not (root / "archive" / ".staging").exists() or not list((root / "archive" / ".staging").iterdir())
    report = rotation.rotate(s)
    assert plan.outcome is not None
    assert {k: v["lines"] for k, v in plan.outcome.archives.items()} == {
        k: v["lines"] for k, v in report.outcome.archives.items()
    }
    assert plan.outcome.returned == report.outcome.returned
    assert plan.outcome.quarantined == report.outcome.quarantined
    assert sorted(d.path for d in plan.deletions) == sorted(d.path for d in report.deleted)
    assert len([d for d in report.deleted if d.kind == "sessions"]) == 24 - 5
    text = "\n".join(plan.describe())
    assert f"stage stream/{TODAY - timedelta(days=1)}.jsonl" in text
    assert f"delete archive/stream/{TODAY - timedelta(days=3)}.jsonl.gz" in text


def test_second_rotation_exits_cleanly_while_one_runs(logs: tuple[Path, Path]) -> None:
    root, data = logs
    state = snapshot(root, data)
    with rotation.rotation_lock(root):
        with pytest.raises(rotation.RotationBusy, match="another rotation is running"):
            rotation.rotate(settings(root, data))
        assert snapshot(root, data) == state
        from jobs.rotation import rotate_logs

        with dg.instance_for_test() as instance:
            result = rotate_logs.execute_in_process(
                run_config={"today": str(TODAY)},
                instance=instance,
                resources={"log_store": LogStore(logs_dir=str(root), data_dir=str(data))},
            )
        assert result.success
        assert _metadata(result, "archive_closed_days")["skipped"] is True
        assert snapshot(root, data) == state
    rotation.rotate(settings(root, data))  # the lock is free again


# --------------------------------------------------------------------------------------------
# Writers appending while it runs
# --------------------------------------------------------------------------------------------

WRITERS = 3
LINES_PER_WRITER = 1500


def _writer(root: str, worker: int) -> None:
    base = Path(root)
    for i in range(LINES_PER_WRITER):
        day = TODAY - timedelta(days=i % 2)  # yesterday and today
        line = event_line(at(day, 10, i % 60), f"w{worker}-{i}")
        target = [
            base / paths.STREAM_FILE,
            paths.stream_partition_path(base, day),
            base / paths.ERRORS_FILE,
        ][i % 3]
        append_bytes(target, line)


def test_rotation_under_concurrent_writers_loses_and_doubles_nothing(tmp_path: Path) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    root.mkdir()
    s = settings(root, data, grace_seconds=0.5)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(root), w)) for w in range(WRITERS)]
    for w in workers:
        w.start()
    rotations = 0
    while any(w.is_alive() for w in workers) or rotations < 2:
        rotation.rotate(s)
        rotations += 1
    for w in workers:
        w.join()
        assert w.exitcode == 0
    rotation.rotate(s)
    found = everything(root, data)
    expected = Counter(
        event_line(at(TODAY - timedelta(days=i % 2), 10, i % 60), f"w{w}-{i}").decode().rstrip("\n")
        for w in range(WRITERS)
        for i in range(LINES_PER_WRITER)
    )
    assert sum(found.values()) == WRITERS * LINES_PER_WRITER
    assert found == expected
    assert rotations >= 2
    yesterday = str(TODAY - timedelta(days=1))
    assert count_lines(archive_path(root, Kind.STREAM, yesterday)) == sum(
        1 for w in range(WRITERS) for i in range(LINES_PER_WRITER) if i % 2 == 1 and i % 3 != 2
    )


# --------------------------------------------------------------------------------------------
# Killed at any step, then run again
# --------------------------------------------------------------------------------------------


def _cli(root: Path, data: Path, *extra: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env[rotation.GRACE_ENV] = "0"
    env.pop(rotation.CRASH_ENV, None)
    if crash:
        env[rotation.CRASH_ENV] = crash
    cmd = [
        sys.executable,
        "-m",
        "agent_pipelines.cli",
        "rotate",
        "--logs-dir",
        str(root),
        "--data-dir",
        str(data),
    ]
    cmd += ["--today", str(TODAY), "--stream-days", "3", "--sessions-keep", "10", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("uninterrupted")
    build_logs(base / "logs")
    # A day archived earlier, so merges are part of the run too.
    day = TODAY - timedelta(days=1)
    archive = archive_path(base / "logs", Kind.STREAM, str(day))
    archive.parent.mkdir(parents=True)
    archive.write_bytes(gzip.compress(event_line(at(day, 1), "archived-before"), mtime=0))
    done = _cli(base / "logs", base / "data")
    assert done.returncode == 0, done.stderr
    return snapshot(base / "logs", base / "data")


@pytest.mark.parametrize(
    "crash",
    [
        "staged:3",
        "prepared:2",
        "manifest",
        "archived:4",
        "returned",
        "quarantined",
        "source_deleted:2",
        "retention:3",
    ],
)
def test_killed_rotation_rerun_ends_as_if_never_interrupted(
    tmp_path: Path, crash: str, uninterrupted: dict[str, object]
) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    build_logs(root)
    day = TODAY - timedelta(days=1)
    archive = archive_path(root, Kind.STREAM, str(day))
    archive.parent.mkdir(parents=True)
    archive.write_bytes(gzip.compress(event_line(at(day, 1), "archived-before"), mtime=0))
    before = live_lines(root) + Counter(_lines(archive))
    killed = _cli(root, data, crash=crash)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if not crash.startswith("retention"):
        assert list((root / "archive" / ".staging").iterdir())  # it really stopped mid-way
    finished = _cli(root, data)
    assert finished.returncode == 0, finished.stderr
    assert snapshot(root, data) == uninterrupted
    assert sum(everything(root, data).values()) <= sum(before.values())  # retention deletes, never adds


def test_every_file_is_staged_before_the_first_commit(tmp_path: Path) -> None:
    """Files are judged while later ones are still being staged, but nothing is committed until
    all are staged: killed at the first archive renamed into place, no closed day is left live."""
    root, data = tmp_path / "logs", tmp_path / "data"
    build_logs(root)
    closed = [p.relative_to(root).as_posix() for p in (root / paths.STREAM_DIR).glob("*.jsonl")]
    closed = [p for p in closed if not p.endswith(f"{TODAY}.jsonl")] + list(LIVE_NAMES)
    assert _cli(root, data, crash="archived").returncode == -signal.SIGKILL
    assert [p.name for p in (root / paths.STREAM_DIR).glob("*.jsonl")] == [f"{TODAY}.jsonl"]
    assert not any((root / name).exists() for name in LIVE_NAMES)
    staged = [
        json.loads((tokdir / "origin.json").read_bytes())["origin"]
        for tokdir in sorted((root / "archive" / ".staging").iterdir())
    ]
    assert sorted(staged) == sorted(closed)


def test_single_files_are_committed_after_the_first_files_ahead_and_the_old_stream_file_last(
    tmp_path: Path,
) -> None:
    """The single files judged early (errors, alerts, metrics) are committed in that turn, after the
    first ``FILES_AHEAD`` partitions, not after every partition; the original logger's stream file,
    whose days the partitions' archives share, keeps its place after them. Killed once the fifth
    source is deleted (4 closed partitions here), the errors file is done and the old stream file
    is still staged."""
    from agent_pipelines.ops.rotation import config as rotation_config
    from agent_pipelines.ops.rotation.commit import FILES_AHEAD

    root, data = tmp_path / "logs", tmp_path / "data"
    build_logs(root)
    closed = [p for p in (root / paths.STREAM_DIR).glob("*.jsonl") if not p.name.startswith(str(TODAY))]
    assert len(closed) == FILES_AHEAD
    assert _cli(root, data, crash=f"source_deleted:{FILES_AHEAD + 1}").returncode == -signal.SIGKILL
    still_staged = {
        json.loads((tokdir / "origin.json").read_bytes())["origin"]
        for tokdir in (root / "archive" / ".staging").iterdir()
        if (tokdir / rotation_config.SOURCE).exists()
    }
    assert paths.ERRORS_FILE not in still_staged
    assert {paths.STREAM_FILE, paths.ALERTS_FILE, paths.METRICS_FILE} <= still_staged
    assert _cli(root, data).returncode == 0


def test_killed_twice_in_a_row_still_converges(tmp_path: Path, uninterrupted: dict[str, object]) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    build_logs(root)
    day = TODAY - timedelta(days=1)
    archive = archive_path(root, Kind.STREAM, str(day))
    archive.parent.mkdir(parents=True)
    archive.write_bytes(gzip.compress(event_line(at(day, 1), "archived-before"), mtime=0))
    assert _cli(root, data, crash="archived:2").returncode == -signal.SIGKILL
    assert _cli(root, data, crash="returned").returncode == -signal.SIGKILL
    assert _cli(root, data).returncode == 0
    assert snapshot(root, data) == uninterrupted


def test_a_manifest_from_an_older_rotation_is_finished_and_a_bad_one_stops_in_one_line(
    tmp_path: Path, uninterrupted: dict[str, object]
) -> None:
    root, data = tmp_path / "logs", tmp_path / "data"
    build_logs(root)
    day = TODAY - timedelta(days=1)
    archive = archive_path(root, Kind.STREAM, str(day))
    archive.parent.mkdir(parents=True)
    archive.write_bytes(gzip.compress(event_line(at(day, 1), "archived-before"), mtime=0))
    assert _cli(root, data, crash="manifest").returncode == -signal.SIGKILL
    [manifest] = (root / "archive" / ".staging").glob("*/manifest.json")
    written = json.loads(manifest.read_bytes())
    manifest.write_text('{"version": 1, "token": "cut short')
    broken = _cli(root, data)
    assert broken.returncode == 1
    [message] = broken.stderr.strip().splitlines()
    assert "manifest.json: not valid JSON" in message and "Traceback" not in broken.stderr
    assert (manifest.parent / "source.jsonl").exists()  # nothing deleted
    written.pop("oversize")  # rotations before over-long lines were kept whole wrote none
    manifest.write_text(json.dumps(written, indent=1))
    assert _cli(root, data).returncode == 0
    assert snapshot(root, data) == uninterrupted


def test_manifest_round_trips_and_says_what_is_wrong(tmp_path: Path) -> None:
    from agent_pipelines.ops.rotation.manifest import (
        ArchiveEntry,
        Manifest,
        ManifestError,
        QuarantineEntry,
        ReturnEntry,
    )

    manifest = Manifest(
        token="t", kind="stream", origin="stream/2026-03-09.jsonl", source_bytes=10, source_lines=3,
        blank_lines=0,
        archives=(ArchiveEntry("archive/stream/2026-03-09.jsonl.gz", "a.gz", False, 2, 2, 8, 30),),
        returns=(ReturnEntry("stream/2026-03-10.jsonl", "return-000.jsonl", 1, 2),),
        quarantine=QuarantineEntry("quarantine.jsonl", 0, {}), oversize=(), quarantine_dir="/q",
    )  # fmt: skip
    path = tmp_path / "manifest.json"
    path.write_bytes(manifest.to_json())
    assert Manifest.load(path) == manifest and manifest.lines_routed == 3
    for change, problem in (
        (lambda d: d["archives"][0].update(lines_new="2"), "'lines_new' has the wrong type (str)"),
        (lambda d: d.pop("quarantine_dir"), "'quarantine_dir' is missing"),
        (lambda d: d.update(version=2), "manifest version 2 is not known"),
        (lambda d: d["quarantine"].update(reasons={"x": True}), "counts must be integers"),
    ):
        broken = json.loads(manifest.to_json())
        change(broken)
        path.write_text(json.dumps(broken))
        with pytest.raises(ManifestError, match=re.escape(problem)) as info:
            Manifest.load(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------
# The live sensor's tailer across a rotation
# --------------------------------------------------------------------------------------------


def test_tailer_positioned_before_rotation_reads_every_remaining_line_once(tmp_path: Path) -> None:
    tailer = pytest.importorskip("agent_pipelines.core.tailer")
    root, data = tmp_path / "logs", tmp_path / "data"
    yesterday, today = TODAY - timedelta(days=1), TODAY
    legacy = root / paths.STREAM_FILE
    append_bytes(legacy, b"".join(event_line(at(yesterday, 22, m), f"old-{m}") for m in range(10)))
    append_bytes(legacy, b"".join(event_line(at(today, 1, m), f"new-{m}") for m in range(10)))
    today_file = paths.stream_partition_path(root, today)
    append_bytes(today_file, b"".join(event_line(at(today, 2, m), f"part-{m}") for m in range(10)))

    first = tailer.read_new(root, tailer.Cursor())
    seen = Counter(first.result.events["attempt_id"].to_list())
    assert sum(seen.values()) == 30
    # Writers go on before the rotation: new lines the tailer has not read yet.
    append_bytes(legacy, b"".join(event_line(at(today, 3, m), f"unread-legacy-{m}") for m in range(5)))
    append_bytes(today_file, b"".join(event_line(at(today, 4, m), f"unread-part-{m}") for m in range(5)))

    rotation.rotate(settings(root, data))
    second = tailer.read_new(root, first.cursor)
    after = Counter(second.result.events["attempt_id"].to_list())
    unread = {f"att-unread-legacy-{m}" for m in range(5)} | {f"att-unread-part-{m}" for m in range(5)}
    # Every line the tailer had not read is read exactly once...
    assert {a: n for a, n in after.items() if a in unread} == dict.fromkeys(unread, 1)
    # ...today's lines of the original logger's file come back once more (appended to today's partition) and
    # the detectors' event_id dedupe absorbs them; nothing else is read twice.
    assert set(after) - unread == {f"att-new-{m}" for m in range(10)}
    assert max(after.values()) == 1
    # The partition the tailer follows was only appended to: its cursor just moved on.
    assert not any("truncated" in n or "rewritten" in n for n in second.notes)
    third = tailer.read_new(root, second.cursor)
    assert third.result.events.is_empty()


# --------------------------------------------------------------------------------------------
# The Dagster job and its schedule
# --------------------------------------------------------------------------------------------


def _metadata(result: dg.ExecuteInProcessResult, step: str) -> dict[str, object]:
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT" and event.step_key == step:
            return {k: v.value for k, v in event.event_specific_data.metadata.items()}  # type: ignore[union-attr]
    raise AssertionError(f"no output from {step}")


def test_job_rotates_and_records_what_it_did(
    logs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_pipelines.core.settings import Settings
    from jobs.rotation import rotate_logs, weekly_rotation_schedule

    root, data = logs
    monkeypatch.setenv(rotation.GRACE_ENV, "0")
    monkeypatch.setenv("AGENT_LOG_RETENTION_STREAM_DAYS", "2")
    before = rotation.inventory(root)
    with dg.instance_for_test() as instance:
        result = rotate_logs.execute_in_process(
            run_config={"today": str(TODAY), "sessions_keep": 20},
            instance=instance,
            # bound as the code location binds it: from the settings of the (test's) environment
            resources={"log_store": LogStore.from_settings(Settings.load(), str(root), str(data))},
        )
    assert result.success
    md = _metadata(result, "apply_retention")
    assert md["files_before"] == before["total"]["files"]
    assert md["bytes_before"] == before["total"]["bytes"]
    assert md["files_after"] == rotation.inventory(root)["total"]["files"]
    out = result.output_for_node("apply_retention")
    deleted_archive_lines = sum(d["lines"] for d in out["deleted"] if d["kind"] != "sessions")
    in_archives = sum(count_lines(p) for k in Kind for _, p in archived(root, k))
    assert md["lines_archived"] == in_archives + deleted_archive_lines
    assert md["lines_quarantined"] == 3
    assert md["quarantine_reasons"] == {
        "malformed_json": 1,
        "pandera:greater_than_or_equal_to(0)": 1,
        "invalid_utf8": 1,
    }
    assert md["compression_ratio"] > 2
    # Env var said 2 days of stream; run config said 20 transcripts.
    assert {p for p, _ in archived(root, Kind.STREAM)} == {str(TODAY - timedelta(days=n)) for n in (1, 2)}
    assert md["deleted_files"] == 3 + 4  # stream days 3..5 ago, and 24 - 20 transcripts
    assert md["deleted_lines"] > 0
    schedule = weekly_rotation_schedule
    assert schedule.cron_schedule == "0 3 * * 0"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == "rotate_logs"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_schedule_tick_requests_a_run() -> None:
    from jobs.rotation import weekly_rotation_schedule

    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
        )
        data = weekly_rotation_schedule.evaluate_tick(context)
    assert data.run_requests and len(data.run_requests) == 1


def test_merged_definitions_load_with_the_rotation_job() -> None:
    from agent_pipelines.definitions import defs

    assert defs.get_job_def("rotate_logs").name == "rotate_logs"
    assert defs.get_schedule_def("weekly_log_rotation").cron_schedule == "0 3 * * 0"


def test_timestamps_are_what_the_archive_names_say(logs: tuple[Path, Path]) -> None:
    root, data = logs
    rotation.rotate(settings(root, data))
    for kind in (Kind.STREAM, Kind.ERRORS, Kind.ALERTS):
        for period, path in archived(root, kind):
            assert {json.loads(x)["timestamp"][:10] for x in _lines(path)} == {period}
    for period, path in archived(root, Kind.METRICS):
        assert {json.loads(x)["timestamp"][:7] for x in _lines(path)} == {period}


def test_an_archive_is_final_for_the_reader(tmp_path: Path) -> None:
    """Nobody appends to an archive: a last line without newline there is quarantined, not awaited."""
    root = tmp_path / "logs"
    day = TODAY - timedelta(days=1)
    path = archive_path(root, Kind.STREAM, str(day))
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(event_line(at(day), "whole") + event_line(at(day), "cut")[:30]))
    for final_before in (None, TODAY):
        result = read_logs(root, final_before=final_before)
        assert result.events.height == 1
        assert result.reasons == {"truncated_line": 1}
        assert result.pending_bytes == 0
