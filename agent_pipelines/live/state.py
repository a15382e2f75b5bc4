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
import io
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
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
STATE_VERSION = 2  # 2: typed attempts (same shape) and ``retired``

SEEN_SCHEMA: pl.Schema = pl.Schema({"event_id": pl.String(), "ts_ms": pl.Int64()})


class StaleStateError(RuntimeError):
    """Another writer committed since this state was loaded; reload and redo the work."""


def state_dir(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / STATE_DIR


Window = list[list[Any]]  # [[event time ms, event id], ...] in event-time order


@dataclass
class AttemptState:
    """What the detectors remember of one attempt (serialized with the short keys of version 1).

    ``turn`` is ``None`` until the attempt's events say anything about turns (then the stuck rule
    is the original's), ``"open"`` while the agent owes the next step, ``"closed"`` while it waits
    for its person.
    """

    last: int | None = None  # event time of the latest event
    lid: str | None = None  # its id: names the silence after it
    open: bool = False  # a session is live (no session_end since its last start)
    errs: dict[str, Window] = field(default_factory=dict)  # "f:<fingerprint>" / "t:<masked>" windows
    tools: dict[str, Window] = field(default_factory=dict)  # tool key (name + params hash) windows
    rs: int = 0  # restarts (follow-up / retry starts)
    ne: int = 0  # errors
    fired: dict[str, int] = field(default_factory=dict)  # alert type -> event time it last fired
    ids: list[str] = field(default_factory=list)  # recent alert ids (bounded)
    task: str | None = None
    exec: str | None = None
    stuck: str | None = None  # the event id whose silence was alerted
    rs_fired: bool = False
    fps: list[str] = field(default_factory=list)  # distinct fingerprints, as the original listed them
    turn: str | None = None
    project: str | None = None  # the attempt's project_id: alert routes and silences match on it

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"last": self.last, "lid": self.lid, "open": self.open, "errs": self.errs,
                               "tools": self.tools, "rs": self.rs, "ne": self.ne, "fired": self.fired,
                               "ids": self.ids}  # fmt: skip
        for name in ("task", "exec", "stuck", "turn", "project"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.rs_fired:
            out["rs_fired"] = True
        if self.fps:
            out["fps"] = self.fps
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> AttemptState:
        """Versions 1 and 2 share the attempt's shape; a key missing is its default."""

        def text(key: str) -> str | None:
            value = raw.get(key)
            return value if isinstance(value, str) else None

        last = raw.get("last")
        return cls(
            last=last if isinstance(last, int) else None,
            lid=text("lid"),
            open=bool(raw.get("open")),
            errs={str(k): list(v) for k, v in dict(raw.get("errs") or {}).items()},
            tools={str(k): list(v) for k, v in dict(raw.get("tools") or {}).items()},
            rs=int(raw.get("rs") or 0),
            ne=int(raw.get("ne") or 0),
            fired={str(k): int(v) for k, v in dict(raw.get("fired") or {}).items()},
            ids=[str(i) for i in raw.get("ids") or []],
            task=text("task"),
            exec=text("exec"),
            stuck=text("stuck"),
            rs_fired=bool(raw.get("rs_fired")),
            fps=[str(f) for f in raw.get("fps") or []],
            turn=text("turn"),
            project=text("project"),
        )


@dataclass
class Suppression:
    """What outlives an attempt's pruning: the alerts it fired. Lines more than a day late bring a
    pruned attempt back; without this, each run that reads some would raise its alerts again."""

    last: int  # event time of the attempt's latest event when it was pruned
    fired: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    stuck: str | None = None
    rs_fired: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"last": self.last, "fired": self.fired, "ids": self.ids}
        if self.stuck is not None:
            out["stuck"] = self.stuck
        if self.rs_fired:
            out["rs_fired"] = True
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Suppression:
        stuck = raw.get("stuck")
        return cls(
            last=int(raw.get("last") or 0),
            fired={str(k): int(v) for k, v in dict(raw.get("fired") or {}).items()},
            ids=[str(i) for i in raw.get("ids") or []],
            stuck=stuck if isinstance(stuck, str) else None,
            rs_fired=bool(raw.get("rs_fired")),
        )

    @classmethod
    def of(cls, a: AttemptState) -> Suppression:
        return cls(last=a.last or 0, fired=dict(a.fired), ids=list(a.ids), stuck=a.stuck, rs_fired=a.rs_fired)

    def restore(self, a: AttemptState) -> None:
        """Into a new state of the same attempt (a late line brought it back)."""
        a.fired, a.ids, a.stuck, a.rs_fired = dict(self.fired), list(self.ids), self.stuck, self.rs_fired


