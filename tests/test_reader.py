"""The reader: every quarantine reason with its location, partial lines, offsets, dedupe."""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path

import polars as pl

from agent_pipelines.core import paths
from agent_pipelines.core.quarantine import quarantine_summary, read_quarantine, write_quarantine
from agent_pipelines.core.reader import BLOCK_BYTES, dedupe, read_file, read_logs


def event(i: int, day: str = "2026-03-02", **extra: object) -> bytes:
    return json.dumps(
        {"timestamp": f"{day}T10:00:{i % 60:02d}.000Z", "attempt_id": f"ve-{i}", "event_type": "tool_call",
         "data": {"tool_name": "Bash", "tool_params": {"command": f"echo {i}"}}, **extra}
    ).encode()  # fmt: skip


BAD_LINES: list[tuple[bytes, str]] = [
    (b"{not json", "malformed_json"),
    (b"\xff\xfe\x00garbage", "invalid_utf8"),
    (b"[1]", "not_an_object"),
    (b'{"timestamp": "2026-03-02T10:00:00Z", "event_type": "tool_call", "data": {"tool_name": "x"}}',
     "missing_field"),
    (event(1, elapsed_ms="soon"), "wrong_type"),
    (event(1, timestamp="noon"), "invalid_timestamp"),
    (json.dumps({"timestamp": "2026-03-02T10:00:00Z", "attempt_id": "x", "event_type": "ping"}).encode(),
     "unknown_event_type"),
    (event(1, attempt_id="../../etc"), "invalid_id"),
    (json.dumps({"timestamp": "2026-03-02T10:00:00Z", "attempt_id": "x", "event_type": "session_end",
                 "data": {"completion_status": "maybe"}}).encode(), "invalid_payload"),
    (event(1, task_description="x" * (2 << 20)), "line_too_long"),
]  # fmt: skip


def test_every_reason_is_quarantined_with_file_line_and_offset(tmp_path: Path) -> None:
    lines = []
    expected = {}
    for i in range(200):
        lines.append(event(i))
        if i % 20 == 5 and len(expected) < len(BAD_LINES):
            bad, reason = BAD_LINES[len(expected)]
            lines.append(bad)
            expected[len(lines)] = (reason, sum(len(x) + 1 for x in lines[:-1]))
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = read_file(path, source_name="mixed.jsonl")
    assert result.events.height == 200
    got = {r["line_number"]: (r["reason"], r["byte_offset"]) for r in result.quarantine.iter_rows(named=True)}
    assert got == expected
    assert set(result.reasons) == {reason for _, reason in BAD_LINES}
    # Line numbers of valid rows skip the bad lines and stay true to the file.
    numbers = result.events["line_number"].to_list()
    assert all(n not in expected for n in numbers)
    assert numbers == sorted(numbers) and numbers[-1] == len(lines)
    # The raw text is kept (cut at 64 KiB for the enormous line, with its true size).
    too_long = result.quarantine.filter(pl.col("reason") == "line_too_long").row(0, named=True)
    assert too_long["raw_bytes"] > 2 << 20 and len(too_long["raw"]) <= 64 << 10


def test_half_written_last_line_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    whole = event(1) + b"\n" + event(2) + b"\n"
    partial = event(3)[:25]
    path.write_bytes(whole + partial)
    first = read_file(path)
    assert first.events.height == 2 and first.quarantine.height == 0
    assert first.offsets[str(path)] == len(whole) and first.pending_bytes == len(partial)
    # The writer finishes its line; the next read resumes at the offset and sees it whole.
    path.write_bytes(whole + event(3) + b"\n")
    second = read_file(path, start=first.offsets[str(path)], first_line=first.lines[str(path)] + 1)
    assert second.events["attempt_id"].to_list() == ["ve-3"]
    assert second.events["line_number"].to_list() == [3]
    assert second.quarantine.height == 0


def test_a_partial_last_line_in_a_final_file_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    path.write_bytes(event(1) + b"\n" + b'{"timestamp": "2026')
    result = read_file(path, final=True)
    assert result.quarantine["reason"].to_list() == ["truncated_line"]
    assert result.quarantine["line_number"].to_list() == [2]
    assert result.pending_bytes == 0


