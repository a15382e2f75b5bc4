"""Log rotation that never loses a line: closed days out of the live files, into compressed archives.

The original rotation script gzipped each log and then truncated it, losing whatever a writer
appended in between. Here a file is never rewritten or truncated in place (a live tailer may be
reading it). A rotation:

1. **stages** each file to rotate — closed daily partitions ``stream/YYYY-MM-DD.jsonl`` and the
   single-file logs holding closed days — by *renaming* it into ``archive/.staging/<token>/``.
   Writers open by path on every append, so the next append creates a fresh live file; a tailer
   following the old inode reads it to its end.
2. waits a short **grace** period and takes the writers' ``flock`` on the staged file: writers that
   opened it just before the rename finish their append first.
3. **prepares** every output inside the token folder, touching nothing visible: valid lines of
   closed days as deterministic gzip members (merged after an existing archive of the same day),
   lines of today or later to be appended back to the live files, refused lines for the quarantine.
   Lines are routed byte for byte; only the verdict comes from parsing (the reader's contract
   checks, then ``contract.CleanedEvent`` in pandera as the final gate).
4. writes ``manifest.json`` (temp file, fsync, rename): the **commit point**.
5. **commits** step by step, each step idempotent: archives renamed into place; lines appended
   back exactly once (the append position is recorded under the target's lock before writing, so
   a rerun can see whether its bytes are already there); quarantine records written (the
   quarantine store keys them); the staged file deleted; the token folder removed.
6. applies **retention** (:mod:`agent_pipelines.retention`): expired archives and the oldest
   session transcripts are deleted.

A run killed anywhere is finished by the next run, which first completes every token folder it
finds (re-preparing from the staged file when no manifest was written) before staging anything new,
so it ends in the state an uninterrupted run would have reached. ``archive/.rotation.lock`` (a
non-blocking ``flock``) makes a second concurrent rotation stop with :class:`RotationBusy`.

For tests, ``AGENT_PIPELINES_ROTATION_CRASH_AT=<step>[:<n>]`` SIGKILLs the process the ``n``-th
time it reaches a named step (see :data:`CRASH_STEPS`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any, Protocol

import pandera.errors
import polars as pl

from agent_pipelines import archive, contract, paths, reader
from agent_pipelines.archive import (
    EVENT_KINDS,
    LIVE_FILES,
    MONTHLY,
    Kind,
    archive_path,
    archived,
    count_lines,
    gzip_member,
    lock_path,
    period_of,
    staging_root,
)
from agent_pipelines.atomic import atomic_write, fsync_dir, fsync_path
from agent_pipelines.contract import MAX_LINE_BYTES, TIMESTAMP_DAY, Reason
from agent_pipelines.retention import RetentionPolicy
from agent_pipelines.settings import settings as environment
from agent_pipelines.writer import serialize

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SCHEDULE_CRON = "0 3 * * 0"  # the original script's weekly cron: Sundays 03:00 UTC (job schedule, `status`)
SCHEDULE_TIMEZONE = "UTC"
CRASH_ENV = "AGENT_PIPELINES_ROTATION_CRASH_AT"
GRACE_ENV = "AGENT_PIPELINES_ROTATION_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 2.0
BLOCK_BYTES = 32 << 20
SHOW_SESSIONS = 10  # transcripts named one by one in a described plan
CRASH_STEPS: tuple[str, ...] = (
    "staged",  # after a file was renamed into the staging folder
    "prepared",  # outputs written in the token folder, manifest not yet
    "manifest",  # commit point written
    "archived",  # after an archive was renamed into place
    "returned",  # after lines were appended back to a live file, before marking it done
    "quarantined",  # after quarantine records were written
    "source_deleted",  # after the staged file was deleted
    "retention",  # after one file was deleted by retention
)
_SOURCE = "source.jsonl"
_ORIGIN = "origin.json"
_MANIFEST = "manifest.json"
_QUARANTINE = "quarantine.jsonl"
_KEEP_ON_REPREPARE = frozenset({_SOURCE, _ORIGIN})


class RotationBusy(RuntimeError):
    """Another rotation holds the lock."""


class RotationError(RuntimeError):
    """A rotation step found an inconsistency and stopped before deleting anything."""


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    logs_root: Path
    data_root: Path
    today: date
    policy: RetentionPolicy
    grace_seconds: float = DEFAULT_GRACE_SECONDS


def settings(
    logs_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    today: date | str | None = None,
    policy: RetentionPolicy | None = None,
    grace_seconds: float | None = None,
) -> Settings:
    """Resolve folders, today's UTC date, retention and the grace period (env var or default)."""
    if isinstance(today, str):
        today = date.fromisoformat(today) if today else None
    if grace_seconds is None:
        grace_seconds = environment().rotation_grace_seconds
    return Settings(
        logs_root=paths.logs_dir(logs_dir),
        data_root=paths.data_dir(data_dir),
        today=today or datetime.now(UTC).date(),
        policy=policy or RetentionPolicy.from_env(),
        grace_seconds=grace_seconds,
    )


# --------------------------------------------------------------------------------------------
# Inventory: what the log folder holds, by kind
# --------------------------------------------------------------------------------------------

INVENTORY_GROUPS: tuple[str, ...] = (
    "stream/partitions",
    "stream/legacy",
    "errors",
    "alerts",
    "metrics",
    "sessions",
    *(f"archive/{k.value}" for k in Kind),
    "archive/staging",
)


