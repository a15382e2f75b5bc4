"""Archives are plain gzip, whatever library compresses them: the standard library and the ``gzip``
command read them, members concatenate, and the same lines give the same bytes."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_pipelines.core.archive import count_lines, gzip_member, iter_lines, member_holds

LINES = b"".join(
    b'{"timestamp":"2026-03-02T10:00:%02d.000Z","attempt_id":"ve-%d"}\n' % (i % 60, i) for i in range(5000)
)


def test_member_is_standard_gzip_and_deterministic(tmp_path: Path) -> None:
    member = gzip_member(LINES)
    assert member[:2] == b"\x1f\x8b" and member[2] == 8  # gzip magic, deflate
    assert member[4:8] == b"\x00\x00\x00\x00"  # mtime 0: reruns give byte-identical archives
    assert gzip_member(LINES) == member
    assert gzip.decompress(member) == LINES
    assert len(member) < len(LINES) / 5


def test_members_concatenate_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "2026-03-02.jsonl.gz"
    path.write_bytes(gzip_member(LINES) + gzip_member(b'{"late":1}\n'))
    assert gzip.decompress(path.read_bytes()) == LINES + b'{"late":1}\n'
    assert count_lines(path) == 5001
    assert list(iter_lines(path))[-1] == b'{"late":1}'


@pytest.mark.skipif(shutil.which("gzip") is None, reason="no gzip command")
def test_gzip_command_reads_archives(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl.gz"
    path.write_bytes(gzip_member(LINES) + gzip_member(LINES))
    subprocess.run(["gzip", "-t", str(path)], check=True)
    out = subprocess.run(["gzip", "-dc", str(path)], check=True, capture_output=True).stdout
    assert out == LINES + LINES


def test_member_check_accepts_exactly_one_member_of_the_lines() -> None:
    """The rotation's check of what it writes: one whole member holding exactly the lines, nothing
    after it. Each damage below is one a compressor bug or a bad copy could make."""
    member = gzip_member(LINES)
    assert member_holds(member, LINES)
    assert member_holds(gzip_member(b""), b"")
    assert not member_holds(member, LINES[:-1])  # other lines: fewer, more, different
    assert not member_holds(member, LINES + b"\n")
    assert not member_holds(member, LINES.replace(b"ve-1", b"ve-X", 1))
    assert not member_holds(member[:-1], LINES)  # cut short: no length
    assert not member_holds(member[: len(member) // 2], LINES)  # cut in the deflate stream
    assert not member_holds(member[:-8] + bytes(8), LINES)  # wrong CRC-32 and length
    assert not member_holds(member[:-4] + bytes(4), LINES)  # wrong length only
    assert not member_holds(member + b"\0\0\0\0", LINES)  # bytes after the member
    assert not member_holds(member + member, LINES)  # a second member
    assert not member_holds(member[10:], LINES)  # no gzip header
    flipped = bytearray(member)
    flipped[len(member) // 2] ^= 0x01  # one bit in the deflate stream
    assert not member_holds(bytes(flipped), LINES)
