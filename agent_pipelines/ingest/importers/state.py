"""What an import has already read, so a re-import reads only what is new.

One SQLite file per source and log folder (``<data>/state/import-<source>-<folder hash>.sqlite``),
committed once per pass *after* the pass's events were appended. Four tables:

* ``files`` — per transcript *file identity* (``st_dev``, ``st_ino``), like the live tailer's
  cursor (:mod:`agent_pipelines.core.tailer`): the byte offset and line read to, and a hash of the first
  bytes. A file moved elsewhere (Codex moves old rollouts to ``archived_sessions/``) keeps its
  identity and is not read again; a file rewritten or truncated is read again from the start.
* ``sessions`` — each session's running state (context, open tool calls, turn state, tokens,
  cost, counters) as JSON, so a session that grows across passes continues where it stopped.
* ``seen`` — a 64-bit hash of every record id (Claude Code's ``uuid``): a resumed session copies
  earlier records into a new file, and those must not become events twice.
* ``messages`` — per API request (message id + request id) the usage already counted and the
  session it was attributed to: streaming snapshots of one message, resumed copies and sidechain
  replays count once, and a later, more complete snapshot adds only its growth.

If a pass dies after appending events but before committing, the next pass appends the same lines
again; they are byte-identical (events are a pure function of the records), and every reader of
the log folder counts a line written twice once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, path TEXT NOT NULL, offset INTEGER NOT NULL,
    line INTEGER NOT NULL, head TEXT NOT NULL, head_len INTEGER NOT NULL, session TEXT,
    PRIMARY KEY (dev, ino));
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, open INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (h INTEGER PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    key TEXT PRIMARY KEY, session TEXT NOT NULL, usage TEXT NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class FileState:
    path: str
    dev: int
    ino: int
    offset: int
    line: int
    head: str
    head_len: int
    session: str | None = None

    @property
    def identity(self) -> tuple[int, int]:
        return (self.dev, self.ino)


def record_hash(record_id: str) -> int:
    """A signed 64-bit hash (SQLite's INTEGER) of a record id."""
    return int.from_bytes(hashlib.blake2b(record_id.encode(), digest_size=8).digest(), "big", signed=True)


def insert_seen(db: sqlite3.Connection, hashes: list[int]) -> None:
    """``hashes`` into the ``seen`` table, in their order, as one JSON array SQLite reads itself: half
    the time of a row bound from Python each (175,000 hashes end a pass over 120 MB of rollouts, in
    its serial end). An SQLite without JSON functions gets them row by row."""
    try:
        db.execute("INSERT OR IGNORE INTO seen SELECT value FROM json_each(?)", (json.dumps(hashes),))
    except sqlite3.OperationalError:
        db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", [(h,) for h in hashes])


def content_hash(raw: bytes) -> str:
    """A short hash of a record's bytes (its identity when it has no id of its own)."""
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def state_path(data_dir: Path, source: str, logs_dir: Path | None = None) -> Path:
    """The state of importing ``source`` into ``logs_dir``: one per source *and* destination.

    What was read is only true of the folder it was written to: importing the same transcripts into
    another log folder must write every session there whole, not just what is new since the last
    import elsewhere. The state before destinations were told apart (``import-<source>.sqlite``) is
    taken over by the first import that finds it (:func:`adopt_legacy_state`).
    """
    if logs_dir is None:
        return data_dir / "state" / f"import-{source}.sqlite"
    digest = hashlib.blake2b(str(logs_dir.resolve()).encode(), digest_size=6).hexdigest()
    return data_dir / "state" / f"import-{source}-{digest}.sqlite"


def adopt_legacy_state(data_dir: Path, source: str, path: Path) -> None:
    """Move the one state file of older versions to ``path`` (the first destination imported into
    after the upgrade, which is the folder it described unless the log folder was moved meanwhile)."""
    legacy = state_path(data_dir, source)
    if path.exists() or not legacy.exists():
        return
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{legacy}{suffix}")
        if old.exists():
            old.replace(Path(f"{path}{suffix}"))


@dataclass
class Keys:
    """Keys of the state a part of a pass asked about or wrote."""

    sessions: set[str] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)
    messages: set[str] = field(default_factory=set)

    def meets(self, other: Keys) -> bool:
        """Whether any key is in both."""
        return not (
            self.sessions.isdisjoint(other.sessions)
            and self.seen.isdisjoint(other.seen)
            and self.messages.isdisjoint(other.messages)
        )


@dataclass
class Buffered:
    """A state's writes not committed yet."""

    files: dict[tuple[int, int], FileState]
    sessions: dict[str, dict[str, Any]]
    seen: set[int]
    messages: dict[str, tuple[str, list[int]]]