def inventory(logs_root: Path) -> dict[str, dict[str, int]]:
    """Files and bytes per group of the log folder (the numbers a run records before and after)."""
    globs: dict[str, list[Path]] = {
        "stream/partitions": list((logs_root / paths.STREAM_DIR).glob("*.jsonl")),
        "stream/legacy": [logs_root / paths.STREAM_FILE],
        "errors": [logs_root / paths.ERRORS_FILE],
        "alerts": [logs_root / paths.ALERTS_FILE],
        "metrics": [logs_root / paths.METRICS_FILE],
        "sessions": list((logs_root / paths.SESSIONS_DIR).glob("*.jsonl")),
        "archive/staging": list(staging_root(logs_root).rglob("*")),
    }
    for kind in Kind:
        globs[f"archive/{kind.value}"] = [p for _, p in archived(logs_root, kind)]
    out: dict[str, dict[str, int]] = {}
    for group in INVENTORY_GROUPS:
        files, size = 0, 0
        for path in globs[group]:
            with contextlib.suppress(OSError):  # gone, or a symlink loop: not a file we keep
                st = path.lstat()
                if stat.S_ISREG(st.st_mode):
                    size += st.st_size
                    files += 1
        out[group] = {"files": files, "bytes": size}
    out["total"] = {
        "files": sum(v["files"] for v in out.values()),
        "bytes": sum(v["bytes"] for v in out.values()),
    }
    return out


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------


@dataclass
class SourceStep:
    """A live file to rotate."""

    kind: str
    origin: str  # path relative to the log folder
    bytes: int
    why: str


@dataclass
class DeleteStep:
    """A file retention deletes."""

    kind: str
    path: str  # relative to the log folder
    period: str
    bytes: int
    lines: int | None = None  # None: not yet archived at planning time


@dataclass
class Outcome:
    """What processing files did (or, in a dry run, would do)."""

    sources: list[dict[str, Any]] = field(default_factory=list)
    archives: dict[str, dict[str, Any]] = field(default_factory=dict)  # target -> lines, bytes, merged
    returned: dict[str, int] = field(default_factory=dict)  # live target -> lines
    quarantined: dict[str, int] = field(default_factory=dict)  # reason -> lines
    blank_lines: int = 0

    @property
    def lines_archived(self) -> int:
        return sum(a["lines"] for a in self.archives.values())

    @property
    def raw_bytes(self) -> int:
        return sum(a["raw_bytes"] for a in self.archives.values())

    @property
    def compressed_bytes(self) -> int:
        return sum(a.get("compressed_bytes", 0) for a in self.archives.values())

    def add_archive(self, target: str, lines: int, raw: int, compressed: int, merged: bool) -> None:
        entry = self.archives.setdefault(
            target, {"lines": 0, "raw_bytes": 0, "compressed_bytes": 0, "merged": merged}
        )
        entry["lines"] += lines
        entry["raw_bytes"] += raw
        entry["compressed_bytes"] += compressed
        entry["merged"] = entry["merged"] or merged

    def absorb(self, other: Outcome) -> None:
        self.sources.extend(other.sources)
        for target, a in other.archives.items():
            self.add_archive(target, a["lines"], a["raw_bytes"], a["compressed_bytes"], a["merged"])
        for target, n in other.returned.items():
            self.returned[target] = self.returned.get(target, 0) + n
        for reason, n in other.quarantined.items():
            self.quarantined[reason] = self.quarantined.get(reason, 0) + n
        self.blank_lines += other.blank_lines


@dataclass
class RotationPlan:
    today: date
    policy: RetentionPolicy
    pending: list[str]  # token folders of an interrupted rotation, finished first
    sources: list[SourceStep]
    deletions: list[DeleteStep]
    outcome: Outcome | None = None  # filled by a dry run: the exact result of processing
    warnings: list[str] = field(default_factory=list)  # files left alone, and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "warnings": self.warnings,
            "today": self.today.isoformat(),
            "retention": self.policy.as_dict(),
            "pending": self.pending,
            "sources": [asdict(s) for s in self.sources],
            "deletions": [asdict(d) for d in self.deletions],
            "outcome": _outcome_dict(self.outcome) if self.outcome else None,
        }

    def describe(self) -> list[str]:
        """The plan in words, one action per line (what ``rotate --dry-run`` prints)."""
        out = [f"rotation for closed days before {self.today} (UTC)"]
        for token in self.pending:
            out.append(f"finish interrupted rotation {token}")
        for s in self.sources:
            out.append(f"stage {s.origin} ({human_size(s.bytes)}): {s.why}")
        if self.outcome is not None:
            o = self.outcome
            for target, a in sorted(o.archives.items()):
                verb = "merge into" if a["merged"] else "write"
                out.append(f"{verb} {target}: {a['lines']} lines ({human_size(a['raw_bytes'])} raw)")
            for target, n in sorted(o.returned.items()):
                out.append(f"append back {n} lines of today or later to {target}")
            for reason, n in sorted(o.quarantined.items()):
                out.append(f"quarantine {n} lines: {reason}")
            if o.blank_lines:
                out.append(f"drop {o.blank_lines} blank lines")
        for d in self.deletions:
            if d.kind != "sessions":
                what = f"{d.lines} lines, " if d.lines is not None else ""
                out.append(f"delete {d.path} ({what}{human_size(d.bytes)}): older than retention")
        sessions = [d for d in self.deletions if d.kind == "sessions"]
        if sessions:
            size = human_size(sum(d.bytes for d in sessions))
            out.append(
                f"delete {len(sessions)} session transcripts beyond the newest "
                f"{self.policy.sessions_keep} ({size}), oldest last:"
            )
            out.extend(f"  {d.path}" for d in sessions[:SHOW_SESSIONS])
            if len(sessions) > SHOW_SESSIONS:
                out.append(f"  ... and {len(sessions) - SHOW_SESSIONS} more (--json lists every one)")
        if len(out) == 1:
            out.append("nothing to do")
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


