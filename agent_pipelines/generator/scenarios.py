"""What happens in one chunk of tasks: tasks, their attempts and how each one goes and ends.

Runs in a worker process; everything is drawn from the chunk's own ``random.Random`` in a fixed
order, so a seed gives the same logs. Moments are integer microseconds (:mod:`.clock`); events are
written through :class:`~agent_pipelines.generator.emit.Emitter`; errors, incidents and near misses
come from :mod:`.incidents`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent_pipelines.core.logger import session_summary
from agent_pipelines.generator import clock
from agent_pipelines.generator import signal as sig
from agent_pipelines.generator.emit import AttemptLog, Emitter, fast_serialize
from agent_pipelines.generator.error_catalog import KINDS
from agent_pipelines.generator.incidents import ERROR_COUNTS
from agent_pipelines.generator.profiles import (
    COMPLEXITY_DRAW,
    DIFFICULTY,
    END_STATUS_DRAW,
    ERRORS_DRAW,
    EXECUTOR_DRAW,
    EXECUTORS,
    FOLLOWUPS_DRAW,
    INCIDENTS,
    MAX_ATTEMPTS_DRAW,
    MEAN_TOOLS,
    NEAR_MISSES,
    PROJECTS,
    TITLE_OBJECTS,
    TITLE_VERBS,
    TOKEN_FACTOR,
    VARIANTS,
    pick,
)
from agent_pipelines.generator.work import tool_calls

_MS = 1000  # microseconds
_TWENTY_MINUTES = 20 * 60 * clock.US_PER_SECOND


@dataclass(frozen=True, slots=True)
class Task:
    task_id: str
    index: int
    title: str
    complexity: str
    variant: str | None = None  # the prompt variant (signal only)
    requirements: tuple[str, ...] = ()  # listed in the description (signal only)


@dataclass(slots=True)
class Plan:
    """An attempt's shape, drawn before it starts."""

    incident: str | None
    n_tools: int
    error_slots: set[int]
    followup_slots: set[int]
    special_slot: int
    restarts_planned: int
    struggling: bool = False  # signal only: see agent_pipelines.generator.signal
    risky_slots: frozenset[int] = frozenset()
    risky_seen: int = 0


@dataclass(slots=True)
class Ending:
    """How an attempt ended (``left_open``: still running when the period ends)."""

    status: str
    succeeded: bool
    end_us: int
    tokens: int
    cost: float
    left_open: bool
    p_if: dict[str, float] | None = None  # signal only: P(success) under each prompt variant