class ImportState:
    """The state of one source's import. Reads go to SQLite; writes are buffered until :meth:`commit`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        self._files: dict[tuple[int, int], FileState] = {}
        self._sessions: dict[str, dict[str, Any]] = {}
        self._new_seen: set[int] = set()
        self._messages: dict[str, tuple[str, list[int]]] = {}
        # A first import into a folder has seen nothing: no record id needs looking up on disk.
        self._none_seen = self.db.execute("SELECT NOT EXISTS (SELECT 1 FROM seen)").fetchone()[0] == 1
        # Every key this state was asked about (sessions, record hashes, API requests) in this pass: a
        # pass split over worker processes merges a worker's result only if none of its keys was
        # written by an earlier part of the pass (:mod:`~agent_pipelines.ingest.importers.pool`).
        self.asked = Keys()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ImportState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files --------------------------------------------------------------------------------

    def files(self) -> dict[tuple[int, int], FileState]:
        rows = self.db.execute("SELECT path, dev, ino, offset, line, head, head_len, session FROM files")
        return {(r[1], r[2]): FileState(*r) for r in rows}

    def set_file(self, pos: FileState) -> None:
        self._files[pos.identity] = pos

    # -- sessions -----------------------------------------------------------------------------

    def session(self, session_id: str) -> dict[str, Any] | None:
        self.asked.sessions.add(session_id)
        if session_id in self._sessions:
            return self._sessions[session_id]
        row = self.db.execute("SELECT state FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        state = json.loads(row[0])
        self._sessions[session_id] = state
        return state

    def put_session(self, session_id: str, state: dict[str, Any]) -> None:
        self.asked.sessions.add(session_id)
        self._sessions[session_id] = state

    def open_session_ids(self) -> list[str]:
        """Sessions without a ``session_end`` for their latest record (plus any touched this pass)."""
        ids = {r[0] for r in self.db.execute("SELECT id FROM sessions WHERE open = 1")}
        return sorted(ids | set(self._sessions))

    def session_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM sessions").fetchone()[0])

    # -- record ids ---------------------------------------------------------------------------

    def unseen(self, hashes: Iterable[int]) -> set[int]:
        """Of ``hashes``, those never seen (committed or earlier this pass)."""
        wanted = {h for h in hashes if h not in self._new_seen}
        self.asked.seen.update(wanted)
        if not wanted or self._none_seen:
            return wanted
        found: set[int] = set()
        items = list(wanted)
        for i in range(0, len(items), 500):
            chunk = items[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.db.execute(f"SELECT h FROM seen WHERE h IN ({marks})", chunk))
        return wanted - found

    def mark_seen(self, hashes: Iterable[int]) -> None:
        hashes = set(hashes)
        self.asked.seen.update(hashes)
        self._new_seen.update(hashes)

    # -- API requests (message id + request id) -------------------------------------------------

    def message(self, key: str) -> tuple[str, list[int]] | None:
        self.asked.messages.add(key)
        if key in self._messages:
            return self._messages[key]
        row = self.db.execute("SELECT session, usage FROM messages WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = (row[0], json.loads(row[1]))
        self._messages[key] = value
        return value

    def put_message(self, key: str, session_id: str, usage: list[int]) -> None:
        self.asked.messages.add(key)
        self._messages[key] = (session_id, usage)

    # -- a worker's part of a pass ---------------------------------------------------------------

    def buffered(self) -> Buffered:
        """What this state would write at :meth:`commit` (a worker's part, merged by the pass)."""
        return Buffered(dict(self._files), dict(self._sessions), set(self._new_seen), dict(self._messages))

    def merge(self, part: Buffered) -> None:
        """Take a worker's buffered writes as if this state had made them."""
        self._files.update(part.files)
        self._sessions.update(part.sessions)
        self._new_seen |= part.seen
        self._messages.update(part.messages)
        self.asked.sessions.update(part.sessions)
        self.asked.seen |= part.seen
        self.asked.messages.update(part.messages)

    # -- commit -------------------------------------------------------------------------------

    def commit(self) -> None:
        """Write everything buffered in one transaction."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?)",
                [
                    (p.dev, p.ino, p.path, p.offset, p.line, p.head, p.head_len, p.session)
                    for p in self._files.values()
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO sessions VALUES (?,?,?)",
                [
                    (k, 1 if v.get("open") else 0, json.dumps(v, separators=(",", ":")))
                    for k, v in self._sessions.items()
                ],
            )
            # In key order: the table's B-tree grows at its end instead of everywhere (a fifth faster).
            insert_seen(db, sorted(self._new_seen))
            self._none_seen = self._none_seen and not self._new_seen
            db.executemany(
                "INSERT OR REPLACE INTO messages VALUES (?,?,?)",
                [(k, s, json.dumps(u)) for k, (s, u) in self._messages.items()],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._files.clear()
        self._new_seen.clear()
        self._messages.clear()
        self._sessions.clear()
