"""Finding transcript files and reading their new complete lines, by file identity and offset.

The same rules as the live tailer (:mod:`agent_pipelines.core.tailer`) applied to folders of
transcripts instead of the log folder's stream: a file is known by ``(st_dev, st_ino)`` and a hash
of its first bytes; it is read from where the last pass stopped, only up to its last newline (a
client still writing a line is left alone until the line is finished); a file that shrank, or grew
and whose first bytes changed, is read again from the start. A file whose size did not change is not
opened at all, so a sensor tick over thousands of transcripts costs one ``stat`` each.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from agent_pipelines.core.reader.files import regular_file
from agent_pipelines.core.tailer import resume_point
from agent_pipelines.ingest.importers.state import FileState

HEAD_BYTES = 256
CHUNK_BYTES = 8 << 20


@dataclass(frozen=True)
class Pending:
    """New bytes of one transcript file: from ``start`` (line ``first_line``) to ``size``."""

    path: Path
    dev: int
    ino: int
    start: int
    first_line: int
    size: int
    previous: FileState | None
    note: str | None = None


def transcript_files(
    roots: list[Path], suffixes: tuple[str, ...] = (".jsonl",), notes: list[str] | None = None
) -> list[Path]:
    """Every file ending in one of ``suffixes`` under the roots (recursively; a root may also be one
    file), sorted.

    Only regular files inside the tree, as the reader reads the log folder: a symbolic link (to a
    transcript elsewhere, or ``notes.jsonl -> ~/.ssh/id_rsa``), a FIFO (whose open would block) or a
    socket is never opened, and a linked folder is never entered; each is said in ``notes``.
    """
    found: set[Path] = set()
    for root in roots:
        if root.is_dir():
            for dirpath, dirs, names in os.walk(root, followlinks=False):
                for name in dirs:
                    if notes is not None and (Path(dirpath) / name).is_symlink():
                        notes.append(f"{Path(dirpath) / name} is a symbolic link: not followed")
                for name in names:
                    path = Path(dirpath) / name
                    if name.endswith(suffixes) and regular_file(path, notes):
                        found.add(path)
        elif regular_file(root, notes):
            found.add(root)
    return sorted(found)


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading only if it is still a regular file, never through a symbolic link
    (``O_NOFOLLOW``, then ``fstat``: no window between the look and the open). Raises ``OSError``."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def head_hash(path: Path, length: int) -> str:
    with open_regular(path) as handle:
        return hashlib.blake2b(handle.read(length), digest_size=8).hexdigest()


def _same_start(path: Path, pos: FileState) -> bool:
    return not pos.head_len or head_hash(path, pos.head_len) == pos.head


def pending(
    roots: list[Path], known: dict[tuple[int, int], FileState], suffixes: tuple[str, ...] = (".jsonl",)
) -> tuple[list[Pending], list[str]]:
    """Files with bytes not read yet, and notes (rewritten or truncated files)."""
    out: list[Pending] = []
    notes: list[str] = []
    for path in transcript_files(roots, suffixes, notes):
        try:
            st = path.lstat()
        except OSError:
            continue
        pos = known.get((st.st_dev, st.st_ino))
        start, first_line, note = 0, 1, None
        if pos is not None and st.st_size == pos.offset:
            continue  # nothing new: the common case every sensor tick, decided by stat alone
        if pos is not None:
            start, first_line, note = resume_point(
                str(path),
                st.st_size,
                pos.offset,
                pos.line,
                functools.partial(_same_start, path, pos),
            )
        if note:
            notes.append(note)
        if st.st_size > start:
            out.append(Pending(path, st.st_dev, st.st_ino, start, first_line, st.st_size, pos, note))
    return out, notes


def read_lines(item: Pending, max_bytes: int | None = None) -> Iterator[tuple[int, int, bytes]]:
    """``(line_number, byte_offset, line)`` for each complete line from ``item.start``.

    Stops at the last newline (a half-written line waits), or once ``max_bytes`` were read (the
    rest is read by the next pass). ``line`` excludes the newline.
    """
    limit = None if max_bytes is None else item.start + max_bytes
    with open_regular(item.path) as handle:
        handle.seek(item.start)
        offset, line_no, carry = item.start, item.first_line, b""
        while True:
            chunk = handle.read(CHUNK_BYTES)
            if not chunk:
                return
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            for raw in data[: cut + 1].split(b"\n")[:-1]:
                yield line_no, offset, raw
                offset += len(raw) + 1
                line_no += 1
            if limit is not None and offset >= limit:
                return


def file_state(item: Pending, offset: int, line: int, session: str | None) -> FileState:
    head_len = min(HEAD_BYTES, offset)
    head = head_hash(item.path, head_len) if head_len else ""
    return FileState(str(item.path), item.dev, item.ino, offset, line, head, head_len, session)
