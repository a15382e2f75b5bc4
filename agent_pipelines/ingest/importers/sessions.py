"""Sessions of an import: the events sources record into them, their tokens and cost, and their end.

:class:`SessionRecorder` is what a source module calls while handling one record (``session``,
``prompt``, ``tool_call``, ``add_usage``, ...); :class:`~agent_pipelines.ingest.importers.core.Importer` adds
the pass over the files.

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

from datetime import UTC, datetime
from typing import Any

from agent_pipelines.core.contract import (
    TURN_CLOSED_STATUSES,
    TURN_OPEN_STATUS,
    Reason,
    format_timestamp,
    parse_timestamp,
)
from agent_pipelines.core.logger import build_event, session_summary
from agent_pipelines.core.writer import serialize
from agent_pipelines.ingest.importers.lines import Prefixes, event_line, event_time
from agent_pipelines.ingest.importers.pricing import CostTally, PriceTable, Usage
from agent_pipelines.ingest.importers.report import ImportReport
from agent_pipelines.ingest.importers.state import ImportState, record_hash
from agent_pipelines.ingest.importers.text import (
    EXIT_LINE,
    TOOL_ERROR_TAG,
    classify_api_error,
    clip,
    shrink,
    task_for,
    to_ms,
)
from agent_pipelines.text.redaction_frame import redact_record

IDLE_CLOSE_S = 120.0
STALE_S = 6 * 3600.0
COST_MODES = ("auto", "tokens")


class SessionRecorder:
    """The sessions of one pass over one source, and the events, metrics lines and quarantine records
    it has made so far. Sources call :meth:`session`, :meth:`prompt`, :meth:`tool_call`,
    :meth:`add_usage`..."""

    def __init__(
        self,
        source_name: str,
        executor: str,
        *,
        now: datetime | None = None,
        prices: PriceTable | None = None,
        idle_close_s: float = IDLE_CLOSE_S,
        stale_s: float = STALE_S,
        cost_mode: str = "auto",
    ) -> None:
        if cost_mode not in COST_MODES:
            raise ValueError(f"cost mode must be one of {COST_MODES}, got {cost_mode!r}")
        self.source_name = source_name
        self.executor = executor
        self.now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        self.prices = prices or PriceTable()
        self.idle_close_ms = int(idle_close_s * 1000)
        self.stale_ms = int(stale_s * 1000)
        self.cost_mode = cost_mode
        self.report = ImportReport(source_name)
        self.state: ImportState | None = None
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []  # each event's line, as the logger writes it
        self.prefixes = Prefixes()
        self.tallies: dict[str, tuple[dict[str, Any], CostTally]] = {}  # per session: its cost and tally
        self.event_where: list[tuple[str, int, int]] = []  # the record each event came from
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
                "ctx": {"session_id": session_id, "executor": self.executor},
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
        s["turn_said"] = False
        if not s["started"]:
            self.start(s, ts, text, project)
        else:
            self.emit(s, "followup_sent", ts, {"message": clip(text), "reason": "user_prompt"})

    def emit(self, s: dict[str, Any], event_type: str, ts: str, data: dict[str, Any]) -> None:
        """Build one event in the session's context and keep it (checked when the pass writes)."""
        if not s["started"] and event_type != "session_start":
            self.start(s, ts, None, s["ctx"].get("project_id"))
        elapsed = max(0, to_ms(ts) - s["first_ms"])
        # Checked against the contract with the pass's other events, at once (see checking.py).
        if event_type == "session_end":  # whole: the metrics line is made from it
            event = build_event(
                event_type,
                s["id"],
                data,
                s["ctx"],
                timestamp=parse_timestamp(ts),
                elapsed_ms=elapsed,
                check=False,
            )
            line = serialize(event)
        else:  # what the pass writes needs only these; the line is made here, once (lines.py)
            stamp = event_time(ts)
            event = {"timestamp": stamp, "attempt_id": s["id"], "event_type": event_type}
            line = event_line(stamp, self.prefixes.get(s["id"], s["ctx"]), event_type, data, elapsed)
        self.events.append(event)
        self.lines.append(line)
        self.event_where.append(self.where)
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
            s["turn_said"] = False
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
            message = TOOL_ERROR_TAG.sub("", EXIT_LINE.sub("", output, count=1)).strip()
            message = message or f"{tool} failed" + (f" with exit code {exit_code}" if exit_code else "")
            self.emit(
                s,
                "error",
                ts,
                {"error_message": clip(message), "error_category": category, "tool_name": tool},
            )
        if not sidechain:
            s["turn"] = "working"  # the model answers the result next
            s["turn_said"] = False

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
            self.turn_over(s, ts, "api_error")

    def interrupted(self, s: dict[str, Any], ts: str, reason: str) -> None:
        old = s["turn"]
        s["turn"] = "interrupted"
        s["tools"] = {k: v for k, v in s["tools"].items() if v[2]}  # main-chain calls will never return
        self.emit(s, "status_change", ts, {"new_status": "interrupted", "old_status": old, "reason": reason})
        s["turn_said"] = True  # "interrupted" ends the turn too (docs/contract.md, "Turns")

    def turn_over(self, s: dict[str, Any], ts: str, reason: str) -> None:
        """The agent's turn is over and it waits for its person: said once per turn, as a
        ``status_change`` to ``awaiting_input``, so the stuck-agent detector knows a silence from
        here on is the person's, not the agent's."""
        if s.get("turn_said") or not s["started"]:
            return
        s["turn_said"] = True
        data = {"new_status": TURN_CLOSED_STATUSES[0], "old_status": TURN_OPEN_STATUS, "reason": reason}
        self.emit(s, "status_change", ts, data)

    def answered(self, s: dict[str, Any]) -> None:
        """The agent wrote an answer: the turn is done unless a main-chain tool call is still open."""
        if not any(not v[2] for v in s["tools"].values()):
            s["turn"] = "done"

    def add_usage(
        self, s: dict[str, Any], model: str | None, usage: Usage, ts: str, record_cost: float | None = None
    ) -> None:
        known = self.tallies.get(s["id"])
        # The session's tally as it was left by the last request here, unless its state was replaced.
        tally = known[1] if known is not None and known[0] is s["cost"] else CostTally.from_json(s["cost"])
        before = dict(tally.unpriced)
        cost_before = tally.cost_usd
        own = record_cost if self.cost_mode == "auto" else None
        tally.add(model, usage, parse_timestamp(ts), self.prices, own)
        s["cost"] = tally.to_json()
        self.tallies[s["id"]] = (s["cost"], tally)
        self.report.tokens += usage.total
        self.report.cost_usd += tally.cost_usd - cost_before
        for name, tokens in tally.unpriced.items():
            if tokens != before.get(name, 0):
                self.report.unpriced_models[name] += tokens - before.get(name, 0)

    def bad(self, reason: Reason | str, detail: str, raw: bytes = b"") -> None:
        name, line, offset = self.where
        reason = reason.value if isinstance(reason, Reason) else reason
        self.quarantine.append(
            redact_record(
                {
                    "source_file": name,
                    "line_number": line,
                    "byte_offset": offset,
                    "reason": reason,
                    "detail": detail,
                    "raw": raw[: 64 << 10].decode("utf-8", "replace"),
                    "raw_bytes": len(raw),
                },
                ("detail", "raw"),
            )
        )
        self.report.quarantined[reason] += 1

    def skip(self, why: str) -> None:
        self.report.skipped[why] += 1

    def unknown(self, record_type: str) -> None:
        self.report.unknown_types[record_type] += 1

    def close_quiet_sessions(self) -> None:
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
            if s["started"] or CostTally.from_json(s["cost"]).usage.total:  # tokens alone make a session
                try:
                    self._end(s, status, reason)
                except Exception as exc:  # one session's end never stops the others' (nor the pass)
                    self.report.notes.append(f"session {session_id}: not ended ({type(exc).__name__}: {exc})")
            s["open"] = False
            self.state.put_session(session_id, s)

    def _end(self, s: dict[str, Any], status: str, reason: str | None) -> None:
        tally = CostTally.from_json(s["cost"])
        outcome: dict[str, Any] = {
            "source": self.source_name,
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