def plan_rotation(s: Settings, *, simulate: bool = False) -> RotationPlan:
    """What a rotation would do now. With ``simulate`` every file is read (nothing is written) so
    the plan carries exact line counts per archive, per returned file and per quarantine reason."""
    pending = sorted(p.name for p in staging_root(s.logs_root).glob("*") if p.is_dir())
    warnings: list[str] = []
    sources = _sources(s, warnings)
    outcome = None
    extra: dict[Kind, set[str]] = {}
    if simulate:
        outcome = Outcome()
        for token in pending:
            outcome.absorb(_simulate_token(s, staging_root(s.logs_root) / token))
        for step in sources:
            counting = _CountingSink(s.logs_root)
            path = s.logs_root / step.origin
            with contextlib.suppress(FileNotFoundError):
                _route_file(path, Kind(step.kind), step.origin, f"rotated/<new>/{step.origin}", s, counting)
            outcome.absorb(counting.outcome(step.origin))
        for target in outcome.archives:
            kind_name, name = Path(target).parts[-2:]
            extra.setdefault(Kind(kind_name), set()).add(name.removesuffix(".jsonl.gz"))
    return RotationPlan(s.today, s.policy, pending, sources, _retention_steps(s, extra), outcome, warnings)


def _sources(s: Settings, warnings: list[str] | None = None) -> list[SourceStep]:
    """Live files holding closed days. Only regular files inside the log folder: a directory named
    like a partition, a FIFO or a symbolic link is named in ``warnings`` and left where it is."""
    steps: list[SourceStep] = []
    stream_dir = s.logs_root / paths.STREAM_DIR
    partitions = [] if stream_dir.is_symlink() else sorted(stream_dir.glob("*.jsonl"))
    for path in partitions:
        try:
            day = date.fromisoformat(path.stem)
        except ValueError:
            continue
        if day < s.today and reader.regular_file(path, warnings, s.logs_root):
            with contextlib.suppress(FileNotFoundError):
                steps.append(SourceStep(Kind.STREAM.value, _rel(s, path), path.stat().st_size, "closed day"))
    for kind, name in LIVE_FILES.items():
        path = s.logs_root / name
        if not reader.regular_file(path, warnings, s.logs_root):
            continue
        try:
            size = path.stat().st_size
            why = _single_file_reason(kind, path, s.today) if size else None
        except FileNotFoundError:
            continue
        except OSError as exc:
            if warnings is not None:
                warnings.append(f"{name}: cannot be read ({exc.strerror or exc}); not rotated")
            continue
        if why:
            steps.append(SourceStep(kind.value, name, size, why))
    return steps


def _single_file_reason(kind: Kind, path: Path, today: date) -> str | None:
    """Why a single-file log needs rotating, or ``None`` when every line belongs to the current period.

    A byte-level scan of the ``timestamp`` fields (no JSON parsing, so cheap even for the original
    logger's big single file): a closed day anywhere, or a line where no timestamp is found (it may
    be bad and belong in the quarantine), means the file is rotated. Files holding only the current
    period are left alone, so today's alerts and this month's metrics are not moved back and forth
    every week.
    """
    closed_since: date | None = None
    lines = stamps = 0
    current = period_of(kind, today)
    with open(path, "rb") as handle:
        carry = b""
        while chunk := handle.read(BLOCK_BYTES):
            block = carry + chunk
            cut = block.rfind(b"\n") + 1
            carry = block[cut:]
            block = block[:cut]
            lines += block.count(b"\n")
            for raw in TIMESTAMP_DAY.findall(block):
                stamps += 1
                try:
                    day = date.fromisoformat(raw.decode())
                except ValueError:
                    continue
                if period_of(kind, day) < current and (closed_since is None or day < closed_since):
                    closed_since = day
    if closed_since is not None:
        return f"holds closed {'months' if kind in MONTHLY else 'days'} (from {closed_since})"
    if stamps < lines:
        return "holds lines without a readable timestamp (quarantine)"
    return None


def _retention_steps(s: Settings, extra: dict[Kind, set[str]]) -> list[DeleteStep]:
    steps: list[DeleteStep] = []
    for kind in Kind:
        on_disk = dict(archived(s.logs_root, kind))
        for period in sorted(set(on_disk) | extra.get(kind, set())):
            if s.policy.keeps(kind, period, s.today):
                continue
            path = on_disk.get(period) or archive_path(s.logs_root, kind, period)
            size = path.stat().st_size if path.exists() else 0
            lines = count_lines(path) if path.exists() else None
            steps.append(DeleteStep(kind.value, _rel(s, path), period, size, lines))
    keep = s.policy.sessions_keep
    if keep is not None:
        transcripts = []
        for path in (s.logs_root / paths.SESSIONS_DIR).glob("*.jsonl"):
            with contextlib.suppress(OSError):
                st = path.lstat()
                if stat.S_ISREG(st.st_mode):
                    transcripts.append((st.st_mtime_ns, path.name, path, st.st_size))
        transcripts.sort(reverse=True)
        for _, _, path, size in transcripts[keep:]:
            steps.append(DeleteStep("sessions", _rel(s, path), "", size, None))
    return steps


# --------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------


