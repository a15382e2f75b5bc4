"""Task-planning heuristics: which advice of the original analytics CLI each troubled task earns, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import polars as pl

from agent_pipelines.analytics.insights.tasks import attributed, task_overview

# --------------------------------------------------------------------------------------------
# Task planning heuristics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanningRule:
    """One heuristic: a name, the original Node analytics CLI's wording of the advice, and a plain
    statement of when it fires."""

    name: str
    improvement: str
    when: str


# Error categories and message patterns each rule looks for. Categories are what the orchestrator
# logs (``error_category``); the patterns catch errors logged without one.
DEPENDENCY_CATEGORIES = frozenset({"dependency", "dependencies", "package", "npm", "pip"})
DEPENDENCY_PATTERN = (
    r"(?i)cannot find module|module ?not ?found|no module named|npm err!|no matching distribution"
    r"|could not resolve dependenc|unable to resolve dependency|eresolve|command not found"
)
ENVIRONMENT_CATEGORIES = frozenset({"environment", "env", "api_key", "config", "configuration"})
ENVIRONMENT_PATTERN = (
    r"(?i)api[_ -]?key|environment variable|env var|is not set\b|not set in\b|docker daemon"
    r"|econnrefused|eaddrinuse|certificate verify failed"
)
AUTH_CATEGORIES = frozenset({"auth", "authentication", "permission", "permissions", "credentials"})
AUTH_PATTERN = (
    r"(?i)permission denied|permission to .* denied|unauthori[sz]ed|forbidden|\b40[13]\b"
    r"|authentication (failed|required)|access denied|bad credentials|invalid (token|credentials)"
)
SCOPE_CATEGORIES = frozenset({"scope"})
SCOPE_PATTERN = r"(?i)scope|new requirement|requirement change|additional (feature|requirement)|also add"
COMPLEXITY_CATEGORIES = frozenset({"timeout"})
COMPLEXITY_PATTERN = r"(?i)maximum context length|context window|context_length|timed out after"

SCOPE_MIN_FOLLOWUPS = 5  # follow-ups on one task before we call it scope creep
COMPLEXITY_MIN_ATTEMPTS = 3
COMPLEXITY_DURATION_FACTOR = 2.0  # a task's median attempt vs. the median attempt of all tasks

RULES: tuple[PlanningRule, ...] = (
    PlanningRule(
        "missing_dependency_setup",
        "Missing dependency setup in task description",
        "an error of category dependency (or a message like 'Cannot find module', 'npm ERR!', "
        "'No matching distribution')",
    ),
    PlanningRule(
        "missing_environment_setup",
        "Missing environment setup instructions (env vars, API keys, services)",
        "an error of category environment or api_key (or a message about a missing API key or "
        "environment variable, a refused connection, a busy port, an unavailable Docker daemon)",
    ),
    PlanningRule(
        "auth_problems",
        "Authentication/permission problems: provide credentials or access before assigning",
        "an error of category auth (or a message with 401/403, 'permission denied', 'unauthorized')",
    ),
    PlanningRule(
        "scope_creep",
        "Scope creep: split the task or pin its scope in the description",
        f"an error of category scope, a follow-up whose reason mentions scope or new requirements, "
        f"or at least {SCOPE_MIN_FOLLOWUPS} follow-ups on the task",
    ),
    PlanningRule(
        "complexity_mismatch",
        "Complexity mismatch: break the task down or raise its complexity label",
        f"at least {COMPLEXITY_MIN_ATTEMPTS} attempts and no first-shot success, together with a "
        f"median attempt duration {COMPLEXITY_DURATION_FACTOR:g}x the overall median, a timed-out "
        "attempt, or a context-window/timeout error",
    ),
)
RULES_BY_NAME: dict[str, PlanningRule] = {r.name: r for r in RULES}


def _category_or_message(categories: frozenset[str], pattern: str) -> pl.Expr:
    cat = pl.col("error_category").str.to_lowercase()
    return cat.is_in(sorted(categories)).fill_null(False) | pl.col("error_message").str.contains(
        pattern
    ).fill_null(False)


def _error_signals(errors: pl.DataFrame) -> pl.DataFrame:
    """Per task: how many errors match each error-based rule, and one example cluster each."""
    flags = {
        "missing_dependency_setup": _category_or_message(DEPENDENCY_CATEGORIES, DEPENDENCY_PATTERN),
        "missing_environment_setup": _category_or_message(ENVIRONMENT_CATEGORIES, ENVIRONMENT_PATTERN),
        "auth_problems": _category_or_message(AUTH_CATEGORIES, AUTH_PATTERN),
        "scope_creep": _category_or_message(SCOPE_CATEGORIES, SCOPE_PATTERN),
        "complexity_mismatch": _category_or_message(COMPLEXITY_CATEGORIES, COMPLEXITY_PATTERN),
    }
    if errors.is_empty():
        return pl.DataFrame(
            schema={"task_id": pl.String(), **{f"n_{k}": pl.UInt32() for k in flags}}
            | {f"ex_{k}": pl.String() for k in flags}
        )
    flagged = errors.filter(pl.col("task_id").is_not_null()).with_columns(
        **{f"f_{k}": v for k, v in flags.items()}
    )
    return flagged.group_by("task_id").agg(
        *[pl.col(f"f_{k}").sum().cast(pl.UInt32()).alias(f"n_{k}") for k in flags],
        *[
            pl.col("cluster_label").filter(pl.col(f"f_{k}")).mode().sort().first().alias(f"ex_{k}")
            for k in flags
        ],
    )


def _followup_signals(events: pl.DataFrame | None) -> pl.DataFrame:
    """Per task: follow-ups whose reason or message mentions scope or new requirements."""
    schema = {"task_id": pl.String(), "scope_followups": pl.UInt32(), "scope_reason": pl.String()}
    if events is None or events.is_empty():
        return pl.DataFrame(schema=schema)
    text = pl.concat_str(pl.col("reason").fill_null(""), pl.col("message").fill_null(""), separator=" ")
    return (
        events.lazy()
        .filter((pl.col("event_type") == "followup_sent") & pl.col("task_id").is_not_null())
        .filter(text.str.contains(SCOPE_PATTERN))
        .group_by("task_id")
        .agg(
            pl.len().cast(pl.UInt32()).alias("scope_followups"),
            pl.coalesce("reason", "message").drop_nulls().first().alias("scope_reason"),
        )
        .collect()
    )


def task_planning_insights(
    sessions: pl.DataFrame,
    errors: pl.DataFrame,
    events: pl.DataFrame | None = None,
    *,
    failed_only: bool = False,
) -> pl.DataFrame:
    """One row per (task, rule that fires), with evidence; see :data:`RULES` for each rule.

    ``failed_only`` keeps tasks without a successful attempt (the original Node analytics CLI's
    ``--failed-only``). Tasks where no rule fires do not appear. Evidence counts are per task, over
    all its attempts.
    """
    overview = task_overview(sessions, errors, events)
    if failed_only:
        overview = overview.filter(~pl.col("succeeded"))
    if overview.is_empty():
        return _empty_insights()
    overall_median = cast(float | None, sessions.filter(~pl.col("is_open"))["duration_ms"].median())
    first_shot = (
        sessions.group_by("task_id")
        .agg((pl.col("is_first_shot") & pl.col("succeeded")).any().alias("first_shot_success"))
        .filter(pl.col("task_id").is_not_null())
    )
    t = (
        overview.join(
            _error_signals(cast(pl.DataFrame, attributed(errors, sessions))), on="task_id", how="left"
        )
        .join(_followup_signals(attributed(events, sessions)), on="task_id", how="left")
        .join(first_shot, on="task_id", how="left")
        .with_columns(
            pl.col("^n_.*$").fill_null(0),
            pl.col("scope_followups").fill_null(0),
            pl.col("first_shot_success").fill_null(False),
        )
    )
    long_tasks = (
        pl.col("median_duration_ms") >= COMPLEXITY_DURATION_FACTOR * overall_median
        if overall_median is not None
        else pl.lit(False)
    )
    fired = {
        "missing_dependency_setup": pl.col("n_missing_dependency_setup") > 0,
        "missing_environment_setup": pl.col("n_missing_environment_setup") > 0,
        "auth_problems": pl.col("n_auth_problems") > 0,
        "scope_creep": (pl.col("n_scope_creep") > 0)
        | (pl.col("scope_followups") > 0)
        | (pl.col("followups") >= SCOPE_MIN_FOLLOWUPS),
        "complexity_mismatch": (pl.col("attempts") >= COMPLEXITY_MIN_ATTEMPTS)
        & ~pl.col("first_shot_success")
        & (long_tasks.fill_null(False) | (pl.col("timeouts") > 0) | (pl.col("n_complexity_mismatch") > 0)),
    }
    evidence = {
        "missing_dependency_setup": _count_evidence("missing_dependency_setup", "dependency error"),
        "missing_environment_setup": _count_evidence(
            "missing_environment_setup", "environment/API-key error"
        ),
        "auth_problems": _count_evidence("auth_problems", "auth error"),
        "scope_creep": pl.concat_str(
            pl.lit("scope errors: "),
            pl.col("n_scope_creep").cast(pl.String()),
            pl.lit(", scope follow-ups: "),
            pl.col("scope_followups").cast(pl.String()),
            pl.lit(", follow-ups: "),
            pl.col("followups").cast(pl.String()),
        ),
        "complexity_mismatch": pl.concat_str(
            pl.col("attempts").cast(pl.String()),
            pl.lit(" attempts, median attempt "),
            (pl.col("median_duration_ms") / 1000).round(1).cast(pl.String()).fill_null("?"),
            pl.lit(f"s (overall {(overall_median or 0) / 1000:.1f}s), timeouts: "),
            pl.col("timeouts").cast(pl.String()),
            pl.lit(", context/timeout errors: "),
            pl.col("n_complexity_mismatch").cast(pl.String()),
        ),
    }
    parts = []
    for rule in RULES:
        parts.append(
            t.filter(fired[rule.name]).select(
                "task_id",
                "task_title",
                "status",
                "attempts",
                "succeeded",
                pl.lit(rule.name).alias("rule"),
                pl.lit(rule.improvement).alias("improvement"),
                evidence[rule.name].alias("evidence"),
                "root_causes",
                "total_cost_usd",
            )
        )
    out = pl.concat(parts, how="vertical")
    rule_order = pl.col("rule").replace_strict(
        {r.name: i for i, r in enumerate(RULES)}, return_dtype=pl.Int32
    )
    return out.sort([pl.col("attempts"), pl.col("task_id"), rule_order], descending=[True, False, False])


def _count_evidence(rule: str, noun: str) -> pl.Expr:
    return pl.concat_str(
        pl.col(f"n_{rule}").cast(pl.String()),
        pl.lit(f" {noun}(s)"),
        pl.when(pl.col(f"ex_{rule}").is_not_null())
        .then(pl.lit(", e.g. ") + pl.col(f"ex_{rule}"))
        .otherwise(pl.lit("")),
    )


def _empty_insights() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "task_id": pl.String(),
            "task_title": pl.String(),
            "status": pl.String(),
            "attempts": pl.UInt32(),
            "succeeded": pl.Boolean(),
            "rule": pl.String(),
            "improvement": pl.String(),
            "evidence": pl.String(),
            "root_causes": pl.List(pl.Struct({"category": pl.String(), "count": pl.UInt32()})),
            "total_cost_usd": pl.Float64(),
        }
    )