def test_blank_lines_do_not_shift_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_bytes(event(1) + b"\n\n   \n" + event(2) + b"\r\n" + b"{bad\n" + event(3) + b"\n")
    result = read_file(path)
    assert result.events["line_number"].to_list() == [1, 4, 6]
    assert result.quarantine["line_number"].to_list() == [5]


def test_a_line_longer_than_a_block_is_skipped_without_loading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as handle:
        handle.write(event(1) + b"\n")
        handle.write(b'{"x": "' + b"y" * (BLOCK_BYTES + 1000) + b'"}\n')
        handle.write(event(2) + b"\n")
    result = read_file(path)
    assert result.events["attempt_id"].to_list() == ["ve-1", "ve-2"]
    assert result.quarantine["reason"].to_list() == ["line_too_long"]
    assert result.quarantine["line_number"].to_list() == [2]
    assert result.events["line_number"].to_list() == [1, 3]


def test_many_blocks_and_scattered_bad_lines(tmp_path: Path) -> None:
    import agent_pipelines.core.reader as reader

    # 4 KiB blocks force many blocks and carried-over lines (patching the module's BLOCK_BYTES, as
    # this test did, changed nothing: the default was bound when the function was defined).
    lines = [event(i) if i % 97 else b"{oops" for i in range(3000)]
    path = tmp_path / "blocks.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = reader.read_file(path, block_bytes=4096)
    bad = [i + 1 for i in range(3000) if i % 97 == 0]
    assert result.quarantine["line_number"].to_list() == bad
    assert result.events.height == 3000 - len(bad)
    assert result.events["line_number"].to_list() == [i + 1 for i in range(3000) if i % 97]


def test_read_logs_reads_partitions_and_the_seed_file_and_dedupes(tmp_path: Path) -> None:
    part = paths.stream_partition_path(tmp_path, "2026-03-02")
    part.parent.mkdir(parents=True)
    part.write_bytes(event(1) + b"\n" + event(2) + b"\n")
    # The original PowerShell logger's single file holds the same line again (a writer wrote to
    # both) and another day.
    (tmp_path / paths.STREAM_FILE).write_bytes(event(2) + b"\n" + event(3, day="2026-03-03") + b"\n")
    everything = read_logs(tmp_path)
    assert everything.events.height == 4
    assert dedupe(everything.events)["attempt_id"].sort().to_list() == ["ve-1", "ve-2", "ve-3"]
    one_day = read_logs(tmp_path, days=[date(2026, 3, 3)])
    assert one_day.events["attempt_id"].to_list() == ["ve-3"]


def test_quarantine_is_written_once_per_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(event(1) + b"\n{bad\n\xff\n")
    data = tmp_path / "data"
    result = read_file(path, source_name="stream/2026-03-02.jsonl")
    assert write_quarantine(data, result.quarantine) == 2
    assert write_quarantine(data, read_file(path, source_name="stream/2026-03-02.jsonl").quarantine) == 0
    kept = read_quarantine(data)
    assert kept["reason"].sort().to_list() == ["invalid_utf8", "malformed_json"]
    assert quarantine_summary(data) == {"quarantined": 2, "reasons": {"invalid_utf8": 1, "malformed_json": 1}}


def test_generated_logs_read_cleanly_except_the_injected_bad_lines(small_logs: Path) -> None:
    truth = json.loads((small_logs / paths.GROUND_TRUTH_FILE).read_text())
    result = read_logs(small_logs)
    assert result.reasons == truth["malformed"]
    assert dedupe(result.events).height == truth["events_written"]
    assert result.events.height == truth["events_written"] + truth["duplicates_written"]


