"""What the generated fleet looks like: executors, tools, task titles, and the weighted draws over them.

Everything a scenario draws from is a constant here, with what the hot loop needs prepared once at
import: cumulative weights for :func:`pick` and the JSON of every tool's parameters (the generator
draws an index, never serializes a parameter dict per event).
"""

from __future__ import annotations

import json
import random
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, TypeVar

from agent_pipelines.core.writer import serialize

T = TypeVar("T")

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
VARIANTS = ("default", "plan", "high")
COMPLEXITIES = ("small", "medium", "large")
INCIDENTS = ("error_loop", "tool_loop", "stuck_agent", "cost_anomaly", "excessive_restarts", "failed_errors")
NEAR_MISSES = ("near_error", "near_tool", "near_stuck", "near_cost")
END_STATUSES = ("failed", "timeout", "interrupted")

# Per complexity: extra difficulty, mean tool calls, token factor.
DIFFICULTY = {"small": 0.0, "medium": 0.12, "large": 0.28}
MEAN_TOOLS = {"small": 8, "medium": 14, "large": 22}
TOKEN_FACTOR = {"small": 0.7, "medium": 1.0, "large": 1.6}

BASH_COMMANDS = ("npm test", "git status", "pytest -q", "ls -la", "npm run build", "git diff")
SOURCE_DIRS = ("api", "ui", "core", "db")
FILE_NUMBERS = 60  # src/<dir>/1.ts .. src/<dir>/60.ts
PATTERNS = ("TODO", "*.ts", "def test_", "import ")


def check_json_safe(*groups: Sequence[str]) -> None:
    """Raise if a text would change when serialized: the generator formats these constants into
    lines directly, without escaping (ids and numbers it makes itself need none)."""
    for text in (t for group in groups for t in group):
        if json.dumps(text, ensure_ascii=False) != f'"{text}"':  # as serialize writes strings
            raise ValueError(f"{text!r} needs JSON escaping; the generator writes it unescaped")


check_json_safe(
    TITLE_VERBS, TITLE_OBJECTS, PROJECTS, FOLLOWUP_REASONS, VARIANTS, COMPLEXITIES, END_STATUSES, TOOLS,
    list(EXECUTORS), [m for spec in EXECUTORS.values() for m in spec["models"]],
)  # fmt: skip


class Weighted:
    """A population with fixed weights, drawn like ``rng.choices(population, weights)[0]``.

    The cumulative weights are summed once instead of on every call, and exactly one ``random()``
    is drawn, so a seed gives the very draws ``random.choices`` gives (the same float arithmetic:
    ``bisect(cum, random() * total, 0, n - 1)``).
    """

    __slots__ = ("cum", "hi", "population", "total")

    def __init__(self, population: Sequence[Any], weights: Sequence[float]) -> None:
        self.population = tuple(population)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1] + 0.0
        self.hi = len(self.population) - 1


def below(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)`` for ``n >= 1``, drawn exactly as CPython's ``Random`` draws it.

    ``choice``, ``randint`` and ``randrange`` all end in ``Random._randbelow``: draw
    ``n.bit_length()`` random bits until they make a number below ``n``. Called directly, with the
    public ``getrandbits``, it skips two or three layers of argument checking per draw, in the
    loop that draws for every event (a test checks it gives ``randrange``'s numbers).
    """
    k = n.bit_length()
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


def pick(rng: random.Random, weighted: Weighted) -> Any:
    """One draw from ``weighted`` (see :class:`Weighted`)."""
    return weighted.population[bisect(weighted.cum, rng.random() * weighted.total, 0, weighted.hi)]


EXECUTOR_DRAW = Weighted(list(EXECUTOR_WEIGHTS), list(EXECUTOR_WEIGHTS.values()))
TOOL_DRAW = Weighted(TOOLS, TOOL_WEIGHTS)
COMPLEXITY_DRAW = Weighted(COMPLEXITIES, (0.5, 0.35, 0.15))
MAX_ATTEMPTS_DRAW = Weighted((1, 2, 3, 4, 5), (0.45, 0.25, 0.15, 0.09, 0.06))
ERRORS_DRAW = Weighted((0, 1, 2), (0.55, 0.3, 0.15))
FOLLOWUPS_DRAW = Weighted((0, 1, 2), (0.7, 0.22, 0.08))
END_STATUS_DRAW = Weighted(END_STATUSES, (0.75, 0.15, 0.1))

BASH_JSON = tuple(serialize({"command": c}) for c in BASH_COMMANDS)
FILE_JSON = tuple(
    tuple(serialize({"file_path": f"src/{d}/{n}.ts"}) for n in range(1, FILE_NUMBERS + 1))
    for d in SOURCE_DIRS
)
PATTERN_JSON = tuple(serialize({"pattern": p}) for p in PATTERNS)
FILE_TOOLS = frozenset(("Read", "Edit", "Write"))  # parameters: a source file
PATTERN_TOOLS = frozenset(("Grep", "Glob"))  # parameters: a pattern


def tool_params_json(rng: random.Random, tool: str) -> str:
    """A tool call's parameters, already serialized: a Bash command, a source file, a pattern.

    The draws are those of building the dict (``rng.choice`` of the value, then ``rng.randint`` of
    a file number), so a seed gives the same parameters as drawing and serializing a dict would.
    """
    if tool == "Bash":
        return BASH_JSON[below(rng, len(BASH_JSON))]
    if tool in FILE_TOOLS:
        files = FILE_JSON[below(rng, len(FILE_JSON))]
        return files[below(rng, FILE_NUMBERS)]
    if tool in PATTERN_TOOLS:
        return PATTERN_JSON[below(rng, len(PATTERN_JSON))]
    return "{}"
