"""Durable detector state in ``<data>/state/``: what outlives a detector run.

The live detectors are incremental: each run sees only the lines appended since the previous one,
so everything a window or a session needs from earlier lines (recent errors and tool calls per
attempt, open sessions, restart counts, alerts already fired) must be on disk between runs. So must
the tailer cursor that says how far each log file was processed, and the ids of recently processed
events (the same line can be read twice when rotation re-appends it to another file).

Files, all written atomically (temp file, fsync, rename, fsync of the folder) so a crash leaves
either the old or the new version, never half of one:

* ``detector-state.json`` — cursor, per-attempt detector state, generation counter, alerts written
  but not yet confirmed as published (a write-ahead list for crash recovery);
* ``seen-events.parquet`` — ids and event times of recently processed events (bounded);
* ``stuck-watch.json`` — a tiny digest of open sessions the sensor reads every 5 s to decide,
  without loading the full state, whether a stuck-agent check is due.

Concurrency: ``generation`` is bumped on every commit; :func:`commit` refuses to write a state
derived from an older generation (a ``detect --once`` racing the sensor's run), so two writers can
never interleave their updates. The loser fails loudly and is retried with fresh state.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines.core.atomic import atomic_write

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

STATE_DIR = "state"
STATE_FILE = "detector-state.json"
SEEN_FILE = "seen-events.parquet"
WATCH_FILE = "stuck-watch.json"
LOCK_FILE = "detector.lock"
OUTBOX_DIR = "telegram-outbox"
STATE_VERSION = 1

SEEN_SCHEMA: pl.Schema = pl.Schema({"event_id": pl.String(), "ts_ms": pl.Int64()})


class StaleStateError(RuntimeError):
    """Another writer committed since this state was loaded; reload and redo the work."""


def state_dir(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / STATE_DIR


@dataclass
class DetectorState:
    """Everything the detectors carry from one run to the next (plain JSON-able containers)."""

    generation: int = 0
    cursor: str = ""  # tailer.Cursor JSON
    attempts: dict[str, dict[str, Any]] = field(default_factory=dict)
    template_fingerprints: dict[str, str] = field(default_factory=dict)  # masked message -> fingerprint
    # The error-template model (miner.TemplateMiner.to_json): the distinct masked error messages seen.
    template_model: dict[str, Any] = field(default_factory=dict)
    watermark_ms: int | None = None  # latest event time seen
    unpublished: list[dict[str, Any]] = field(default_factory=list)  # write-ahead alerts
    seen: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SEEN_SCHEMA))
    # What the last commit serialized between the generation and ``unpublished`` (see ``commit``).
    _body: str | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "generation": self.generation,
            "cursor": self.cursor,
            "attempts": self.attempts,
            "template_fingerprints": self.template_fingerprints,
            "template_model": self.template_model,
            "watermark_ms": self.watermark_ms,
            "unpublished": self.unpublished,
        }


def load(data_dir: str | os.PathLike[str]) -> DetectorState:
    """The committed state, or a fresh one. An unreadable state file is kept aside, not lost."""
    folder = state_dir(data_dir)
    path = folder / STATE_FILE
    state = DetectorState()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return state
    except ValueError:
        os.replace(path, path.with_suffix(f".corrupt-{int(time.time())}"))
        return state
    state.generation = int(raw.get("generation") or 0)
    state.cursor = str(raw.get("cursor") or "")
    state.attempts = dict(raw.get("attempts") or {})
    state.template_fingerprints = dict(raw.get("template_fingerprints") or {})
    state.template_model = dict(raw.get("template_model") or {})
    state.watermark_ms = raw.get("watermark_ms")
    state.unpublished = list(raw.get("unpublished") or [])
    seen_path = folder / SEEN_FILE
    if seen_path.exists():
        try:
            state.seen = pl.read_parquet(seen_path).select(list(SEEN_SCHEMA)).cast(SEEN_SCHEMA)
        except Exception:  # a damaged cache of ids only costs a possible duplicate check
            state.seen = pl.DataFrame(schema=SEEN_SCHEMA)
    return state


# What :func:`commit` writes first: ``{"version":N,"generation":N,"cursor":"..."`` (``to_json``'s key
# order, compact separators). The generation and the cursor are read from the file's head, not by
# parsing every attempt's windows: the state of a busy day is megabytes, and the sensor reads the
# cursor every tick while a run reads the generation twice. Any other layout is parsed whole.
_HEAD = re.compile(rb'\{"version":\d+,"generation":(\d+),"cursor":')
_HEAD_BYTES = 1 << 16


def _head_fields(data_dir: str | os.PathLike[str]) -> tuple[int, str] | None:
    """(generation, cursor) from the state file's head; ``None`` when the head is not ours."""
    with open(state_dir(data_dir) / STATE_FILE, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
        handle.seek(-1, os.SEEK_END)
        complete = handle.read(1) == b"}"  # a cut file is parsed (and refused) whole, as before
    match = _HEAD.match(head) if complete else None
    if match is None:
        return None
    try:
        text = head[match.end() :].decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:  # the head cut a character: the cursor may still end before it
        text = head[match.end() : match.end() + exc.start].decode("utf-8")
    try:
        cursor, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:  # a cursor longer than the head: parse the file
        return None
    return (int(match.group(1)), cursor) if isinstance(cursor, str) else None


def _committed(data_dir: str | os.PathLike[str]) -> tuple[int, str]:
    try:
        fields = _head_fields(data_dir)
        if fields is not None:
            return fields
        raw = json.loads((state_dir(data_dir) / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return 0, ""
    if not isinstance(raw, dict):
        return 0, ""
    return int(raw.get("generation") or 0), str(raw.get("cursor") or "")


def committed_generation(data_dir: str | os.PathLike[str]) -> int:
    """The committed state's generation (read from the file's head: see ``_HEAD``)."""
    return _committed(data_dir)[0]


def committed_cursor(data_dir: str | os.PathLike[str]) -> str:
    """Only the cursor (the sensor needs it every tick; read from the file's head)."""
    return _committed(data_dir)[1]


@contextlib.contextmanager
def locked(data_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Serialize commits of the state folder across processes (sensor runs, ``detect --once``)."""
    folder = state_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def commit(
    data_dir: str | os.PathLike[str],
    state: DetectorState,
    watch: dict[str, Any],
    *,
    write_seen: bool = True,
    only_unpublished: bool = False,
) -> None:
    """Write a new generation of the state (seen ids first, then the state, then the watch digest).

    The seen-ids file is written before the state that refers to it: after a crash between the
    two, the next run re-reads the same lines and finds them already seen only if they were
    processed — which is exactly what the older state says, so no event is lost.

    ``only_unpublished`` says nothing but ``unpublished`` changed since this state's last commit
    (publishing clears its write-ahead list so): the attempts, the model and the cursor — a busy
    day's megabytes — are written as serialized then, not serialized again, and the stuck-watch
    digest (computed from the same sessions) is left as that commit wrote it.
    """
    folder = state_dir(data_dir)
    with locked(data_dir):
        current = committed_generation(data_dir)
        if current != state.generation:
            raise StaleStateError(
                f"detector state changed while this run worked (generation {state.generation} → {current})"
            )
        state.generation += 1
        if write_seen:
            atomic_write(folder / SEEN_FILE, _parquet_bytes(state.seen))
        atomic_write(folder / STATE_FILE, _state_bytes(state, reuse=only_unpublished))
        if not only_unpublished:  # the digest of the open sessions did not change: keep the file
            atomic_write(folder / WATCH_FILE, json.dumps({**watch, "generation": state.generation}).encode())


def _state_bytes(state: DetectorState, *, reuse: bool) -> bytes:
    """``json.dumps(state.to_json(), separators=(",", ":"))``, built from its parts: the head that
    ``_HEAD`` reads, the body (kept on the state for the next commit), then ``unpublished``."""
    fields = state.to_json()
    body = state._body if reuse and state._body is not None else None
    if body is None:
        middle = {k: v for k, v in fields.items() if k not in ("version", "generation", "unpublished")}
        body = json.dumps(middle, separators=(",", ":"))[1:-1]
        state._body = body
    unpublished = json.dumps(fields["unpublished"], separators=(",", ":"))
    head = f'{{"version":{fields["version"]},"generation":{fields["generation"]},'
    return f'{head}{body},"unpublished":{unpublished}}}'.encode()


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    import io

    sink = io.BytesIO()
    frame.write_parquet(sink, compression="lz4", statistics=False)
    return sink.getvalue()


def read_watch(data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The stuck-watch digest (``{}`` when none yet)."""
    try:
        value = json.loads((state_dir(data_dir) / WATCH_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def outbox_dir(data_dir: str | os.PathLike[str]) -> Path:
    return state_dir(data_dir) / OUTBOX_DIR
