"""The tailer's cursor across appends, half-written lines, rotation, truncation, rewrite and restarts."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent_pipelines.core import paths
from agent_pipelines.core.logger import build_event
from agent_pipelines.core.tailer import Cursor, has_complete_line, read_new, scan
from agent_pipelines.core.writer import serialize

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def line(i: int, attempt: str = "ve-tail") -> bytes:
    event = build_event("tool_call", attempt, {"tool_name": "Bash"}, timestamp=T0 + timedelta(seconds=i))
    return (serialize(event) + "\n").encode()


def append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.write(data)


def read(root: Path, cursor: Cursor) -> tuple[list[int], Cursor, list[str]]:
    """Seconds offsets of the events read (our event marker), the new cursor, the notes."""
    new = read_new(root, cursor)
    seconds = [int((ts - T0).total_seconds()) for ts in new.result.events["timestamp"].to_list()]
    return seconds, new.cursor, new.notes


def test_appends_and_half_written_last_line(tmp_path: Path) -> None:
    legacy = tmp_path / paths.STREAM_FILE
    append(legacy, line(1) + line(2) + line(3)[:25])  # a writer is mid-line
    got, cursor, _ = read(tmp_path, Cursor())
    assert got == [1, 2]
    assert has_complete_line(tmp_path, scan(tmp_path, cursor).ranges[0]) is False  # only the partial tail
    append(legacy, line(3)[25:] + line(4))
    got, cursor, _ = read(tmp_path, cursor)
    assert got == [3, 4]
    new = read_new(tmp_path, cursor)
    assert new.result.events.is_empty() and not new.ranges


def test_line_numbers_continue_across_reads(tmp_path: Path) -> None:
    legacy = tmp_path / paths.STREAM_FILE
    append(legacy, line(1) + line(2))
    cursor = read_new(tmp_path, Cursor()).cursor
    append(legacy, line(3))
    events = read_new(tmp_path, cursor).result.events
    assert events["line_number"].to_list() == [3]
    assert events["source_file"].to_list() == [paths.STREAM_FILE]


def test_restart_from_serialized_cursor(tmp_path: Path) -> None:
    part = paths.stream_partition_path(tmp_path, "2026-03-02")
    append(part, line(1) + line(2))
    _, cursor, _ = read(tmp_path, Cursor())
    text = cursor.to_json()
    assert len(text) < 200  # a small JSON string, fit for a sensor cursor
    append(part, line(3))
    got, _, _ = read(tmp_path, Cursor.from_json(text))  # "a new process"
    assert got == [3]
    assert Cursor.from_json(text) == cursor
    assert Cursor.from_json("not json") == Cursor()


def test_rotation_rename_then_new_file_reads_old_tail_and_new_file(tmp_path: Path) -> None:
    legacy = tmp_path / paths.STREAM_FILE
    append(legacy, line(1) + line(2))
    _, cursor, _ = read(tmp_path, Cursor())
    append(legacy, line(3))  # written after our last read, before rotation
    archive = tmp_path / paths.ARCHIVE_DIR / "agent-work-stream.2026-03-02.jsonl"
    archive.parent.mkdir()
    os.rename(legacy, archive)
    append(legacy, line(4) + line(5))  # the writer creates a new file at the same path
    got, cursor, notes = read(tmp_path, cursor)
    assert sorted(got) == [3, 4, 5]  # nothing skipped, nothing read twice
    assert any("moved to archive/" in n for n in notes)
    got, cursor, _ = read(tmp_path, cursor)
    assert got == []
    archive.unlink()  # the rotation job compresses and deletes the plain file
    got, cursor, notes = read(tmp_path, cursor)
    assert got == [] and len(cursor.positions) == 1  # the old file is forgotten, the new one kept


def test_rotation_when_old_file_is_gone_keeps_reading_new_file(tmp_path: Path) -> None:
    legacy = tmp_path / paths.STREAM_FILE
    append(legacy, line(1))
    _, cursor, _ = read(tmp_path, Cursor())
    legacy.unlink()
    append(legacy, line(2))
    got, cursor, notes = read(tmp_path, cursor)
    assert got == [2]
    # ext4/tmpfs often hand the freed inode to the new file: the head hash tells them apart.
    assert any("is gone" in n or "rewritten" in n for n in notes)


def test_truncation_restarts_at_zero_and_says_so(tmp_path: Path) -> None:
    legacy = tmp_path / paths.STREAM_FILE
    append(legacy, line(1) + line(2) + line(3))
    _, cursor, _ = read(tmp_path, Cursor())
    with open(legacy, "wb") as handle:  # truncate in place (same inode), shorter content
        handle.write(line(7))
    got, cursor, notes = read(tmp_path, cursor)
    assert got == [7]
    assert any("truncated" in n for n in notes)


def test_rewrite_in_place_with_longer_content_is_detected_by_head(tmp_path: Path) -> None:
    legacy = tmp_path / paths.STREAM_FILE
    append(legacy, line(1))
    _, cursor, _ = read(tmp_path, Cursor())
    with open(legacy, "r+b") as handle:  # same inode, new first bytes, bigger than before
        handle.write(line(8, attempt="ve-other") + line(9, attempt="ve-other"))
    got, cursor, notes = read(tmp_path, cursor)
    assert got == [8, 9]
    assert any("rewritten" in n for n in notes)


def test_new_daily_partition_is_picked_up(tmp_path: Path) -> None:
    append(paths.stream_partition_path(tmp_path, "2026-03-02"), line(1))
    _, cursor, _ = read(tmp_path, Cursor())
    append(paths.stream_partition_path(tmp_path, "2026-03-03"), line(2))
    got, _, _ = read(tmp_path, cursor)
    assert got == [2]


def test_bad_lines_are_quarantined_not_fatal(tmp_path: Path) -> None:
    legacy = tmp_path / paths.STREAM_FILE
    append(legacy, line(1) + b"{not json\n" + line(2))
    new = read_new(tmp_path, Cursor())
    assert new.result.events.height == 2
    assert new.result.quarantine["line_number"].to_list() == [2]


def test_parsing_ahead_reads_what_one_block_after_the_other_reads(tmp_path: Path) -> None:
    """The detector job reads with blocks parsed ahead (``parallel``): the same events, quarantine
    and cursor, across appends, a bad line and a half-written last line."""
    legacy = tmp_path / paths.STREAM_FILE
    append(legacy, line(1) + b'{"not": "an event"}\n' + line(2) + line(3)[:30])
    plain, ahead = read_new(tmp_path, Cursor()), read_new(tmp_path, Cursor(), parallel=1)
    assert ahead.result.events.equals(plain.result.events)
    assert ahead.result.quarantine.equals(plain.result.quarantine)
    assert ahead.result.quarantine.height == 1
    assert ahead.cursor == plain.cursor
    append(legacy, line(3)[30:] + line(4))
    plain, ahead = read_new(tmp_path, plain.cursor), read_new(tmp_path, ahead.cursor, parallel=1)
    assert ahead.result.events.equals(plain.result.events)
    assert ahead.result.events["line_number"].to_list() == [4, 5]
    assert ahead.cursor == plain.cursor