class Chunk(Emitter):
    """Generates a fixed range of tasks and keeps their lines by day, transcripts and truth."""

    def __init__(
        self,
        seed: int,
        chunk_index: int,
        start: datetime,
        days: int,
        transcript_every: int,
        signal: bool = False,
    ) -> None:
        super().__init__()
        self.signal = signal  # draw the predictive signal of agent_pipelines.generator.signal
        self.transcript_every = transcript_every  # every attempt of every n-th task has one; 0: none
        self.rng = random.Random(f"{seed}:{chunk_index}")
        self.start_us = clock.from_datetime(start)
        self.end_us = self.start_us + days * clock.US_PER_DAY
        self.tasks: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []
        self.near_misses: list[dict[str, Any]] = []

    # -- a task: attempts until one succeeds, the tries run out or the period ends -------------

    def task(self, task_index: int, start_us: int) -> None:
        rng = self.rng
        title = f"{rng.choice(TITLE_VERBS)} {rng.choice(TITLE_OBJECTS)}"
        task = Task(f"task-{task_index:07d}", task_index, title, pick(rng, COMPLEXITY_DRAW))
        if self.signal:
            variant = rng.choice(sig.VARIANTS)
            task = Task(task.task_id, task_index, title, task.complexity, variant,
                        tuple(sig.requirements(rng, task.complexity)))  # fmt: skip
        max_attempts = pick(rng, MAX_ATTEMPTS_DRAW)
        us = start_us
        attempt_ids: list[str] = []
        succeeded = False
        total_cost = 0.0
        executor = pick(rng, EXECUTOR_DRAW)
        every = self.transcript_every
        transcript = every > 0 and task_index % every == 0
        for number in range(1, max_attempts + 1):
            if number > 1 and rng.random() < 0.35:  # the orchestrator switches executor on retry
                executor = pick(rng, EXECUTOR_DRAW)
            info, last_us = self.attempt(task, number, executor, us, transcript)
            attempt_ids.append(info["attempt_id"])
            total_cost += info["cost_usd"] or 0.0
            if info["completion_status"] == "success":
                succeeded = True
                break
            if info["completion_status"] is None:  # left open at the end of the period
                break
            # The next try starts a while after the last line (to the millisecond) of this one.
            us = last_us // _MS * _MS + clock.seconds(rng.randint(60, 1800))
            if us >= self.end_us:
                break
        self.tasks.append(
            {
                "task_id": task.task_id,
                "task_title": title,
                "complexity": task.complexity,
                "attempts": len(attempt_ids),
                "attempt_ids": attempt_ids,
                "succeeded": succeeded,
                "first_shot": succeeded and len(attempt_ids) == 1,
                "total_cost_usd": round(total_cost, 6),
            }
        )

    # -- an attempt: open, work, end, record ---------------------------------------------------

    def attempt(
        self, task: Task, number: int, executor: str, us: int, transcript: bool
    ) -> tuple[dict[str, Any], int]:
        """One attempt from its session start to its end (its transcript kept if ``transcript``);
        returns its truth record and the time of its last line."""
        spec = EXECUTORS[executor]
        a = self._open(task, number, executor, spec, us)
        plan = self._plan(task, a)
        prompt_type = "initial" if number == 1 else "retry"
        self.session_start(a, prompt_type, f"{task.title}. Follow the repository conventions.",
                           None if number == 1 else "previous_attempt_failed", us, task.variant)  # fmt: skip
        self.status_change(a, "todo", "inprogress", us)
        us, restarts = tool_calls(self, a, plan, spec, us)
        ending = self._end(task, number, plan, spec, us)
        if not ending.left_open:
            self._close(a, ending)
        self.close(a, transcript)
        info = self._record(a, task, number, executor, prompt_type, plan.incident, ending, restarts)
        if self.signal:
            info.update(prompt_variant=task.variant, struggling=plan.struggling, risky_errors=plan.risky_seen,
                        p_success_if=ending.p_if)  # fmt: skip
        info["transcript"] = transcript
        return info, a.last_us

    def _open(self, task: Task, number: int, executor: str, spec: dict[str, Any], us: int) -> AttemptLog:
        rng = self.rng
        model = rng.choice(spec["models"])
        attempt_id = f"ve-{task.index:07d}-{number}-{rng.getrandbits(24):06x}"
        project = PROJECTS[task.index % len(PROJECTS)]
        session_id = f"sess-{rng.getrandbits(48):012x}"
        description = f"{task.title} in the {project} project ({task.complexity} task)."
        if task.requirements:
            description += f" Requirements: {'; '.join(task.requirements)}."
        variant = rng.choice(VARIANTS)
        behind = rng.randint(0, 5)
        context = {
            "session_id": session_id,
            "task_id": task.task_id,
            "task_title": task.title,
            "task_description": description,
            "project_id": project,
            "executor": executor,
            "executor_variant": variant,
            "model": model,
            "branch": f"ve/{attempt_id[3:]}",
            "base_branch": "main",
            "commits_ahead": 0,
            "commits_behind": behind,
        }
        # serialize(context)[1:-1], formatted directly: ids, numbers and checked constants only
        context_json = (
            f'"session_id":"{session_id}","task_id":"{task.task_id}","task_title":"{task.title}",'
            f'"task_description":"{description}","project_id":"{project}","executor":"{executor}",'
            f'"executor_variant":"{variant}","model":"{model}","branch":"ve/{attempt_id[3:]}",'
            f'"base_branch":"main","commits_ahead":0,"commits_behind":{behind}'
        )
        return AttemptLog(attempt_id, context, context_json, us)

    def _plan(self, task: Task, a: AttemptLog) -> Plan:
        """Draw the attempt's incident (rare and deliberate) or near miss (just under a threshold),
        its tool calls, errors and follow-ups, and where each goes."""
        rng = self.rng
        roll = rng.random()
        incident = None
        if roll < 0.015:
            incident = rng.choice(INCIDENTS)
        elif roll < 0.025:
            incident = rng.choice(NEAR_MISSES)
        a.loop_kind = rng.choice(KINDS) if incident in ("error_loop", "near_error") else None
        n_tools = max(2, int(rng.gauss(MEAN_TOOLS[task.complexity], 4)))
        n_errors = pick(rng, ERRORS_DRAW)
        n_followups = pick(rng, FOLLOWUPS_DRAW)
        restarts_planned = (
            3 if incident == "excessive_restarts" else (1 if n_followups and rng.random() < 0.3 else 0)
        )
        # rng.sample of nothing draws nothing: skip the call (most attempts have no error or follow-up)
        k = min(n_errors, n_tools)
        error_slots = set(rng.sample(range(n_tools), k)) if k else set()
        k = min(max(n_followups, restarts_planned), n_tools)
        followup_slots = set(rng.sample(range(n_tools), k)) if k else set()
        plan = Plan(incident, n_tools, error_slots, followup_slots, rng.randrange(n_tools), restarts_planned)
        if self.signal and rng.random() < sig.struggle_probability(task.title, a.context["executor"]):
            early = range(max(1, n_tools // 3))  # a struggling attempt shows it early
            plan.struggling = True
            plan.risky_slots = frozenset(rng.sample(early, min(sig.STRUGGLE_ERRORS, len(early))))
            plan.error_slots |= plan.risky_slots
        return plan

    def _end(self, task: Task, number: int, plan: Plan, spec: dict[str, Any], us: int) -> Ending:
        """How the attempt ends: its status, when, its tokens and cost (or left open)."""
        rng = self.rng
        incident = plan.incident
        base = spec["success"] - DIFFICULTY[task.complexity] + 0.04 * (number - 1)
        p_success = max(0.05, base)
        p_if = None
        if task.variant is not None:
            p_if = {v: sig.p_success(base, task.title, v, plan.struggling, plan.risky_seen)
                    for v in sig.VARIANTS}  # fmt: skip
            p_success = p_if[task.variant]
        succeeded = rng.random() < p_success and incident not in ("failed_errors",)
        if incident == "error_loop" and rng.random() < 0.5:
            succeeded = False
        status = "success" if succeeded else pick(rng, END_STATUS_DRAW)
        if incident == "failed_errors":
            status = "failed"
        end_us = us + clock.seconds(rng.uniform(5, 60))
        tokens = max(1500, int(rng.gauss(18_000, 6_000) * TOKEN_FACTOR[task.complexity]))
        if task.variant is not None:
            tokens = int(tokens * sig.token_factor(len(task.requirements)))
        cost = round(min(tokens / 1000 * spec["cost_per_k"], 0.6), 4)
        if incident == "cost_anomaly":
            cost = round(rng.uniform(1.1, 3.5), 4)
            tokens = int(cost / spec["cost_per_k"] * 1000)
        elif incident == "near_cost":
            cost = 0.99
        left_open = (end_us >= self.end_us - _TWENTY_MINUTES) and rng.random() < 0.5
        return Ending(status, succeeded, end_us, tokens, cost, left_open, p_if)

    def _close(self, a: AttemptLog, ending: Ending) -> None:
        """The last status change and the session end, and the attempt's metrics line."""
        new_status = "done" if ending.succeeded else "failed"
        self.status_change(a, "inprogress", new_status, ending.end_us)
        duration_ms = clock.epoch_ms(ending.end_us) - a.start_ms
        end_event = self.session_end(
            a, ending.status, duration_ms, ending.tokens, ending.cost, ending.succeeded, ending.end_us + _MS
        )
        self.metrics.append(fast_serialize(session_summary(a.summary_events(), end_event)))

    def _record(
        self,
        a: AttemptLog,
        task: Task,
        number: int,
        executor: str,
        prompt_type: str,
        incident: str | None,
        ending: Ending,
        restarts: int,
    ) -> dict[str, Any]:
        """The attempt's line in the ground truth, and the incidents its ending makes."""
        left_open = ending.left_open
        info = {
            "attempt_id": a.attempt_id,
            "task_id": task.task_id,
            "attempt_number": number,
            "executor": executor,
            "model": a.context["model"],
            "prompt_type": prompt_type,
            "completion_status": None if left_open else ending.status,
            "start": a.first_ts,
            "end": a.last_ts,  # the session end's when it ended
            "last_event": a.last_ts,
            "duration_ms": None if left_open else clock.epoch_ms(ending.end_us) - a.start_ms,
            "cost_usd": None if left_open else ending.cost,
            "total_tokens": None if left_open else ending.tokens,
            "error_count": a.errors,
            "followup_count": a.followups,
            "tool_call_count": a.tool_calls,
            "restarts": restarts,
            "crosses_midnight": a.first_ts[:10] != a.last_ts[:10],
        }
        self.attempts.append(info)
        base = {"attempt_id": a.attempt_id, "start": a.first_ts, "end": a.last_ts}
        if incident == "cost_anomaly":
            self.incidents.append({"type": "cost_anomaly", **base, "cost_usd": ending.cost})
        if incident == "excessive_restarts":
            self.incidents.append({"type": "excessive_restarts", **base, "restarts": restarts})
        if ending.status == "failed" and not left_open and a.errors >= 4:
            self.incidents.append({"type": "failed_session_high_errors", **base, "error_count": a.errors})
        if left_open:
            self.incidents.append({"type": "stuck_agent", "attempt_id": a.attempt_id, "start": a.last_ts,
                                   "end": None, "open_at_end": True})  # fmt: skip
        return info


__all__ = ["ERROR_COUNTS", "Chunk", "Ending", "Plan", "Task"]