@dataclass
class RotationReport:
    """What a run did; :meth:`metadata` is what the Dagster job records."""

    today: date
    before: dict[str, dict[str, int]]
    after: dict[str, dict[str, int]] = field(default_factory=dict)
    resumed: list[str] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)
    deleted: list[DeleteStep] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # files left alone, and why

    @property
    def compression_ratio(self) -> float | None:
        c = self.outcome.compressed_bytes
        return round(self.outcome.raw_bytes / c, 2) if c else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "before": self.before,
            "after": self.after,
            "resumed": self.resumed,
            **_outcome_dict(self.outcome),
            "compression_ratio": self.compression_ratio,
            "deleted": [asdict(d) for d in self.deleted],
            "deleted_files": len(self.deleted),
            "deleted_bytes": sum(d.bytes for d in self.deleted),
            "deleted_lines": sum(d.lines or 0 for d in self.deleted),
            "seconds": round(self.seconds, 3),
            "warnings": self.warnings,
        }

    def metadata(self) -> dict[str, Any]:
        """Flat numbers and small JSON values for ``dg.Output`` metadata."""
        d = self.to_dict()
        return {
            "files_before": self.before.get("total", {}).get("files", 0),
            "bytes_before": self.before.get("total", {}).get("bytes", 0),
            "files_after": self.after.get("total", {}).get("files", 0),
            "bytes_after": self.after.get("total", {}).get("bytes", 0),
            "lines_archived": d["lines_archived"],
            "raw_bytes_archived": d["raw_bytes_archived"],
            "compressed_bytes": d["compressed_bytes"],
            "compression_ratio": self.compression_ratio or 0.0,
            "lines_returned": d["lines_returned"],
            "lines_quarantined": d["lines_quarantined"],
            "quarantine_reasons": d["quarantine_reasons"],
            "deleted_files": d["deleted_files"],
            "deleted_bytes": d["deleted_bytes"],
            "deleted_lines": d["deleted_lines"],
            "sources": [s["origin"] for s in self.outcome.sources],
            "resumed": self.resumed,
            "seconds": d["seconds"],
        }

    def describe(self) -> list[str]:
        d = self.to_dict()
        out = [f"rotated closed days before {self.today} in {d['seconds']:.1f}s"]
        if self.resumed:
            out.append(f"finished interrupted rotation(s): {', '.join(self.resumed)}")
        ratio = f", ratio {self.compression_ratio}x" if self.compression_ratio else ""
        out.append(
            f"archived {d['lines_archived']} lines from {len(self.outcome.sources)} files into "
            f"{len(self.outcome.archives)} archives ({human_size(d['raw_bytes_archived'])} -> "
            f"{human_size(d['compressed_bytes'])}{ratio})"
        )
        if d["lines_returned"]:
            out.append(f"appended back {d['lines_returned']} lines of today or later to the live files")
        if d["lines_quarantined"]:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(d["quarantine_reasons"].items()))
            out.append(f"quarantined {d['lines_quarantined']} lines ({reasons})")
        if self.deleted:
            out.append(
                f"deleted by retention: {d['deleted_files']} files, {d['deleted_lines']} lines, "
                f"{human_size(d['deleted_bytes'])}"
            )
        before, after = self.before["total"], self.after.get("total", self.before["total"])
        out.append(
            f"log folder: {before['files']} files {human_size(before['bytes'])} -> "
            f"{after['files']} files {human_size(after['bytes'])}"
        )
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


