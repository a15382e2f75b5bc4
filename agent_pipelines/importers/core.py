"""One import pass: new transcript lines in, events of our contract out, state committed.

The source modules (:mod:`~agent_pipelines.importers.claude_code`,
:mod:`~agent_pipelines.importers.codex`) only say what one record *means*; everything else is
here, shared: reading files by identity and offset, quarantining bad lines, deduplicating
records, building and checking events, tokens and cost, deciding when a session has ended, and
appending the events to the log folder exactly where our logger would (the day's stream partition,
the attempt's transcript, ``agent-errors.jsonl``, and a summary in ``agent-metrics.jsonl``).

**When a session ends.** Neither format writes "the session is over". A session is judged by its
*last turn* (a user prompt and everything the agent did until it answered):

* the turn ended with an answer (no tool call left open)          → ``success``
* the turn ended with an API error (rate limit, auth, overflow…)  → ``failed``
* the user interrupted the turn (Esc / Ctrl-C, ``turn_aborted``)  → ``interrupted``

and the ``session_end`` is written once the session has been quiet for ``idle_close_s``
(default 120 s, below the stuck-agent threshold, so a session waiting for its user is not an
agent stuck). A session quiet in the *middle* of a turn (a tool call without result, a prompt
without answer) stays open — that is what the stuck-agent alert is for — until ``stale_s``
(default 6 h), when it is ended as ``interrupted`` (the client was killed or the machine slept).
Its ``session_end`` carries the time of its last record, so durations are real, not import
times. A session that gets new records after its end (the user came back) continues: its new
events follow, and the next end carries the session's new totals (the last end of an attempt
speaks for it everywhere).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from agent_pipelines import paths
from agent_pipelines.contract import ContractError, Reason, format_timestamp, parse_timestamp
from agent_pipelines.importers import files as files_mod
from agent_pipelines.importers.pricing import CostTally, PriceTable, Usage
from agent_pipelines.importers.state import ImportState, record_hash, state_path
from agent_pipelines.logger import build_event, event_destinations, session_summary
from agent_pipelines.writer import append_lines, serialize

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

IDLE_CLOSE_S = 120.0
STALE_S = 6 * 3600.0
MAX_RECORD_BYTES = 64 << 20  # transcripts hold pasted images and file dumps; an event never does
MESSAGE_CHARS = 4000  # an error message or prompt is for reading and clustering, not archiving
PARAM_CHARS = 500  # tool parameters: enough to see what was done (a whole written file is not)
CHUNK_RECORDS = 2000
COST_MODES = ("auto", "tokens")


class LockedError(RuntimeError):
    """Another import of the same source is running."""


class Source(Protocol):
    """What a transcript format must provide (see ``claude_code.py`` and ``codex.py``)."""

    name: str
    executor: str
    known_types: frozenset[str]

    def default_roots(self) -> list[Path]: ...

    def record_id(self, record: dict[str, Any], file_session: str | None) -> str | None: ...

    def handle(self, record: dict[str, Any], imp: Importer) -> None: ...


@dataclass
class ImportReport:
    """What one pass did; printed by the CLI, logged by the sensor, returned to tests."""

    source: str
    files_seen: int = 0
    files_read: int = 0
    bytes_read: int = 0
    records: int = 0
    duplicate_records: int = 0
    events: Counter[str] = field(default_factory=Counter)
    sessions_touched: int = 0
    sessions_ended: Counter[str] = field(default_factory=Counter)
    sessions_open: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    unknown_types: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    unpriced_models: Counter[str] = field(default_factory=Counter)  # model -> tokens without a price
    tokens: int = 0
    cost_usd: float = 0.0
    notes: list[str] = field(default_factory=list)
    more_pending: bool = False
    seconds: float = 0.0

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "files_seen": self.files_seen,
            "files_read": self.files_read,
            "bytes_read": self.bytes_read,
            "records": self.records,
            "duplicate_records": self.duplicate_records,
            "events": self.total_events,
            "events_by_type": dict(sorted(self.events.items())),
            "sessions_touched": self.sessions_touched,
            "sessions_ended": dict(sorted(self.sessions_ended.items())),
            "sessions_open": self.sessions_open,
            "quarantined": dict(sorted(self.quarantined.items())),
            "unknown_record_types": dict(sorted(self.unknown_types.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "unpriced_models": dict(sorted(self.unpriced_models.items())),
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "more_pending": self.more_pending,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------------------------
# Helpers the sources share
# --------------------------------------------------------------------------------------------

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def shrink(value: Any, limit: int = PARAM_CHARS, depth: int = 0) -> Any:
    """Tool parameters small enough for an event: long strings cut, deep nesting summarized."""
    if isinstance(value, str):
        return clip(value, limit)
    if depth >= 4:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        return {str(k): shrink(v, limit, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [shrink(v, limit, depth + 1) for v in value[:50]]
    return value


def classify_api_error(text: str) -> str:
    """A category for an API failure, from its text (the formats give no code we can rely on)."""
    low = text.lower()
    if "rate limit" in low or "rate_limit" in low or " 429" in low or "usage limit" in low or "quota" in low:
        return "rate_limit"
    if any(k in low for k in ("401", "403", "authentication", "api key", "unauthorized", "/login", "oauth")):
        return "authentication"
    if any(
        k in low
        for k in (
            "prompt is too long",
            "context window",
            "context_length",
            "too many tokens",
            "maximum context",
        )
    ):
        return "context_overflow"
    if "overloaded" in low or " 529" in low or " 503" in low or " 500" in low:
        return "overloaded"
    return "api"


_EXIT = re.compile(r"(?i)\b(?:exit(?:ed)?(?: with)? code|exit status|process exited with code)[:\s]+(-?\d+)")


_EXIT_LINE = re.compile(r"^\s*(?:Error: )?Exit code:? -?\d+\s*\n?", re.IGNORECASE)
_TOOL_ERROR_TAG = re.compile(r"</?tool_use_error>")


def exit_code_in(text: str) -> int | None:
    match = _EXIT.search(text[:2000])
    return int(match.group(1)) if match else None


def task_for(project: str | None, prompt: str | None, session_id: str) -> tuple[str, str | None]:
    """``(task_id, task_title)``: the project folder and the first prompt name the task.

    The same prompt in the same project is the same task (a retry is another attempt at it).
    """
    name = _SLUG.sub("-", Path(project).name if project else "").strip("-.")[:60] or "session"
    if not prompt:
        return f"{name}-{hashlib.blake2b(session_id.encode(), digest_size=5).hexdigest()}", None
    digest = hashlib.blake2b(f"{project}\n{prompt.strip()}".encode(), digest_size=5).hexdigest()
    title = prompt.strip().splitlines()[0][:120] if prompt.strip() else None
    return f"{name}-{digest}", title


def to_ms(ts: str) -> int:
    return int(parse_timestamp(ts).timestamp() * 1000)


# --------------------------------------------------------------------------------------------
# The pass
# --------------------------------------------------------------------------------------------


class Importer:
    """One pass over one source. Sources call :meth:`session`, :meth:`emit`, :meth:`add_usage`."""

    def __init__(
        self,
        source: Source,
        logs_dir: Path,
        data_dir: Path,
        *,
        now: datetime | None = None,
        prices: PriceTable | None = None,
        idle_close_s: float = IDLE_CLOSE_S,
        stale_s: float = STALE_S,
        cost_mode: str = "auto",
    ) -> None:
        if cost_mode not in COST_MODES:
            raise ValueError(f"cost mode must be one of {COST_MODES}, got {cost_mode!r}")
        self.source = source
        self.logs_dir = logs_dir
        self.data_dir = data_dir
        self.now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        self.prices = prices or PriceTable()
        self.idle_close_ms = int(idle_close_s * 1000)
        self.stale_ms = int(stale_s * 1000)
        self.cost_mode = cost_mode
        self.report = ImportReport(source.name)
        self.state: ImportState | None = None
        self.events: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        self.quarantine: list[dict[str, Any]] = []
        self.touched: set[str] = set()
        # Where the record being handled came from (for quarantine records and file->session).
        self.where: tuple[str, int, int] = ("", 0, 0)
        self.file_session: str | None = None

    # -- for sources ----------------------------------------------------------------------------

    def session(self, session_id: str, ts: str) -> dict[str, Any]:
        """The state of ``session_id``, created on first sight; ``ts`` moves its "last seen"."""
        assert self.state is not None
        s = self.state.session(session_id)
        if s is None:
            s = {
                "id": session_id,
                "ctx": {"session_id": session_id, "executor": self.source.executor},
                "started": False,
                "first": ts,
                "first_ms": to_ms(ts),
                "last": ts,
                "last_ms": to_ms(ts),
                "turn": "working",
                "open": True,
                "tools": {},
                "n": {},
                "cost": None,
                "prompts": 0,
            }
            self.state.put_session(session_id, s)
        ms = to_ms(ts)
        if ms >= s["last_ms"]:
            s["last"], s["last_ms"] = ts, ms
        if ms < s["first_ms"]:
            s["first"], s["first_ms"] = ts, ms
        s["open"] = True
        self.touched.add(session_id)
        return s

    def start(self, s: dict[str, Any], ts: str, prompt: str | None, project: str | None) -> None:
        """The ``session_start`` (once per session), named by the project and first prompt."""
        if s["started"]:
            return
        task_id, title = task_for(project, prompt, s["id"])
        s["ctx"].update({"task_id": task_id, "task_title": title, "project_id": project})
        s["started"] = True
        self.emit(
            s,
            "session_start",
            s["first"],
            {"prompt_type": "initial", "prompt": clip(prompt or "") if prompt else None},
        )

    def prompt(self, s: dict[str, Any], ts: str, text: str, project: str | None) -> None:
        """A user prompt: the first one starts the session, later ones are follow-ups."""
        s["prompts"] += 1
        s["turn"] = "working"
        if not s["started"]:
            self.start(s, ts, text, project)
        else:
            self.emit(s, "followup_sent", ts, {"message": clip(text), "reason": "user_prompt"})

    def emit(self, s: dict[str, Any], event_type: str, ts: str, data: dict[str, Any]) -> None:
        """Build one event in the session's context, check it against the contract, keep it."""
        if not s["started"] and event_type != "session_start":
            self.start(s, ts, None, s["ctx"].get("project_id"))
        moment = parse_timestamp(ts)
        elapsed = max(0, int(moment.timestamp() * 1000) - s["first_ms"])
        try:
            event = build_event(event_type, s["id"], data, s["ctx"], timestamp=moment, elapsed_ms=elapsed)
        except ContractError as exc:
            self.bad(exc.reason, exc.detail)
            return
        self.events.append(event)
        self.report.events[event_type] += 1
        category = data.get("error_category") if event_type == "error" else None
        if category and category not in s.setdefault("cats", []):
            s["cats"].append(category)
        s["n"][event_type] = s["n"].get(event_type, 0) + 1

    def tool_call(
        self, s: dict[str, Any], ts: str, call_id: str | None, name: str, params: Any, sidechain: bool = False
    ) -> None:
        if call_id and not self.once(f"call:{s['id']}:{call_id}"):
            self.report.duplicate_records += 1  # a replayed record of a call already imported
            return
        data: dict[str, Any] = {
            "tool_name": name,
            "tool_params": shrink(params)
            if isinstance(params, dict)
            else ({"input": shrink(params)} if params is not None else None),
        }
        if sidechain:
            data["sidechain"] = True
        if call_id:
            s["tools"][call_id] = [name, to_ms(ts), sidechain]
        if not sidechain:
            s["turn"] = "working"
        self.emit(s, "tool_call", ts, data)

    def tool_result(
        self,
        s: dict[str, Any],
        ts: str,
        call_id: str | None,
        output: str,
        *,
        is_error: bool,
        exit_code: int | None = None,
        interrupted: bool = False,
        name: str | None = None,
        sidechain: bool = False,
    ) -> None:
        """A tool's result; a failure (error flag or non-zero exit) is also an ``error`` event."""
        if call_id and not self.once(f"result:{s['id']}:{call_id}"):
            self.report.duplicate_records += 1
            return
        call = s["tools"].pop(call_id, None) if call_id else None
        tool = name or (call[0] if call else "unknown")
        failed = is_error or (exit_code is not None and exit_code != 0)
        data: dict[str, Any] = {"tool_name": tool, "success": not failed and not interrupted}
        if call:
            data["duration_ms"] = max(0, to_ms(ts) - call[1])
        if exit_code is not None:
            data["exit_code"] = exit_code
        if interrupted:
            data["interrupted"] = True
        if sidechain:
            data["sidechain"] = True
        self.emit(s, "tool_result", ts, data)
        if failed and not interrupted:
            category = "shell" if exit_code not in (None, 0) else "tool"
            # The message is what failed, so it clusters by its text: wrappers and "Exit code N" go.
            message = _TOOL_ERROR_TAG.sub("", _EXIT_LINE.sub("", output, count=1)).strip()
            message = message or f"{tool} failed" + (f" with exit code {exit_code}" if exit_code else "")
            self.emit(
                s,
                "error",
                ts,
                {"error_message": clip(message), "error_category": category, "tool_name": tool},
            )
        if not sidechain:
            s["turn"] = "working"  # the model answers the result next

    def once(self, key: str) -> bool:
        """True the first time ``key`` is seen by any pass of this source (then remembered)."""
        assert self.state is not None
        h = record_hash(key)
        if not self.state.unseen([h]):
            return False
        self.state.mark_seen([h])
        return True

    def api_error(self, s: dict[str, Any], ts: str, message: str, *, ends_turn: bool = True) -> None:
        self.emit(
            s, "error", ts, {"error_message": clip(message), "error_category": classify_api_error(message)}
        )
        if ends_turn:
            s["turn"] = "failed"

    def interrupted(self, s: dict[str, Any], ts: str, reason: str) -> None:
        old = s["turn"]
        s["turn"] = "interrupted"
        s["tools"] = {k: v for k, v in s["tools"].items() if v[2]}  # main-chain calls will never return
        self.emit(s, "status_change", ts, {"new_status": "interrupted", "old_status": old, "reason": reason})

    def answered(self, s: dict[str, Any]) -> None:
        """The agent wrote an answer: the turn is done unless a main-chain tool call is still open."""
        if not any(not v[2] for v in s["tools"].values()):
            s["turn"] = "done"

    def add_usage(
        self, s: dict[str, Any], model: str | None, usage: Usage, ts: str, record_cost: float | None = None
    ) -> None:
        tally = CostTally.from_json(s["cost"])
        before = dict(tally.unpriced)
        cost_before = tally.cost_usd
        own = record_cost if self.cost_mode == "auto" else None
        tally.add(model, usage, parse_timestamp(ts), self.prices, own)
        s["cost"] = tally.to_json()
        self.report.tokens += usage.total
        self.report.cost_usd += tally.cost_usd - cost_before
        for name, tokens in tally.unpriced.items():
            if tokens != before.get(name, 0):
                self.report.unpriced_models[name] += tokens - before.get(name, 0)

    def bad(self, reason: Reason | str, detail: str, raw: bytes = b"") -> None:
        name, line, offset = self.where
        reason = reason.value if isinstance(reason, Reason) else reason
        self.quarantine.append(
            {
                "source_file": name,
                "line_number": line,
                "byte_offset": offset,
                "reason": reason,
                "detail": detail,
                "raw": raw[: 64 << 10].decode("utf-8", "replace"),
                "raw_bytes": len(raw),
            }
        )
        self.report.quarantined[reason] += 1

    def skip(self, why: str) -> None:
        self.report.skipped[why] += 1

    def unknown(self, record_type: str) -> None:
        self.report.unknown_types[record_type] += 1

    # -- the pass -------------------------------------------------------------------------------

    def run(
        self,
        roots: list[Path],
        *,
        max_bytes: int | None = None,
        wait: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> ImportReport:
        started = time.perf_counter()
        path = state_path(self.data_dir, self.source.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(f"{path}.lock", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(lock_fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    raise LockedError(f"another {self.source.name} import is running") from None
            with ImportState(path) as state:
                self.state = state
                self._read(roots, max_bytes, progress)
                self._close_quiet_sessions()
                self._write()
                state.commit()
                self.report.sessions_open = int(
                    state.db.execute("SELECT count(*) FROM sessions WHERE open = 1").fetchone()[0]
                )
        finally:
            os.close(lock_fd)
        self.report.sessions_touched = len(self.touched)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _read(self, roots: list[Path], max_bytes: int | None, progress: Callable[[str], None] | None) -> None:
        assert self.state is not None
        known = self.state.files()
        items, notes = files_mod.pending(roots, known)
        self.report.files_seen = len(files_mod.transcript_files(roots))
        self.report.notes.extend(notes)
        budget = max_bytes
        total = sum(i.size - i.start for i in items)
        done = 0
        for index, item in enumerate(items):
            if budget is not None and budget <= 0:
                self.report.more_pending = True
                break
            self.file_session = item.previous.session if item.previous and not item.note else None
            offset, line = item.start, item.first_line - 1
            chunk: list[tuple[int, int, bytes]] = []
            for line_no, off, raw in files_mod.read_lines(item, budget):
                chunk.append((line_no, off, raw))
                offset, line = off + len(raw) + 1, line_no
                if len(chunk) >= CHUNK_RECORDS:
                    self._records(item.path, chunk)
                    chunk = []
            self._records(item.path, chunk)
            read = offset - item.start
            if read:
                self.report.files_read += 1
                self.report.bytes_read += read
            if budget is not None:
                budget -= read
                if offset < item.size and budget <= 0:
                    self.report.more_pending = True
            self.state.set_file(files_mod.file_state(item, offset, line, self.file_session))
            done += read
            if progress and (index % 200 == 199 or index == len(items) - 1):
                progress(
                    f"{self.source.name}: {index + 1}/{len(items)} files, "
                    f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
                )

    def _records(self, path: Path, chunk: list[tuple[int, int, bytes]]) -> None:
        if not chunk:
            return
        assert self.state is not None
        name = str(path)
        parsed: list[tuple[int, int, bytes, dict[str, Any]]] = []
        for line_no, off, raw in chunk:
            self.where = (name, line_no, off)
            if not raw.strip():
                continue
            if len(raw) > MAX_RECORD_BYTES:
                self.bad(Reason.LINE_TOO_LONG, f"record of {len(raw)} bytes (limit {MAX_RECORD_BYTES})", raw)
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                self.bad(Reason.INVALID_UTF8, "bytes that are not UTF-8", raw)
                continue
            except (ValueError, RecursionError) as exc:
                self.bad(Reason.MALFORMED_JSON, f"malformed JSON: {exc}", raw)
                continue
            if not isinstance(record, dict):
                self.bad(
                    Reason.NOT_AN_OBJECT, f"a record must be a JSON object, got {type(record).__name__}", raw
                )
                continue
            parsed.append((line_no, off, raw, record))
        self.report.records += len(parsed)
        # Records copied into a resumed session (same record id) become events once.
        ids: list[int | None] = []
        for _line_no, _off, _raw, record in parsed:
            try:
                rid = self.source.record_id(record, self.file_session)
            except (TypeError, ValueError, AttributeError):
                rid = None  # a record of an odd shape has no id; handling it says what is wrong
            ids.append(record_hash(rid) if rid else None)
        fresh = self.state.unseen(h for h in ids if h is not None)
        in_chunk: set[int] = set()
        for (line_no, off, raw, record), h in zip(parsed, ids, strict=True):
            if h is not None:
                if h not in fresh or h in in_chunk:
                    self.report.duplicate_records += 1
                    continue
                in_chunk.add(h)
            self.where = (name, line_no, off)
            try:
                self.source.handle(record, self)
            except ContractError as exc:
                self.bad(exc.reason, exc.detail, raw)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.bad(Reason.WRONG_TYPE, f"unexpected record shape: {type(exc).__name__}: {exc}", raw)
        self.state.mark_seen(in_chunk)

    def _close_quiet_sessions(self) -> None:
        """End sessions whose last turn is over and quiet (see the module docstring)."""
        assert self.state is not None
        for session_id in self.state.open_session_ids():
            s = self.state.session(session_id)
            if s is None or not s.get("open"):
                continue
            quiet = self.now_ms - s["last_ms"]
            status = {"done": "success", "failed": "failed", "interrupted": "interrupted"}.get(s["turn"])
            reason = None
            if status is None or quiet < self.idle_close_ms:
                if quiet < self.stale_ms:
                    continue
                status, reason = "interrupted", "quiet_mid_turn"
            if s["started"]:
                self._end(s, status, reason)
            s["open"] = False
            self.state.put_session(session_id, s)

    def _end(self, s: dict[str, Any], status: str, reason: str | None) -> None:
        tally = CostTally.from_json(s["cost"])
        outcome: dict[str, Any] = {
            "source": self.source.name,
            "turns": s["prompts"],
            "last_turn": s["turn"],
            "input_tokens": tally.usage.input,
            "output_tokens": tally.usage.output,
            "cache_write_tokens": tally.usage.cache_write,
            "cache_read_tokens": tally.usage.cache_read,
        }
        if reason:
            outcome["reason"] = reason
        if tally.unpriced:
            outcome["unpriced_models"] = tally.unpriced
            outcome["cost_complete"] = False
        if tally.record_cost_requests:
            outcome["cost_from_records"] = tally.record_cost_requests
        data = {
            "completion_status": status,
            "duration_ms": s["last_ms"] - s["first_ms"],
            "total_tokens": tally.usage.total,
            "cost_usd": tally.session_cost,
            "outcome": outcome,
        }
        before = len(self.events)
        self.emit(s, "session_end", s["last"], data)
        if len(self.events) > before:
            end = self.events[-1]
            self.report.sessions_ended[status] += 1
            # The metrics line counts events by type and lists error categories: stand-ins suffice.
            cats = iter(s.get("cats", []))
            counts = [
                {"event_type": t, "data": {"error_category": next(cats, None)} if t == "error" else {}}
                for t, n in s["n"].items()
                if t != "session_start"
                for _ in range(n)
            ]
            start = {
                "event_type": "session_start",
                "timestamp": format_timestamp(parse_timestamp(s["first"])),
                "data": {"prompt_type": "initial"},
            }
            self.metrics.append(session_summary([start, *counts], end))

    def _write(self) -> None:
        """Append the pass's events where our logger would, one locked write per file."""
        by_file: dict[Path, list[str]] = {}
        for event in self.events:
            line = serialize(event)
            for target in event_destinations(self.logs_dir, event):
                by_file.setdefault(target, []).append(line)
        if self.metrics:
            by_file.setdefault(self.logs_dir / paths.METRICS_FILE, []).extend(
                serialize(m) for m in self.metrics
            )
        for target, lines in by_file.items():
            append_lines(target, lines)
        if self.quarantine:
            from agent_pipelines.quarantine import write_quarantine
            from agent_pipelines.reader import QUARANTINE_SCHEMA

            write_quarantine(self.data_dir, pl.DataFrame(self.quarantine, schema=QUARANTINE_SCHEMA))


def run_import(
    source: Source,
    roots: list[Path] | None = None,
    *,
    logs_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    now: datetime | None = None,
    prices: PriceTable | None = None,
    idle_close_s: float = IDLE_CLOSE_S,
    stale_s: float = STALE_S,
    cost_mode: str = "auto",
    max_bytes: int | None = None,
    wait: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import what is new in ``roots`` (default: the source's usual folders) into the log folder."""
    importer = Importer(
        source,
        paths.logs_dir(logs_dir),
        paths.data_dir(data_dir),
        now=now,
        prices=prices,
        idle_close_s=idle_close_s,
        stale_s=stale_s,
        cost_mode=cost_mode,
    )
    return importer.run(
        roots if roots is not None else source.default_roots(),
        max_bytes=max_bytes,
        wait=wait,
        progress=progress,
    )
