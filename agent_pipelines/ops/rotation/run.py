"""Running a rotation: the lock, resuming an interrupted one, archiving closed periods, retention."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines.core import archive, paths
from agent_pipelines.core.archive import (
    Kind,
    count_lines,
    lock_path,
    staging_root,
)
from agent_pipelines.core.atomic import fsync_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from agent_pipelines.ops.rotation.commit import process_token, process_tokens, simulate_token, stage
from agent_pipelines.ops.rotation.config import (
    ORIGIN,
    SOURCE,
    RotationBusy,
    Settings,
    checkpoint,
    human_size,
)
from agent_pipelines.ops.rotation.manifest import ManifestError, StagedOrigin
from agent_pipelines.ops.rotation.plan import (
    DeleteStep,
    Outcome,
    RotationPlan,
    inventory,
    iter_source_steps,
    outcome_dict,
    retention_steps,
    source_steps,
)
from agent_pipelines.ops.rotation.route import route_file
from agent_pipelines.ops.rotation.sinks import CountingSink


# polars' in-memory engine for the lazy queries a rotation runs (the model gate's one query per
# block), not the streaming engine its default picks for them: the gate's query went from 0.008 to
# 0.006 s of CPU per block, judging a block as a whole ~5% less (the streaming engine's executor
# threads kept working after it), a rotation at 1M events 11.8 -> 11.2 s of CPU (alternated, load
# 10-12); archives and quarantine the same byte for byte. polars' setting is one per process: set
# for the rotation only, and put back as it was.
def in_memory_queries() -> pl.Config:
    """polars' setting for the rotation's queries (a context manager: put back as it was on exit)."""
    return pl.Config(engine_affinity="in-memory")


def plan_rotation(s: Settings, *, simulate: bool = False) -> RotationPlan:
    """What a rotation would do now. With ``simulate`` every file is read (nothing is written) so
    the plan carries exact line counts per archive, per returned file and per quarantine reason."""
    pending = sorted(p.name for p in staging_root(s.logs_root).glob("*") if p.is_dir())
    warnings: list[str] = []
    sources = source_steps(s, warnings)
    if not simulate:
        return RotationPlan(s.today, s.policy, pending, sources, retention_steps(s, {}), None, warnings)
    outcome = Outcome()
    extra: dict[Kind, set[str]] = {}
    with in_memory_queries():
        for token in pending:
            outcome.absorb(simulate_token(s, staging_root(s.logs_root) / token))
        for step in sources:
            counting = CountingSink(s.logs_root)
            path = s.logs_root / step.origin
            with contextlib.suppress(FileNotFoundError):
                route_file(path, Kind(step.kind), step.origin, f"rotated/<new>/{step.origin}", s, counting)
            outcome.absorb(counting.outcome(step.origin))
    for target in outcome.archives:
        kind_name, name = Path(target).parts[-2:]
        extra.setdefault(Kind(kind_name), set()).add(name.removesuffix(".jsonl.gz"))
    return RotationPlan(s.today, s.policy, pending, sources, retention_steps(s, extra), outcome, warnings)


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
            **outcome_dict(self.outcome),
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
    with in_memory_queries(), rotation_lock(s.logs_root, wait=wait):
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
        process_token(s, tokdir, report.outcome)


def _put_back_non_file(s: Settings, tokdir: Path, warnings: list[str]) -> bool:
    """A staged "file" that is not one (a directory named like a partition, staged by a rotation
    from before regular files were checked) is put back where it was, so it stops every rotation
    after it. Returns whether the token folder was handled so."""
    source = tokdir / SOURCE
    try:
        st = source.lstat()
    except OSError:
        return False
    if stat.S_ISREG(st.st_mode):
        return False
    try:
        origin = StagedOrigin.load(tokdir / ORIGIN).origin
    except (OSError, ManifestError):
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
    """Stage every file holding closed days, one after another, then process each in the same
    order (caller holds the lock). The first files are judged while the later ones are staged;
    all are staged before any is committed (see
    :func:`~agent_pipelines.ops.rotation.commit.process_tokens`)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")

    def staged() -> Iterator[Path]:
        for seq, step in enumerate(iter_source_steps(s, report.warnings)):
            tokdir = stage(s, step, f"{stamp}-{seq:04d}")
            if tokdir is not None:
                yield tokdir

    process_tokens(s, staged(), report.outcome)


def apply_retention(s: Settings, report: RotationReport) -> None:
    """Delete archives older than their retention and transcripts beyond the newest N."""
    for step in retention_steps(s, {}):
        path = s.logs_root / step.path
        try:
            if step.lines is None:
                step.lines = count_lines(path)
            path.unlink()
        except FileNotFoundError:
            continue
        report.deleted.append(step)
        checkpoint(s, "retention")
    for folder in {s.logs_root / paths.SESSIONS_DIR, *(s.logs_root / "archive" / k.value for k in Kind)}:
        if folder.exists():
            fsync_dir(folder)