@contextlib.contextmanager
def rotation_lock(logs_root: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the rotation lock; raise :class:`RotationBusy` at once if taken (unless ``wait``)."""
    path = lock_path(logs_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                raise RotationBusy(
                    f"another rotation is running (lock {path} held by pid {holder}); "
                    "nothing was changed — run again when it has finished"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def rotate(s: Settings, *, wait: bool = False) -> RotationReport:
    """One complete rotation: finish interrupted work, rotate closed days, apply retention."""
    started = time.monotonic()
    with rotation_lock(s.logs_root, wait=wait):
        report = RotationReport(s.today, inventory(s.logs_root))
        resume_interrupted(s, report)
        archive_closed(s, report)
        apply_retention(s, report)
        report.after = inventory(s.logs_root)
    report.seconds = time.monotonic() - started
    return report


def resume_interrupted(s: Settings, report: RotationReport) -> None:
    """Finish every token folder a killed rotation left behind (caller holds the lock)."""
    for tokdir in sorted(p for p in staging_root(s.logs_root).glob("*") if p.is_dir()):
        if _put_back_non_file(s, tokdir, report.warnings):
            continue
        report.resumed.append(tokdir.name)
        _process_token(s, tokdir, report.outcome)


def _put_back_non_file(s: Settings, tokdir: Path, warnings: list[str]) -> bool:
    """A staged "file" that is not one (a directory named like a partition, staged by a rotation
    from before regular files were checked) is put back where it was, so it stops every rotation
    after it. Returns whether the token folder was handled so."""
    source = tokdir / _SOURCE
    try:
        st = source.lstat()
    except OSError:
        return False
    if stat.S_ISREG(st.st_mode):
        return False
    try:
        origin = str(json.loads((tokdir / _ORIGIN).read_bytes())["origin"])
    except (OSError, ValueError, KeyError, TypeError):
        origin = ""
    back = s.logs_root / origin if origin else None
    inside = back is not None and back.resolve().is_relative_to(s.logs_root.resolve())
    if back is not None and inside and not os.path.lexists(back):
        os.rename(source, back)
        shutil.rmtree(tokdir, ignore_errors=True)
        warnings.append(f"{origin} is {archive.file_kind(st.st_mode)}, not a log file: put back, not rotated")
    else:
        warnings.append(f"{tokdir.name}: staged {archive.file_kind(st.st_mode)} left in staging, not rotated")
    return True


def archive_closed(s: Settings, report: RotationReport) -> None:
    """Stage every file holding closed days, then process each (caller holds the lock)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tokdirs = []
    for seq, step in enumerate(_sources(s, report.warnings)):
        tokdir = _stage(s, step, f"{stamp}-{seq:04d}")
        if tokdir is not None:
            tokdirs.append(tokdir)
    for tokdir in tokdirs:
        _process_token(s, tokdir, report.outcome)


def apply_retention(s: Settings, report: RotationReport) -> None:
    """Delete archives older than their retention and transcripts beyond the newest N."""
    for step in _retention_steps(s, {}):
        path = s.logs_root / step.path
        try:
            if step.lines is None:
                step.lines = count_lines(path)
            path.unlink()
        except FileNotFoundError:
            continue
        report.deleted.append(step)
        _checkpoint("retention")
    for folder in {s.logs_root / paths.SESSIONS_DIR, *(s.logs_root / "archive" / k.value for k in Kind)}:
        if folder.exists():
            fsync_dir(folder)


# --------------------------------------------------------------------------------------------
# Staging and processing one file
# --------------------------------------------------------------------------------------------


def _stage(s: Settings, step: SourceStep, token: str) -> Path | None:
    tokdir = staging_root(s.logs_root) / token
    tokdir.mkdir(parents=True)
    origin_info = {"token": token, "kind": step.kind, "origin": step.origin, "staged_at": time.time()}
    atomic_write(tokdir / _ORIGIN, json.dumps(origin_info).encode())
    origin = s.logs_root / step.origin
    try:
        os.rename(origin, tokdir / _SOURCE)
    except FileNotFoundError:  # gone since planning (another tool moved it): nothing to do
        shutil.rmtree(tokdir)
        return None
    fsync_dir(origin.parent)
    fsync_dir(tokdir)
    _checkpoint("staged")
    return tokdir


def _process_token(s: Settings, tokdir: Path, outcome: Outcome) -> None:
    manifest_path = tokdir / _MANIFEST
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        _commit(s, tokdir, manifest)
        outcome.absorb(_manifest_outcome(manifest))
        return
    source = tokdir / _SOURCE
    if not source.exists():  # staged never happened, or everything but the folder is gone
        shutil.rmtree(tokdir, ignore_errors=True)
        return
    origin = json.loads((tokdir / _ORIGIN).read_text())
    _discard_outputs(tokdir)  # of a prepare that never reached its manifest
    delay = origin["staged_at"] + s.grace_seconds - time.time()
    if delay > 0:
        time.sleep(delay)
    fd = os.open(source, os.O_RDONLY)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # writers that opened it before the rename finish first
        for _attempt in range(3):
            try:
                manifest = _prepare(s, tokdir, origin)
            except OSError:  # disk full, read-only: free what the partial outputs took and stop;
                _discard_outputs(tokdir)  # the staged file stays readable, the next run finishes it
                raise
            if os.fstat(fd).st_size == manifest["source_bytes"]:
                break
            # A writer that takes no lock appended after all: prepare again from the whole file.
            _discard_outputs(tokdir)
        else:
            raise RotationError(f"{origin['origin']} keeps growing while it is rotated; run again later")
        _checkpoint("prepared")
        atomic_write(manifest_path, json.dumps(manifest, indent=1).encode())
        fsync_dir(tokdir)
        _checkpoint("manifest")
        _commit(s, tokdir, manifest)
    finally:
        os.close(fd)
    outcome.absorb(_manifest_outcome(manifest))


def _discard_outputs(tokdir: Path) -> None:
    for leftover in tokdir.iterdir():
        if leftover.name not in _KEEP_ON_REPREPARE:
            leftover.unlink()


def _prepare(s: Settings, tokdir: Path, origin: dict[str, Any]) -> dict[str, Any]:
    """Write every output of one staged file inside its token folder; return the manifest."""
    kind = Kind(origin["kind"])
    sink = _PreparingSink(s.logs_root, tokdir)
    quarantine_name = f"rotated/{origin['token']}/{origin['origin']}"
    source = tokdir / _SOURCE
    try:
        totals = _route_file(source, kind, origin["origin"], quarantine_name, s, sink)
    finally:
        sink.close()
    manifest = {
        "version": 1,
        "token": origin["token"],
        "kind": kind.value,
        "origin": origin["origin"],
        "source_bytes": totals["bytes"],
        "source_lines": totals["lines"],
        "blank_lines": totals["blank"],
        "archives": sink.archive_entries(),
        "returns": sink.return_entries(),
        "quarantine": sink.quarantine_entry(),
        "oversize": sink.oversize_entries(),
        "quarantine_dir": str(paths.quarantine_dir(s.data_root).resolve()),
    }
    accounted = (
        sum(a["lines_new"] for a in manifest["archives"])
        + sum(r["lines"] for r in manifest["returns"])
        + manifest["quarantine"]["lines"]
        + totals["blank"]
    )
    if accounted != totals["lines"]:
        raise RotationError(
            f"{origin['origin']}: {totals['lines']} lines read but {accounted} routed; nothing deleted"
        )
    for entry in manifest["archives"]:  # decompress what was written before trusting it
        found = count_lines(tokdir / entry["tmp"])
        if found != entry["lines_total"]:
            raise RotationError(
                f"{entry['target']}: expected {entry['lines_total']} lines in the new archive, "
                f"found {found}; nothing deleted"
            )
    return manifest


def _commit(s: Settings, tokdir: Path, manifest: dict[str, Any]) -> None:
    """Make a prepared rotation visible. Every step can run again after a crash with no effect."""
    for entry in manifest["archives"]:
        tmp, target = tokdir / entry["tmp"], s.logs_root / entry["target"]
        if tmp.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            fsync_dir(target.parent)
            _checkpoint("archived")
        elif not target.exists():
            raise RotationError(f"{entry['target']} is missing and its prepared copy is gone")
    for entry in manifest["returns"]:
        _append_once(s.logs_root / entry["target"], tokdir, entry["file"])
    q = manifest["quarantine"]
    done = tokdir / f"{_QUARANTINE}.done"
    if q["lines"] and not done.exists():
        from agent_pipelines.quarantine import write_quarantine

        records = pl.read_ndjson(tokdir / _QUARANTINE, schema=reader.QUARANTINE_SCHEMA)
        write_quarantine(Path(manifest["quarantine_dir"]).parent, records)
        atomic_write(done, b"")
        _checkpoint("quarantined")
    for name in manifest.get("oversize", []):
        kept, target = tokdir / name, Path(manifest["quarantine_dir"]) / "oversize" / f"{tokdir.name}-{name}"
        if kept.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(kept, target)  # a rename on one disk, a copy otherwise: run again if cut short
    source = tokdir / _SOURCE
    if source.exists():
        source.unlink()
        fsync_dir(tokdir)
        _checkpoint("source_deleted")
    (tokdir / _MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(tokdir, ignore_errors=True)
    fsync_dir(tokdir.parent)


def _append_once(target: Path, tokdir: Path, name: str) -> None:
    """Append a prepared file's bytes to a live log exactly once, even across crashes.

    Under the writers' lock the current end of the target is recorded before the bytes go in;
    after a crash, the bytes found at that position say whether the append already happened.
    """
    done = tokdir / f"{name}.done"
    if done.exists():
        return
    payload = (tokdir / name).read_bytes()
    pos_file = tokdir / f"{name}.pos"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        st = os.fstat(fd)
        already = False
        if pos_file.exists():
            rec = json.loads(pos_file.read_text())
            already = (
                (rec["dev"], rec["ino"]) == (st.st_dev, st.st_ino)
                and st.st_size >= rec["pos"] + len(payload)
                and os.pread(fd, len(payload), rec["pos"]) == payload
            )
        if not already:
            pos = {"dev": st.st_dev, "ino": st.st_ino, "pos": st.st_size}
            atomic_write(pos_file, json.dumps(pos).encode())
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            _checkpoint("returned")
        atomic_write(done, b"")
    finally:
        os.close(fd)


def _manifest_outcome(manifest: dict[str, Any]) -> Outcome:
    o = Outcome()
    o.sources.append(
        {
            "origin": manifest["origin"],
            "kind": manifest["kind"],
            "bytes": manifest["source_bytes"],
            "lines": manifest["source_lines"],
        }
    )
    for a in manifest["archives"]:
        o.add_archive(a["target"], a["lines_new"], a["raw_bytes"], a["compressed_bytes"], a["merged"])
    for r in manifest["returns"]:
        o.returned[r["target"]] = o.returned.get(r["target"], 0) + r["lines"]
    o.quarantined = dict(manifest["quarantine"]["reasons"])
    o.blank_lines = manifest["blank_lines"]
    return o


def _simulate_token(s: Settings, tokdir: Path) -> Outcome:
    manifest_path = tokdir / _MANIFEST
    if manifest_path.exists():
        return _manifest_outcome(json.loads(manifest_path.read_text()))
    source = tokdir / _SOURCE
    if not source.exists():
        return Outcome()
    origin = json.loads((tokdir / _ORIGIN).read_text())
    counting = _CountingSink(s.logs_root)
    qname = f"rotated/{origin['token']}/{origin['origin']}"
    _route_file(source, Kind(origin["kind"]), origin["origin"], qname, s, counting)
    return counting.outcome(origin["origin"])


# --------------------------------------------------------------------------------------------
# Routing lines: archive, back to a live file, or quarantine
# --------------------------------------------------------------------------------------------


class _Sink(Protocol):
    def archive(self, kind: Kind, period: str, data: bytes, lines: int) -> None: ...
    def back(self, target: str, data: bytes, lines: int) -> None: ...
    def quarantine(self, records: list[dict[str, Any]]) -> None: ...
    def oversize(self, source: Path, offset: int, length: int) -> str | None: ...


def _route_file(
    path: Path, kind: Kind, origin: str, quarantine_name: str, s: Settings, sink: _Sink
) -> dict[str, int]:
    """Read a file block by block (the reader's :func:`~agent_pipelines.reader.iter_blocks`, so
    memory stays bounded whatever the lines) and hand each line to the sink. Returns
    bytes/lines/blank. A UTF-8 byte-order mark at the start is not a line: it is dropped."""
    totals = {"bytes": 0, "lines": 0, "blank": 0}
    with open(path, "rb") as handle:
        offset = reader.skip_bom(handle)
        line_no = 1
        for piece in reader.iter_blocks(handle, offset=offset, max_line_bytes=MAX_LINE_BYTES):
            if isinstance(piece, reader.Lines):
                n, blank = _route_block(piece.data, kind, quarantine_name, line_no, piece.offset, s, sink)
                totals["lines"] += n
                totals["blank"] += blank
                line_no += n
                offset = piece.offset + len(piece.data)
            elif isinstance(piece, reader.LongLine):
                kept = sink.oversize(path, piece.offset, piece.length)
                detail = f"line is {piece.length} bytes, over the {MAX_LINE_BYTES}-byte bound"
                if kept:
                    detail += f"; kept whole in the quarantine as {kept}"
                record = _record(quarantine_name, line_no, piece.offset, Reason.LINE_TOO_LONG, detail, b"")
                record["raw"] = piece.head.decode("utf-8", errors="backslashreplace")
                record["raw_bytes"] = piece.length
                sink.quarantine([record])
                totals["lines"] += 1
                line_no += 1
                offset = piece.offset + piece.length + piece.ended
            else:  # no writer can finish it any more: the file was renamed away and locked
                sink.quarantine(
                    [
                        _record(
                            quarantine_name,
                            line_no,
                            piece.offset,
                            Reason.TRUNCATED_LINE,
                            "no newline",
                            piece.data,
                        )
                    ]
                )
                totals["lines"] += 1
                offset = piece.offset + len(piece.data)
    totals["bytes"] = offset
    return totals


def _route_block(
    block: bytes, kind: Kind, qname: str, first_line: int, base_offset: int, s: Settings, sink: _Sink
) -> tuple[int, int]:
    """Route the complete lines of one block. Returns (lines, blank lines)."""
    lines = block.split(b"\n")
    lines.pop()  # the block ends with a newline
    if kind in EVENT_KINDS:
        verdicts, bad = _judge_events(block, lines, kind, qname, first_line, base_offset, s.today)
    else:
        verdicts, bad = _judge_light(lines, kind, qname, first_line, base_offset, s.today)
    if bad:
        sink.quarantine(bad)
    blank = len(lines) - verdicts.height - len(bad)
    if verdicts.is_empty():
        return len(lines), blank
    dests = verdicts["dest"].unique()
    if not bad and blank == 0 and dests.len() == 1:  # the common case: the whole block, as is
        _emit(sink, kind, dests[0], block, len(lines))
        return len(lines), blank
    grouped = verdicts.group_by("dest", maintain_order=True).agg(pl.col("idx").sort())
    for dest, idxs in grouped.iter_rows():
        data = b"\n".join([lines[i] for i in idxs]) + b"\n"
        _emit(sink, kind, dest, data, len(idxs))
    return len(lines), blank


def _emit(sink: _Sink, kind: Kind, dest: str, data: bytes, n: int) -> None:
    where, _, name = dest.partition(":")
    if where == "archive":
        sink.archive(kind, name, data, n)
    else:
        sink.back(name, data, n)


def _dest_expr(kind: Kind, today: date) -> pl.Expr:
    """``archive:<period>`` for closed periods, ``back:<live file>`` for the rest."""
    day = pl.col("day")
    if kind in MONTHLY:
        period = day.dt.strftime("%Y-%m")
        closed = period < today.strftime("%Y-%m")
    else:
        period = day.dt.strftime("%Y-%m-%d")
        closed = day < pl.lit(today)
    if kind == Kind.STREAM:
        live = pl.lit("back:" + paths.STREAM_DIR + "/") + period + pl.lit(".jsonl")
    else:
        live = pl.lit("back:" + LIVE_FILES[kind])
    return pl.when(closed).then(pl.lit("archive:") + period).otherwise(live).alias("dest")


def _judge_events(
    block: bytes, lines: list[bytes], kind: Kind, qname: str, first_line: int, base: int, today: date
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Verdicts for event lines: the reader's contract checks, then the pandera model as a gate."""
    result = reader.read_bytes(block, source_name=qname, first_line=first_line, base_offset=base)
    bad_idx: dict[int, tuple[str, str]] = {
        ln - first_line: (reason, detail)
        for ln, reason, detail in result.quarantine.select("line_number", "reason", "detail").iter_rows()
    }
    events = result.events
    failures = _pandera_failures(events)
    if failures.height:
        failed = events.select("event_id", "line_number").join(failures, on="event_id", how="inner")
        for ln, reason, detail in failed.select("line_number", "reason", "detail").iter_rows():
            bad_idx[ln - first_line] = (reason, detail)
        events = events.join(failures, on="event_id", how="anti")
    verdicts = events.select((pl.col("line_number") - first_line).alias("idx"), _dest_expr(kind, today))
    return verdicts, _records(lines, bad_idx, qname, first_line, base)


def _pandera_failures(events: pl.DataFrame) -> pl.DataFrame:
    """event_id, reason, detail for rows ``contract.CleanedEvent`` refuses.

    Identical lines (same event_id) are judged once: the table the model describes holds one row
    per distinct line, and duplicates ride along with their first copy. A schema-level failure (a
    column missing or mistyped) is a bug in our code, not bad input, so it stops the rotation.
    """
    empty = pl.DataFrame(schema={"event_id": pl.String, "reason": pl.String, "detail": pl.String})
    if events.is_empty():
        return empty
    unique = reader.dedupe(events)
    try:
        contract.CleanedEvent.validate(unique, lazy=True)
        return empty
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    if cases["index"].is_null().any():
        summary = cases.filter(pl.col("index").is_null()).select("column", "check").head(5).to_dicts()
        raise RotationError(f"the cleaned-event schema itself fails (a bug, not bad data): {summary}")
    cases = cases.with_columns(pl.col("index").cast(pl.Int64)).unique("index", keep="first")
    ids = unique["event_id"]
    return pl.DataFrame(
        {
            "event_id": [ids[i] for i in cases["index"].to_list()],
            "reason": [f"pandera:{c}" for c in cases["check"].to_list()],
            "detail": [
                f"{col or 'row'}: failure case {str(val)[:80]}"
                for col, val in zip(cases["column"].to_list(), cases["failure_case"].to_list(), strict=True)
            ],
        },
        schema=empty.schema,
    )


def _judge_light(
    lines: list[bytes], kind: Kind, qname: str, first_line: int, base: int, today: date
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Verdicts for alerts and metrics: any JSON object with an ISO 8601 ``timestamp``."""
    idx: list[int] = []
    days: list[date] = []
    bad_idx: dict[int, tuple[str, str]] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        day = _line_day(line)
        if isinstance(day, tuple):
            bad_idx[i] = (day[0].value, day[1])
        else:
            idx.append(i)
            days.append(day)
    frame = pl.DataFrame({"idx": idx, "day": days}, schema={"idx": pl.Int64, "day": pl.Date})
    return frame.select("idx", _dest_expr(kind, today)), _records(lines, bad_idx, qname, first_line, base)


def _line_day(line: bytes) -> date | tuple[Reason, str]:
    """The UTC day of a line's ``timestamp``, or why the line cannot have one."""
    if len(line) > MAX_LINE_BYTES:
        return Reason.LINE_TOO_LONG, f"line is {len(line)} bytes"
    try:
        obj = reader.decode_line(line.rstrip(b"\r"))  # the reader's rules: depth, duplicate keys, NaN
    except contract.ContractError as exc:
        return exc.reason, exc.detail
    stamp = obj.get("timestamp")
    if stamp is None:
        return Reason.MISSING_FIELD, "'timestamp' is required"
    if not isinstance(stamp, str):
        return Reason.WRONG_TYPE, "'timestamp' must be an ISO 8601 string"
    try:
        return contract.parse_timestamp(stamp).date()
    except ValueError:
        return Reason.INVALID_TIMESTAMP, f"'timestamp' is not ISO 8601: {stamp!r:.60}"


def _records(
    lines: list[bytes], bad_idx: dict[int, tuple[str, str]], qname: str, first_line: int, base: int
) -> list[dict[str, Any]]:
    if not bad_idx:
        return []
    starts = [0, *accumulate(len(line) + 1 for line in lines)]
    return [
        _record(qname, first_line + i, base + starts[i], reason, detail, lines[i])
        for i, (reason, detail) in sorted(bad_idx.items())
    ]


def _record(qname: str, line_no: int, offset: int, reason: str, detail: str, raw: bytes) -> dict[str, Any]:
    """A quarantine record keeping the whole raw line (rotation removes it from the logs)."""
    return {
        "source_file": qname,
        "line_number": line_no,
        "byte_offset": offset,
        "reason": str(reason),
        "detail": detail,
        "raw": raw.decode("utf-8", errors="backslashreplace"),
        "raw_bytes": len(raw),
    }


class _CountingSink:
    """A dry run's sink: counts what would be written."""

    def __init__(self, logs_root: Path) -> None:
        self.root = logs_root
        self._outcome = Outcome()
        self._lines = 0

    def archive(self, kind: Kind, period: str, data: bytes, lines: int) -> None:
        path = archive_path(self.root, kind, period)
        target = path.relative_to(self.root).as_posix()
        self._outcome.add_archive(target, lines, len(data), 0, path.exists())

    def back(self, target: str, data: bytes, lines: int) -> None:
        self._outcome.returned[target] = self._outcome.returned.get(target, 0) + lines

    def quarantine(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            self._outcome.quarantined[r["reason"]] = self._outcome.quarantined.get(r["reason"], 0) + 1

    def oversize(self, source: Path, offset: int, length: int) -> str | None:
        return None

    def outcome(self, origin: str) -> Outcome:
        self._outcome.sources.append({"origin": origin})
        return self._outcome


@dataclass
class _ArchiveTmp:
    target: str
    tmp: str
    merged: bool
    existing_lines: int
    lines_new: int = 0
    raw_bytes: int = 0
    compressed_bytes: int = 0


class _PreparingSink:
    """Writes outputs into the token folder. Compression runs on a small thread pool (zlib releases
    the GIL) while the main thread parses the next block; writes keep submission order."""

    def __init__(self, logs_root: Path, tokdir: Path) -> None:
        self.root = logs_root
        self.tokdir = tokdir
        self._archives: dict[str, _ArchiveTmp] = {}
        self._returns: dict[str, dict[str, Any]] = {}
        self._quarantine_lines = 0
        self._reasons: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._oversize: list[str] = []
        self._pending: deque[tuple[_ArchiveTmp, Future[bytes]]] = deque()

    def archive(self, kind: Kind, period: str, data: bytes, lines: int) -> None:
        path = archive_path(self.root, kind, period)
        target = path.relative_to(self.root).as_posix()
        entry = self._archives.get(target)
        if entry is None:
            tmp = f"archive-{kind.value}-{period}.jsonl.gz"
            merged = path.exists()
            if merged:
                shutil.copyfile(path, self.tokdir / tmp)
            else:
                (self.tokdir / tmp).touch()
            entry = _ArchiveTmp(target, tmp, merged, count_lines(path) if merged else 0)
            self._archives[target] = entry
        entry.lines_new += lines
        entry.raw_bytes += len(data)
        self._pending.append((entry, self._pool.submit(gzip_member, data)))
        while len(self._pending) > 3:
            self._write_next()

    def _write_next(self) -> None:
        entry, future = self._pending.popleft()
        member = future.result()
        entry.compressed_bytes += len(member)
        with open(self.tokdir / entry.tmp, "ab") as handle:
            handle.write(member)

    def back(self, target: str, data: bytes, lines: int) -> None:
        entry = self._returns.get(target)
        if entry is None:
            entry = {
                "target": target,
                "file": f"return-{len(self._returns):03d}.jsonl",
                "lines": 0,
                "bytes": 0,
            }
            self._returns[target] = entry
        with open(self.tokdir / entry["file"], "ab") as handle:
            handle.write(data)
        entry["lines"] += lines
        entry["bytes"] += len(data)

    def quarantine(self, records: list[dict[str, Any]]) -> None:
        payload = "".join(serialize(r) + "\n" for r in records).encode("utf-8")
        with open(self.tokdir / _QUARANTINE, "ab") as handle:
            handle.write(payload)
        self._quarantine_lines += len(records)
        for r in records:
            self._reasons[r["reason"]] = self._reasons.get(r["reason"], 0) + 1

    def oversize(self, source: Path, offset: int, length: int) -> str | None:
        """Copy an over-long line byte for byte, in bounded pieces, to a file the commit moves into
        the quarantine folder (its record holds only the first 64 KiB)."""
        name = f"oversize-{offset}.line"
        with open(source, "rb") as src, open(self.tokdir / name, "wb") as dst:
            src.seek(offset)
            left = length
            while left > 0:
                piece = src.read(min(BLOCK_BYTES, left))
                if not piece:
                    break
                dst.write(piece)
                left -= len(piece)
        self._oversize.append(name)
        return f"oversize/{self.tokdir.name}-{name}"

    def oversize_entries(self) -> list[str]:
        return list(self._oversize)

    def close(self) -> None:
        try:
            while self._pending:
                self._write_next()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for path in self.tokdir.iterdir():
            if path.name not in _KEEP_ON_REPREPARE:
                fsync_path(path)
        fsync_dir(self.tokdir)

    def archive_entries(self) -> list[dict[str, Any]]:
        return [
            {
                "target": e.target,
                "tmp": e.tmp,
                "merged": e.merged,
                "lines_new": e.lines_new,
                "lines_total": e.existing_lines + e.lines_new,
                "raw_bytes": e.raw_bytes,
                "compressed_bytes": e.compressed_bytes,
            }
            for e in self._archives.values()
        ]

    def return_entries(self) -> list[dict[str, Any]]:
        return list(self._returns.values())

    def quarantine_entry(self) -> dict[str, Any]:
        return {"file": _QUARANTINE, "lines": self._quarantine_lines, "reasons": self._reasons}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _rel(s: Settings, path: Path) -> str:
    return path.relative_to(s.logs_root).as_posix()


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _outcome_dict(o: Outcome) -> dict[str, Any]:
    return {
        "sources": o.sources,
        "archives": o.archives,
        "lines_archived": o.lines_archived,
        "raw_bytes_archived": o.raw_bytes,
        "compressed_bytes": o.compressed_bytes,
        "lines_returned": sum(o.returned.values()),
        "returned": o.returned,
        "lines_quarantined": sum(o.quarantined.values()),
        "quarantine_reasons": o.quarantined,
        "blank_lines": o.blank_lines,
    }


_crash_hits: dict[str, int] = {}


def _checkpoint(step: str) -> None:
    """Crash injection for tests: SIGKILL at the n-th arrival at ``step`` when the env var asks."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != step:
        return
    _crash_hits[step] = _crash_hits.get(step, 0) + 1
    if _crash_hits[step] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
