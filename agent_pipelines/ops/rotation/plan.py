"""What a rotation will do: the inventory of the log folder, the files to stage, what retention deletes."""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from agent_pipelines.core import paths, reader
from agent_pipelines.core.archive import (
    LIVE_FILES,
    MONTHLY,
    Kind,
    archive_path,
    archived,
    count_lines,
    period_of,
    staging_root,
)
from agent_pipelines.core.contract import TIMESTAMP_DAY
from agent_pipelines.ops.retention import RetentionPolicy
from agent_pipelines.ops.rotation.config import BLOCK_BYTES, SHOW_SESSIONS, Settings, human_size, rel

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
            "outcome": outcome_dict(self.outcome) if self.outcome else None,
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


def source_steps(s: Settings, warnings: list[str] | None = None) -> list[SourceStep]:
    """Live files holding closed days. Only regular files inside the log folder: a directory named
    like a partition, a FIFO or a symbolic link is named in ``warnings`` and left where it is."""
    return list(iter_source_steps(s, warnings))


def iter_source_steps(s: Settings, warnings: list[str] | None = None) -> Iterator[SourceStep]:
    """:func:`source_steps` one at a time, in the same order: the stream's closed partitions (known
    from their names), then the single files, each scanned for closed days only when it is its
    turn, so a rotation stages and judges the partitions meanwhile."""
    stream_dir = s.logs_root / paths.STREAM_DIR
    partitions = [] if stream_dir.is_symlink() else sorted(stream_dir.glob("*.jsonl"))
    for path in partitions:
        try:
            day = date.fromisoformat(path.stem)
        except ValueError:
            continue
        if day < s.today and reader.regular_file(path, warnings, s.logs_root):
            with contextlib.suppress(FileNotFoundError):
                yield SourceStep(Kind.STREAM.value, rel(s, path), path.stat().st_size, "closed day")
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
            yield SourceStep(kind.value, name, size, why)


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
            found = TIMESTAMP_DAY.findall(block)
            stamps += len(found)
            for raw in set(found):  # a few distinct days among many lines: each judged once
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


def retention_steps(s: Settings, extra: dict[Kind, set[str]]) -> list[DeleteStep]:
    steps: list[DeleteStep] = []
    for kind in Kind:
        on_disk = dict(archived(s.logs_root, kind))
        for period in sorted(set(on_disk) | extra.get(kind, set())):
            if s.policy.keeps(kind, period, s.today):
                continue
            path = on_disk.get(period) or archive_path(s.logs_root, kind, period)
            size = path.stat().st_size if path.exists() else 0
            lines = count_lines(path) if path.exists() else None
            steps.append(DeleteStep(kind.value, rel(s, path), period, size, lines))
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
            steps.append(DeleteStep("sessions", rel(s, path), "", size, None))
    return steps


def outcome_dict(o: Outcome) -> dict[str, Any]:
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