class StateVersionError(RuntimeError):
    """The state file was written by a newer version of agent-pipelines."""


@dataclass
class DetectorState:
    """Everything the detectors carry from one run to the next.

    Serialized by :meth:`to_json` with a ``version``; :meth:`from_json` reads every version up to
    :data:`STATE_VERSION` (version 1: the same fields, no ``retired``).
    """

    generation: int = 0
    cursor: str = ""  # tailer.Cursor JSON
    attempts: dict[str, AttemptState] = field(default_factory=dict)
    template_fingerprints: dict[str, str] = field(default_factory=dict)  # masked message -> fingerprint
    # The error-template model (miner.TemplateMiner.to_json): the distinct masked error messages seen.
    template_model: dict[str, Any] = field(default_factory=dict)
    watermark_ms: int | None = None  # latest event time seen
    unpublished: list[dict[str, Any]] = field(default_factory=list)  # write-ahead alerts
    # Alerts fired by pruned attempts, kept while lines that old can still arrive (see Suppression).
    retired: dict[str, Suppression] = field(default_factory=dict)
    seen: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SEEN_SCHEMA))
    # What the last commit serialized between the generation and ``unpublished`` (see ``commit``).
    _body: bytes | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "generation": self.generation,
            "cursor": self.cursor,
            "attempts": {k: a.to_json() for k, a in self.attempts.items()},
            "template_fingerprints": self.template_fingerprints,
            "template_model": self.template_model,
            "watermark_ms": self.watermark_ms,
            "retired": {k: r.to_json() for k, r in self.retired.items()},
            "unpublished": self.unpublished,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DetectorState:
        """A state of any version up to :data:`STATE_VERSION` (a missing version is 1)."""
        version = raw.get("version", 1)
        if not isinstance(version, int) or version > STATE_VERSION:
            raise StateVersionError(
                f"detector state version {version!r} is newer than this agent-pipelines reads "
                f"({STATE_VERSION}); upgrade, or move {STATE_FILE} aside to start afresh"
            )
        watermark = raw.get("watermark_ms")
        return cls(
            generation=int(raw.get("generation") or 0),
            cursor=str(raw.get("cursor") or ""),
            attempts={str(k): AttemptState.from_json(v) for k, v in dict(raw.get("attempts") or {}).items()},
            template_fingerprints=dict(raw.get("template_fingerprints") or {}),
            template_model=dict(raw.get("template_model") or {}),
            watermark_ms=watermark if isinstance(watermark, int) else None,
            unpublished=list(raw.get("unpublished") or []),
            retired={str(k): Suppression.from_json(v) for k, v in dict(raw.get("retired") or {}).items()},
        )


def load(data_dir: str | os.PathLike[str]) -> DetectorState:
    """The committed state, or a fresh one. An unreadable state file is kept aside, not lost."""
    folder = state_dir(data_dir)
    path = folder / STATE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        return DetectorState()
    except ValueError:
        os.replace(path, path.with_suffix(f".corrupt-{int(time.time())}"))
        return DetectorState()
    state = DetectorState.from_json(raw)
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
    body = state._body if reuse and state._body is not None else None
    if body is None:  # ``to_json`` only then: it builds every attempt's dict, a busy day's thousands
        fields = state.to_json()
        middle = {k: v for k, v in fields.items() if k not in ("version", "generation", "unpublished")}
        body = _compact_json(middle)[1:-1]
        state._body = body
    unpublished = json.dumps(state.unpublished, separators=(",", ":")).encode()
    head = f'{{"version":{STATE_VERSION},"generation":{state.generation},'.encode()
    return b'%s%s,"unpublished":%s}' % (head, body, unpublished)


def _compact_json(value: dict[str, Any]) -> bytes:
    """Compact JSON (UTF-8) by orjson: ``json.dumps`` took tens of ms of a burst's commit on its
    windows and ids (text, integers, booleans, nulls only). What orjson refuses (an integer beyond
    64 bits, a lone surrogate) goes through ``json.dumps``."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    """Uncompressed: lz4 shrank 100,000 ids by a fifth, at twice the time (9 ms against 4)."""
    sink = io.BytesIO()
    frame.write_parquet(sink, compression="uncompressed", statistics=False)
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
