"""Failing disks: a full disk, a read-only folder, a file-size limit. Nothing acknowledged is lost, no
fragment is left behind, and every command says what happened in one line with a non-zero exit.

The faults are real kernel ones: ``RLIMIT_FSIZE`` cuts a write part-way exactly as a full disk does
(works anywhere), and a tiny tmpfs gives a true ``ENOSPC``/``EROFS`` (needs root and ``mount``;
skipped otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import cli_env

from agent_pipelines.core import paths
from agent_pipelines.core.logger import AgentWorkLogger
from agent_pipelines.core.reader import read_logs

DAY = "2026-03-02"


def cli(*args: str, logs: Path, data: Path | None = None, **kwargs) -> subprocess.CompletedProcess[str]:
    env = cli_env(AGENT_PIPELINES_DATA_DIR=str(data or logs.parent / "data"))
    return subprocess.run(
        [sys.executable, "-m", "agent_pipelines.cli", *args, "--logs-dir", str(logs)],
        capture_output=True, text=True, timeout=120, env=env, **kwargs,
    )  # fmt: skip


def one_line_failure(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_write_cut_part_way_is_truncated_back_and_the_caller_told(tmp_path: Path) -> None:
    logger = AgentWorkLogger(tmp_path, enabled=True)
    logger.start_session("a-1", prompt="first")
    part = next((tmp_path / paths.STREAM_DIR).glob("*.jsonl"))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.jsonl")}
    limit = max(len(b) for b in before.values()) + 40  # room for 40 bytes: the next line is cut
    proc = cli(
        "log", "error", "--attempt-id", "a-1", "--data", json.dumps({"error_message": "x" * 400}),
        logs=tmp_path, preexec_fn=_limit_file_size(limit),
    )  # fmt: skip
    one_line_failure(proc, "event not written", "file too large")
    after = {p: p.read_bytes() for p in tmp_path.rglob("*.jsonl")}
    assert after == before  # every file exactly as it was: no fragment, all ending with a newline
    logger.error("a-1", "acknowledged after the fault")  # the next event is whole and readable
    result = read_logs(tmp_path)
    assert result.reasons == {}
    assert result.events["event_type"].to_list() == ["session_start", "error"]
    assert part.read_bytes().endswith(b"\n")


def test_a_fragment_left_by_a_crashed_writer_does_not_swallow_the_next_event(tmp_path: Path) -> None:
    logger = AgentWorkLogger(tmp_path, enabled=True)
    logger.start_session("a-1")
    part = next((tmp_path / paths.STREAM_DIR).glob("*.jsonl"))
    with open(part, "ab") as handle:
        handle.write(b'{"timestamp": "2026-03-02T1')  # a writer killed mid-line, no lock, no newline
    logger.error("a-1", "must survive")
    result = read_logs(tmp_path)
    assert result.events["event_type"].to_list() == ["session_start", "error"]
    assert result.reasons == {"malformed_json": 1}  # the fragment, on a line of its own


@contextlib.contextmanager
def tiny_disk(tmp_path: Path, size: str = "256k") -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill the disk, then free ``leave`` bytes."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def events(n: int, day: str) -> bytes:
    return b"".join(
        json.dumps(
            {"timestamp": f"{day}T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z", "attempt_id": f"a-{i}",
             "event_type": "error", "data": {"error_message": f"failure {i} {uuid.uuid4().hex}"}}
        ).encode() + b"\n"
        for i in range(n)
    )  # fmt: skip


def test_log_on_a_full_disk_is_one_line_and_leaves_no_fragment(tmp_path: Path) -> None:
    with tiny_disk(tmp_path) as disk:
        logs = disk / "logs"
        AgentWorkLogger(logs, enabled=True).start_session("a-1")
        fill(disk)
        proc = cli("log", "error", "--attempt-id", "a-1", "--data", '{"error_message": "boom"}', logs=logs)
        one_line_failure(proc, "event not written", "no space left")
        for path in logs.rglob("*.jsonl"):
            assert path.read_bytes().endswith(b"\n")
        assert read_logs(logs).reasons == {}


def test_rotate_on_a_read_only_folder_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    with tiny_disk(tmp_path) as disk:
        logs = disk / "logs"
        part = paths.stream_partition_path(logs, DAY)
        part.parent.mkdir(parents=True)
        part.write_bytes(events(20, DAY))
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        proc = cli("rotate", "--today", "2026-03-10", logs=logs, data=tmp_path / "data")
        one_line_failure(proc, "read-only")
        check = cli("validate", "--json", logs=logs, data=tmp_path / "data")
        assert json.loads(check.stdout)["valid"] == 20


def test_rotate_out_of_space_keeps_the_staged_day_visible_then_finishes(tmp_path: Path) -> None:
    with tiny_disk(tmp_path, size="2m") as disk:
        logs = disk / "logs"
        part = paths.stream_partition_path(logs, DAY)
        part.parent.mkdir(parents=True)
        part.write_bytes(events(3000, DAY))
        filler = fill(disk, leave=12 << 10)  # room to stage, not to write the archive
        proc = cli("rotate", "--today", "2026-03-10", logs=logs, data=tmp_path / "data")
        one_line_failure(proc, "rotation stopped", "no space left")
        check = cli("validate", "--json", logs=logs, data=tmp_path / "data")
        summary = json.loads(check.stdout)
        assert summary["valid"] == 3000 and summary["quarantined"] == 0  # the staged day is still read
        filler.unlink()
        again = cli("rotate", "--today", "2026-03-10", logs=logs, data=tmp_path / "data")
        assert again.returncode == 0, again.stderr
        after = json.loads(cli("validate", "--json", logs=logs, data=tmp_path / "data").stdout)
        assert after["valid"] == 3000
        assert not list((logs / "archive" / ".staging").glob("*"))


def test_detect_on_a_full_disk_is_one_line(tmp_path: Path) -> None:
    with tiny_disk(tmp_path, size="1m") as disk:
        logs = disk / "logs"
        part = paths.stream_partition_path(logs, DAY)
        part.parent.mkdir(parents=True)
        part.write_bytes(events(10, DAY))
        (logs / paths.ALERTS_FILE).write_bytes(b"")
        fill(disk)
        proc = cli("detect", "--once", "--now", f"{DAY}T12:00:00Z", logs=logs, data=disk / "data")
        one_line_failure(proc, "no space left")
