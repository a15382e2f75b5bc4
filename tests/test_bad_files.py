"""Files that are not log files, and files that cannot be read: reported, never followed, never fatal.

Each test reproduces a case of issue 8 (a directory named ``*.jsonl``, a symlink loop, an unreadable
file, a corrupt archive, a FIFO, a symlink out of the log folder, and the tailer's inode reuse).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env

from agent_pipelines.core import paths
from agent_pipelines.core.archive import Kind, archive_path
from agent_pipelines.core.reader import read_logs
from agent_pipelines.core.tailer import Cursor, FilePos, read_new

DAY = "2026-03-02"


def event(i: int, day: str = DAY, attempt: str = "a-1") -> bytes:
    return json.dumps(
        {"timestamp": f"{day}T10:00:{i % 60:02d}.000Z", "attempt_id": attempt, "event_type": "tool_call",
         "data": {"tool_name": "Bash", "n": i}}
    ).encode() + b"\n"  # fmt: skip


def good_folder(root: Path) -> Path:
    part = paths.stream_partition_path(root, DAY)
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(event(1) + event(2))
    return root


def run_cli(*args: str, logs: Path, data: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_pipelines.cli", *args, "--logs-dir", str(logs)],
        capture_output=True, text=True, timeout=timeout, env=cli_env(AGENT_PIPELINES_DATA_DIR=str(data)),
    )  # fmt: skip


def make_directory(root: Path) -> str:
    (root / paths.STREAM_DIR / "2026-03-01.jsonl").mkdir()
    return "a directory"


def make_symlink_loop(root: Path) -> str:
    os.symlink("loop-b.jsonl", root / paths.STREAM_DIR / "2026-03-03.jsonl")
    os.symlink("2026-03-03.jsonl", root / paths.STREAM_DIR / "loop-b.jsonl")
    return "symbolic link"


def make_fifo(root: Path) -> str:
    os.mkfifo(root / paths.STREAM_DIR / "2026-03-04.jsonl")
    return "a FIFO"


def make_outside_symlink(root: Path) -> str:
    secret = root.parent / "elsewhere.jsonl"
    secret.write_bytes(event(9, attempt="secret-ATTEMPT"))
    os.symlink(secret, root / paths.STREAM_DIR / "2026-03-05.jsonl")
    return "symbolic link"


def make_corrupt_archive(root: Path) -> str:
    target = archive_path(root, Kind.STREAM, "2026-02-27")
    target.parent.mkdir(parents=True)
    whole = gzip.compress(event(1, "2026-02-27") + event(2, "2026-02-27"))
    target.write_bytes(whole[: len(whole) // 2] + b"garbage" * 10)
    return "2026-02-27"


def make_unreadable(root: Path) -> str:
    path = root / paths.STREAM_DIR / "2026-03-06.jsonl"
    path.write_bytes(event(1, "2026-03-06"))
    path.chmod(0)
    return "2026-03-06"


BAD_FILES = [make_directory, make_symlink_loop, make_fifo, make_outside_symlink, make_corrupt_archive]


@pytest.mark.parametrize("make", BAD_FILES, ids=lambda f: f.__name__)
def test_bad_file_is_a_warning_and_the_rest_is_read(tmp_path: Path, make) -> None:
    root = good_folder(tmp_path / "logs")
    expected = make(root)
    result = read_logs(root)
    assert result.events.height == 2  # the good partition, whole
    assert any(expected in w for w in result.warnings), result.warnings
    assert "secret-ATTEMPT" not in result.events["attempt_id"].to_list()
    assert result.quarantine.is_empty()  # nothing of a file not read is copied into the quarantine


def test_commands_go_on_past_every_bad_file_at_once(tmp_path: Path) -> None:
    """Every kind of bad file in one folder (each CLI start costs seconds: one folder, not five)."""
    root = good_folder(tmp_path / "logs")
    expected = [make(root) for make in BAD_FILES]
    for cmd in (
        ["validate", "--json"],
        ["summary"],
        ["detect", "--once"],
        ["rotate", "--today", "2026-03-10"],
    ):
        proc = run_cli(*cmd, logs=root, data=tmp_path / "data")
        assert proc.returncode == 0, (cmd, proc.stderr)
        assert "Traceback" not in proc.stderr
        if cmd[0] == "validate":
            warnings = json.loads(proc.stdout)["warnings"]
            assert all(any(e in w for w in warnings) for e in expected), warnings
    # rotation archived the good day and left each bad file where it was, never staged it
    for make, name in (
        (make_directory, "2026-03-01"),
        (make_fifo, "2026-03-04"),
        (make_outside_symlink, "2026-03-05"),
    ):
        assert os.path.lexists(root / paths.STREAM_DIR / f"{name}.jsonl"), make.__name__
    again = run_cli("validate", "--json", logs=root, data=tmp_path / "data")
    assert again.returncode == 0 and json.loads(again.stdout)["valid"] >= 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_a_warning(tmp_path: Path) -> None:
    root = good_folder(tmp_path / "logs")
    make_unreadable(root)
    result = read_logs(root)
    assert result.events.height == 2
    assert any("Permission denied" in w for w in result.warnings)


def test_unreadable_file_is_a_warning_even_for_root(tmp_path: Path) -> None:
    """Root ignores file modes; a file that fails to open for another reason is the same case."""
    root = good_folder(tmp_path / "logs")
    os.symlink("/proc/self/mem", root / paths.STREAM_FILE)  # never followed
    result = read_logs(root)
    assert result.events.height == 2 and result.warnings


def test_corrupt_archive_keeps_what_was_read_before_the_damage(tmp_path: Path) -> None:
    root = good_folder(tmp_path / "logs")
    target = archive_path(root, Kind.STREAM, "2026-02-27")
    target.parent.mkdir(parents=True)
    good = gzip.compress(b"".join(event(i, "2026-02-27") for i in range(50)))
    target.write_bytes(good + b"\x1f\x8b\x08\x00broken member")
    result = read_logs(root)
    assert result.events.height == 52
    assert any("2026-02-27" in w for w in result.warnings)


def test_fifo_does_not_hang_validate(tmp_path: Path) -> None:
    root = good_folder(tmp_path / "logs")
    make_fifo(root)
    proc = run_cli("validate", "--json", logs=root, data=tmp_path / "data", timeout=60)
    summary = json.loads(proc.stdout)
    assert summary["valid"] == 2 and any("FIFO" in w for w in summary["warnings"])


def test_tailer_does_not_take_a_stranger_with_a_reused_inode_for_a_moved_file(tmp_path: Path) -> None:
    """A cursor remembers a partition that was deleted; its inode now belongs to agent-errors.jsonl."""
    root = tmp_path
    errors = root / paths.ERRORS_FILE
    errors.write_bytes(event(1, attempt="from-errors") * 3)
    st = errors.stat()
    gone = FilePos(
        f"{paths.STREAM_DIR}/2026-03-01.jsonl", st.st_dev, st.st_ino, 10, 1, "0123456789abcdef", 64
    )
    # the same stranger moved under archive/ (the lookup's other place) is refused by its head too
    moved = root / paths.ARCHIVE_DIR / "misc.jsonl"
    moved.parent.mkdir()
    os.link(errors, moved)
    new = read_new(root, Cursor({gone.identity: gone}))
    assert new.result.events.is_empty()
    assert new.result.quarantine.is_empty()
    assert any("is gone" in n for n in new.notes)


def test_a_directory_staged_by_an_older_rotation_is_put_back_and_stops_nothing(tmp_path: Path) -> None:
    """The state ``main`` left after staging a directory named like a partition: every later
    rotation failed on it."""
    root = good_folder(tmp_path / "logs")
    tokdir = root / paths.ARCHIVE_DIR / ".staging" / "20260301T000000000000Z-0000"
    (tokdir / "source.jsonl").mkdir(parents=True)
    (tokdir / "origin.json").write_text(
        json.dumps(
            {"token": tokdir.name, "kind": "stream", "origin": "stream/2026-03-01.jsonl", "staged_at": 0}
        )
    )
    proc = run_cli("rotate", "--today", "2026-03-10", logs=root, data=tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert "put back" in proc.stdout
    assert (root / paths.STREAM_DIR / "2026-03-01.jsonl").is_dir()
    assert not tokdir.exists()
    assert read_logs(root).events.height == 2  # the good day was archived and reads back