def test_blocks_cut_whole_lines_around_a_long_line_at_any_block_size() -> None:
    """``iter_blocks`` at block sizes from a byte up: every line comes back once, at its offset,
    whole in a block or (over the bound before its newline was read) as a long line; the lines
    after a long one, read in the same chunk as its end, too; the last bytes are the tail."""
    import io

    from agent_pipelines.core.reader import Lines, LongLine, Tail, iter_blocks

    short = [b"a" * n for n in (1, 5, 3, 12, 7, 2)]
    data = b"\n".join([short[0], b"x" * 40, *short[1:], b"y" * 50, short[0], b"end"])  # no last newline
    expected, at = [], 0
    for line in data.split(b"\n")[:-1]:
        expected.append((at, len(line)))
        at += len(line) + 1
    for block in (1, 2, 3, 7, 16, 64, 1000):
        seen: list[tuple[int, int]] = []
        tails: list[tuple[int, bytes]] = []
        for piece in iter_blocks(io.BytesIO(data), max_line_bytes=20, block_bytes=block):
            if isinstance(piece, Lines):
                at = piece.offset
                for line in piece.data.split(b"\n")[:-1]:
                    assert data[at : at + len(line)] == line
                    seen.append((at, len(line)))
                    at += len(line) + 1
            elif isinstance(piece, LongLine):
                assert piece.length > 20 and piece.ended
                seen.append((piece.offset, piece.length))
            else:
                assert isinstance(piece, Tail)
                tails.append((piece.offset, piece.data))
        assert seen == expected, block
        assert tails == [(len(data) - 3, b"end")], block


def test_blocks_parsed_in_parallel_read_exactly_as_one_after_the_other(tmp_path: Path) -> None:
    """``iter_read(parallel=...)`` (the cleaned-events pass: 1, 2, or a number asked at every
    block) hands on the same results, block by block, as the sequential read: rows, quarantined
    lines (among them a long line between two blocks and a half-written last line), offsets and
    line counts."""
    from agent_pipelines.core.reader import iter_read

    bad = [line for line, reason in BAD_LINES if reason != "line_too_long"]
    lines = [bad[i // 23 % len(bad)] if i % 23 == 0 else event(i) for i in range(500)]
    lines.insert(250, b'{"x": "' + b"y" * 9000 + b'"}')  # over the bound below, longer than a block
    path = tmp_path / "parallel.jsonl"
    path.write_bytes(b"\n".join(lines) + b'\n{"half": ')
    asked = itertools.count()

    def varying() -> int:  # a callable: asked again at every block
        return next(asked) % 3

    for final in (False, True):
        one_by_one = list(iter_read(path, block_bytes=4096, max_line_bytes=8192, final=final))
        for parallel in (1, 2, varying):
            at_once = list(
                iter_read(path, block_bytes=4096, max_line_bytes=8192, final=final, parallel=parallel)
            )
            assert len(at_once) == len(one_by_one) > 10
            for a, b in zip(at_once, one_by_one, strict=True):
                assert a.events.equals(b.events) and a.quarantine.equals(b.quarantine)
                assert (a.offsets, a.lines, a.pending_bytes, a.warnings) == (
                    b.offsets, b.lines, b.pending_bytes, b.warnings
                )  # fmt: skip
        reasons = pl.concat([r.quarantine for r in at_once])["reason"].to_list()
        assert "line_too_long" in reasons and ("truncated_line" in reasons) == final


def test_invalid_utf8_lines_among_many_are_each_quarantined_in_place(tmp_path: Path) -> None:
    """A block with a few lines of invalid UTF-8 is still split by polars (those lines filled in,
    then judged from their own bytes); one with more than the filler's bound is split in Python:
    both read every other line, and quarantine each bad line at its own line and byte offset."""
    from agent_pipelines.core.reader import lines as block_lines

    for every in (97, 7):  # 11 bad lines among 1,000, then 143: over the bound of 64
        assert (1000 // every < block_lines.MAX_FILLED) == (every == 97)
        lines = [event(i) if i % every else b'{"attempt_id": "caf\xe9 \xff", "x": ' + b"1" * i + b"}"
                 for i in range(1000)]  # fmt: skip
        lines[-1] = b"\xc3"  # a torn character on the last line too
        path = tmp_path / f"utf8-{every}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        result = read_file(path)  # one block
        bad = [i for i, line in enumerate(lines) if line.decode("utf-8", "ignore").encode() != line]
        offsets = [sum(len(line) + 1 for line in lines[:i]) for i in bad]
        q = result.quarantine
        assert q["line_number"].to_list() == [i + 1 for i in bad]
        assert q["byte_offset"].to_list() == offsets
        assert q["raw_bytes"].to_list() == [len(lines[i]) for i in bad]
        assert set(q["reason"]) == {"invalid_utf8"}
        assert result.events["line_number"].to_list() == [i + 1 for i in range(1000) if i not in set(bad)]
