"""Staging one file, preparing its outputs beside it, and committing them through a manifest."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_pipelines.core import paths, reader
from agent_pipelines.core.archive import (
    Kind,
    staging_root,
)
from agent_pipelines.core.atomic import atomic_write, fsync_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from agent_pipelines.ops.rotation.config import (
    KEEP_ON_REPREPARE,
    MANIFEST,
    ORIGIN,
    QUARANTINE,
    SOURCE,
    RotationError,
    Settings,
    checkpoint,
)
from agent_pipelines.ops.rotation.manifest import Manifest, ManifestError, StagedOrigin
from agent_pipelines.ops.rotation.plan import Outcome, SourceStep
from agent_pipelines.ops.rotation.route import Head, prejudge, route_file
from agent_pipelines.ops.rotation.sinks import CountingSink, PreparingSink


def stage(s: Settings, step: SourceStep, token: str) -> Path | None:
    tokdir = staging_root(s.logs_root) / token
    tokdir.mkdir(parents=True)
    origin_info = StagedOrigin(token, step.kind, step.origin, time.time())
    atomic_write(tokdir / ORIGIN, origin_info.to_json())
    origin = s.logs_root / step.origin
    try:
        os.rename(origin, tokdir / SOURCE)
    except FileNotFoundError:  # gone since planning (another tool moved it): nothing to do
        shutil.rmtree(tokdir)
        return None
    fsync_dir(origin.parent)
    fsync_dir(tokdir)
    checkpoint(s, "staged")
    return tokdir


@dataclass
class _Ready:
    """A token folder about to be prepared or committed: its manifest when one was written already;
    otherwise its origin, the staged source's descriptor (locked, so that writers which opened it
    before the rename have finished) and, when judged ahead, the first blocks' verdicts. Nothing
    set: nothing left to do."""

    manifest: Manifest | None = None
    origin: StagedOrigin | None = None
    fd: int | None = None
    head: Head | None = None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def process_token(s: Settings, tokdir: Path, outcome: Outcome) -> None:
    _finish(s, tokdir, _ready(s, tokdir, judge_ahead=False), outcome)


def _ready(s: Settings, tokdir: Path, *, judge_ahead: bool) -> _Ready:
    """Everything of a token folder that does not touch anything outside it: safe to run in a
    thread for the next folders while the one before commits."""
    manifest_path = tokdir / MANIFEST
    if manifest_path.exists():
        return _Ready(manifest=Manifest.load(manifest_path))
    source = tokdir / SOURCE
    if not source.exists():  # staged never happened, or everything but the folder is gone
        shutil.rmtree(tokdir, ignore_errors=True)
        return _Ready()
    origin = StagedOrigin.load(tokdir / ORIGIN)
    _discard_outputs(tokdir)  # of a prepare that never reached its manifest
    delay = origin.staged_at + s.grace_seconds - time.time()
    if delay > 0:
        time.sleep(delay)
    fd = os.open(source, os.O_RDONLY)
    ready = _Ready(origin=origin, fd=fd)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # writers that opened it before the rename finish first
        if judge_ahead:
            ready.head = prejudge(source, Kind(origin.kind), _quarantine_name(origin), s.today)
    except BaseException:
        ready.close()
        raise
    return ready


def _finish(s: Settings, tokdir: Path, ready: _Ready, outcome: Outcome) -> None:
    """Prepare (unless a manifest says it was) and commit one token folder; unlock its source."""
    try:
        if ready.manifest is not None:
            manifest = ready.manifest
        elif ready.origin is not None and ready.fd is not None:
            manifest = _prepare_locked(s, tokdir, ready.origin, ready.fd, ready.head)
        else:
            return
        _commit(s, tokdir, manifest)
    finally:
        ready.close()
    outcome.absorb(_manifest_outcome(manifest))


def _prepare_locked(s: Settings, tokdir: Path, origin: StagedOrigin, fd: int, head: Head | None) -> Manifest:
    for _attempt in range(3):
        try:
            manifest = _prepare(s, tokdir, origin, head)
        except OSError:  # disk full, read-only: free what the partial outputs took and stop;
            _discard_outputs(tokdir)  # the staged file stays readable, the next run finishes it
            raise
        if os.fstat(fd).st_size == manifest.source_bytes:
            break
        # A writer that takes no lock appended after all: prepare again from the whole file.
        _discard_outputs(tokdir)
        head = None
    else:
        raise RotationError(f"{origin.origin} keeps growing while it is rotated; run again later")
    checkpoint(s, "prepared")
    atomic_write(tokdir / MANIFEST, manifest.to_json())
    fsync_dir(tokdir)
    checkpoint(s, "manifest")
    return manifest


# Staged files locked and judged at once, in threads, while the main thread routes. Three were tried
# on this 2-core machine (a third judge keeps a query ready while the others hold the interpreter
# lock): +0-5% CPU seconds at 1M events in 6 alternated pairs and peak RSS ~0.9 -> ~1.0 GB, a wall
# gain not measurable on the loaded machine; two until a quiet machine shows one.
JUDGE_THREADS = 2
# Files judged (or waiting to be) ahead of the one routed, each holding its first blocks.
FILES_AHEAD = 4


def process_tokens(s: Settings, tokdirs: Iterable[Path], outcome: Outcome) -> None:
    """:func:`process_token` for each folder, one at a time, with the next ones judged meanwhile.

    A day partition is usually one block, so judging blocks ahead within a file leaves a core
    idle; judging (nearly all polars work, which releases the GIL) the next :data:`FILES_AHEAD`
    files in :data:`JUDGE_THREADS` threads keeps both cores busy. Only judging runs ahead: routing,
    writing and committing stay one folder at a time, in the order the folders were submitted to
    be judged, so the result, and what a rerun after a kill at any step converges to, is exactly
    that of one folder at a time.

    ``tokdirs`` may stage each file as it is drawn (:func:`~agent_pipelines.ops.rotation.run.archive_closed`):
    the first :data:`FILES_AHEAD` are judged while the rest are staged (staging is mostly waiting
    on ``fsync``), and every one is drawn, so staged, before the first is committed. Judging reads
    the staged file and writes nothing, so the files on disk go through exactly the states of
    staging everything first: a kill during staging leaves what it always left.

    The single files of the other kinds (staged last) are judged as soon as every file is staged
    (:func:`_judged_early`), and prepared and committed in that turn too: right after the first
    :data:`FILES_AHEAD` files, while the judges work on the partitions after them. Left to the end,
    their routing (line by line: they hold many days) was a tail on one core. Nothing else changes
    place: their archives, returns and quarantine are theirs alone (no partition writes to them),
    and the original logger's single stream file, whose days the partitions' archives share, keeps
    its turn after the partitions.
    """
    drawn = iter(tokdirs)
    with ThreadPoolExecutor(max_workers=JUDGE_THREADS, thread_name_prefix="rotation-ahead") as pool:
        ahead: deque[tuple[Path, Future[_Ready]]] = deque()

        def submit(source: Iterator[Path]) -> None:
            tokdir = next(source, None)
            if tokdir is not None:
                ahead.append((tokdir, pool.submit(_ready, s, tokdir, judge_ahead=True)))

        try:
            for _ in range(FILES_AHEAD):
                submit(drawn)
            rest = list(drawn)  # the rest staged before anything is committed
            early = [tokdir for tokdir in rest if _judged_early(tokdir)]
            for tokdir in early:
                ahead.append((tokdir, pool.submit(_ready, s, tokdir, judge_ahead=True)))
            upcoming = iter([tokdir for tokdir in rest if tokdir not in early])
            while ahead:
                tokdir, future = ahead.popleft()
                ready = future.result()
                submit(upcoming)
                _finish(s, tokdir, ready, outcome)
        finally:  # stopped by a failure: unlock the folders judged ahead
            for _tokdir, future in ahead:
                if not future.cancel() and future.exception() is None:
                    future.result().close()


def _judged_early(tokdir: Path) -> bool:
    """Whether a staged file is judged as soon as every file is staged, not in its turn: the single
    files of the other kinds (staged last), whose judging is line by line in Python (alerts,
    metrics: one core, holding the GIL) or the costliest per byte (errors). Judged last, they left
    the run's end on one core; judged early, they overlap the partitions' polars work. Their
    routing and commit follow in the same turn (see :func:`process_tokens`)."""
    try:
        return StagedOrigin.load(tokdir / ORIGIN).kind != Kind.STREAM.value
    except (OSError, ManifestError):  # its own turn says what is wrong with it
        return False


def _quarantine_name(origin: StagedOrigin) -> str:
    return f"rotated/{origin.token}/{origin.origin}"


def _discard_outputs(tokdir: Path) -> None:
    for leftover in tokdir.iterdir():
        if leftover.name not in KEEP_ON_REPREPARE:
            leftover.unlink()


def _prepare(s: Settings, tokdir: Path, origin: StagedOrigin, head: Head | None = None) -> Manifest:
    """Write every output of one staged file inside its token folder; return the manifest.

    Each archive is checked as it is written (see
    :class:`~agent_pipelines.ops.rotation.sinks.PreparingSink`):
    every gzip member decompressed again in memory to the lines it was given, and the file's size,
    once on disk, the sum of what was appended to it.
    """
    kind = Kind(origin.kind)
    sink = PreparingSink(s.logs_root, tokdir)
    quarantine_name = _quarantine_name(origin)
    source = tokdir / SOURCE
    try:
        totals = route_file(source, kind, origin.origin, quarantine_name, s, sink, head=head)
    finally:
        sink.close()
    manifest = Manifest(
        token=origin.token,
        kind=kind.value,
        origin=origin.origin,
        source_bytes=totals["bytes"],
        source_lines=totals["lines"],
        blank_lines=totals["blank"],
        archives=sink.archive_entries(),
        returns=sink.return_entries(),
        quarantine=sink.quarantine_entry(),
        oversize=sink.oversize_entries(),
        quarantine_dir=str(paths.quarantine_dir(s.data_root).resolve()),
    )
    if manifest.lines_routed != totals["lines"]:
        raise RotationError(
            f"{origin.origin}: {totals['lines']} lines read but {manifest.lines_routed} routed; "
            "nothing deleted"
        )
    sink.verify()
    return manifest


def _commit(s: Settings, tokdir: Path, manifest: Manifest) -> None:
    """Make a prepared rotation visible. Every step can run again after a crash with no effect."""
    for entry in manifest.archives:
        tmp, target = tokdir / entry.tmp, s.logs_root / entry.target
        if tmp.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            checkpoint(s, "archived")
        elif not target.exists():
            raise RotationError(f"{entry.target} is missing and its prepared copy is gone")
    # Every archive folder once (renamed now or by an earlier, interrupted run), before anything of
    # the source is deleted: one fsync per folder instead of one per archive.
    for folder in sorted({(s.logs_root / entry.target).parent for entry in manifest.archives}):
        fsync_dir(folder)
    for ret in manifest.returns:
        _append_once(s, s.logs_root / ret.target, tokdir, ret.file)
    done = tokdir / f"{QUARANTINE}.done"
    if manifest.quarantine.lines and not done.exists():
        write_quarantined(Path(manifest.quarantine_dir).parent, tokdir / QUARANTINE)
        atomic_write(done, b"")
        checkpoint(s, "quarantined")
    for name in manifest.oversize:
        kept, target = tokdir / name, Path(manifest.quarantine_dir) / "oversize" / f"{tokdir.name}-{name}"
        if kept.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(kept, target)  # a rename on one disk, a copy otherwise: run again if cut short
    source = tokdir / SOURCE
    if source.exists():
        source.unlink()
        fsync_dir(tokdir)
        checkpoint(s, "source_deleted")
    (tokdir / MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(tokdir, ignore_errors=True)
    fsync_dir(tokdir.parent)


def write_quarantined(data_dir: Path, prepared: Path) -> None:
    """The records a prepare wrote (one JSON object a line, by :class:`PreparingSink`) into the
    quarantine, by source file. Read in Python, not by polars: a commit runs while the judges keep
    polars' threads busy, and a query of a few lines waited its turn there (a second a run at 1M
    events, on the one thread that writes)."""
    from agent_pipelines.core.quarantine import write_quarantine_records

    by_source: dict[str, list[dict[str, Any]]] = {}
    for line in prepared.read_bytes().splitlines():
        if line.strip():
            raw = json.loads(line)
            record = {name: raw.get(name) for name in reader.QUARANTINE_SCHEMA}
            by_source.setdefault(str(record["source_file"]), []).append(record)
    for source, records in by_source.items():
        write_quarantine_records(data_dir, source, records)


def _append_once(s: Settings, target: Path, tokdir: Path, name: str) -> None:
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
            checkpoint(s, "returned")
        atomic_write(done, b"")
    finally:
        os.close(fd)


def _manifest_outcome(manifest: Manifest) -> Outcome:
    o = Outcome()
    o.sources.append(
        {
            "origin": manifest.origin,
            "kind": manifest.kind,
            "bytes": manifest.source_bytes,
            "lines": manifest.source_lines,
        }
    )
    for a in manifest.archives:
        o.add_archive(a.target, a.lines_new, a.raw_bytes, a.compressed_bytes, a.merged)
    for r in manifest.returns:
        o.returned[r.target] = o.returned.get(r.target, 0) + r.lines
    o.quarantined = dict(manifest.quarantine.reasons)
    o.blank_lines = manifest.blank_lines
    return o


def simulate_token(s: Settings, tokdir: Path) -> Outcome:
    manifest_path = tokdir / MANIFEST
    if manifest_path.exists():
        return _manifest_outcome(Manifest.load(manifest_path))
    source = tokdir / SOURCE
    if not source.exists():
        return Outcome()
    origin = StagedOrigin.load(tokdir / ORIGIN)
    counting = CountingSink(s.logs_root)
    route_file(source, Kind(origin.kind), origin.origin, _quarantine_name(origin), s, counting)
    return counting.outcome(origin.origin)
