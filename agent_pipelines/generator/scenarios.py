"""What happens in one chunk of tasks: tasks, attempts with their events, errors of known kinds,
injected incidents and near misses (runs in a worker process; everything drawn from its own
``random.Random``)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from agent_pipelines.contract import format_timestamp
from agent_pipelines.error_catalog import KINDS, ErrorKind
from agent_pipelines.logger import CONTEXT_FIELDS, session_summary
from agent_pipelines.writer import serialize

EXECUTORS: dict[str, dict[str, Any]] = {
    # executor: models, base success rate, speed factor, cost per 1k tokens
    "CODEX": {"models": ["gpt-5-codex", "gpt-5"], "success": 0.72, "speed": 1.0, "cost_per_k": 0.0040},
    "CLAUDE_CODE": {"models": ["claude-sonnet-4-5", "claude-opus-4-1"], "success": 0.78, "speed": 1.2,
                    "cost_per_k": 0.0050},
    "COPILOT": {"models": ["copilot-4o", "gpt-4.1"], "success": 0.62, "speed": 0.7, "cost_per_k": 0.0025},
    "GEMINI_CLI": {"models": ["gemini-2.5-pro"], "success": 0.60, "speed": 0.9, "cost_per_k": 0.0030},
}  # fmt: skip
EXECUTOR_WEIGHTS = {"CODEX": 0.40, "CLAUDE_CODE": 0.30, "COPILOT": 0.20, "GEMINI_CLI": 0.10}
TOOLS = ("Bash", "Read", "Edit", "Write", "Grep", "Glob", "WebFetch", "TodoWrite")
TOOL_WEIGHTS = (0.34, 0.22, 0.18, 0.06, 0.09, 0.05, 0.02, 0.04)
TITLE_VERBS = ("Implement", "Fix", "Refactor", "Add", "Migrate", "Update", "Remove", "Optimize", "Document")
TITLE_OBJECTS = (
    "user authentication", "OAuth integration", "billing webhook", "search indexing", "CSV export",
    "rate limiter", "dark mode", "database migration", "API pagination", "logging middleware",
    "flaky e2e tests", "dependency upgrades", "caching layer", "admin dashboard", "email templates",
    "feature flags", "GraphQL schema", "CI pipeline", "i18n strings", "image uploads",
)  # fmt: skip
PROJECTS = ("web-app", "api-server", "mobile", "infra", "data-pipeline")
FOLLOWUP_REASONS = ("tests_failing", "review_feedback", "error", "incomplete", "ci_failed")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class _Chunk:
    """Generates a fixed range of tasks and keeps their lines by day, transcripts and truth."""

    def __init__(self, seed: int, chunk_index: int, start: datetime, days: int) -> None:
        self.rng = random.Random(f"{seed}:{chunk_index}")
        self.start = start
        self.end = start + timedelta(days=days)
        self.by_day: dict[str, list[str]] = defaultdict(list)
        self.errors: list[str] = []
        self.metrics: list[str] = []
        self.transcripts: dict[str, list[str]] = {}
        self.truth_errors: list[str] = []
        self.tasks: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []
        self.near_misses: list[dict[str, Any]] = []
        self.events = 0

    # -- emitting --------------------------------------------------------------------------

    def emit(
        self,
        attempt: dict[str, Any],
        event_type: str,
        data: dict[str, Any],
        at: datetime,
        data_json: str | None = None,
    ) -> dict:
        """One event: the dict the logger's ``build_event`` makes, and its line.

        The line is assembled from the attempt's context serialized once (:func:`_context_json`)
        and the event's own fields, instead of serializing every field of every event: the same
        bytes as ``serialize(build_event(...))`` (a test compares them), for about half the time
        of the generator's hot loop. ``data_json`` is ``data`` already serialized, for the tool
        events (most of the lines), whose payloads are formatted directly.
        """
        timestamp = format_timestamp(at)
        payload = {k: v for k, v in data.items() if v is not None}
        elapsed = max(0, _ms(at) - attempt["start_ms"])
        event = {
            "timestamp": timestamp,
            "attempt_id": attempt["attempt_id"],
            **attempt["context_fields"],
            "event_type": event_type,
            "data": payload,
            "elapsed_ms": elapsed,
        }
        line = (
            f'{{"timestamp":"{timestamp}","attempt_id":{attempt["attempt_json"]},{attempt["context_json"]}'
            f'"event_type":"{event_type}","data":{data_json or serialize(payload)},"elapsed_ms":{elapsed}}}'
        )
        attempt["last_at"] = at
        self.by_day[timestamp[:10]].append(line)
        attempt["lines"].append(line)
        attempt["events"].append(event)
        if event_type == "error":
            self.errors.append(line)
        self.events += 1
        return event

    # -- tasks and attempts ------------------------------------------------------------------

    def task(self, task_index: int, task_start: datetime) -> None:
        rng = self.rng
        task_id = f"task-{task_index:07d}"
        title = f"{rng.choice(TITLE_VERBS)} {rng.choice(TITLE_OBJECTS)}"
        complexity = rng.choices(("small", "medium", "large"), (0.5, 0.35, 0.15))[0]
        max_attempts = rng.choices((1, 2, 3, 4, 5), (0.45, 0.25, 0.15, 0.09, 0.06))[0]
        at = task_start
        attempt_ids: list[str] = []
        succeeded = False
        total_cost = 0.0
        executor = rng.choices(list(EXECUTOR_WEIGHTS), list(EXECUTOR_WEIGHTS.values()))[0]
        for number in range(1, max_attempts + 1):
            if number > 1 and rng.random() < 0.35:  # the orchestrator switches executor on retry
                executor = rng.choices(list(EXECUTOR_WEIGHTS), list(EXECUTOR_WEIGHTS.values()))[0]
            final_try = number == max_attempts
            info = self.attempt(task_id, task_index, title, complexity, number, executor, at, final_try)
            attempt_ids.append(info["attempt_id"])
            total_cost += info["cost_usd"] or 0.0
            if info["completion_status"] == "success":
                succeeded = True
                break
            if info["completion_status"] is None:  # left open at the end of the period
                break
            at = datetime.fromisoformat(info["end"]) + timedelta(seconds=rng.randint(60, 1800))
            if at >= self.end:
                break
        self.tasks.append(
            {
                "task_id": task_id,
                "task_title": title,
                "complexity": complexity,
                "attempts": len(attempt_ids),
                "attempt_ids": attempt_ids,
                "succeeded": succeeded,
                "first_shot": succeeded and len(attempt_ids) == 1,
                "total_cost_usd": round(total_cost, 6),
            }
        )

    def attempt(
        self,
        task_id: str,
        task_index: int,
        title: str,
        complexity: str,
        number: int,
        executor: str,
        at: datetime,
        final_try: bool,
    ) -> dict[str, Any]:
        rng = self.rng
        spec = EXECUTORS[executor]
        model = rng.choice(spec["models"])
        attempt_id = f"ve-{task_index:07d}-{number}-{rng.getrandbits(24):06x}"
        project = PROJECTS[task_index % len(PROJECTS)]
        context = {
            "session_id": f"sess-{rng.getrandbits(48):012x}",
            "task_id": task_id,
            "task_title": title,
            "task_description": f"{title} in the {project} project ({complexity} task).",
            "project_id": project,
            "executor": executor,
            "executor_variant": rng.choice(("default", "plan", "high")),
            "model": model,
            "branch": f"ve/{attempt_id[3:]}",
            "base_branch": "main",
            "commits_ahead": 0,
            "commits_behind": rng.randint(0, 5),
        }
        fields = {name: context[name] for name in CONTEXT_FIELDS if context.get(name) is not None}
        attempt: dict[str, Any] = {
            "attempt_id": attempt_id,
            "context": context,
            "context_fields": fields,
            "attempt_json": serialize({"a": attempt_id})[5:-1],
            "context_json": serialize(fields)[1:-1] + "," if fields else "",
            "start_ms": _ms(at),
            "lines": [],
            "events": [],
        }
        difficulty = {"small": 0.0, "medium": 0.12, "large": 0.28}[complexity]
        p_success = max(0.05, spec["success"] - difficulty + 0.04 * (number - 1))
        # Incidents are rare and deliberate; near misses sit just under each threshold.
        roll = rng.random()
        incident = None
        if roll < 0.015:
            incident = rng.choice(
                (
                    "error_loop",
                    "tool_loop",
                    "stuck_agent",
                    "cost_anomaly",
                    "excessive_restarts",
                    "failed_errors",
                )
            )
        elif roll < 0.025:
            incident = rng.choice(("near_error", "near_tool", "near_stuck", "near_cost"))
        attempt["loop_kind"] = rng.choice(KINDS) if incident in ("error_loop", "near_error") else None
        prompt_type = "initial" if number == 1 else "retry"
        self.emit(
            attempt,
            "session_start",
            {"prompt_type": prompt_type, "prompt": f"{title}. Follow the repository conventions.",
             "followup_reason": None if number == 1 else "previous_attempt_failed"},
            at,
        )  # fmt: skip
        self.emit(attempt, "status_change", {"old_status": "todo", "new_status": "inprogress"}, at)
        n_tools = max(2, int(rng.gauss({"small": 8, "medium": 14, "large": 22}[complexity], 4)))
        n_errors = rng.choices((0, 1, 2), (0.55, 0.3, 0.15))[0]
        n_followups = rng.choices((0, 1, 2), (0.7, 0.22, 0.08))[0]
        restarts_planned = (
            3 if incident == "excessive_restarts" else (1 if n_followups and rng.random() < 0.3 else 0)
        )
        error_slots = set(rng.sample(range(n_tools), min(n_errors, n_tools)))
        followup_slots = set(rng.sample(range(n_tools), min(max(n_followups, restarts_planned), n_tools)))
        special_slot = rng.randrange(n_tools)
        restarts = 0
        errors = 0
        last_tool = None
        for i in range(n_tools):
            at += timedelta(seconds=rng.uniform(7.0, 45.0) / spec["speed"] + 7.0 * (spec["speed"] < 1))
            if i == special_slot and incident:
                at = self.inject(attempt, incident, at)
                if incident in ("error_loop", "failed_errors", "near_error"):
                    errors += {"error_loop": 5, "failed_errors": 4, "near_error": 3}[incident]
                last_tool = None
            tool = rng.choices(TOOLS, TOOL_WEIGHTS)[0]
            if tool == last_tool == "Bash" and rng.random() < 0.5:
                tool = "Read"
            last_tool = tool
            params = _tool_params(rng, tool)
            self.emit(
                attempt,
                "tool_call",
                {"tool_name": tool, "tool_params": params},
                at,
                f'{{"tool_name":"{tool}","tool_params":{serialize(params)}}}',
            )
            duration = rng.randint(20, 4000)
            ok = rng.random() > 0.08
            result_at = at + timedelta(milliseconds=duration)
            self.emit(
                attempt,
                "tool_result",
                {"tool_name": tool, "success": ok, "duration_ms": duration, "exit_code": 0 if ok else 1},
                result_at,
                f'{{"tool_name":"{tool}","success":{"true" if ok else "false"},'
                f'"duration_ms":{duration},"exit_code":{0 if ok else 1}}}',
            )
            if i in error_slots:  # never the loop's kind: a near miss must stay a near miss
                kind = rng.choice(KINDS)
                while kind is attempt["loop_kind"]:
                    kind = rng.choice(KINDS)
                self.error(attempt, kind, result_at + timedelta(milliseconds=5))
                errors += 1
            if i in followup_slots:
                fu_at = result_at + timedelta(seconds=rng.uniform(5, 40))
                reason = rng.choice(FOLLOWUP_REASONS)
                self.emit(
                    attempt,
                    "followup_sent",
                    {"message": f"Please address: {reason}", "reason": reason},
                    fu_at,
                )
                if restarts < restarts_planned:
                    restarts += 1
                    self.emit(
                        attempt,
                        "session_start",
                        {
                            "prompt_type": "followup",
                            "prompt": f"Follow-up: {reason}",
                            "followup_reason": reason,
                        },
                        fu_at + timedelta(seconds=2),
                    )
                at = fu_at + timedelta(seconds=2)
        # How it ends.
        succeeded = rng.random() < p_success and incident not in ("failed_errors",)
        if incident == "error_loop" and rng.random() < 0.5:
            succeeded = False
        status = (
            "success"
            if succeeded
            else rng.choices(("failed", "timeout", "interrupted"), (0.75, 0.15, 0.1))[0]
        )
        if incident == "failed_errors":
            status = "failed"
        end = at + timedelta(seconds=rng.uniform(5, 60))
        tokens = int(rng.gauss(18_000, 6_000) * {"small": 0.7, "medium": 1.0, "large": 1.6}[complexity])
        tokens = max(1500, tokens)
        cost = round(min(tokens / 1000 * spec["cost_per_k"], 0.6), 4)
        if incident == "cost_anomaly":
            cost = round(rng.uniform(1.1, 3.5), 4)
            tokens = int(cost / spec["cost_per_k"] * 1000)
        elif incident == "near_cost":
            cost = 0.99
        left_open = (end >= self.end - timedelta(minutes=20)) and rng.random() < 0.5
        ended = None
        if not left_open:
            new_status = "done" if succeeded else "failed"
            self.emit(attempt, "status_change", {"old_status": "inprogress", "new_status": new_status}, end)
            end_event = self.emit(
                attempt,
                "session_end",
                {
                    "completion_status": status,
                    "duration_ms": _ms(end) - attempt["start_ms"],
                    "total_tokens": tokens,
                    "cost_usd": cost,
                    "outcome": {"status": "completed" if succeeded else status, "pr_created": succeeded},
                },
                end + timedelta(milliseconds=1),
            )
            self.metrics.append(serialize(session_summary(attempt["events"], end_event)))
            ended = end_event["timestamp"]
        self.transcripts[attempt_id] = attempt["lines"]
        start_iso = attempt["events"][0]["timestamp"]
        info = {
            "attempt_id": attempt_id,
            "task_id": task_id,
            "attempt_number": number,
            "executor": executor,
            "model": model,
            "prompt_type": prompt_type,
            "completion_status": None if left_open else status,
            "start": start_iso,
            "end": ended or attempt["events"][-1]["timestamp"],
            "last_event": attempt["events"][-1]["timestamp"],
            "duration_ms": None if left_open else _ms(end) - attempt["start_ms"],
            "cost_usd": None if left_open else cost,
            "total_tokens": None if left_open else tokens,
            "error_count": sum(1 for e in attempt["events"] if e["event_type"] == "error"),
            "followup_count": sum(1 for e in attempt["events"] if e["event_type"] == "followup_sent"),
            "tool_call_count": sum(1 for e in attempt["events"] if e["event_type"] == "tool_call"),
            "restarts": restarts,
            "crosses_midnight": start_iso[:10] != attempt["events"][-1]["timestamp"][:10],
        }
        self.attempts.append(info)
        if incident == "cost_anomaly":
            self.incidents.append({"type": "cost_anomaly", "attempt_id": attempt_id, "start": start_iso,
                                   "end": info["end"], "cost_usd": cost})  # fmt: skip
        if incident == "excessive_restarts":
            self.incidents.append({"type": "excessive_restarts", "attempt_id": attempt_id, "start": start_iso,
                                   "end": info["end"], "restarts": restarts})  # fmt: skip
        if status == "failed" and not left_open and info["error_count"] >= 4:
            self.incidents.append({"type": "failed_session_high_errors", "attempt_id": attempt_id,
                                   "start": start_iso,
                                   "end": info["end"], "error_count": info["error_count"]})  # fmt: skip
        if left_open:
            self.incidents.append({"type": "stuck_agent", "attempt_id": attempt_id,
                                   "start": info["last_event"],
                                   "end": None, "open_at_end": True})  # fmt: skip
        return info

    def error(self, attempt: dict[str, Any], kind: ErrorKind, at: datetime) -> None:
        rng = self.rng
        message = kind.make(rng)
        give = kind.fingerprint_policy == "always" or (
            kind.fingerprint_policy == "mixed" and rng.random() < 0.5
        )
        data = {
            "error_message": message,
            "error_fingerprint": kind.fingerprint if give else None,
            "error_category": kind.category,
        }
        if rng.random() < 0.2:
            data["stack_trace"] = (
                f'Traceback (most recent call last):\n  File "{attempt["attempt_id"]}.py", line 1'
            )
        event = self.emit(attempt, "error", data, at)
        self.truth_errors.append(
            serialize(
                {
                    "attempt_id": attempt["attempt_id"],
                    "timestamp": event["timestamp"],
                    "kind": kind.kind,
                    "error_message": message,
                    "error_fingerprint": data["error_fingerprint"],
                }
            )
        )

    def inject(self, attempt: dict[str, Any], incident: str, at: datetime) -> datetime:
        """Write an incident (or a near miss) starting at ``at``; returns the time after it."""
        rng = self.rng
        aid = attempt["attempt_id"]
        if incident in ("error_loop", "failed_errors", "near_error"):
            kind = attempt["loop_kind"]
            count = {"error_loop": 5, "failed_errors": 4, "near_error": 3}[incident]
            # failed_errors: four errors of four different kinds, so not an error loop too
            kinds = rng.sample(KINDS, count) if incident == "failed_errors" else [kind] * count
            first = at
            for kind in kinds:
                self.error(attempt, kind, at)
                at += timedelta(seconds=rng.uniform(40, 110))
            record = {"type": "error_loop" if incident == "error_loop" else "near_error_loop",
                      "attempt_id": aid,
                      "start": first.isoformat(), "kind": kind.kind, "fingerprint": kind.fingerprint,
                      "occurrences": count}  # fmt: skip
            if incident == "error_loop":
                self.incidents.append(record)
            elif incident == "near_error":
                self.near_misses.append(record)
            return at
        if incident in ("tool_loop", "near_tool"):
            count = 12 if incident == "tool_loop" else 9
            gap = 3.0 if incident == "tool_loop" else 6.5
            first = at
            for _ in range(count):
                self.emit(
                    attempt, "tool_call", {"tool_name": "Bash", "tool_params": {"command": "npm test"}}, at
                )
                at += timedelta(seconds=gap)
            at = first + timedelta(seconds=61 + gap * count)  # the next call is outside any 60 s window
            record = {"type": "tool_loop" if incident == "tool_loop" else "near_tool_loop", "attempt_id": aid,
                      "start": first.isoformat(), "tool_name": "Bash", "occurrences": count}  # fmt: skip
            (self.incidents if incident == "tool_loop" else self.near_misses).append(record)
            return at
        if incident in ("stuck_agent", "near_stuck"):
            # Idle time counts from the last event written, which is what a detector sees.
            idle = rng.uniform(420, 1500) if incident == "stuck_agent" else 299.0
            last = attempt["last_at"]
            record = {"type": "stuck_agent" if incident == "stuck_agent" else "near_stuck_agent",
                      "attempt_id": aid,
                      "start": last.isoformat(), "idle_ms": int(idle * 1000)}  # fmt: skip
            (self.incidents if incident == "stuck_agent" else self.near_misses).append(record)
            return last + timedelta(seconds=idle)
        if incident == "near_cost":
            self.near_misses.append({"type": "near_cost_anomaly", "attempt_id": aid, "cost_usd": 0.99})
        return at


def _tool_params(rng: random.Random, tool: str) -> dict[str, Any]:
    if tool == "Bash":
        return {
            "command": rng.choice(
                ("npm test", "git status", "pytest -q", "ls -la", "npm run build", "git diff")
            )
        }
    if tool in ("Read", "Edit", "Write"):
        return {"file_path": f"src/{rng.choice(('api', 'ui', 'core', 'db'))}/{rng.randint(1, 60)}.ts"}
    if tool in ("Grep", "Glob"):
        return {"pattern": rng.choice(("TODO", "*.ts", "def test_", "import "))}
    return {}
