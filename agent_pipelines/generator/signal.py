"""The predictive signal a generated fleet can carry (``generate(..., signal=True)``, ``--signal``).

Why: the failure-risk model, the cost forecast and the experiment table (:mod:`agent_pipelines.predict`)
need something true to find in demos and tests, and a benchmark needs to know what is true to say
whether they found it. Without ``signal`` the generator writes what it always wrote (its pinned bytes);
with it, every effect below is drawn into the logs *and* written to the ground truth (``"signal"`` in the
head; ``p_success``, ``p_success_if`` and ``struggling`` per attempt), so an evaluation can check the
models against the truth rather than against the logs read back.

The effects, all on an attempt's probability of success (clamped to [:data:`P_MIN`, :data:`P_MAX`]):

* **executor and size**, as before: the executor's base rate minus the complexity's difficulty;
* **task kind** (the title's verb): :data:`KIND_SHIFT` (migrations and refactors fail more);
* **struggling** attempts (a hidden state, more likely on hard kinds and weaker executors:
  :func:`struggle_probability`) hit :data:`STRUGGLE_ERRORS` errors of :data:`RISKY_KINDS` in the first
  third of their tool calls and lose :data:`STRUGGLE_SHIFT`;
* every **risky error** seen (a struggling attempt's, or one drawn by chance) costs :data:`RISKY_SHIFT`
  (at most two counted): failure is more likely after certain early errors;
* the **prompt variant** (``session_start``'s ``prompt_variant``, one per task): :data:`VARIANT_SHIFT`
  (B is better) and no effect on cost.

Cost grows with task size: the description lists requirements (more for larger tasks:
:data:`REQUIREMENTS_RANGE`) and tokens grow by :data:`TOKENS_PER_REQUIREMENT` per requirement.
"""

from __future__ import annotations

import random
from typing import Any

RISKY_KINDS = (
    "context_window", "api_key_missing", "db_conn_refused", "oom_killed", "docker_daemon", "disk_full",
    "scope_exceeded", "git_auth_denied",
)  # fmt: skip
RISKY = frozenset(RISKY_KINDS)
KIND_SHIFT = {"Migrate": -0.14, "Refactor": -0.08, "Optimize": -0.05, "Document": 0.10, "Remove": 0.05}
STRUGGLE_BASE = 0.12
STRUGGLE_KIND = {"Migrate": 0.15, "Refactor": 0.08}
STRUGGLE_EXECUTOR = {"COPILOT": 0.08, "GEMINI_CLI": 0.10}
STRUGGLE_SHIFT = -0.30
STRUGGLE_ERRORS = 2
RISKY_SHIFT = -0.12
RISKY_COUNTED = 2
VARIANTS = ("A", "B")
VARIANT_SHIFT = {"A": 0.0, "B": 0.08}
P_MIN, P_MAX = 0.03, 0.97
REQUIREMENTS_RANGE = {"small": (0, 2), "medium": (2, 5), "large": (5, 9)}
TOKENS_PER_REQUIREMENT = 0.10
REQUIREMENTS = (
    "keep the public API stable", "add unit tests", "update the changelog", "handle empty input",
    "log failures with context", "support pagination", "document the new options",
    "keep it backwards compatible",
    "cover the error paths", "measure the latency",
)  # fmt: skip


def task_kind(title: str) -> str:
    """A task's kind: the verb its title starts with."""
    return title.split(" ", 1)[0]


def requirements(rng: random.Random, complexity: str) -> list[str]:
    """The requirements a task's description lists (more for larger tasks)."""
    lo, hi = REQUIREMENTS_RANGE[complexity]
    return rng.sample(REQUIREMENTS, rng.randint(lo, hi))


def struggle_probability(title: str, executor: str) -> float:
    return STRUGGLE_BASE + STRUGGLE_KIND.get(task_kind(title), 0.0) + STRUGGLE_EXECUTOR.get(executor, 0.0)


def p_success(base: float, title: str, variant: str, struggling: bool, risky_errors: int) -> float:
    """An attempt's probability of success under the signal (``base``: executor, size and retry)."""
    p = base + KIND_SHIFT.get(task_kind(title), 0.0) + VARIANT_SHIFT[variant]
    p += STRUGGLE_SHIFT * struggling + RISKY_SHIFT * min(risky_errors, RISKY_COUNTED)
    return min(P_MAX, max(P_MIN, p))


def token_factor(n_requirements: int) -> float:
    return 1.0 + TOKENS_PER_REQUIREMENT * n_requirements


def describe() -> dict[str, Any]:
    """The true effects, as the ground truth records them."""
    return {
        "risky_error_kinds": list(RISKY_KINDS),
        "risky_error_shift": RISKY_SHIFT,
        "risky_errors_counted": RISKY_COUNTED,
        "kind_shift": KIND_SHIFT,
        "struggle": {
            "base": STRUGGLE_BASE,
            "by_kind": STRUGGLE_KIND,
            "by_executor": STRUGGLE_EXECUTOR,
            "shift": STRUGGLE_SHIFT,
            "early_errors": STRUGGLE_ERRORS,
        },
        "variant_shift": VARIANT_SHIFT,
        "variant_cost_effect": 0.0,
        "p_range": [P_MIN, P_MAX],
        "requirements_range": REQUIREMENTS_RANGE,
        "tokens_per_requirement": TOKENS_PER_REQUIREMENT,
    }
