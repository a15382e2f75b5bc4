"""Which files of a log folder hold stream events (regular files only), and which days they cover."""

from __future__ import annotations

import contextlib
import json
import stat
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from agent_pipelines.core import archive, paths


def regular_file(path: Path, warnings: list[str] | None = None, root: Path | None = None) -> bool:
    """Whether ``path`` is a regular file to read. A directory, FIFO, socket or symbolic link (even one
    pointing at a log elsewhere: its lines may be anyone's) is reported in ``warnings`` and skipped."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        if warnings is not None:
            warnings.append(f"{_shown(path, root)}: cannot be looked at ({exc.strerror or exc}); skipped")
        return False
    if stat.S_ISREG(st.st_mode):
        return True
    if warnings is not None:
        kind = archive.file_kind(st.st_mode)
        warnings.append(f"{_shown(path, root)} is {kind}, not a log file: skipped (never followed)")
    return False


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def _regular_dir(path: Path, warnings: list[str] | None, root: Path) -> bool:
    """Whether ``path`` is a real folder inside the log folder (a symlinked one is not followed)."""
    if path.is_symlink():
        if warnings is not None:
            warnings.append(f"{_shown(path, root)} is a symbolic link: not followed")
        return False
    return path.is_dir()


def stream_files(
    logs_root: Path, days: Iterable[date] | None = None, warnings: list[str] | None = None
) -> list[Path]:
    """The files holding stream events: archived days, daily partitions (all, or the given days), the
    original logger's single file, and days a failed rotation left staged. A day can be in both the
    archive and a partition (a late line written after the day was rotated); each line is in exactly
    one of them.

    Only regular files inside the log folder are returned; anything else is named in ``warnings``.
    """
    wanted = set(days) if days is not None else None
    candidates: list[Path] = archive.archived_stream_files(logs_root, wanted)
    stream_dir = logs_root / paths.STREAM_DIR
    if _regular_dir(stream_dir, warnings, logs_root):
        if wanted is None:
            candidates.extend(sorted(stream_dir.glob("*.jsonl")))
        else:
            candidates.extend(paths.stream_partition_path(logs_root, d) for d in sorted(wanted))
    candidates.append(logs_root / paths.STREAM_FILE)
    candidates.extend(staged_stream_files(logs_root, wanted))
    files = []
    for path in candidates:
        if regular_file(path, warnings, logs_root):
            files.append(path)
    return files


def staged_stream_files(logs_root: Path, days: set[date] | None = None) -> list[Path]:
    """Stream files a rotation staged and has not yet prepared (it stopped: disk full, killed...).

    Until the next rotation finishes them their lines are nowhere else, so they are read where they
    are. Once a rotation wrote its manifest the archives hold those lines; the staged copy is not read.
    """
    found: list[Path] = []
    staging = archive.staging_root(logs_root)
    if not staging.is_dir() or staging.is_symlink():
        return found
    for tokdir in sorted(staging.iterdir()):
        if tokdir.is_symlink() or not tokdir.is_dir() or (tokdir / "manifest.json").exists():
            continue
        try:
            origin = json.loads((tokdir / "origin.json").read_bytes())
            if origin.get("kind") != archive.Kind.STREAM.value:
                continue
            name = Path(str(origin["origin"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if days is not None and name.parent.name == paths.STREAM_DIR:
            try:
                if date.fromisoformat(name.stem) not in days:
                    continue
            except ValueError:
                continue
        source = tokdir / "source.jsonl"
        if source.exists():
            found.append(source)
    return found


def partition_days(logs_root: Path) -> list[date]:
    """UTC days present in the daily partitions and the archive (the original logger's single file
    adds days only once read)."""
    days = set()
    for path in (logs_root / paths.STREAM_DIR).glob("*.jsonl"):
        try:
            days.add(date.fromisoformat(path.stem))
        except ValueError:
            continue
    for period, _ in archive.archived(logs_root, archive.Kind.STREAM):
        try:
            days.add(date.fromisoformat(period))
        except ValueError:
            continue
    for source in staged_stream_files(logs_root):  # a day a failed rotation left staged
        try:
            origin = json.loads((source.parent / "origin.json").read_bytes())
            days.add(date.fromisoformat(Path(str(origin["origin"])).stem))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(days)


def file_sizes(logs_root: Path) -> dict[str, int]:
    """Byte size of each daily stream file (key: its day) and of the original logger's single file:
    what the log-days sensor compares between ticks, without reading a line. A file rotated away
    between listing and looking is left out (the next tick sees where it went)."""
    sizes: dict[str, int] = {}
    stream = logs_root / paths.STREAM_DIR
    if stream.is_dir():
        for path in stream.glob("*.jsonl"):
            try:
                date.fromisoformat(path.stem)
                sizes[path.stem] = path.stat().st_size
            except (ValueError, FileNotFoundError):
                continue
    legacy = logs_root / paths.STREAM_FILE
    with contextlib.suppress(FileNotFoundError):
        sizes[paths.STREAM_FILE] = legacy.stat().st_size
    return sizes
